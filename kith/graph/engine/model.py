"""The values the engine takes and returns: node keys, edge changes, paths, networks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

NodeKind = Literal["contact", "user"]
NodeKey = tuple[NodeKind, uuid.UUID]


@dataclass(frozen=True)
class EdgeChange:
    """The effective strength of the pair ``a``-``b`` now; ``None`` when no relationship
    is left between them. Strengths are in (0, 1]; 0 is treated like ``None``."""

    a: NodeKey
    b: NodeKey
    strength: float | None


@dataclass(frozen=True)
class Path:
    """A loopless path: its nodes, the strength of each edge (``len(nodes) - 1``), their
    product and the number of hops."""

    nodes: tuple[NodeKey, ...]
    strengths: tuple[float, ...]
    strength: float
    hops: int


@dataclass(frozen=True)
class NetworkNode:
    """A node of a network: hops and strength of its strongest path from the center
    (within the requested depth), and its predecessor on that path."""

    key: NodeKey
    hops: int
    path_strength: float
    via: NodeKey | None


@dataclass(frozen=True)
class Network:
    """The center first, then nodes by path strength (strongest first); ``edges`` are the
    relationships among the returned nodes; ``truncated`` when ``limit`` cut nodes off."""

    center: NodeKey
    nodes: list[NetworkNode]
    edges: list[tuple[NodeKey, NodeKey, float]]
    truncated: bool
