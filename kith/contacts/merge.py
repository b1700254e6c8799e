"""Merging duplicates into one contact, and undoing a merge exactly.

A merge unions emails, phones, tags and custom fields onto the primary, fills
the primary's empty fields from the duplicates (or takes the value of the
contact named in ``fieldChoices``), moves every record that points at a
duplicate through the reference registry (kith.contacts.references) and keeps
the duplicates in the trash as "merged into" the primary. The merge row holds
a full copy of every merged row, so undo puts back each record exactly."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kith.audit import service as audit
from kith.auth.principal import Principal
from kith.auth.roles import Permission
from kith.auth.scoping import check_if_match
from kith.contacts import duplicates as fuzzy
from kith.contacts import search_index, service
from kith.contacts.input import CleanContact, CleanEmail, CleanPhone
from kith.contacts.models import (
    Contact,
    ContactEmail,
    ContactMerge,
    ContactPhone,
    ContactTag,
    DuplicatePair,
    DuplicateStatus,
)
from kith.contacts.references import REFERENCES
from kith.contacts.rows import apply_state, new_from_state, row_state
from kith.contacts.schemas import MergeIn
from kith.contacts.service import ContactDetails
from kith.db.types import utcnow
from kith.errors import Conflict, NotFound, ValidationFailed
from kith.events.outbox import publish

# Fields ``fieldChoices`` may pick (wire name → column attribute).
CHOOSABLE = {
    "firstName": "first_name",
    "lastName": "last_name",
    "companyId": "company_id",
    "position": "position",
    "status": "status",
    "leadScore": "lead_score",
    "source": "source",
    "ownerId": "owner_id",
    "birthday": "birthday",
    "addresses": "addresses",
}
FILLABLE = ("first_name", "last_name", "position", "source", "birthday", "addresses")


def _children(session: Session, organization_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, model in (("emails", ContactEmail), ("phones", ContactPhone), ("tags", ContactTag)):
        rows = (
            session.execute(
                select(model).where(
                    model.organization_id == organization_id, model.contact_id.in_(ids)
                )
            )
            .scalars()
            .all()
        )
        state[name] = [row_state(r) for r in rows]
    return state


def merge_contacts(
    session: Session, principal: Principal, data: MergeIn
) -> tuple[ContactMerge, ContactDetails]:
    principal.require(Permission.EDIT)
    principal.require(Permission.DELETE)
    duplicate_ids = list(dict.fromkeys(data.duplicate_ids))
    if data.primary_id in duplicate_ids:
        raise ValidationFailed.field("duplicateIds", "The primary cannot also be a duplicate.")
    primary = service.get_details(session, principal, data.primary_id)
    check_if_match(primary.contact.version)
    duplicates = [service.get_details(session, principal, i) for i in duplicate_ids]
    everyone = [primary, *duplicates]
    by_id = {d.contact.id: d for d in everyone}
    choices: dict[str, uuid.UUID] = {}
    for wire, chosen in (data.field_choices or {}).items():
        if wire not in CHOOSABLE:
            raise ValidationFailed.field(
                f"fieldChoices.{wire}", f"Choose one of: {', '.join(sorted(CHOOSABLE))}."
            )
        if chosen not in by_id:
            raise ValidationFailed.field(f"fieldChoices.{wire}", "Not one of the merged contacts.")
        choices[CHOOSABLE[wire]] = chosen

    org = principal.organization_id
    ids = list(by_id)
    snapshot = {
        "contacts": [row_state(d.contact) for d in everyone],
        **_children(session, org, ids),
        "pairs": [
            row_state(p)
            for p in session.execute(
                select(DuplicatePair).where(
                    DuplicatePair.organization_id == org,
                    DuplicatePair.contact_a.in_(ids),
                    DuplicatePair.contact_b.in_(ids),
                )
            ).scalars()
        ],
    }
    before = service.snapshot(primary)

    # The merged values, applied to the primary like an update.
    values = CleanContact()
    emails = [CleanEmail(e.email, e.label, e.is_primary) for e in primary.emails]
    phones = [CleanPhone(p.number, p.label, p.is_primary) for p in primary.phones]
    tags = list(primary.contact.tags or [])
    custom = {**(primary.contact.custom_fields or {}), **(primary.contact.sensitive_fields or {})}
    social = dict(primary.contact.social_profiles or {})
    meta = dict(primary.contact.meta or {})
    for dup in duplicates:
        known = {e.email for e in emails}
        emails += [CleanEmail(e.email, e.label, False) for e in dup.emails if e.email not in known]
        numbers = {p.number for p in phones}
        phones += [
            CleanPhone(p.number, p.label, False) for p in dup.phones if p.number not in numbers
        ]
        tags += [
            t for t in dup.contact.tags or [] if t.casefold() not in {x.casefold() for x in tags}
        ]
        for key, value in {
            **(dup.contact.custom_fields or {}),
            **(dup.contact.sensitive_fields or {}),
        }.items():
            custom.setdefault(key, value)
        for key, value in (dup.contact.social_profiles or {}).items():
            social.setdefault(key, value)
        for key, value in (dup.contact.meta or {}).items():
            meta.setdefault(key, value)
    values.emails, values.phones, values.tags = emails, phones, tags
    values.custom_fields, values.social_profiles, values.metadata = custom, social, meta
    values.present = {"emails", "phones", "tags", "custom_fields", "social_profiles", "metadata"}

    contact = primary.contact
    for attr in FILLABLE:
        if attr not in choices and not getattr(contact, attr):
            donor = next((d for d in duplicates if getattr(d.contact, attr)), None)
            if donor is not None:
                setattr(contact, attr, getattr(donor.contact, attr))
    for attr, chosen in choices.items():
        setattr(contact, attr, getattr(by_id[chosen].contact, attr))
        if attr == "company_id":
            contact.company_name = by_id[chosen].contact.company_name
    if "company_id" not in choices and contact.company_id is None:
        donor = next((d for d in duplicates if d.contact.company_id), None)
        if donor is not None:
            contact.company_id, contact.company_name = (
                donor.contact.company_id,
                donor.contact.company_name,
            )
    dates = [d.contact.last_contact_date for d in everyone if d.contact.last_contact_date]
    contact.last_contact_date = max(dates) if dates else None

    # The duplicates go to the trash as "merged into" the primary.
    now = utcnow()
    for dup in duplicates:
        for model in (ContactEmail, ContactPhone):
            session.execute(
                update(model)
                .where(model.organization_id == org, model.contact_id == dup.contact.id)
                .values(live=False)
                .execution_options(synchronize_session=False)
            )
        dup.contact.deleted_at = now
        dup.contact.deleted_by = None if principal.kind == "system" else principal.user_id
        dup.contact.merged_into_id = contact.id
        dup.contact.bump_version()
        search_index.remove(session, dup.contact)
        fuzzy.unindex(session, org, dup.contact.id)
    session.flush()
    definitions = service.field_definitions(session, org)
    service.apply_clean(session, principal, contact, values, definitions)
    service.write_children(session, contact, values)

    moved = {
        name: ref.move(session, org, duplicate_ids, contact.id) for name, ref in REFERENCES.items()
    }
    session.execute(
        update(DuplicatePair)
        .where(
            DuplicatePair.organization_id == org,
            DuplicatePair.contact_a.in_(ids),
            DuplicatePair.contact_b.in_(ids),
        )
        .values(
            status=DuplicateStatus.MERGED,
            resolved_at=now,
            resolved_by=None if principal.kind == "system" else principal.user_id,
        )
        .execution_options(synchronize_session=False)
    )
    contact.bump_version()
    contact.updated_at = now
    details = service.details_of(session, [contact])[0]
    service.after_write(session, details)

    record = ContactMerge(
        organization_id=org,
        primary_id=contact.id,
        duplicate_ids=[str(i) for i in duplicate_ids],
        snapshot=snapshot,
        moved={name: rows for name, rows in moved.items() if rows},
        created_by=None if principal.kind == "system" else principal.user_id,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        principal,
        action="contact.merged",
        entity_type="contact",
        entity_id=contact.id,
        before=before,
        after=service.snapshot(details),
        context={"mergeId": str(record.id), "duplicateIds": [str(i) for i in duplicate_ids]},
    )
    for dup in duplicates:
        audit.record(
            session,
            principal,
            action="contact.merged_into",
            entity_type="contact",
            entity_id=dup.contact.id,
            context={"mergeId": str(record.id), "primaryId": str(contact.id)},
        )
    publish(
        session,
        principal,
        "contact.merged",
        aggregate_type="contact",
        aggregate_id=contact.id,
        payload={
            "mergeId": str(record.id),
            "primaryId": str(contact.id),
            "duplicateIds": [str(i) for i in duplicate_ids],
            "moved": {name: len(rows) for name, rows in moved.items()},
        },
    )
    return record, details


def get_merge(session: Session, principal: Principal, merge_id: uuid.UUID) -> ContactMerge:
    record = session.execute(
        select(ContactMerge).where(
            ContactMerge.organization_id == principal.organization_id, ContactMerge.id == merge_id
        )
    ).scalar_one_or_none()
    if record is None:
        raise NotFound("Merge not found.")
    # Visible only to who may see the resulting contact.
    try:
        service.get_details(session, principal, record.primary_id)
    except NotFound:
        if record.undone_at is None:
            raise
    return record


def undo_merge(session: Session, principal: Principal, merge_id: uuid.UUID) -> ContactMerge:
    """Put every merged record back exactly as it was before the merge."""
    principal.require(Permission.EDIT)
    principal.require(Permission.DELETE)
    record = get_merge(session, principal, merge_id)
    if record.undone_at is not None:
        raise Conflict("This merge was already undone.", code="MERGE_UNDONE")
    org = principal.organization_id
    primary = service.get_details(session, principal, record.primary_id)
    later = session.execute(
        select(ContactMerge.id).where(
            ContactMerge.organization_id == org,
            ContactMerge.primary_id == record.primary_id,
            ContactMerge.created_at > record.created_at,
            ContactMerge.undone_at.is_(None),
        )
    ).first()
    if later is not None:
        raise Conflict(
            "Undo the later merge into this contact first.",
            code="MERGE_NOT_LATEST",
            details={"mergeId": str(later[0])},
        )
    snap = record.snapshot
    ids = [uuid.UUID(c["id"]) for c in snap["contacts"]]
    for name in reversed(list(record.moved)):
        if name in REFERENCES:
            REFERENCES[name].restore(session, org, record.moved[name])
    for model in (ContactEmail, ContactPhone, ContactTag):
        session.execute(
            delete(model).where(model.organization_id == org, model.contact_id.in_(ids))
        )
    session.flush()
    contacts = {
        c.id: c
        for c in session.execute(
            select(Contact).where(Contact.organization_id == org, Contact.id.in_(ids))
        ).scalars()
    }
    for state in snap["contacts"]:
        apply_state(contacts[uuid.UUID(state["id"])], state)
    for name, model in (("emails", ContactEmail), ("phones", ContactPhone), ("tags", ContactTag)):
        session.add_all(new_from_state(model, state) for state in snap[name])
    for state in snap.get("pairs", []):
        pair = session.get(DuplicatePair, (org, uuid.UUID(state["id"])))
        if pair is not None:
            apply_state(pair, state)
    now = utcnow()
    record.undone_at = now
    record.undone_by = None if principal.kind == "system" else principal.user_id
    session.flush()
    for details in service.details_of(session, list(contacts.values())):
        service.after_write(session, details)
    audit.record(
        session,
        principal,
        action="contact.merge_undone",
        entity_type="contact",
        entity_id=record.primary_id,
        context={"mergeId": str(record.id)},
    )
    for contact_id in ids:
        publish(
            session,
            principal,
            "contact.updated",
            aggregate_type="contact",
            aggregate_id=contact_id,
            payload={"id": str(contact_id), "mergeUndone": str(record.id)},
        )
    del primary
    return record
