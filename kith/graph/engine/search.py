"""Interactive searches over a ``Snapshot``, on node indexes.

- Strongest path: bidirectional Dijkstra on cost = -log(strength), stopping as soon as
  the two frontiers' smallest distances add up to the best meeting found. When that path
  has more hops than allowed, a hop-bounded label-setting search (below) answers exactly.
- Fewest hops: bidirectional BFS layer by layer (always the smaller frontier), stopping at
  the first layer where the two sides meet; among the shortest, the strongest.
- Hop-bounded best-first search (network, to-many, the fallback above): labels
  (cost, hops, node) popped by cost; a label is dropped when its node was already popped
  with at most as many hops, so every node is settled by its strongest path of at most
  ``max_hops`` edges, in order of strength.
- k strongest loopless paths: Yen's algorithm over the strongest-path search.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kith.graph.engine.snapshot import Snapshot

NO_NODES: frozenset[int] = frozenset()
# Per-hop tolls (added to -log strength) tried in turn to find a short, strong path that
# bounds the exact hop-bounded search.
HOP_TOLLS = (0.5, 1.5, 4.0)
NO_EDGES: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True, slots=True)
class IndexPath:
    nodes: tuple[int, ...]
    strengths: tuple[float, ...]

    @property
    def cost(self) -> float:
        return sum(-math.log(s) for s in self.strengths)

    @property
    def strength(self) -> float:
        return math.prod(self.strengths)


@dataclass(frozen=True, slots=True)
class Label:
    """A path ending at ``node``: ``hops`` edges, total ``cost``, the label it extends
    and the strength of that last edge."""

    cost: float
    hops: int
    node: int
    parent: Label | None
    strength: float

    def path(self) -> IndexPath:
        nodes: list[int] = []
        strengths: list[float] = []
        label: Label | None = self
        while label is not None:
            nodes.append(label.node)
            if label.parent is not None:
                strengths.append(label.strength)
            label = label.parent
        nodes.reverse()
        strengths.reverse()
        return IndexPath(tuple(nodes), tuple(strengths))

    def path_strength(self) -> float:
        strength = 1.0
        label: Label | None = self
        while label is not None and label.parent is not None:
            strength *= label.strength
            label = label.parent
        return strength


@dataclass(slots=True)
class Bounds:
    """Lower bounds on the cost to the target (side 0) and from the source (side 1)
    ignoring hops, left by a bidirectional Dijkstra: exact for the nodes it settled,
    ``floor`` for the others."""

    exact: list[dict[int, float]] = field(default_factory=lambda: [{}, {}])
    floor: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def to_end(self, side: int, node: int) -> float:
        """A lower bound on the cost from ``node`` to the end searched by ``1 - side``."""
        other = 1 - side
        return self.exact[other].get(node, self.floor[other])


@dataclass(slots=True)
class Settled:
    """What a hop-bounded search settled, in settling order, and whether it stopped with
    more nodes reachable (``truncated``)."""

    labels: dict[int, Label] = field(default_factory=dict)
    truncated: bool = False


def _banned(u: int, v: int, nodes: Collection[int], edges: Collection[tuple[int, int]]) -> bool:
    return v in nodes or (bool(edges) and (u, v) in edges)


def hop_bounded(
    snap: Snapshot,
    source: int,
    max_hops: int,
    *,
    targets: Collection[int] | None = None,
    limit: int | None = None,
    min_strength: float = 0.0,
    max_cost: float = math.inf,
    banned_nodes: Collection[int] = NO_NODES,
    banned_edges: Collection[tuple[int, int]] = NO_EDGES,
) -> Settled:
    """Settle nodes from ``source`` strongest first over paths of at most ``max_hops``
    edges whose edges are each at least ``min_strength`` (and costing less than
    ``max_cost``, a known bound that prunes the search); stop when every target is
    settled, or after ``limit`` nodes (then ``truncated`` says whether more were
    reachable)."""
    if limit is not None:
        return _hop_bounded_lazy(
            snap,
            source,
            max_hops,
            targets,
            limit,
            min_strength,
            max_cost,
            banned_nodes,
            banned_edges,
        )
    return _hop_bounded_eager(
        snap, source, max_hops, targets, min_strength, max_cost, banned_nodes, banned_edges
    )


def _hop_bounded_eager(
    snap: Snapshot,
    source: int,
    max_hops: int,
    targets: Collection[int] | None,
    min_strength: float,
    max_cost: float,
    banned_nodes: Collection[int],
    banned_edges: Collection[tuple[int, int]],
) -> Settled:
    """Every neighbour pushed when its node is settled: fewest heap operations when
    most of the reachable graph gets settled anyway (targets far apart)."""
    limit: int | None = None
    result = Settled()
    settled = result.labels
    min_hops: dict[int, int] = {}
    # The best (cost, hops) pushed per node: a label no better on both is not pushed.
    pushed: dict[int, tuple[float, int]] = {source: (0.0, 0)}
    remaining = set(targets) if targets is not None else None
    heap: list[tuple[float, int, int, Label]] = [(0.0, 0, source, Label(0.0, 0, source, None, 1))]
    tie = 0
    while heap:
        cost, hops, _, label = heapq.heappop(heap)
        u = label.node
        seen = min_hops.get(u)
        if seen is not None and seen <= hops:
            continue
        if seen is None:
            if limit is not None and len(settled) >= limit:
                result.truncated = True
                break
            settled[u] = label
            if remaining is not None:
                remaining.discard(u)
                if not remaining:
                    break
        min_hops[u] = hops
        if hops >= max_hops:
            continue
        nbrs, strengths, costs = snap.row(u)
        next_hops = hops + 1
        for v, s, c in zip(nbrs, strengths, costs, strict=True):
            if s < min_strength or _banned(u, v, banned_nodes, banned_edges):
                continue
            seen_v = min_hops.get(v)
            if seen_v is not None and seen_v <= next_hops:
                continue
            new_cost = cost + c
            if new_cost >= max_cost:
                continue
            best = pushed.get(v)
            if best is not None and best[0] <= new_cost and best[1] <= next_hops:
                continue
            if best is None or new_cost < best[0]:
                pushed[v] = (new_cost, next_hops)
            tie += 1
            heapq.heappush(
                heap, (new_cost, next_hops, tie, Label(new_cost, next_hops, v, label, s))
            )
    return result


def _hop_bounded_lazy(
    snap: Snapshot,
    source: int,
    max_hops: int,
    targets: Collection[int] | None,
    limit: int,
    min_strength: float,
    max_cost: float,
    banned_nodes: Collection[int],
    banned_edges: Collection[tuple[int, int]],
) -> Settled:
    """Neighbours offered one at a time, cheapest first: the fewest heap operations when
    the search stops early (a capped network around a hub)."""
    result = Settled()
    settled = result.labels
    min_hops: dict[int, int] = {}
    remaining = set(targets) if targets is not None else None
    rows: dict[int, tuple[list[int], list[float], list[float]]] = {}
    # Lazy expansion over rows sorted by cost: a heap entry is a cursor on the k-th
    # cheapest edge of a label's node, keyed by the cost through that edge; popping it
    # offers one neighbour and pushes the cursor's next edge. A hub thus costs as many
    # heap operations as the neighbours actually reached, not its whole degree.
    heap: list[tuple[float, int, int, Label, int]] = []
    tie = 0
    label: Label | None = Label(0.0, 0, source, None, 1)
    while True:
        if label is not None:
            u = label.node
            seen = min_hops.get(u)
            if seen is None or seen > label.hops:
                if seen is None:
                    if limit is not None and len(settled) >= limit:
                        result.truncated = True
                        break
                    settled[u] = label
                    if remaining is not None:
                        remaining.discard(u)
                        if not remaining:
                            break
                min_hops[u] = label.hops
                if label.hops < max_hops:
                    row = rows.get(u)
                    if row is None:
                        row = rows[u] = snap.row(u)
                    if row[0] and row[1][0] >= min_strength:
                        key = label.cost + row[2][0]
                        if key < max_cost:
                            tie += 1
                            heapq.heappush(heap, (key, label.hops + 1, tie, label, 0))
        if not heap:
            break
        key, hops, _, parent, k = heapq.heappop(heap)
        nbrs, strengths, costs = rows[parent.node]
        if k + 1 < len(nbrs) and strengths[k + 1] >= min_strength:
            following = parent.cost + costs[k + 1]
            if following < max_cost:
                tie += 1
                heapq.heappush(heap, (following, hops, tie, parent, k + 1))
        v = nbrs[k]
        seen_v = min_hops.get(v)
        if (seen_v is not None and seen_v <= hops) or _banned(
            parent.node, v, banned_nodes, banned_edges
        ):
            label = None
        else:
            label = Label(key, hops, v, parent, strengths[k])
    return result


def strongest_path(
    snap: Snapshot,
    source: int,
    target: int,
    max_hops: int,
    banned_nodes: Collection[int] = NO_NODES,
    banned_edges: Collection[tuple[int, int]] = NO_EDGES,
    max_cost: float = math.inf,
) -> IndexPath | None:
    """The strongest path of at most ``max_hops`` edges, or None; with ``max_cost``,
    only a path cheaper than that (None otherwise)."""
    if source == target:
        return IndexPath((source,), ())
    bounds = Bounds()
    found = _bidirectional_dijkstra(
        snap, source, target, banned_nodes, banned_edges, bounds=bounds, max_cost=max_cost
    )
    if found is None:
        return None
    if len(found.strengths) <= max_hops:
        return found
    # The strongest path has too many hops: search again with hops counted, from both
    # ends. The strongest of the fewest-hop paths is a feasible answer to start from.
    feasible = fewest_hops(snap, source, target, max_hops, banned_nodes, banned_edges)
    if feasible is None:
        return None
    # A toll per hop trades strength for fewer hops: the strongest tolled path, when
    # short enough, is a much tighter bound than the fewest-hop one.
    for toll in HOP_TOLLS:
        tolled = _bidirectional_dijkstra(
            snap, source, target, banned_nodes, banned_edges, hop_toll=toll
        )
        if tolled is not None and len(tolled.strengths) <= max_hops:
            if tolled.cost < feasible.cost:
                feasible = tolled
            break
    better = _bidirectional_hop_bounded(
        snap,
        source,
        target,
        max_hops,
        min(feasible.cost, max_cost),
        bounds,
        banned_nodes,
        banned_edges,
    )
    if better is not None:
        return better
    return feasible if feasible.cost < max_cost else None


def _bidirectional_hop_bounded(
    snap: Snapshot,
    source: int,
    target: int,
    max_hops: int,
    bound: float,
    bounds: Bounds,
    banned_nodes: Collection[int],
    banned_edges: Collection[tuple[int, int]],
) -> IndexPath | None:
    """The strongest path of at most ``max_hops`` edges if one costs less than
    ``bound``: bidirectional label-setting over (node, hops) states, dropping labels
    that ``bounds`` says cannot reach the other end under the best cost. Each side settles
    labels by cost, keeping per node only labels with fewer hops than those settled
    before; the sides meet where a forward and a backward label of one node (or across
    one edge) have at most ``max_hops`` hops together; stop once the two smallest open
    costs add up to the best meeting."""
    best = bound
    meeting: tuple[Label, Label] | None = None
    settled: tuple[dict[int, list[Label]], dict[int, list[Label]]] = ({}, {})
    heaps: tuple[list[tuple[float, int, int, Label]], list[tuple[float, int, int, Label]]] = (
        [(0.0, 0, 0, Label(0.0, 0, source, None, 1.0))],
        [(0.0, 0, 1, Label(0.0, 0, target, None, 1.0))],
    )
    tie = 2
    while heaps[0] and heaps[1]:
        if heaps[0][0][0] + heaps[1][0][0] >= best:
            break
        side = 0 if heaps[0][0][0] <= heaps[1][0][0] else 1
        cost, hops, _, label = heapq.heappop(heaps[side])
        mine, theirs = settled[side], settled[1 - side]
        u = label.node
        kept = mine.get(u)
        if kept is not None and kept[-1].hops <= hops:
            continue
        if kept is None:
            kept = mine[u] = []
        kept.append(label)  # costs rise and hops fall along the list
        for other in theirs.get(u, ()):
            if hops + other.hops <= max_hops and cost + other.cost < best:
                best, meeting = cost + other.cost, (label, other)
        if hops >= max_hops:
            continue
        nbrs, strengths, costs = snap.row(u)
        next_hops = hops + 1
        heap = heaps[side]
        for v, s, c in zip(nbrs, strengths, costs, strict=True):
            new_cost = cost + c
            if new_cost >= best:
                break  # rows are sorted by cost
            if _banned(u, v, banned_nodes, banned_edges):
                continue
            seen = mine.get(v)
            if seen is not None and seen[-1].hops <= next_hops:
                continue
            if new_cost + bounds.to_end(side, v) >= best:
                continue
            edge = Label(new_cost, next_hops, v, label, s)
            for other in theirs.get(v, ()):
                if next_hops + other.hops <= max_hops and new_cost + other.cost < best:
                    best, meeting = new_cost + other.cost, (edge, other)
            tie += 1
            heapq.heappush(heap, (new_cost, next_hops, tie, edge))
    if meeting is None:
        return None
    return _splice(meeting[0], meeting[1], source)


def _splice(one: Label, other: Label, source: int) -> IndexPath:
    """Join a forward and a backward label that end at the same node."""
    first, second = one.path(), other.path()
    if first.nodes[0] != source:
        first, second = second, first
    nodes = first.nodes + tuple(reversed(second.nodes[:-1]))
    strengths = first.strengths + tuple(reversed(second.strengths))
    return IndexPath(nodes, strengths)


def _bidirectional_dijkstra(
    snap: Snapshot,
    source: int,
    target: int,
    banned_nodes: Collection[int],
    banned_edges: Collection[tuple[int, int]],
    hop_toll: float = 0.0,
    bounds: Bounds | None = None,
    max_cost: float = math.inf,
) -> IndexPath | None:
    inf = math.inf
    dist: tuple[dict[int, float], dict[int, float]] = ({source: 0.0}, {target: 0.0})
    parent: tuple[dict[int, tuple[int, float]], dict[int, tuple[int, float]]] = ({}, {})
    done: tuple[set[int], set[int]] = (set(), set())
    heaps: tuple[list[tuple[float, int]], list[tuple[float, int]]] = (
        [(0.0, source)],
        [(0.0, target)],
    )
    best = max_cost
    meet = -1
    radius = [0.0, 0.0]
    while heaps[0] and heaps[1]:
        if heaps[0][0][0] + heaps[1][0][0] >= best:
            break
        side = 0 if len(heaps[0]) <= len(heaps[1]) else 1
        d, u = heapq.heappop(heaps[side])
        if u in done[side]:
            continue
        done[side].add(u)
        radius[side] = d
        mine, other, pred = dist[side], dist[1 - side], parent[side]
        nbrs, strengths, costs = snap.row(u)
        for v, s, c in zip(nbrs, strengths, costs, strict=True):
            if _banned(u, v, banned_nodes, banned_edges):
                continue
            nd = d + c + hop_toll
            if nd >= best:
                break  # rows are sorted by cost
            if nd < mine.get(v, inf):
                mine[v] = nd
                pred[v] = (u, s)
                heapq.heappush(heaps[side], (nd, v))
                through = other.get(v)
                if through is not None and nd + through < best:
                    best = nd + through
                    meet = v
    if bounds is not None:
        # Settled nodes have their exact distance; any other is at least the radius
        # settled on that side (or unreachable when that side ran out).
        for side in (0, 1):
            bounds.exact[side] = {v: dist[side][v] for v in done[side]}
            bounds.floor[side] = radius[side] if heaps[side] else inf
    if meet < 0:
        return None
    return _join(meet, source, target, parent[0], parent[1])


def _join(
    meet: int,
    source: int,
    target: int,
    forward: dict[int, tuple[int, float]],
    backward: dict[int, tuple[int, float]],
) -> IndexPath:
    nodes = [meet]
    strengths: list[float] = []
    node = meet
    while node != source:
        node, s = forward[node]
        nodes.append(node)
        strengths.append(s)
    nodes.reverse()
    strengths.reverse()
    node = meet
    while node != target:
        node, s = backward[node]
        nodes.append(node)
        strengths.append(s)
    return IndexPath(tuple(nodes), tuple(strengths))


def fewest_hops(
    snap: Snapshot,
    source: int,
    target: int,
    max_hops: int,
    banned_nodes: Collection[int] = NO_NODES,
    banned_edges: Collection[tuple[int, int]] = NO_EDGES,
) -> IndexPath | None:
    """A path with the fewest edges (at most ``max_hops``); the strongest among those."""
    if source == target:
        return IndexPath((source,), ())
    if not banned_nodes and not banned_edges:
        return fewest_hops_vectorized(snap, source, target, max_hops)
    dist = ({source: 0}, {target: 0})
    best = ({source: 1.0}, {target: 1.0})
    parent: tuple[dict[int, tuple[int, float]], dict[int, tuple[int, float]]] = ({}, {})
    frontier: list[list[int]] = [[source], [target]]
    radius = [0, 0]
    while frontier[0] and frontier[1] and radius[0] + radius[1] < max_hops:
        side = 0 if _volume(snap, frontier[0]) <= _volume(snap, frontier[1]) else 1
        mine, strongest, pred = dist[side], best[side], parent[side]
        level = radius[side] + 1
        fresh: list[int] = []
        for u in frontier[side]:
            bu = strongest[u]
            nbrs, strengths, _ = snap.row(u)
            for v, s in zip(nbrs, strengths, strict=True):
                if _banned(u, v, banned_nodes, banned_edges):
                    continue
                dv = mine.get(v)
                if dv is None:
                    mine[v] = level
                    strongest[v] = bu * s
                    pred[v] = (u, s)
                    fresh.append(v)
                elif dv == level and bu * s > strongest[v]:
                    strongest[v] = bu * s
                    pred[v] = (u, s)
        frontier[side] = fresh
        radius[side] = level
        other_dist, other_best = dist[1 - side], best[1 - side]
        meet = -1
        meet_strength = -1.0
        for v in fresh:
            if v in other_dist:
                through = strongest[v] * other_best[v]
                if through > meet_strength:
                    meet, meet_strength = v, through
        if meet >= 0:
            return _join(meet, source, target, parent[0], parent[1])
    return None


def fewest_hops_vectorized(
    snap: Snapshot, source: int, target: int, max_hops: int
) -> IndexPath | None:
    """``fewest_hops`` with each BFS layer expanded by numpy over the CSR (patched rows
    in Python): a hub in a frontier costs a few array operations, not a Python loop
    over its neighbours. Same answers; no banned nodes or edges."""
    if source == target:
        return IndexPath((source,), ())
    n = snap.n
    max_hops = min(max_hops, 30_000)
    dist = (np.full(n, -1, dtype=np.int16), np.full(n, -1, dtype=np.int16))
    best = (np.empty(n, dtype=np.float64), np.empty(n, dtype=np.float64))
    parent = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    via = (np.empty(n, dtype=np.float64), np.empty(n, dtype=np.float64))
    for side, start in ((0, source), (1, target)):
        dist[side][start] = 0
        best[side][start] = 1.0
    frontier = [np.array([source], dtype=np.int64), np.array([target], dtype=np.int64)]
    radius = [0, 0]
    csr_nodes = snap.csr_nodes
    patched = np.fromiter(snap.patch, dtype=np.int64, count=len(snap.patch))
    while frontier[0].size and frontier[1].size and radius[0] + radius[1] < max_hops:
        volumes = [_array_volume(snap, f) for f in frontier]
        side = 0 if volumes[0] <= volumes[1] else 1
        f = frontier[side]
        odd_mask = f >= csr_nodes
        if patched.size:
            odd_mask |= np.isin(f, patched)
        odd: list[int] = f[odd_mask].tolist()
        plain = f[~odd_mask] if odd else f
        starts = snap.indptr[plain]
        lengths = snap.indptr[plain + 1] - starts
        total = int(lengths.sum())
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = np.arange(total, dtype=np.int64) + offsets
        nbrs = snap.indices[positions].astype(np.int64)
        from_ = np.repeat(plain, lengths)
        edge = snap.strength[positions]
        if odd:
            extra_n: list[int] = []
            extra_f: list[int] = []
            extra_s: list[float] = []
            for u in odd:
                row_n, row_s, _ = snap.row(u)
                extra_n += row_n
                extra_f += [u] * len(row_n)
                extra_s += row_s
            nbrs = np.concatenate([nbrs, np.asarray(extra_n, dtype=np.int64)])
            from_ = np.concatenate([from_, np.asarray(extra_f, dtype=np.int64)])
            edge = np.concatenate([edge, np.asarray(extra_s, dtype=np.float64)])
        fresh = dist[side][nbrs] < 0
        nbrs, from_, edge = nbrs[fresh], from_[fresh], edge[fresh]
        through = best[side][from_] * edge
        order = np.lexsort((through, nbrs))
        nbrs, from_, edge, through = nbrs[order], from_[order], edge[order], through[order]
        last = np.ones(nbrs.size, dtype=bool)
        last[:-1] = nbrs[1:] != nbrs[:-1]
        nbrs, from_, edge, through = nbrs[last], from_[last], edge[last], through[last]
        level = radius[side] + 1
        dist[side][nbrs] = level
        best[side][nbrs] = through
        parent[side][nbrs] = from_
        via[side][nbrs] = edge
        frontier[side] = nbrs
        radius[side] = level
        met = nbrs[dist[1 - side][nbrs] >= 0]
        if met.size:
            meet = int(met[np.argmax(best[side][met] * best[1 - side][met])])
            return _join_arrays(meet, source, target, parent, via)
    return None


def _array_volume(snap: Snapshot, frontier: npt.NDArray[np.int64]) -> int:
    inside = frontier[frontier < snap.csr_nodes]
    return int((snap.indptr[inside + 1] - snap.indptr[inside]).sum()) + frontier.size


def _join_arrays(
    meet: int,
    source: int,
    target: int,
    parent: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    via: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> IndexPath:
    nodes = [meet]
    strengths: list[float] = []
    node = meet
    while node != source:
        strengths.append(float(via[0][node]))
        node = int(parent[0][node])
        nodes.append(node)
    nodes.reverse()
    strengths.reverse()
    node = meet
    while node != target:
        strengths.append(float(via[1][node]))
        node = int(parent[1][node])
        nodes.append(node)
    return IndexPath(tuple(nodes), tuple(strengths))


def _volume(snap: Snapshot, frontier: list[int]) -> int:
    if len(frontier) > 64:
        return len(frontier) * 16
    return sum(snap.degree(u) for u in frontier)


def k_strongest(snap: Snapshot, source: int, target: int, k: int, max_hops: int) -> list[IndexPath]:
    """Yen's k strongest loopless paths of at most ``max_hops`` edges, strongest first."""
    first = strongest_path(snap, source, target, max_hops)
    if first is None:
        return []
    found = [first]
    if source == target:
        return found
    candidates: list[tuple[float, int, IndexPath]] = []
    known = {first.nodes}
    tie = 0
    while len(found) < k:
        need = k - len(found)
        previous = found[-1]
        for i in range(len(previous.nodes) - 1):
            spur = previous.nodes[i]
            root = previous.nodes[: i + 1]
            banned_edges: set[tuple[int, int]] = set()
            for path in found:
                if path.nodes[: i + 1] == root and len(path.nodes) > i + 1:
                    a, b = path.nodes[i], path.nodes[i + 1]
                    banned_edges.update(((a, b), (b, a)))
            # A spur path no stronger than `need` candidates already found can never
            # be one of the paths still missing: search only below that cost.
            bound = (
                heapq.nsmallest(need, candidates)[-1][0] if len(candidates) >= need else math.inf
            )
            root_cost = sum(-math.log(s) for s in previous.strengths[:i])
            spur_path = strongest_path(
                snap,
                spur,
                target,
                max_hops - i,
                frozenset(root[:-1]),
                banned_edges,
                max_cost=bound - root_cost,
            )
            if spur_path is None:
                continue
            nodes = root[:-1] + spur_path.nodes
            if nodes in known:
                continue
            known.add(nodes)
            path = IndexPath(nodes, previous.strengths[:i] + spur_path.strengths)
            tie += 1
            heapq.heappush(candidates, (path.cost, tie, path))
        if not candidates:
            break
        found.append(heapq.heappop(candidates)[2])
    return found


def edges_among(snap: Snapshot, nodes: Iterable[int]) -> list[tuple[int, int, float]]:
    """Each edge between two of ``nodes`` once."""
    inside = set(nodes)
    edges: list[tuple[int, int, float]] = []
    for u in inside:
        nbrs, strengths, _ = snap.row(u)
        for v, s in zip(nbrs, strengths, strict=True):
            if u < v and v in inside:
                edges.append((u, v, s))
    return edges
