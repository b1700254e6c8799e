"""Full-text search (platform): SQLite FTS5 and PostgreSQL tsvector/GIN behind one
interface. Imports no domain package; domains call it from their services."""

from kith.search.query import SearchQuery, parse_query
from kith.search.service import (
    DEFAULT_CANDIDATE_LIMIT,
    FIELDS,
    highlights,
    index_document,
    remove_document,
    remove_organization,
    search,
)

__all__ = [
    "DEFAULT_CANDIDATE_LIMIT",
    "FIELDS",
    "SearchQuery",
    "highlights",
    "index_document",
    "parse_query",
    "remove_document",
    "remove_organization",
    "search",
]
