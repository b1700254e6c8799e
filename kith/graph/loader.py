"""Build an organization's :class:`OrgGraph` from the database.

The edges come from one query over ``graph_relationships`` run on the DBAPI
cursor of the session's own connection (same transaction), three columns a row
— both ids as text and the strength — with no ORM or SQLAlchemy row objects:
at millions of rows the per-row layers cost more than the database. Endpoints
are interned into integer indexes as rows arrive and edges land in compact
arrays handed to numpy. Two small queries say which ids are users (the
organization's members) and which contacts are in the trash (left out).

The SQL is fixed text over our own table and column names; the only value is
the organization id, passed as a parameter."""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from kith.graph import changelog
from kith.graph.engine.graph import OrgGraph
from kith.graph.engine.model import NodeKey

BATCH = 100_000

_EDGES = (
    "SELECT {from_id}, {to_id}, strength FROM graph_relationships{scan}"
    " WHERE organization_id = {param}"
)
# SQLite: reading most of the table through an index costs a row lookup per edge
# (4x slower than a scan at 300k edges); when the organization holds a good part of
# the table, scan it. max(rowid) is a cheap upper bound of the table's size.
_SQLITE_COUNT = "SELECT count(*) FROM graph_relationships WHERE organization_id = ?"
_SQLITE_SIZE = "SELECT max(rowid) FROM graph_relationships"
SCAN_SHARE = 0.25
# Every user end of a relationship is a member of the organization (checked when
# the relationship is made), and members are few: no scan of the edges for kinds.
_USERS = "SELECT {user_id} FROM memberships WHERE organization_id = {param}"
_TRASHED = "SELECT {id} FROM contacts WHERE organization_id = {param} AND deleted_at IS NOT NULL"


class _Dialect:
    """How ids read as text, and the parameter style, per backend."""

    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def sql(self, template: str, *, scan: bool = False) -> str:
        as_text = "{}::text" if self.postgres else "{}"
        return template.format(
            scan=" NOT INDEXED" if scan and not self.postgres else "",
            from_id=as_text.format("from_id"),
            to_id=as_text.format("to_id"),
            id=as_text.format("id"),
            user_id=as_text.format("user_id"),
            param="%s" if self.postgres else "?",
        )

    def org(self, organization_id: uuid.UUID) -> Any:
        # SQLite stores a Uuid as 32 hex digits; psycopg adapts uuid.UUID itself.
        return organization_id if self.postgres else organization_id.hex


def _rows(cursor: Any, sql: str, params: Sequence[Any]) -> Iterator[list[Any]]:
    cursor.execute(sql, params)
    while True:
        rows = cursor.fetchmany(BATCH)
        if not rows:
            return
        yield rows


def load_graph(session: Session, organization_id: uuid.UUID) -> OrgGraph:
    """The organization's graph at its current version (read in this session)."""
    version = changelog.state(session, organization_id).version
    dialect = _Dialect(session.get_bind().dialect.name)
    org = dialect.org(organization_id)
    connection = session.connection().connection  # the DBAPI connection, same transaction
    cursor = connection.cursor()
    try:
        users = {row[0] for rows in _rows(cursor, dialect.sql(_USERS), [org]) for row in rows}
        gone = {row[0] for rows in _rows(cursor, dialect.sql(_TRASHED), [org]) for row in rows}
        index: dict[str, int] = {}
        intern = index.setdefault
        src = array("i")
        dst = array("i")
        strength = array("d")
        scan = False
        if not dialect.postgres:
            count = cursor.execute(_SQLITE_COUNT, [org]).fetchone()[0]
            size = cursor.execute(_SQLITE_SIZE).fetchone()[0] or 0
            scan = count > SCAN_SHARE * size
        for rows in _rows(cursor, dialect.sql(_EDGES, scan=scan), [org]):
            for a, b, value in rows:
                if value <= 0 or (gone and (a in gone or b in gone)):
                    continue
                src.append(intern(a, len(index)))
                dst.append(intern(b, len(index)))
                strength.append(value)
    finally:
        cursor.close()
    # Nodes in id order, not in the order the backend returned rows: the same graph
    # (and the same tie-breaks) from SQLite and PostgreSQL.
    texts = list(index)
    order = np.argsort(np.array(texts, dtype=str), kind="stable") if texts else np.zeros(0, int)
    rank = np.empty(len(texts), dtype=np.int32)
    rank[order] = np.arange(len(texts), dtype=np.int32)
    keys: list[NodeKey] = [
        ("user" if texts[i] in users else "contact", uuid.UUID(texts[i])) for i in order.tolist()
    ]
    return OrgGraph.build(
        keys,
        rank[np.frombuffer(src, dtype=np.int32)] if src else np.zeros(0, np.int32),
        rank[np.frombuffer(dst, dtype=np.int32)] if dst else np.zeros(0, np.int32),
        np.clip(np.frombuffer(strength, dtype=np.float64), 0.0, 1.0) if strength else np.zeros(0),
        version,
    )
