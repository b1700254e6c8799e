"""Fuzzy duplicates: the blocking-key index of live contacts, ``possibleDuplicates``
on create/update, the review queue, and the background scan.

The match model (kith.contacts.dedupe) is the organization's own once trained,
else the default model shipped with Kith."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from kith.auth.principal import Principal
from kith.auth.roles import Permission
from kith.auth.scoping import scoped
from kith.contacts.dedupe.blocking import MAX_BLOCK_SIZE, blocking_keys
from kith.contacts.dedupe.model import DEFAULT_THRESHOLD, Match, MatchModel
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.scan import MAX_CANDIDATES, possible_duplicates
from kith.contacts.models import (
    BlockingKey,
    Contact,
    ContactEmail,
    ContactPhone,
    DuplicatePair,
    DuplicateStatus,
    MatchModelRow,
)
from kith.contacts.schemas import PossibleDuplicate
from kith.db.types import utcnow
from kith.errors import Conflict, NotFound

if TYPE_CHECKING:
    from kith.contacts.service import ContactDetails

_DEFAULT: MatchModel | None = None
_CACHE: dict[uuid.UUID, tuple[Any, MatchModel]] = {}


def default_model() -> MatchModel:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = MatchModel.default()
    return _DEFAULT


def model_for(session: Session, organization_id: uuid.UUID) -> MatchModel:
    """The organization's trained model (cached by training time), else the default."""
    trained_at = session.execute(
        select(MatchModelRow.trained_at).where(MatchModelRow.organization_id == organization_id)
    ).scalar_one_or_none()
    if trained_at is None:
        return default_model()
    cached = _CACHE.get(organization_id)
    if cached is not None and cached[0] == trained_at:
        return cached[1]  # without reading the model's JSON again
    row = session.get(MatchModelRow, organization_id)
    if row is None:
        return default_model()
    model = MatchModel.from_dict(row.model)
    _CACHE[organization_id] = (row.trained_at, model)
    return model


def match_record(contact: Contact, emails: Sequence[str], phones: Sequence[str]) -> MatchRecord:
    address = (contact.addresses or [{}])[0] or {}
    return MatchRecord(
        id=str(contact.id),
        first_name=contact.first_name or "",
        last_name=contact.last_name or "",
        emails=tuple(emails),
        phones=tuple(phones),
        company=contact.company_name or "",
        street=address.get("street") or "",
        city=address.get("city") or "",
        postcode=address.get("postcode") or "",
        country=address.get("country") or "",
        birthday=contact.birthday or "",
    )


def record_of(details: ContactDetails) -> MatchRecord:
    return match_record(
        details.contact, [e.email for e in details.emails], [p.number for p in details.phones]
    )


# -- the blocking-key index ---------------------------------------------------------------


def index(session: Session, details: ContactDetails, *, new: bool = False) -> MatchRecord:
    """Replace the contact's blocking keys (none while it is deleted); ``new``: it has
    none yet."""
    contact = details.contact
    if not new:
        unindex(session, contact.organization_id, contact.id)
    record = record_of(details)
    if contact.deleted_at is None:
        session.add_all(
            BlockingKey(
                organization_id=contact.organization_id, key=key[:120], contact_id=contact.id
            )
            for key in dict.fromkeys(blocking_keys(record))
        )
    return record


def unindex(session: Session, organization_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    session.execute(
        delete(BlockingKey).where(
            BlockingKey.organization_id == organization_id, BlockingKey.contact_id == contact_id
        )
    )


class CandidateRecords:
    """Match records of contacts recently compared, by (id, version, updatedAt).

    On create, a common name's blocks return the same candidates again and again; each
    would otherwise be loaded (three queries) and decrypted for every create. A cached
    record is used only while the contact's row still has the version and update time
    it was read at, so any change, in any process, reads it afresh; the time stamp tells
    apart two different changes that reached the same version (one rolled back)."""

    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._entries: dict[tuple[uuid.UUID, int, Any], MatchRecord] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[uuid.UUID, int, Any]) -> MatchRecord | None:
        return self._entries.get(key)

    def put(self, key: tuple[uuid.UUID, int, Any], record: MatchRecord) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = record


candidate_records = CandidateRecords()


