"""Graph reads: the network around a contact, strongest and fewest-hops paths,
warm paths into a company — with the RBAC rule applied to every node returned.

RBAC: you may only ask about contacts you may see (others are a 404). Paths and
networks may pass through contacts you may not see (a colleague's contact):
such a contact is returned masked — ``{"masked": true, "label": "a contact of
<owner name>", "ownerId": ...}`` — never its id, name, email or phone.

Staleness: each query reads the organization's graph version first
(:mod:`kith.graph.cache`), so every committed relationship change is in the next
query of any process. A contact deleted since the graph was built is dropped
from the cached graph the moment a query meets it, and the query is re-run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.errors import NotFound, ServiceUnavailable
from kith.graph import people
from kith.graph.cache import current_graph
from kith.graph.engine.graph import OrgGraph
from kith.graph.engine.model import Network, NodeKey, Path
from kith.graph.models import NodeKind
from kith.graph.schemas import (
    CompanyPathOut,
    NetworkEdgeOut,
    NetworkNodeOut,
    NetworkOut,
    NodeOut,
    PathOut,
    PathResult,
)

MAX_HOPS = 6
COMPANY_PATH_HOPS = 4
# A company's contacts considered for warm paths (the strongest paths to all of
# them come from one bounded search).
COMPANY_CONTACT_LIMIT = 2000
RETRIES = 5

T = TypeVar("T")


class _Stale(Exception):
    """A node of the answer is gone from the database (deleted since the graph was built)."""


@dataclass
class NodeView:
    """Resolves node keys to what the caller may see of them."""

    session: Session
    principal: Principal
    # Contacts shown in full although the caller may not see them (the target of
    # an introduction, to the person asked to make it).
    reveal: frozenset[uuid.UUID] = frozenset()

    def __post_init__(self) -> None:
        self._out: dict[NodeKey, NodeOut] = {}

    def load(self, graph: OrgGraph | None, keys: Iterable[NodeKey]) -> None:
        """Resolve ``keys``; a contact no longer live is removed from ``graph`` and
        the caller's query must be run again (:class:`_Stale`). Without a graph
        (stored paths), people who are gone are shown as such."""
        keys = [k for k in set(keys) if k not in self._out]
        if not keys:
            return
        org = self.principal.organization_id
        contact_ids = [k[1] for k in keys if k[0] == "contact"]
        user_ids = [k[1] for k in keys if k[0] == "user"]
        contacts = people.contacts_by_id(self.session, org, contact_ids)
        users = people.users_by_id(self.session, org, user_ids)
        gone = [k for k in keys if (contacts if k[0] == "contact" else users).get(k[1]) is None]
        if gone and graph is None:
            for key in gone:
                self._out[key] = NodeOut(
                    kind=NodeKind.CONTACT if key[0] == "contact" else NodeKind.USER,
                    masked=True,
                    label="no longer in Kith",
                )
            keys = [k for k in keys if k not in gone]
        elif gone:
            for key in gone:
                if graph is not None and graph.has_node(key):
                    graph.remove_node(key)
            raise _Stale()
        seen = people.visible_contact_ids(self.session, self.principal, contact_ids)
        seen |= self.reveal & set(contact_ids)
        owners = people.user_names(
            self.session,
            org,
            {c.owner_id for i, c in contacts.items() if i not in seen and c.owner_id},
        )
        for key in keys:
            if key[0] == "user":
                user = users[key[1]]
                self._out[key] = NodeOut(kind=NodeKind.USER, id=user.id, name=user.name)
                continue
            contact = contacts[key[1]]
            if contact.id in seen:
                self._out[key] = NodeOut(
                    kind=NodeKind.CONTACT,
                    id=contact.id,
                    name=contact.name,
                    company_id=contact.company_id,
                    company=contact.company,
                    position=contact.position,
                    owner_id=contact.owner_id,
                )
            else:
                owner = owners.get(contact.owner_id) if contact.owner_id else None
                self._out[key] = NodeOut(
                    kind=NodeKind.CONTACT,
                    masked=True,
                    label=f"a contact of {owner}" if owner else "a contact of the organization",
                    owner_id=contact.owner_id,
                )

    def node(self, key: NodeKey) -> NodeOut:
        return self._out[key]

    def path(self, path: Path) -> PathOut:
        return PathOut(
            nodes=[self._out[k] for k in path.nodes],
            strengths=list(path.strengths),
            strength=path.strength,
            hops=path.hops,
        )


def _key(kind: NodeKind, node_id: uuid.UUID) -> NodeKey:
    return ("user", node_id) if kind is NodeKind.USER else ("contact", node_id)


def require_contact(session: Session, principal: Principal, contact_id: uuid.UUID) -> NodeKey:
    if not people.visible_contact_ids(session, principal, [contact_id]):
        raise NotFound("Contact not found.")
    return ("contact", contact_id)


def require_node(session: Session, principal: Principal, node_id: uuid.UUID) -> NodeKey:
    """A visible live contact, or a member of the organization; else 404."""
    if people.visible_contact_ids(session, principal, [node_id]):
        return ("contact", node_id)
    if people.users_by_id(session, principal.organization_id, [node_id]):
        return ("user", node_id)
    raise NotFound("Contact or user not found.")


def network(
    session: Session,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    depth: int,
    min_strength: float,
    limit: int,
) -> NetworkOut:
    """Nodes within ``depth`` hops, strongest path first, at most ``limit``."""
    center = require_contact(session, principal, contact_id)
    view = NodeView(session, principal)
    for _ in range(RETRIES):
        graph = current_graph(session, principal.organization_id)
        if not graph.has_node(center):  # no relationships: the center alone
            view.load(graph, [center])
            alone = NetworkNodeOut(node=view.node(center), hops=0, path_strength=1.0)
            return NetworkOut(
                center=view.node(center), depth=depth, nodes=[alone], edges=[], truncated=False
            )
        found: Network = graph.network(center, depth, min_strength=min_strength, limit=limit)
        try:
            view.load(graph, [n.key for n in found.nodes])
        except _Stale:
            continue
        position = {n.key: i for i, n in enumerate(found.nodes)}
        return NetworkOut(
            center=view.node(center),
            depth=depth,
            nodes=[
                NetworkNodeOut(
                    node=view.node(n.key),
                    hops=n.hops,
                    path_strength=n.path_strength,
                    via=position.get(n.via) if n.via is not None else None,
                )
                for n in found.nodes
            ],
            edges=[
                NetworkEdgeOut(source=position[a], target=position[b], strength=s)
                for a, b, s in found.edges
                if a in position and b in position
            ],
            truncated=found.truncated,
        )
    raise _gave_up()


def paths(
    session: Session,
    principal: Principal,
    from_id: uuid.UUID | None,
    to_id: uuid.UUID,
    *,
    k: int,
    max_hops: int = MAX_HOPS,
) -> PathResult:
    """The ``k`` strongest paths (product of strengths) and the fewest-hops path.
    Without ``from_id`` (or with a user id) the paths start at a user: "through
    anyone I know"."""
    source: NodeKey = (
        ("user", principal.user_id)
        if from_id is None
        else require_node(session, principal, from_id)
    )
    target = require_node(session, principal, to_id)
    view = NodeView(session, principal)
    for _ in range(RETRIES):
        graph = current_graph(session, principal.organization_id)
        strongest: list[Path] = []
        fewest: Path | None = None
        if source != target and graph.has_node(source) and graph.has_node(target):
            strongest = graph.strongest_paths(source, target, k=k, max_hops=max_hops)
            fewest = graph.fewest_hops(source, target, max_hops=max_hops)
        keys = {source, target}
        for path in [*strongest, *([fewest] if fewest else [])]:
            keys.update(path.nodes)
        try:
            view.load(graph, keys)
        except _Stale:
            continue
        return PathResult(
            from_node=view.node(source),
            to=view.node(target),
            paths=[view.path(p) for p in strongest],
            fewest_hops=view.path(fewest) if fewest else None,
        )
    raise _gave_up()


