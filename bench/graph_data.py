"""A deterministic relationship graph for the graph benchmark: N contacts and M
relationships with power-law degrees (a Chung-Lu model: each endpoint drawn with
probability proportional to a weight ``rank ** (-1 / (gamma - 1))``, so a few hubs know
tens of thousands), plus a few users who each know some contacts. Strengths are in
(0, 1], skewed low (Beta(1.2, 4)): most relationships are weak.

    from bench.graph_data import generate
    data = generate(1_000_000, 5_000_000, seed=7)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kith.graph.engine import NodeKey

GAMMA = 2.5  # degree exponent: P(degree = k) ~ k^-gamma
USERS = 20
USER_CONTACTS = 300  # relationships per user (to contacts)
MIN_STRENGTH = 0.01


@dataclass(frozen=True)
class GraphData:
    """Nodes (contacts first, then users) and each relationship once, ``src < dst``."""

    keys: list[NodeKey]
    contacts: int
    users: int
    src: npt.NDArray[np.int32]
    dst: npt.NDArray[np.int32]
    strength: npt.NDArray[np.float64]
    seed: int

    @property
    def edges(self) -> int:
        return int(self.src.size)


def _uuids(rng: np.random.Generator, count: int) -> list[uuid.UUID]:
    raw = rng.integers(0, 2**63, size=(count, 2), dtype=np.int64, endpoint=False)
    return [uuid.UUID(int=(int(hi) << 64) | int(lo), version=4) for hi, lo in raw.tolist()]


def _pairs(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], wanted: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``wanted`` distinct unordered pairs (no self-loops), endpoints ~ weights."""
    cumulative = np.cumsum(weights)
    cumulative /= cumulative[-1]
    n = weights.size
    found = np.empty(0, dtype=np.int64)
    draw = int(wanted * 1.15) + 1000
    while found.size < wanted:
        a = np.searchsorted(cumulative, rng.random(draw), side="right")
        b = np.searchsorted(cumulative, rng.random(draw), side="right")
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        code = np.concatenate([found, lo.astype(np.int64) * n + hi])
        # Unique while keeping draw order (so the result does not depend on sorting).
        _, first = np.unique(code, return_index=True)
        found = code[np.sort(first)]
        draw = int((wanted - found.size) * 1.5) + 1000
    found = found[:wanted]
    return found // n, found % n


def generate(contacts: int, edges: int, *, seed: int = 7, users: int = USERS) -> GraphData:
    """The graph for ``seed``: the same arguments always give the same graph."""
    rng = np.random.default_rng(seed)
    # Weights by rank, assigned to contacts in random order so hubs are anywhere.
    weights = np.arange(1, contacts + 1, dtype=np.float64) ** (-1.0 / (GAMMA - 1.0))
    weights = weights[rng.permutation(contacts)]
    user_edges = min(users * USER_CONTACTS, edges // 10) if users else 0
    a, b = _pairs(rng, weights, edges - user_edges)
    user_src = np.repeat(np.arange(contacts, contacts + users), user_edges // max(users, 1))
    user_dst = rng.choice(contacts, size=user_src.size, replace=True, p=weights / weights.sum())
    pairs = np.unique(np.stack([user_dst, user_src]), axis=1)
    src = np.concatenate([a, pairs[0]]).astype(np.int32)
    dst = np.concatenate([b, pairs[1]]).astype(np.int32)
    strength = np.clip(rng.beta(1.2, 4.0, size=src.size), MIN_STRENGTH, 1.0)
    ids = _uuids(rng, contacts + users)
    keys: list[NodeKey] = [("contact", i) for i in ids[:contacts]]
    keys += [("user", i) for i in ids[contacts:]]
    return GraphData(keys, contacts, users, src, dst, strength, seed)
