"""Wire shapes of /webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from kith.http.wire import ApiModel, InputModel
from kith.webhooks.models import DeliveryState

EXAMPLE_URL = "https://hooks.example.com/kith"


class WebhookIn(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": EXAMPLE_URL,
                    "eventTypes": ["contact.created", "deal.stage_changed"],
                    "description": "CRM sync",
                }
            ]
        }
    )

    url: str = Field(min_length=1, max_length=2048)
    event_types: list[str] = Field(
        default_factory=list, max_length=100, description="Empty: every public event."
    )
    description: str | None = Field(None, max_length=500)


class WebhookUpdateIn(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": EXAMPLE_URL, "eventTypes": ["contact.updated"], "active": True},
            ]
        }
    )

    url: str | None = Field(None, min_length=1, max_length=2048)
    event_types: list[str] | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=500)
    active: bool | None = Field(None, description="true re-enables a disabled webhook")


class WebhookOut(ApiModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class WebhookWithSecret(WebhookOut):
    """A create or rotate answer: the only time the signing secret is shown."""

    secret: str


class DeliveryOut(ApiModel):
    id: uuid.UUID
    webhook_id: uuid.UUID = Field(validation_alias="subscription_id")
    event_id: uuid.UUID
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    duration_ms: int | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetailOut(DeliveryOut):
    payload: dict[str, Any]
    request: dict[str, Any] | None
    response: dict[str, Any] | None
