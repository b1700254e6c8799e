"""How strongly two people know each other, from their evidence.

    strength = 1 - exp(-Σ w(kind) · d(direction) · r(thread) · count · decay(age))

- ``w(kind)``: what one occurrence is worth (:data:`KIND_WEIGHTS`); a declared
  relationship is worth its type's weight (:data:`TYPE_WEIGHTS`: family > friend >
  … > knows).
- ``d(direction)``: a message they sent us (inbound) says more than one we sent
  (outbound); mutual evidence (a meeting both attended) counts fully.
- ``r(thread)``: messages in a thread that went both ways are replies — worth
  :data:`REPLY_BONUS` times a one-way blast.
- ``decay(age) = 0.5 ** (age / half-life)``: evidence fades (half-life by kind,
  :data:`HALF_LIFE_DAYS`); timeless evidence (declared ties, co-membership)
  does not.

The sum saturates into [0, 1): more evidence always means a stronger tie, never
past 1, and the first pieces of evidence move it most. A user's manual strength
replaces the computed one until cleared (:func:`effective`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from kith.graph.evidence import Direction, Evidence, EvidenceKind, Pair, oriented, pair_of
from kith.graph.models import RelationshipType

KIND_WEIGHTS: dict[EvidenceKind, float] = {
    EvidenceKind.DECLARED: 1.0,  # times TYPE_WEIGHTS
    EvidenceKind.INTERACTION: 0.08,
    EvidenceKind.EMAIL: 0.05,
    EvidenceKind.MESSAGE: 0.04,
    EvidenceKind.CALL: 0.12,
    EvidenceKind.MEETING: 0.15,
    EvidenceKind.CO_MEMBER: 0.05,
}

TYPE_WEIGHTS: dict[RelationshipType, float] = {
    RelationshipType.FAMILY: 0.6,
    RelationshipType.FRIEND: 0.45,
    RelationshipType.BUSINESS_PARTNER: 0.35,
    RelationshipType.MENTOR: 0.35,
    RelationshipType.REPORTS_TO: 0.3,
    RelationshipType.COLLEAGUE: 0.2,
    RelationshipType.CLIENT: 0.2,
    RelationshipType.INVESTOR: 0.2,
    RelationshipType.INTRODUCED_BY: 0.15,
    RelationshipType.ALUMNI: 0.1,
    RelationshipType.KNOWS: 0.1,
}

DIRECTION_WEIGHTS: dict[Direction, float] = {
    Direction.OUTBOUND: 0.6,
    Direction.INBOUND: 0.8,
    Direction.MUTUAL: 1.0,
}

REPLY_BONUS = 1.5

HALF_LIFE_DAYS: dict[EvidenceKind, float] = {
    EvidenceKind.INTERACTION: 180.0,
    EvidenceKind.EMAIL: 120.0,
    EvidenceKind.MESSAGE: 90.0,
    EvidenceKind.CALL: 180.0,
    EvidenceKind.MEETING: 365.0,
}

# Counted interactions without a date are taken to be this old.
UNDATED_AGE_DAYS = 365.0


def decay(kind: EvidenceKind, at: datetime | None, now: datetime) -> float:
    half_life = HALF_LIFE_DAYS.get(kind)
    if half_life is None:
        return 1.0
    age_days = UNDATED_AGE_DAYS if at is None else max(0.0, (now - at).total_seconds() / 86400)
    return float(0.5 ** (age_days / half_life))


def _weight(item: Evidence) -> float:
    weight = KIND_WEIGHTS[item.kind]
    if item.kind is EvidenceKind.DECLARED:
        weight *= TYPE_WEIGHTS.get(item.relationship_type or RelationshipType.KNOWS, 0.1)
    return weight


def score(evidence: Iterable[Evidence], now: datetime) -> float:
    """Σ of the weighted, decayed evidence of one pair (before saturation)."""
    items = list(evidence)
    if not items:
        return 0.0
    pair: Pair = pair_of(items[0].who, items[0].whom)
    both_ways: dict[str, set[Direction]] = defaultdict(set)
    for item in items:
        if item.thread_id is not None:
            both_ways[item.thread_id].add(oriented(item, pair))
    total = 0.0
    for item in items:
        direction = oriented(item, pair)
        value = _weight(item) * DIRECTION_WEIGHTS[direction] * max(item.count, 0)
        if item.thread_id is not None:
            seen = both_ways[item.thread_id]
            if Direction.MUTUAL in seen or {Direction.INBOUND, Direction.OUTBOUND} <= seen:
                value *= REPLY_BONUS
        total += value * decay(item.kind, item.at, now)
    return total


def strength(evidence: Iterable[Evidence], now: datetime) -> float:
    """The computed strength of one pair, in [0, 1)."""
    return 1.0 - math.exp(-score(evidence, now))


def effective(computed: float, manual: float | None) -> float:
    """What the graph uses: the user's value wins until cleared (None)."""
    return computed if manual is None else manual
