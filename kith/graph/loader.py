"""Build an organization's :class:`OrgGraph` from the database in one pass.

One query over ``graph_relationships`` streams (kind, id, kind, id, strength)
with the ids as text (no ORM objects, no UUID objects per row); endpoints are
interned into integer indexes as they arrive and the edges land in numpy arrays.
Soft-deleted contacts (one small query) are left out, and so are relationships
whose contact no longer exists."""

from __future__ import annotations

import uuid
from array import array
from typing import Any

import numpy as np
from sqlalchemy import String, cast, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kith.auth.principal import Principal
from kith.contacts import service as contacts
from kith.contacts.models import Contact
from kith.graph import changelog
from kith.graph.engine.graph import OrgGraph
from kith.graph.engine.model import NodeKey
from kith.graph.models import NodeKind, Relationship

BATCH = 200_000


def _as_text(column: Any, dialect: str) -> ColumnElement[str]:
    # SQLite stores a Uuid as 32 hex digits already; PostgreSQL casts uuid to text.
    return cast(column, String) if dialect == "postgresql" else type_coerce(column, String)


def load_graph(session: Session, organization_id: uuid.UUID) -> OrgGraph:
    """The organization's graph at its current version (read in this session)."""
    dialect = session.get_bind().dialect.name
    version = changelog.state(session, organization_id).version
    system = Principal.system(organization_id)
    gone = set(
        session.execute(
            contacts.visible(system, deleted=True).with_only_columns(_as_text(Contact.id, dialect))
        ).scalars()
    )
    user_kind = NodeKind.USER.value
    stmt = (
        select(
            type_coerce(Relationship.from_kind, String),
            _as_text(Relationship.from_id, dialect),
            type_coerce(Relationship.to_kind, String),
            _as_text(Relationship.to_id, dialect),
            Relationship.strength,
        )
        .where(Relationship.organization_id == organization_id, Relationship.strength > 0)
        .execution_options(yield_per=BATCH)
    )
    index: dict[str, int] = {}
    users: set[str] = set()
    src = array("i")
    dst = array("i")
    strength = array("d")
    intern = index.setdefault
    for rows in session.execute(stmt).partitions(BATCH):
        for from_kind, from_id, to_kind, to_id, value in rows:
            if from_id in gone or to_id in gone:
                continue
            if from_kind == user_kind:
                users.add(from_id)
            if to_kind == user_kind:
                users.add(to_id)
            src.append(intern(from_id, len(index)))
            dst.append(intern(to_id, len(index)))
            strength.append(value)
    keys: list[NodeKey] = [
        ("user" if text in users else "contact", uuid.UUID(text)) for text in index
    ]
    src_arr = np.frombuffer(src, dtype=np.int32) if len(src) else np.zeros(0, np.int32)
    dst_arr = np.frombuffer(dst, dtype=np.int32) if len(dst) else np.zeros(0, np.int32)
    s_arr = np.frombuffer(strength, dtype=np.float64) if len(strength) else np.zeros(0)
    graph = OrgGraph.build(keys, src_arr, dst_arr, np.clip(s_arr, 0.0, 1.0), version)
    return graph
