"""What a record looks like to the comparisons: every normalization done once per record,
so that comparing two records is only equality tests and Jaro-Winkler on short strings.

The same columns go into DuckDB (for Splink training and for the background scan), where
the comparisons are the SQL in :mod:`kith.contacts.dedupe.comparisons`; computing them
here, in one place, is what keeps the Python and the SQL comparisons identical.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from kith.contacts.dedupe.nicknames import is_known_name, name_groups
from kith.contacts.dedupe.record import (
    FREE_MAIL_DOMAINS,
    MatchRecord,
    email_domain,
    email_local_part,
    normalize_birthday,
    normalize_company,
    normalize_for_matching,
    normalize_name,
    normalize_postcode,
    normalize_street,
    phone_digits,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Shared mailboxes: the same local part at two companies says nothing about a person.
ROLE_LOCAL_PARTS = _words(
    """
    info sales contact admin office hello support mail team help billing accounts hr
    jobs careers marketing enquiries inquiries noreply reception service
    """
)
PHONE_TAIL_DIGITS = 7


@dataclass(frozen=True, slots=True)
class Features:
    first: str
    last: str
    first_groups: tuple[str, ...]  # canonical names (nickname table, typo-tolerant)
    first_known: bool  # the first name is in the nickname table as written
    first_initials: tuple[str, ...]  # of the first name and of its canonical names
    last_groups: tuple[str, ...]  # the last name read as a given name (swapped names)
    emails: tuple[str, ...]
    email_locals: tuple[str, ...]
    email_handles: tuple[str, ...]  # the local parts not spelled from the record's name
    email_domains: tuple[str, ...]  # not free-mail
    phones: tuple[str, ...]
    phone_tails: tuple[str, ...]
    birthday: str  # YYYYMMDD
    birthday_dm: str  # YYYYDDMM when day and month can be confused, else ""
    street: str
    street_num: str
    city: str
    postcode: str
    company: str
    company_key: str  # company without spaces: "northsystems", to meet email domains
    email_orgs: tuple[str, ...]  # work email domains' names: "northsystems" of northsystems23.com
    country: str  # ISO-2, lowercase


def _house_numbers(street: str) -> str:
    return " ".join(tok for tok in street.split() if any(ch.isdigit() for ch in tok))


def _swap_day_month(birthday: str) -> str:
    if not birthday:
        return ""
    month, day = birthday[4:6], birthday[6:8]
    if month == day or int(day) > 12:
        return ""
    return birthday[:4] + day + month


def spelled_from_name(local: str, first: str, last: str, groups: tuple[str, ...]) -> bool:
    """Whether an email local part is just the record's name: one to three pieces from
    first name, last name, their initials and the canonical names of the first name
    (``jsmith``, ``john.smith``, ``smithj``, ``john``)."""
    pieces = {p for p in (first, last, first[:1], last[:1], *groups) if p}
    if not pieces or not local:
        return False
    # reachable[i]: fewest pieces spelling local[:i]
    reachable = [0] + [99] * len(local)
    for i in range(len(local)):
        if reachable[i] >= 3:
            continue
        for piece in pieces:
            if local.startswith(piece, i):
                j = i + len(piece)
                reachable[j] = min(reachable[j], reachable[i] + 1)
    return reachable[len(local)] <= 3


def _domain_name(domain: str) -> str:
    """The organisation's name in a domain: ``"mail.northsystems23.co.uk"`` →
    ``"northsystems"`` (the label before the public suffix, digits and dashes dropped)."""
    labels = [label for label in domain.split(".") if label]
    while len(labels) > 1 and (labels[-1] in _SUFFIX_LABELS or len(labels[-1]) == 2):
        labels.pop()
    name = labels[-1] if labels else ""
    return name.replace("-", "").rstrip("0123456789") if len(labels) else ""


_SUFFIX_LABELS = _words(
    """
    com net org io co ac gov edu biz info ltd plc
    """
)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def compute_features(record: MatchRecord) -> Features:
    emails = _unique(e.strip().lower() for e in record.emails)
    locals_ = _unique(
        local
        for local in (email_local_part(e) for e in emails)
        if len(local) >= 3 and local not in ROLE_LOCAL_PARTS
    )
    domains = _unique(d for d in (email_domain(e) for e in emails) if d not in FREE_MAIL_DOMAINS)
    phones = _unique(p.strip() for p in record.phones)
    tails = _unique(
        digits[-PHONE_TAIL_DIGITS:]
        for digits in (phone_digits(p) for p in phones)
        if len(digits) >= PHONE_TAIL_DIGITS
    )
    company = normalize_company(record.company)
    first = normalize_name(record.first_name)
    last = normalize_name(record.last_name)
    first_groups = name_groups(first)
    handles = tuple(
        local for local in locals_ if not spelled_from_name(local, first, last, first_groups)
    )
    street = normalize_street(record.street)
    birthday = normalize_birthday(record.birthday)
    return Features(
        first=first,
        last=last,
        first_groups=first_groups,
        first_known=is_known_name(first),
        first_initials=_unique((first[:1], *(g[0] for g in first_groups))),
        last_groups=name_groups(last),
        emails=emails,
        email_locals=locals_,
        email_handles=handles,
        email_domains=domains,
        phones=phones,
        phone_tails=tails,
        birthday=birthday,
        birthday_dm=_swap_day_month(birthday),
        street=street,
        street_num=_house_numbers(street),
        city=normalize_for_matching(record.city),
        postcode=normalize_postcode(record.postcode),
        company=company,
        company_key=company.replace(" ", ""),
        email_orgs=_unique(_domain_name(d) for d in domains),
        country=normalize_for_matching(record.country).replace(" ", ""),
    )


# Records are hashable (frozen dataclass); the on-create path scores one new record
# against candidates that are scored again on the next create, so a cache pays off.
features_of = lru_cache(maxsize=100_000)(compute_features)

FEATURE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Features))
LIST_COLUMNS = frozenset(
    {
        "first_groups",
        "first_initials",
        "last_groups",
        "emails",
        "email_locals",
        "email_handles",
        "email_orgs",
        "email_domains",
        "phones",
        "phone_tails",
    }
)
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(MatchRecord))


def arrow_schema() -> Any:
    """The DuckDB/Arrow table of records: ``unique_id`` (an int), the record's own fields
    prefixed ``rec_`` (to rebuild it) and the feature columns."""
    import pyarrow as pa  # type: ignore[import-untyped]

    kinds = {"first_known": pa.bool_()}
    fields = [pa.field("unique_id", pa.int64())]
    for name in RECORD_COLUMNS:
        kind = pa.list_(pa.string()) if name in ("emails", "phones") else pa.string()
        fields.append(pa.field(f"rec_{name}", kind))
    for name in FEATURE_COLUMNS:
        kind = pa.list_(pa.string()) if name in LIST_COLUMNS else kinds.get(name, pa.string())
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def arrow_batches(
    records: Iterable[MatchRecord],
    *,
    batch_size: int = 50_000,
    extra: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Records as Arrow record batches (schema :func:`arrow_schema`, plus ``extra``
    columns: name → (arrow type, function of (record, features))). ``unique_id`` counts
    from 0 in input order."""
    import pyarrow as pa

    schema = arrow_schema()
    functions = []
    for name, (kind, function) in (extra or {}).items():
        schema = schema.append(pa.field(name, kind))
        functions.append(function)
    record_values = operator.attrgetter(*RECORD_COLUMNS)
    feature_values = operator.attrgetter(*FEATURE_COLUMNS)
    rows: list[tuple[Any, ...]] = []

    def flush() -> Any:
        columns = list(zip(*rows, strict=True))
        rows.clear()
        return pa.RecordBatch.from_arrays(
            [pa.array(values, field.type) for values, field in zip(columns, schema, strict=True)],
            schema=schema,
        )

    for uid, record in enumerate(records):
        feats = compute_features(record)
        rows.append(
            (
                uid,
                *record_values(record),
                *feature_values(feats),
                *[function(record, feats) for function in functions],
            )
        )
        if len(rows) == batch_size:
            yield flush()
    if rows:
        yield flush()


def record_from_row(row: dict[str, Any]) -> MatchRecord:
    """Rebuild a record from the ``rec_`` columns of a row."""
    values = {name: row[f"rec_{name}"] for name in RECORD_COLUMNS}
    values["emails"] = tuple(values["emails"] or ())
    values["phones"] = tuple(values["phones"] or ())
    return MatchRecord(**values)
