"""Blocking keys: which records are compared at all.

Every record gets a handful of keys, each prefixed by the rule that made it; two records
are candidates when they share a key. The rules are chosen so that a duplicate with one
kind of damage still shares a key with its original through another rule:

==========  =====================================================  ======================
rule        key                                                    survives
==========  =====================================================  ======================
``ln``      Soundex(last name) + initial of first name (and of     first-name typos,
            every canonical name it is a nickname of)              nicknames, last-name
                                                                   typos that sound alike
``fl``      canonical first name + initial and length of the last  last-name typos that
            name                                                   change its sound
``nm``      the two names' Soundex codes, sorted                   swapped first/last
``lb``      Soundex(last name) + birthday                          any first-name change
``bi``      birthday + initials of both names, sorted              typos in both names,
                                                                   swapped names
``pc``      postcode + first initial (and nickname initials)       last-name typos
``pl``      postcode + Soundex(last name)                          missing first name
``ad``      postcode + house number                                any name damage
``sa``      city + house number + first word of the street         missing postcode
``co``      company + first initial (and nickname initials)        moves, missing birthday
``em``      email handle (a local part not spelled from the name:  name changes
            ``skywalker77`` at any domain)
``ph``      last 7 digits of a phone                               name changes
==========  =====================================================  ======================

Very common keys (``ln:S530:j`` — every John Smith) make big blocks. The background scan
compares a record only with its :data:`SCAN_WINDOW` neighbours in a block sorted by
:func:`sort_key` (a sorted-neighbourhood window: duplicates sort next to each other);
on create the lookup returns at most :data:`MAX_BLOCK_SIZE` records per key.
"""

from __future__ import annotations

from kith.contacts.dedupe.features import Features, features_of
from kith.contacts.dedupe.record import MatchRecord

MAX_BLOCK_SIZE = 100
SCAN_WINDOW = 20
RULES = ("ln", "fl", "nm", "lb", "bi", "pc", "pl", "ad", "sa", "co", "cl", "cs", "em", "ph")

_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(name: str, length: int = 4) -> str:
    """American Soundex of a normalized name (letters a-z; anything else ignored):
    ``"robert"`` and ``"rupert"`` → ``"r163"``, ``"smith"`` and ``"smyth"`` → ``"s530"``."""
    letters = [ch for ch in name if "a" <= ch <= "z"]
    if not letters:
        return ""
    code = [letters[0]]
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        digit = _SOUNDEX_CODES.get(ch, "")
        if digit and digit != previous:
            code.append(digit)
            if len(code) == length:
                break
        if ch not in "hw":  # h and w do not separate letters with the same code
            previous = digit
    return "".join(code).ljust(length, "0")


def _initials(f: Features) -> list[str]:
    found = {f.first[0]} if f.first else set()
    found.update(group[0] for group in f.first_groups)
    return sorted(found)


def keys_of_features(f: Features) -> list[str]:
    keys: list[str] = []
    initials = _initials(f)
    last_code = soundex(f.last)
    if last_code:
        keys.extend(f"ln:{last_code}:{i}" for i in initials)
        if f.first:
            shape = f"{f.last[0]}{len(f.last)}"
            keys.extend(f"fl:{name}:{shape}" for name in f.first_groups or (f.first,))
        first_code = soundex(f.first)
        if first_code:
            keys.append("nm:" + "|".join(sorted((first_code, last_code))))
        # Swapped names where one side is a nickname or a short form ("Rich Weber" and
        # "Weber Richard"): the same key over each name's canonical forms.
        firsts = {first_code, *(soundex(g) for g in f.first_groups)}
        lasts = {last_code, *(soundex(g) for g in f.last_groups)}
        keys.extend(
            "nm:" + "|".join(sorted((a, b)))
            for a in firsts
            for b in lasts
            if a and (a, b) != (first_code, last_code)
        )
    if f.birthday and last_code:
        keys.append(f"lb:{last_code}:{f.birthday}")
        keys.extend(f"bi:{f.birthday}:{''.join(sorted((i, f.last[0])))}" for i in initials)
    if f.postcode:
        keys.extend(f"pc:{f.postcode}:{i}" for i in initials)
        if last_code:
            keys.append(f"pl:{f.postcode}:{last_code}")
        if f.street_num:
            keys.append(f"ad:{f.postcode}:{f.street_num}")
    if f.city and f.street_num:
        street = next((w for w in f.street.split() if w not in f.street_num.split()), "")
        keys.append(f"sa:{f.city}:{f.street_num}:{street}")
    if f.company:
        keys.extend(f"co:{f.company}:{i}" for i in initials)
        if last_code:
            keys.append(f"cl:{f.company}:{last_code}")
    if f.first and f.last:
        # Swapped names at one organization, known by its name or a work address's domain.
        pair = "".join(sorted((f.first[0], f.last[0])))
        orgs = {f.company_key, *f.email_orgs} - {""}
        keys.extend(f"cs:{org}:{pair}" for org in orgs)
    keys.extend(f"em:{handle}" for handle in f.email_handles if len(handle) >= 4)
    keys.extend(f"ph:{tail}" for tail in f.phone_tails)
    return sorted(set(keys))


def blocking_keys(record: MatchRecord) -> list[str]:
    """The blocking keys of a record (sorted, distinct). The contacts service stores them
    in its blocking-key table and looks candidates up by them."""
    return keys_of_features(features_of(record))


def sort_key(f: Features) -> str:
    """Order of records inside a block for the scan's neighbourhood window: duplicates of
    one person (same canonical first name, last name, birthday) end up side by side."""
    first = f.first_groups[0] if f.first_groups else f.first
    return f"{first}|{f.last}|{f.birthday}"
