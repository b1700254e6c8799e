"""SQLite backend: FTS5 over ``search_documents`` (migration 0004).

Ranking is FTS5's bm25 with column weights (title and emails 10, subtitle 4, tags 2,
body 1; the scope column 0). bm25 is negative, lower is better, and is used as the
rank as it is.

Bounded candidates: with a ``candidate_limit`` the index yields matches newest first
(highest doc_id: the most recently (re)indexed documents) and stops after that many;
only those are scored and handed to the caller. A selective query has fewer matches
than the limit and is exact. A very common term or prefix costs at most the limit
(a top-20 page stays within milliseconds instead of scoring every match), at the
price that its best-scored matches are taken among the most recently indexed ones,
and that filters the caller adds afterwards see only those candidates.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    type_coerce,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from kith.search.models import SearchDocument
from kith.search.query import SearchQuery, fts5_expression

FTS_TABLE = "search_documents_fts"
TEXT_FIELDS = ("title", "emails", "subtitle", "tags", "body")
# bm25 weights in the FTS5 column order: scope, title, emails, subtitle, tags, body.
WEIGHTS = (0.0, 10.0, 10.0, 4.0, 2.0, 1.0)

_fts = table(FTS_TABLE, column("rowid", Integer()))
_fts_name: ColumnClause[Any] = literal_column(FTS_TABLE)


def scope_token(organization_id: uuid.UUID, kind: str) -> str:
    """The token the view ``search_documents_fts_source`` puts in the scope column
    ('s' || organization_id (32 hex digits as SQLite stores a Uuid) || kind)."""
    return f"s{organization_id.hex}{kind}"


def upsert(session: Session, values: dict[str, Any]) -> None:
    """Insert or replace one document. A changed document gets a new doc_id (max + 1:
    SQLite has one writer at a time), so doc_id order is recency of indexing; an
    unchanged one is left alone, index included."""
    documents = SearchDocument.__table__
    next_doc_id = select(func.coalesce(func.max(documents.c.doc_id), 0) + 1).scalar_subquery()
    stmt = insert(SearchDocument).values(**values, doc_id=next_doc_id)
    changed = [documents.c[name].is_distinct_from(stmt.excluded[name]) for name in TEXT_FIELDS]
    stmt = stmt.on_conflict_do_update(
        index_elements=[documents.c.organization_id, documents.c.kind, documents.c.record_id],
        set_={name: stmt.excluded[name] for name in (*TEXT_FIELDS, "doc_id", "updated_at")},
        where=or_(*changed),
    )
    session.execute(stmt)


def matches(
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: SearchQuery,
    candidate_limit: int | None,
) -> Select[uuid.UUID, float]:
    expression = fts5_expression(query, scope_token(organization_id, kind), TEXT_FIELDS)
    score = func.bm25(_fts_name, *(literal_column(repr(weight)) for weight in WEIGHTS))
    candidates = (
        select(_fts.c.rowid.label("doc_id"), score.label("score"))
        .select_from(_fts)
        .where(_fts_name.op("MATCH")(expression))
    )
    if candidate_limit is not None:
        candidates = candidates.order_by(_fts.c.rowid.desc()).limit(candidate_limit)
    found = candidates.subquery("search_candidates")
    return select(
        SearchDocument.record_id.label("record_id"),
        type_coerce(found.c.score, Float()).label("rank"),
    ).join_from(
        found,
        SearchDocument,
        and_(
            SearchDocument.doc_id == found.c.doc_id,
            # The scope token already limits the match; this keeps it exact.
            SearchDocument.organization_id == organization_id,
            SearchDocument.kind == kind,
        ),
    )
