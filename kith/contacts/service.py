"""Contacts: create (with exact duplicate detection), read, update, soft delete and
restore, lists with filters, and the wire form. Every read goes through
``kith.auth.scoping``; every change is audited and emitted to the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from kith import crypto
from kith.audit import service as audit
from kith.auth import members
from kith.auth.principal import Principal
from kith.auth.roles import Permission, Visibility
from kith.auth.scoping import check_if_match, get_scoped, scoped
from kith.companies import service as companies
from kith.contacts import company_links, duplicates, search_index  # noqa: F401 - registers hooks
from kith.contacts.custom_fields import FieldDefinition, FieldType
from kith.contacts.input import CleanContact, CleanEmail, CleanPhone, clean
from kith.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactStatus,
    ContactStatusChange,
    ContactTag,
    CustomFieldDefinitionRow,
)
from kith.contacts.schemas import ContactIn, ContactOut, ContactPatch, PossibleDuplicate
from kith.db.types import utcnow
from kith.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kith.events.outbox import publish

OnDuplicate = Literal["reject", "merge", "create"]
PHONE_INDEX = "phone"
RESTORE_DAYS = 30


class DuplicateContact(Conflict):
    code = "DUPLICATE_CONTACT"
    message = "A contact with this email or phone already exists."


@dataclass
class ContactDetails:
    contact: Contact
    emails: list[ContactEmail]
    phones: list[ContactPhone]
    possible_duplicates: list[PossibleDuplicate] = field(default_factory=list)


def phone_index(number: str) -> str:
    return crypto.keyring().blind_index(number, purpose=PHONE_INDEX)


# -- reading ------------------------------------------------------------------------


def visible(principal: Principal, *, deleted: bool = False) -> Select[Any]:
    """Contacts the caller may see (live ones, or the deleted ones when ``deleted``)."""
    stmt = scoped(Contact, principal)
    return stmt.where(Contact.deleted_at.is_not(None) if deleted else Contact.deleted_at.is_(None))


def load_children(
    session: Session, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[ContactEmail]], dict[uuid.UUID, list[ContactPhone]]]:
    emails: dict[uuid.UUID, list[ContactEmail]] = {i: [] for i in ids}
    phones: dict[uuid.UUID, list[ContactPhone]] = {i: [] for i in ids}
    if not ids:
        return emails, phones
    for email in session.execute(
        select(ContactEmail)
        .where(ContactEmail.organization_id == organization_id, ContactEmail.contact_id.in_(ids))
        .order_by(ContactEmail.position)
    ).scalars():
        emails[email.contact_id].append(email)
    for phone in session.execute(
        select(ContactPhone)
        .where(ContactPhone.organization_id == organization_id, ContactPhone.contact_id.in_(ids))
        .order_by(ContactPhone.position)
    ).scalars():
        phones[phone.contact_id].append(phone)
    return emails, phones


def details_of(session: Session, contacts: Sequence[Contact]) -> list[ContactDetails]:
    if not contacts:
        return []
    emails, phones = load_children(session, contacts[0].organization_id, [c.id for c in contacts])
    return [ContactDetails(c, emails[c.id], phones[c.id]) for c in contacts]


def get_details(
    session: Session, principal: Principal, contact_id: uuid.UUID, *, deleted: bool = False
) -> ContactDetails:
    contact = session.execute(
        visible(principal, deleted=deleted).where(Contact.id == contact_id)
    ).scalar_one_or_none()
    if contact is None:
        raise NotFound("Contact not found.")
    return details_of(session, [contact])[0]


def to_out(
    details: ContactDetails,
    *,
    principal: Principal | None = None,
    model: type[ContactOut] = ContactOut,
    **extra: Any,
) -> ContactOut:
    """The wire form (``model``: ContactOut or a subclass, with its ``extra`` fields)."""
    c = details.contact
    custom = dict(c.custom_fields or {})
    custom.update(c.sensitive_fields or {})
    return model(
        **extra,
        id=c.id,
        first_name=c.first_name,
        last_name=c.last_name,
        full_name=c.full_name,
        email=c.email,
        emails=[
            {"email": e.email, "label": e.label, "primary": e.is_primary} for e in details.emails
        ],
        phone=c.phone,
        phones=[
            {"number": p.number, "label": p.label, "primary": p.is_primary} for p in details.phones
        ],
        company_id=c.company_id,
        company=c.company_name,
        position=c.position,
        status=c.status,
        lead_score=c.lead_score,
        source=c.source,
        owner_id=c.owner_id,
        assigned_to=c.owner_id,
        tags=list(c.tags or []),
        custom_fields=custom,
        last_contact_date=c.last_contact_date,
        metadata=dict(c.meta or {}),
        addresses=list(c.addresses or []),
        birthday=c.birthday,
        social_profiles=dict(c.social_profiles or {}),
        possible_duplicates=details.possible_duplicates,
        created_at=c.created_at,
        updated_at=c.updated_at,
        deleted_at=c.deleted_at,
        version=c.version,
    )


def snapshot(details: ContactDetails) -> dict[str, Any]:
    """The audited form of a contact (secrets and PII values are not repeated in
    audit diffs beyond what a user could see)."""
    out = to_out(details).model_dump(mode="json", by_alias=True)
    for volatile in ("updatedAt", "createdAt", "version", "possibleDuplicates", "assignedTo"):
        out.pop(volatile, None)
    return out


# -- custom fields ------------------------------------------------------------------------


def field_definitions(session: Session, organization_id: uuid.UUID) -> list[FieldDefinition]:
    rows = session.execute(
        select(CustomFieldDefinitionRow)
        .where(CustomFieldDefinitionRow.organization_id == organization_id)
        .order_by(CustomFieldDefinitionRow.position, CustomFieldDefinitionRow.key)
    ).scalars()
    return [
        FieldDefinition(
            key=r.key,
            label=r.label,
            type=FieldType(r.type),
            options=tuple(r.options or ()),
            required=r.required,
            sensitive=r.sensitive,
        )
        for r in rows
    ]


# -- duplicates by email/phone ------------------------------------------------------------


def find_exact(
    session: Session,
    organization_id: uuid.UUID,
    emails: Iterable[str],
    phones: Iterable[str],
    *,
    exclude: uuid.UUID | None = None,
) -> list[tuple[uuid.UUID, str, str]]:
    """Live contacts holding any of these emails or phones: ``(id, field, value)``."""
    found: list[tuple[uuid.UUID, str, str]] = []
    emails, phones = list(emails), list(phones)
    if emails:
        stmt = select(ContactEmail.contact_id, ContactEmail.email).where(
            ContactEmail.organization_id == organization_id,
            ContactEmail.email.in_(emails),
            ContactEmail.live.is_(True),
        )
        if exclude:
            stmt = stmt.where(ContactEmail.contact_id != exclude)
        found += [(cid, "email", value) for cid, value in session.execute(stmt)]
    if phones:
        by_index = {phone_index(p): p for p in phones}
        stmt = select(ContactPhone.contact_id, ContactPhone.number_index).where(
            ContactPhone.organization_id == organization_id,
            ContactPhone.number_index.in_(list(by_index)),
            ContactPhone.live.is_(True),
        )
        if exclude:
            stmt = stmt.where(ContactPhone.contact_id != exclude)
        found += [(cid, "phone", by_index[idx]) for cid, idx in session.execute(stmt)]
    return found


def _lock_identities(session: Session, organization_id: uuid.UUID, values: Iterable[str]) -> None:
    """PostgreSQL: serialize concurrent creates of the same email/phone in one
    organization (SQLite already serializes writers)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy import func

    for value in sorted(set(values)):
        key = crypto.keyring().blind_index(f"{organization_id}:{value}", purpose="lock")
        session.execute(select(func.pg_advisory_xact_lock(int(key[:15], 16))))