def _records(
    session: Session, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[MatchRecord]:
    if not ids:
        return []
    live = Contact.organization_id == organization_id, Contact.deleted_at.is_(None)
    stamps = session.execute(
        select(Contact.id, Contact.version, Contact.updated_at).where(*live, Contact.id.in_(ids))
    ).all()
    found: list[MatchRecord] = []
    missing: dict[uuid.UUID, tuple[uuid.UUID, int, Any]] = {}
    for cid, version, updated_at in stamps:
        key = (cid, version, updated_at)
        cached = candidate_records.get(key)
        if cached is None:
            missing[cid] = key
        else:
            found.append(cached)
    if not missing:
        return found
    # Only the compared columns, as rows: candidates are many, ORM objects cost more
    # than the comparison.
    contacts = session.execute(
        select(
            Contact.id,
            Contact.version,
            Contact.updated_at,
            Contact.first_name,
            Contact.last_name,
            Contact.company_name,
            Contact.addresses,
            Contact.birthday,
        ).where(*live, Contact.id.in_(list(missing)))
    ).all()
    loaded = [c.id for c in contacts]
    emails: dict[uuid.UUID, list[str]] = {cid: [] for cid in loaded}
    phones: dict[uuid.UUID, list[str]] = {cid: [] for cid in loaded}
    for cid, email in session.execute(
        select(ContactEmail.contact_id, ContactEmail.email)
        .where(ContactEmail.organization_id == organization_id, ContactEmail.contact_id.in_(loaded))
        .order_by(ContactEmail.position)
    ):
        emails[cid].append(email)
    for cid, number in session.execute(
        select(ContactPhone.contact_id, ContactPhone.number)
        .where(ContactPhone.organization_id == organization_id, ContactPhone.contact_id.in_(loaded))
        .order_by(ContactPhone.position)
    ):
        phones[cid].append(number)
    for c in contacts:
        record = match_record(c, emails[c.id], phones[c.id])  # type: ignore[arg-type]
        found.append(record)
        # Keyed by what was read with the record (a concurrent change between the two
        # statements then only misses the cache next time).
        candidate_records.put((c.id, c.version, c.updated_at), record)
    return found


def _lookup(session: Session, organization_id: uuid.UUID, exclude: uuid.UUID) -> Any:
    def lookup(keys: Sequence[str]) -> list[MatchRecord]:
        # All keys in one statement, each block capped at MAX_BLOCK_SIZE.
        blocks = [
            select(BlockingKey.contact_id)
            .where(BlockingKey.organization_id == organization_id, BlockingKey.key == key)
            .limit(MAX_BLOCK_SIZE)
            .subquery()
            for key in dict.fromkeys(k[:120] for k in keys)
        ]
        if not blocks:
            return []
        ids = session.execute(union_all(*[select(b.c.contact_id) for b in blocks])).scalars()
        shared = Counter(i for i in ids if i != exclude)
        # candidates_for keeps the MAX_CANDIDATES sharing most keys (ties by id): only
        # those are loaded, each returned once per key it shares, so that it ranks
        # them exactly as it would have all of them.
        # (A UUID's int orders as its string does.)
        kept = sorted(shared, key=lambda i: (-shared[i], i.int))[:MAX_CANDIDATES]
        times = {str(i): shared[i] for i in kept}
        return [r for r in _records(session, organization_id, kept) for _ in range(times[r.id])]

    return lookup


# -- on create / update --------------------------------------------------------------------


def _ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if str(a) < str(b) else (b, a)


def record_pair(
    session: Session, organization_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID, match: Match
) -> None:
    """Queue (or refresh) an OPEN pair; a dismissed pair is never proposed again."""
    record_pairs(session, organization_id, a, [(b, match)])


def record_pairs(
    session: Session,
    organization_id: uuid.UUID,
    contact_id: uuid.UUID,
    others: Sequence[tuple[uuid.UUID, Match]],
) -> None:
    """:func:`record_pair` for several pairs of one contact: one INSERT for the new
    pairs, then an UPDATE for each that was already queued."""
    if not others:
        return
    rows = []
    for other, match in others:
        first, second = _ordered(contact_id, other)
        rows.append(
            {
                "organization_id": organization_id,
                "id": uuid.uuid4(),
                "contact_a": first,
                "contact_b": second,
                "score": round(match.probability, 6),
                "reasons": list(match.reasons),
                "status": DuplicateStatus.OPEN,
                "created_at": utcnow(),
            }
        )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = set(
        session.execute(
            insert(DuplicatePair)
            .values(rows)
            .on_conflict_do_nothing()  # an existing pair (any status) stays as it is
            .returning(DuplicatePair.id)
        ).scalars()
    )
    for values in rows:
        if values["id"] in inserted:
            continue
        session.execute(
            update(DuplicatePair)
            .where(
                DuplicatePair.organization_id == organization_id,
                DuplicatePair.contact_a == values["contact_a"],
                DuplicatePair.contact_b == values["contact_b"],
                DuplicatePair.status == DuplicateStatus.OPEN,
            )
            .values(score=values["score"], reasons=values["reasons"])
            .execution_options(synchronize_session=False)
        )


def check(
    session: Session, principal: Principal, details: ContactDetails
) -> list[PossibleDuplicate]:
    """Index the contact and score its blocked candidates: queue pairs over the
    threshold and return those the caller may see (``possibleDuplicates``)."""
    org = details.contact.organization_id
    if details.contact.deleted_at is not None:
        return []
    record = record_of(details)
    session.flush()
    found = possible_duplicates(
        record,
        _lookup(session, org, details.contact.id),
        model_for(session, org),
        threshold=DEFAULT_THRESHOLD,
    )
    if not found:
        return []
    dismissed = {
        (a, b)
        for a, b in session.execute(
            select(DuplicatePair.contact_a, DuplicatePair.contact_b)
            .where(
                DuplicatePair.organization_id == org,
                DuplicatePair.status == DuplicateStatus.DISMISSED,
            )
            .where(
                (DuplicatePair.contact_a == details.contact.id)
                | (DuplicatePair.contact_b == details.contact.id)
            )
        )
    }
    kept = []
    for candidate, match in found:
        other = uuid.UUID(candidate.id)
        if _ordered(details.contact.id, other) in dismissed:
            continue
        kept.append((other, candidate, match))
    record_pairs(session, org, details.contact.id, [(other, match) for other, _, match in kept])
    visible = set(
        session.execute(
            scoped(Contact, principal, select(Contact.id)).where(
                Contact.id.in_([k[0] for k in kept]), Contact.deleted_at.is_(None)
            )
        ).scalars()
    )
    return [
        PossibleDuplicate(
            id=other,
            full_name=candidate.full_name,
            score=round(match.probability, 4),
            reasons=list(match.reasons),
        )
        for other, candidate, match in kept
        if other in visible
    ]


def open_pairs_for(
    session: Session, principal: Principal, contact_id: uuid.UUID
) -> list[PossibleDuplicate]:
    """The contact's OPEN pairs with contacts the caller may see (for GET)."""
    # The contact's pairs through the indexes on either side (with ``contact_a = :id OR
    # contact_b = :id`` the databases walked every open pair of the organization).
    org = principal.organization_id
    # The status is tested here, not in SQL: without statistics SQLite would rather
    # walk the (organization, status) index.
    mine = union_all(
        *(
            select(DuplicatePair.id).where(DuplicatePair.organization_id == org, side == contact_id)
            for side in (DuplicatePair.contact_a, DuplicatePair.contact_b)
        )
    )
    found = session.execute(visible_pairs(principal).where(DuplicatePair.id.in_(mine))).scalars()
    open_ = [p for p in found if p.status is DuplicateStatus.OPEN]
    rows = sorted(open_, key=lambda p: (-p.score, str(p.id)))[:10]
    others = {p.contact_b if p.contact_a == contact_id else p.contact_a: p for p in rows}
    if not others:
        return []
    names = dict(
        session.execute(
            select(Contact.id, Contact.full_name).where(
                Contact.organization_id == principal.organization_id, Contact.id.in_(list(others))
            )
        ).all()
    )
    return [
        PossibleDuplicate(
            id=other, full_name=names.get(other, ""), score=pair.score, reasons=list(pair.reasons)
        )
        for other, pair in others.items()
    ]


# -- the review queue ---------------------------------------------------------------------


# Built once: a new aliased class per request costs more than the query it serves.
_CONTACT_A = aliased(Contact, name="pair_contact_a")
_CONTACT_B = aliased(Contact, name="pair_contact_b")


def visible_pairs(principal: Principal) -> Any:
    """Pairs whose two contacts are live and visible to the caller. Each side is an
    EXISTS probe of one contact by its key: an ``IN (visible contacts)`` list was
    built from every live contact of the organization on each query (seconds at 1M)."""
    stmt = select(DuplicatePair).where(DuplicatePair.organization_id == principal.organization_id)
    for alias, column in (
        (_CONTACT_A, DuplicatePair.contact_a),
        (_CONTACT_B, DuplicatePair.contact_b),
    ):
        visible = scoped(alias, principal, select(literal(1))).where(
            alias.id == column, alias.deleted_at.is_(None)
        )
        stmt = stmt.where(visible.exists())
    return stmt


def get_pair(session: Session, principal: Principal, pair_id: uuid.UUID) -> DuplicatePair:
    pair: DuplicatePair | None = session.execute(
        visible_pairs(principal).where(DuplicatePair.id == pair_id)
    ).scalar_one_or_none()
    if pair is None:
        raise NotFound("Duplicate pair not found.")
    return pair


def dismiss(session: Session, principal: Principal, pair_id: uuid.UUID) -> DuplicatePair:
    """Mark "not a duplicate": the pair is never proposed again."""
    principal.require(Permission.EDIT)
    pair = get_pair(session, principal, pair_id)
    if pair.status is not DuplicateStatus.OPEN:
        raise Conflict(f"This pair is already {pair.status.value}.", code="PAIR_RESOLVED")
    pair.status = DuplicateStatus.DISMISSED
    pair.resolved_at = utcnow()
    pair.resolved_by = None if principal.kind == "system" else principal.user_id
    return pair


# -- the background scan -------------------------------------------------------------------


def iter_records(
    session: Session, organization_id: uuid.UUID, batch: int = 5000
) -> Iterator[MatchRecord]:
    """Every live contact of the organization, streamed in id order."""
    last: uuid.UUID | None = None
    while True:
        stmt = (
            select(Contact.id)
            .where(Contact.organization_id == organization_id, Contact.deleted_at.is_(None))
            .order_by(Contact.id)
            .limit(batch)
        )
        if last is not None:
            stmt = stmt.where(Contact.id > last)
        ids = session.execute(stmt).scalars().all()
        if not ids:
            return
        yield from _records(session, organization_id, ids)
        last = ids[-1]


def sync_blocking_keys(
    session: Session, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> int:
    """Bring the stored blocking keys of these contacts up to the current rules (a
    contact's keys are rewritten whenever it is written; this catches the ones written
    before a rule was added). Reads the contacts afresh; returns the keys changed."""
    records = _records(session, organization_id, ids)
    want = {
        (uuid.UUID(r.id), key[:120]) for r in records for key in dict.fromkeys(blocking_keys(r))
    }
    have = {
        (contact_id, key)
        for contact_id, key in session.execute(
            select(BlockingKey.contact_id, BlockingKey.key).where(
                BlockingKey.organization_id == organization_id, BlockingKey.contact_id.in_(ids)
            )
        )
    }
    stale = have - want
    for contact_id, key in stale:
        session.execute(
            delete(BlockingKey).where(
                BlockingKey.organization_id == organization_id,
                BlockingKey.key == key,
                BlockingKey.contact_id == contact_id,
            )
        )
    session.add_all(
        BlockingKey(organization_id=organization_id, key=key, contact_id=contact_id)
        for contact_id, key in want - have
    )
    return len(stale) + len(want - have)


def dismissed_pairs(session: Session, organization_id: uuid.UUID) -> set[tuple[str, str]]:
    return {
        (str(a), str(b))
        for a, b in session.execute(
            select(DuplicatePair.contact_a, DuplicatePair.contact_b).where(
                and_(
                    DuplicatePair.organization_id == organization_id,
                    DuplicatePair.status != DuplicateStatus.OPEN,
                )
            )
        )
    }
