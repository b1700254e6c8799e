"""The record the match engine works on, and the normalization it applies before
comparing: case, accents, punctuation, street and company spellings.

The engine knows nothing about the database: the contacts service turns a contact into
a :class:`MatchRecord` (emails already lowercase, phones already E.164) and hands it in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from kith.contacts.normalize import free_mail_domains


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One contact as the match engine sees it. Empty string / empty tuple = unknown."""

    id: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    company: str = ""
    street: str = ""
    city: str = ""
    postcode: str = ""
    country: str = ""
    birthday: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name.strip(), self.last_name.strip()) if part)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Mail providers whose domain says nothing about where a person works: the one list
# the contacts domain keeps (kith/contacts/data/free_mail_domains.txt).
FREE_MAIL_DOMAINS = free_mail_domains()

_NON_WORD = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")

# Words in company names that say what kind of company it is, not which one.
_COMPANY_NOISE = _words(
    """
    inc incorporated corp corporation co company ltd limited llc llp lp plc gmbh ag sa
    sas sarl bv nv oy ab as spa srl pty pte kk the and group holdings holding
    """
)

_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "strasse": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "place": "pl",
    "court": "ct",
    "square": "sq",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "crescent": "cres",
    "close": "cl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}


@lru_cache(maxsize=200_000)
def normalize_for_matching(value: str) -> str:
    """Lowercase, accents stripped (``é`` → ``e``, ``ß`` → ``ss``), punctuation to single
    spaces, trimmed. ``"  O'Brien-Smith "`` → ``"o brien smith"``."""
    if not value:
        return ""
    text = value.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def normalize_name(value: str) -> str:
    """A first or last name as compared: normalized, inner spaces removed so that
    ``"O'Brien"``, ``"OBrien"`` and ``"o brien"`` agree."""
    return normalize_for_matching(value).replace(" ", "")


def normalize_company(value: str) -> str:
    """Company name without legal-form words: ``"ACME Incorporated"`` and ``"Acme, Inc."``
    are both ``"acme"``."""
    words = [w for w in normalize_for_matching(value.replace("&", " and ")).split() if w]
    kept = [w for w in words if w not in _COMPANY_NOISE]
    return " ".join(kept or words)


_UNIT_WORDS = _words(
    """
    apt apartment ste suite unit flat fl floor rm room bldg
    """
)


def normalize_street(value: str) -> str:
    """Street with the usual abbreviations applied and the flat or suite left out (the
    building is the address): ``"12 Main Street, Apt 4"`` → ``"12 main st"``."""
    words = normalize_for_matching(value).split()
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in _UNIT_WORDS:
            skip = True
            continue
        kept.append(_STREET_WORDS.get(word, word))
    return " ".join(kept)


def normalize_postcode(value: str) -> str:
    """Postcode without spaces or punctuation, lowercase: ``"SW1A 1AA"`` → ``"sw1a1aa"``."""
    return normalize_for_matching(value).replace(" ", "")


def normalize_birthday(value: str) -> str:
    """``"1984-07-02"`` → ``"19840702"``; anything that is not an ISO date → ``""``."""
    digits = value.strip()[:10].replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return ""
    month, day = int(digits[4:6]), int(digits[6:8])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return digits


def email_local_part(email: str) -> str:
    """Local part as a person would recognise it: ``+tag`` dropped, dots, dashes,
    underscores and trailing digits removed (``"john.smith84+crm"`` → ``"johnsmith"``)."""
    local = email.partition("@")[0].partition("+")[0]
    return re.sub(r"[._\-]", "", local).rstrip("0123456789")


def email_domain(email: str) -> str:
    return email.rpartition("@")[2]


def phone_digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