def _raise_duplicate(
    session: Session, principal: Principal, hits: list[tuple[uuid.UUID, str, str]]
) -> None:
    contact_id, field_name, value = hits[0]
    seen = session.execute(visible(principal).where(Contact.id == contact_id)).scalar_one_or_none()
    if seen is None:
        # Someone else's contact: say it exists, never who it is.
        raise DuplicateContact(
            f"A contact with this {field_name} already exists in your organization.",
            details={"field": field_name, "value": value},
        )
    raise DuplicateContact(
        f"A contact with this {field_name} already exists.",
        details={"existingId": str(contact_id), "field": field_name, "value": value},
    )


# -- ownership -------------------------------------------------------------------------


def resolve_owner(
    session: Session,
    principal: Principal,
    requested: uuid.UUID | None,
    *,
    current: uuid.UUID | None,
) -> uuid.UUID | None:
    """Who owns the record after this write, by the caller's role."""
    if requested is None or requested == current:
        return current if current is not None else principal.user_id
    if requested == principal.user_id:
        return requested
    if principal.visibility is Visibility.OWN:
        raise Forbidden(
            "You can only own contacts yourself; ask a manager to reassign.",
            details={"field": "ownerId"},
        )
    try:
        member = members.get_member(session, principal, requested)
    except NotFound as exc:
        raise ValidationFailed.field("ownerId", "No such user in this organization.") from exc
    if principal.visibility is Visibility.TEAM:
        teammates = set(principal.team_ids) & set(member.team_ids)
        if not teammates:
            raise Forbidden(
                "You can assign contacts only to members of your teams.",
                details={"field": "ownerId"},
            )
    return requested


