"""Each process keeps the graphs it has built, per (database, organization).

Every graph request first reads the organization's version (one primary-key
query, :func:`kith.graph.changelog.state`). Equal: the cached graph answers.
Behind: the change log since the cached version is applied (a few rows), or the
graph is rebuilt when the log was pruned past it. So the first graph query
after a commit — in any process — sees the change.

Memory bound: the cache holds graphs up to :data:`MAX_CACHE_BYTES` in all (by the
engine's own estimate, ``OrgGraph.nbytes``); the least recently used
organization's graph is dropped first. A single graph larger than the bound is
still kept (it is the one being queried)."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kith.graph import changelog
from kith.graph.engine.graph import OrgGraph
from kith.graph.loader import load_graph

MAX_CACHE_BYTES = 1_500_000_000


@dataclass
class _Entry:
    graph: OrgGraph
    lock: threading.Lock = field(default_factory=threading.Lock)


class GraphCache:
    """The graphs of one database in this process."""

    def __init__(self, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # full builds, for tests and metrics

    def graph(self, session: Session, organization_id: uuid.UUID) -> OrgGraph:
        """The organization's graph as of the latest committed change."""
        current = changelog.state(session, organization_id)
        with self._lock:
            entry = self._entries.get(organization_id)
            if entry is None:
                entry = _Entry(graph=None)  # type: ignore[arg-type]
                self._entries[organization_id] = entry
            self._entries.move_to_end(organization_id)
        with entry.lock:
            graph = entry.graph
            if graph is not None and graph.version == current.version:
                return graph
            if graph is not None and graph.version < current.version:
                changes = changelog.since(session, organization_id, graph.version, current)
                if changes is not None:
                    for change in changes:
                        graph.apply(change.edges, change.version)
                        for node in change.removed:
                            if graph.has_node(node):
                                graph.remove_node(node)
                    if graph.version != current.version:  # versions without rows
                        graph.apply([], current.version)
                    return graph
            entry.graph = load_graph(session, organization_id)
            self.loads += 1
        self._evict(keep=organization_id)
        return entry.graph

    def forget(self, organization_id: uuid.UUID) -> None:
        with self._lock:
            self._entries.pop(organization_id, None)

    def nbytes(self) -> int:
        return sum(e.graph.nbytes() for e in list(self._entries.values()) if e.graph is not None)

    def _evict(self, keep: uuid.UUID) -> None:
        with self._lock:
            total = sum(e.graph.nbytes() for e in self._entries.values() if e.graph is not None)
            for org in list(self._entries):
                if total <= self.max_bytes:
                    break
                if org == keep:
                    continue
                entry = self._entries.pop(org)
                if entry.graph is not None:
                    total -= entry.graph.nbytes()


# One cache per database connection target of this process (an Engine; in the
# test harness, the test's connection), so two Database objects behave like two
# processes.
_caches: weakref.WeakKeyDictionary[Any, GraphCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(session: Session) -> GraphCache:
    bind = session.get_bind()
    with _caches_lock:
        cache = _caches.get(bind)
        if cache is None:
            cache = GraphCache()
            _caches[bind] = cache
        return cache


def current_graph(session: Session, organization_id: uuid.UUID) -> OrgGraph:
    """The graph a request queries (see the module docstring for freshness)."""
    return cache_for(session).graph(session, organization_id)
