"""HTTP routes of /webhooks (ADMIN): subscriptions, secrets, the delivery log."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response, status

from kith.auth.dependencies import CurrentPrincipal
from kith.db.session import DbSession
from kith.http.etag import VersionedRoute
from kith.http.pagination import ListParams, Page, list_params, paginate
from kith.settings import Settings
from kith.webhooks import service
from kith.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from kith.webhooks.schemas import (
    DeliveryDetailOut,
    DeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookUpdateIn,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=VersionedRoute)

Params = Depends(list_params)

WEBHOOK_SORTS = {
    "createdAt": WebhookSubscription.created_at,
    "updatedAt": WebhookSubscription.updated_at,
    "url": WebhookSubscription.url,
}
DELIVERY_SORTS = {
    "createdAt": WebhookDelivery.created_at,
    "nextAttemptAt": WebhookDelivery.next_attempt_at,
    "deliveredAt": WebhookDelivery.delivered_at,
}


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Depends(_settings)


def _with_secret(sub: WebhookSubscription, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookOut.model_validate(sub).model_dump(), secret=secret)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookWithSecret)
def create_webhook(
    data: WebhookIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: Settings = AppSettings,
) -> WebhookWithSecret:
    """Subscribe a URL to events (empty ``eventTypes``: every public event). The
    signing ``secret`` is shown only in this response. Private, loopback and
    link-local targets are refused unless listed in KITH_WEBHOOK_ALLOWED_HOSTS."""
    sub, secret = service.create_webhook(session, principal, settings, data)
    return _with_secret(sub, secret)


@router.get("", response_model=Page[WebhookOut])
def list_webhooks(
    principal: CurrentPrincipal, session: DbSession, params: ListParams = Params
) -> Page[WebhookOut]:
    return paginate(
        session,
        service.webhooks_query(principal),
        params,
        sort_fields=WEBHOOK_SORTS,
        default_sort=["-createdAt"],
        id_column=WebhookSubscription.id,
        to_item=WebhookOut.model_validate,
    )


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> WebhookOut:
    return WebhookOut.model_validate(service.get_webhook(session, principal, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(
    webhook_id: uuid.UUID,
    data: WebhookUpdateIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: Settings = AppSettings,
) -> WebhookOut:
    """Change the URL, filter or description; ``active: true`` re-enables a webhook
    that was disabled after repeated failures."""
    sub = service.update_webhook(session, principal, settings, webhook_id, data)
    return WebhookOut.model_validate(sub)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    service.delete_webhook(session, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_secret(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> WebhookWithSecret:
    """Replace the signing secret; the new one is shown only in this response."""
    sub, secret = service.rotate_secret(session, principal, webhook_id)
    return _with_secret(sub, secret)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryOut)
def queue_test_delivery(
    webhook_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> DeliveryOut:
    """Queue a ``webhook.test`` delivery to this webhook."""
    return DeliveryOut.model_validate(service.send_test(session, principal, webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    webhook_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    state: DeliveryState | None = Query(None, description="FAILED lists the dead letters"),
) -> Page[DeliveryOut]:
    return paginate(
        session,
        service.deliveries_query(session, principal, webhook_id, state),
        params,
        sort_fields=DELIVERY_SORTS,
        default_sort=["-createdAt"],
        id_column=WebhookDelivery.id,
        to_item=DeliveryOut.model_validate,
    )


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetailOut)
def get_delivery(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
) -> DeliveryDetailOut:
    """A delivery with its payload and the last attempt's request and response."""
    delivery = service.get_delivery(session, principal, webhook_id, delivery_id)
    return DeliveryDetailOut.model_validate(delivery)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
)
def redeliver(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
) -> DeliveryOut:
    """Queue the delivery again, due now (also brings a FAILED one back)."""
    delivery = service.redeliver(session, principal, webhook_id, delivery_id)
    return DeliveryOut.model_validate(delivery)