# -- writing ----------------------------------------------------------------------------


def apply_clean(
    session: Session,
    principal: Principal,
    contact: Contact,
    values: CleanContact,
    definitions: list[FieldDefinition],
) -> None:
    present = values.present
    for name in ("first_name", "last_name"):
        if name in present:
            setattr(contact, name, getattr(values, name))
    contact.full_name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    contact.sort_name = " ".join(
        p for p in (contact.last_name.casefold(), contact.first_name.casefold()) if p
    )
    for name in ("position", "source", "last_contact_date"):
        if name in present:
            setattr(contact, name, getattr(values, name))
    if "lead_score" in present and values.lead_score is not None:
        contact.lead_score = values.lead_score
    if "status" in present and values.status is not None:
        contact.status = values.status
    if "tags" in present:
        contact.tags = values.tags
    if "custom_fields" in present:
        sensitive = {d.key for d in definitions if d.sensitive}
        merged = {**(contact.custom_fields or {}), **(contact.sensitive_fields or {})}
        merged.update(values.custom_fields)
        merged = {k: v for k, v in merged.items() if v is not None}
        contact.custom_fields = {k: v for k, v in merged.items() if k not in sensitive}
        contact.sensitive_fields = {k: v for k, v in merged.items() if k in sensitive} or None
    if "metadata" in present:
        contact.meta = values.metadata
    if "addresses" in present:
        contact.addresses = values.addresses or None
    if "birthday" in present:
        contact.birthday = values.birthday
    if "social_profiles" in present:
        contact.social_profiles = values.social_profiles
    if "company_id" in present or "company" in present:
        company = companies.resolve_for_contact(
            session, principal, company_id=values.company_id, name=values.company
        )
        contact.company_id = company.id if company else None
        contact.company_name = company.name if company else None
    if "emails" in present:
        contact.email = values.emails[0].email if values.emails else None
        if contact.company_id is None and contact.email:
            linked = companies.company_for_email(session, contact.organization_id, contact.email)
            if linked is not None:
                contact.company_id, contact.company_name = linked.id, linked.name
    if "phones" in present:
        contact.phone = values.phones[0].number if values.phones else None


