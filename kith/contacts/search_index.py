"""Keeps a contact's search document in step with the contact, in the same
transaction (names, emails, company, position, tags; notes join later)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from kith import search
from kith.contacts.models import Contact

if TYPE_CHECKING:
    from kith.contacts.service import ContactDetails

KIND = "contact"


def reindex(session: Session, details: ContactDetails) -> None:
    contact = details.contact
    if contact.deleted_at is not None:
        remove(session, contact)
        return
    search.index_document(
        session,
        organization_id=contact.organization_id,
        kind=KIND,
        record_id=contact.id,
        title=contact.full_name,
        emails=[e.email for e in details.emails],
        subtitle=" ".join(p for p in (contact.company_name, contact.position) if p),
        tags=list(contact.tags or []),
        body="",
    )


def remove(session: Session, contact: Contact) -> None:
    search.remove_document(session, contact.organization_id, KIND, contact.id)
