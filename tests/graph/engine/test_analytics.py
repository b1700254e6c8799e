"""Batch analytics against networkx: PageRank, betweenness, Leiden vs Louvain."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith.graph.engine.analytics import BETWEENNESS_MIN_COST, compute_analytics
from tests.graph.engine.graphs import Case, cases, key

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(shape=cases(max_nodes=25), seed=st.integers(0, 2**32 - 1))
def test_pagerank_degree_and_betweenness_match_networkx(shape: Case, seed: int) -> None:
    # Strengths from a seeded generator rather than Hypothesis' shrunk floats: betweenness
    # splits credit over equally short paths, and igraph calls lengths within 1e-10
    # "equal" where networkx compares exactly, so near-ties would differ by design.
    rng = np.random.default_rng(seed)
    case = Case(shape.n, [(a, b, float(rng.uniform(0.01, 1.0))) for a, b, _ in shape.edges])
    g = case.nx_graph()
    analytics = compute_analytics(case.org_graph(), betweenness_samples=case.n)
    assert analytics.keys == case.keys
    pagerank = nx.pagerank(g, alpha=0.85, weight="strength", tol=1e-12, max_iter=1000)
    assert analytics.pagerank == pytest.approx([pagerank[i] for i in range(case.n)], abs=1e-4)
    assert analytics.degree.tolist() == [g.degree(i) for i in range(case.n)]
    for _, _, data in g.edges(data=True):
        data["cost"] = max(data["cost"], BETWEENNESS_MIN_COST)
    betweenness = nx.betweenness_centrality(g, weight="cost", normalized=True)
    assert analytics.betweenness == pytest.approx([betweenness[i] for i in range(case.n)], abs=1e-9)
    order = np.argsort(analytics.pagerank, kind="stable")
    assert np.all(np.diff(analytics.percentile[order]) >= 0)
    assert analytics.percentile.max() == pytest.approx(100.0)


@PROPERTY
@given(case=cases(min_nodes=6, max_nodes=40))
def test_leiden_modularity_is_no_worse_than_louvain(case: Case) -> None:
    g = case.nx_graph()
    analytics = compute_analytics(case.org_graph(), seed=3, leiden_iterations=-1)
    assert len(analytics.community) == case.n
    if g.number_of_edges() == 0:
        return
    louvain = nx.community.louvain_communities(g, weight="strength", seed=3)
    louvain_q = nx.community.modularity(g, louvain, weight="strength")
    groups: dict[int, set[int]] = {}
    for node, community in enumerate(analytics.community.tolist()):
        groups.setdefault(community, set()).add(node)
    leiden_q = nx.community.modularity(g, groups.values(), weight="strength")
    assert analytics.modularity == pytest.approx(leiden_q, abs=1e-9)
    assert leiden_q >= louvain_q - 0.02


def test_sampled_betweenness_estimates_the_exact_one() -> None:
    g = nx.barabasi_albert_graph(400, 3, seed=5)
    rng = np.random.default_rng(5)
    case = Case(400, [(a, b, float(rng.uniform(0.05, 1.0))) for a, b in g.edges()])
    exact = nx.betweenness_centrality(case.nx_graph(), weight="cost", normalized=True)
    estimate = compute_analytics(case.org_graph(), betweenness_samples=200, seed=1).betweenness
    truth = np.array([exact[i] for i in range(400)])
    top = np.argsort(truth)[-20:]
    assert np.corrcoef(truth, estimate)[0, 1] > 0.9
    assert np.abs(estimate[top] - truth[top]).max() < 0.5 * truth[top].max()


def test_removed_nodes_leave_the_analytics() -> None:
    graph = Case(4, [(0, 1, 0.5), (1, 2, 0.5), (2, 3, 0.5)]).org_graph()
    graph.remove_node(key(1))
    analytics = compute_analytics(graph)
    assert analytics.keys == [key(0), key(2), key(3)]
    assert analytics.degree.tolist() == [0, 1, 1]
    assert analytics.pagerank.sum() == pytest.approx(1.0)
