"""Realistic contacts at scale, deterministic, written straight into Kith's tables.

    generator = Generator(1_000_000, organization_id=org, owner_ids=owners, dialect="sqlite")
    for batch in generator.batches(): ...

The generator (:class:`Generator`) makes what a CRM of a B2B company holds, from one seed:

- People from the US, the UK, Germany and France; first and last names drawn from
  frequency-ordered lists with Zipf weights (so "james", "smith" and "müller" are common
  terms), plus about 12% rare surnames built from syllables (selective terms that match a
  handful of contacts). Accented names ("François", "Müller") exercise the unaccent path.
- Companies (about one per 300 contacts, at most 5,000) with a domain each, in
  ``companies`` and ``company_domains``; a Zipf-like share of contacts per company. About
  3/4 of the contacts work at one, most with an email at its domain; the others use a
  free-mail provider (gmail.com, web.de, orange.fr…, the ones Kith never links to a
  company). Company domains end in ``.example`` so that no generated address is anyone's.
- 1-2 emails (name-based local parts, unique in the organization), 0-2 phones: valid
  E.164 numbers of the person's country, unique, from number ranges checked once with
  libphonenumber (every number passes ``kith.contacts.normalize.normalize_phone``).
- Positions, 0-3 tags from a small Zipf vocabulary, status (half LEAD) and a lead score
  that follows the status, a source, owners among a handful of users, birthdays for some,
  LinkedIn profiles for some, ``created_at`` spread over three years (growing: more
  recent contacts are more numerous) in generation order, ``updated_at`` and
  ``last_contact_date`` after it.

The same seed, count, starting index and batch size give the same rows (numbers, names,
ids) in every process: one ``numpy`` generator per batch, seeded with ``(seed, batch)``;
email uniqueness is kept in generation order. ``batches(processes=N)`` makes the rows in
N forked workers, the same rows: the only state carried from batch to batch, the
addresses taken, is settled first in this process (:meth:`Generator.emails`, a cheap
pass over the names), and each worker derives everything else — ciphertexts, blind
indexes, search documents, blocking keys, through Kith's own functions — for its batch.
Ciphertexts differ between runs (random nonces), as they do in Kith.

Rows come in batches of tuples, one list per table, in the column order of
:data:`COLUMNS`, as the database stores them (UUIDs as 32 hex digits, timestamps as text
in UTC): :mod:`bench.contacts_load` writes them with ``executemany`` or ``COPY``.
"""

from __future__ import annotations

import math
import multiprocessing
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np

from bench.contacts_vocabulary import (
    CALLING_CODES,
    CAMPAIGNS,
    COMPANY_KINDS,
    COMPANY_SIZES,
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    FREE_MAIL,
    INDUSTRIES,
    NAMES,
    POSITIONS,
    SCORE_SHAPE,
    SENIORITY,
    SOURCES,
    STATUS_WEIGHTS,
    STATUSES,
    SYLLABLES,
    TAGS,
    ascii_fold,
    zipf_weights,
)
from kith import crypto
from kith.contacts.search_index import KIND
from kith.contacts.service import phone_index
from kith.search import Document, stored_values

BATCH_SIZE = 20_000
COMPANIES_PER_CONTACTS = 300
MAX_COMPANIES = 5_000
MIN_COMPANIES = 50
SPAN_DAYS = 3 * 365
MAX_SAMPLES = 200  # whole contacts kept in the dataset

# -- phone numbers ------------------------------------------------------------------------

# Leading digits of the national number and its length, per kind of number.
_PHONE_PLANS: dict[str, list[tuple[str, str, int]]] = {
    "US": [("mobile", "", 10), ("work", "", 10)],
    "GB": [("mobile", "7", 10), ("work", "20", 10), ("work", "1", 10)],
    "DE": [("mobile", "15", 11), ("mobile", "17", 11), ("work", "30", 10),
           ("work", "40", 10), ("work", "89", 10), ("work", "221", 10)],
    "FR": [("mobile", "6", 9), ("mobile", "7", 9), ("work", "1", 9), ("work", "4", 9)],
}  # fmt: skip
SUFFIX_DIGITS = 4
_SUFFIX_SPACE = 10**SUFFIX_DIGITS


