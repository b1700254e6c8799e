from __future__ import annotations

import pytest

from kith.contacts.dedupe.nicknames import (
    are_nicknames,
    canonical_names,
    is_known_name,
    name_groups,
    nicknames_of,
)


def test_table_is_big_enough() -> None:
    assert len(canonical_names()) >= 250


@pytest.mark.parametrize(
    ("canonical", "nickname"),
    [
        ("william", "bill"),
        ("william", "liam"),
        ("robert", "bob"),
        ("robert", "bobby"),
        ("elizabeth", "liz"),
        ("elizabeth", "betty"),
        ("margaret", "peggy"),
        ("margaret", "maggie"),
        ("richard", "dick"),
    ],
)
def test_nicknames(canonical: str, nickname: str) -> None:
    assert nickname in nicknames_of(canonical)
    assert are_nicknames(canonical.capitalize(), nickname.upper())


def test_groups() -> None:
    assert name_groups("Bill") == ("william",)
    assert "alexander" in name_groups("alex")
    assert "alexandra" in name_groups("alex")
    assert are_nicknames("Bill", "Will")  # two nicknames of William
    assert not are_nicknames("Bill", "Bill")
    assert not are_nicknames("Bill", "Robert")
    assert name_groups("Zebediah-Unknown") == ()


def test_typos_find_their_group_but_are_not_known_names() -> None:
    assert name_groups("Michhael") == ("michael",)
    assert not is_known_name("Michhael")
    assert is_known_name("Michael")
    assert name_groups("Bil") == ()  # too short to guess


def test_spelling_variants_share_a_group() -> None:
    assert are_nicknames("Steven", "Stephen")
    assert are_nicknames("Catherine", "Katherine")
