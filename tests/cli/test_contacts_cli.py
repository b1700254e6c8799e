"""`kith contacts …` against a private installation."""

from __future__ import annotations

import json
import re

from tests.cli.conftest import Installation


def test_contacts_cli_round_trip(installation: Installation) -> None:
    assert installation.kith("migrate").exit_code == 0
    assert installation.kith("demo", "--people", "0").exit_code == 0
    # Create through the service layer of that installation's database.
    from sqlalchemy import select

    from kith.auth.models import Organization
    from kith.auth.principal import Principal
    from kith.contacts import service
    from kith.contacts.schemas import ContactIn
    from kith.db.engine import Database, make_engine

    database = Database(make_engine(installation.database_url))
    try:
        with database.transaction() as session:
            org = session.execute(select(Organization.id)).scalar_one()
            principal = Principal.system(org)
            ids = []
            for name, email in (
                ("Ada Lovelace", "ada@acme.example"),
                ("Ada L.", "ada.l@acme.example"),
            ):
                details, _ = service.create_contact(
                    session, principal, ContactIn(fullName=name, email=email), region="US"
                )
                ids.append(str(details.contact.id))
    finally:
        database.dispose()

    listed = installation.kith("contacts", "list")
    assert listed.exit_code == 0, listed.output
    assert "2 contacts" in listed.output
    assert ids[0] in listed.output
    found = installation.kith("contacts", "search", "lov")
    assert ids[0] in found.output
    assert ids[1] not in found.output
    shown = installation.kith("contacts", "show", ids[1])
    assert json.loads(shown.output)["email"] == "ada.l@acme.example"
    merged = installation.kith("contacts", "merge", ids[0], ids[1])
    assert merged.exit_code == 0, merged.output
    merge_id = json.loads(merged.output)["mergeId"]
    assert "1 contacts" in installation.kith("contacts", "list").output
    undone = installation.kith("contacts", "undo-merge", merge_id)
    assert undone.exit_code == 0, undone.output
    assert "2 contacts" in installation.kith("contacts", "list").output
    scanned = installation.kith("contacts", "duplicates", "--scan")
    assert scanned.exit_code == 0, scanned.output
    assert "scan SUCCEEDED" in scanned.output
    missing = installation.kith("contacts", "show", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 1
    assert re.search("not found", missing.output, re.I)