@dataclass(frozen=True)
class PhoneRanges:
    """Per country, prefixes (``+<cc><national digits>`` without the last four digits)
    whose 10,000 completions are all valid numbers, with their kind (mobile/work)."""

    prefixes: dict[str, list[tuple[str, str]]]

    def capacity(self, country: str) -> int:
        return len(self.prefixes[country]) * _SUFFIX_SPACE


def _valid(number: str) -> bool:
    import phonenumbers

    from kith.contacts.normalize import NormalizationError, normalize_phone

    try:
        parsed = phonenumbers.parse(number, None)
        if not phonenumbers.is_valid_number(parsed):
            return False
        return normalize_phone(number) == number
    except (phonenumbers.NumberParseException, NormalizationError):
        return False


@cache
def phone_ranges(prefixes_per_country: int = 240, seed: int = 1) -> PhoneRanges:
    """Number ranges found once with libphonenumber: random national numbers of each
    plan, kept when the number with several different last four digits is valid."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[tuple[str, str]]] = {}
    for country, plans in _PHONE_PLANS.items():
        code = CALLING_CODES[country]
        chosen: dict[str, str] = {}
        attempts = 0
        while len(chosen) < prefixes_per_country and attempts < prefixes_per_country * 400:
            attempts += 1
            kind, lead, length = plans[int(rng.integers(len(plans)))]
            digits = "".join(str(d) for d in rng.integers(0, 10, length - len(lead)))
            national = lead + digits
            prefix = f"+{code}{national[:-SUFFIX_DIGITS]}"
            if prefix in chosen or national[0] == "0":
                continue
            tails = ("0000", "9999", "0100", "5550", national[-SUFFIX_DIGITS:])
            if all(_valid(prefix + tail) for tail in tails):
                chosen[prefix] = kind
        if len(chosen) < 10:
            raise RuntimeError(f"found no valid phone ranges for {country}")
        found[country] = sorted(chosen.items())
    return PhoneRanges(found)


# -- companies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    id: uuid.UUID
    name: str
    domain: str
    country: str
    industry: str
    size: str
    created_at: datetime


def company_count(contacts: int) -> int:
    return max(MIN_COMPANIES, min(MAX_COMPANIES, contacts // COMPANIES_PER_CONTACTS))


def make_companies(count: int, seed: int, now: datetime) -> list[Company]:
    """``count`` distinct companies (names from word combinations, one domain each)."""
    rng = np.random.default_rng([seed, 0])
    combos = len(COMPANY_WORDS) * len(COMPANY_WORDS) * len(COMPANY_KINDS)
    picks = rng.choice(combos, size=min(count * 2, combos), replace=False)
    companies: list[Company] = []
    names: set[str] = set()
    domains: set[str] = set()
    countries = rng.choice(len(COUNTRIES), size=len(picks), p=COUNTRY_WEIGHTS)
    ids = _uuid4s(rng, len(picks))
    for n, pick in enumerate(picks.tolist()):
        first, rest = divmod(pick, len(COMPANY_WORDS) * len(COMPANY_KINDS))
        second, kind = divmod(rest, len(COMPANY_KINDS))
        if first == second:
            continue
        country = COUNTRIES[countries[n]]
        words = [COMPANY_WORDS[first], COMPANY_WORDS[second], COMPANY_KINDS[kind]]
        suffixes = COMPANY_SUFFIX[country]
        suffix = suffixes[n % len(suffixes)]
        name = " ".join(words + ([suffix] if suffix else []))
        domain = "".join(w.lower() for w in words[:2]) + ("" if n % 3 else words[2].lower())
        domain = f"{domain}.example"
        if name.casefold() in names or domain in domains:
            continue
        names.add(name.casefold())
        domains.add(domain)
        companies.append(
            Company(
                id=uuid.UUID(ids[n]),
                name=name,
                domain=domain,
                country=country,
                industry=INDUSTRIES[n % len(INDUSTRIES)],
                size=COMPANY_SIZES[int(rng.integers(len(COMPANY_SIZES)))],
                created_at=now - timedelta(days=SPAN_DAYS + int(rng.integers(1, 400))),
            )
        )
        if len(companies) == count:
            break
    return companies


# -- the generator ------------------------------------------------------------------------


def _uuid4s(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` random version-4 UUIDs as 32 hex digits (how SQLite stores a Uuid;
    PostgreSQL reads the same text)."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = raw.tobytes().hex()
    return [hexed[i : i + 32] for i in range(0, len(hexed), 32)]


@dataclass
class Sample:
    """What one batch adds to the :class:`Dataset`: made where the batch is made (in a
    worker process too), merged in batch order by :meth:`Dataset.absorb`."""

    contact_ids: list[uuid.UUID] = field(default_factory=list)
    rare_surnames: Counter[str] = field(default_factory=Counter)
    first_names: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Batch:
    """Rows of one batch, per table, in the column order of :data:`COLUMNS`."""

    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    emails: list[tuple[Any, ...]] = field(default_factory=list)
    phones: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    documents: list[tuple[Any, ...]] = field(default_factory=list)
    blocking_keys: list[tuple[Any, ...]] = field(default_factory=list)
    # What :class:`Dataset` learns from this batch (merged in batch order).
    sample: Sample = field(default_factory=lambda: Sample())

    def tables(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        return [
            ("contacts", self.contacts),
            ("contact_emails", self.emails),
            ("contact_phones", self.phones),
            ("contact_tags", self.tags),
            ("search_documents", self.documents),
            ("contact_blocking_keys", self.blocking_keys),
        ]


CONTACT_COLUMNS = (
    "organization_id", "id", "owner_id", "version", "created_at", "updated_at",
    "first_name", "last_name", "full_name", "sort_name", "email", "phone", "company_id",
    "company_name", "position", "status", "lead_score", "source", "tags", "custom_fields",
    "metadata", "birthday", "social_profiles", "last_contact_date", "created_by",
)  # fmt: skip
COLUMNS: dict[str, tuple[str, ...]] = {
    "contacts": CONTACT_COLUMNS,
    "contact_emails": (
        "organization_id", "contact_id", "position", "email", "label", "is_primary", "live",
    ),
    "contact_phones": (
        "organization_id", "contact_id", "position", "number", "number_index", "label",
        "is_primary", "live",
    ),
    "contact_tags": ("organization_id", "tag", "contact_id"),
    # doc_id last: the SQLite loader gives it, PostgreSQL's identity fills it.
    "search_documents": (
        "organization_id", "kind", "record_id", "title", "emails", "subtitle", "tags", "body",
        "updated_at", "doc_id",
    ),
    "contact_blocking_keys": ("organization_id", "key", "contact_id"),
}  # fmt: skip


@dataclass
class Dataset:
    """What the generator chose, for queries that hit real rows (and for tests)."""

    organization_id: uuid.UUID
    count: int
    companies: list[Company]
    owner_ids: list[uuid.UUID]
    contact_ids: list[uuid.UUID] = field(default_factory=list)  # a sample, in order
    rare_surnames: Counter[str] = field(default_factory=Counter)
    first_names: Counter[str] = field(default_factory=Counter)  # folded, in the sample
    samples: list[dict[str, Any]] = field(default_factory=list)  # whole contacts, a few
    emails: int = 0
    phones: int = 0
    tags: int = 0
    blocking_keys: int = 0

    def absorb(self, batch: Batch) -> None:
        """Count a batch in (batches in generation order)."""
        self.contact_ids.extend(batch.sample.contact_ids)
        self.rare_surnames.update(batch.sample.rare_surnames)
        self.first_names.update(batch.sample.first_names)
        self.samples.extend(batch.sample.samples[: max(0, MAX_SAMPLES - len(self.samples))])
        self.emails += len(batch.emails)
        self.phones += len(batch.phones)
        self.tags += len(batch.tags)
        self.blocking_keys += len(batch.blocking_keys)

    def common_first_names(self, n: int = 10) -> list[str]:
        return [name for name, _ in self.first_names.most_common(n)]

    def selective_surnames(self, n: int = 100) -> list[str]:
        """Rare surnames that occur exactly once or twice."""
        return [name for name, seen in self.rare_surnames.items() if seen <= 2][:n]


@dataclass(frozen=True, slots=True)
class _Person:
    company: Company | None
    country: str
    first_name: str
    last_name: str
    folded_first: str
    folded_last: str


class Generator:
    """Batches of rows for ``count`` contacts of one organization (see the module doc)."""

    def __init__(
        self,
        count: int,
        *,
        organization_id: uuid.UUID,
        owner_ids: Sequence[uuid.UUID],
        dialect: str,
        encrypt: Callable[[str], str] | None = None,
        blind_index: Callable[[str], str] = phone_index,
        seed: int = 20261123,
        start: int = 0,
        companies: list[Company] | None = None,
        used_emails: set[str] | None = None,
        now: datetime | None = None,
        blocking_keys: Callable[[dict[str, Any]], list[str]] | None = None,
        sample_every: int = 0,
    ) -> None:
        if not owner_ids:
            raise ValueError("at least one owner is needed")
        self.count = count
        self.seed = seed
        self.start = start
        # The configured keyring, as the Encrypted column type would use it.
        self.encrypt = encrypt or crypto.keyring().encrypt
        self.blind_index = blind_index
        self.postgres = dialect == "postgresql"
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        if companies is None:
            companies = make_companies(company_count(count), seed, self.now)
        if not companies:
            raise ValueError("contacts need at least one company to work at")
        self.companies = companies
        self.block = blocking_keys
        self.organization_id = organization_id
        self.org = organization_id.hex
        self.owners = [owner.hex for owner in owner_ids]
        self.dataset = Dataset(organization_id, count, self.companies, list(owner_ids))
        self.sample_every = sample_every or max(1, count // 5000)
        # Room for two numbers per contact and as many again for new ones.
        self.ranges = phone_ranges(max(240, math.ceil(4 * (start + count) / _SUFFIX_SPACE)))
        for country in COUNTRIES:
            if self.ranges.capacity(country) < 2 * (start + count):
                raise ValueError(f"not enough phone numbers in {country} for {count:,} contacts")
        self.used_emails: set[str] = used_emails if used_emails is not None else set()
        # The next number to try for an address already taken (see _unique).
        self._next_number: dict[str, int] = {}
        self._company_weights = zipf_weights(len(self.companies), 0.9, 3.0)
        self._name_weights = {
            country: (zipf_weights(len(first), 1.0, 2.0), zipf_weights(len(last), 0.95, 3.0))
            for country, (first, last) in NAMES.items()
        }
        self._folded = {name: ascii_fold(name) for pair in NAMES.values() for name in pair[0]}
        self._folded.update({name: ascii_fold(name) for p in NAMES.values() for name in p[1]})
        # Phone numbers: a permutation of each country's number space (unique numbers).
        self._phone_step = {c: _coprime_step(self.ranges.capacity(c), seed) for c in COUNTRIES}
        self._tag_weights = zipf_weights(len(TAGS), 1.1, 2.0)
        self._start_time = self.now - timedelta(days=SPAN_DAYS)
        self.bools = (True, False) if self.postgres else (1, 0)

    # -- formatting -----------------------------------------------------------------

    def _timestamps(self, seconds: np.ndarray) -> list[str]:
        """Offsets (s) from the start of the span as the stored text of a UTC timestamp:
        SQLAlchemy's SQLite form, or a timestamptz literal for PostgreSQL."""
        base = np.datetime64(self._start_time.replace(tzinfo=None), "us")
        stamps = np.datetime_as_string(base + (seconds * 1e6).astype("timedelta64[us]"))
        suffix = "+00" if self.postgres else ""
        return [f"{s[:10]} {s[11:]}{suffix}" for s in stamps.tolist()]

    # -- batches ----------------------------------------------------------------------

    def batches(self, batch_size: int = BATCH_SIZE, *, processes: int = 1) -> Iterator[Batch]:
        """Every batch, in order, counted into :attr:`dataset`. With ``processes`` > 1 the
        rows are made by that many forked worker processes (the same rows: only the
        email addresses, unique in generation order, are chosen here, and cheaply)."""
        if processes > 1 and "fork" in multiprocessing.get_all_start_methods():
            yield from self._parallel(batch_size, processes)
            return
        for first in range(0, self.count, batch_size):
            batch = self.batch(first, min(batch_size, self.count - first))
            self.dataset.absorb(batch)
            yield batch

    def _parallel(self, batch_size: int, processes: int) -> Iterator[Batch]:
        global _worker_generator
        _worker_generator = self  # inherited by the forked workers
        starts = iter(range(0, self.count, batch_size))
        pending: deque[Any] = deque()
        with multiprocessing.get_context("fork").Pool(processes) as pool:

            def submit() -> None:
                first = next(starts, None)
                if first is not None:
                    size = min(batch_size, self.count - first)
                    emails = self.emails(first, size)
                    pending.append(pool.apply_async(_make_batch, (first, size, emails)))

            for _ in range(2 * processes):  # a few ahead, not the whole data set
                submit()
            while pending:
                batch: Batch = pending.popleft().get()
                submit()
                self.dataset.absorb(batch)
                yield batch

    def _draw(self, first: int, size: int, *, people_only: bool = False) -> dict[str, Any]:
        """The random choices of a batch, as Python lists (indexing numpy arrays one
        element at a time is slow); ``people_only``: up to the emails and phones."""
        rng = np.random.default_rng([self.seed, 1, self.start + first])
        d: dict[str, Any] = {}
        # Who: a company (or none), a country, names.
        d["has_company"] = rng.random(size) < 0.76
        d["company_of"] = rng.choice(len(self.companies), size=size, p=self._company_weights)
        d["own_country"] = rng.choice(len(COUNTRIES), size=size, p=COUNTRY_WEIGHTS)
        d["abroad"] = rng.random(size) < 0.1
        firsts: dict[str, list[int]] = {}
        lasts: dict[str, list[int]] = {}
        for country, (first_names, last_names) in NAMES.items():
            first_w, last_w = self._name_weights[country]
            firsts[country] = rng.choice(len(first_names), size=size, p=first_w).tolist()
            lasts[country] = rng.choice(len(last_names), size=size, p=last_w).tolist()
        d["rare"] = rng.random(size) < 0.12
        d["rare_syllables"] = rng.integers(0, len(SYLLABLES), size=(size, 4))
        d["rare_length"] = rng.integers(3, 5, size=size)

        # What: status, score, source, position, tags, owner.
        status = rng.choice(len(STATUSES), size=size, p=STATUS_WEIGHTS)
        score = np.zeros(size)
        for s, name in enumerate(STATUSES):
            a, b = SCORE_SHAPE[name]
            score = np.where(status == s, rng.beta(a, b, size=size) * 100, score)
        d["status"], d["score"] = status, score.astype(int)
        d["source"] = rng.choice(len(SOURCES), size=size, p=zipf_weights(len(SOURCES), 0.8))
        d["position"] = rng.choice(len(POSITIONS), size=size, p=zipf_weights(len(POSITIONS), 0.5))
        d["seniority"] = rng.integers(0, len(SENIORITY), size=size)
        d["has_position"] = rng.random(size) < 0.85
        d["tag_count"] = rng.choice(4, size=size, p=(0.35, 0.35, 0.2, 0.1))
        d["tag_picks"] = rng.choice(len(TAGS), size=(size, 3), p=self._tag_weights)
        d["owner"] = rng.choice(len(self.owners), size=size, p=zipf_weights(len(self.owners), 0.5))
        d["campaign"] = rng.integers(-len(CAMPAIGNS) * 3, len(CAMPAIGNS), size=size)

        # Emails and phones.
        d["email_style"] = rng.choice(6, size=size, p=(0.5, 0.18, 0.1, 0.08, 0.08, 0.06))
        d["work_email"] = rng.random(size) < 0.85
        d["second_email"] = rng.random(size) < 0.3
        d["free_pick"] = rng.integers(0, 6, size=(size, 2))
        d["email_digits"] = rng.integers(1, 100, size=size)
        d["phone_count"] = rng.choice(3, size=size, p=(0.15, 0.6, 0.25))
        d["has_birthday"] = rng.random(size) < 0.15
        d["birthday_days"] = rng.integers(18 * 365, 70 * 365, size=size)
        d["has_linkedin"] = rng.random(size) < 0.4
        d = {name: values.tolist() for name, values in d.items()}
        d["firsts"], d["lasts"] = firsts, lasts
        if people_only:
            return d

        # When: creation time grows with the index (more recent contacts are more
        # numerous), updates and last contacts after it.
        index = np.arange(first, first + size)
        fraction = (index + rng.random(size)) / max(self.count, 1)
        span = SPAN_DAYS * 86400.0
        created = span * np.sqrt(fraction) - 60.0
        updated = np.minimum(created + rng.exponential(30 * 86400.0, size=size), span - 1)
        d["has_contacted"] = (rng.random(size) < 0.6).tolist()
        contacted = created + (span - created) * rng.random(size)
        d["created"] = self._timestamps(created)
        d["updated"] = self._timestamps(updated)
        d["contacted"] = self._timestamps(contacted)
        d["ids"] = _uuid4s(rng, size)
        return d

    def _person(self, d: dict[str, Any], i: int) -> _Person:
        if d["has_company"][i]:
            company: Company | None = self.companies[d["company_of"][i]]
            assert company is not None
            abroad = d["abroad"][i]
            country = COUNTRIES[d["own_country"][i]] if abroad else company.country
        else:
            company = None
            country = COUNTRIES[d["own_country"][i]]
        first_names, last_names = NAMES[country]
        first_name = first_names[d["firsts"][country][i]]
        if d["rare"][i]:
            parts = d["rare_syllables"][i][: d["rare_length"][i]]
            last_name = "".join(SYLLABLES[p] for p in parts).capitalize()
            folded_last = last_name.lower()
        else:
            last_name = last_names[d["lasts"][country][i]]
            folded_last = self._folded[last_name]
        return _Person(
            company, country, first_name, last_name, self._folded[first_name], folded_last
        )

    def _addresses(self, d: dict[str, Any], i: int, p: _Person) -> list[tuple[str, str]]:
        """The person's email addresses (and labels) before they are made unique: a
        work address at the company domain, or a free-mail one; a second, personal one
        for some."""
        first, last = p.folded_first, p.folded_last
        style = d["email_style"][i]
        if style == 0:
            local = f"{first}.{last}"
        elif style == 1:
            local = f"{first[0]}{last}"
        elif style == 2:
            local = f"{first}_{last}"
        elif style == 3:
            local = f"{first}{last[0]}"
        elif style == 4:
            local = f"{first}.{last}{d['email_digits'][i]}"
        else:
            local = f"{last}.{first}"
        free = FREE_MAIL[p.country]
        if p.company is not None and d["work_email"][i]:
            addresses = [(f"{local}@{p.company.domain}", "work")]
        else:
            addresses = [(f"{local}@{free[d['free_pick'][i][0] % len(free)]}", "personal")]
        if d["second_email"][i]:
            domain = free[d["free_pick"][i][1] % len(free)]
            personal = f"{first}.{last}{d['email_digits'][i] + 100}@{domain}"
            addresses.append((personal, "personal"))
        return addresses

    def emails(self, first: int, size: int) -> list[list[tuple[str, str]]]:
        """The email addresses (and labels) of a batch, unique in the organization:
        batches must be asked for in generation order (a taken address gets the
        smallest free number, ``james.smith2@…``)."""
        d = self._draw(first, size, people_only=True)
        return [
            [(self._unique(address), label) for address, label in self._addresses(d, i, p)]
            for i, p in ((i, self._person(d, i)) for i in range(size))
        ]

    def _unique(self, address: str) -> str:
        used = self.used_emails
        if address not in used:
            used.add(address)
            return address
        # The smallest free number: every number below the last one given is taken.
        local, _, domain = address.partition("@")
        n = self._next_number.get(address, 2)
        while f"{local}{n}@{domain}" in used:
            n += 1
        unique = f"{local}{n}@{domain}"
        used.add(unique)
        self._next_number[address] = n + 1
        return unique

    def batch(
        self, first: int, size: int, emails: list[list[tuple[str, str]]] | None = None
    ) -> Batch:
        """The rows of contacts ``first`` to ``first + size`` (of this generator). Without
        ``emails`` (from :meth:`emails`) the addresses are made unique here, so batches
        must then be made in order."""
        d = self._draw(first, size)
        org, now = self.org, self.now
        out = Batch()
        bools = self.bools
        sample = out.sample
        ids, created_s, updated_s, contacted_s = (
            d["ids"],
            d["created"],
            d["updated"],
            d["contacted"],
        )
        for i in range(size):
            contact_id = ids[i]
            ordinal = self.start + first + i
            person = self._person(d, i)
            company, country = person.company, person.country
            first_name, last_name = person.first_name, person.last_name
            folded_first, folded_last = person.folded_first, person.folded_last
            full_name = f"{first_name} {last_name}"

            if emails is None:
                addresses = [(self._unique(a), label) for a, label in self._addresses(d, i, person)]
            else:
                addresses = emails[i]
            for position_no, (address, label) in enumerate(addresses):
                out.emails.append(
                    (org, contact_id, position_no, address, label,
                     bools[position_no != 0], bools[0])
                )  # fmt: skip

            # Phones: unique numbers of the person's country (a permutation of its
            # number space, two slots per contact).
            numbers: list[str] = []
            primary_phone: str | None = None
            for slot in range(d["phone_count"][i]):
                number, kind = self.phone(country, ordinal * 2 + slot)
                cipher = self.encrypt(number)
                if slot == 0:
                    primary_phone = cipher
                numbers.append(number)
                out.phones.append(
                    (org, contact_id, slot, cipher, self.blind_index(number), kind,
                     bools[slot != 0], bools[0])
                )  # fmt: skip

            tags: list[str] = []
            for pick in d["tag_picks"][i][: d["tag_count"][i]]:
                tag = TAGS[pick]
                if tag not in tags:
                    tags.append(tag)
            for tag in tags:
                out.tags.append((org, tag, contact_id))

            position_text = (
                SENIORITY[d["seniority"][i]] + POSITIONS[d["position"][i]]
                if d["has_position"][i]
                else None
            )
            company_name = company.name if company is not None else None
            company_id = company.id.hex if company is not None else None
            status_text = STATUSES[d["status"][i]]
            owner_id = self.owners[d["owner"][i]]
            campaign = d["campaign"][i]
            meta = f'{{"campaign": "{CAMPAIGNS[campaign]}"}}' if campaign >= 0 else "{}"
            social = (
                f'{{"linkedin": "https://www.linkedin.com/in/{folded_first}-{folded_last}'
                f'-{ordinal:x}"}}'
                if d["has_linkedin"][i]
                else "{}"
            )
            birthday = born = None
            if d["has_birthday"][i]:
                born = (now - timedelta(days=int(d["birthday_days"][i]))).date().isoformat()
                birthday = self.encrypt(born)
            email_list = [address for address, _ in addresses]
            out.contacts.append(
                (
                    org, contact_id, owner_id, 1, created_s[i], updated_s[i],
                    first_name, last_name, full_name,
                    f"{last_name.casefold()} {first_name.casefold()}",
                    email_list[0], primary_phone, company_id, company_name, position_text,
                    status_text, d["score"][i], SOURCES[d["source"][i]], _json_list(tags),
                    "{}", meta, birthday, social,
                    contacted_s[i] if d["has_contacted"][i] else None, owner_id,
                )
            )  # fmt: skip
            # Exactly the row kith.contacts.search_index.reindex would write.
            document = stored_values(
                Document(
                    organization_id=self.organization_id,
                    kind=KIND,
                    record_id=uuid.UUID(contact_id),
                    title=full_name,
                    emails=email_list,
                    subtitle=" ".join(p for p in (company_name, position_text) if p),
                    tags=tags,
                )
            )
            out.documents.append(
                (
                    org, KIND, contact_id, document["title"], document["emails"],
                    document["subtitle"], document["tags"], document["body"], updated_s[i],
                    ordinal + 1,
                )
            )  # fmt: skip
            if self.block is not None:
                record = {
                    "id": contact_id,
                    "first_name": first_name,
                    "last_name": last_name,
                    "emails": tuple(email_list),
                    "phones": tuple(numbers),
                    "company": company_name or "",
                    "birthday": born or "",
                }
                # As kith.contacts.duplicates.index stores them: cut to the column, distinct.
                for key in dict.fromkeys(key[:120] for key in self.block(record)):
                    out.blocking_keys.append((org, key, contact_id))

            if d["rare"][i]:
                sample.rare_surnames[folded_last] += 1
            if ordinal % self.sample_every == 0:
                sample.contact_ids.append(uuid.UUID(contact_id))
                sample.first_names[folded_first] += 1
                if len(sample.samples) < MAX_SAMPLES:
                    sample.samples.append(
                        {
                            "id": contact_id,
                            "firstName": first_name,
                            "lastName": last_name,
                            "emails": email_list,
                            "phones": numbers,
                            "company": company_name,
                            "companyId": company_id,
                            "position": position_text,
                            "status": status_text,
                            "tags": tags,
                            "ownerId": owner_id,
                        }
                    )
        return out

    def phone(self, country: str, slot: int) -> tuple[str, str]:
        """The number (and its kind) of a slot: contact ``n`` has slots ``2n`` and ``2n+1``;
        slots from ``2 * (start + count)`` on are numbers the data does not hold."""
        prefixes = self.ranges.prefixes[country]
        capacity = len(prefixes) * _SUFFIX_SPACE
        k = (slot * self._phone_step[country]) % capacity
        prefix, kind = prefixes[k // _SUFFIX_SPACE]
        return f"{prefix}{k % _SUFFIX_SPACE:04d}", kind


def _json_list(items: list[str]) -> str:
    """JSON of a list of plain strings (tags: no quotes or backslashes)."""
    return '["' + '", "'.join(items) + '"]' if items else "[]"


_worker_generator: Generator | None = None  # the generator a forked worker works for


def _make_batch(first: int, size: int, emails: list[list[tuple[str, str]]]) -> Batch:
    assert _worker_generator is not None
    return _worker_generator.batch(first, size, emails)


def _coprime_step(capacity: int, seed: int) -> int:
    """A multiplier coprime with ``capacity``: slot → slot·step mod capacity is a
    permutation, so distinct slots (below the capacity) get distinct numbers."""
    step = 7_919 * 1_000_003 + seed % 1_000
    while math.gcd(step, capacity) != 1:
        step += 1
    return step
