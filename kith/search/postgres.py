"""PostgreSQL backend: the stored ``search_vector`` column and its GIN index
(migration 0004).

Ranking is ``ts_rank_cd`` (cover density) with the weights D 0.1, C 0.2, B 0.4, A 1.0
(body, tags, subtitle, title and emails), negated so that, as on SQLite, lower is
better. ts_rank_cd reads only the candidates' vectors (no corpus statistics), so
ranking costs at most the candidate limit; what a common term costs is reading its
candidates (about a microsecond per row the scan passes, and the rows the caller
then joins), not ranking them. A prefix reads the GIN entries of every word it
starts, which is why email addresses are indexed whole under a mark
(:data:`kith.search.query.ADDRESS_MARK`) rather than as words starting with the
person's name.

Organization and kind are checked on the matching rows, before the limit. A lexeme
for the organization in every vector was measured slower (GIN intersects it with
each term's posting list) at 1M documents in one organization; a database shared
by many large organizations is what Citus sharding by organization is for.

Bounded candidates: a GIN index yields matches in no useful order, so with a
``candidate_limit`` the first that many matches in physical order (for a table that
mostly grows, roughly the oldest) are read and scored; ordering all matches by
recency first would read every match's row, which is what the limit avoids. A
selective query has fewer matches than the limit and is exact; for a very common term
the best-ranked results are taken among those candidates only, and filters the
caller adds afterwards see only those candidates.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR, insert
from sqlalchemy.orm import Session

from kith.search.models import VECTOR_COLUMN, SearchDocument
from kith.search.query import SearchQuery, tsquery_expression

TEXT_FIELDS = ("title", "emails", "subtitle", "tags", "body")
# ts_rank_cd's weight array is in the order D, C, B, A.
WEIGHTS = "'{0.1, 0.2, 0.4, 1.0}'::float4[]"

_vector = literal_column(f"search_documents.{VECTOR_COLUMN}", TSVECTOR())


def upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace documents; an unchanged one is left alone (no new row
    version, no GIN update)."""
    documents = SearchDocument.__table__
    stmt = insert(SearchDocument)
    stmt = stmt.on_conflict_do_update(
        index_elements=[documents.c.organization_id, documents.c.kind, documents.c.record_id],
        set_={name: stmt.excluded[name] for name in (*TEXT_FIELDS, "updated_at")},
        where=or_(
            *(documents.c[name].is_distinct_from(stmt.excluded[name]) for name in TEXT_FIELDS)
        ),
    )
    session.execute(stmt, rows)


def matches(
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: SearchQuery,
    candidate_limit: int | None,
) -> Select[uuid.UUID, float]:
    # The query text is rendered into the SQL rather than bound: with a parameter, a
    # statement psycopg has prepared (after 5 runs) gets PostgreSQL's generic plan,
    # which cannot estimate the match and builds the whole GIN bitmap (65 ms instead
    # of 25 for a common name at 1M documents). Safe: only quoted word characters.
    text = bindparam(
        "search_query", tsquery_expression(query), Text(), unique=True, literal_execute=True
    )
    terms = func.to_tsquery(
        literal_column("'simple'::regconfig"), func.kith_unaccent(text), type_=TSQUERY()
    )
    candidates = select(SearchDocument.record_id.label("record_id"), _vector.label("vector")).where(
        SearchDocument.organization_id == organization_id,
        SearchDocument.kind == kind,
        _vector.op("@@", return_type=Boolean())(terms),
    )
    if candidate_limit is not None:
        candidates = candidates.limit(
            bindparam(
                "candidate_limit", candidate_limit, Integer(), unique=True, literal_execute=True
            )
        )
    found = candidates.subquery("search_candidates")
    rank = -func.ts_rank_cd(literal_column(WEIGHTS), found.c.vector, terms, type_=Float())
    return select(found.c.record_id, rank.label("rank"))
