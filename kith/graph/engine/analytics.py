"""Whole-organization analytics on igraph's C core: PageRank, degree, a betweenness
estimate and Leiden communities. Batch work for background jobs, never for a request.

- PageRank: weighted by strength, damping 0.85 (PRPACK). ``percentile`` is the share of
  nodes (in %) whose score is at most this node's.
- Betweenness: over strongest paths (weight -log strength), estimated from
  ``betweenness_samples`` pivot sources drawn uniformly with ``seed`` (Brandes-style
  sampling): the pivots' dependencies are scaled by n / samples and normalized by the
  number of unordered pairs (n-1)(n-2)/2, so values are in 0..1 like networkx's
  ``betweenness_centrality(normalized=True)``; exact when samples >= n. A strength-1
  edge counts as cost ``BETWEENNESS_MIN_COST`` (igraph needs positive weights).
- Communities: Leiden optimizing modularity (weighted by strength), ``leiden_iterations``
  passes (negative: until stable), seeded, refining igraph's Louvain partition (timed
  together as "leiden"); up to 20,000 nodes also 8 more runs from singletons, keeping
  the partition with the best modularity.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import igraph
import numpy as np
import numpy.typing as npt

from kith.graph.engine.graph import OrgGraph
from kith.graph.engine.model import NodeKey

DAMPING = 0.85
BETWEENNESS_SAMPLES = 64
# igraph's betweenness needs positive weights: a strength-1 edge costs this much, so
# among equally strong paths the one with fewer hops is the shortest.
BETWEENNESS_MIN_COST = 1e-6
LEIDEN_ITERATIONS = 2
LEIDEN_RESTARTS = 8
LEIDEN_RESTARTS_UP_TO = 20_000  # nodes


@dataclass
class Analytics:
    keys: list[NodeKey]
    pagerank: npt.NDArray[np.float64]
    percentile: npt.NDArray[np.float64]
    degree: npt.NDArray[np.int64]
    betweenness: npt.NDArray[np.float64]
    community: npt.NDArray[np.int64]
    modularity: float
    computed_in_seconds: dict[str, float] = field(default_factory=dict)


def to_igraph(graph: OrgGraph) -> tuple[list[NodeKey], igraph.Graph]:
    """The live graph as an undirected igraph with ``weight`` (strength) and ``cost``
    (-log strength, at least ``BETWEENNESS_MIN_COST``)."""
    keys, src, dst, strength = graph.edges()
    edges = np.column_stack([src, dst]).astype(np.int64)
    g = igraph.Graph(n=len(keys), edges=edges, directed=False)
    g.es["weight"] = strength
    g.es["cost"] = np.maximum(-np.log(strength), BETWEENNESS_MIN_COST)
    return keys, g


def compute_analytics(
    graph: OrgGraph,
    *,
    seed: int = 0,
    betweenness_samples: int = BETWEENNESS_SAMPLES,
    leiden_iterations: int = LEIDEN_ITERATIONS,
) -> Analytics:
    """PageRank, percentiles, degrees, betweenness estimate and Leiden communities."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    keys, g = to_igraph(graph)
    n = len(keys)
    timings["igraph"] = time.perf_counter() - started

    started = time.perf_counter()
    pagerank = np.asarray(g.pagerank(weights="weight", damping=DAMPING), dtype=np.float64)
    timings["pagerank"] = time.perf_counter() - started
    ordered = np.sort(pagerank)
    percentile = 100.0 * np.searchsorted(ordered, pagerank, side="right") / max(n, 1)
    degree = np.asarray(g.degree(), dtype=np.int64)

    started = time.perf_counter()
    betweenness = _betweenness(g, seed, betweenness_samples)
    timings["betweenness"] = time.perf_counter() - started

    started = time.perf_counter()
    random.seed(seed)  # igraph draws from Python's random module
    igraph.set_random_number_generator(random)
    if g.ecount():
        # Leiden from igraph's Louvain (multilevel) partition, whose modularity its moves
        # never lower, and, on graphs small enough for it to be cheap, from singletons
        # with a few more seeds: on small graphs any one start can stop in a worse local
        # optimum. The best partition by modularity wins.
        starts: list[list[int] | None] = [g.community_multilevel(weights="weight").membership]
        starts += [None] * (LEIDEN_RESTARTS if n <= LEIDEN_RESTARTS_UP_TO else 0)
        best: tuple[float, list[int]] | None = None
        for attempt, start in enumerate(starts):
            random.seed(seed + attempt)
            found = g.community_leiden(
                objective_function="modularity",
                weights="weight",
                n_iterations=leiden_iterations,
                initial_membership=start,
            )
            quality = float(g.modularity(found.membership, weights="weight"))
            if best is None or quality > best[0]:
                best = (quality, found.membership)
        assert best is not None
        modularity, membership = best
        community = np.asarray(membership, dtype=np.int64)
    else:
        community = np.arange(n, dtype=np.int64)
        modularity = 0.0
    timings["leiden"] = time.perf_counter() - started
    return Analytics(
        keys, pagerank, percentile, degree, betweenness, community, modularity, timings
    )


def _betweenness(g: igraph.Graph, seed: int, samples: int) -> npt.NDArray[np.float64]:
    n = g.vcount()
    if n < 3 or g.ecount() == 0:
        return np.zeros(n, dtype=np.float64)
    if samples >= n:
        sources = None
        scale = 1.0
    else:
        sources = np.random.default_rng(seed).choice(n, size=samples, replace=False).tolist()
        scale = n / samples
    raw = np.asarray(
        g.betweenness(directed=False, weights="cost", sources=sources), dtype=np.float64
    )
    if sources is not None:
        # igraph counts each sampled pivot's pairs once, as ordered (source, target) pairs
        # halved for undirected graphs; scaling by n / samples estimates all sources.
        raw *= scale
    normalized: npt.NDArray[np.float64] = raw / ((n - 1) * (n - 2) / 2)
    return normalized
