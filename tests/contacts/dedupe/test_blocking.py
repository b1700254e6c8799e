from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kith.contacts.dedupe.blocking import RULES, blocking_keys, soundex
from kith.contacts.dedupe.nicknames import nicknames_of
from kith.contacts.dedupe.record import MatchRecord

FIRST = ["william", "robert", "elizabeth", "margaret", "john", "ada", "zebulon", "priya"]
LAST = ["smith", "lovelace", "garcia", "nguyen", "okafor", "kowalski", "o'brien"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("robert", "r163"),
        ("rupert", "r163"),
        ("ashcraft", "a261"),
        ("tymczak", "t522"),
        ("pfister", "p236"),
        ("smith", "s530"),
        ("smyth", "s530"),
        ("lee", "l000"),
        ("", ""),
    ],
)
def test_soundex(name: str, code: str) -> None:
    assert soundex(name) == code


def test_keys_are_prefixed_by_their_rule() -> None:
    record = MatchRecord(
        id="1",
        first_name="Ada",
        last_name="Lovelace",
        emails=("countess@analytical.org",),
        phones=("+441234567890",),
        company="Analytical Engines",
        street="12 St James Sq",
        city="London",
        postcode="SW1Y 4JH",
        country="GB",
        birthday="1815-12-10",
    )
    keys = blocking_keys(record)
    assert keys == sorted(set(keys))
    assert {k.split(":")[0] for k in keys} <= set(RULES)
    assert "em:countess" in keys
    assert "ph:4567890" in keys


def test_swapped_names_meet() -> None:
    a = MatchRecord(id="a", first_name="Ada", last_name="Lovelace")
    b = MatchRecord(id="b", first_name="Lovelace", last_name="Ada")
    assert set(blocking_keys(a)) & set(blocking_keys(b))


def test_swapped_names_meet_when_one_is_a_nickname() -> None:
    a = MatchRecord(id="a", first_name="Rich", last_name="Weber")
    b = MatchRecord(id="b", first_name="Weber", last_name="Richard")
    assert set(blocking_keys(a)) & set(blocking_keys(b))


def test_swapped_names_at_one_organization_meet_through_company_or_work_domain() -> None:
    a = MatchRecord(id="a", first_name="Stephanie", last_name="Ovaterr", company="First Acme")
    b = MatchRecord(id="b", first_name="Ovater", last_name="Sefton", emails=("so@firstacme.com",))
    c = MatchRecord(id="c", first_name="Ovater", last_name="Sefton", company="Other Corp")
    shared = set(blocking_keys(a)) & set(blocking_keys(b))
    assert {k.split(":")[0] for k in shared} == {"cs"}
    assert not set(blocking_keys(a)) & set(blocking_keys(c))


def test_no_name_no_name_keys() -> None:
    assert blocking_keys(MatchRecord(id="x")) == []


records = st.builds(
    MatchRecord,
    id=st.just("r"),
    first_name=st.sampled_from(FIRST),
    last_name=st.sampled_from(LAST),
    postcode=st.sampled_from(["", "10001", "SW1A 1AA"]),
    birthday=st.sampled_from(["", "1980-01-02", "1975-12-31"]),
    company=st.sampled_from(["", "Acme Inc"]),
)


@given(records)
def test_a_record_and_its_swapped_variant_share_a_key(record: MatchRecord) -> None:
    swapped = replace(record, id="s", first_name=record.last_name, last_name=record.first_name)
    assert set(blocking_keys(record)) & set(blocking_keys(swapped))


@given(records, st.data())
def test_a_record_and_its_nickname_variant_share_a_key(
    record: MatchRecord, data: st.DataObject
) -> None:
    nicknames = nicknames_of(record.first_name)
    if not nicknames:
        return
    nickname = data.draw(st.sampled_from(nicknames))
    variant = replace(record, id="n", first_name=nickname.capitalize())
    assert set(blocking_keys(record)) & set(blocking_keys(variant))
