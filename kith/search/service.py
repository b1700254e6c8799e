"""Full-text search over the documents domains index: one interface, a SQLite FTS5
and a PostgreSQL backend chosen from the session's dialect.

Domains write a document per record in the same transaction as the record
(:func:`index_document` / :func:`remove_document`), so the index is never behind and
a rollback takes the document with it. :func:`search` gives back a SELECT of
``(record_id, rank)`` that the domain joins to its own scoped, filtered query; lower
rank is better on both backends. :func:`highlights` marks the matched words of the
records on the page shown.
"""

from __future__ import annotations

import html
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Float, Select, Uuid, cast, delete, false, null, select
from sqlalchemy.orm import Session

from kith.db.types import utcnow
from kith.search import postgres, sqlite
from kith.search.highlight import MARK_CLOSE, MARK_OPEN, mark
from kith.search.models import SearchDocument
from kith.search.query import SearchQuery, email_compound, fold, parse_query

# How many matches are ranked at most (see the backends' docstrings for the trade-off).
DEFAULT_CANDIDATE_LIMIT = 1000
FIELDS = ("title", "emails", "subtitle", "tags", "body")
# Text beyond these lengths is not indexed (PostgreSQL caps a tsvector at 1 MB).
MAX_FIELD_CHARS = {"title": 1_000, "emails": 4_000, "subtitle": 1_000, "tags": 4_000}
MAX_BODY_CHARS = 100_000

_KIND = re.compile(r"[a-z][a-z0-9]{0,31}")
# Control characters (NUL included) and unpaired surrogates; newlines and tabs stay.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class Document:
    """The searchable text of one record. ``title`` and ``emails`` weigh most, then
    ``subtitle`` (company, position), ``tags``, ``body`` (notes)."""

    organization_id: uuid.UUID
    kind: str
    record_id: uuid.UUID
    title: str
    emails: Sequence[str] = ()
    subtitle: str = ""
    tags: Sequence[str] = ()
    body: str = ""


def index_document(
    session: Session,
    *,
    organization_id: uuid.UUID,
    kind: str,
    record_id: uuid.UUID,
    title: str,
    emails: Iterable[str] = (),
    subtitle: str = "",
    tags: Iterable[str] = (),
    body: str = "",
) -> None:
    """Insert or replace the searchable text of one record, in the caller's
    transaction (the index follows at once; a rollback takes it back). Calling it
    with unchanged text is cheap: nothing is rewritten."""
    index_documents(
        session,
        [
            Document(
                organization_id=organization_id,
                kind=kind,
                record_id=record_id,
                title=title,
                emails=_as_list(emails),
                subtitle=subtitle,
                tags=_as_list(tags),
                body=body,
            )
        ],
    )


def index_documents(session: Session, documents: Iterable[Document]) -> None:
    """:func:`index_document` for many records in one statement (executemany), for
    bulk imports and re-indexing; a record listed twice keeps its last text."""
    rows = {
        (document.organization_id, document.kind, document.record_id): stored_values(document)
        for document in documents
    }
    if rows:
        _backend(session).upsert(session, list(rows.values()))


def stored_values(document: Document) -> dict[str, Any]:
    """The ``search_documents`` row for ``document`` as the index expects it (text
    cleaned and capped, emails one per line with their run-together form): for bulk
    loaders that write the table directly (COPY), which then must set ``doc_id`` on
    SQLite (max + 1 onwards) and leave it to the identity on PostgreSQL."""
    _check_kind(document.kind)
    return {
        "organization_id": document.organization_id,
        "kind": document.kind,
        "record_id": document.record_id,
        "title": _clean(document.title, MAX_FIELD_CHARS["title"]),
        "emails": _clean(_email_lines(document.emails), MAX_FIELD_CHARS["emails"]),
        "subtitle": _clean(document.subtitle, MAX_FIELD_CHARS["subtitle"]),
        "tags": _clean(_lines(document.tags), MAX_FIELD_CHARS["tags"]),
        "body": _clean(document.body, MAX_BODY_CHARS),
        "updated_at": utcnow(),
    }


def remove_document(
    session: Session, organization_id: uuid.UUID, kind: str, record_id: uuid.UUID
) -> None:
    """Take one record out of the index (nothing happens when it is not there)."""
    session.execute(
        delete(SearchDocument).where(
            SearchDocument.organization_id == organization_id,
            SearchDocument.kind == kind,
            SearchDocument.record_id == record_id,
        )
    )