def write_children(
    session: Session, contact: Contact, values: CleanContact, *, new: bool = False
) -> tuple[list[ContactEmail], list[ContactPhone]] | None:
    """Replace the emails, phones and tags ``values`` holds. ``new``: the contact was
    just created (nothing to delete first); then the written emails and phones are
    returned, which saves reading them back."""
    org, cid = contact.organization_id, contact.id
    live = contact.deleted_at is None
    emails: list[ContactEmail] = []
    phones: list[ContactPhone] = []
    if "emails" in values.present:
        if not new:
            session.execute(
                delete(ContactEmail).where(
                    ContactEmail.organization_id == org, ContactEmail.contact_id == cid
                )
            )
        emails = [
            ContactEmail(
                organization_id=org,
                contact_id=cid,
                position=i,
                email=e.email,
                label=e.label,
                is_primary=e.primary,
                live=live,
            )
            for i, e in enumerate(values.emails)
        ]
        session.add_all(emails)
    if "phones" in values.present:
        if not new:
            session.execute(
                delete(ContactPhone).where(
                    ContactPhone.organization_id == org, ContactPhone.contact_id == cid
                )
            )
        phones = [
            ContactPhone(
                organization_id=org,
                contact_id=cid,
                position=i,
                number=p.number,
                number_index=phone_index(p.number),
                label=p.label,
                is_primary=p.primary,
                live=live,
            )
            for i, p in enumerate(values.phones)
        ]
        session.add_all(phones)
    if "tags" in values.present:
        if not new:
            session.execute(
                delete(ContactTag).where(
                    ContactTag.organization_id == org, ContactTag.contact_id == cid
                )
            )
        session.add_all(
            ContactTag(organization_id=org, contact_id=cid, tag=t)
            for t in {t.casefold() for t in values.tags}
        )
    session.flush()
    return (emails, phones) if new else None


def after_write(session: Session, details: ContactDetails, *, new: bool = False) -> None:
    """Keep the search document and the blocking keys in step (same transaction)."""
    search_index.reindex(session, details)
    duplicates.index(session, details, new=new)


def create_contact(
    session: Session,
    principal: Principal,
    data: ContactIn,
    *,
    region: str,
    on_duplicate: OnDuplicate = "reject",
) -> tuple[ContactDetails, bool]:
    """Create a contact; returns ``(details, created)``. An email or phone already held
    by a live contact is a 409 DUPLICATE_CONTACT, unless ``on_duplicate`` is
    ``merge`` (the new values are added to that contact) or ``create``."""
    principal.require(Permission.EDIT)
    definitions = field_definitions(session, principal.organization_id)
    values = clean(data, region=region, definitions=definitions, partial=False)
    _lock_identities(
        session,
        principal.organization_id,
        [e.email for e in values.emails] + [p.number for p in values.phones],
    )
    hits = find_exact(
        session,
        principal.organization_id,
        [e.email for e in values.emails],
        [p.number for p in values.phones],
    )
    if hits and on_duplicate == "reject":
        _raise_duplicate(session, principal, hits)
    if hits and on_duplicate == "merge":
        existing = session.execute(
            visible(principal).where(Contact.id == hits[0][0])
        ).scalar_one_or_none()
        if existing is None:
            _raise_duplicate(session, principal, hits)
        assert existing is not None
        return add_to_existing(session, principal, existing, values, definitions), False

    owner = resolve_owner(session, principal, values.owner_id, current=None)
    contact = Contact(
        organization_id=principal.organization_id,
        owner_id=owner,
        created_by=None if principal.kind == "system" else principal.user_id,
        status=values.status or ContactStatus.LEAD,
        lead_score=values.lead_score or 0,
        first_name="",
        last_name="",
        version=1,
        tags=[],
        custom_fields={},
        meta={},
        social_profiles={},
    )
    # Filled in before it joins the session: its INSERT then carries every value
    # (company lookups autoflush; a pending contact would be inserted, then updated).
    apply_clean(session, principal, contact, values, definitions)
    session.add(contact)
    session.flush()
    values.present |= {"emails", "phones", "tags"}
    written = write_children(session, contact, values, new=True)
    assert written is not None
    session.add(
        ContactStatusChange(
            organization_id=contact.organization_id,
            contact_id=contact.id,
            from_status=None,
            to_status=contact.status,
            changed_by=_actor(principal),
        )
    )
    details = ContactDetails(contact, *written)
    after_write(session, details, new=True)
    details.possible_duplicates = duplicates.check(session, principal, details)
    audit.record(
        session,
        principal,
        action="contact.created",
        entity_type="contact",
        entity_id=contact.id,
        after=snapshot(details),
    )
    publish(
        session,
        principal,
        "contact.created",
        aggregate_type="contact",
        aggregate_id=contact.id,
        payload={"contact": snapshot(details) | {"id": str(contact.id)}},
    )
    return details, True