def strongest_from(
    session: Session,
    principal: Principal,
    source: NodeKey,
    targets: Sequence[NodeKey],
    *,
    max_hops: int = COMPANY_PATH_HOPS,
) -> tuple[dict[NodeKey, Path], NodeView]:
    """The strongest path from ``source`` to each target it reaches, with the
    nodes resolved for the caller."""
    view = NodeView(session, principal)
    for _ in range(RETRIES):
        graph = current_graph(session, principal.organization_id)
        found: dict[NodeKey, Path] = {}
        present = [t for t in targets if graph.has_node(t)]
        if graph.has_node(source) and present:
            found = graph.strongest_paths_to_many(source, present, max_hops=max_hops)
        keys = {source, *targets}
        for path in found.values():
            keys.update(path.nodes)
        try:
            view.load(graph, keys)
        except _Stale:
            continue
        return found, view
    raise _gave_up()


def company_paths(
    session: Session, principal: Principal, company_id: uuid.UUID
) -> list[CompanyPathOut]:
    """Every live contact of the company (masked when you may not see it) with the
    strongest path from your own user node, best first; unreachable ones last."""
    org = principal.organization_id
    system = Principal.system(org)
    contact_ids = people.company_contacts(session, system, company_id, COMPANY_CONTACT_LIMIT)
    me: NodeKey = ("user", principal.user_id)
    targets: list[NodeKey] = [("contact", i) for i in contact_ids]
    found, view = strongest_from(session, principal, me, targets)
    rows = [
        CompanyPathOut(contact=view.node(t), path=view.path(found[t]) if t in found else None)
        for t in targets
    ]
    order = {t: i for i, t in enumerate(targets)}
    rows_with_keys = sorted(
        zip(targets, rows, strict=True),
        key=lambda item: (
            -(found[item[0]].strength if item[0] in found else -1.0),
            found[item[0]].hops if item[0] in found else MAX_HOPS + 1,
            order[item[0]],
        ),
    )
    return [row for _, row in rows_with_keys]


def _gave_up() -> Exception:
    return ServiceUnavailable("The graph is changing too fast; try again.", retry_after=1)
