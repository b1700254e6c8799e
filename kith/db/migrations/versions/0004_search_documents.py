"""search documents and their full-text index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00

Written by hand: the index differs per backend (see kith/search/models.py).

- SQLite: an FTS5 table over ``search_documents`` (external content, so the text is
  stored once; ``content_rowid=doc_id``), with a prefix index for 2- and 3-character
  prefixes and ``unicode61 remove_diacritics 2`` ("José" is found by "jose");
  triggers keep it in sync inside the writing transaction. ``INSERT INTO
  search_documents_fts (search_documents_fts) VALUES ('rebuild')`` rebuilds it from
  the table. A batch (copy-and-move) migration of ``search_documents`` drops the
  triggers: such a migration must create them again.
- PostgreSQL: a STORED generated ``tsvector`` with the weights A (title, emails), B
  (subtitle), C (tags), D (body), under the ``simple`` configuration (names are not
  English words: no stemming, no stop words) after ``unaccent``, through an IMMUTABLE
  wrapper ``kith_unaccent`` (``unaccent()`` itself is only STABLE, which a generated
  column refuses; a function rather than a text search configuration because backups
  are restored into a cleared public schema, which drops functions but not
  configurations). ASCII punctuation is turned into spaces first, so PostgreSQL's
  parser yields the same words as FTS5 and the query parser (no email/host/URL
  tokens: "ada.lovelace@acme.example" is ada, lovelace, acme, example). One GIN
  index on the column, never an expression index.

Neither index holds the organization: a search checks organization and kind on the
matching rows (kith/search/sqlite.py and postgres.py say why).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kith.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    # From an FTS5 rowid to the document: covering, so a search reads no table rows.
    """
    CREATE UNIQUE INDEX search_documents_fts_doc
    ON search_documents (doc_id, organization_id, kind, record_id)
    """,
    """
    CREATE VIRTUAL TABLE search_documents_fts USING fts5(
        title, emails, subtitle, tags, body,
        content='search_documents', content_rowid='doc_id',
        prefix='2 3', tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_documents_fts (rowid, title, emails, subtitle, tags, body)
        VALUES (new.doc_id, new.title, new.emails, new.subtitle, new.tags, new.body);
    END
    """,
    """
    CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_documents_fts
            (search_documents_fts, rowid, title, emails, subtitle, tags, body)
        VALUES ('delete', old.doc_id, old.title, old.emails, old.subtitle, old.tags, old.body);
    END
    """,
    """
    CREATE TRIGGER search_documents_fts_update
    AFTER UPDATE OF doc_id, title, emails, subtitle, tags, body ON search_documents BEGIN
        INSERT INTO search_documents_fts
            (search_documents_fts, rowid, title, emails, subtitle, tags, body)
        VALUES ('delete', old.doc_id, old.title, old.emails, old.subtitle, old.tags, old.body);
        INSERT INTO search_documents_fts (rowid, title, emails, subtitle, tags, body)
        VALUES (new.doc_id, new.title, new.emails, new.subtitle, new.tags, new.body);
    END
    """,
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_documents_fts_update",
    "DROP TRIGGER IF EXISTS search_documents_fts_delete",
    "DROP TRIGGER IF EXISTS search_documents_fts_insert",
    "DROP TABLE IF EXISTS search_documents_fts",
    "DROP INDEX IF EXISTS search_documents_fts_doc",
]

# The 32 ASCII punctuation characters, each mapped to a space by translate().
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _pg_field(column: str, weight: str) -> str:
    source = _PUNCTUATION.replace("'", "''")
    spaces = " " * len(_PUNCTUATION)
    return (
        f"setweight(to_tsvector('simple'::regconfig, "
        f"kith_unaccent(translate({column}, '{source}', '{spaces}'))), '{weight}')"
    )


_PG_VECTOR = " || ".join(
    [
        _pg_field("title", "A"),
        _pg_field("emails", "A"),
        _pg_field("subtitle", "B"),
        _pg_field("tags", "C"),
        _pg_field("body", "D"),
    ]
)


def _postgres_up(unaccent_schema: str) -> list[str]:
    return [
        f"""
        CREATE FUNCTION kith_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN "{unaccent_schema}".unaccent('"{unaccent_schema}".unaccent'::regdictionary, $1)
        """,
        f"""
        ALTER TABLE search_documents ADD COLUMN search_vector tsvector
            GENERATED ALWAYS AS ({_PG_VECTOR}) STORED
        """,
        "CREATE INDEX search_documents_fts_gin ON search_documents USING gin (search_vector)",
    ]


# The unaccent extension stays: it is shared, and other objects may use it.
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS search_documents_fts_gin",
    "ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector",
    "DROP FUNCTION IF EXISTS kith_unaccent(text)",
]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("doc_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("emails", sa.Text(), nullable=False),
        sa.Column("subtitle", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", kith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_search_documents_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "kind", "record_id", name=op.f("pk_search_documents")
        ),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        statements = SQLITE_UP
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        schema = bind.exec_driver_sql(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'"
        ).scalar_one()
        statements = _postgres_up(schema.strip('"'))
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("search_documents")
