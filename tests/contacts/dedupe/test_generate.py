from __future__ import annotations

from collections import Counter
from itertools import islice

from kith.contacts.dedupe.generate import generate_benchmark, generate_population


def test_same_seed_same_data() -> None:
    a = generate_benchmark(60, seed=9)
    b = generate_benchmark(60, seed=9)
    assert a.records == b.records
    assert a.person_of == b.person_of
    assert generate_benchmark(60, seed=10).records != a.records


def test_benchmark_shape() -> None:
    data = generate_benchmark(200, seed=4)
    sizes = Counter(Counter(data.person_of.values()).values())
    assert set(sizes) <= {1, 2, 3, 4, 5}
    assert sum(n for size, n in sizes.items() if size >= 2) >= 200  # every person duplicated
    assert sizes[1] >= 200  # and as many people appear once
    by_person: dict[int, list[int]] = {}
    for index, record in enumerate(data.records):
        by_person.setdefault(data.person_of[record.id], []).append(index)
    for indices in by_person.values():
        emails = [e for i in indices for e in data.records[i].emails]
        phones = [p for i in indices for p in data.records[i].phones]
        assert len(emails) == len(set(emails)), "no email shared by one person's records"
        assert len(phones) == len(set(phones)), "no phone shared by one person's records"
    all_emails = [e for r in data.records for e in r.emails]
    assert len(all_emails) == len(set(all_emails))
    assert len(data.true_pairs()) == sum(
        n * (len(v) * (len(v) - 1) // 2) for n, v in [(1, idx) for idx in by_person.values()]
    )


def test_population_streams_with_person_ids() -> None:
    records = list(islice(generate_population(5000, seed=3), 5000))
    assert len(records) == 5000
    people = Counter(r.id.split("-")[0] for r in records)
    assert 1 < max(people.values()) <= 3
    assert records == list(generate_population(5000, seed=3))
