"""contacts list indexes: live contacts by name, by status and name, by owner and name

Each holds ``deleted_at`` (lists show live contacts) and ends in the id, the keyset
tiebreaker: a list page, first or 51st, walks one of them in order, tests the other
filters (tags: a lookup in ``contact_tags``'s key) and stops after the page, without
reading a table row it does not return. ``deleted_at`` is a key column rather than a
partial-index condition because SQLite (3.40) reads the table to re-check the
condition. They replace four indexes that held neither ``deleted_at`` nor the id.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 11:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_contacts_list_name": ["organization_id", "deleted_at", "sort_name", "id"],
    "ix_contacts_list_status": ["organization_id", "status", "deleted_at", "sort_name", "id"],
    "ix_contacts_list_owner": ["organization_id", "owner_id", "deleted_at", "sort_name", "id"],
}
REPLACED = {
    "ix_contacts_org_sort_name": ["organization_id", "sort_name", "id"],
    "ix_contacts_org_status": ["organization_id", "status", "sort_name"],
    "ix_contacts_org_owner": ["organization_id", "owner_id", "sort_name"],
    "ix_contacts_org_deleted": ["organization_id", "deleted_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        for name, columns in REPLACED.items():
            batch_op.create_index(name, columns, unique=False)
