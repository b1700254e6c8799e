"""The outbox dispatcher: delivers committed events, at least once and in order
per aggregate, to in-process handlers and to sinks (webhooks, NATS).

Handlers are registered by domains with :func:`on`. A handler's effect and the
"handled" marker for (handler, event id) commit in one transaction, so a restart
never applies an effect twice; handlers also receive the event id to pass on to
anything outside the database. Sinks run in the transaction that marks the event
delivered (a webhook sink writes its delivery rows there).

Only one dispatcher works at a time (a lease row in ``dispatcher_leases``); the
worker runs it in a loop that polls every ``KITH_OUTBOX_POLL_SECONDS`` and is
woken at once by commits in the same process.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from kith.db.engine import Database
from kith.db.types import utcnow
from kith.db.upsert import insert_ignore
from kith.events.models import DispatcherLease, EventHandled, OutboxEvent
from kith.observability import get_logger

log = get_logger("kith.events")


@dataclass(frozen=True)
class Event:
    """A committed event as handlers and sinks see it."""

    id: uuid.UUID
    seq: int
    organization_id: uuid.UUID
    type: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime
    actor_id: uuid.UUID | None

    @classmethod
    def of(cls, row: OutboxEvent) -> Event:
        return cls(
            row.id,
            row.seq,
            row.organization_id,
            row.event_type,
            row.aggregate_type,
            row.aggregate_id,
            dict(row.payload),
            row.occurred_at,
            row.actor_id,
        )

    def envelope(self) -> dict[str, Any]:
        """The public JSON form (webhooks, NATS)."""
        return {
            "id": str(self.id),
            "type": self.type,
            "organizationId": str(self.organization_id),
            "aggregate": {"type": self.aggregate_type, "id": self.aggregate_id},
            "occurredAt": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "actorId": str(self.actor_id) if self.actor_id else None,
            "data": self.payload,
        }


Handler = Callable[[Session, Event], None]
Sink = Callable[[Session, Event], None]

HANDLERS: dict[str, list[tuple[str, Handler]]] = {}
SINKS: dict[str, Sink] = {}


def on(event_type: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register an in-process handler for ``event_type`` (``"*"`` for every event)."""

    def register(func: Handler) -> Handler:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        entries = HANDLERS.setdefault(event_type, [])
        if handler_name not in {n for n, _ in entries}:
            entries.append((handler_name, func))
        return func

    return register


def add_sink(name: str, sink: Sink) -> None:
    SINKS[name] = sink


def remove_sink(name: str) -> None:
    SINKS.pop(name, None)


def _handlers_for(event_type: str) -> list[tuple[str, Handler]]:
    return [*HANDLERS.get(event_type, []), *HANDLERS.get("*", [])]


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 0.5 * 2 ** max(0, attempts - 1)))


LEASE_NAME = "outbox"


class Dispatcher:
    def __init__(
        self,
        database: Database,
        *,
        owner: str | None = None,
        lease_seconds: float = 15.0,
        batch_size: int = 200,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.owner = owner or f"dispatcher-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        # Called after each batch that delivered something (the webhook sender's wake-up):
        # under a steady stream a drain never ends, and sinks' rows must not wait for it.
        self.after_batch = after_batch

    # -- the lease: one active dispatcher across processes -------------------------
    def acquire(self) -> bool:
        """Take or renew the dispatcher lease; False while another owner holds it."""
        now = utcnow()
        expires = now + timedelta(seconds=self.lease_seconds)
        with self.database.transaction() as session:
            values = {"name": LEASE_NAME, "owner": self.owner, "expires_at": expires}
            if insert_ignore(session, DispatcherLease, values):
                return True
            result = session.execute(
                update(DispatcherLease)
                .where(
                    DispatcherLease.name == LEASE_NAME,
                    or_(DispatcherLease.owner == self.owner, DispatcherLease.expires_at <= now),
                )
                .values(owner=self.owner, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            return cast(CursorResult[Any], result).rowcount == 1

    def release(self) -> None:
        with self.database.transaction() as session:
            session.execute(
                delete(DispatcherLease).where(
                    DispatcherLease.name == LEASE_NAME, DispatcherLease.owner == self.owner
                )
            )

    # -- dispatching ------------------------------------------------------------------
    def dispatch_pending(self) -> int:
        """Deliver due events until none is left (or the lease is lost); returns how many."""
        delivered = 0
        if not self.acquire():
            return 0
        try:
            while True:
                count, more = self._batch()
                delivered += count
                if count and self.after_batch is not None:
                    self.after_batch()
                if not more or not self.acquire():  # renew between batches
                    break
        finally:
            self.release()
        return delivered

    def _batch(self) -> tuple[int, bool]:
        now = utcnow()
        with self.database.transaction() as session:
            rows = (
                session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.delivered_at.is_(None))
                    .order_by(OutboxEvent.seq)
                    .limit(self.batch_size)
                )
                .scalars()
                .all()
            )
            events = [(Event.of(r), r.next_attempt_at, r.attempts) for r in rows]
        if not events:
            return 0, False
        blocked: set[tuple[uuid.UUID, str, str]] = set()
        delivered = 0
        for event, next_attempt_at, attempts in events:
            key = (event.organization_id, event.aggregate_type, event.aggregate_id)
            if key in blocked:
                continue
            if next_attempt_at is not None and next_attempt_at > now:
                blocked.add(key)  # an earlier event of this aggregate is waiting: keep order
                continue
            try:
                self._deliver(event)
                delivered += 1
            except Exception as exc:
                blocked.add(key)
                self._failed(event, attempts, exc)
        return delivered, delivered > 0 and len(events) == self.batch_size

    def _deliver(self, event: Event) -> None:
        """One transaction per event: every handler's effect with its "handled" marker,
        the sinks' rows and the delivered mark commit together (or none of them)."""
        with self.database.transaction(write=True) as session:
            for name, handler in _handlers_for(event.type):
                marker = session.get(EventHandled, (event.organization_id, event.id, name))
                if marker is not None:
                    continue
                handler(session, event)
                session.add(
                    EventHandled(
                        organization_id=event.organization_id, event_id=event.id, handler=name
                    )
                )
            for sink in list(SINKS.values()):
                sink(session, event)
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq == event.seq)
                .values(delivered_at=utcnow(), last_error=None)
                .execution_options(synchronize_session=False)
            )

    def _failed(self, event: Event, attempts: int, exc: Exception) -> None:
        log.warning(
            "event_delivery_failed",
            event_id=str(event.id),
            type=event.type,
            attempt=attempts + 1,
            exc_info=exc,
        )
        with self.database.transaction() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq == event.seq)
                .values(
                    attempts=attempts + 1,
                    next_attempt_at=utcnow() + _retry_delay(attempts + 1),
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                )
                .execution_options(synchronize_session=False)
            )


class PollingLoop:
    """Runs ``work`` in a thread on every wake-up and at least every ``poll_seconds``
    (the dispatcher, the webhook sender). ``after`` runs after each round."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        *,
        poll_seconds: float = 0.25,
        after: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.work = work
        self.poll_seconds = poll_seconds
        self.after = after
        self.on_stop = on_stop
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.on_stop is not None:
            try:
                self.on_stop()
            except Exception:  # e.g. a lease that expires on its own
                log.warning("loop_stop_hook_failed", loop=self.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.work()
                if self.after is not None:
                    self.after()
            except Exception:  # keep the loop alive; the next round retries
                log.exception("loop_round_failed", loop=self.name)
