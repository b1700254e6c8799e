"""Full-text search (platform): SQLite FTS5 and PostgreSQL tsvector/GIN behind one
interface. Imports no domain package; domains call it from their services."""

from kith.search.query import SearchQuery, parse_query
from kith.search.service import (
    DEFAULT_CANDIDATE_LIMIT,
    FIELDS,
    Document,
    highlights,
    index_document,
    index_documents,
    remove_document,
    remove_organization,
    search,
    stored_values,
)

__all__ = [
    "DEFAULT_CANDIDATE_LIMIT",
    "FIELDS",
    "Document",
    "SearchQuery",
    "highlights",
    "index_document",
    "index_documents",
    "parse_query",
    "remove_document",
    "remove_organization",
    "search",
    "stored_values",
]
