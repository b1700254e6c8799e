"""How contacts follow their company: linked by email domain, renamed with it,
unlinked when it is deleted (registered with kith.companies.service)."""

from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kith.companies import service as companies
from kith.companies.models import Company
from kith.contacts.models import Contact
from kith.db.types import utcnow


class ContactCompanyLinks:
    def domains_changed(self, session: Session, company: Company, domains: list[str]) -> None:
        """Contacts without a company whose primary email is at these domains join it."""
        session.execute(
            update(Contact)
            .where(
                Contact.organization_id == company.organization_id,
                Contact.company_id.is_(None),
                Contact.deleted_at.is_(None),
                or_(*[Contact.email.like(f"%@{d}") for d in domains]),
            )
            .values(
                company_id=company.id,
                company_name=company.name,
                updated_at=utcnow(),
                version=Contact.version + 1,
            )
            .execution_options(synchronize_session=False)
        )

    def renamed(self, session: Session, company: Company) -> None:
        session.execute(
            update(Contact)
            .where(
                Contact.organization_id == company.organization_id, Contact.company_id == company.id
            )
            .values(company_name=company.name)
            .execution_options(synchronize_session=False)
        )

    def deleted(self, session: Session, company: Company) -> None:
        session.execute(
            update(Contact)
            .where(
                Contact.organization_id == company.organization_id, Contact.company_id == company.id
            )
            .values(
                company_id=None, company_name=None, updated_at=utcnow(), version=Contact.version + 1
            )
            .execution_options(synchronize_session=False)
        )

    def counts(self, session: Session, company: Company) -> dict[str, int]:
        count = session.execute(
            select(func.count())
            .select_from(Contact)
            .where(
                Contact.organization_id == company.organization_id,
                Contact.company_id == company.id,
                Contact.deleted_at.is_(None),
            )
        ).scalar_one()
        return {"contacts": int(count)}


LINKS = ContactCompanyLinks()
companies.add_hooks(LINKS)
