"""Deterministic generated contacts for training the default model and for benchmarks.

:func:`generate_benchmark` makes a labelled set: ``persons`` people who each appear 2-5
times (an original and 1-4 duplicates), damaged the way CRM data is (typos, OCR-like
letter swaps, nicknames, swapped first/last names, initials, missing fields, moved
addresses, birthday typos, company name variants and job changes), plus as many people
who appear once — among them many namesakes ("John Smith" with another birthday) and
relatives living at the same address — so that precision is hard. No email or phone is
ever shared by two records (Kith refuses such a create with 409, so fuzzy matching is
what is left to measure).

:func:`generate_population` streams N records with a realistic duplicate rate for the
background-scan benchmark.

Everything comes from one ``random.Random(seed)``; nothing iterates over a set, so the
same seed gives the same data in every process.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from itertools import accumulate

from kith.contacts.dedupe.nicknames import nicknames_of
from kith.contacts.dedupe.record import MatchRecord

# --- word lists -------------------------------------------------------------------------


@cache
def _names(file: str) -> dict[str, list[str]]:
    text = resources.files("kith.contacts.dedupe").joinpath(f"data/{file}").read_text()
    out: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        key, values = (words[0], words[1:]) if file == "first_names.txt" else ("", words)
        bucket = out.setdefault(key, [])
        for value in values:
            if (key, value) not in seen:
                seen.add((key, value))
                bucket.append(value)
    return out


_ACCENTED = {
    "jose": "José",
    "rene": "René",
    "zoe": "Zoë",
    "muller": "Müller",
    "schroder": "Schröder",
    "kohler": "Köhler",
    "kruger": "Krüger",
    "francois": "François",
    "elodie": "Élodie",
    "amelie": "Amélie",
    "ines": "Inês",
    "nunez": "Núñez",
    "munoz": "Muñoz",
    "pena": "Peña",
    "jurgen": "Jürgen",
    "hernandez": "Hernández",
    "garcia": "García",
    "lopez": "López",
    "martinez": "Martínez",
    "gonzalez": "González",
    "rodriguez": "Rodríguez",
    "perez": "Pérez",
    "sanchez": "Sánchez",
    "ramirez": "Ramírez",
    "gomez": "Gómez",
    "diaz": "Díaz",
    "andres": "Andrés",
    "sebastian": "Sebastián",
    "lucia": "Lucía",
    "maria": "María",
}


def _word_list(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_STREETS = _word_list(
    """
    Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Church Mill High Station
    Victoria King Queen Bridge Green Spring Sunset Highland River Willow Meadow Forest
    Chestnut Walnut Cherry Birch Ash Poplar Franklin Lincoln Jefferson Madison Adams
    Jackson Monroe Harrison Grant Union Market Broad Water Front Center Railroad North
    South East West Ridge Valley Orchard Garden Rose Lilac Magnolia Dogwood Laurel Holly
    Heather Primrose Kingsway Albert Alexandra Windsor Cambridge Oxford York Warwick
    Stratford Hamilton Wellington Nelson Clarence Canal Castle Abbey Manor Grove Beech
    Fairview Lakeview Riverside Brookside Woodland Prospect Pleasant Liberty Colonial
    Heritage Vista Summit Crescent Meridian Commerce Industrial Harbor Bay Ocean Shore
    """
)
_SUFFIXES = (
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Boulevard", "Blvd"),
    ("Way", "Way"),
    ("Terrace", "Ter"),
    ("Close", "Cl"),
)
_COMPANY_A = _word_list(
    """
    Blue Red Green Silver Golden North South East West Summit Peak Bright Clear Swift
    Prime Apex Atlas Nova Vertex Pioneer Liberty Eagle Falcon Harbor River Lake Ocean
    Cedar Oak Pine Iron Stone Granite Crystal Quantum Fusion Stellar Lunar Solar Urban
    Metro Global United Allied First Pacific Atlantic Northern Southern Central Royal
    Acme Initech Globex Umbrella Hooli Vandelay Stark Wayne Wonka Cyberdyne Soylent
    """
)
_COMPANY_B = _word_list(
    """
    Logistics Systems Solutions Partners Consulting Analytics Software Labs Dynamics
    Industries Holdings Capital Ventures Networks Media Health Foods Energy Robotics
    Design Manufacturing Pharma Financial Insurance Realty Construction Foods Textiles
    Telecom Motors Aerospace Marine Bank Legal Advisors Digital Studios Works Supply
    """
)
_LEGAL = (
    ("Inc", "Incorporated", "Inc."),
    ("LLC", "L.L.C.", "LLC"),
    ("Ltd", "Limited", "Ltd."),
    ("Corp", "Corporation", "Corp."),
    ("GmbH", "GmbH", "GmbH"),
    ("PLC", "plc", "P.L.C."),
    ("Co", "Company", "Co."),
    ("", "", ""),
)
_FREE_MAIL_US = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "comcast.net",
)
_FREE_MAIL_GB = (
    "gmail.com",
    "yahoo.co.uk",
    "hotmail.co.uk",
    "outlook.com",
    "btinternet.com",
    "icloud.com",
    "sky.com",
    "live.co.uk",
)
_SYLLABLES = _word_list(
    """
    bar ber bor kel kin lan lin mar mer mor nor pen per ran ren ros sal sel stan ter tor
    val ven wal wil ack ard ell ing ley man ner ton ver ham ford field worth wick by dal
    gar hol kov ski sen son berg stein ez ini elli ova
    """
)
_OCR = (
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("d", "cl"),
    ("vv", "w"),
    ("w", "vv"),
    ("li", "h"),
    ("h", "li"),
    ("e", "c"),
    ("c", "e"),
    ("o", "0"),
    ("l", "1"),
    ("i", "l"),
)
_KEYBOARD = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}


@cache
def _cities(country: str) -> tuple[tuple[str, str], ...]:
    text = resources.files("kith.contacts.dedupe").joinpath("data/cities.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((city, code) for c, city, code in rows if c == country)


def _zipf_weights(n: int, s: float) -> list[float]:
    return list(accumulate(1.0 / (k**s) for k in range(1, n + 1)))


# --- people -----------------------------------------------------------------------------


@dataclass
class Person:
    pid: int
    gender: str
    first: str  # lowercase ASCII
    last: str
    birthday: date
    country: str
    house: int
    street: str
    suffix: int
    city: str
    postcode: str
    company: int  # index into the company pool, -1 for none
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Company:
    name: str
    legal: int
    domain: str


@dataclass
class LabelledData:
    """Records and the person each one belongs to."""

    records: list[MatchRecord]
    person_of: dict[str, int]

    def true_pairs(self) -> set[tuple[str, str]]:
        by_person: dict[int, list[str]] = {}
        for rid, pid in self.person_of.items():
            by_person.setdefault(pid, []).append(rid)
        pairs: set[tuple[str, str]] = set()
        for ids in by_person.values():
            ids.sort()
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    pairs.add((a, b))
        return pairs


class _World:
    """Name, place and company pools plus the registry that keeps emails and phones
    unique across the whole data set."""

    def __init__(self, rng: random.Random, persons_hint: int) -> None:
        self.rng = rng
        firsts = _names("first_names.txt")
        self.first = {"M": firsts["M"], "F": firsts["F"]}
        self.first_cum = {g: _zipf_weights(len(v), 0.75) for g, v in self.first.items()}
        self.last = _names("last_names.txt")[""]
        self.last_cum = _zipf_weights(len(self.last), 0.65)
        n_companies = max(40, persons_hint // 10)
        self.companies = [self._company(i) for i in range(n_companies)]
        self.company_cum = _zipf_weights(n_companies, 0.8)
        self.used: set[str] = set()

    def _company(self, i: int) -> Company:
        rng = self.rng
        words = [rng.choice(_COMPANY_A), rng.choice(_COMPANY_B)]
        if rng.random() < 0.3:
            words.insert(1, rng.choice(_COMPANY_A))
        name = " ".join(words)
        tld = rng.choice((".com", ".com", ".com", ".io", ".co.uk", ".net"))
        domain = "".join(words).lower() + (str(i) if rng.random() < 0.5 else "") + tld
        return Company(name, rng.randrange(len(_LEGAL)), domain)

    def first_name(self, gender: str) -> str:
        rng = self.rng
        if rng.random() < 0.07:
            return self.synthetic_name()
        return rng.choices(self.first[gender], cum_weights=self.first_cum[gender])[0]

    def last_name(self) -> str:
        if self.rng.random() < 0.4:
            return self.synthetic_name(2 + (self.rng.random() < 0.4))
        return self.rng.choices(self.last, cum_weights=self.last_cum)[0]

    def synthetic_name(self, parts: int = 2) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(parts))

    def company_index(self) -> int:
        return self.rng.choices(range(len(self.companies)), cum_weights=self.company_cum)[0]

    def unique(self, value: str, make_other: str) -> str:
        candidate = value
        while candidate in self.used:
            candidate = make_other.format(n=self.rng.randrange(10, 10000))
        self.used.add(candidate)
        return candidate

    def phone(self, country: str) -> str:
        rng = self.rng
        while True:
            if country == "US":
                number = f"+1{rng.randrange(201, 990)}{rng.randrange(200, 1000)}"
                number += f"{rng.randrange(10000):04d}"
            else:
                number = f"+447{rng.randrange(100, 1000)}{rng.randrange(1000000):06d}"
            if number[2:5] not in ("211", "311", "411", "911") and number not in self.used:
                self.used.add(number)
                return number


def _address(rng: random.Random, country: str) -> tuple[int, str, int, str, str]:
    street = rng.choice(_STREETS)
    suffix = rng.randrange(len(_SUFFIXES))
    if country == "US":
        city, zip3 = rng.choice(_cities("US"))
        return rng.randrange(1, 9000), street, suffix, city, f"{zip3}{rng.randrange(100):02d}"
    city, area = rng.choice(_cities("GB"))
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    inward = f"{rng.randrange(10)}{rng.choice(letters)}{rng.choice(letters)}"
    return rng.randrange(1, 300), street, suffix, city, f"{area}{rng.randrange(1, 20)} {inward}"


def _make_person(world: _World, pid: int, *, common: bool = False) -> Person:
    rng = world.rng
    gender = rng.choice("MF")
    if common:
        first = rng.choice(world.first[gender][:6])
        last = rng.choice(world.last[:6])
    else:
        first, last = world.first_name(gender), world.last_name()
    birthday = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    country = "US" if rng.random() < 0.75 else "GB"
    house, street, suffix, city, postcode = _address(rng, country)
    company = world.company_index() if rng.random() < 0.85 else -1
    person = Person(
        pid, gender, first, last, birthday, country, house, street, suffix, city, postcode, company
    )
    _fill_contact_pools(world, person)
    return person


def _fill_contact_pools(world: _World, p: Person, size: int = 6) -> None:
    rng = world.rng
    f, last = p.first, p.last
    yy = f"{p.birthday.year % 100:02d}"
    free = _FREE_MAIL_US if p.country == "US" else _FREE_MAIL_GB
    personal = [
        f"{f}.{last}",
        f"{f}{last}",
        f"{f[0]}{last}",
        f"{f}_{last}",
        f"{f}.{last}{yy}",
        f"{f}{p.birthday.year}",
        f"{last}.{f}",
        f"{f}{last[0]}{rng.randrange(1, 99)}",
        f"{f[0]}.{last}",
    ]
    rng.shuffle(personal)
    emails = []
    if p.company >= 0:
        domain = world.companies[p.company].domain
        work = rng.choice((f"{f}.{last}", f"{f[0]}{last}", f"{f}", f"{f}{last[0]}"))
        emails.append(world.unique(f"{work}@{domain}", f"{work}{{n}}@{domain}"))
    for local in personal[: size - len(emails)]:
        domain = rng.choice(free)
        emails.append(world.unique(f"{local}@{domain}", f"{local}{{n}}@{domain}"))
    p.emails = emails
    p.phones = [world.phone(p.country) for _ in range(3)]


# --- damage -----------------------------------------------------------------------------


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    kind = rng.random()
    i = rng.randrange(1, len(word))  # first letters are rarely wrong
    if kind < 0.25:  # keyboard neighbour
        ch = word[i]
        return word[:i] + rng.choice(_KEYBOARD.get(ch, "aeiou")) + word[i + 1 :]
    if kind < 0.45:  # dropped letter
        return word[:i] + word[i + 1 :]
    if kind < 0.6:  # doubled / inserted letter
        return word[:i] + word[i] + word[i:]
    if kind < 0.8 and i < len(word) - 1:  # neighbours swapped
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    for wrong, right in rng.sample(_OCR, len(_OCR)):  # OCR-like confusion
        at = word.find(wrong, 1)
        if at > 0:
            return word[:at] + right + word[at + len(wrong) :]
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]


_STYLED = {
    "obrien": "O'Brien",
    "oconnor": "O'Connor",
    "oconnell": "O'Connell",
    "odonnell": "O'Donnell",
    "oneill": "O'Neill",
    "oneal": "O'Neal",
    "oreilly": "O'Reilly",
    "macdonald": "MacDonald",
    "deleon": "DeLeon",
    "delacruz": "De la Cruz",
    "dejesus": "De Jesus",
    "delarosa": "De La Rosa",
}


def _display_name(rng: random.Random, name: str) -> str:
    if name in _ACCENTED and rng.random() < 0.7:
        text = _ACCENTED[name]
    elif name in _STYLED and rng.random() < 0.8:
        text = _STYLED[name]
    elif name.startswith("mc") and len(name) > 3:
        text = "Mc" + name[2:].capitalize()
    else:
        text = name.capitalize()
    roll = rng.random()
    if roll < 0.04:
        return text.upper()
    if roll < 0.08:
        return text.lower()
    return text


def _birthday_typo(rng: random.Random, day: date) -> date:
    text = day.strftime("%Y%m%d")
    for _ in range(20):
        i = rng.randrange(2, 8)
        if rng.random() < 0.7:
            changed = text[:i] + str(rng.randrange(10)) + text[i + 1 :]
        elif i < 7:
            changed = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:
            continue
        try:
            candidate = date(int(changed[:4]), int(changed[4:6]), int(changed[6:]))
        except ValueError:
            continue
        if candidate != day:
            return candidate
    return day + timedelta(days=1)


@dataclass
class Damage:
    """Chances (0-1) that one observation of a person differs from the truth."""

    nickname: float = 0.15
    first_typo: float = 0.06
    last_typo: float = 0.06
    initial: float = 0.02
    swapped: float = 0.03
    no_first: float = 0.01
    no_email: float = 0.15
    no_phone: float = 0.30
    phone_wrong_prefix: float = 0.03
    no_company: float = 0.15
    company_changed: float = 0.08
    company_variant: float = 0.35
    company_typo: float = 0.03
    no_address: float = 0.12
    moved: float = 0.15
    moved_abroad: float = 0.05  # of the moves
    street_variant: float = 0.3
    street_typo: float = 0.04
    no_postcode: float = 0.05
    no_city: float = 0.05
    no_birthday: float = 0.15
    birthday_typo: float = 0.04
    birthday_day_month: float = 0.02


ORIGINAL = Damage(
    nickname=0.05,
    first_typo=0.0,
    last_typo=0.0,
    initial=0.0,
    swapped=0.0,
    no_first=0.0,
    phone_wrong_prefix=0.0,
    company_changed=0.0,
    company_typo=0.0,
    moved=0.0,
    moved_abroad=0.0,
    street_typo=0.0,
    birthday_typo=0.0,
    birthday_day_month=0.0,
)


class _Observer:
    """Turns a person into records, each a fresh observation with its own damage."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self.emails_used: dict[int, int] = {}
        self.phones_used: dict[int, int] = {}

    def record(self, rid: str, p: Person, d: Damage) -> MatchRecord:
        rng = self.world.rng
        first, last = p.first, p.last
        if rng.random() < d.nickname:
            nicks = [n for n in nicknames_of(first) if len(n) > 1]
            if nicks:
                first = rng.choice(nicks)
        if rng.random() < d.first_typo:
            first = _typo(rng, first)
        if rng.random() < d.last_typo:
            last = _typo(rng, last)
        first_text = _display_name(rng, first)
        last_text = _display_name(rng, last)
        if rng.random() < d.initial:
            first_text = first_text[0] + ("." if rng.random() < 0.5 else "")
        if rng.random() < d.no_first:
            first_text = ""
        if rng.random() < d.swapped:
            first_text, last_text = last_text, first_text

        emails: tuple[str, ...] = ()
        used = self.emails_used.get(p.pid, 0)
        if rng.random() >= d.no_email and used < len(p.emails):
            emails = (p.emails[used],)
            self.emails_used[p.pid] = used + 1
            if rng.random() < 0.1 and used + 1 < len(p.emails):
                emails += (p.emails[used + 1],)
                self.emails_used[p.pid] = used + 2

        phones: tuple[str, ...] = ()
        used = self.phones_used.get(p.pid, 0)
        if rng.random() < d.phone_wrong_prefix and used > 0:
            # An earlier record's number read with the wrong country code.
            earlier = p.phones[rng.randrange(used)]
            wrong = ("+44" if earlier.startswith("+1") else "+1") + earlier[-10:]
            if wrong not in self.world.used:
                self.world.used.add(wrong)
                phones = (wrong,)
        elif rng.random() >= d.no_phone and used < len(p.phones):
            phones = (p.phones[used],)
            self.phones_used[p.pid] = used + 1

        company = self._company(p, d)
        street, city, postcode, country = self._address(p, d)
        birthday = ""
        if rng.random() >= d.no_birthday:
            day = p.birthday
            if rng.random() < d.birthday_typo:
                day = _birthday_typo(rng, day)
            elif rng.random() < d.birthday_day_month and day.day <= 12 and day.day != day.month:
                day = date(day.year, day.day, day.month)
            birthday = day.isoformat()
        return MatchRecord(
            id=rid,
            first_name=first_text,
            last_name=last_text,
            emails=emails,
            phones=phones,
            company=company,
            street=street,
            city=city,
            postcode=postcode,
            country=country,
            birthday=birthday,
        )

    def _company(self, p: Person, d: Damage) -> str:
        rng = self.world.rng
        index = p.company
        if rng.random() < d.company_changed:
            index = self.world.company_index()
        if index < 0 or rng.random() < d.no_company:
            return ""
        company = self.world.companies[index]
        short, long, dotted = _LEGAL[company.legal]
        name = company.name
        if rng.random() < d.company_variant:
            style = rng.randrange(5)
            if style == 0:
                name = name.upper()
            elif style == 1:
                suffix = long
            elif style == 2:
                suffix = ""
            elif style == 3:
                suffix = dotted
                name += ","
            else:
                suffix = short
                words = name.split()
                if len(words) > 2:
                    name = " ".join(words[:2])
            if style != 0:
                return f"{name} {suffix}".strip().rstrip(",")
        if rng.random() < d.company_typo:
            words = name.split()
            k = rng.randrange(len(words))
            words[k] = _typo(rng, words[k].lower()).capitalize()
            name = " ".join(words)
        return f"{name} {short}".strip()

    def _address(self, p: Person, d: Damage) -> tuple[str, str, str, str]:
        rng = self.world.rng
        if rng.random() < d.no_address:
            return "", "", "", p.country if rng.random() < 0.5 else ""
        house, street, suffix, city, postcode = p.house, p.street, p.suffix, p.city, p.postcode
        country = p.country
        if rng.random() < d.moved:
            if rng.random() < d.moved_abroad:
                country = "GB" if country == "US" else "US"
            house, street, suffix, new_city, new_postcode = _address(rng, country)
            if country != p.country or rng.random() < 0.5:
                city, postcode = new_city, new_postcode
        long, short = _SUFFIXES[suffix]
        word = short if rng.random() < d.street_variant else long
        if rng.random() < d.street_typo:
            street = _typo(rng, street.lower()).capitalize()
        text = f"{house} {street} {word}"
        if rng.random() < 0.1:
            text += f", Apt {rng.randrange(1, 40)}" if country == "US" else ""
        if rng.random() < d.no_city:
            city = ""
        if rng.random() < d.no_postcode:
            postcode = ""
        elif country == "GB" and rng.random() < 0.2:
            postcode = postcode.replace(" ", "")
        return text, city, postcode, country


