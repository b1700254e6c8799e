"""The outbound HTTP client every integration uses (webhooks, enrichment providers).

Each request is checked by the SSRF guard and sent to the address the guard
checked (the URL's host is replaced by that address; ``Host`` and TLS SNI keep the
name, and the certificate is verified against the name), so DNS cannot change the
answer between the check and the connection. No redirects, no proxies from the
environment, timeouts from settings, and a per-host circuit breaker.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import certifi
import httpx

from kith.outbound.guard import Target, check_url
from kith.settings import Settings

MAX_RESPONSE_BYTES = 64 * 1024


class OutboundError(Exception):
    """The request got no HTTP answer (connection, TLS, timeout, open circuit)."""


class CircuitOpen(OutboundError):
    def __init__(self, host: str, retry_in: float) -> None:
        self.host = host
        self.retry_in = retry_in
        super().__init__(f"circuit open for {host}: failing fast for {retry_in:.0f} s")


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]
    body: bytes  # at most MAX_RESPONSE_BYTES
    elapsed_ms: int
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class _HostState:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class CircuitBreaker:
    """After ``threshold`` consecutive failures a host fails fast for ``open_seconds``;
    then one request may try again (a failure re-opens it, a success closes it)."""

    threshold: int = 5
    open_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _hosts: dict[str, _HostState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, host: str) -> None:
        """Raise :class:`CircuitOpen` while ``host`` is failing fast."""
        with self._lock:
            state = self._hosts.get(host)
            if state is None or state.failures < self.threshold:
                return
            remaining = state.open_until - self.clock()
            if remaining > 0:
                raise CircuitOpen(host, remaining)
            # Half-open: let this request through; hold the others until it answers.
            state.open_until = self.clock() + self.open_seconds

    def success(self, host: str) -> None:
        with self._lock:
            self._hosts.pop(host, None)

    def failure(self, host: str) -> None:
        with self._lock:
            state = self._hosts.setdefault(host, _HostState())
            state.failures += 1
            if state.failures >= self.threshold:
                state.open_until = self.clock() + self.open_seconds

    def is_open(self, host: str) -> bool:
        with self._lock:
            state = self._hosts.get(host)
            return bool(
                state and state.failures >= self.threshold and state.open_until > self.clock()
            )


_SSL_CONTEXT: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    global _SSL_CONTEXT
    with _SSL_LOCK:
        if _SSL_CONTEXT is None:
            _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
        return _SSL_CONTEXT


def _host_header(target: Target, ascii_host: str) -> str:
    host = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


class OutboundClient:
    def __init__(
        self,
        settings: Settings,
        *,
        breaker: CircuitBreaker | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.settings = settings
        self.breaker = breaker or CircuitBreaker()
        self.max_response_bytes = max_response_bytes
        self.timeout = httpx.Timeout(settings.webhook_timeout_seconds)

    def check(self, url: str) -> Target:
        """The SSRF guard with this client's allow-list (raises UnsafeTarget)."""
        return check_url(url, self.settings.webhook_allowed_hosts)

    def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> OutboundResponse:
        """POST ``content`` to ``url``; raises UnsafeTarget or OutboundError, else returns
        whatever status the target answered (redirects are not followed)."""
        target = self.check(url)
        breaker_key = f"{target.host}:{target.port}"
        self.breaker.check(breaker_key)
        url_as_given = httpx.URL(target.url)
        ascii_host = url_as_given.raw_host.decode("ascii")  # IDNA-encoded
        request_url = url_as_given.copy_with(host=str(target.address))
        extensions = {"sni_hostname": ascii_host} if target.scheme == "https" else {}
        started = time.perf_counter()
        try:
            # One connection per request: a pooled TLS connection verified for one
            # name must never carry a request for another name on the same address.
            with (
                httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,
                    verify=_ssl_context(),
                ) as http,
                http.stream(
                    "POST",
                    request_url,
                    content=content,
                    # identity: the size limit applies to what we read, not to a
                    # compressed body that may inflate without bound.
                    headers={
                        "Accept-Encoding": "identity",
                        **headers,
                        "Host": _host_header(target, ascii_host),
                    },
                    extensions=extensions,
                ) as response,
            ):
                body, truncated = self._read_limited(response)
        except httpx.HTTPError as exc:
            self.breaker.failure(breaker_key)
            raise OutboundError(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)) from exc
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            self.breaker.failure(breaker_key)
        else:
            self.breaker.success(breaker_key)
        return OutboundResponse(
            status=response.status_code,
            headers=dict(response.headers.items()),
            body=body,
            elapsed_ms=elapsed_ms,
            truncated=truncated,
        )

    def _read_limited(self, response: httpx.Response) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_response_bytes:
                return b"".join(chunks)[: self.max_response_bytes], True
        return b"".join(chunks), False
