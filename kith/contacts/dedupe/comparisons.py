"""The comparison levels of the match model, each written twice over the same feature
columns: as a Python function (for scoring one pair fast, on create) and as SQL (for
Splink training and the background scan in DuckDB). ``tests/contacts/dedupe`` checks on
generated pairs that both give the same level.

Levels are tried in order; the first that holds is the pair's level for that comparison.
A null level (a value missing on either side) contributes nothing to the score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

from kith.contacts.dedupe.features import Features
from kith.contacts.dedupe.record import MatchRecord

_jw = JaroWinkler.similarity

NAME_CLOSE = 0.92
# m of "two different known given names": fixed, not estimated. EM cannot tell a person's
# relatives (same last name, same address, twins even the same birthday) from their
# duplicates — they agree on everything but the given name — and so learns that a
# different given name is common among duplicates. It is not: it takes a middle name
# used as first name or a nickname missing from the table, about 1 pair in 2,000.
DIFFERENT_GIVEN_NAMES_M = 0.0005
NAME_FUZZY = 0.80
STREET_CLOSE = 0.88
COMPANY_CLOSE = 0.88


@dataclass(frozen=True, slots=True)
class Level:
    key: str
    sql: str  # Splink condition over ``col_l`` / ``col_r``; "ELSE" for the last level
    m_prior: float  # starting value for EM, and the fallback when a level is never seen
    u_prior: float
    is_null: bool = False
    tf_column: str | None = None  # exact level whose u is the value's own frequency
    fixed_m: bool = False  # m_prior is used as is, never estimated
    # A second condition for this level, tested only after the level ``late_after``
    # (the scan's SQL saves work by testing costly conditions late; it must not overlap
    # the levels between).
    late_sql: str | None = None
    late_after: str | None = None

    @property
    def condition(self) -> str:
        """The whole condition (for Splink, which tests levels strictly in order)."""
        return self.sql if self.late_sql is None else f"({self.sql}) OR ({self.late_sql})"


Reason = Callable[[str, MatchRecord, MatchRecord, Features, Features], str | None]


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    columns: tuple[str, ...]  # feature columns the comparison reads
    levels: tuple[Level, ...]
    level_of: Callable[[Features, Features], int]
    reason: Reason

    def level_keys(self) -> tuple[str, ...]:
        return tuple(level.key for level in self.levels)

    def index(self, key: str) -> int:
        return self.level_keys().index(key)


def _share(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return any(x in b for x in a)


def _order(text: str) -> tuple[str, str]:
    return (text.casefold(), text)


def _pair(a: str, b: str) -> str:
    """Both spellings, in a fixed order (a reason reads the same for (a, b) and (b, a))."""
    return "/".join(sorted((a.strip(), b.strip()), key=_order))


def _either(a: str, b: str) -> str:
    """One of two spellings of the same value, the same one whichever comes first."""
    return min(a.strip(), b.strip(), key=_order)


# --- names ------------------------------------------------------------------------------


def _alike_sql(x: str, y: str) -> str:
    """SQL: given names ``x`` and ``y`` (``first_l``, ``last_r``, …) alike: Jaro-Winkler
    ≥ NAME_FUZZY, nickname-equal, or one is the other's initial."""
    gx, gy = (
        x.replace("first", "first_groups").replace("last", "last_groups"),
        y.replace("first", "first_groups").replace("last", "last_groups"),
    )
    return (
        f"(jaro_winkler_similarity({x}, {y}) >= {NAME_FUZZY} OR list_has_any({gx}, {gy}) "
        f"OR ((length({x}) = 1 OR length({y}) = 1) AND left({x}, 1) = left({y}, 1)))"
    )


# Swapped first and last names: one cross pair close, the other at least alike (so that
# a swap combined with a nickname, an initial or a typo is still a swap).
_SWAPPED_SQL = (
    "(first_l <> '' AND first_r <> '' AND last_l <> '' AND last_r <> '' AND ("
    f"(jaro_winkler_similarity(first_l, last_r) >= {NAME_CLOSE} AND "
    f"{_alike_sql('last_l', 'first_r')}) OR "
    f"(jaro_winkler_similarity(last_l, first_r) >= {NAME_CLOSE} AND "
    f"{_alike_sql('first_l', 'last_r')})))"
)


