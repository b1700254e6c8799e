"""The documents table full-text search owns: one row per searchable record.

``search_documents`` holds the text a domain wants found, per organization, record
kind ("contact", "company", …) and record id. The full-text index itself is built
by the database from this table and is not part of the SQLAlchemy model, because it
differs per backend (migration ``0004_search_documents``):

- SQLite: an FTS5 virtual table ``search_documents_fts`` over this table (external
  content, ``content_rowid=doc_id``), kept in sync by triggers on
  ``search_documents``; FTS5 adds shadow tables
  ``search_documents_fts_data``/``_idx``/``_docsize``/``_config``; the unique index
  ``search_documents_fts_doc`` maps an FTS5 rowid to its document.
- PostgreSQL: a ``STORED`` generated ``tsvector`` column ``search_vector`` and the GIN
  index ``search_documents_fts_gin`` on it.

Why the index objects are left out of the model rather than declared with
``Computed(...)`` or extra ``Table`` objects: each exists on one backend only, and a
model column or table that exists on one backend only makes ``compare_metadata``
report it as missing on the other (a column also ends up in every ORM ``SELECT``,
where SQLite has no such column). They are index structures, like an index built by
hand, so the migration owns them and :func:`is_search_index_object` tells Alembic's
comparison (``env.py``'s ``include_name`` and the migration test) to skip them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from kith.db.base import Base
from kith.db.types import UTCDateTime, utcnow

# Every database object of the full-text index proper starts with this name.
INDEX_PREFIX = "search_documents_fts"
# PostgreSQL's generated tsvector column on search_documents.
VECTOR_COLUMN = "search_vector"


class SearchDocument(Base):
    """Searchable text of one record; ``kind`` + ``record_id`` name the record."""

    __tablename__ = "search_documents"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    # FTS5's integer rowid for this document (content_rowid). A column of our own, as
    # SQLite may renumber the implicit rowid of a table without an INTEGER PRIMARY
    # KEY on VACUUM, which would detach the index from its rows. On SQLite each
    # (re)index takes max + 1, so a higher doc_id is a more recently indexed document,
    # and the migration adds the index FTS5 looks documents up by
    # (search_documents_fts_doc); PostgreSQL fills it from the identity and does not
    # use it.
    doc_id: Mapped[int] = mapped_column(BigInteger(), Identity())
    title: Mapped[str] = mapped_column(Text(), default="")  # weight A: the name
    emails: Mapped[str] = mapped_column(Text(), default="")  # weight A, one per line
    subtitle: Mapped[str] = mapped_column(Text(), default="")  # weight B: company, position
    tags: Mapped[str] = mapped_column(Text(), default="")  # weight C, one per line
    body: Mapped[str] = mapped_column(Text(), default="")  # weight D: notes
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def is_search_index_object(
    name: str | None, type_: str, parent_names: Mapping[Any, object]
) -> bool:
    """True for the backend-specific index objects Alembic must not compare: FTS5's
    virtual and shadow tables, the GIN index and the generated ``tsvector`` column."""
    if name is None:
        return False
    if name.startswith(INDEX_PREFIX):
        return True
    return (
        type_ == "column"
        and name == VECTOR_COLUMN
        and parent_names.get("table_name") == SearchDocument.__tablename__
    )
