"""The graph benchmark's generator: deterministic, the sizes asked for, power-law
degrees, strengths in (0, 1] skewed low, and an engine builds from it."""

from __future__ import annotations

import numpy as np

from bench.graph_data import generate
from kith.graph.engine import OrgGraph


def test_same_seed_same_graph_and_other_seed_other_graph() -> None:
    one, two, other = (
        generate(3000, 15000, seed=4),
        generate(3000, 15000, seed=4),
        generate(3000, 15000, seed=5),
    )
    assert one.keys == two.keys
    assert np.array_equal(one.src, two.src)
    assert np.array_equal(one.strength, two.strength)
    assert not np.array_equal(one.src, other.src)


def test_sizes_degrees_and_strengths() -> None:
    data = generate(5000, 25000, seed=1)
    assert data.contacts == 5000
    assert len(data.keys) == 5000 + data.users
    assert {k[0] for k in data.keys[:5000]} == {"contact"}
    assert {k[0] for k in data.keys[5000:]} == {"user"}
    assert 0.97 * 25000 <= data.edges <= 25000
    pairs = set(
        zip(
            np.minimum(data.src, data.dst).tolist(),
            np.maximum(data.src, data.dst).tolist(),
            strict=True,
        )
    )
    assert len(pairs) == data.edges  # no duplicate pair
    assert not np.any(data.src == data.dst)
    assert data.strength.min() > 0
    assert data.strength.max() <= 1
    assert np.median(data.strength) < 0.3
    degree = np.bincount(np.concatenate([data.src, data.dst]), minlength=len(data.keys))
    assert degree.max() > 20 * np.median(degree)  # hubs
    graph = OrgGraph.build(data.keys, data.src, data.dst, data.strength, version=1)
    assert graph.degree(data.keys[int(degree.argmax())]) == degree.max()
