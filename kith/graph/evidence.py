"""Evidence that two people know each other, and the registry of its sources.

A piece of :class:`Evidence` says that ``who`` and ``whom`` were in touch in some
way (``kind``), which way (``direction``, seen from ``who``), when, and in which
thread. :mod:`kith.graph.strength` turns a pair's evidence into a strength.

Domains add sources with :func:`register_source` when they are imported (the
interactions domain will add emails, calls and meetings) — the engine and the
formula never change. Today's sources: each relationship's own
``interactionCount``/``lastInteraction`` and declared type (read off the row,
see :func:`relationship_evidence`) and co-membership in a company
(:class:`CompanyCoMembership`).
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from kith.graph import people
from kith.graph.engine.model import NodeKey
from kith.graph.models import NodeKind, Relationship, RelationshipSource, RelationshipType

Pair = tuple[NodeKey, NodeKey]

# Co-membership ties are made only inside companies of at most this many live
# contacts: a company of n contacts would make n(n-1)/2 ties (2,000 contacts: 2M).
# Larger companies add no inferred ties (their people are linked by real evidence).
MAX_COMPANY_SIZE_FOR_TIES = 50


class EvidenceKind(enum.StrEnum):
    DECLARED = "DECLARED"  # a user recorded the relationship (weighted by its type)
    INTERACTION = "INTERACTION"  # counted on the relationship (interactionCount)
    EMAIL = "EMAIL"
    MESSAGE = "MESSAGE"
    CALL = "CALL"
    MEETING = "MEETING"  # co-attendance
    CO_MEMBER = "CO_MEMBER"  # contacts of the same company


class Direction(enum.StrEnum):
    OUTBOUND = "OUTBOUND"  # from ``who`` to ``whom``
    INBOUND = "INBOUND"  # from ``whom`` to ``who``
    MUTUAL = "MUTUAL"  # both took part (a meeting, a declared tie)


@dataclass(frozen=True)
class Evidence:
    who: NodeKey
    whom: NodeKey
    kind: EvidenceKind
    direction: Direction
    at: datetime | None  # None: timeless (declared ties, co-membership)
    thread_id: str | None = None
    # How many occurrences this one record stands for (interactionCount), and the
    # declared type of a DECLARED record.
    count: int = 1
    relationship_type: RelationshipType | None = None


def node_key(kind: NodeKind | str, node_id: uuid.UUID) -> NodeKey:
    return ("user", node_id) if str(kind).upper() == NodeKind.USER else ("contact", node_id)


def pair_of(a: NodeKey, b: NodeKey) -> Pair:
    """The pair in a canonical order (by id), whichever way it was given."""
    return (a, b) if a[1] <= b[1] else (b, a)


def oriented(evidence: Evidence, pair: Pair) -> Direction:
    """``evidence.direction`` seen from the first node of ``pair``."""
    if evidence.direction is Direction.MUTUAL or evidence.who == pair[0]:
        return evidence.direction
    return Direction.INBOUND if evidence.direction is Direction.OUTBOUND else Direction.OUTBOUND


class EvidenceSource(Protocol):
    """A domain's evidence between pairs of people of one organization."""

    name: str

    def for_pairs(
        self, session: Session, organization_id: uuid.UUID, pairs: Sequence[Pair]
    ) -> Iterable[Evidence]:
        """Evidence about these pairs only (incremental recompute)."""

    def all(self, session: Session, organization_id: uuid.UUID) -> Iterable[Evidence]:
        """Every piece of evidence of the organization (periodic full recompute)."""


SOURCES: dict[str, EvidenceSource] = {}


def register_source(source: EvidenceSource) -> None:
    SOURCES[source.name] = source


def relationship_evidence(row: Relationship) -> list[Evidence]:
    """What a relationship row itself says: its declared type (unless the row was
    inferred), and its counted interactions (all dated at ``lastInteraction``;
    undated ones count as a year old)."""
    a = node_key(row.from_kind, row.from_id)
    b = node_key(row.to_kind, row.to_id)
    found: list[Evidence] = []
    # An inferred row declares nothing: only its evidence counts.
    if row.source is not RelationshipSource.INFERRED:
        found.append(
            Evidence(
                a, b, EvidenceKind.DECLARED, Direction.MUTUAL, None, relationship_type=row.type
            )
        )
    if row.interaction_count > 0:
        found.append(
            Evidence(
                a,
                b,
                EvidenceKind.INTERACTION,
                Direction.MUTUAL,
                row.last_interaction,
                count=row.interaction_count,
            )
        )
    return found


def gather(
    session: Session, organization_id: uuid.UUID, pairs: Sequence[Pair]
) -> dict[Pair, list[Evidence]]:
    """Evidence of every registered source about ``pairs``, by canonical pair."""
    wanted = {pair_of(*p) for p in pairs}
    found: dict[Pair, list[Evidence]] = defaultdict(list)
    for source in SOURCES.values():
        for item in source.for_pairs(session, organization_id, sorted(wanted, key=_pair_sort)):
            pair = pair_of(item.who, item.whom)
            if pair in wanted:
                found[pair].append(item)
    return found


def _pair_sort(pair: Pair) -> tuple[uuid.UUID, uuid.UUID]:
    return pair[0][1], pair[1][1]


class CompanyCoMembership:
    """Live contacts of the same company (of at most
    :data:`MAX_COMPANY_SIZE_FOR_TIES` live contacts) weakly know each other."""

    name = "company_co_membership"

    def for_pairs(
        self, session: Session, organization_id: uuid.UUID, pairs: Sequence[Pair]
    ) -> Iterator[Evidence]:
        ids = {k[1] for p in pairs for k in p if k[0] == "contact"}
        if not ids:
            return
        company_of = people.companies_of(session, organization_id, ids)
        sizes = people.company_sizes(session, organization_id, set(company_of.values()))
        for a, b in pairs:
            if a[0] != "contact" or b[0] != "contact":
                continue
            company = company_of.get(a[1])
            if company is None or company != company_of.get(b[1]):
                continue
            if sizes.get(company, 0) <= MAX_COMPANY_SIZE_FOR_TIES:
                yield Evidence(a, b, EvidenceKind.CO_MEMBER, Direction.MUTUAL, None)

    def all(self, session: Session, organization_id: uuid.UUID) -> Iterator[Evidence]:
        for members in people.small_company_members(
            session, organization_id, MAX_COMPANY_SIZE_FOR_TIES
        ):
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    yield Evidence(
                        ("contact", a),
                        ("contact", b),
                        EvidenceKind.CO_MEMBER,
                        Direction.MUTUAL,
                        None,
                    )


register_source(CompanyCoMembership())
