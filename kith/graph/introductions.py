"""Introduction requests: "introduce me to this contact", addressed to whoever can
make the introduction — the owner of the intermediary contact, or the
intermediary user — and followed through REQUESTED → ACCEPTED → COMPLETED (or
DECLINED), with who and when.

Visibility: the requester and the addressee see a request (ADMINs see all);
anyone else gets a 404. Only the addressee decides (others who see it: 403)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.auth.roles import Permission, Visibility
from kith.auth.scoping import check_if_match, scoped
from kith.db.types import utcnow
from kith.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kith.events.outbox import publish
from kith.graph import network, people
from kith.graph.cache import current_graph
from kith.graph.engine.model import NodeKey, Path
from kith.graph.evidence import node_key
from kith.graph.models import Introduction, IntroductionStatus, NodeKind
from kith.graph.schemas import IntroduceIn, IntroductionOut, PathOut

SORTS: dict[str, Any] = {
    "createdAt": Introduction.created_at,
    "updatedAt": Introduction.updated_at,
    "status": Introduction.status,
}
DEFAULT_SORT = ["-createdAt"]


def visible(principal: Principal) -> Select[Any]:
    stmt = scoped(Introduction, principal)
    if principal.visibility is Visibility.ALL and principal.can(Permission.MANAGE_USERS):
        return stmt
    return stmt.where(
        or_(
            Introduction.requester_id == principal.user_id,
            Introduction.addressee_id == principal.user_id,
        )
    )


def get(session: Session, principal: Principal, introduction_id: uuid.UUID) -> Introduction:
    row = session.execute(
        visible(principal).where(Introduction.id == introduction_id)
    ).scalar_one_or_none()
    if not isinstance(row, Introduction):
        raise NotFound("Introduction not found.")
    return row


def _stored_path(path: Path) -> list[Any]:
    """[[kind, id, strength of the edge into it (None for the first)], ...]"""
    strengths: list[float | None] = [None, *path.strengths]
    return [
        [kind, str(node_id), s] for (kind, node_id), s in zip(path.nodes, strengths, strict=True)
    ]


def _best_path(
    session: Session, principal: Principal, target: NodeKey, via: NodeKey | None
) -> tuple[NodeKey, Path | None]:
    """The intermediary (the last person before the target) and the path used."""
    me: NodeKey = ("user", principal.user_id)
    graph = current_graph(session, principal.organization_id)
    if via is not None:
        if not graph.has_node(via) or not graph.has_node(target) or not graph.strength(via, target):
            raise ValidationFailed.field(
                "viaId", "This person has no relationship with the target."
            )
        path = None
        if graph.has_node(me) and via != me:
            found = graph.strongest_paths(me, via, k=1, max_hops=network.MAX_HOPS - 1)
            if found:
                first = found[0]
                path = Path(
                    (*first.nodes, target),
                    (*first.strengths, graph.strength(via, target)),
                    first.strength * graph.strength(via, target),
                    first.hops + 1,
                )
        return via, path
    if not graph.has_node(me) or not graph.has_node(target):
        raise ValidationFailed.field("targetId", "No one you know is connected to this contact.")
    found = graph.strongest_paths(me, target, k=1, max_hops=network.MAX_HOPS)
    if not found:
        raise ValidationFailed.field("targetId", "No one you know is connected to this contact.")
    path = found[0]
    if path.hops < 2:
        raise ValidationFailed.field("targetId", "You already know this contact directly.")
    return path.nodes[-2], path


def request(session: Session, principal: Principal, data: IntroduceIn) -> Introduction:
    """Create an introduction request and emit ``introduction.requested``."""
    principal.require(Permission.EDIT)
    target = network.require_contact(session, principal, data.target_id)
    via_key = None
    if data.via_id is not None:
        via_key = network.require_node(session, principal, data.via_id)
        if via_key == target:
            raise ValidationFailed.field("viaId", "The intermediary cannot be the target.")
    if target == ("user", principal.user_id):
        raise ValidationFailed.field("targetId", "You cannot ask to be introduced to yourself.")
    via, path = _best_path(session, principal, target, via_key)
    if via == ("user", principal.user_id):
        raise ValidationFailed.field("viaId", "You already know this contact directly.")
    org = principal.organization_id
    if via[0] == "user":
        addressee = via[1]
    else:
        contact = people.contacts_by_id(session, org, [via[1]]).get(via[1])
        if contact is None:
            raise NotFound("Contact not found.")
        if contact.owner_id is None:
            raise ValidationFailed.field(
                "viaId", "The intermediary contact has no owner who could make the introduction."
            )
        addressee = contact.owner_id
    if addressee == principal.user_id:
        raise ValidationFailed.field(
            "viaId", "The intermediary is your own contact: introduce yourself."
        )
    row = Introduction(
        organization_id=org,
        requester_id=principal.user_id,
        addressee_id=addressee,
        target_id=target[1],
        via_kind=NodeKind.USER if via[0] == "user" else NodeKind.CONTACT,
        via_id=via[1],
        message=data.message,
        path=_stored_path(path) if path else [],
        path_strength=path.strength if path else None,
        status=IntroductionStatus.REQUESTED,
    )
    session.add(row)
    session.flush()
    publish(
        session,
        principal,
        "introduction.requested",
        aggregate_type="introduction",
        aggregate_id=row.id,
        payload={
            "introductionId": str(row.id),
            "requesterId": str(row.requester_id),
            "addresseeId": str(row.addressee_id),
            "targetId": str(row.target_id),
            "via": {"kind": row.via_kind.value, "id": str(row.via_id)},
            "pathStrength": row.path_strength,
        },
    )
    return row


_NEXT: dict[str, tuple[frozenset[IntroductionStatus], IntroductionStatus]] = {
    "accept": (frozenset({IntroductionStatus.REQUESTED}), IntroductionStatus.ACCEPTED),
    "decline": (
        frozenset({IntroductionStatus.REQUESTED, IntroductionStatus.ACCEPTED}),
        IntroductionStatus.DECLINED,
    ),
    "complete": (frozenset({IntroductionStatus.ACCEPTED}), IntroductionStatus.COMPLETED),
}


def decide(
    session: Session,
    principal: Principal,
    introduction_id: uuid.UUID,
    action: str,
) -> Introduction:
    """``accept``, ``decline`` or ``complete`` — by the addressee only."""
    row = get(session, principal, introduction_id)
    if row.addressee_id != principal.user_id:
        raise Forbidden("Only the person the request is addressed to can answer it.")
    principal.require(Permission.EDIT)
    check_if_match(row.version)
    allowed, new_status = _NEXT[action]
    if row.status not in allowed:
        raise Conflict(
            f"A {row.status.value} introduction cannot be {new_status.value.lower()}.",
            details={"status": row.status.value},
        )
    now = utcnow()
    row.status = new_status
    if new_status is IntroductionStatus.ACCEPTED:
        row.accepted_at, row.accepted_by = now, principal.user_id
    elif new_status is IntroductionStatus.DECLINED:
        row.declined_at, row.declined_by = now, principal.user_id
    else:
        row.completed_at, row.completed_by = now, principal.user_id
    row.bump_version()
    row.updated_at = now
    session.flush()
    return row


def to_out(
    session: Session, principal: Principal, rows: list[Introduction]
) -> list[IntroductionOut]:
    # The person asked to make an introduction needs to know whom it is to.
    addressed = frozenset(r.target_id for r in rows if r.addressee_id == principal.user_id)
    view = network.NodeView(session, principal, reveal=addressed)
    keys: set[NodeKey] = set()
    for row in rows:
        keys.add(("contact", row.target_id))
        keys.add(node_key(row.via_kind, row.via_id))
        keys.update(node_key(step[0], uuid.UUID(step[1])) for step in row.path)
    view.load(None, keys)
    out = []
    for row in rows:
        path = None
        if row.path:
            nodes = [node_key(step[0], uuid.UUID(step[1])) for step in row.path]
            path = PathOut(
                nodes=[view.node(k) for k in nodes],
                strengths=[float(step[2]) for step in row.path[1:]],
                strength=row.path_strength or 0.0,
                hops=len(nodes) - 1,
            )
        out.append(
            IntroductionOut(
                id=row.id,
                status=row.status,
                requester_id=row.requester_id,
                addressee_id=row.addressee_id,
                target=view.node(("contact", row.target_id)),
                via=view.node(node_key(row.via_kind, row.via_id)),
                message=row.message,
                path=path,
                response_note=row.response_note,
                created_at=row.created_at,
                accepted_at=row.accepted_at,
                accepted_by=row.accepted_by,
                declined_at=row.declined_at,
                declined_by=row.declined_by,
                completed_at=row.completed_at,
                completed_by=row.completed_by,
                version=row.version,
            )
        )
    return out
