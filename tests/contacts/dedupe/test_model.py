"""Properties of the match model: symmetry, certainty with itself, probabilities, JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith.contacts.dedupe.comparisons import TF_COLUMNS
from kith.contacts.dedupe.features import compute_features
from kith.contacts.dedupe.generate import LabelledData
from kith.contacts.dedupe.model import (
    DEFAULT_THRESHOLD,
    LevelParams,
    MatchModel,
    probability_from_weight,
    weight_from_probability,
)
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.tables import (
    connect,
    create_pair_levels,
    create_tf_weights,
    load_records,
    pair_weights_sql,
)

FIRST = ["William", "Bill", "Robert", "Bob", "Elizabeth", "Liz", "Ada", "Priya", "J.", ""]
LAST = ["Smith", "Smyth", "Lovelace", "Garcia", "Nguyen", "O'Brien", ""]
CITIES = ["London", "Springfield", ""]
COMPANIES = ["Acme Inc", "ACME Incorporated", "Globex", ""]
BIRTHDAYS = ["1980-03-04", "1980-04-03", "1980-03-05", "1975-12-31", ""]

email = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.sampled_from(["bill", "w.smith", "skywalker77", "ada", "info"]),
    st.sampled_from(["gmail.com", "acme.com", "globex.io"]),
)
records = st.builds(
    MatchRecord,
    id=st.sampled_from(["a", "b"]),
    first_name=st.sampled_from(FIRST),
    last_name=st.sampled_from(LAST),
    emails=st.lists(email, max_size=2, unique=True).map(tuple),
    phones=st.lists(
        st.sampled_from(["+12125550123", "+442125550123", "+447700900123"]),
        max_size=2,
        unique=True,
    ).map(tuple),
    company=st.sampled_from(COMPANIES),
    street=st.sampled_from(["12 Main Street", "12 Main St", "9 Oak Road", ""]),
    city=st.sampled_from(CITIES),
    postcode=st.sampled_from(["62701", "SW1A 1AA", ""]),
    country=st.sampled_from(["US", "GB", ""]),
    birthday=st.sampled_from(BIRTHDAYS),
)


@given(records, records)
def test_score_is_symmetric(a: MatchRecord, b: MatchRecord) -> None:
    model = MatchModel.default()
    ab, ba = model.score(a, b), model.score(b, a)
    assert ab.probability == ba.probability
    assert ab.weight == ba.weight
    assert ab.reasons == ba.reasons


@given(records, records)
def test_probability_is_a_probability(a: MatchRecord, b: MatchRecord) -> None:
    match = MatchModel.default().score(a, b)
    assert 0.0 <= match.probability <= 1.0
    assert math.isfinite(match.weight)
    assert all(isinstance(r, str) and r for r in match.reasons)


@given(records.filter(lambda r: bool(r.emails) and bool(r.first_name or r.last_name)))
def test_a_record_is_a_certain_match_with_itself(record: MatchRecord) -> None:
    match = MatchModel.default().score(record, replace(record, id="copy"))
    assert match.probability > 0.99
    assert "same email" in match.reasons


def test_reasons_read_well(model: MatchModel) -> None:
    a = MatchRecord(
        id="a",
        first_name="William",
        last_name="Lovelace",
        birthday="1980-03-04",
        street="12 Main Street",
        city="Springfield",
        postcode="62701",
        company="Acme Inc",
    )
    b = replace(a, id="b", first_name="Bill", birthday="1980-03-05", street="12 Main St")
    match = model.score(a, b)
    assert match.probability > 0.99
    assert match.reasons[:1] == ["same address"] or "same address" in match.reasons
    assert "first name: nickname (Bill/William)" in match.reasons
    assert "birthday: one-digit typo" in match.reasons
    assert "same company (Acme Inc)" in match.reasons
    assert "same last name" in match.reasons


def test_strangers_do_not_match(model: MatchModel) -> None:
    a = MatchRecord(
        id="a",
        first_name="John",
        last_name="Smith",
        birthday="1980-03-04",
        city="London",
        country="GB",
    )
    b = MatchRecord(
        id="b",
        first_name="John",
        last_name="Smith",
        birthday="1962-11-30",
        city="Leeds",
        country="GB",
    )
    assert model.score(a, b).probability < DEFAULT_THRESHOLD


def test_relatives_at_one_address_do_not_match(model: MatchModel) -> None:
    a = MatchRecord(
        id="a",
        first_name="Patricia",
        last_name="Quackenbush",
        street="12 Main Street",
        city="Springfield",
        postcode="62701",
    )
    b = replace(a, id="b", first_name="George")
    assert model.score(a, b).probability < 0.05
    assert "last+address" in model.explain(a, b)


def test_json_round_trip(model: MatchModel) -> None:
    text = model.to_json()
    again = MatchModel.from_json(text)
    assert again == model
    assert again.to_json() == text
    assert json.loads(text)["format"] == "kith.dedupe.model/1"


def test_missing_levels_take_their_priors() -> None:
    model = MatchModel(prior=1e-4, levels={"birthday": {"exact": LevelParams(0.9, 1e-4)}})
    assert model.levels["birthday"]["exact"] == LevelParams(0.9, 1e-4)
    assert model.levels["first_name"]["exact"].m > 0
    assert MatchModel.from_json(model.to_json()) == model


def test_population_scaling(model: MatchModel) -> None:
    bigger = model.for_population(model.trained_records * 10)
    assert math.isclose(bigger.prior, model.prior / 10, rel_tol=1e-9)
    assert all(
        math.isclose(bigger.joint_u[k], v / 10, rel_tol=1e-9) for k, v in model.joint_u.items()
    )


def test_weights_and_probabilities() -> None:
    assert probability_from_weight(0.0) == 0.5
    assert math.isclose(weight_from_probability(probability_from_weight(3.5)), 3.5)
    assert probability_from_weight(100) == 1.0
    assert probability_from_weight(-100) == 0.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(records, records), min_size=1, max_size=20))
def test_sql_weight_equals_python_weight(pairs: list[tuple[MatchRecord, MatchRecord]]) -> None:
    """The scan weighs pairs in SQL with the same formula as ``weight_of_features``."""
    model = MatchModel.default()
    flat = [replace(r, id=f"r{i}") for pair in pairs for i, r in [(0, pair[0]), (1, pair[1])]]
    flat = [replace(r, id=f"r{i}") for i, r in enumerate(flat)]
    con = connect()
    load_records(con, flat)
    create_tf_weights(con, model)
    con.execute("CREATE TABLE kith_pairs (l INTEGER, r INTEGER)")
    con.executemany(
        "INSERT INTO kith_pairs VALUES (?, ?)", [(2 * i, 2 * i + 1) for i in range(len(pairs))]
    )
    create_pair_levels(con)
    rows = con.execute(f"SELECT l, r, w FROM ({pair_weights_sql(model)}) ORDER BY l").fetchall()
    for left, right, weight in rows:
        expected = model.weight_of_features(
            compute_features(flat[left]), compute_features(flat[right])
        )
        assert math.isclose(weight, expected, abs_tol=1e-9), (flat[left], flat[right])
    assert TF_COLUMNS


def test_small_benchmark_end_to_end(small_benchmark: LabelledData, model: MatchModel) -> None:
    """300 generated persons: the shipped model finds their duplicates, F1 ≥ 0.95."""
    from kith.contacts.dedupe.scan import find_duplicates

    truth = small_benchmark.true_pairs()
    found = {(a, b) for a, b, _m in find_duplicates(small_benchmark.records, model)}
    tp = len(found & truth)
    precision, recall = tp / len(found), tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.95, (precision, recall)
