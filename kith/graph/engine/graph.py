"""``OrgGraph``: one organization's relationship graph in memory.

Layout: a symmetric CSR (each undirected edge stored in both rows) of numpy arrays,
``indptr`` int64 per node, then per stored direction an int32 neighbour, a float64
strength and a float64 cost (-log strength). Changes go to a copy-on-write patch
(neighbour -> strength per touched node) in a new immutable ``Snapshot`` whose
reference is swapped in, so readers in other threads always see one whole version.
When the patch passes ``max(COMPACT_MIN_ENTRIES, COMPACT_FRACTION x stored entries)``
entries it is folded into a fresh CSR.

Memory bound: per edge 2 x (4 + 8 + 8) = 40 bytes; per node 8 bytes of offsets plus the
key and its index entry (a tuple, a UUID and a dict slot: about 330 bytes in CPython),
plus ~100 bytes per patch entry (at most ~2 % of the stored entries before compaction,
so ~1 byte per edge). At 1M nodes / 5M edges: ~200 MB of arrays and ~330 MB of keys,
~0.55 GB in all (``nbytes()`` reports it; the benchmark measures the RSS too).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from kith.graph.engine import search
from kith.graph.engine.model import EdgeChange, Network, NetworkNode, NodeKey, Path
from kith.graph.engine.snapshot import FloatArray, IndexArray, Snapshot, build_csr

COMPACT_MIN_ENTRIES = 65_536
COMPACT_FRACTION = 0.02
# Up to this many targets, strongest_paths_to_many searches each pair from both ends.
TO_MANY_PAIRWISE = 256
# Estimated CPython bytes held per node key: the tuple, the UUID with its int, the
# list slot and the index dict's entry.
KEY_BYTES = 330


def _strength(value: float | None) -> float:
    if value is None:
        return 0.0
    s = float(value)
    if not (0.0 <= s <= 1.0):
        raise ValueError(f"strength must be within 0..1, got {value!r}")
    return s


class OrgGraph:
    """The graph of one organization: query from any thread, change from one at a time."""

    def __init__(self, keys: list[NodeKey], index: dict[NodeKey, int], snapshot: Snapshot):
        # keys/index only grow (under the write lock); a snapshot sees indexes < its n.
        self._keys = keys
        self._index = index
        self._snapshot = snapshot
        self._write = threading.Lock()

    # -- building -----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        keys: Sequence[NodeKey],
        src: npt.ArrayLike,
        dst: npt.ArrayLike,
        strength: npt.ArrayLike,
        version: int,
    ) -> OrgGraph:
        """A graph of ``keys`` with an edge ``keys[src[i]]``-``keys[dst[i]]`` per i.

        Pairs given more than once keep their strongest strength; self-loops and
        strength-0 edges are dropped; strengths outside 0..1 are a ``ValueError``."""
        key_list = list(keys)
        index = {key: i for i, key in enumerate(key_list)}
        if len(index) != len(key_list):
            raise ValueError("duplicate node keys")
        n = len(key_list)
        a = np.asarray(src, dtype=np.int64)
        b = np.asarray(dst, dtype=np.int64)
        s = np.asarray(strength, dtype=np.float64)
        if not (a.shape == b.shape == s.shape) or a.ndim != 1:
            raise ValueError("src, dst and strength must be 1-d arrays of the same length")
        if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
            raise ValueError("edge endpoint out of range of keys")
        if s.size and not (np.all(s >= 0.0) and np.all(s <= 1.0)):
            raise ValueError("strength must be within 0..1")
        keep = (a != b) & (s > 0.0)
        lo = np.minimum(a, b)[keep].astype(np.int32)
        hi = np.maximum(a, b)[keep].astype(np.int32)
        s = s[keep]
        lo, hi, s = _collapse(lo, hi, s)
        indptr, indices, strengths, costs = build_csr(n, lo, hi, s)
        snapshot = Snapshot(n, indptr, indices, strengths, costs, {}, 0, frozenset(), version)
        return cls(key_list, index, snapshot)

    # -- changing -----------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._snapshot.version

    def apply(self, changes: Sequence[EdgeChange], version: int) -> None:
        """Set each pair's strength (``None`` or 0 removes the edge); unknown nodes with
        a positive strength are added. Readers see all of it or none of it."""
        with self._write:
            snap = self._snapshot
            checked = [(c.a, c.b, _strength(c.strength)) for c in changes]
            patch: dict[int, Mapping[int, float]] = dict(snap.patch)
            copied: dict[int, dict[int, float]] = {}
            removed = set(snap.removed)
            n = snap.n
            entries = snap.patch_entries

            def row(i: int) -> dict[int, float]:
                nonlocal entries
                mine = copied.get(i)
                if mine is None:
                    mine = dict(patch.get(i, {}))
                    copied[i] = mine
                    patch[i] = mine
                return mine

            for a_key, b_key, s in checked:
                if a_key == b_key:
                    continue
                a = self._index_for_write(a_key, n, create=s > 0.0)
                b = self._index_for_write(b_key, n, create=s > 0.0)
                if a is None or b is None or a == b:
                    continue
                n = max(n, a + 1, b + 1)
                if s > 0.0:
                    removed.discard(a)
                    removed.discard(b)
                elif a in removed or b in removed:
                    continue
                for x, y in ((a, b), (b, a)):
                    mine = row(x)
                    if y not in mine:
                        entries += 1
                    mine[y] = s
            snapshot = Snapshot(
                n,
                snap.indptr,
                snap.indices,
                snap.strength,
                snap.cost,
                patch,
                entries,
                frozenset(removed),
                version,
            )
            self._snapshot = self._compacted(snapshot)

    def remove_node(self, key: NodeKey) -> None:
        """Drop a node and its edges (e.g. a deleted contact); unknown keys are a
        ``KeyError``."""
        with self._write:
            snap = self._snapshot
            i = self._lookup(snap, key)
            nbrs = snap.row(i)[0]
            patch: dict[int, Mapping[int, float]] = dict(snap.patch)
            entries = snap.patch_entries
            mine = dict(patch.get(i, {}))
            for j in nbrs:
                if j not in mine:
                    entries += 1
                mine[j] = 0.0
                theirs = dict(patch.get(j, {}))
                if i not in theirs:
                    entries += 1
                theirs[i] = 0.0
                patch[j] = theirs
            patch[i] = mine
            snapshot = Snapshot(
                snap.n,
                snap.indptr,
                snap.indices,
                snap.strength,
                snap.cost,
                patch,
                entries,
                snap.removed | {i},
                snap.version,
            )
            self._snapshot = self._compacted(snapshot)

    def compact(self) -> None:
        """Fold the patch into a fresh CSR now."""
        with self._write:
            self._snapshot = _compact(self._snapshot)

    def _compacted(self, snap: Snapshot) -> Snapshot:
        bound = max(COMPACT_MIN_ENTRIES, int(COMPACT_FRACTION * len(snap.indices)))
        return _compact(snap) if snap.patch_entries > bound else snap

    def _index_for_write(self, key: NodeKey, n: int, *, create: bool) -> int | None:
        i = self._index.get(key)
        if i is not None:
            return i
        if not create:
            return None
        i = len(self._keys)
        self._keys.append(key)
        self._index[key] = i
        return i

    # -- reading ------------------------------------------------------------------------

    def _lookup(self, snap: Snapshot, key: NodeKey) -> int:
        i = self._index.get(key)
        if i is None or i >= snap.n or i in snap.removed:
            raise KeyError(key)
        return i

    def has_node(self, key: NodeKey) -> bool:
        snap = self._snapshot
        i = self._index.get(key)
        return i is not None and i < snap.n and i not in snap.removed

    def node_count(self) -> int:
        snap = self._snapshot
        return snap.n - len(snap.removed)

    def degree(self, key: NodeKey) -> int:
        snap = self._snapshot
        return snap.degree(self._lookup(snap, key))

    def neighbors(self, key: NodeKey) -> list[tuple[NodeKey, float]]:
        """Related nodes with the pair's strength, strongest first."""
        snap = self._snapshot
        nbrs, strengths, _ = snap.row(self._lookup(snap, key))
        pairs = sorted(zip(strengths, nbrs, strict=True), key=lambda p: -p[0])
        return [(self._keys[j], s) for s, j in pairs]

    def strength(self, a: NodeKey, b: NodeKey) -> float:
        """The pair's strength now (0.0 when unrelated)."""
        snap = self._snapshot
        return snap.edge_strength(self._lookup(snap, a), self._lookup(snap, b))

    def strongest_paths(
        self, src: NodeKey, dst: NodeKey, k: int = 1, max_hops: int = 6
    ) -> list[Path]:
        """Up to ``k`` loopless paths of at most ``max_hops`` edges, strongest first."""
        _positive(k=k, max_hops=max_hops)
        snap = self._snapshot
        s, t = self._lookup(snap, src), self._lookup(snap, dst)
        return [self._path(p) for p in search.k_strongest(snap, s, t, k, max_hops)]

    def fewest_hops(self, src: NodeKey, dst: NodeKey, max_hops: int = 6) -> Path | None:
        """A path with the fewest edges (the strongest of those), None beyond ``max_hops``."""
        _positive(max_hops=max_hops)
        snap = self._snapshot
        found = search.fewest_hops(snap, self._lookup(snap, src), self._lookup(snap, dst), max_hops)
        return self._path(found) if found is not None else None

    def strongest_paths_to_many(
        self, src: NodeKey, targets: Sequence[NodeKey], max_hops: int = 4
    ) -> dict[NodeKey, Path]:
        """The strongest path (at most ``max_hops`` edges) to each reachable target."""
        _positive(max_hops=max_hops)
        snap = self._snapshot
        s = self._lookup(snap, src)
        wanted = {self._lookup(snap, t) for t in targets}
        if len(wanted) <= TO_MANY_PAIRWISE:
            # A bidirectional search per target meets halfway; one search from the source
            # would settle everything closer than the farthest target (often the org).
            found = {t: search.strongest_path(snap, s, t, max_hops) for t in wanted}
            return {self._keys[t]: self._path(p) for t, p in found.items() if p is not None}
        labels = search.hop_bounded(snap, s, max_hops, targets=wanted).labels
        return {self._keys[t]: self._path(labels[t].path()) for t in wanted if t in labels}

    def network(
        self, center: NodeKey, depth: int, min_strength: float = 0.0, limit: int = 200
    ) -> Network:
        """Nodes within ``depth`` hops over relationships at least ``min_strength`` strong,
        strongest path first, at most ``limit`` of them (the center included)."""
        if depth < 0:
            raise ValueError("depth must be at least 0")
        _positive(limit=limit)
        snap = self._snapshot
        c = self._lookup(snap, center)
        settled = search.hop_bounded(snap, c, depth, limit=limit, min_strength=min_strength)
        keys = self._keys
        nodes = [
            NetworkNode(
                keys[i],
                label.hops,
                label.path_strength(),
                keys[label.parent.node] if label.parent is not None else None,
            )
            for i, label in settled.labels.items()
        ]
        edges = [
            (keys[u], keys[v], s)
            for u, v, s in search.edges_among(snap, settled.labels)
            if s >= min_strength
        ]
        return Network(center, nodes, edges, settled.truncated)

    def nbytes(self) -> int:
        """Estimated resident bytes: the arrays, the patch and the keys with their index."""
        return self._snapshot.nbytes() + KEY_BYTES * len(self._keys)

    def edges(self) -> tuple[list[NodeKey], IndexArray, IndexArray, FloatArray]:
        """The live graph as arrays (``src < dst``, indexes into the returned keys, which
        are the live nodes), e.g. for analytics."""
        snap = self._snapshot
        src, dst, strength = snap.edge_arrays()
        live = np.ones(snap.n, dtype=bool)
        if snap.removed:
            live[list(snap.removed)] = False
        renumber = np.cumsum(live, dtype=np.int64) - 1
        keys = [self._keys[i] for i in np.flatnonzero(live).tolist()]
        return (
            keys,
            renumber[src].astype(np.int32),
            renumber[dst].astype(np.int32),
            strength,
        )

    def _path(self, found: search.IndexPath) -> Path:
        keys = self._keys
        return Path(
            tuple(keys[i] for i in found.nodes),
            found.strengths,
            found.strength,
            len(found.strengths),
        )


def _positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1")


def _collapse(
    lo: IndexArray, hi: IndexArray, strength: FloatArray
) -> tuple[IndexArray, IndexArray, FloatArray]:
    """One edge per pair, the strongest."""
    if lo.size == 0:
        return lo, hi, strength
    order = np.lexsort((strength, hi, lo))
    lo, hi, strength = lo[order], hi[order], strength[order]
    last = np.ones(lo.size, dtype=bool)
    last[:-1] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[last], hi[last], strength[last]


def _compact(snap: Snapshot) -> Snapshot:
    src, dst, strength = snap.edge_arrays()
    indptr, indices, strengths, costs = build_csr(snap.n, src, dst, strength)
    return Snapshot(snap.n, indptr, indices, strengths, costs, {}, 0, snap.removed, snap.version)


def node_key(kind: str, value: uuid.UUID) -> NodeKey:
    """A ``NodeKey`` from its parts (``kind`` is "contact" or "user")."""
    if kind == "contact":
        return ("contact", value)
    if kind == "user":
        return ("user", value)
    raise ValueError(f"unknown node kind {kind!r}")
