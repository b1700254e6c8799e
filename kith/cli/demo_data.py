"""Demo data for ``kith demo``: a few hundred people, their companies and who knows whom,
written through the contacts and graph services like any API client's data (search
index, duplicate keys, events and the graph all follow).

The people come from the generator the duplicate benchmark uses, so the demo holds
realistic damage too: a few people appear twice (a nickname, a typo, a new address),
which fills the duplicate review queue on the first scan."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice, pairwise

from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.contacts import service as contacts
from kith.contacts.dedupe.generate import generate_population
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.normalize import NormalizationError, normalize_phone
from kith.contacts.schemas import AddressIn, ContactIn, EmailIn, PhoneIn
from kith.errors import DomainError
from kith.graph import service as graph
from kith.graph.models import RelationshipType
from kith.graph.schemas import RelationshipIn

DEMO_SEED = 20261208
POSITIONS = (
    "CEO",
    "CTO",
    "Head of Sales",
    "Account Executive",
    "Marketing Manager",
    "Product Manager",
    "Engineer",
    "Office Manager",
    "CFO",
    "Consultant",
)
TAGS = ("vip", "newsletter", "decision-maker", "partner", "event-2026", "referral")
SOURCES = ("qr-card", "website", "event", "referral", "import")
STATUS_WEIGHTS = {"LEAD": 5, "PROSPECT": 3, "CUSTOMER": 2, "INACTIVE": 1}


@dataclass(frozen=True)
class DemoSummary:
    contacts: int
    relationships: int
    skipped: int


def contact_in(record: MatchRecord, rng: random.Random) -> ContactIn:
    """What an API client would send for one generated person."""
    address = (
        [
            AddressIn(
                label="work",
                street=record.street or None,
                city=record.city or None,
                postcode=record.postcode or None,
                country=record.country or None,
            )
        ]
        if record.street or record.city or record.postcode
        else None
    )
    statuses = list(STATUS_WEIGHTS)
    return ContactIn(
        first_name=record.first_name or None,
        last_name=record.last_name or None,
        emails=[EmailIn(email=e, primary=i == 0) for i, e in enumerate(record.emails)] or None,
        phones=[PhoneIn(number=p, primary=i == 0) for i, p in enumerate(_dialable(record))] or None,
        company=record.company or None,
        position=rng.choice(POSITIONS) if record.company else None,
        status=rng.choices(statuses, weights=list(STATUS_WEIGHTS.values()))[0],
        lead_score=rng.randint(5, 95),
        source=rng.choice(SOURCES),
        tags=rng.sample(TAGS, k=rng.choice((0, 1, 1, 2))) or None,
        addresses=address,
        birthday=record.birthday or None,
    )


def _dialable(record: MatchRecord) -> list[str]:
    """The generator's phone numbers that are real numbers (most are random digits)."""
    found = []
    for number in record.phones:
        try:
            found.append(normalize_phone(number, record.country or "US"))
        except NormalizationError:
            continue
    return found


def seed_demo(
    session: Session,
    principal: Principal,
    *,
    region: str,
    people: int = 200,
    on_progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Create ``people`` generated contacts (a bad value skips that one) and relationships:
    colleagues at each company, and for everyone a few acquaintances."""
    rng = random.Random(DEMO_SEED)  # noqa: S311 - reproducible demo data, not secrets
    created: list[tuple[uuid.UUID, str]] = []
    skipped = 0
    for done, record in enumerate(islice(generate_population(people, seed=DEMO_SEED), people)):
        try:
            data = contact_in(record, rng)
            with session.begin_nested():
                details, _ = contacts.create_contact(
                    session, principal, data, region=region, on_duplicate="create"
                )
            created.append((details.contact.id, record.company))
        except (DomainError, ValueError):
            skipped += 1
        if on_progress is not None:
            on_progress(done + 1, people)
    pairs: dict[tuple[uuid.UUID, uuid.UUID], RelationshipType] = {}
    by_company: dict[str, list[uuid.UUID]] = {}
    for contact_id, company in created:
        if company:
            by_company.setdefault(company.lower(), []).append(contact_id)
    for members in by_company.values():
        for a, b in pairwise(members):
            pairs[(a, b)] = RelationshipType.COLLEAGUE
    ids = [contact_id for contact_id, _ in created]
    kinds = (RelationshipType.KNOWS, RelationshipType.FRIEND, RelationshipType.BUSINESS_PARTNER)
    for contact_id in ids:
        for other in rng.sample(ids, k=min(len(ids), rng.choice((1, 2, 3)))):
            if other != contact_id and (other, contact_id) not in pairs:
                pairs.setdefault((contact_id, other), rng.choice(kinds))
    made = 0
    for (a, b), kind in pairs.items():
        try:
            with session.begin_nested():
                graph.create(
                    session,
                    principal,
                    RelationshipIn(
                        from_id=a,
                        to_id=b,
                        type=kind,
                        interaction_count=rng.randint(0, 40),
                    ),
                )
            made += 1
        except DomainError:
            skipped += 1
    return DemoSummary(contacts=len(created), relationships=made, skipped=skipped)
