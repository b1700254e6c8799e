"""SQLite backend: FTS5 over ``search_documents`` (migration 0004).

Ranking, when the organization has fewer matches than the candidate limit (a
selective query), is FTS5's bm25 with column weights (title and emails 10, subtitle
4, tags 2, body 1): negative, lower is better, the rank as it is. With as many
matches as the limit or more (a common term, a short prefix), bm25 is not used: it
counts the documents that hold each term (its IDF) by reading the term's whole
posting list once per query, and it reads each candidate's positions, which at 1M
documents made a common first name cost more than everything else together. Those
candidates (the newest ``candidate_limit`` matches) get a static rank instead:
matched by every word in the title or an email first (a set read once, with an FTS5
column filter), then the others; newest first within each. The matches are counted
(up to the limit, no ranking: a fraction of a millisecond) by a query run first.

Other costs: a prefix of more than 3 characters (the prefix index holds 2 and 3)
merges the posting lists of every word it starts — which is why email addresses
are indexed whole under a mark (:data:`kith.search.query.ADDRESS_MARK`), not as
words that start with the person's name — and a word in nearly every document (a
mail domain's "com") reads a posting list of every document.

Organization and kind are checked on ``search_documents`` for each match, before
the limit, rather than with a token in the MATCH expression: such a token would be
in every document of the organization, and bm25 would read its posting list (all of
the organization's documents) on every query. The cost is that in a database shared
by many organizations, a term common elsewhere is walked past in the others'
documents; SQLite deployments usually hold one or a few.

Bounded candidates: with a ``candidate_limit`` the index yields matches newest first
(highest doc_id: the most recently (re)indexed documents) and stops after that many;
only those are ranked and handed to the caller. A selective query has fewer matches
than the limit and is exact. A very common term or prefix stops early, at the price
that its results are taken among the most recently indexed matches, and that
filters the caller adds afterwards see only those candidates.
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
    case,
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
# The fields a match in ranks first when there are too many matches to rank by bm25.
TITLE_FIELDS = ("title", "emails")
# Static rank: tier * STATIC_TIER - doc_id (doc_ids stay far below it).
STATIC_TIER = 2.0**52

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
    session: Session,
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: SearchQuery,
    candidate_limit: int | None,
) -> Select[uuid.UUID, float]:
    expression = fts5_expression(query)
    if candidate_limit is None:
        return _ranked(organization_id, kind, expression, None)
    # The organization's matches, counted up to the limit: reading that many rowids
    # and their documents costs little (no ranking).
    counted = (
        _joined(organization_id, kind, expression, literal_column("0"))
        .limit(candidate_limit)
        .subquery("counted")
    )
    total = session.execute(select(func.count()).select_from(counted)).scalar_one()
    if total < candidate_limit:
        return _ranked(organization_id, kind, expression, candidate_limit)
    # The newest candidate_limit matches; those matching in the title or an email (a
    # set read once: the newest that many title matches hold every one of them) first.
    in_title = (
        select(_fts.c.rowid)
        .where(_fts_name.op("MATCH")(f"{{{' '.join(TITLE_FIELDS)}}} : ({expression})"))
        .order_by(_fts.c.rowid.desc())
        .limit(candidate_limit)
    )
    tier = case((_fts.c.rowid.in_(in_title.scalar_subquery()), 0.0), else_=STATIC_TIER)
    return _joined(organization_id, kind, expression, tier - _fts.c.rowid).limit(candidate_limit)


def _joined(
    organization_id: uuid.UUID, kind: str, expression: str, rank: Any
) -> Select[uuid.UUID, float]:
    return (
        select(
            SearchDocument.record_id.label("record_id"), type_coerce(rank, Float()).label("rank")
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
        .where(_fts_name.op("MATCH")(expression))
        # The order FTS5 reads in anyway (descending rowid costs the same): free, and
        # it makes a limit keep the newest matches.
        .order_by(_fts.c.rowid.desc())
    )


def _ranked(
    organization_id: uuid.UUID, kind: str, expression: str, limit: int | None
) -> Select[uuid.UUID, float]:
    """bm25 over the matches (all of them: fewer than the limit, or no limit)."""
    score = func.bm25(_fts_name, *(literal_column(repr(weight)) for weight in WEIGHTS))
    stmt = _joined(organization_id, kind, expression, score)
    return stmt if limit is None else stmt.limit(limit)
