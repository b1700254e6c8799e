"""Relationships: create, read, change, delete, with their strength kept
computed from evidence, and every change logged for the in-memory graphs.

Visibility: you see a relationship when you may see every contact it links
(users are visible to every member); anything else is a 404, like a record of
another organization."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kith import crypto
from kith.audit import service as audit
from kith.auth.principal import Principal
from kith.auth.roles import Permission, Visibility
from kith.auth.scoping import check_if_match, scoped
from kith.contacts.references import register_reference
from kith.db.types import utcnow
from kith.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kith.graph import changelog, evidence, people, strength
from kith.graph.engine.model import NodeKey
from kith.graph.evidence import Evidence, Pair, node_key, pair_of
from kith.graph.models import (
    DIRECTED_TYPES,
    NodeKind,
    Relationship,
    RelationshipSource,
    RelationshipType,
)
from kith.graph.schemas import RelationshipIn, RelationshipOut, RelationshipPatch

# Sort fields of GET /graph/relationships (wire name → column).
SORTS: dict[str, Any] = {
    "strength": Relationship.strength,
    "createdAt": Relationship.created_at,
    "updatedAt": Relationship.updated_at,
    "lastInteraction": Relationship.last_interaction,
    "interactionCount": Relationship.interaction_count,
}
DEFAULT_SORT = ["-strength"]
_INFERRED_IS_KITHS = "INFERRED is set by Kith for ties it infers from evidence."


def ends(row: Relationship) -> Pair:
    return (node_key(row.from_kind, row.from_id), node_key(row.to_kind, row.to_id))


def canonical_pair(row: Relationship) -> Pair:
    return pair_of(*ends(row))


def to_out(row: Relationship) -> RelationshipOut:
    return RelationshipOut(
        id=row.id,
        from_id=row.from_id,
        from_kind=row.from_kind,
        to_id=row.to_id,
        to_kind=row.to_kind,
        type=row.type,
        directed=row.type in DIRECTED_TYPES,
        strength=row.strength,
        computed_strength=row.computed_strength,
        manual_strength=row.manual_strength,
        interaction_count=row.interaction_count,
        last_interaction=row.last_interaction,
        source=row.source,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _snapshot(row: Relationship) -> dict[str, Any]:
    out = to_out(row).model_dump(mode="json")
    out.pop("notes", None)  # encrypted at rest; the audit log keeps no copy
    return out


# -- visibility -----------------------------------------------------------------------


def visible(principal: Principal) -> Select[Any]:
    """Relationships ``principal`` may see: every contact end live and visible."""
    stmt = scoped(Relationship, principal)
    contacts = people.visible_contacts_subquery(principal)
    return stmt.where(
        or_(Relationship.from_kind == NodeKind.USER, Relationship.from_id.in_(contacts)),
        or_(Relationship.to_kind == NodeKind.USER, Relationship.to_id.in_(contacts)),
    )


def get(session: Session, principal: Principal, relationship_id: uuid.UUID) -> Relationship:
    row = session.execute(
        visible(principal).where(Relationship.id == relationship_id)
    ).scalar_one_or_none()
    if not isinstance(row, Relationship):
        raise NotFound("Relationship not found.")
    return row


def check_node(session: Session, principal: Principal, kind: NodeKind, node_id: uuid.UUID) -> None:
    """404 unless ``node_id`` is a live contact the caller may see, or a member."""
    if kind is NodeKind.CONTACT:
        if not people.visible_contact_ids(session, principal, [node_id]):
            raise NotFound("Contact not found.")
    elif not people.users_by_id(session, principal.organization_id, [node_id]):
        raise NotFound("User not found.")


# -- strength ---------------------------------------------------------------------------


def _compute(row: Relationship, external: Sequence[Evidence], now: datetime) -> None:
    row.computed_strength = strength.strength(
        [*evidence.relationship_evidence(row), *external], now
    )
    row.strength = strength.effective(row.computed_strength, row.manual_strength)


def _external(session: Session, organization_id: uuid.UUID, pair: Pair) -> list[Evidence]:
    return evidence.gather(session, organization_id, [pair]).get(pair, [])


def evidence_landed(
    session: Session, organization_id: uuid.UUID, pairs: Iterable[tuple[NodeKey, NodeKey]]
) -> int:
    """New evidence about ``pairs`` (e.g. an email logged): recompute their
    relationships' strength now and log the changes. A pair with evidence and no
    relationship gets an inferred KNOWS one. Returns the new graph version (0: none).
    Called by evidence domains in their own transaction."""
    wanted = sorted({pair_of(a, b) for a, b in pairs if a != b}, key=lambda p: (p[0][1], p[1][1]))
    if not wanted:
        return 0
    found = evidence.gather(session, organization_id, wanted)
    now = utcnow()
    changed: list[Pair] = []
    for pair in wanted:
        rows = _pair_rows(session, organization_id, pair)
        external = found.get(pair, [])
        if not rows and external:
            a, b = pair
            row = _new_row(organization_id, a, b, RelationshipType.KNOWS)
            row.source = RelationshipSource.INFERRED
            session.add(row)
            rows = [row]
        for row in rows:
            before = row.strength
            _compute(row, external, now)
            if abs(before - row.strength) > 1e-12 or row.version is None:
                row.bump_version()
                changed.append(pair)
    return changelog.record(session, organization_id, changed) or 0


def _pair_rows(session: Session, organization_id: uuid.UUID, pair: Pair) -> list[Relationship]:
    low, high = sorted((pair[0][1], pair[1][1]))
    return list(
        session.execute(
            select(Relationship).where(
                Relationship.organization_id == organization_id,
                Relationship.low_id == low,
                Relationship.high_id == high,
            )
        ).scalars()
    )


def _new_row(
    organization_id: uuid.UUID, a: NodeKey, b: NodeKey, type_: RelationshipType
) -> Relationship:
    low, high = sorted((a[1], b[1]))
    return Relationship(
        organization_id=organization_id,
        id=uuid.uuid4(),
        from_kind=NodeKind.USER if a[0] == "user" else NodeKind.CONTACT,
        from_id=a[1],
        to_kind=NodeKind.USER if b[0] == "user" else NodeKind.CONTACT,
        to_id=b[1],
        low_id=low,
        high_id=high,
        type=type_,
        strength=0.0,
        computed_strength=0.0,
        interaction_count=0,
        source=RelationshipSource.MANUAL,
        version=1,
        created_at=utcnow(),
        updated_at=utcnow(),
    )


# -- writing -----------------------------------------------------------------------------


def _check_user_end(principal: Principal, kind: NodeKind, node_id: uuid.UUID) -> None:
    # Whoever sees only their own records records only their own ties.
    if (
        kind is NodeKind.USER
        and principal.visibility is Visibility.OWN
        and node_id != principal.user_id
    ):
        raise Forbidden("You may only record relationships of your own user.")


def _duplicate(
    session: Session,
    row: Relationship,
    exclude: uuid.UUID | None = None,
    type_: RelationshipType | None = None,
) -> None:
    stmt = select(Relationship.id).where(
        Relationship.organization_id == row.organization_id,
        Relationship.low_id == row.low_id,
        Relationship.high_id == row.high_id,
        Relationship.type == (type_ or row.type),
    )
    if exclude is not None:
        stmt = stmt.where(Relationship.id != exclude)
    existing = session.execute(stmt).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            "These two already have a relationship of this type.",
            details={"existingId": str(existing)},
        )


def create(session: Session, principal: Principal, data: RelationshipIn) -> Relationship:
    """Record a relationship between two people (422 self-loop, 409 duplicate)."""
    principal.require(Permission.EDIT)
    if data.source is RelationshipSource.INFERRED:
        raise ValidationFailed.field("source", _INFERRED_IS_KITHS)
    if data.from_id == data.to_id:
        raise ValidationFailed.field("toId", "A relationship links two different people.")
    for kind, node_id in ((data.from_kind, data.from_id), (data.to_kind, data.to_id)):
        check_node(session, principal, kind, node_id)
        _check_user_end(principal, kind, node_id)
    org = principal.organization_id
    a, b = node_key(data.from_kind, data.from_id), node_key(data.to_kind, data.to_id)
    row = _new_row(org, a, b, data.type)
    row.manual_strength = data.strength
    row.interaction_count = data.interaction_count
    row.last_interaction = data.last_interaction
    row.source = data.source
    row.notes = data.notes
    row.created_by = None if principal.kind == "system" else principal.user_id
    _duplicate(session, row)
    _compute(row, _external(session, org, pair_of(a, b)), utcnow())
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # the same pair and type, committed meanwhile
        raise Conflict("These two already have a relationship of this type.") from exc
    changelog.record(session, org, [pair_of(a, b)])
    audit.record(
        session,
        principal,
        action="relationship.created",
        entity_type="relationship",
        entity_id=row.id,
        after=_snapshot(row),
    )
    return row


def update(
    session: Session, principal: Principal, relationship_id: uuid.UUID, data: RelationshipPatch
) -> Relationship:
    principal.require(Permission.EDIT)
    row = get(session, principal, relationship_id)
    check_if_match(row.version)
    before = _snapshot(row)
    sent = data.model_fields_set
    if "type" in sent:
        if data.type is None:
            raise ValidationFailed.field("type", "The type cannot be null.")
        _duplicate(session, row, exclude=row.id, type_=data.type)
        row.type = data.type
    if "strength" in sent:
        row.manual_strength = data.strength
    if "interaction_count" in sent:
        if data.interaction_count is None:
            raise ValidationFailed.field("interactionCount", "Cannot be null.")
        row.interaction_count = data.interaction_count
    if "last_interaction" in sent:
        row.last_interaction = data.last_interaction
    if "source" in sent:
        if data.source is None:
            raise ValidationFailed.field("source", "Cannot be null.")
        if data.source is RelationshipSource.INFERRED:
            raise ValidationFailed.field("source", _INFERRED_IS_KITHS)
        row.source = data.source
    if "notes" in sent:
        row.notes = data.notes
    _compute(row, _external(session, row.organization_id, canonical_pair(row)), utcnow())
    after = _snapshot(row)
    if after == before and "notes" not in sent:
        return row
    row.bump_version()
    row.updated_at = utcnow()
    session.flush()
    changelog.record(session, row.organization_id, [canonical_pair(row)])
    audit.record(
        session,
        principal,
        action="relationship.updated",
        entity_type="relationship",
        entity_id=row.id,
        before=before,
        after=_snapshot(row),
    )
    return row


def remove(session: Session, principal: Principal, relationship_id: uuid.UUID) -> None:
    principal.require(Permission.DELETE)
    row = get(session, principal, relationship_id)
    check_if_match(row.version)
    before = _snapshot(row)
    pair = canonical_pair(row)
    session.delete(row)
    session.flush()
    changelog.record(session, principal.organization_id, [pair])
    audit.record(
        session,
        principal,
        action="relationship.deleted",
        entity_type="relationship",
        entity_id=relationship_id,
        before=before,
    )


# -- contacts merge ----------------------------------------------------------------------


class RelationshipReference:
    """Moves relationships of merged duplicates onto the primary contact.

    A relationship that would link the primary to itself, or duplicate one the
    primary has (same pair and type), is collapsed: removed, its interactions
    added to the surviving one. Everything is recorded so undo is exact."""

    name = "graph_relationships"

    def move(
        self,
        session: Session,
        organization_id: uuid.UUID,
        from_ids: Sequence[uuid.UUID],
        to_id: uuid.UUID,
    ) -> list[Any]:
        ids = set(from_ids)
        rows = list(
            session.execute(
                select(Relationship)
                .where(
                    Relationship.organization_id == organization_id,
                    or_(
                        and_(
                            Relationship.from_kind == NodeKind.CONTACT,
                            Relationship.from_id.in_(ids),
                        ),
                        and_(Relationship.to_kind == NodeKind.CONTACT, Relationship.to_id.in_(ids)),
                    ),
                )
                .order_by(Relationship.created_at, Relationship.id)
            ).scalars()
        )
        if not rows:
            return []
        moved: list[Any] = []
        touched: set[Pair] = set()
        removed_nodes: list[NodeKey] = [("contact", i) for i in ids]
        for row in rows:
            touched.add(canonical_pair(row))
            state = _row_state(row)
            new_from = to_id if row.from_kind is NodeKind.CONTACT and row.from_id in ids else None
            new_to = to_id if row.to_kind is NodeKind.CONTACT and row.to_id in ids else None
            from_id = new_from or row.from_id
            target = new_to or row.to_id
            if from_id == target:
                moved.append({"op": "deleted", "row": state})
                session.delete(row)
                session.flush()
                continue
            low, high = sorted((from_id, target))
            survivor = session.execute(
                select(Relationship).where(
                    Relationship.organization_id == organization_id,
                    Relationship.low_id == low,
                    Relationship.high_id == high,
                    Relationship.type == row.type,
                    Relationship.id != row.id,
                )
            ).scalar_one_or_none()
            if survivor is not None:
                moved.append({"op": "updated", "row": _row_state(survivor)})
                moved.append({"op": "deleted", "row": state})
                survivor.interaction_count += row.interaction_count
                if row.last_interaction is not None and (
                    survivor.last_interaction is None
                    or row.last_interaction > survivor.last_interaction
                ):
                    survivor.last_interaction = row.last_interaction
                if survivor.manual_strength is None:
                    survivor.manual_strength = row.manual_strength
                survivor.bump_version()
                session.delete(row)
                session.flush()
                touched.add(canonical_pair(survivor))
                continue
            moved.append({"op": "updated", "row": state})
            row.from_id, row.to_id, row.low_id, row.high_id = from_id, target, low, high
            row.bump_version()
            session.flush()
            touched.add(canonical_pair(row))
        now = utcnow()
        for pair in touched:
            for row in _pair_rows(session, organization_id, pair):
                _compute(row, _external(session, organization_id, pair), now)
        changelog.record(session, organization_id, touched, removed_nodes=removed_nodes)
        return moved

    def restore(self, session: Session, organization_id: uuid.UUID, moved: list[Any]) -> None:
        touched: set[Pair] = set()
        for entry in reversed(moved):
            state = entry["row"]
            row_id = uuid.UUID(state["id"])
            current = session.get(Relationship, (organization_id, row_id))
            if current is not None:
                touched.add(canonical_pair(current))
                if entry["op"] == "deleted":
                    session.delete(current)
                    session.flush()
            if entry["op"] == "deleted" or current is None:
                current = Relationship(organization_id=organization_id, id=row_id)
                _apply_state(current, state)
                session.add(current)
            else:
                _apply_state(current, state)
            session.flush()
            touched.add(canonical_pair(current))
        changelog.record(session, organization_id, touched)


_STATE_COLUMNS = (
    "from_kind",
    "from_id",
    "to_kind",
    "to_id",
    "low_id",
    "high_id",
    "type",
    "strength",
    "computed_strength",
    "manual_strength",
    "interaction_count",
    "last_interaction",
    "source",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)


def _row_state(row: Relationship) -> dict[str, Any]:
    state: dict[str, Any] = {"id": str(row.id)}
    for name in _STATE_COLUMNS:
        value = getattr(row, name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        state[name] = value
    # Notes are PII: the merge record keeps them encrypted, like the table does.
    state["notes"] = None if row.notes is None else crypto.keyring().encrypt(row.notes)
    return state


def _apply_state(row: Relationship, state: dict[str, Any]) -> None:
    for name in ("from_id", "to_id", "low_id", "high_id", "created_by"):
        value = state[name]
        setattr(row, name, None if value is None else uuid.UUID(value))
    row.from_kind = NodeKind(state["from_kind"])
    row.to_kind = NodeKind(state["to_kind"])
    row.type = RelationshipType(state["type"])
    row.source = RelationshipSource(state["source"])
    for name in ("strength", "computed_strength", "manual_strength"):
        setattr(row, name, state[name])
    row.interaction_count = int(state["interaction_count"])
    row.version = int(state["version"])
    for name in ("last_interaction", "created_at", "updated_at"):
        value = state[name]
        setattr(row, name, None if value is None else datetime.fromisoformat(value))
    notes = state.get("notes")
    row.notes = None if notes is None else crypto.keyring().decrypt(notes)


def delete_orphans(session: Session, organization_id: uuid.UUID) -> int:
    """Relationships whose contact was purged from the trash go too."""
    contacts = people.all_contacts_subquery(organization_id)
    result = session.execute(
        delete(Relationship)
        .where(
            Relationship.organization_id == organization_id,
            or_(
                and_(
                    Relationship.from_kind == NodeKind.CONTACT,
                    Relationship.from_id.not_in(contacts),
                ),
                and_(Relationship.to_kind == NodeKind.CONTACT, Relationship.to_id.not_in(contacts)),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- full recompute ------------------------------------------------------------------------

RECOMPUTE_BATCH = 5_000
# More changed pairs than this in one recompute: processes rebuild their graph
# instead of applying a huge change log.
RELOAD_ABOVE = 50_000


def recompute_all(
    session: Session,
    organization_id: uuid.UUID,
    progress: Any = None,
) -> dict[str, int]:
    """Recompute every relationship's strength from all evidence (decay moves
    strengths every day), drop inferred ties nothing supports any more, and add
    inferred ties that evidence shows and no relationship records yet. Works in
    batches: memory stays bounded at millions of relationships."""
    orphans = delete_orphans(session, organization_id)
    now = utcnow()
    changes = _ChangeSet()
    dropped = total = 0
    last_id: uuid.UUID | None = None
    while True:
        stmt = (
            select(Relationship)
            .where(Relationship.organization_id == organization_id)
            .order_by(Relationship.id)
            .limit(RECOMPUTE_BATCH)
        )
        if last_id is not None:
            stmt = stmt.where(Relationship.id > last_id)
        rows = list(session.execute(stmt).scalars())
        if not rows:
            break
        external = evidence.gather(session, organization_id, [canonical_pair(r) for r in rows])
        for row in rows:
            pair = canonical_pair(row)
            support = external.get(pair, [])
            if (
                row.source is RelationshipSource.INFERRED
                and not support
                and row.manual_strength is None
                and row.interaction_count == 0
            ):
                session.delete(row)
                changes.add(pair)
                dropped += 1
                continue
            before = row.strength
            _compute(row, support, now)
            if abs(before - row.strength) > 1e-9:
                row.bump_version()
                changes.add(pair)
        total += len(rows)
        last_id = rows[-1].id
        session.flush()
        session.expunge_all()
        if progress is not None:
            progress(total, None, f"{total} relationships recomputed")
    added = _infer_missing(session, organization_id, now, changes)
    if changes.overflowed:
        changelog.record_reload(session, organization_id)
    else:
        changelog.record(session, organization_id, changes.pairs)
    return {
        "relationships": total,
        "changed": changes.count,
        "inferredAdded": added,
        "inferredDropped": dropped,
        "orphansDeleted": orphans,
    }


class _ChangeSet:
    """Changed pairs, until there are so many that processes had better reload."""

    def __init__(self) -> None:
        self.pairs: set[Pair] = set()
        self.count = 0
        self.overflowed = False

    def add(self, pair: Pair) -> None:
        self.count += 1
        if self.overflowed:
            return
        self.pairs.add(pair)
        if len(self.pairs) > RELOAD_ABOVE:
            self.overflowed = True
            self.pairs.clear()


def _infer_missing(
    session: Session, organization_id: uuid.UUID, now: datetime, changes: _ChangeSet
) -> int:
    """Inferred ties for pairs that evidence shows and no relationship records."""
    added = 0
    pending: set[Pair] = set()

    def settle() -> None:
        nonlocal added
        if not pending:
            return
        existing: set[tuple[uuid.UUID, uuid.UUID]] = set()
        lows = sorted({p[0][1] for p in pending})
        for start in range(0, len(lows), 500):
            rows = session.execute(
                select(Relationship.low_id, Relationship.high_id).where(
                    Relationship.organization_id == organization_id,
                    Relationship.low_id.in_(lows[start : start + 500]),
                )
            )
            existing.update((low, high) for low, high in rows)
        missing = sorted(
            (p for p in pending if (p[0][1], p[1][1]) not in existing),
            key=lambda p: (p[0][1], p[1][1]),
        )
        found = evidence.gather(session, organization_id, missing)
        for pair in missing:
            items = found.get(pair)
            if not items:
                continue
            kinds = {item.kind for item in items}
            type_ = (
                RelationshipType.COLLEAGUE
                if kinds == {evidence.EvidenceKind.CO_MEMBER}
                else RelationshipType.KNOWS
            )
            row = _new_row(organization_id, pair[0], pair[1], type_)
            row.source = RelationshipSource.INFERRED
            _compute(row, items, now)
            session.add(row)
            changes.add(pair)
            added += 1
        session.flush()
        session.expunge_all()
        pending.clear()

    for source in list(evidence.SOURCES.values()):
        for item in source.all(session, organization_id):
            if item.who != item.whom:
                pending.add(pair_of(item.who, item.whom))
            if len(pending) >= RECOMPUTE_BATCH:
                settle()
    settle()
    return added


register_reference(RelationshipReference())
