"""Rate limits: per API key, user or IP for every request, and the login-failure
throttle. In-process by default, Redis when ``KITH_REDIS_URL`` is set, so limits
hold across API processes."""

from __future__ import annotations

import asyncio
import math
import time
import weakref

from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindow
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from kith.auth.tokens import client_identity
from kith.errors import RateLimited
from kith.http.errors import envelope
from kith.http.middleware import client_ip, header
from kith.settings import Settings

_EXEMPT = frozenset({"/health", "/ready", "/metrics"})


def _storage_uri(settings: Settings, *, asynchronous: bool) -> str:
    if settings.redis_url:
        return ("async+" if asynchronous else "") + settings.redis_url
    return "async+memory://" if asynchronous else "memory://"


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


class LoginThrottle:
    """Counts failed sign-ins per account and per IP; over the limit → 429."""

    def __init__(self, settings: Settings, key_prefix: str = "kith") -> None:
        options = {"key_prefix": f"{key_prefix}:login"} if settings.redis_url else {}
        self.storage = storage_from_string(_storage_uri(settings, asynchronous=False), **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.limit: RateLimitItem = parse(settings.login_failure_limit)

    def check(self, *keys: str) -> None:
        """Raise 429 when any key already used up its allowed failures."""
        for key in keys:
            if not self.limiter.test(self.limit, key):
                stats = self.limiter.get_window_stats(self.limit, key)
                raise RateLimited(
                    "Too many failed sign-in attempts. Try again later.",
                    retry_after=_retry_after(stats.reset_time),
                )

    def failed(self, *keys: str) -> None:
        for key in keys:
            self.limiter.hit(self.limit, key)

    def reset(self) -> None:
        self.storage.reset()


class RateLimitMiddleware:
    """One budget per credential (API key or user) or, when anonymous, per IP."""

    def __init__(self, app: ASGIApp, *, settings: Settings, key_prefix: str = "kith") -> None:
        self.app = app
        self.settings = settings
        self.key_prefix = key_prefix
        self.limit = parse(settings.rate_limit)
        self._limiter = None if settings.redis_url else self._new_limiter()
        # redis-py's asyncio connections belong to the event loop that opened them.
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncSlidingWindow] = (
            weakref.WeakKeyDictionary()
        )

    def _new_limiter(self) -> AsyncSlidingWindow:
        options: dict[str, str] = {}
        if self.settings.redis_url:
            # redis-py's asyncio client (already a dependency) rather than coredis.
            options = {"key_prefix": f"{self.key_prefix}:rl", "implementation": "redispy"}
        storage = storage_from_string(_storage_uri(self.settings, asynchronous=True), **options)
        return AsyncSlidingWindow(storage)

    @property
    def limiter(self) -> AsyncSlidingWindow:
        if self._limiter is not None:
            return self._limiter
        loop = asyncio.get_running_loop()
        limiter = self._per_loop.get(loop)
        if limiter is None:
            limiter = self._per_loop[loop] = self._new_limiter()
        return limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        identity = client_identity(self.settings, header(scope, b"authorization"))
        key = identity or f"ip:{client_ip(scope)}"
        limiter = self.limiter
        if not await limiter.hit(self.limit, key):
            stats = await limiter.get_window_stats(self.limit, key)
            response = envelope(
                status=429,
                code="RATE_LIMIT_EXCEEDED",
                message="Too many requests. Please try again later.",
                path=scope["path"],
                retry_after=_retry_after(stats.reset_time),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
