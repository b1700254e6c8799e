"""Migration 0008: documents indexed before email addresses got their mark are
rewritten, and a whole address typed in the search box finds them again."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.orm import Session

from kith.db import migrate
from kith.db.engine import Database, make_engine
from kith.search import search
from tests.db.conftest import NewDatabase
from tests.db.conftest import new_database as new_database

OLD_LINES = "ada.lovelace@acme.example\tadalovelaceacmeexample\nada@home.example\tadahomeexample"


def test_addresses_indexed_before_the_mark_are_found_after_the_migration(
    new_database: NewDatabase,
) -> None:
    url = new_database()
    database = Database(make_engine(url))
    organization = uuid.uuid4()
    record = uuid.uuid4()
    try:
        migrate.upgrade(database, "0007")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organizations (id, name, default_region, settings, created_at,"
                    " updated_at) VALUES (:id, 'Old', 'US', '{}', :now, :now)"
                ).bindparams(bindparam("id", type_=Uuid())),
                {"id": organization, "now": "2026-11-23 10:00:00"},
            )
            connection.execute(
                text(
                    "INSERT INTO search_documents (organization_id, kind, record_id, doc_id,"
                    " title, emails, subtitle, tags, body, updated_at) VALUES (:org, 'contact',"
                    " :record, 1, 'Ada Lovelace', :emails, '', '', '', :now)"
                ).bindparams(bindparam("org", type_=Uuid()), bindparam("record", type_=Uuid())),
                {
                    "org": organization,
                    "record": record,
                    "emails": OLD_LINES,
                    "now": "2026-11-23 10:00:00",
                },
            )
        migrate.upgrade(database)

        def found(query: str) -> list[uuid.UUID]:
            with Session(database.engine) as session:
                hits = search(session, organization_id=organization, kind="contact", query=query)
                return [row.record_id for row in session.execute(hits)]

        assert found("ada.lovelace@acme.example") == [record]
        assert found("ada@home.exam") == [record]
        assert found("adalovelace") == []  # run-together words are not words
        assert found("lovelace") == [record]

        with database.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(url, connection), "0007")
            emails = connection.execute(text("SELECT emails FROM search_documents")).scalar_one()
        assert emails == OLD_LINES
    finally:
        database.dispose()
