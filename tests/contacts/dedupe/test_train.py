"""Splink training smoke test on a few hundred records (speed: bench/dedupe.py)."""

from __future__ import annotations

import pytest

from kith.contacts.dedupe.comparisons import COMPARISONS
from kith.contacts.dedupe.generate import generate_benchmark
from kith.contacts.dedupe.model import MatchModel
from kith.contacts.dedupe.train import train_model


def test_train_with_splink() -> None:
    data = generate_benchmark(120, seed=8)
    model = train_model(data.records, u_max_pairs=2e5, metadata={"source": "test"})
    n = len(data.records)
    assert model.trained_records == n
    true_prior = len(data.true_pairs()) / (n * (n - 1) / 2)
    assert true_prior / 4 < model.prior < true_prior * 4
    for comparison in COMPARISONS:
        for key, params in model.levels[comparison.name].items():
            assert 0 < params.m <= 1, (comparison.name, key)
            assert 0 < params.u <= 1, (comparison.name, key)
    # Agreement is evidence for, disagreement against.
    assert model.levels["birthday"]["exact"].m > model.levels["birthday"]["exact"].u
    assert model.levels["birthday"]["else"].m < model.levels["birthday"]["else"].u
    assert set(model.term_frequencies) == {"first", "last", "company"}
    assert model.metadata["source"] == "test"
    assert model.metadata["trainer"].startswith("splink")
    assert MatchModel.from_json(model.to_json()) == model


def test_too_few_records() -> None:
    with pytest.raises(ValueError, match="too few"):
        train_model(generate_benchmark(3, seed=1, singletons=0).records)
