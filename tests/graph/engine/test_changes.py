"""Incremental changes answer like a graph built from scratch, and readers in other
threads always see one whole version."""

from __future__ import annotations

import itertools
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith.graph.engine import EdgeChange, OrgGraph
from kith.graph.engine import graph as graph_module
from tests.graph.engine.graphs import Case, cases, key, strengths

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (a, b, strength or None); indexes up to 13 so some changes add nodes.
changes = st.lists(
    st.tuples(st.integers(0, 13), st.integers(0, 13), st.one_of(st.none(), strengths)),
    max_size=25,
)


def assert_same_answers(graph: OrgGraph, expected: OrgGraph, nodes: list[int]) -> None:
    for i in nodes:
        assert graph.has_node(key(i)) == expected.has_node(key(i))
    live = [i for i in nodes if expected.has_node(key(i))]
    for i in live:
        assert sorted(graph.neighbors(key(i))) == sorted(expected.neighbors(key(i)))
        assert graph.degree(key(i)) == expected.degree(key(i))
    for a, b in itertools.permutations(live, 2):
        got = graph.strongest_paths(key(a), key(b), k=2, max_hops=4)
        want = expected.strongest_paths(key(a), key(b), k=2, max_hops=4)
        assert [p.strength for p in got] == pytest.approx([p.strength for p in want], rel=1e-9)
        hops = graph.fewest_hops(key(a), key(b))
        want_hops = expected.fewest_hops(key(a), key(b))
        assert (hops and (hops.hops, round(hops.strength, 12))) == (
            want_hops and (want_hops.hops, round(want_hops.strength, 12))
        )
    for i in live:
        got_net = graph.network(key(i), 2, limit=50)
        want_net = expected.network(key(i), 2, limit=50)
        assert {n.key: round(n.path_strength, 12) for n in got_net.nodes} == {
            n.key: round(n.path_strength, 12) for n in want_net.nodes
        }
        assert sorted(got_net.edges) == sorted(want_net.edges)


def replay(
    case: Case, steps: list[tuple[int, int, float | None]], removals: list[int]
) -> tuple[dict[int, None], dict[tuple[int, int], float]]:
    """The node set and edges after the changes, computed naively."""
    nodes: dict[int, None] = dict.fromkeys(range(case.n))
    edges = {(min(a, b), max(a, b)): s for a, b, s in case.edges}
    for a, b, s in steps:
        if a == b:
            continue
        pair = (min(a, b), max(a, b))
        if s is None:
            if a in nodes and b in nodes:
                edges.pop(pair, None)
        else:
            nodes.setdefault(a)
            nodes.setdefault(b)
            edges[pair] = s
    for r in removals:
        if r in nodes:
            del nodes[r]
            edges = {p: s for p, s in edges.items() if r not in p}
    return nodes, edges


@PROPERTY
@given(
    case=cases(max_nodes=8),
    steps=changes,
    removals=st.lists(st.integers(0, 13), max_size=3),
    compact=st.booleans(),
)
def test_changes_answer_like_a_graph_built_from_the_final_edges(
    case: Case,
    steps: list[tuple[int, int, float | None]],
    removals: list[int],
    compact: bool,
) -> None:
    graph = case.org_graph(version=1)
    half = len(steps) // 2
    graph.apply([EdgeChange(key(a), key(b), s) for a, b, s in steps[:half]], version=2)
    graph.apply([EdgeChange(key(a), key(b), s) for a, b, s in steps[half:]], version=3)
    for r in removals:
        if graph.has_node(key(r)):
            graph.remove_node(key(r))
    if compact:
        graph.compact()
    assert graph.version == 3

    nodes, edges = replay(case, steps, removals)
    order = list(nodes)
    position = {i: p for p, i in enumerate(order)}
    pairs = list(edges.items())
    expected = OrgGraph.build(
        [key(i) for i in order],
        [position[a] for (a, _), _ in pairs],
        [position[b] for (_, b), _ in pairs],
        [s for _, s in pairs],
        version=3,
    )
    assert_same_answers(graph, expected, list(range(14)))
    assert graph.node_count() == len(nodes)


def test_a_removed_node_is_unknown_until_related_again() -> None:
    graph = Case(3, [(0, 1, 0.5), (1, 2, 0.5)]).org_graph()
    graph.remove_node(key(1))
    assert not graph.has_node(key(1))
    with pytest.raises(KeyError):
        graph.neighbors(key(1))
    assert graph.neighbors(key(0)) == []
    assert graph.fewest_hops(key(0), key(2)) is None
    graph.apply([EdgeChange(key(1), key(2), 0.9)], version=2)
    assert graph.neighbors(key(1)) == [(key(2), 0.9)]
    assert graph.neighbors(key(0)) == []


def test_strength_outside_zero_to_one_is_rejected_and_nothing_changes() -> None:
    graph = Case(2, [(0, 1, 0.5)]).org_graph()
    with pytest.raises(ValueError, match="strength"):
        graph.apply([EdgeChange(key(0), key(1), 0.9), EdgeChange(key(0), key(1), 1.5)], version=2)
    assert graph.strength(key(0), key(1)) == 0.5
    assert graph.version == 1


def test_the_patch_is_compacted_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_module, "COMPACT_MIN_ENTRIES", 8)
    graph = Case(2, [(0, 1, 0.5)]).org_graph()
    graph.apply([EdgeChange(key(0), key(i), 0.5) for i in range(2, 10)], version=2)
    assert graph._snapshot.patch_entries == 0  # folded into the CSR
    assert graph.degree(key(0)) == 9
    graph.apply([EdgeChange(key(0), key(3), None)], version=3)
    assert graph._snapshot.patch_entries == 2
    assert graph.degree(key(0)) == 8


def test_readers_in_other_threads_see_whole_versions() -> None:
    """A writer flips every edge of a chain between two strengths, one ``apply`` per
    flip, and compacts now and then; readers must never see a mix."""
    length = 30
    chain = Case(length, [(i, i + 1, 0.5) for i in range(length - 1)])
    graph = chain.org_graph()
    stop = threading.Event()
    problems: list[str] = []

    def write() -> None:
        for round_ in range(300):
            s = 0.9 if round_ % 2 else 0.5
            graph.apply(
                [EdgeChange(key(i), key(i + 1), s) for i in range(length - 1)],
                version=round_ + 2,
            )
            if round_ % 50 == 0:
                graph.compact()
        stop.set()

    def read() -> None:
        while not stop.is_set():
            network = graph.network(key(0), depth=length, limit=length)
            seen = {round(s, 9) for _, _, s in network.edges}
            if len(seen) != 1 or len(network.nodes) != length:
                problems.append(f"network mixed versions: {seen}")
            (path,) = graph.strongest_paths(key(0), key(length - 1), max_hops=length)
            if len({round(s, 9) for s in path.strengths}) != 1:
                problems.append("path mixed versions")

    readers = [threading.Thread(target=read) for _ in range(3)]
    writer = threading.Thread(target=write)
    for thread in (*readers, writer):
        thread.start()
    for thread in (*readers, writer):
        thread.join(timeout=60)
    assert problems == []
    assert graph.version == 301
