"""Random weighted graphs for the engine's property tests, as an ``OrgGraph`` and as the
networkx graph the tests use as an oracle."""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass

import networkx as nx
import numpy as np
from hypothesis import strategies as st

from kith.graph.engine import NodeKey, OrgGraph


def key(i: int) -> NodeKey:
    return ("contact", uuid.UUID(int=i + 1))


@dataclass(frozen=True)
class Case:
    n: int
    edges: list[tuple[int, int, float]]

    @property
    def keys(self) -> list[NodeKey]:
        return [key(i) for i in range(self.n)]

    def org_graph(self, version: int = 1) -> OrgGraph:
        src = np.array([a for a, _, _ in self.edges], dtype=np.int64)
        dst = np.array([b for _, b, _ in self.edges], dtype=np.int64)
        strength = np.array([s for _, _, s in self.edges], dtype=np.float64)
        return OrgGraph.build(self.keys, src, dst, strength, version)

    def nx_graph(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        for a, b, s in self.edges:
            g.add_edge(a, b, strength=s, cost=-math.log(s))
        return g


strengths = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)


@st.composite
def cases(draw: st.DrawFn, min_nodes: int = 2, max_nodes: int = 11) -> Case:
    n = draw(st.integers(min_value=min_nodes, max_value=max_nodes))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=min(len(pairs), 3 * n)))
    return Case(n, [(a, b, draw(strengths)) for a, b in chosen])


def path_strength(g: nx.Graph, nodes: list[int]) -> float:
    return math.prod(g[a][b]["strength"] for a, b in itertools.pairwise(nodes))


def best_within(g: nx.Graph, source: int, target: int, max_hops: int) -> float | None:
    """Brute force: the strongest simple path of at most ``max_hops`` edges."""
    if source == target:
        return 1.0
    found = [path_strength(g, p) for p in nx.all_simple_paths(g, source, target, cutoff=max_hops)]
    return max(found) if found else None
