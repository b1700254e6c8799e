"""Given names and their nicknames (``data/nicknames.csv``: one canonical name a line,
then its nicknames separated by spaces; all lowercase ASCII).

A name belongs to one *group* per canonical name it is, or is a nickname of: ``"bill"``
→ ``{"william"}``, ``"alex"`` → ``{"alexander", "alexandra", "alexis", "alejandro"}``.
Two first names are nickname-equal when their groups meet.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from kith.contacts.dedupe.record import normalize_name


@cache
def _table() -> dict[str, tuple[str, ...]]:
    groups: dict[str, set[str]] = {}
    text = resources.files("kith.contacts.dedupe").joinpath("data/nicknames.csv").read_text()
    rows = csv.reader(text.splitlines())
    next(rows)  # header
    for row in rows:
        if not row:
            continue
        canonical = row[0].strip()
        nicknames = row[1].split() if len(row) > 1 else []
        for name in (canonical, *nicknames):
            groups.setdefault(name, set()).add(canonical)
    return {name: tuple(sorted(found)) for name, found in groups.items()}


def is_known_name(first_name: str) -> bool:
    """Whether a first name is in the table as written (no typo tolerance)."""
    return normalize_name(first_name) in _table()


def canonical_names() -> frozenset[str]:
    """Every canonical given name in the table."""
    return frozenset(c for groups in _table().values() for c in groups)


FUZZY_MIN_LENGTH = 4
FUZZY_SIMILARITY = 0.93


@cache
def _by_initial() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for name in sorted(_table()):
        out.setdefault(name[0], []).append(name)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=50_000)
def name_groups(first_name: str) -> tuple[str, ...]:
    """The canonical names a (raw or normalized) first name stands for, sorted; empty when
    the name is not in the table. A name of four letters or more that is not in the
    table but within Jaro-Winkler 0.93 of one that is (same initial) — most often a
    typo: ``"michhael"``, ``"jamss"`` — stands for what that name stands for."""
    name = normalize_name(first_name)
    table = _table()
    found = table.get(name)
    if found is not None:
        return found
    if len(name) < FUZZY_MIN_LENGTH:
        return ()
    best = process.extractOne(
        name,
        _by_initial().get(name[0], ()),
        scorer=JaroWinkler.similarity,
        score_cutoff=FUZZY_SIMILARITY,
    )
    return table[best[0]] if best else ()


def nicknames_of(canonical: str) -> tuple[str, ...]:
    """Nicknames of one canonical name (not including itself), sorted."""
    canonical = normalize_name(canonical)
    return tuple(
        sorted(n for n, groups in _table().items() if canonical in groups and n != canonical)
    )


def are_nicknames(a: str, b: str) -> bool:
    """Whether two different first names can be the same person's (``Bill``/``William``,
    ``Bill``/``Will``)."""
    na, nb = normalize_name(a), normalize_name(b)
    if not na or not nb or na == nb:
        return False
    return bool(set(name_groups(na)) & set(name_groups(nb)))
