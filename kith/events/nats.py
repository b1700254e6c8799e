"""Publishing public events to NATS JetStream (optional, ``KITH_NATS_URL``).

Each public event's envelope goes to ``kith.<organization id>.<event type>`` with
``Nats-Msg-Id: <event id>``, so JetStream drops a second copy within its
duplicate window. The publisher is a dispatcher sink: it publishes synchronously
(waiting for the JetStream ack) and a failure raises, so the dispatcher retries the
event — delivery is at least once, de-duplicated by the event id. nats-py is
asyncio-only: the client lives on its own event loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError
from sqlalchemy.orm import Session

from kith.events.catalogue import PUBLIC_EVENTS
from kith.events.dispatcher import Event, add_sink, remove_sink
from kith.observability import get_logger
from kith.settings import Settings

log = get_logger("kith.events.nats")

SINK_NAME = "nats"
T = TypeVar("T")


class NatsPublisher:
    def __init__(
        self,
        settings: Settings,
        *,
        subject_prefix: str = "kith",
        timeout: float = 10.0,
    ) -> None:
        if not settings.nats_url:
            raise ValueError("KITH_NATS_URL is not set")
        self.url = settings.nats_url
        self.stream = settings.nats_stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._lock: asyncio.Lock | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="kith-nats"
        )
        self._thread.start()

    def subject(self, event: Event) -> str:
        return f"{self.subject_prefix}.{event.organization_id}.{event.type}"

    # -- the dispatcher's side (any thread) ------------------------------------------
    def sink(self, session: Session, event: Event) -> None:
        """Publish a public event and wait for JetStream's ack (raises on failure)."""
        if event.type not in PUBLIC_EVENTS:
            return
        self.publish(event)

    def publish(self, event: Event) -> PubAck:
        body = orjson.dumps(event.envelope())
        return self._run(self._publish(self.subject(event), body, str(event.id)))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self.timeout)
            if not self._thread.is_alive():
                self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout + 1.0)
        except TimeoutError:
            future.cancel()
            raise

    # -- on the loop --------------------------------------------------------------------
    async def _jetstream(self) -> JetStreamContext:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._js is not None and self._nc is not None and self._nc.is_connected:
                return self._js
            if self._nc is None or self._nc.is_closed:
                self._nc = await nats.connect(
                    self.url,
                    connect_timeout=min(self.timeout, 5.0),
                    max_reconnect_attempts=-1,
                    name="kith",
                    error_cb=_log_error,
                )
            js = self._nc.jetstream(timeout=self.timeout)
            try:
                await js.stream_info(self.stream)
            except NotFoundError:
                await js.add_stream(name=self.stream, subjects=[f"{self.subject_prefix}.>"])
                log.info("nats_stream_created", stream=self.stream)
            self._js = js
            return js

    async def _publish(self, subject: str, body: bytes, event_id: str) -> PubAck:
        js = await self._jetstream()
        return await js.publish(
            subject,
            body,
            timeout=self.timeout,
            stream=self.stream,
            headers={"Nats-Msg-Id": event_id},
        )

    async def _close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self._nc = None
        self._js = None


async def _log_error(exc: Exception) -> None:
    log.warning("nats_error", error=f"{type(exc).__name__}: {exc}")


_publisher: NatsPublisher | None = None


def install(settings: Settings) -> NatsPublisher | None:
    """Register the NATS sink when ``KITH_NATS_URL`` is set (app and worker wiring)."""
    global _publisher
    if not settings.nats_url:
        return None
    if _publisher is None:
        _publisher = NatsPublisher(settings)
    add_sink(SINK_NAME, _publisher.sink)
    return _publisher


def uninstall() -> None:
    """Remove the sink and close the connection (on shutdown)."""
    global _publisher
    remove_sink(SINK_NAME)
    if _publisher is not None:
        _publisher.close()
        _publisher = None
