"""The strength formula's properties (Hypothesis) and the evidence sources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from kith.graph import evidence, strength
from kith.graph.evidence import Direction, Evidence, EvidenceKind
from kith.graph.models import RelationshipType
from tests.graph.conftest import GRAPH, World

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
A = ("contact", uuid.UUID(int=1))
B = ("contact", uuid.UUID(int=2))

kinds = st.sampled_from(list(EvidenceKind))
directions = st.sampled_from(list(Direction))
ages = st.floats(min_value=0, max_value=3650, allow_nan=False)
threads = st.one_of(st.none(), st.sampled_from(["t1", "t2", "t3"]))


@st.composite
def items(draw: st.DrawFn) -> Evidence:
    who, whom = draw(st.sampled_from([(A, B), (B, A)]))
    kind = draw(kinds)
    return Evidence(
        who,
        whom,
        kind,
        draw(directions),
        NOW - timedelta(days=draw(ages)),
        draw(threads),
        count=draw(st.integers(min_value=1, max_value=20)),
        relationship_type=draw(st.sampled_from(list(RelationshipType)))
        if kind is EvidenceKind.DECLARED
        else None,
    )


@given(st.lists(items(), max_size=12))
def test_strength_is_within_zero_and_one(found: list[Evidence]) -> None:
    value = strength.strength(found, NOW)
    assert 0.0 <= value <= 1.0
    assert (value == 0.0) == (strength.score(found, NOW) == 0.0)


@given(st.lists(items(), max_size=10), items())
def test_more_evidence_never_weakens_a_tie(found: list[Evidence], extra: Evidence) -> None:
    assert strength.strength([*found, extra], NOW) >= strength.strength(found, NOW)


@given(st.lists(items(), min_size=1, max_size=10), st.floats(min_value=1, max_value=2000))
def test_evidence_fades_with_age(found: list[Evidence], days: float) -> None:
    older = [
        Evidence(
            e.who,
            e.whom,
            e.kind,
            e.direction,
            e.at - timedelta(days=days),
            e.thread_id,
            e.count,
            e.relationship_type,
        )
        for e in found
    ]
    before, after = strength.score(found, NOW), strength.score(older, NOW)
    assert after <= before
    if any(e.kind in strength.HALF_LIFE_DAYS for e in found):
        assert after < before


@given(st.integers(min_value=1, max_value=15), st.sampled_from(["EMAIL", "MESSAGE", "CALL"]))
def test_replies_both_ways_beat_a_one_way_blast(pairs: int, kind_name: str) -> None:
    kind = EvidenceKind(kind_name)
    at = NOW - timedelta(days=3)
    blast = [Evidence(A, B, kind, Direction.OUTBOUND, at, f"t{i}") for i in range(2 * pairs)]
    replies = [
        Evidence(A, B, kind, direction, at, f"t{i}")
        for i in range(pairs)
        for direction in (Direction.OUTBOUND, Direction.INBOUND)
    ]
    assert strength.strength(replies, NOW) > strength.strength(blast, NOW)


@given(st.lists(items(), max_size=10))
def test_strength_does_not_depend_on_who_is_who(found: list[Evidence]) -> None:
    flip = {Direction.OUTBOUND: Direction.INBOUND, Direction.INBOUND: Direction.OUTBOUND}
    mirrored = [
        Evidence(
            e.whom,
            e.who,
            e.kind,
            flip.get(e.direction, e.direction),
            e.at,
            e.thread_id,
            e.count,
            e.relationship_type,
        )
        for e in found
    ]
    assert strength.strength(mirrored, NOW) == pytest.approx(strength.strength(found, NOW))


@settings(max_examples=50)
@given(st.floats(min_value=0, max_value=1), st.one_of(st.none(), st.floats(0, 1)))
def test_a_manual_strength_wins_until_cleared(computed: float, manual: float | None) -> None:
    assert strength.effective(computed, manual) == (computed if manual is None else manual)


def test_closer_types_are_stronger() -> None:
    def declared(kind: RelationshipType) -> float:
        return strength.strength(
            [Evidence(A, B, EvidenceKind.DECLARED, Direction.MUTUAL, None, relationship_type=kind)],
            NOW,
        )

    assert declared(RelationshipType.FAMILY) > declared(RelationshipType.FRIEND)
    assert declared(RelationshipType.FRIEND) > declared(RelationshipType.COLLEAGUE)
    assert declared(RelationshipType.COLLEAGUE) > declared(RelationshipType.KNOWS)


def test_interactions_raise_the_computed_strength(client: TestClient, world: World) -> None:
    a, b, c = world.contact("Ann"), world.contact("Ben"), world.contact("Cy")
    quiet = world.relate(a, b, type="KNOWS")
    busy = world.relate(a, c, type="KNOWS", interactionCount=12, lastInteraction=NOW.isoformat())
    assert busy["computedStrength"] > quiet["computedStrength"] > 0


def test_company_co_membership_makes_weak_ties_only_in_small_companies(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kith.graph import service

    monkeypatch.setattr(evidence, "MAX_COMPANY_SIZE_FOR_TIES", 3)
    headers = world.tenant.admin.headers
    small = client.post("/api/v1/companies", json={"name": "Small Co"}, headers=headers).json()
    big = client.post("/api/v1/companies", json={"name": "Big Co"}, headers=headers).json()
    smalls = [world.contact(f"S{i} Small", companyId=small["id"]) for i in range(3)]
    for i in range(4):
        world.contact(f"B{i} Big", companyId=big["id"])

    database = world.tenant.factory.database
    with database.transaction() as session:
        stats = service.recompute_all(session, world.tenant.organization_id)
    assert stats["inferredAdded"] == 3  # the three pairs of the small company, none of the big
    inferred = client.get(
        f"{GRAPH}/relationships", params={"source": "INFERRED"}, headers=headers
    ).json()
    assert inferred["totalCount"] == 3
    for row in inferred["data"]:
        assert row["type"] == "COLLEAGUE"
        assert {row["fromId"], row["toId"]} <= set(smalls)
        assert 0 < row["strength"] < 0.1

    # A contact leaving the company loses its inferred ties on the next recompute.
    client.patch(f"/api/v1/contacts/{smalls[0]}", json={"companyId": None}, headers=headers)
    with database.transaction() as session:
        stats = service.recompute_all(session, world.tenant.organization_id)
    assert stats["inferredDropped"] == 2
    left = client.get(f"{GRAPH}/relationships", params={"source": "INFERRED"}, headers=headers)
    assert left.json()["totalCount"] == 1


def test_evidence_landing_recomputes_and_infers(client: TestClient, world: World) -> None:
    """The hook the interactions domain calls when an email or meeting is logged."""
    from kith.graph import service

    a, b = world.contact("Eva"), world.contact("Finn")
    key_a, key_b = ("contact", uuid.UUID(a)), ("contact", uuid.UUID(b))

    class Emails:
        name = "test_emails"

        def for_pairs(self, session, organization_id, pairs):  # type: ignore[no-untyped-def]
            return [
                Evidence(key_a, key_b, EvidenceKind.EMAIL, Direction.OUTBOUND, NOW, "x"),
                Evidence(key_b, key_a, EvidenceKind.EMAIL, Direction.OUTBOUND, NOW, "x"),
            ]

        def all(self, session, organization_id):  # type: ignore[no-untyped-def]
            return []

    evidence.register_source(Emails())
    try:
        with world.tenant.factory.database.transaction() as session:
            version = service.evidence_landed(
                session, world.tenant.organization_id, [(key_a, key_b)]
            )
        assert version > 0
        rows = client.get(
            f"{GRAPH}/relationships", params={"contactId": a}, headers=world.tenant.admin.headers
        ).json()["data"]
        assert len(rows) == 1
        assert rows[0]["source"] == "INFERRED"
        assert rows[0]["type"] == "KNOWS"
        assert rows[0]["strength"] > 0
        path = world.get("/path", **{"from": a, "to": b}).json()
        assert path["paths"][0]["hops"] == 1
    finally:
        evidence.SOURCES.pop("test_emails", None)


def test_full_recompute_in_small_batches_and_reload_when_large(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kith.graph import changelog, service

    monkeypatch.setattr(service, "RECOMPUTE_BATCH", 2)
    headers = world.tenant.admin.headers
    company = client.post("/api/v1/companies", json={"name": "Tiny"}, headers=headers).json()
    members = [world.contact(f"T{i} Tiny", companyId=company["id"]) for i in range(4)]
    declared = world.relate(members[0], members[1], type="FRIEND")
    org = world.tenant.organization_id
    with world.tenant.factory.database.transaction() as session:
        stats = service.recompute_all(session, org)
    # Six pairs in the company; one already has a (declared) relationship.
    assert stats["inferredAdded"] == 5
    friend = client.get(f"{GRAPH}/relationships/{declared['id']}", headers=headers).json()
    # The recompute agrees with the computation at creation (co-membership included).
    assert friend["computedStrength"] == pytest.approx(declared["computedStrength"])
    outsider = world.relate(world.contact("Out"), world.contact("Side"), type="FRIEND")
    assert declared["computedStrength"] > outsider["computedStrength"]

    monkeypatch.setattr(service, "RELOAD_ABOVE", 1)
    client.patch(f"/api/v1/contacts/{members[3]}", json={"companyId": None}, headers=headers)
    with world.tenant.factory.database.transaction() as session:
        stats = service.recompute_all(session, org)
        state = changelog.state(session, org)
    assert stats["inferredDropped"] == 3
    assert state.floor == state.version  # too many changes to log: processes rebuild
