"""Turning events into webhook deliveries, and sending them.

:func:`webhook_sink` runs inside the dispatcher's transaction (registered by
:func:`install`) and writes one PENDING delivery per matching active subscription
of the event's organization. :func:`send_due` sends what is due: it claims rows by
moving their ``next_attempt_at`` forward (a lease, so two senders never send the
same delivery at once), POSTs the signed envelope through the guarded outbound
client, and records the outcome: success, a retry with exponential backoff and
jitter, the FAILED dead letter after ``KITH_WEBHOOK_MAX_ATTEMPTS``, and disabling
a subscription after ``KITH_WEBHOOK_DISABLE_AFTER_FAILURES`` failures in a row.
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from kith.audit import service as audit
from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.db.upsert import insert_ignore
from kith.errors import ValidationFailed
from kith.events.catalogue import PUBLIC_EVENTS
from kith.events.dispatcher import Event, add_sink
from kith.observability import get_logger
from kith.outbound.client import (
    CircuitBreaker,
    CircuitOpen,
    OutboundClient,
    OutboundError,
    OutboundResponse,
)
from kith.settings import Settings
from kith.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from kith.webhooks.verify import SIGNATURE_HEADER, sign

log = get_logger("kith.webhooks")

SINK_NAME = "webhooks"
USER_AGENT = "Kith-Webhooks/1"
LOG_BODY_BYTES = 4096
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 6 * 3600.0
CONCURRENCY = 8

# Shared by the default clients of this process, so an unreachable host fails fast
# across rounds of send_due.
_BREAKER = CircuitBreaker()
_jitter = random.Random()  # noqa: S311 - spreading retries, not a secret


def install() -> None:
    """Register the webhook sink with the dispatcher (app and worker wiring call it)."""
    add_sink(SINK_NAME, webhook_sink)


def webhook_sink(session: Session, event: Event) -> None:
    """A PENDING delivery per active subscription of the organization that wants the
    event; internal events never leave the process."""
    if event.type not in PUBLIC_EVENTS:
        return
    subscriptions = (
        session.execute(
            select(WebhookSubscription).where(
                WebhookSubscription.organization_id == event.organization_id,
                WebhookSubscription.active.is_(True),
            )
        )
        .scalars()
        .all()
    )
    envelope = event.envelope()
    now = utcnow()
    for sub in subscriptions:
        if not sub.wants(event.type):
            continue
        # Ignore a second copy if the event is ever dispatched again.
        insert_ignore(
            session,
            WebhookDelivery,
            {
                "organization_id": event.organization_id,
                "id": uuid.uuid4(),
                "subscription_id": sub.id,
                "event_id": event.id,
                "event_type": event.type,
                "payload": envelope,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )


def backoff(attempt: int, *, rng: random.Random = _jitter) -> timedelta:
    """Delay before attempt ``attempt + 1``: 10 s · 2^(attempt-1), ±20 % jitter, ≤ 6 h."""
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return timedelta(seconds=min(BACKOFF_MAX_SECONDS, base * rng.uniform(0.8, 1.2)))


@dataclass(frozen=True)
class _Job:
    organization_id: uuid.UUID
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    url: str
    secret: str
    payload: dict[str, Any]


@dataclass
class _Outcome:
    request: dict[str, Any]
    response: OutboundResponse | None = None
    error: str | None = None
    retry_in: float | None = None  # the circuit is open: try again later, no attempt spent
    duration_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.ok


def _text(body: bytes) -> str:
    return body[:LOG_BODY_BYTES].decode("utf-8", "replace")


def _claim(database: Database, now: datetime, lease: timedelta, limit: int) -> list[_Job]:
    with database.transaction(write=True) as session:
        active = exists().where(
            WebhookSubscription.organization_id == WebhookDelivery.organization_id,
            WebhookSubscription.id == WebhookDelivery.subscription_id,
            WebhookSubscription.active.is_(True),
        )
        due = session.execute(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state == DeliveryState.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                active,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).scalars()
        ids = list(due)
        if not ids:
            return []
        # The lease: only rows still due are taken, so a concurrent sender that got
        # there first keeps them.
        claimed = set(
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(ids),
                    WebhookDelivery.state == DeliveryState.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + lease)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        if not claimed:
            return []
        rows = session.execute(
            select(WebhookDelivery, WebhookSubscription)
            .join(
                WebhookSubscription,
                (WebhookSubscription.organization_id == WebhookDelivery.organization_id)
                & (WebhookSubscription.id == WebhookDelivery.subscription_id),
            )
            .where(WebhookDelivery.id.in_(claimed))
            .order_by(WebhookDelivery.next_attempt_at)
        ).all()
        return [
            _Job(
                organization_id=d.organization_id,
                id=d.id,
                subscription_id=d.subscription_id,
                event_id=d.event_id,
                event_type=d.event_type,
                url=s.url,
                secret=s.secret,
                payload=dict(d.payload),
            )
            for d, s in rows
        ]


def _send(client: OutboundClient, job: _Job) -> _Outcome:
    body = orjson.dumps(job.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Kith-Event": job.event_type,
        "X-Kith-Delivery": str(job.id),
        "X-Kith-Event-Id": str(job.event_id),
        SIGNATURE_HEADER: sign(job.secret, body, int(time.time())),
    }
    # The signature is an HMAC of this body, never the secret itself: safe to keep.
    request = {"method": "POST", "url": job.url, "headers": headers, "body": _text(body)}
    started = time.perf_counter()
    try:
        response = client.post(job.url, body, headers)
    except CircuitOpen as exc:
        return _Outcome(request, error=str(exc), retry_in=exc.retry_in)
    except ValidationFailed as exc:  # the SSRF guard, checked again at every send
        return _Outcome(request, error=exc.message)
    except OutboundError as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        return _Outcome(request, error=str(exc), duration_ms=elapsed)
    except Exception as exc:  # never lose the outcome of a claimed delivery
        log.exception("webhook_send_crashed", delivery_id=str(job.id))
        return _Outcome(request, error=f"{type(exc).__name__}: {exc}")
    return _Outcome(
        request,
        response=response,
        error=None if response.ok else f"HTTP {response.status}",
        duration_ms=response.elapsed_ms,
    )


def _disable(
    session: Session, job: _Job, failures: int, error: str | None, settings: Settings
) -> None:
    reason = (
        f"Disabled after {failures} consecutive failed deliveries (last: {error or 'unknown'})."
    )[:500]
    changed = session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.organization_id == job.organization_id,
            WebhookSubscription.id == job.subscription_id,
            WebhookSubscription.active.is_(True),
        )
        .values(
            active=False,
            disabled_reason=reason,
            version=WebhookSubscription.version + 1,
            updated_at=utcnow(),
        )
        .returning(WebhookSubscription.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        return
    log.warning(
        "webhook_disabled",
        webhook_id=str(job.subscription_id),
        organization_id=str(job.organization_id),
        failures=failures,
    )
    audit.record(
        session,
        Principal.system(job.organization_id),
        action="webhook.disabled",
        entity_type="webhook",
        entity_id=job.subscription_id,
        before={"active": True},
        after={"active": False},
        context={"reason": reason, "threshold": settings.webhook_disable_after_failures},
    )


def _record(database: Database, settings: Settings, job: _Job, outcome: _Outcome) -> None:
    now = utcnow()
    with database.transaction(write=True) as session:
        delivery = session.get(WebhookDelivery, (job.organization_id, job.id))
        if delivery is None:  # deleted with its webhook meanwhile
            return
        if outcome.retry_in is not None:
            delivery.next_attempt_at = now + timedelta(seconds=max(1.0, outcome.retry_in))
            delivery.last_error = outcome.error
            return
        response = outcome.response
        delivery.attempts += 1
        delivery.request = outcome.request
        delivery.response = (
            {
                "status": response.status,
                "headers": response.headers,
                "body": _text(response.body),
            }
            if response is not None
            else None
        )
        delivery.last_status = response.status if response is not None else None
        delivery.last_error = outcome.error
        delivery.duration_ms = outcome.duration_ms
        subscription = (
            WebhookSubscription.organization_id == job.organization_id,
            WebhookSubscription.id == job.subscription_id,
        )
        if outcome.ok:
            delivery.state = DeliveryState.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            session.execute(
                update(WebhookSubscription)
                .where(*subscription, WebhookSubscription.consecutive_failures != 0)
                .values(consecutive_failures=0)
                .execution_options(synchronize_session=False)
            )
            log.info("webhook_delivered", delivery_id=str(job.id), status=delivery.last_status)
            return
        if delivery.attempts >= settings.webhook_max_attempts:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        log.warning(
            "webhook_delivery_failed",
            delivery_id=str(job.id),
            attempt=delivery.attempts,
            error=outcome.error,
            dead=delivery.state == DeliveryState.FAILED,
        )
        failures = session.execute(
            update(WebhookSubscription)
            .where(*subscription)
            .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1)
            .returning(WebhookSubscription.consecutive_failures)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if failures is not None and failures >= settings.webhook_disable_after_failures:
            _disable(session, job, failures, outcome.error, settings)


def send_due(
    database: Database,
    settings: Settings,
    *,
    limit: int = 100,
    client: OutboundClient | None = None,
    concurrency: int = CONCURRENCY,
) -> int:
    """Send up to ``limit`` due deliveries of active webhooks; returns how many were
    taken (sent, or put back for later while their host's circuit is open). Call it
    after each dispatcher round and periodically."""
    now = utcnow()
    lease = timedelta(seconds=max(60.0, settings.webhook_timeout_seconds * 6))
    jobs = _claim(database, now, lease, limit)
    if not jobs:
        return 0
    client = client or OutboundClient(settings, breaker=_BREAKER)
    # Only the HTTP calls run in the pool; every database write stays on this thread.
    with ThreadPoolExecutor(
        max_workers=min(concurrency, len(jobs)), thread_name_prefix="kith-webhook"
    ) as pool:
        futures = {pool.submit(_send, client, job): job for job in jobs}
        for future in as_completed(futures):
            _record(database, settings, futures[future], future.result())
    return len(jobs)


def send_all_due(database: Database, settings: Settings, *, limit: int = 100) -> int:
    """:func:`send_due` until fewer than ``limit`` were due: the sender's loop, so a
    backlog is drained at once instead of ``limit`` deliveries per poll."""
    sent = 0
    client = OutboundClient(settings, breaker=_BREAKER)
    while True:
        taken = send_due(database, settings, limit=limit, client=client)
        sent += taken
        if taken < limit:
            return sent
