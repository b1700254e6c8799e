"""search documents: email addresses indexed whole under a mark

Each line of ``search_documents.emails`` is an address, a tab and the address's words
run together, the one term a whole address typed in the search box is matched
against. That term now starts with ``kith.search.query.ADDRESS_MARK`` ("0m"), so that
it no longer starts with the person's name: every address of a James was a term
starting with "james", and a prefix search for "james" merged all of them (FTS5 and
GIN alike). This rewrites the stored lines; the FTS5 update trigger (SQLite) and the
generated ``search_vector`` (PostgreSQL) follow.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 11:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The mark ("0m") is written literally: this migration must keep doing what it did if
# the constant ever changes. A tab is char(9) on SQLite, chr(9) on PostgreSQL.
UP = {
    "sqlite": "UPDATE search_documents SET emails = replace(emails, char(9), char(9) || '0m')"
    " WHERE instr(emails, char(9)) > 0",
    "postgresql": "UPDATE search_documents SET emails = replace(emails, chr(9), chr(9) || '0m')"
    " WHERE strpos(emails, chr(9)) > 0",
}
DOWN = {
    "sqlite": "UPDATE search_documents SET emails = replace(emails, char(9) || '0m', char(9))"
    " WHERE instr(emails, char(9) || '0m') > 0",
    "postgresql": "UPDATE search_documents SET emails = replace(emails, chr(9) || '0m', chr(9))"
    " WHERE strpos(emails, chr(9) || '0m') > 0",
}


def upgrade() -> None:
    op.execute(UP[op.get_bind().dialect.name])


def downgrade() -> None:
    op.execute(DOWN[op.get_bind().dialect.name])