def remove_organization(session: Session, organization_id: uuid.UUID) -> int:
    """Take every document of an organization out of the index (erasure, tenant
    deletion); returns how many there were."""
    result = session.execute(
        delete(SearchDocument).where(SearchDocument.organization_id == organization_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def search(
    session: Session,
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: str | SearchQuery,
    candidate_limit: int | None = DEFAULT_CANDIDATE_LIMIT,
) -> Select[uuid.UUID, float]:
    """``SELECT record_id, rank`` of the documents of ``kind`` in the organization
    that match ``query`` (user text; see :mod:`kith.search.query`). Lower rank is
    better. Nothing is executed: join it to the domain's scoped query, e.g.::

        hits = search(session, organization_id=org, kind="contact", query=q).subquery()
        stmt = (scoped(Contact, principal)
                .join(hits, hits.c.record_id == Contact.id)
                .order_by(hits.c.rank, Contact.id))

    At most ``candidate_limit`` matches are ranked (None: all of them, for exports
    and bulk actions that must see every match). An empty or symbols-only query
    matches nothing."""
    _check_kind(kind)
    if candidate_limit is not None and candidate_limit < 1:
        raise ValueError("candidate_limit must be positive or None")
    parsed = query if isinstance(query, SearchQuery) else parse_query(query)
    if not parsed:
        return select(
            cast(null(), Uuid()).label("record_id"),
            cast(null(), Float()).label("rank"),
        ).where(false())
    return _backend(session).matches(
        organization_id=organization_id,
        kind=kind,
        query=parsed,
        candidate_limit=candidate_limit,
    )


def highlights(
    session: Session,
    *,
    organization_id: uuid.UUID,
    kind: str,
    query: str | SearchQuery,
    record_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, dict[str, str]]:
    """For each record id (of the page shown), the fields with a matched word, as
    HTML: text escaped, matched words in ``<mark>…</mark>``. ``emails`` and ``tags``
    list only the matching addresses/tags, comma-separated (an address matched whole
    is marked whole); a long ``body`` is a snippet around the first match. Records
    without a match are left out."""
    parsed = query if isinstance(query, SearchQuery) else parse_query(query)
    ids = list(dict.fromkeys(record_ids))
    if not parsed or not ids:
        return {}
    rows = session.execute(
        select(
            SearchDocument.record_id,
            SearchDocument.title,
            SearchDocument.emails,
            SearchDocument.subtitle,
            SearchDocument.tags,
            SearchDocument.body,
        ).where(
            SearchDocument.organization_id == organization_id,
            SearchDocument.kind == kind,
            SearchDocument.record_id.in_(ids),
        )
    )
    result: dict[uuid.UUID, dict[str, str]] = {}
    for record_id, title, emails, subtitle, tags, body in rows:
        fields: dict[str, str] = {}
        for name, text in (("title", title), ("subtitle", subtitle), ("body", body)):
            marked = mark(text, parsed)
            if marked is not None:
                fields[name] = marked
        addresses = [_mark_address(line, parsed) for line in emails.split("\n")]
        tag_items = [mark(tag, parsed) for tag in tags.split("\n")]
        for name, items in (("emails", addresses), ("tags", tag_items)):
            matched = [item for item in items if item is not None]
            if matched:
                fields[name] = ", ".join(matched)
        if fields:
            result[record_id] = fields
    return result


class _Backend(Protocol):
    def upsert(self, session: Session, rows: list[dict[str, Any]]) -> None: ...

    def matches(
        self,
        *,
        organization_id: uuid.UUID,
        kind: str,
        query: SearchQuery,
        candidate_limit: int | None,
    ) -> Select[uuid.UUID, float]: ...


def _mark_address(line: str, query: SearchQuery) -> str | None:
    address, _, compound = line.partition("\t")
    marked = mark(address, query)
    whole = fold(compound)
    if marked is None and whole and any(whole.startswith(term.text) for term in query.terms):
        # Matched by a whole address typed (its words run together).
        return f"{MARK_OPEN}{html.escape(address)}{MARK_CLOSE}"
    return marked


def _backend(session: Session) -> _Backend:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite
    if dialect == "postgresql":
        return postgres
    raise NotImplementedError(f"no full-text search backend for {dialect}")


def _check_kind(kind: str) -> None:
    if not _KIND.fullmatch(kind):
        raise ValueError("kind must be 1-32 lowercase ASCII letters and digits")


def _as_list(items: Iterable[str]) -> list[str]:
    return [items] if isinstance(items, str) else list(items)


def _lines(items: Iterable[str]) -> str:
    return "\n".join(
        line for line in (" ".join(value.split()) for value in _as_list(items)) if line
    )


def _email_lines(emails: Iterable[str]) -> str:
    """One address per line, each followed by a tab and its words run together
    (:func:`~kith.search.query.email_compound`), which is what a whole address
    typed in the search box is matched against."""
    lines = []
    for address in _lines(emails).split("\n"):
        compound = email_compound(address)
        lines.append(f"{address}\t{compound}" if compound else address)
    return "\n".join(lines)


def _clean(text: str, limit: int) -> str:
    # NFKC as the query parser folds: full-width letters and ligatures match.
    return unicodedata.normalize("NFKC", _UNSAFE.sub(" ", text))[:limit]
