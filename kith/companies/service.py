"""Companies: found or created from a contact's company name, matched by corporate
email domain (never by free-mail domains), and managed directly.

Companies know nothing of contacts: domains that hang off a company (contacts,
later deals) register :class:`CompanyHooks` to react to its changes."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from kith.audit import service as audit
from kith.auth.principal import Principal
from kith.auth.roles import Permission
from kith.auth.scoping import get_for_write, scoped
from kith.companies.models import Company, CompanyDomain
from kith.companies.schemas import CompanyIn, CompanyOut, CompanyPatch
from kith.contacts import normalize as norm
from kith.db.types import utcnow
from kith.errors import Conflict, NotFound, ValidationFailed


class CompanyHooks(Protocol):
    """What another domain does when a company changes, in the same transaction."""

    def domains_changed(self, session: Session, company: Company, domains: list[str]) -> None: ...

    def renamed(self, session: Session, company: Company) -> None: ...

    def deleted(self, session: Session, company: Company) -> None: ...

    def counts(self, session: Session, company: Company) -> dict[str, int]: ...


HOOKS: list[CompanyHooks] = []


def add_hooks(hooks: CompanyHooks) -> None:
    if hooks not in HOOKS:
        HOOKS.append(hooks)


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def visible(principal: Principal) -> Select[Any]:
    return scoped(Company, principal).where(Company.deleted_at.is_(None))


def get_company(session: Session, principal: Principal, company_id: uuid.UUID) -> Company:
    company: Company | None = session.execute(
        visible(principal).where(Company.id == company_id)
    ).scalar_one_or_none()
    if company is None:
        raise NotFound("Company not found.")
    return company


def _actor(principal: Principal) -> uuid.UUID | None:
    return None if principal.kind == "system" else principal.user_id


def resolve_for_contact(
    session: Session, principal: Principal, *, company_id: uuid.UUID | None, name: str | None
) -> Company | None:
    """The company a contact names: by id (must exist), else by name (created if new)."""
    if company_id is not None:
        try:
            return get_company(session, principal, company_id)
        except NotFound as exc:
            raise ValidationFailed.field("companyId", "No such company.") from exc
    if not name:
        return None
    key = name_key(name)
    found: Company | None = session.execute(
        visible(principal).where(Company.name_key == key).order_by(Company.created_at).limit(1)
    ).scalar_one_or_none()
    if found is not None:
        return found
    company = Company(
        organization_id=principal.organization_id,
        name=name,
        name_key=key,
        links={},
        created_by=_actor(principal),
    )
    session.add(company)
    session.flush()
    audit.record(
        session,
        principal,
        action="company.created",
        entity_type="company",
        entity_id=company.id,
        after={"name": name},
        context={"via": "contact"},
    )
    return company


def company_for_email(session: Session, organization_id: uuid.UUID, email: str) -> Company | None:
    """The company whose domain matches a corporate email address."""
    domain = norm.email_domain(email)
    if not domain or norm.is_free_mail_domain(domain):
        return None
    linked: Company | None = session.execute(
        select(Company)
        .join(
            CompanyDomain,
            (CompanyDomain.organization_id == Company.organization_id)
            & (CompanyDomain.company_id == Company.id),
        )
        .where(
            CompanyDomain.organization_id == organization_id,
            CompanyDomain.domain == domain,
            Company.deleted_at.is_(None),
        )
    ).scalar_one_or_none()
    return linked


def _clean_domains(domains: list[str]) -> list[str]:
    cleaned: list[str] = []
    for i, raw in enumerate(domains):
        domain = raw.strip().lower().removeprefix("www.").rstrip(".")
        if "@" in domain:
            domain = norm.email_domain(domain)
        if not domain or "." not in domain or any(c.isspace() for c in domain):
            raise ValidationFailed.field(f"domains.{i}", "Not a domain name.")
        if norm.is_free_mail_domain(domain):
            raise ValidationFailed.field(
                f"domains.{i}", f"{domain} is a free-mail domain; it cannot identify a company."
            )
        if domain not in cleaned:
            cleaned.append(domain)
    return cleaned


def _set_domains(session: Session, company: Company, domains: list[str]) -> None:
    org = company.organization_id
    taken = session.execute(
        select(CompanyDomain.domain, CompanyDomain.company_id).where(
            CompanyDomain.organization_id == org,
            CompanyDomain.domain.in_(domains),
            CompanyDomain.company_id != company.id,
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"{taken[0]} already belongs to another company.",
            details={"domain": taken[0], "companyId": str(taken[1])},
        )
    session.execute(
        delete(CompanyDomain).where(
            CompanyDomain.organization_id == org, CompanyDomain.company_id == company.id
        )
    )
    session.add_all(
        CompanyDomain(organization_id=org, domain=d, company_id=company.id) for d in domains
    )
    company.domain = domains[0] if domains else None
    session.flush()
    if domains:
        for hooks in HOOKS:
            hooks.domains_changed(session, company, domains)


def to_out(session: Session, company: Company) -> CompanyOut:
    domains = (
        session.execute(
            select(CompanyDomain.domain)
            .where(
                CompanyDomain.organization_id == company.organization_id,
                CompanyDomain.company_id == company.id,
            )
            .order_by(CompanyDomain.domain)
        )
        .scalars()
        .all()
    )
    counts: dict[str, int] = {}
    for hooks in HOOKS:
        counts.update(hooks.counts(session, company))
    ordered = ([company.domain] if company.domain in domains else []) + [
        d for d in domains if d != company.domain
    ]
    return CompanyOut(
        id=company.id,
        name=company.name,
        domain=company.domain,
        domains=ordered,
        industry=company.industry,
        size=company.size,
        description=company.description,
        address=company.address,
        links=dict(company.links or {}),
        contact_count=counts.get("contacts", 0),
        created_at=company.created_at,
        updated_at=company.updated_at,
        version=company.version,
    )


def _snapshot(session: Session, company: Company) -> dict[str, Any]:
    return to_out(session, company).model_dump(
        mode="json", by_alias=True, exclude={"created_at", "updated_at", "version", "contact_count"}
    )


def _clean_fields(data: CompanyIn | CompanyPatch) -> dict[str, Any]:
    """The sent fields, normalized; one 422 naming every bad one."""
    errors = norm.ErrorCollector()
    sent = data.model_fields_set
    values: dict[str, Any] = {}
    texts = {"name": 200, "industry": 100, "size": 20}
    for name, limit in texts.items():
        if name in sent:
            raw = getattr(data, name)
            values[name] = (
                errors.capture(norm.clean_text, raw, limit, field=name, required=name == "name")
                if raw is not None
                else None
            )
    if "description" in sent:
        values["description"] = (
            errors.capture(
                norm.clean_text, data.description, 5000, field="description", multiline=True
            )
            if data.description is not None
            else None
        )
    if "address" in sent:
        values["address"] = (
            errors.capture(norm.normalize_address, data.address, field="address")
            if data.address
            else None
        )
    if "links" in sent:
        values["links"] = (
            errors.capture(norm.normalize_social_profiles, data.links or {}, field="links") or {}
        )
    if "domains" in sent:
        try:
            values["domains"] = _clean_domains(data.domains or [])
        except ValidationFailed as exc:
            for detail in exc.details or []:
                errors.add(detail["field"], detail["message"])
    if errors:
        raise norm.to_validation_error(errors.errors)
    return values


def create_company(session: Session, principal: Principal, data: CompanyIn) -> Company:
    principal.require(Permission.EDIT)
    values = _clean_fields(data)
    name = values["name"]
    company = Company(
        organization_id=principal.organization_id,
        name=name,
        name_key=name_key(name),
        industry=values.get("industry"),
        size=values.get("size"),
        description=values.get("description"),
        address=values.get("address"),
        links=values.get("links") or {},
        created_by=_actor(principal),
    )
    session.add(company)
    session.flush()
    _set_domains(session, company, values.get("domains", []))
    audit.record(
        session,
        principal,
        action="company.created",
        entity_type="company",
        entity_id=company.id,
        after=_snapshot(session, company),
    )
    return company


def update_company(
    session: Session, principal: Principal, company_id: uuid.UUID, data: CompanyPatch
) -> Company:
    company = get_for_write(session, Company, company_id, principal)
    if company.deleted_at is not None:
        raise NotFound("Company not found.")
    before = _snapshot(session, company)
    values = _clean_fields(data)
    if values.get("name"):
        company.name = values["name"]
        company.name_key = name_key(company.name)
    for name in ("industry", "size", "description", "address", "links"):
        if name in values:
            setattr(company, name, values[name] if name != "links" else values[name] or {})
    if "domains" in values:
        _set_domains(session, company, values["domains"])
    after = _snapshot(session, company)
    if after != before:
        company.bump_version()
        company.updated_at = utcnow()
        if before["name"] != after["name"]:
            for hooks in HOOKS:
                hooks.renamed(session, company)
        audit.record(
            session,
            principal,
            action="company.updated",
            entity_type="company",
            entity_id=company.id,
            before=before,
            after=after,
        )
    return company


def delete_company(session: Session, principal: Principal, company_id: uuid.UUID) -> None:
    """Delete a company; its contacts stay, without a company."""
    company = get_for_write(session, Company, company_id, principal, Permission.DELETE)
    if company.deleted_at is not None:
        raise NotFound("Company not found.")
    before = _snapshot(session, company)
    for hooks in HOOKS:
        hooks.deleted(session, company)
    session.execute(
        delete(CompanyDomain).where(
            CompanyDomain.organization_id == company.organization_id,
            CompanyDomain.company_id == company.id,
        )
    )
    company.deleted_at = utcnow()
    company.bump_version()
    audit.record(
        session,
        principal,
        action="company.deleted",
        entity_type="company",
        entity_id=company.id,
        before=before,
    )
