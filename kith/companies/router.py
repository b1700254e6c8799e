"""/companies: CRUD, and the company's contacts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response, status

from kith.auth.dependencies import CurrentPrincipal
from kith.companies import service
from kith.companies.models import Company
from kith.companies.schemas import CompanyIn, CompanyOut, CompanyPatch
from kith.db.session import DbSession
from kith.http.etag import VersionedRoute
from kith.http.pagination import ListParams, Page, list_params, paginate

router = APIRouter(prefix="/companies", tags=["companies"], route_class=VersionedRoute)

SORTS = {"name": Company.name_key, "createdAt": Company.created_at, "updatedAt": Company.updated_at}


@router.get("", response_model=Page[CompanyOut])
async def list_companies(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Depends(list_params),
    name: str | None = Query(None, max_length=200, description="Name starts with"),
    domain: str | None = Query(None, max_length=253),
) -> Page[CompanyOut]:
    stmt = service.visible(principal)
    if name:
        stmt = stmt.where(Company.name_key.startswith(service.name_key(name), autoescape=True))
    if domain:
        stmt = stmt.where(Company.domain == domain.strip().lower())
    return paginate(
        session,
        stmt,
        params,
        sort_fields=SORTS,
        default_sort=["name"],
        id_column=Company.id,
        to_item=lambda c: service.to_out(session, c),
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CompanyOut)
def create_company(data: CompanyIn, principal: CurrentPrincipal, session: DbSession) -> CompanyOut:
    """Create a company; contacts at its (corporate) email domains are linked to it."""
    return service.to_out(session, service.create_company(session, principal, data))


@router.get("/{company_id}", response_model=CompanyOut)
async def get_company(
    company_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> CompanyOut:
    return service.to_out(session, service.get_company(session, principal, company_id))


@router.patch("/{company_id}", response_model=CompanyOut)
def update_company(
    company_id: uuid.UUID, data: CompanyPatch, principal: CurrentPrincipal, session: DbSession
) -> CompanyOut:
    return service.to_out(session, service.update_company(session, principal, company_id, data))


@router.delete("/{company_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_company(
    company_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Delete the company; its contacts stay, without a company."""
    service.delete_company(session, principal, company_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
