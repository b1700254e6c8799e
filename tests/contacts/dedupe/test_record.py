from __future__ import annotations

import pytest

from kith.contacts.dedupe.features import compute_features, spelled_from_name
from kith.contacts.dedupe.record import (
    MatchRecord,
    email_local_part,
    normalize_birthday,
    normalize_company,
    normalize_for_matching,
    normalize_name,
    normalize_postcode,
    normalize_street,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  O'Brien-Smith ", "o brien smith"),
        ("José Müller", "jose muller"),
        ("STRAßE", "strasse"),
        ("", ""),
        ("Zoë", "zoe"),
    ],
)
def test_normalize_for_matching(raw: str, expected: str) -> None:
    assert normalize_for_matching(raw) == expected


def test_names_lose_inner_spaces() -> None:
    assert normalize_name("O'Brien") == normalize_name("OBrien") == "obrien"


@pytest.mark.parametrize(
    "raw", ["Acme Inc", "ACME Incorporated", "Acme, Inc.", "acme corp", "The Acme Company"]
)
def test_company_legal_forms_do_not_count(raw: str) -> None:
    assert normalize_company(raw) == "acme"


def test_company_made_only_of_noise_words_is_kept() -> None:
    assert normalize_company("The Company") == "the company"


def test_street_abbreviations_and_flats() -> None:
    assert (
        normalize_street("12 Main Street, Apt 4") == normalize_street("12 main st") == "12 main st"
    )
    assert normalize_street("Flat 3, 22 High Road") == "22 high rd"


def test_postcode_and_birthday() -> None:
    assert normalize_postcode("SW1A 1AA") == "sw1a1aa"
    assert normalize_birthday("1984-07-02") == "19840702"
    assert normalize_birthday("1984-13-02") == ""
    assert normalize_birthday("not a date") == ""


def test_email_local_part() -> None:
    assert email_local_part("john.smith84+crm@example.com") == "johnsmith"


def test_local_parts_spelled_from_the_name() -> None:
    assert spelled_from_name("jsmith", "john", "smith", ("john",))
    assert spelled_from_name("smithj", "john", "smith", ())
    assert not spelled_from_name("billsmith", "william", "smith", ("william",))
    assert not spelled_from_name("skywalker", "john", "smith", ())


def test_features() -> None:
    record = MatchRecord(
        id="1",
        first_name="Bill",
        last_name="Smith",
        emails=("Bill.Smith@Acme.com", "skywalker77@gmail.com"),
        phones=("+15551234567",),
        company="Acme Inc",
        street="12 Main Street",
        city="Springfield",
        postcode="62701",
        country="US",
        birthday="1980-03-04",
    )
    f = compute_features(record)
    assert f.first == "bill"
    assert f.first_groups == ("william",)
    assert f.emails == ("bill.smith@acme.com", "skywalker77@gmail.com")
    assert f.email_domains == ("acme.com",)
    assert f.email_orgs == ("acme",)
    assert f.email_handles == ("skywalker",)
    assert f.phone_tails == ("1234567",)
    assert f.birthday == "19800304"
    assert f.birthday_dm == "19800403"
    assert f.street_num == "12"
    assert f.company_key == "acme"
    assert f.country == "us"
