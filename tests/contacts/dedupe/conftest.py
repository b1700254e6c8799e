"""Fixtures of the match-engine tests (no database)."""

from __future__ import annotations

import pytest

from kith.contacts.dedupe.generate import LabelledData, generate_benchmark
from kith.contacts.dedupe.model import MatchModel


@pytest.fixture(scope="session")
def model() -> MatchModel:
    return MatchModel.default()


@pytest.fixture(scope="session")
def small_benchmark() -> LabelledData:
    return generate_benchmark(300, seed=3)