def _alike(x: str, gx: tuple[str, ...], y: str, gy: tuple[str, ...]) -> bool:
    return (
        _jw(x, y) >= NAME_FUZZY or _share(gx, gy) or ((len(x) == 1 or len(y) == 1) and x[0] == y[0])
    )


def _swapped(a: Features, b: Features) -> bool:
    if not (a.first and b.first and a.last and b.last):
        return False
    if _jw(a.first, b.last) >= NAME_CLOSE and _alike(
        a.last, a.last_groups, b.first, b.first_groups
    ):
        return True
    return _jw(a.last, b.first) >= NAME_CLOSE and _alike(
        a.first, a.first_groups, b.last, b.last_groups
    )


def _initial_of(initial: str, other: Features) -> bool:
    """``initial`` is one letter, the initial of the other's first name or of a name it
    is a nickname of (``F`` / ``Chesca``: Francesca)."""
    return len(initial) == 1 and initial in other.first_initials


def _initial_sql(x: str, y: str) -> str:
    return f"(length(first_{x}) = 1 AND list_contains(first_initials_{y}, first_{x}))"


def _first_level(a: Features, b: Features) -> int:
    fa, fb = a.first, b.first
    if not fa or not fb:
        return 0
    if fa == fb:
        return 1
    if _share(a.first_groups, b.first_groups):
        return 2
    sim = _jw(fa, fb)
    if sim >= NAME_CLOSE:
        return 3
    if _initial_of(fa, b) or _initial_of(fb, a):
        return 4
    if _swapped(a, b):
        return 5
    if a.first_known and b.first_known:
        return 6
    if sim >= NAME_FUZZY:
        return 7
    return 8


def _first_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    names = _pair(ra.first_name, rb.first_name)
    if key == "nickname" and _jw(fa.first, fb.first) >= NAME_CLOSE:
        key = "close"  # a typo of the same name, found in the nickname table
    return {
        "exact": "same first name",
        "nickname": f"first name: nickname ({names})",
        "close": f"first name: similar ({names})",
        "initial": f"first name: initial ({names})",
        "swapped": "first and last name swapped",
        "fuzzy": f"first name: alike ({names})",
    }.get(key)


FIRST_NAME = Comparison(
    name="first_name",
    columns=("first", "first_groups", "first_initials", "first_known", "last", "last_groups"),
    levels=(
        Level("null", "first_l = '' OR first_r = ''", 0, 0, is_null=True),
        Level("exact", "first_l = first_r", 0.80, 0.01, tf_column="first"),
        Level("nickname", "list_has_any(first_groups_l, first_groups_r)", 0.10, 0.003),
        Level("close", f"jaro_winkler_similarity(first_l, first_r) >= {NAME_CLOSE}", 0.05, 0.002),
        Level(
            "initial",
            f"{_initial_sql('l', 'r')} OR {_initial_sql('r', 'l')}",
            0.01,
            0.001,
        ),
        Level("swapped", _SWAPPED_SQL, 0.02, 0.0001),
        # Two given names we know (as written: a typo is no name), and know to be
        # different (Patricia / George, Lisa / Linda): the usual sign of two people of
        # one family, at one address, under one last name. (Spelling variants — Steven /
        # Stephen — are in the nickname table.)
        Level(
            "different",
            "first_known_l AND first_known_r",
            DIFFERENT_GIVEN_NAMES_M,
            0.8,
            fixed_m=True,
        ),
        Level("fuzzy", f"jaro_winkler_similarity(first_l, first_r) >= {NAME_FUZZY}", 0.01, 0.05),
        Level("else", "ELSE", 0.01, 0.13),
    ),
    level_of=_first_level,
    reason=_first_reason,
)


def _last_level(a: Features, b: Features) -> int:
    la, lb = a.last, b.last
    if not la or not lb:
        return 0
    if la == lb:
        return 1
    sim = _jw(la, lb)
    if sim >= NAME_CLOSE:
        return 2
    if _swapped(a, b):
        return 0  # the first-name comparison counts a swap, once
    if sim >= NAME_FUZZY:
        return 3
    return 4


def _last_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    names = _pair(ra.last_name, rb.last_name)
    return {
        "exact": "same last name",
        "close": f"last name: similar ({names})",
        "fuzzy": f"last name: alike ({names})",
    }.get(key)


