"""Managing webhook subscriptions and their deliveries (ADMIN only)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete
from sqlalchemy.orm import Session

from kith.audit import service as audit
from kith.auth.principal import Principal
from kith.auth.roles import Permission
from kith.auth.scoping import get_for_write, get_scoped, scoped
from kith.db.types import utcnow
from kith.errors import NotFound, ValidationFailed
from kith.events.catalogue import PUBLIC_EVENTS
from kith.outbound.guard import check_url
from kith.settings import Settings
from kith.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from kith.webhooks.schemas import WebhookIn, WebhookUpdateIn

SECRET_PREFIX = "whsec_"
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _event_types(values: Sequence[str]) -> list[str]:
    unknown = sorted({v for v in values if v not in PUBLIC_EVENTS})
    if unknown:
        message = f"Unknown event types: {', '.join(unknown)}."
        raise ValidationFailed(
            message,
            details=[
                {
                    "field": "eventTypes",
                    "message": message + " Known: " + ", ".join(sorted(PUBLIC_EVENTS)),
                    "unknown": unknown,
                }
            ],
        )
    return list(dict.fromkeys(values))


def _checked_url(settings: Settings, url: str) -> str:
    return check_url(url, settings.webhook_allowed_hosts).url


def _snapshot(sub: WebhookSubscription) -> dict[str, Any]:
    return {
        "url": sub.url,
        "description": sub.description,
        "eventTypes": list(sub.event_types),
        "active": sub.active,
    }


def webhooks_query(principal: Principal) -> Select[*tuple[Any, ...]]:
    principal.require(Permission.MANAGE_SETTINGS)
    return scoped(WebhookSubscription, principal)


def get_webhook(
    session: Session, principal: Principal, webhook_id: uuid.UUID
) -> WebhookSubscription:
    principal.require(Permission.MANAGE_SETTINGS)
    return get_scoped(session, WebhookSubscription, webhook_id, principal)


def create_webhook(
    session: Session, principal: Principal, settings: Settings, data: WebhookIn
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``data.url`` (checked by the SSRF guard) to events; returns the
    subscription and its signing secret, which is shown only this once."""
    principal.require(Permission.MANAGE_SETTINGS)
    event_types = _event_types(data.event_types)
    url = _checked_url(settings, data.url)
    secret = new_secret()
    sub = WebhookSubscription(
        organization_id=principal.organization_id,
        url=url,
        description=data.description,
        event_types=event_types,
        secret=secret,
        active=True,
        consecutive_failures=0,
        created_by=None if principal.kind == "system" else principal.user_id,
    )
    session.add(sub)
    session.flush()
    audit.record(
        session,
        principal,
        action="webhook.created",
        entity_type="webhook",
        entity_id=sub.id,
        after=_snapshot(sub),
    )
    return sub, secret


def update_webhook(
    session: Session,
    principal: Principal,
    settings: Settings,
    webhook_id: uuid.UUID,
    data: WebhookUpdateIn,
) -> WebhookSubscription:
    """Change url, filter, description or ``active``; re-enabling clears the failure
    count and the reason it was disabled."""
    principal.require(Permission.MANAGE_SETTINGS)
    sub = get_for_write(
        session, WebhookSubscription, webhook_id, principal, Permission.MANAGE_SETTINGS
    )
    before = _snapshot(sub)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("event_types") is not None:
        sub.event_types = _event_types(changes["event_types"])
    if changes.get("url") is not None:
        sub.url = _checked_url(settings, changes["url"])
    if "description" in changes:
        sub.description = changes["description"]
    if changes.get("active") is True and not sub.active:
        sub.active = True
        sub.consecutive_failures = 0
        sub.disabled_reason = None
    elif changes.get("active") is False and sub.active:
        sub.active = False
        sub.disabled_reason = "Disabled by an administrator."
    sub.bump_version()
    sub.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="webhook.updated",
        entity_type="webhook",
        entity_id=sub.id,
        before=before,
        after=_snapshot(sub),
    )
    return sub


def delete_webhook(session: Session, principal: Principal, webhook_id: uuid.UUID) -> None:
    """Delete the subscription and its delivery log."""
    principal.require(Permission.MANAGE_SETTINGS)
    sub = get_for_write(
        session, WebhookSubscription, webhook_id, principal, Permission.MANAGE_SETTINGS
    )
    before = _snapshot(sub)
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.organization_id == sub.organization_id,
            WebhookDelivery.subscription_id == sub.id,
        )
    )
    session.delete(sub)
    audit.record(
        session,
        principal,
        action="webhook.deleted",
        entity_type="webhook",
        entity_id=webhook_id,
        before=before,
    )


def rotate_secret(
    session: Session, principal: Principal, webhook_id: uuid.UUID
) -> tuple[WebhookSubscription, str]:
    """A new signing secret, effective for the next attempt; shown only this once."""
    principal.require(Permission.MANAGE_SETTINGS)
    sub = get_scoped(session, WebhookSubscription, webhook_id, principal)
    secret = new_secret()
    sub.secret = secret
    sub.bump_version()
    sub.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="webhook.secret_rotated",
        entity_type="webhook",
        entity_id=sub.id,
        before={"secret": "old"},
        after={"secret": "new"},
        redact=frozenset({"secret"}),
    )
    return sub, secret


# -- deliveries ---------------------------------------------------------------------------


def deliveries_query(
    session: Session,
    principal: Principal,
    webhook_id: uuid.UUID,
    state: DeliveryState | None = None,
) -> Select[*tuple[Any, ...]]:
    sub = get_webhook(session, principal, webhook_id)
    stmt = scoped(WebhookDelivery, principal).where(WebhookDelivery.subscription_id == sub.id)
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    return stmt


def get_delivery(
    session: Session, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    stmt = deliveries_query(session, principal, webhook_id).where(WebhookDelivery.id == delivery_id)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound("Delivery not found.")
    return found  # type: ignore[no-any-return]


def redeliver(
    session: Session, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Queue the delivery again, due now (one more attempt; a dead letter comes back
    to life). It is sent while the webhook is active."""
    delivery = get_delivery(session, principal, webhook_id, delivery_id)
    before = {"state": delivery.state, "attempts": delivery.attempts}
    delivery.state = DeliveryState.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.delivered_at = None
    audit.record(
        session,
        principal,
        action="webhook.redelivered",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        before=before,
        after={"state": delivery.state, "attempts": delivery.attempts},
        context={"webhookId": webhook_id, "eventId": delivery.event_id},
    )
    session.flush()
    return delivery


def send_test(session: Session, principal: Principal, webhook_id: uuid.UUID) -> WebhookDelivery:
    """Queue a ``webhook.test`` delivery to this webhook (whatever its filter)."""
    sub = get_webhook(session, principal, webhook_id)
    event_id = uuid.uuid4()
    now = utcnow()
    actor = None if principal.kind == "system" else str(principal.user_id)
    delivery = WebhookDelivery(
        organization_id=sub.organization_id,
        subscription_id=sub.id,
        event_id=event_id,
        event_type=TEST_EVENT,
        payload={
            "id": str(event_id),
            "type": TEST_EVENT,
            "organizationId": str(sub.organization_id),
            "aggregate": {"type": "webhook", "id": str(sub.id)},
            "occurredAt": now.isoformat().replace("+00:00", "Z"),
            "actorId": actor,
            "data": {"webhookId": str(sub.id), "message": "A test delivery from Kith."},
        },
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    audit.record(
        session,
        principal,
        action="webhook.tested",
        entity_type="webhook",
        entity_id=sub.id,
        context={"deliveryId": delivery.id},
    )
    return delivery
