"""Paths and networks against networkx (Dijkstra on -log strength, simple paths, BFS)."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kith.graph.engine import OrgGraph
from kith.graph.engine import graph as graph_module
from tests.graph.engine.graphs import Case, best_within, cases, key, path_strength

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def endpoints(case: Case) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(st.integers(0, case.n - 1), st.integers(0, case.n - 1))


@PROPERTY
@given(data=st.data(), case=cases())
def test_strongest_path_is_dijkstra_on_minus_log_strength(data: st.DataObject, case: Case) -> None:
    source, target = data.draw(endpoints(case))
    assume(source != target)
    graph, g = case.org_graph(), case.nx_graph()
    paths = graph.strongest_paths(key(source), key(target), k=1, max_hops=case.n)
    if not nx.has_path(g, source, target):
        assert paths == []
        return
    expected = nx.dijkstra_path(g, source, target, weight="cost")
    (path,) = paths
    assert path.strength == pytest.approx(path_strength(g, expected), rel=1e-9)
    assert path.hops == len(path.nodes) - 1 == len(path.strengths)
    assert path.strength == pytest.approx(math.prod(path.strengths), rel=1e-12)
    nodes = [int(k[1].int) - 1 for k in path.nodes]
    assert nodes[0] == source
    assert nodes[-1] == target
    for (a, b), s in zip(itertools.pairwise(nodes), path.strengths, strict=True):
        assert g[a][b]["strength"] == s
    top_two = list(itertools.islice(nx.shortest_simple_paths(g, source, target, "cost"), 2))
    unique = len(top_two) == 1 or path_strength(g, top_two[1]) < path_strength(g, top_two[0]) * (
        1 - 1e-9
    )
    if unique:
        assert nodes == expected


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), max_hops=st.integers(1, 4))
def test_strongest_path_respects_max_hops(data: st.DataObject, case: Case, max_hops: int) -> None:
    source, target = data.draw(endpoints(case))
    assume(source != target)
    graph, g = case.org_graph(), case.nx_graph()
    expected = best_within(g, source, target, max_hops)
    paths = graph.strongest_paths(key(source), key(target), max_hops=max_hops)
    if expected is None:
        assert paths == []
    else:
        assert len(paths) == 1
        assert paths[0].hops <= max_hops
        assert paths[0].strength == pytest.approx(expected, rel=1e-9)


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), k=st.integers(1, 5))
def test_k_strongest_paths_match_shortest_simple_paths(
    data: st.DataObject, case: Case, k: int
) -> None:
    source, target = data.draw(endpoints(case))
    assume(source != target)
    graph, g = case.org_graph(), case.nx_graph()
    paths = graph.strongest_paths(key(source), key(target), k=k, max_hops=case.n)
    if not nx.has_path(g, source, target):
        assert paths == []
        return
    expected = [
        path_strength(g, p)
        for p in itertools.islice(nx.shortest_simple_paths(g, source, target, "cost"), k)
    ]
    assert [p.strength for p in paths] == pytest.approx(expected, rel=1e-9)
    assert len({p.nodes for p in paths}) == len(paths)
    for path in paths:
        assert len(set(path.nodes)) == len(path.nodes)  # loopless


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), k=st.integers(2, 4), max_hops=st.integers(1, 3))
def test_k_strongest_paths_within_max_hops(
    data: st.DataObject, case: Case, k: int, max_hops: int
) -> None:
    source, target = data.draw(endpoints(case))
    assume(source != target)
    graph, g = case.org_graph(), case.nx_graph()
    every = sorted(
        (path_strength(g, p) for p in nx.all_simple_paths(g, source, target, cutoff=max_hops)),
        reverse=True,
    )
    paths = graph.strongest_paths(key(source), key(target), k=k, max_hops=max_hops)
    assert [p.strength for p in paths] == pytest.approx(every[:k], rel=1e-9)
    assert all(p.hops <= max_hops for p in paths)


@PROPERTY
@given(data=st.data(), case=cases(), max_hops=st.integers(1, 6))
def test_fewest_hops_is_bfs_and_the_strongest_of_the_shortest(
    data: st.DataObject, case: Case, max_hops: int
) -> None:
    source, target = data.draw(endpoints(case))
    assume(source != target)
    graph, g = case.org_graph(), case.nx_graph()
    path = graph.fewest_hops(key(source), key(target), max_hops=max_hops)
    if not nx.has_path(g, source, target) or nx.shortest_path_length(g, source, target) > max_hops:
        assert path is None
        return
    assert path is not None
    assert path.hops == nx.shortest_path_length(g, source, target)
    best = max(path_strength(g, p) for p in nx.all_shortest_paths(g, source, target))
    assert path.strength == pytest.approx(best, rel=1e-9)
    nodes = [int(k[1].int) - 1 for k in path.nodes]
    assert path.strength == pytest.approx(path_strength(g, nodes), rel=1e-12)


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), depth=st.integers(0, 3))
def test_network_is_the_depth_ball_ranked_by_path_strength(
    data: st.DataObject, case: Case, depth: int
) -> None:
    center = data.draw(st.integers(0, case.n - 1))
    graph, g = case.org_graph(), case.nx_graph()
    network = graph.network(key(center), depth=depth, limit=case.n + 1)
    assert not network.truncated
    ball = nx.single_source_shortest_path_length(g, center, cutoff=depth)
    assert {int(n.key[1].int) - 1 for n in network.nodes} == set(ball)
    assert network.nodes[0].key == key(center)
    assert network.nodes[0].via is None
    assert network.nodes[0].path_strength == 1.0
    assert network.nodes[0].hops == 0
    strengths = [n.path_strength for n in network.nodes]
    assert strengths == sorted(strengths, reverse=True)
    for node in network.nodes[1:]:
        i = int(node.key[1].int) - 1
        assert node.path_strength == pytest.approx(best_within(g, center, i, depth), rel=1e-9)
        assert ball[i] <= node.hops <= depth
        assert node.via is not None
    inside = {int(n.key[1].int) - 1 for n in network.nodes}
    expected_edges = {
        (min(a, b), max(a, b), d["strength"])
        for a, b, d in g.edges(data=True)
        if a in inside and b in inside
    }
    got = {
        (min(int(a[1].int), int(b[1].int)) - 1, max(int(a[1].int), int(b[1].int)) - 1, s)
        for a, b, s in network.edges
    }
    assert got == expected_edges
    assert len(network.edges) == len(expected_edges)


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=10), limit=st.integers(1, 5))
def test_network_limit_keeps_the_strongest_and_says_truncated(
    data: st.DataObject, case: Case, limit: int
) -> None:
    center = data.draw(st.integers(0, case.n - 1))
    graph, g = case.org_graph(), case.nx_graph()
    full = graph.network(key(center), depth=3, limit=case.n)
    capped = graph.network(key(center), depth=3, limit=limit)
    assert capped.truncated == (len(full.nodes) > limit)
    assert len(capped.nodes) == min(limit, len(full.nodes))
    kept = [n.path_strength for n in capped.nodes]
    assert kept == pytest.approx([n.path_strength for n in full.nodes][:limit], rel=1e-12)
    assert nx.is_connected(g.subgraph(int(n.key[1].int) - 1 for n in capped.nodes))


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), min_strength=st.floats(0.05, 0.9))
def test_network_min_strength_ignores_weaker_relationships(
    data: st.DataObject, case: Case, min_strength: float
) -> None:
    center = data.draw(st.integers(0, case.n - 1))
    strong = Case(case.n, [(a, b, s) for a, b, s in case.edges if s >= min_strength])
    got = case.org_graph().network(key(center), 2, min_strength=min_strength, limit=case.n)
    expected = strong.org_graph().network(key(center), 2, limit=case.n)
    assert {(n.key, round(n.path_strength, 12)) for n in got.nodes} == {
        (n.key, round(n.path_strength, 12)) for n in expected.nodes
    }
    assert sorted(got.edges) == sorted(expected.edges)


@PROPERTY
@given(data=st.data(), case=cases(max_nodes=9), max_hops=st.integers(1, 4), pairwise=st.booleans())
def test_strongest_paths_to_many(
    data: st.DataObject, case: Case, max_hops: int, pairwise: bool
) -> None:
    """Both ways: a search per target, or one search from the source for many targets."""
    source = data.draw(st.integers(0, case.n - 1))
    targets = data.draw(st.lists(st.integers(0, case.n - 1), unique=True, max_size=case.n))
    graph, g = case.org_graph(), case.nx_graph()
    saved = graph_module.TO_MANY_PAIRWISE
    graph_module.TO_MANY_PAIRWISE = 256 if pairwise else 0
    try:
        paths = graph.strongest_paths_to_many(key(source), [key(t) for t in targets], max_hops)
    finally:
        graph_module.TO_MANY_PAIRWISE = saved
    for t in targets:
        expected = best_within(g, source, t, max_hops)
        if expected is None:
            assert key(t) not in paths
        else:
            path = paths[key(t)]
            assert path.nodes[0] == key(source)
            assert path.nodes[-1] == key(t)
            assert path.hops <= max_hops
            assert path.strength == pytest.approx(expected, rel=1e-9)
    assert set(paths) <= {key(t) for t in targets}


def test_build_keeps_the_strongest_of_duplicate_pairs_and_drops_zero_and_loops() -> None:
    keys = [key(i) for i in range(4)]
    graph = OrgGraph.build(
        keys,
        np.array([0, 1, 0, 2, 3, 2]),
        np.array([1, 0, 1, 3, 3, 0]),
        np.array([0.2, 0.7, 0.4, 0.5, 0.9, 0.0]),
        version=7,
    )
    assert graph.version == 7
    assert graph.strength(keys[0], keys[1]) == 0.7
    assert graph.neighbors(keys[0]) == [(keys[1], 0.7)]
    assert graph.neighbors(keys[3]) == [(keys[2], 0.5)]
    assert graph.degree(keys[2]) == 1
    assert graph.fewest_hops(keys[0], keys[2]) is None  # the 0-strength edge is no edge


def test_build_rejects_bad_input() -> None:
    keys = [key(i) for i in range(2)]
    with pytest.raises(ValueError, match="strength"):
        OrgGraph.build(keys, np.array([0]), np.array([1]), np.array([1.5]), 1)
    with pytest.raises(ValueError, match="range"):
        OrgGraph.build(keys, np.array([0]), np.array([2]), np.array([0.5]), 1)
    with pytest.raises(ValueError, match="duplicate"):
        OrgGraph.build([keys[0], keys[0]], np.array([]), np.array([]), np.array([]), 1)


def test_unknown_nodes_raise_key_error() -> None:
    graph = Case(3, [(0, 1, 0.5), (1, 2, 0.5)]).org_graph()
    stranger = ("user", key(99)[1])
    known = key(0)
    calls = [
        lambda: graph.degree(stranger),
        lambda: graph.neighbors(stranger),
        lambda: graph.strongest_paths(known, stranger),
        lambda: graph.strongest_paths(stranger, known),
        lambda: graph.fewest_hops(known, stranger),
        lambda: graph.strongest_paths_to_many(known, [stranger]),
        lambda: graph.strongest_paths_to_many(stranger, [known]),
        lambda: graph.network(stranger, 2),
        lambda: graph.remove_node(stranger),
        lambda: graph.network(("user", known[1]), 1),  # same id, other kind
    ]
    for call in calls:
        with pytest.raises(KeyError):
            call()
    assert not graph.has_node(stranger)
    assert graph.has_node(known)


def test_same_node_and_bad_arguments() -> None:
    graph = Case(2, [(0, 1, 0.5)]).org_graph()
    (path,) = graph.strongest_paths(key(0), key(0))
    assert path.nodes == (key(0),)
    assert path.hops == 0
    assert path.strength == 1.0
    with pytest.raises(ValueError, match="k"):
        graph.strongest_paths(key(0), key(1), k=0)
    with pytest.raises(ValueError, match="limit"):
        graph.network(key(0), 1, limit=0)