def generate_benchmark(
    persons: int = 5000,
    seed: int = 1,
    *,
    singletons: int | None = None,
    common_name_share: float = 0.15,
    relative_share: float = 0.08,
) -> LabelledData:
    """A labelled data set: ``persons`` people with 1-4 duplicates each, ``singletons``
    (default: as many) people without, of whom ``common_name_share`` carry one of the
    most common names, and for ``relative_share`` of the people a relative at the same
    address (same last name, another first name and birthday). Records are shuffled."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    world = _World(rng, persons * 2)
    observer = _Observer(world)
    singletons = persons if singletons is None else singletons
    drafts: list[tuple[int, Person, Damage]] = []
    pid = 0
    for _ in range(persons):
        person = _make_person(world, pid, common=rng.random() < common_name_share / 3)
        pid += 1
        copies = rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0]
        drafts.append((person.pid, person, ORIGINAL))
        drafts.extend((person.pid, person, Damage()) for _ in range(copies))
        if rng.random() < relative_share:
            relative = _relative(world, pid, person)
            pid += 1
            drafts.append((relative.pid, relative, ORIGINAL))
    for _ in range(singletons):
        person = _make_person(world, pid, common=rng.random() < common_name_share)
        pid += 1
        drafts.append((person.pid, person, ORIGINAL if rng.random() < 0.5 else Damage()))
    rng.shuffle(drafts)
    records: list[MatchRecord] = []
    person_of: dict[str, int] = {}
    for index, (owner, person, damage) in enumerate(drafts):
        rid = f"r{seed:x}-{index:07d}"
        records.append(observer.record(rid, person, damage))
        person_of[rid] = owner
    return LabelledData(records, person_of)


def _relative(world: _World, pid: int, person: Person) -> Person:
    rng = world.rng
    relative = _make_person(world, pid)
    relative.last = person.last
    relative.country = person.country
    relative.house, relative.street, relative.suffix = person.house, person.street, person.suffix
    relative.city, relative.postcode = person.city, person.postcode
    if rng.random() < 0.1:  # a twin
        relative.birthday = person.birthday
        while relative.first == person.first:
            relative.first = world.first_name(relative.gender)
    _fill_contact_pools(world, relative)
    return relative


def generate_population(
    records: int, seed: int = 7, *, duplicate_share: float = 0.12
) -> Iterator[MatchRecord]:
    """``records`` records for the scan benchmark, streamed: about ``duplicate_share`` of
    the people appear two or three times, the others once. A record's id is
    ``p<person>-<n>``: records of one person share the part before the dash."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    world = _World(rng, records)
    observer = _Observer(world)
    made = 0
    pid = 0
    while made < records:
        person = _make_person(world, pid)
        copies = 0
        if rng.random() < duplicate_share:
            copies = 1 if rng.random() < 0.7 else 2
        for k in range(copies + 1):
            if made >= records:
                break
            yield observer.record(f"p{pid:08d}-{k}", person, ORIGINAL if k == 0 else Damage())
            made += 1
        # The per-person counters are only needed while the person is being observed.
        observer.emails_used.pop(pid, None)
        observer.phones_used.pop(pid, None)
        pid += 1
