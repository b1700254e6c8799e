"""GET /audit-log: the organization's change history (ADMIN)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from kith.audit import service
from kith.audit.models import AuditEntry
from kith.auth.dependencies import CurrentPrincipal
from kith.db.session import DbSession
from kith.http.pagination import ListParams, Page, list_params, paginate
from kith.http.wire import ApiModel

router = APIRouter(prefix="/audit-log", tags=["audit"])


class AuditEntryOut(ApiModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any]
    context: dict[str, Any]
    request_id: str | None


@router.get("", response_model=Page[AuditEntryOut])
def list_audit_entries(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Depends(list_params),
    entity_type: str | None = Query(None, alias="entityType", max_length=64),
    entity_id: str | None = Query(None, alias="entityId", max_length=64),
    actor_id: uuid.UUID | None = Query(None, alias="actorId"),
    action: str | None = Query(None, max_length=64),
) -> Page[AuditEntryOut]:
    stmt = service.query(
        principal, entity_type=entity_type, entity_id=entity_id, actor_id=actor_id, action=action
    )
    return paginate(
        session,
        stmt,
        params,
        sort_fields={"occurredAt": AuditEntry.occurred_at},
        default_sort=["-occurredAt"],
        id_column=AuditEntry.id,
        to_item=AuditEntryOut.model_validate,
    )
