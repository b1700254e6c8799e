"""Wire shapes of contacts (ARCHITECTURE.md §3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from kith.contacts.models import ContactStatus, DuplicateStatus
from kith.http.wire import ApiModel, InputModel

Label = Field(None, max_length=40)


class EmailIn(InputModel):
    email: str = Field(max_length=320)
    label: str | None = Label
    primary: bool = False


class PhoneIn(InputModel):
    number: str = Field(max_length=40)
    label: str | None = Label
    primary: bool = False


class AddressIn(InputModel):
    label: str | None = Label
    street: str | None = Field(None, max_length=300)
    city: str | None = Field(None, max_length=120)
    region: str | None = Field(None, max_length=120)
    postcode: str | None = Field(None, max_length=20)
    country: str | None = Field(None, max_length=60)


class _ContactFields(InputModel):
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    full_name: str | None = Field(None, max_length=201, description="Parsed into first/last")
    email: str | None = Field(None, max_length=320, description="Shorthand for a primary email")
    emails: list[EmailIn] | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=40, description="Shorthand for a primary phone")
    phones: list[PhoneIn] | None = Field(None, max_length=20)
    company_id: uuid.UUID | None = None
    company: str | None = Field(None, max_length=200, description="A name: links or creates")
    position: str | None = Field(None, max_length=200)
    status: ContactStatus | None = None
    lead_score: int | None = Field(None, ge=0, le=100)
    source: str | None = Field(None, max_length=100)
    owner_id: uuid.UUID | None = Field(
        None, validation_alias=AliasChoices("ownerId", "owner_id", "assignedTo", "assigned_to")
    )
    tags: list[str] | None = Field(None, max_length=50)
    custom_fields: dict[str, Any] | None = None
    last_contact_date: datetime | None = None
    metadata: dict[str, Any] | None = None
    addresses: list[AddressIn] | None = Field(None, max_length=10)
    birthday: date | None = None
    social_profiles: dict[str, str] | None = None

    @model_validator(mode="after")
    def _metadata_size(self) -> _ContactFields:
        if self.metadata is not None and len(str(self.metadata)) > 10_000:
            raise ValueError("metadata is larger than 10,000 characters")
        return self


class ContactIn(_ContactFields):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "firstName": "John",
                    "lastName": "Doe",
                    "email": "john.doe@example.com",
                    "company": "TechCorp",
                }
            ]
        }
    }


class ContactPatch(_ContactFields):
    """Only the fields sent change; ``null`` clears an optional field."""

    model_config = {"json_schema_extra": {"examples": [{"position": "CTO", "status": "PROSPECT"}]}}


class EmailOut(ApiModel):
    email: str
    label: str | None
    primary: bool


class PhoneOut(ApiModel):
    number: str
    label: str | None
    primary: bool


class AddressOut(ApiModel):
    label: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None


class PossibleDuplicate(ApiModel):
    id: uuid.UUID
    full_name: str
    score: float
    reasons: list[str]


class ContactOut(ApiModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    full_name: str
    email: str | None
    emails: list[EmailOut]
    phone: str | None
    phones: list[PhoneOut]
    company_id: uuid.UUID | None
    company: str | None
    position: str | None
    status: ContactStatus
    lead_score: int
    source: str | None
    owner_id: uuid.UUID | None
    assigned_to: uuid.UUID | None
    tags: list[str]
    custom_fields: dict[str, Any]
    last_contact_date: datetime | None
    metadata: dict[str, Any]
    addresses: list[AddressOut]
    birthday: date | None
    social_profiles: dict[str, str]
    possible_duplicates: list[PossibleDuplicate] = []
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    version: int


class SearchHit(ContactOut):
    highlights: dict[str, str] = {}


class MergeIn(InputModel):
    primary_id: uuid.UUID
    duplicate_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    field_choices: dict[str, uuid.UUID] | None = Field(
        None, description="For a scalar field (e.g. position), the contact whose value wins"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "primaryId": "00000000-0000-4000-8000-000000000001",
                    "duplicateIds": ["00000000-0000-4000-8000-000000000002"],
                }
            ]
        }
    }


class MergeOut(ApiModel):
    id: uuid.UUID
    primary_id: uuid.UUID
    duplicate_ids: list[uuid.UUID]
    contact: ContactOut
    moved: dict[str, int]
    created_at: datetime
    undone_at: datetime | None


class DuplicatePairOut(ApiModel):
    id: uuid.UUID
    contact_ids: list[uuid.UUID]
    score: float
    reasons: list[str]
    status: DuplicateStatus
    created_at: datetime


class ScanStarted(ApiModel):
    job_id: uuid.UUID


class TimelineItem(ApiModel):
    id: str
    type: str
    occurred_at: datetime
    actor_id: uuid.UUID | None
    summary: str
    data: dict[str, Any] = {}


class CustomFieldIn(InputModel):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=100)
    type: Literal["TEXT", "NUMBER", "DATE", "BOOLEAN", "SELECT", "MULTI_SELECT", "URL", "EMAIL"]
    options: list[str] = Field(default_factory=list, max_length=200)
    required: bool = False
    sensitive: bool = Field(False, description="Stored encrypted; never in search or lists")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "key": "industry",
                    "label": "Industry",
                    "type": "SELECT",
                    "options": ["SaaS", "Retail"],
                }
            ]
        }
    }


class CustomFieldOut(ApiModel):
    key: str
    label: str
    type: str
    options: list[str]
    required: bool
    sensitive: bool
