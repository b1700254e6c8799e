"""One immutable version of an organization's graph: a symmetric CSR built once, plus a
small patch of edges changed since, plus the set of removed nodes.

Readers take a reference to a ``Snapshot`` and use only it, so a query never sees half of
a change; a writer builds a new ``Snapshot`` (sharing the CSR arrays) and swaps it in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# A patch row maps a neighbour to the pair's strength now; 0.0 means "no edge any more"
# (masking the CSR entry). Rows are symmetric: patch[a][b] is set whenever patch[b][a] is.
PatchRow = Mapping[int, float]

IndexArray = npt.NDArray[np.int32]
OffsetArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """``n`` nodes are addressable (indexes ``0..n-1``); the CSR covers the first
    ``len(indptr) - 1`` of them, nodes added later live in the patch only."""

    n: int
    indptr: OffsetArray
    indices: IndexArray
    strength: FloatArray
    cost: FloatArray  # -log(strength), the Dijkstra weight
    patch: Mapping[int, PatchRow]
    patch_entries: int
    removed: frozenset[int]
    version: int

    @property
    def csr_nodes(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> tuple[list[int], list[float], list[float]]:
        """Neighbours of ``i`` with the strength and cost of each edge."""
        if i < self.csr_nodes:
            lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
            nbrs: list[int] = self.indices[lo:hi].tolist()
            strengths: list[float] = self.strength[lo:hi].tolist()
            costs: list[float] = self.cost[lo:hi].tolist()
        else:
            nbrs, strengths, costs = [], [], []
        patch = self.patch.get(i)
        if patch is None:
            return nbrs, strengths, costs
        out_n: list[int] = []
        out_s: list[float] = []
        out_c: list[float] = []
        for j, s, c in zip(nbrs, strengths, costs, strict=True):
            if j not in patch:
                out_n.append(j)
                out_s.append(s)
                out_c.append(c)
        for j, s in patch.items():
            if s > 0.0:
                out_n.append(j)
                out_s.append(s)
                out_c.append(-math.log(s))
        # Rows are sorted by cost (strongest first), like the CSR's.
        order = sorted(range(len(out_n)), key=out_c.__getitem__)
        return [out_n[i] for i in order], [out_s[i] for i in order], [out_c[i] for i in order]

    def degree(self, i: int) -> int:
        if i not in self.patch and i < self.csr_nodes:
            return int(self.indptr[i + 1] - self.indptr[i])
        return len(self.row(i)[0])

    def edge_strength(self, a: int, b: int) -> float:
        """The strength of ``a``-``b`` now, 0.0 when they are not related."""
        patch = self.patch.get(a)
        if patch is not None and b in patch:
            return patch[b]
        if a < self.csr_nodes:
            lo, hi = int(self.indptr[a]), int(self.indptr[a + 1])
            row = self.indices[lo:hi]
            at = np.flatnonzero(row == b)
            if at.size:
                return float(self.strength[lo + int(at[0])])
        return 0.0

    def nbytes(self) -> int:
        arrays = self.indptr.nbytes + self.indices.nbytes + self.strength.nbytes
        # A patch entry is a dict slot (~100 bytes with its boxed int and float).
        return arrays + self.cost.nbytes + 100 * self.patch_entries + 64 * len(self.removed)

    def edge_arrays(self) -> tuple[IndexArray, IndexArray, FloatArray]:
        """Every live edge once (``src < dst``), CSR and patch merged."""
        rows = np.repeat(np.arange(self.csr_nodes, dtype=np.int32), np.diff(self.indptr))
        upper = rows < self.indices
        if self.patch:
            patched = np.zeros(self.csr_nodes, dtype=bool)
            inside = [i for i in self.patch if i < self.csr_nodes]
            patched[inside] = True
            upper &= ~patched[rows]
        src = [rows[upper]]
        dst = [self.indices[upper]]
        strength = [self.strength[upper]]
        extra_src: list[int] = []
        extra_dst: list[int] = []
        extra_s: list[float] = []
        for i in self.patch:
            nbrs, strengths, _ = self.row(i)
            for j, s in zip(nbrs, strengths, strict=True):
                # Both ends patched: take it once, from the lower index. One end
                # patched: the unpatched end's CSR row kept it above when that end is
                # the lower index; otherwise take it here.
                if j in self.patch:
                    if i < j:
                        extra_src.append(i)
                        extra_dst.append(j)
                        extra_s.append(s)
                elif j > i:
                    extra_src.append(i)
                    extra_dst.append(j)
                    extra_s.append(s)
        src.append(np.asarray(extra_src, dtype=np.int32))
        dst.append(np.asarray(extra_dst, dtype=np.int32))
        strength.append(np.asarray(extra_s, dtype=np.float64))
        return np.concatenate(src), np.concatenate(dst), np.concatenate(strength)


def build_csr(
    n: int, src: IndexArray, dst: IndexArray, strength: FloatArray
) -> tuple[OffsetArray, IndexArray, FloatArray, FloatArray]:
    """Symmetric CSR of the undirected edges ``src``-``dst`` (each given once, no
    duplicates): offsets, neighbour indexes, strengths and costs, each row sorted by
    cost (strongest first)."""
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src]).astype(np.int32, copy=False)
    values = np.concatenate([strength, strength])
    with np.errstate(divide="ignore"):
        order = np.lexsort((-np.log(values), rows))
    counts = np.bincount(rows, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = cols[order]
    strengths = values[order]
    with np.errstate(divide="ignore"):
        costs = -np.log(strengths)
    return indptr, indices, strengths, costs