LAST_NAME = Comparison(
    name="last_name",
    columns=("last", "first", "first_groups", "last_groups"),
    levels=(
        Level(
            "null",
            "last_l = '' OR last_r = ''",
            0,
            0,
            is_null=True,
            late_sql=(
                f"last_l <> last_r AND jaro_winkler_similarity(last_l, last_r) < {NAME_CLOSE} "
                f"AND {_SWAPPED_SQL}"
            ),
            late_after="close",
        ),
        Level("exact", "last_l = last_r", 0.85, 0.002, tf_column="last"),
        Level("close", f"jaro_winkler_similarity(last_l, last_r) >= {NAME_CLOSE}", 0.08, 0.002),
        Level("fuzzy", f"jaro_winkler_similarity(last_l, last_r) >= {NAME_FUZZY}", 0.02, 0.03),
        Level("else", "ELSE", 0.03, 0.96),
    ),
    level_of=_last_level,
    reason=_last_reason,
)


# --- birthday ---------------------------------------------------------------------------


def _one_typo(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance 1 for two strings of the same length: one character
    replaced, or two neighbours swapped."""
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diffs) == 1:
        return True
    return (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and a[diffs[0]] == b[diffs[1]]
        and a[diffs[1]] == b[diffs[0]]
    )


def _birthday_level(a: Features, b: Features) -> int:
    ba, bb = a.birthday, b.birthday
    if not ba or not bb:
        return 0
    if ba == bb:
        return 1
    if _one_typo(ba, bb):
        return 2
    if ba == b.birthday_dm:
        return 3
    if ba[:6] == bb[:6]:
        return 4
    return 5


def _birthday_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    return {
        "exact": "same birthday",
        "typo": "birthday: one-digit typo",
        "day_month": "birthday: day and month swapped",
        "year_month": "birthday: same year and month",
    }.get(key)


BIRTHDAY = Comparison(
    name="birthday",
    columns=("birthday", "birthday_dm"),
    levels=(
        Level("null", "birthday_l = '' OR birthday_r = ''", 0, 0, is_null=True),
        Level("exact", "birthday_l = birthday_r", 0.88, 0.00006),
        Level("typo", "damerau_levenshtein(birthday_l, birthday_r) = 1", 0.06, 0.0015),
        Level("day_month", "birthday_l = birthday_dm_r", 0.02, 0.00005),
        Level("year_month", "left(birthday_l, 6) = left(birthday_r, 6)", 0.01, 0.0015),
        Level("else", "ELSE", 0.03, 0.997),
    ),
    level_of=_birthday_level,
    reason=_birthday_reason,
)


# --- email and phone --------------------------------------------------------------------


# Email local parts are mostly spelled from the person's name ("john.smith", "jsmith"):
# a shared one then repeats what the names say — it is the same evidence, and namesakes
# share it all the time. Only a shared local part that is a handle of its own on both
# records ("skywalker77", "tiger.lily") is evidence of its own.
def _shared_handle(a: Features, b: Features) -> bool:
    return _share(a.email_handles, b.email_handles)


def _email_level(a: Features, b: Features) -> int:
    if not a.emails or not b.emails:
        return 0
    if _share(a.emails, b.emails):
        return 1
    if _shared_handle(a, b):
        return 2
    if _share(a.email_domains, b.email_domains):
        return 3
    return 4


def _first_shared(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    return next((x for x in a if x in b), "")


def _email_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    if key == "exact":
        return "same email"
    if key == "local":
        return f"email: same local part ({_first_shared(fa.email_handles, fb.email_handles)})"
    if key == "domain":
        return f"same email domain ({_first_shared(fa.email_domains, fb.email_domains)})"
    return None


EMAIL = Comparison(
    name="email",
    columns=("emails", "email_handles", "email_domains"),
    levels=(
        Level("null", "len(emails_l) = 0 OR len(emails_r) = 0", 0, 0, is_null=True),
        Level("exact", "list_has_any(emails_l, emails_r)", 0.5, 0.00001),
        Level(
            "local",
            "list_has_any(email_handles_l, email_handles_r)",
            0.05,
            0.0005,
        ),
        Level("domain", "list_has_any(email_domains_l, email_domains_r)", 0.15, 0.003),
        Level("else", "ELSE", 0.6, 0.996),
    ),
    level_of=_email_level,
    reason=_email_reason,
)


def _phone_level(a: Features, b: Features) -> int:
    if not a.phones or not b.phones:
        return 0
    if _share(a.phones, b.phones):
        return 1
    if _share(a.phone_tails, b.phone_tails):
        return 2
    return 3


def _phone_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    return {"exact": "same phone", "tail": "phone: same last 7 digits"}.get(key)


PHONE = Comparison(
    name="phone",
    columns=("phones", "phone_tails"),
    levels=(
        Level("null", "len(phones_l) = 0 OR len(phones_r) = 0", 0, 0, is_null=True),
        Level("exact", "list_has_any(phones_l, phones_r)", 0.4, 0.00001),
        Level("tail", "list_has_any(phone_tails_l, phone_tails_r)", 0.05, 0.00002),
        Level("else", "ELSE", 0.55, 0.99997),
    ),
    level_of=_phone_level,
    reason=_phone_reason,
)


# --- address ----------------------------------------------------------------------------

_SAME_STREET_SQL = (
    "street_l <> '' AND street_num_l = street_num_r "
    f"AND jaro_winkler_similarity(street_l, street_r) >= {STREET_CLOSE}"
)
_SAME_POSTCODE_SQL = "postcode_l <> '' AND postcode_l = postcode_r"
_SAME_CITY_SQL = "city_l <> '' AND city_l = city_r"


def _no_address(f: Features) -> bool:
    return not f.street and not f.postcode and not f.city


def _address_level(a: Features, b: Features) -> int:
    if _no_address(a) or _no_address(b):
        return 0
    same_postcode = a.postcode != "" and a.postcode == b.postcode
    same_city = a.city != "" and a.city == b.city
    if a.street and a.street_num == b.street_num and _jw(a.street, b.street) >= STREET_CLOSE:
        if same_postcode or same_city:
            return 1
        if (not a.postcode or not b.postcode) and (not a.city or not b.city):
            return 2
    if same_postcode:
        return 3
    if same_city:
        return 4
    return 5


def _address_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    return {
        "same": "same address",
        "street": "same street address",
        "postcode": "same postcode",
        "city": f"same city ({_either(ra.city, rb.city)})",
    }.get(key)


ADDRESS = Comparison(
    name="address",
    columns=("street", "street_num", "postcode", "city"),
    levels=(
        Level(
            "null",
            "(street_l = '' AND postcode_l = '' AND city_l = '') "
            "OR (street_r = '' AND postcode_r = '' AND city_r = '')",
            0,
            0,
            is_null=True,
        ),
        Level(
            "same",
            f"{_SAME_STREET_SQL} AND (({_SAME_POSTCODE_SQL}) OR ({_SAME_CITY_SQL}))",
            0.7,
            0.0002,
        ),
        Level(
            "street",
            f"{_SAME_STREET_SQL} AND (postcode_l = '' OR postcode_r = '') "
            "AND (city_l = '' OR city_r = '')",
            0.03,
            0.0001,
        ),
        Level("postcode", _SAME_POSTCODE_SQL, 0.04, 0.002),
        Level("city", _SAME_CITY_SQL, 0.06, 0.01),
        Level("else", "ELSE", 0.17, 0.988),
    ),
    level_of=_address_level,
    reason=_address_reason,
)


# --- company ----------------------------------------------------------------------------


def _company_cross(a: Features, b: Features) -> bool:
    return (a.company_key != "" and a.company_key in b.email_orgs) or (
        b.company_key != "" and b.company_key in a.email_orgs
    )


# A work email names the employer: one record's company can be met in the other's
# email domain (North Systems LLC — melissa.ward@northsystems23.com).
_CROSS_SQL = (
    "((company_key_l <> '' AND list_contains(email_orgs_r, company_key_l)) "
    "OR (company_key_r <> '' AND list_contains(email_orgs_l, company_key_r)))"
)


def _company_level(a: Features, b: Features) -> int:
    ca, cb = a.company, b.company
    if not ca or not cb:
        return 3 if _company_cross(a, b) else 0
    if ca == cb:
        return 1
    if (
        _jw(ca, cb) >= COMPANY_CLOSE
        or (ca + " ").startswith(cb + " ")
        or (cb + " ").startswith(ca + " ")
    ):
        return 2
    if _company_cross(a, b):
        return 3
    return 4


def _company_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    if key == "exact":
        return f"same company ({_either(ra.company, rb.company)})"
    if key == "similar":
        return f"company: similar ({_pair(ra.company, rb.company)})"
    if key == "email":
        named = [
            r.company.strip()
            for r, f, other in ((ra, fa, fb), (rb, fb, fa))
            if f.company_key and f.company_key in other.email_orgs
        ]
        return f"company: {min(named, key=_order)} in the other's email domain"
    return None


COMPANY = Comparison(
    name="company",
    columns=("company", "company_key", "email_orgs"),
    levels=(
        Level(
            "null",
            f"(company_l = '' OR company_r = '') AND NOT {_CROSS_SQL}",
            0,
            0,
            is_null=True,
        ),
        Level("exact", "company_l = company_r", 0.75, 0.002, tf_column="company"),
        Level(
            "similar",
            f"jaro_winkler_similarity(company_l, company_r) >= {COMPANY_CLOSE} "
            "OR starts_with(company_l || ' ', company_r || ' ') "
            "OR starts_with(company_r || ' ', company_l || ' ')",
            0.1,
            0.002,
        ),
        Level("email", _CROSS_SQL, 0.05, 0.001),
        Level("else", "ELSE", 0.15, 0.996),
    ),
    level_of=_company_level,
    reason=_company_reason,
)


# --- country ----------------------------------------------------------------------------


def _country_level(a: Features, b: Features) -> int:
    if not a.country or not b.country:
        return 0
    return 1 if a.country == b.country else 2


def _country_reason(
    key: str, ra: MatchRecord, rb: MatchRecord, fa: Features, fb: Features
) -> str | None:
    return None  # agreeing on a country is never worth saying; disagreeing is no reason


COUNTRY = Comparison(
    name="country",
    columns=("country",),
    levels=(
        Level("null", "country_l = '' OR country_r = ''", 0, 0, is_null=True),
        Level("exact", "country_l = country_r", 0.99, 0.6),
        Level("else", "ELSE", 0.01, 0.4),
    ),
    level_of=_country_level,
    reason=_country_reason,
)


COMPARISONS: tuple[Comparison, ...] = (
    FIRST_NAME,
    LAST_NAME,
    BIRTHDAY,
    EMAIL,
    PHONE,
    ADDRESS,
    COMPANY,
    COUNTRY,
)
COMPARISON_BY_NAME = {c.name: c for c in COMPARISONS}
# Feature columns whose exact level is weighed by the frequency of the value.
TF_COLUMNS: tuple[str, ...] = tuple(
    sorted({lv.tf_column for c in COMPARISONS for lv in c.levels if lv.tf_column})
)


def levels_of(a: Features, b: Features) -> tuple[int, ...]:
    """The level index of every comparison for a pair, in :data:`COMPARISONS` order."""
    return tuple(c.level_of(a, b) for c in COMPARISONS)


def case_sql(comparison: Comparison, left: str = "l", right: str = "r") -> str:
    """``CASE WHEN … THEN <level index> … END`` over ``{left}.col`` / ``{right}.col``
    (for queries outside Splink, which writes ``col_l``/``col_r`` itself)."""
    import re

    columns = sorted(
        {
            c
            for level in comparison.levels
            for c in re.findall(r"\b([a-z_]+)_[lr]\b", level.condition)
        },
        key=len,
        reverse=True,
    )

    def rename(sql: str) -> str:
        for column in columns:
            sql = re.sub(rf"\b{column}_l\b", f"{left}.{column}", sql)
            sql = re.sub(rf"\b{column}_r\b", f"{right}.{column}", sql)
        return sql

    late = {
        lv.late_after: (i, lv.late_sql) for i, lv in enumerate(comparison.levels) if lv.late_sql
    }
    parts = ["CASE"]
    for index, level in enumerate(comparison.levels):
        if level.sql == "ELSE":
            parts.append(f"ELSE {index}")
            continue
        parts.append(f"WHEN {rename(level.sql)} THEN {index}")
        if level.key in late:
            late_index, late_sql = late[level.key]
            parts.append(f"WHEN {rename(late_sql or '')} THEN {late_index}")
    parts.append("END")
    return " ".join(parts)
