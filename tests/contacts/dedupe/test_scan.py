from __future__ import annotations

from dataclasses import replace

from kith.contacts.dedupe.blocking import blocking_keys
from kith.contacts.dedupe.generate import LabelledData
from kith.contacts.dedupe.model import DEFAULT_THRESHOLD, MatchModel
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.scan import (
    BlockingIndex,
    candidates_for,
    find_duplicates,
    possible_duplicates,
)

ADA = MatchRecord(
    id="ada",
    first_name="Ada",
    last_name="Lovelace",
    emails=("ada@analytical.org",),
    company="Analytical Engines",
    street="12 St James Square",
    city="London",
    postcode="SW1Y 4JH",
    country="GB",
    birthday="1815-12-10",
)


def test_candidates_come_from_the_lookup_without_the_record_itself() -> None:
    seen: list[list[str]] = []
    swapped = replace(ADA, id="s", first_name="Lovelace", last_name="Ada", emails=())
    other = replace(ADA, id="o", first_name="Charles", last_name="Babbage", emails=())

    def lookup(keys: list[str]) -> list[MatchRecord]:
        seen.append(list(keys))
        return [ADA, swapped, swapped, other]

    found = candidates_for(ADA, lookup)
    assert seen == [blocking_keys(ADA)]
    assert [r.id for r in found] == ["s", "o"]  # distinct, the most shared keys first


def test_possible_duplicates_on_create(model: MatchModel) -> None:
    index = BlockingIndex()
    index.add(ADA)
    index.add(
        replace(
            ADA,
            id="babbage",
            first_name="Charles",
            last_name="Babbage",
            emails=(),
            birthday="1791-12-26",
        )
    )
    new = replace(
        ADA,
        id="new",
        first_name="Augusta",
        emails=("countess@lovelace.uk",),
        street="12 St. James Sq",
    )
    new = replace(new, first_name="Ada", last_name="Lovelace", birthday="1815-12-01")
    found = possible_duplicates(new, index.lookup, model)
    assert [r.id for r, _m in found] == ["ada"]
    match = found[0][1]
    assert match.probability >= DEFAULT_THRESHOLD
    assert "same last name" in match.reasons


def test_blocking_index_caps_and_forgets() -> None:
    index = BlockingIndex(max_per_key=3)
    for i in range(5):
        index.add(replace(ADA, id=f"r{i}", emails=()))
    assert len(index) == 5
    key = blocking_keys(ADA)[0]
    assert [r.id for r in index.lookup([key])] == ["r4", "r3", "r2"]
    index.remove("r4")
    assert [r.id for r in index.lookup([key])] == ["r3", "r2", "r1"]


def test_scan_finds_pairs_and_counts(small_benchmark: LabelledData, model: MatchModel) -> None:
    stats: dict[str, object] = {}
    found = list(find_duplicates(small_benchmark.records, model, stats=stats))
    assert found
    for a, b, match in found:
        assert a < b
        assert match.probability >= DEFAULT_THRESHOLD
        assert match.reasons
    assert stats["records"] == len(small_benchmark.records)
    assert stats["matches"] == len(found)
    assert int(stats["candidate_pairs"]) >= int(stats["sql_hits"]) >= len(found)  # type: ignore[call-overload]


def test_scan_of_nothing() -> None:
    assert list(find_duplicates([], MatchModel.default())) == []
    assert list(find_duplicates([ADA], MatchModel.default())) == []
