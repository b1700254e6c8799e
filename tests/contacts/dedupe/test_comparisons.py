"""Each comparison level and its reason, and the SQL twin of every level."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from kith.contacts.dedupe.comparisons import (
    ADDRESS,
    BIRTHDAY,
    COMPANY,
    COMPARISONS,
    COUNTRY,
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    PHONE,
    Comparison,
    levels_of,
)
from kith.contacts.dedupe.features import compute_features
from kith.contacts.dedupe.generate import LabelledData
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.scan import BlockingIndex, candidates_for
from kith.contacts.dedupe.tables import connect, levels_sql, load_records

BASE = MatchRecord(
    id="a",
    first_name="William",
    last_name="Smith",
    emails=("w.smith@acme.com",),
    phones=("+12125550123",),
    company="Acme Inc",
    street="12 Main Street",
    city="Springfield",
    postcode="62701",
    country="US",
    birthday="1980-03-04",
)


def level(comparison: Comparison, a: MatchRecord, b: MatchRecord) -> str:
    key = comparison.levels[comparison.level_of(compute_features(a), compute_features(b))].key
    back = comparison.levels[comparison.level_of(compute_features(b), compute_features(a))].key
    assert key == back, "levels are symmetric"
    return key


def reason(comparison: Comparison, a: MatchRecord, b: MatchRecord) -> str | None:
    fa, fb = compute_features(a), compute_features(b)
    return comparison.reason(level(comparison, a, b), a, b, fa, fb)


@pytest.mark.parametrize(
    ("other", "expected", "text"),
    [
        ("William", "exact", "same first name"),
        ("", "null", None),
        ("Bill", "nickname", "first name: nickname (Bill/William)"),
        ("Willaim", "nickname", "first name: similar (Willaim/William)"),  # typo, then group
        ("Williams", "nickname", "first name: similar (William/Williams)"),
        ("W.", "initial", "first name: initial (W./William)"),
        ("Robert", "different", None),
        ("Xavrion", "else", None),
        ("Wilkins", "fuzzy", "first name: alike (Wilkins/William)"),
    ],
)
def test_first_name(other: str, expected: str, text: str | None) -> None:
    b = replace(BASE, id="b", first_name=other)
    assert level(FIRST_NAME, BASE, b) == expected
    assert reason(FIRST_NAME, BASE, b) == text


def test_close_unknown_names() -> None:
    a = replace(BASE, first_name="Zebrina")
    b = replace(BASE, id="b", first_name="Zebrino")
    assert level(FIRST_NAME, a, b) == "close"
    assert reason(FIRST_NAME, a, b) == "first name: similar (Zebrina/Zebrino)"


def test_initial_of_a_nickname() -> None:
    a = replace(BASE, first_name="F")
    b = replace(BASE, id="b", first_name="Chesca")  # Francesca
    assert level(FIRST_NAME, a, b) == "initial"


def test_swapped_names() -> None:
    b = replace(BASE, id="b", first_name="Smith", last_name="William")
    assert level(FIRST_NAME, BASE, b) == "swapped"
    assert reason(FIRST_NAME, BASE, b) == "first and last name swapped"
    assert level(LAST_NAME, BASE, b) == "null"  # counted once, by the first name
    nickname = replace(BASE, id="c", first_name="Smith", last_name="Bill")
    assert level(FIRST_NAME, BASE, nickname) == "swapped"


@pytest.mark.parametrize(
    ("other", "expected", "text"),
    [
        ("Smith", "exact", "same last name"),
        ("SMITH", "exact", "same last name"),
        ("", "null", None),
        ("Smiht", "close", "last name: similar (Smiht/Smith)"),
        ("Smithers", "close", "last name: similar (Smith/Smithers)"),
        ("Smitten", "fuzzy", "last name: alike (Smith/Smitten)"),
        ("Jones", "else", None),
    ],
)
def test_last_name(other: str, expected: str, text: str | None) -> None:
    b = replace(BASE, id="b", last_name=other)
    assert level(LAST_NAME, BASE, b) == expected
    assert reason(LAST_NAME, BASE, b) == text


@pytest.mark.parametrize(
    ("other", "expected", "text"),
    [
        ("1980-03-04", "exact", "same birthday"),
        ("", "null", None),
        ("1980-03-05", "typo", "birthday: one-digit typo"),
        ("1908-03-04", "typo", "birthday: one-digit typo"),  # neighbours swapped
        ("1980-04-03", "day_month", "birthday: day and month swapped"),
        ("1980-03-27", "year_month", "birthday: same year and month"),
        ("1975-11-20", "else", None),
    ],
)
def test_birthday(other: str, expected: str, text: str | None) -> None:
    b = replace(BASE, id="b", birthday=other)
    assert level(BIRTHDAY, BASE, b) == expected
    assert reason(BIRTHDAY, BASE, b) == text


@pytest.mark.parametrize(
    ("a_emails", "b_emails", "expected", "text"),
    [
        (("w.smith@acme.com",), ("w.smith@acme.com",), "exact", "same email"),
        ((), ("w.smith@acme.com",), "null", None),
        (
            ("skywalker77@gmail.com",),
            ("skywalker@acme.com",),
            "local",
            "email: same local part (skywalker)",
        ),
        (("w.smith@gmail.com",), ("wsmith@yahoo.com",), "else", None),  # just the name
        (("w.smith@acme.com",), ("bill@acme.com",), "domain", "same email domain (acme.com)"),
        (("w@gmail.com",), ("z@gmail.com",), "else", None),  # free mail says nothing
    ],
)
def test_email(
    a_emails: tuple[str, ...], b_emails: tuple[str, ...], expected: str, text: str | None
) -> None:
    a = replace(BASE, emails=a_emails)
    b = replace(BASE, id="b", emails=b_emails)
    assert level(EMAIL, a, b) == expected
    assert reason(EMAIL, a, b) == text


@pytest.mark.parametrize(
    ("other", "expected", "text"),
    [
        (("+12125550123",), "exact", "same phone"),
        ((), "null", None),
        (("+442125550123",), "tail", "phone: same last 7 digits"),
        (("+12125559999",), "else", None),
    ],
)
def test_phone(other: tuple[str, ...], expected: str, text: str | None) -> None:
    b = replace(BASE, id="b", phones=other)
    assert level(PHONE, BASE, b) == expected
    assert reason(PHONE, BASE, b) == text


@pytest.mark.parametrize(
    ("changes", "expected", "text"),
    [
        ({"street": "12 Main St"}, "same", "same address"),
        ({"street": "12 Mian Street"}, "same", "same address"),
        ({"street": "", "city": "", "postcode": ""}, "null", None),
        ({"city": "", "postcode": ""}, "street", "same street address"),
        ({"street": "14 Main Street"}, "postcode", "same postcode"),
        ({"street": "9 Oak Road", "postcode": "62702"}, "city", "same city (Springfield)"),
        ({"street": "9 Oak Road", "city": "Dover", "postcode": "19901"}, "else", None),
    ],
)
def test_address(changes: dict[str, str], expected: str, text: str | None) -> None:
    b = replace(BASE, id="b", **changes)
    assert level(ADDRESS, BASE, b) == expected
    assert reason(ADDRESS, BASE, b) == text


@pytest.mark.parametrize(
    ("other", "b_emails", "expected", "text"),
    [
        ("ACME Incorporated", (), "exact", "same company (Acme Inc)"),
        ("", (), "null", None),
        ("Acme Widgets", (), "similar", "company: similar (Acme Inc/Acme Widgets)"),
        ("Acmee", (), "similar", "company: similar (Acme Inc/Acmee)"),
        ("", ("bill@acme.com",), "email", "company: Acme Inc in the other's email domain"),
        ("Globex", (), "else", None),
    ],
)
def test_company(other: str, b_emails: tuple[str, ...], expected: str, text: str | None) -> None:
    a = replace(BASE, emails=())
    b = replace(BASE, id="b", company=other, emails=b_emails)
    assert level(COMPANY, a, b) == expected
    assert reason(COMPANY, a, b) == text


def test_country() -> None:
    assert level(COUNTRY, BASE, replace(BASE, country="us")) == "exact"
    assert level(COUNTRY, BASE, replace(BASE, country="")) == "null"
    assert level(COUNTRY, BASE, replace(BASE, country="GB")) == "else"


def test_every_comparison_ends_with_else_and_has_one_null_level() -> None:
    for comparison in COMPARISONS:
        assert comparison.levels[-1].sql == "ELSE"
        assert [lv.is_null for lv in comparison.levels].count(True) == 1
        assert comparison.levels[0].is_null


def test_sql_levels_equal_python_levels(small_benchmark: LabelledData) -> None:
    """The SQL (training, scan) and the Python (create) comparisons agree on every
    candidate pair of a generated data set and on random pairs."""
    records = small_benchmark.records
    index = BlockingIndex()
    for record in records:
        index.add(record)
    position = {r.id: i for i, r in enumerate(records)}
    pairs = {
        tuple(sorted((position[r.id], position[c.id])))
        for r in records
        for c in candidates_for(r, index.lookup)
    }
    rng = random.Random(5)
    pairs |= {tuple(sorted(rng.sample(range(len(records)), 2))) for _ in range(2000)}
    con = connect()
    load_records(con, records)
    con.execute("CREATE TABLE p (l INTEGER, r INTEGER)")
    con.executemany("INSERT INTO p VALUES (?, ?)", sorted(pairs))
    rows = con.execute(
        f"""
        SELECT p.l, p.r, {levels_sql("a", "b")} FROM p
        JOIN kith_records a ON a.unique_id = p.l JOIN kith_records b ON b.unique_id = p.r
        """
    ).fetchall()
    features = [compute_features(r) for r in records]
    assert len(rows) == len(pairs) > 2000
    mismatches = [
        (records[left].id, records[right].id, sql, levels_of(features[left], features[right]))
        for left, right, *sql in rows
        if tuple(sql) != levels_of(features[left], features[right])
    ]
    assert mismatches == []
