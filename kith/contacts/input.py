"""Turning a contact request into clean, validated values (or one 422 naming
every bad field). Pure: no writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kith.contacts import normalize as norm
from kith.contacts.custom_fields import FieldDefinition, validate_custom_fields
from kith.contacts.models import ContactStatus
from kith.contacts.schemas import _ContactFields
from kith.db.types import jsonable


@dataclass
class CleanEmail:
    email: str
    label: str | None
    primary: bool


@dataclass
class CleanPhone:
    number: str
    label: str | None
    primary: bool


@dataclass
class CleanContact:
    """Normalized values of the fields a request set (``present`` names them)."""

    present: set[str] = field(default_factory=set)
    first_name: str = ""
    last_name: str = ""
    emails: list[CleanEmail] = field(default_factory=list)
    phones: list[CleanPhone] = field(default_factory=list)
    company_id: uuid.UUID | None = None
    company: str | None = None
    position: str | None = None
    status: ContactStatus | None = None
    lead_score: int | None = None
    source: str | None = None
    owner_id: uuid.UUID | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    last_contact_date: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    birthday: str | None = None
    social_profiles: dict[str, str] = field(default_factory=dict)


def _first_of_each(items: list[Any], key: Any) -> list[Any]:
    """Items in order, later repeats (same key) dropped."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return kept


def _primary_first(items: list[Any]) -> list[Any]:
    """Exactly one primary (the first marked, else the first), listed first."""
    if not items:
        return items
    chosen = next((i for i, item in enumerate(items) if item.primary), 0)
    for i, item in enumerate(items):
        item.primary = i == chosen
    return [items[chosen], *[item for i, item in enumerate(items) if i != chosen]]


def clean(
    data: _ContactFields,
    *,
    region: str,
    definitions: list[FieldDefinition],
    partial: bool,
    current_emails: list[CleanEmail] | None = None,
    current_phones: list[CleanPhone] | None = None,
) -> CleanContact:
    """Validate and normalize; raises a 422 listing every bad field."""
    sent = set(data.model_fields_set)
    out = CleanContact()
    errors = norm.ErrorCollector()

    def attempt(_name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        return errors.capture(func, *args, **kwargs)

    # Names: a full name is split only when first/last are not given.
    if "full_name" in sent and data.full_name and not ({"first_name", "last_name"} & sent):
        parsed = norm.split_full_name(data.full_name)
        out.first_name, out.last_name = parsed.first, parsed.last
        out.present |= {"first_name", "last_name"}
    for name in ("first_name", "last_name"):
        if name in sent:
            value = getattr(data, name)
            cleaned = attempt(name, norm.clean_text, value or "", 100, field=name)
            setattr(out, name, cleaned or "")
            out.present.add(name)

    if "emails" in sent or "email" in sent:
        emails: list[CleanEmail] = []
        if "emails" in sent:
            for i, item in enumerate(data.emails or []):
                value = attempt(
                    "emails", norm.normalize_email, item.email, field=f"emails.{i}.email"
                )
                if value:
                    emails.append(CleanEmail(value, item.label, item.primary))
        elif current_emails is not None:
            emails = [CleanEmail(e.email, e.label, False) for e in current_emails[1:]]
        if "email" in sent and data.email:
            value = attempt("email", norm.normalize_email, data.email, field="email")
            if value:
                emails = [e for e in emails if e.email != value]
                for e in emails:
                    e.primary = False
                emails.insert(0, CleanEmail(value, None, True))
        out.emails = _primary_first(_first_of_each(emails, lambda e: e.email))
        out.present.add("emails")

    if "phones" in sent or "phone" in sent:
        phones: list[CleanPhone] = []
        if "phones" in sent:
            for i, phone_in in enumerate(data.phones or []):
                value = attempt(
                    "phones",
                    norm.normalize_phone,
                    phone_in.number,
                    region,
                    field=f"phones.{i}.number",
                )
                if value:
                    phones.append(CleanPhone(value, phone_in.label, phone_in.primary))
        elif current_phones is not None:
            phones = [CleanPhone(p.number, p.label, False) for p in current_phones[1:]]
        if "phone" in sent and data.phone:
            value = attempt("phone", norm.normalize_phone, data.phone, region, field="phone")
            if value:
                phones = [p for p in phones if p.number != value]
                for p in phones:
                    p.primary = False
                phones.insert(0, CleanPhone(value, None, True))
        out.phones = _primary_first(_first_of_each(phones, lambda p: p.number))
        out.present.add("phones")

    for name, limit in (("position", 200), ("source", 100), ("company", 200)):
        if name in sent:
            value = getattr(data, name)
            setattr(
                out,
                name,
                attempt(name, norm.clean_text, value, limit, field=name) if value else None,
            )
            out.present.add(name)
    for name in ("company_id", "status", "lead_score", "owner_id", "last_contact_date"):
        if name in sent:
            setattr(out, name, getattr(data, name))
            out.present.add(name)
    if "tags" in sent:
        out.tags = attempt("tags", norm.normalize_tags, data.tags or []) or []
        out.present.add("tags")
    if "custom_fields" in sent:
        out.custom_fields = (
            attempt(
                "custom_fields",
                validate_custom_fields,
                definitions,
                data.custom_fields or {},
                partial=partial,
            )
            or {}
        )
        out.present.add("custom_fields")
    elif not partial:
        attempt("custom_fields", validate_custom_fields, definitions, {}, partial=False)
    if "metadata" in sent:
        out.metadata = jsonable(data.metadata or {})
        out.present.add("metadata")
    if "addresses" in sent:
        addresses = []
        for i, address in enumerate(data.addresses or []):
            value = attempt(
                "addresses",
                norm.normalize_address,
                address.model_dump(exclude_none=True),
                field=f"addresses.{i}",
            )
            if value:
                addresses.append(value)
        out.addresses = addresses
        out.present.add("addresses")
    if "birthday" in sent:
        out.birthday = (
            attempt("birthday", norm.normalize_birthday, data.birthday) if data.birthday else None
        )
        out.present.add("birthday")
    if "social_profiles" in sent:
        out.social_profiles = (
            attempt("social_profiles", norm.normalize_social_profiles, data.social_profiles or {})
            or {}
        )
        out.present.add("social_profiles")
    if errors:
        raise norm.to_validation_error(errors.errors)
    return out