def add_to_existing(
    session: Session,
    principal: Principal,
    existing: Contact,
    values: CleanContact,
    definitions: list[FieldDefinition],
) -> ContactDetails:
    """``onDuplicate=merge``: add new emails/phones/tags and fill empty fields."""
    current = details_of(session, [existing])[0]
    patch = CleanContact()
    emails = [CleanEmail(e.email, e.label, e.is_primary) for e in current.emails]
    known = {e.email for e in emails}
    emails += [CleanEmail(e.email, e.label, False) for e in values.emails if e.email not in known]
    phones = [CleanPhone(p.number, p.label, p.is_primary) for p in current.phones]
    known_numbers = {p.number for p in phones}
    phones += [
        CleanPhone(p.number, p.label, False) for p in values.phones if p.number not in known_numbers
    ]
    patch.emails, patch.phones = emails, phones
    patch.tags = list(dict.fromkeys([*(existing.tags or []), *values.tags]))
    patch.present = {"emails", "phones", "tags"}
    for name in ("first_name", "last_name", "position", "source", "birthday"):
        if not getattr(existing, name) and getattr(values, name):
            setattr(patch, name, getattr(values, name))
            patch.present.add(name)
    if existing.company_id is None and (values.company_id or values.company):
        patch.company_id, patch.company = values.company_id, values.company
        patch.present |= {"company_id", "company"}
    return _update(session, principal, existing, current, patch, definitions)


def update_contact(
    session: Session,
    principal: Principal,
    contact_id: uuid.UUID,
    data: ContactPatch,
    *,
    region: str,
) -> ContactDetails:
    principal.require(Permission.EDIT)
    current = get_details(session, principal, contact_id)
    check_if_match(current.contact.version)
    definitions = field_definitions(session, principal.organization_id)
    values = clean(
        data,
        region=region,
        definitions=definitions,
        partial=True,
        current_emails=[CleanEmail(e.email, e.label, e.is_primary) for e in current.emails],
        current_phones=[CleanPhone(p.number, p.label, p.is_primary) for p in current.phones],
    )
    new_emails = {e.email for e in values.emails} - {e.email for e in current.emails}
    new_phones = {p.number for p in values.phones} - {p.number for p in current.phones}
    _lock_identities(session, principal.organization_id, [*new_emails, *new_phones])
    hits = find_exact(
        session, principal.organization_id, new_emails, new_phones, exclude=contact_id
    )
    if hits:
        _raise_duplicate(session, principal, hits)
    return _update(session, principal, current.contact, current, values, definitions)


def _update(
    session: Session,
    principal: Principal,
    contact: Contact,
    current: ContactDetails,
    values: CleanContact,
    definitions: list[FieldDefinition],
) -> ContactDetails:
    before = snapshot(current)
    old_status = contact.status
    if "owner_id" in values.present:
        contact.owner_id = resolve_owner(
            session, principal, values.owner_id, current=contact.owner_id
        )
    apply_clean(session, principal, contact, values, definitions)
    write_children(session, contact, values)
    details = details_of(session, [contact])[0]
    after = snapshot(details)
    if after == before:
        return details
    contact.bump_version()
    contact.updated_at = utcnow()
    if contact.status != old_status:
        session.add(
            ContactStatusChange(
                organization_id=contact.organization_id,
                contact_id=contact.id,
                from_status=old_status,
                to_status=contact.status,
                changed_by=_actor(principal),
            )
        )
    after_write(session, details)
    details.possible_duplicates = duplicates.check(session, principal, details)
    entry = audit.record(
        session,
        principal,
        action="contact.updated",
        entity_type="contact",
        entity_id=contact.id,
        before=before,
        after=after,
    )
    publish(
        session,
        principal,
        "contact.updated",
        aggregate_type="contact",
        aggregate_id=contact.id,
        payload={"id": str(contact.id), "changes": entry.changes},
    )
    session.flush()
    return details


