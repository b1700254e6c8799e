"""SQLite backend: FTS5 over ``search_documents`` (migration 0004).

Ranking is FTS5's bm25 with column weights (title and emails 10, subtitle 4, tags 2,
body 1). bm25 is negative, lower is better, and is the rank as it is.

What a query costs beyond its matches (measured at 1M documents, see
bench/RESULTS.md): bm25 counts the documents that hold each term (its IDF) by reading
the term's whole posting list once per query, whatever the limit; and a prefix of
more than 3 characters (the prefix index holds 2 and 3) merges the posting lists of
every word it starts — which is why email addresses are indexed whole under a mark
(:data:`kith.search.query.ADDRESS_MARK`): as words run together from the person's
name, every address of a James was a term starting with "james", and merging them
was most of what a common first name cost. Names, companies and common first names
cost a few milliseconds of CPU; a word in nearly every document (a mail domain's
"com") costs about 70 ms. A longer prefix index (``prefix='2 3 4 5 6 7 8'``) measured
about half the CPU for common words and 20 ms for that worst case, for an FTS5 index
twice the size (238 → 504 MiB at 1M documents).

Measured and not kept: for queries with at least ``candidate_limit`` matches, a
static rank (a title or email match first, then recency) instead of bm25. Counting
the matches first and reading the title matches as a set cost more than bm25 saved
once the address terms were gone (200k documents: 12 vs 9 ms of CPU for a common
first name, a wash for 3-letter prefixes; the same on PostgreSQL against
ts_rank_cd).

Organization and kind are checked on ``search_documents`` for each match, before
the limit, rather than with a token in the MATCH expression: such a token would be
in every document of the organization, and bm25 would read its posting list (all of
the organization's documents) on every query. The cost is that in a database shared
by many organizations, a term common elsewhere is walked past in the others'
documents; SQLite deployments usually hold one or a few.

Bounded candidates: with a ``candidate_limit`` the index yields matches newest first
(highest doc_id: the most recently (re)indexed documents) and stops after that many;
only those are ranked and handed to the caller. A selective query has fewer matches
than the limit and is exact. A very common term or prefix stops early instead of
ranking every match, at the price that its best-ranked matches are taken among the
most recently indexed ones, and that filters the caller adds afterwards see only
those candidates.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    Uuid,
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
# bm25 weights in the FTS5 column order: title, emails, subtitle, tags, body.
WEIGHTS = (10.0, 10.0, 4.0, 2.0, 1.0)

_fts = table(FTS_TABLE, column("rowid", Integer()))
_fts_name: ColumnClause[Any] = literal_column(FTS_TABLE)
# "+column" keeps SQLite from starting at the organization's rows and probing the
# full-text index once per row (what it picks without statistics): the index leads.
_organization = literal_column("+search_documents.organization_id", Uuid())
_kind = literal_column("+search_documents.kind", String())


def upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace documents. A changed document gets a new doc_id (max + 1:
    SQLite has one writer at a time), so doc_id order is recency of indexing; an
    unchanged one is left alone, index included."""
    documents = SearchDocument.__table__
    next_doc_id = select(func.coalesce(func.max(documents.c.doc_id), 0) + 1).scalar_subquery()
    stmt = insert(SearchDocument).values(doc_id=next_doc_id)
    changed = [documents.c[name].is_distinct_from(stmt.excluded[name]) for name in TEXT_FIELDS]
    stmt = stmt.on_conflict_do_update(
        index_elements=[documents.c.organization_id, documents.c.kind, documents.c.record_id],
        set_={name: stmt.excluded[name] for name in (*TEXT_FIELDS, "doc_id", "updated_at")},
        where=or_(*changed),
    )
    session.execute(stmt, rows)


def matches(
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: SearchQuery,
    candidate_limit: int | None,
) -> Select[uuid.UUID, float]:
    score = func.bm25(_fts_name, *(literal_column(repr(weight)) for weight in WEIGHTS))
    stmt = (
        select(
            SearchDocument.record_id.label("record_id"), type_coerce(score, Float()).label("rank")
        )
        .select_from(_fts)
        .join(
            SearchDocument,
            and_(
                SearchDocument.doc_id == _fts.c.rowid,
                _organization == organization_id,
                _kind == kind,
            ),
        )
        .where(_fts_name.op("MATCH")(fts5_expression(query)))
        # The order FTS5 reads in anyway (descending rowid costs the same): free, and
        # it makes the limit keep the newest matches.
        .order_by(_fts.c.rowid.desc())
    )
    if candidate_limit is not None:
        stmt = stmt.limit(candidate_limit)
    return stmt
