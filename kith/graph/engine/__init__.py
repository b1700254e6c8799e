"""The relationship-graph engine: pure computation over an organization's graph (no
database, no HTTP). The graph domain builds an ``OrgGraph`` from its tables, keeps it
current with ``apply``/``remove_node`` and asks it for paths and networks; batch
analytics (PageRank, betweenness, Leiden) are in ``kith.graph.engine.analytics``."""

from kith.graph.engine.graph import OrgGraph, node_key
from kith.graph.engine.model import EdgeChange, Network, NetworkNode, NodeKey, NodeKind, Path

__all__ = [
    "EdgeChange",
    "Network",
    "NetworkNode",
    "NodeKey",
    "NodeKind",
    "OrgGraph",
    "Path",
    "node_key",
]