def delete_contact(session: Session, principal: Principal, contact_id: uuid.UUID) -> None:
    """Soft delete: restorable for 30 days, then purged."""
    principal.require(Permission.DELETE)
    details = get_details(session, principal, contact_id)
    check_if_match(details.contact.version)
    _set_live(session, details.contact, False)
    details.contact.deleted_at = utcnow()
    details.contact.deleted_by = _actor(principal)
    details.contact.bump_version()
    search_index.remove(session, details.contact)
    duplicates.unindex(session, details.contact.organization_id, details.contact.id)
    audit.record(
        session,
        principal,
        action="contact.deleted",
        entity_type="contact",
        entity_id=contact_id,
        before=snapshot(details),
    )
    publish(
        session,
        principal,
        "contact.deleted",
        aggregate_type="contact",
        aggregate_id=contact_id,
        payload={"id": str(contact_id)},
    )


def restore_contact(
    session: Session, principal: Principal, contact_id: uuid.UUID
) -> ContactDetails:
    principal.require(Permission.DELETE)
    details = get_details(session, principal, contact_id, deleted=True)
    contact = details.contact
    if contact.merged_into_id is not None:
        raise Conflict("This contact was merged; undo the merge instead.", code="MERGED_CONTACT")
    hits = find_exact(
        session,
        contact.organization_id,
        [e.email for e in details.emails],
        [p.number for p in details.phones],
        exclude=contact.id,
    )
    if hits:
        _raise_duplicate(session, principal, hits)
    _set_live(session, contact, True)
    contact.deleted_at = None
    contact.deleted_by = None
    contact.bump_version()
    details = details_of(session, [contact])[0]
    after_write(session, details)
    audit.record(
        session,
        principal,
        action="contact.restored",
        entity_type="contact",
        entity_id=contact_id,
        after=snapshot(details),
    )
    publish(
        session,
        principal,
        "contact.created",
        aggregate_type="contact",
        aggregate_id=contact_id,
        payload={"contact": snapshot(details) | {"id": str(contact_id)}, "restored": True},
    )
    return details


def _set_live(session: Session, contact: Contact, live: bool) -> None:
    for model in (ContactEmail, ContactPhone):
        session.execute(
            update(model)
            .where(model.organization_id == contact.organization_id, model.contact_id == contact.id)
            .values(live=live)
            .execution_options(synchronize_session=False)
        )


def purge_deleted(session: Session, *, older_than_days: int = RESTORE_DAYS) -> int:
    """Hard-delete contacts soft-deleted longer ago than the restore window."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    ids = session.execute(
        select(Contact.organization_id, Contact.id).where(Contact.deleted_at < cutoff).limit(10_000)
    ).all()
    for organization_id, contact_id in ids:
        session.execute(
            delete(Contact).where(
                Contact.organization_id == organization_id, Contact.id == contact_id
            )
        )
    return len(ids)


def _actor(principal: Principal) -> uuid.UUID | None:
    return None if principal.kind == "system" else principal.user_id


def get_contact_for_write(session: Session, principal: Principal, contact_id: uuid.UUID) -> Contact:
    contact = get_scoped(session, Contact, contact_id, principal)
    if contact.deleted_at is not None:
        raise NotFound("Contact not found.")
    principal.require(Permission.EDIT)
    return contact
