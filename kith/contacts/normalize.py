"""Normalization of contact fields: pure functions, no database, no I/O beyond
reading two small data files once.

Every normalizer is idempotent (``f(f(x)) == f(x)``) and raises
:class:`NormalizationError` naming the wire field (a dotted camelCase path such
as ``emails.1.email``) when a value cannot be accepted. Functions that check
several fields at once raise :class:`NormalizationErrors`, a
``NormalizationError`` carrying every problem, so ``except NormalizationError``
catches both and ``exc.errors`` always lists the individual problems.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar

import idna
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from nameparser import HumanName
from nameparser.config import CONSTANTS as NAME_CONSTANTS
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from kith.errors import ValidationFailed

DATA_DIR = Path(__file__).resolve().parent / "data"


def _data_rows(name: str, columns: int) -> list[list[str]]:
    """Tab-separated rows of a data file, comments and blank lines skipped."""
    rows: list[list[str]] = []
    for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            row = line.split("\t")
            rows.append(row + [""] * (columns - len(row)))
    return rows


P = ParamSpec("P")
T = TypeVar("T")


# --- errors -----------------------------------------------------------------


class NormalizationError(ValueError):
    """One rejected value: ``field`` is the dotted wire path, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def errors(self) -> list[NormalizationError]:
        """The individual problems (just this one)."""
        return [self]

    def with_prefix(self, prefix: str) -> NormalizationError:
        """The same problem(s) with ``prefix.`` put in front of every field path."""
        if not prefix:
            return self
        return NormalizationError(_join_path(prefix, self.field), self.message)


class NormalizationErrors(NormalizationError):
    """Several problems found at once; ``field``/``message`` describe the first."""

    def __init__(self, errors: Iterable[NormalizationError]) -> None:
        flat = [leaf for error in errors for leaf in error.errors]
        if not flat:
            raise ValueError("NormalizationErrors needs at least one error")
        first = flat[0]
        message = first.message
        if len(flat) > 1:
            message = f"{message} (and {len(flat) - 1} more)"
        super().__init__(first.field, message)
        self._errors = flat

    @property
    def errors(self) -> list[NormalizationError]:
        return list(self._errors)

    def with_prefix(self, prefix: str) -> NormalizationError:
        if not prefix:
            return self
        return NormalizationErrors(error.with_prefix(prefix) for error in self._errors)


def _join_path(prefix: str, field: str) -> str:
    if not prefix:
        return field
    if not field:
        return prefix
    return f"{prefix}.{field}"


def to_validation_error(errors: Iterable[NormalizationError]) -> ValidationFailed:
    """One 422 ``VALIDATION_ERROR`` for all problems; details are
    ``[{"field", "message"}]`` in the order found, the message names the fields."""
    flat = [leaf for error in errors for leaf in error.errors]
    details = [{"field": error.field, "message": error.message} for error in flat]
    fields = list(dict.fromkeys(error.field for error in flat))
    if not flat:
        message = "The request is not valid."
    elif len(flat) == 1:
        message = f"Invalid value for {flat[0].field}: {flat[0].message}"
    else:
        message = f"Invalid values for {', '.join(fields)}."
    return ValidationFailed(message, details=details)


class ErrorCollector:
    """Collects problems so that one request reports every bad field at once."""

    def __init__(self) -> None:
        self.errors: list[NormalizationError] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, field: str, message: str) -> None:
        self.errors.append(NormalizationError(field, message))

    def extend(self, error: NormalizationError) -> None:
        self.errors.extend(error.errors)

    def capture(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """``func(*args, **kwargs)``, or ``None`` with its problems recorded."""
        try:
            return func(*args, **kwargs)
        except NormalizationError as exc:
            self.errors.extend(exc.errors)
            return None

    def raise_if_any(self) -> None:
        if self.errors:
            if len(self.errors) == 1:
                raise self.errors[0]
            raise NormalizationErrors(self.errors)


# --- text -------------------------------------------------------------------

# C0/C1 control characters and lone surrogates, except the whitespace controls
# (\t \n \v \f \r and NEL), which are collapsed like any other whitespace.
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise NormalizationError(field, "must be a string")
    return value


def clean_text(
    value: str,
    max_length: int,
    *,
    field: str = "text",
    required: bool = False,
    multiline: bool = False,
) -> str:
    """NFC, trimmed, runs of whitespace collapsed to one space; control characters
    refused; at most ``max_length`` characters (counted after cleaning).

    ``multiline`` keeps line breaks (as ``\\n``, at most one blank line in a row)
    and collapses whitespace within each line. A blank value gives ``""`` unless
    ``required``."""
    text = _require_str(value, field)
    if _FORBIDDEN_CHARS.search(text):
        raise NormalizationError(field, "must not contain control characters")
    if multiline:
        lines = [" ".join(line.split()) for line in _LINE_BREAKS.split(text)]
        kept: list[str] = []
        for line in lines:
            if line or (kept and kept[-1]):
                kept.append(line)
        while kept and not kept[-1]:
            kept.pop()
        text = "\n".join(kept)
    else:
        text = " ".join(text.split())
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if required and not text:
        raise NormalizationError(field, "must not be blank")
    if len(text) > max_length:
        raise NormalizationError(field, f"must be at most {max_length} characters")
    return text


def normalize_label(value: str | None, field: str = "label", max_length: int = 40) -> str | None:
    """A free-text label such as ``work`` or ``home``: cleaned, ``None`` when blank."""
    if value is None:
        return None
    return clean_text(value, max_length, field=field) or None


# --- email ------------------------------------------------------------------


def normalize_email(value: str, field: str = "email") -> str:
    """A syntactically valid address, trimmed and case-folded as a whole (one
    person, one address regardless of case); the domain is IDNA-normalized and
    kept in its Unicode form (``ADA@XN--BCHER-KVA.DE`` → ``ada@bücher.de``).

    No DNS lookups. Domains need at least two labels (``ada@localhost`` is
    refused). The reserved ``.test`` and ``.example`` TLDs are accepted (demo and
    test data); ``.invalid``, ``.local``, ``.localhost``, ``.onion`` and ``.arpa``
    are refused. Quoted local parts, local parts over 64 characters, IP-literal
    domains and display names (``Ada <ada@x.org>``) are refused."""
    text = _require_str(value, field).strip()
    if not text:
        raise NormalizationError(field, "must not be empty")
    if len(text) > 320:
        raise NormalizationError(field, "is too long to be an email address")
    result = _validated_email(text, field)
    if not result.isascii():
        # Case folding can change non-ASCII characters into sequences the
        # validator normalizes differently: validate once more to reach the
        # fixed point, so the function stays idempotent.
        result = _validated_email(result, field)
    return result


def _validated_email(text: str, field: str) -> str:
    try:
        validated = validate_email(
            text,
            check_deliverability=False,
            strict=True,  # local part at most 64 characters
            test_environment=True,
            allow_smtputf8=True,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
        )
    except EmailNotValidError as exc:
        raise NormalizationError(field, f"is not a valid email address: {exc}") from None
    folded = validated.normalized.casefold()
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFC", folded)


def email_domain(email: str) -> str:
    """The part after the last ``@``, lower-cased, without a trailing dot; ``""``
    when there is no ``@`` or nothing after it."""
    _, at, domain = email.rpartition("@")
    return domain.strip().rstrip(".").lower() if at else ""


@lru_cache(maxsize=1)
def free_mail_domains() -> frozenset[str]:
    """The free / consumer mailbox domains (``data/free_mail_domains.txt``), ASCII."""
    return frozenset(row[0].strip().lower() for row in _data_rows("free_mail_domains.txt", 1))


def is_free_mail_domain(domain: str) -> bool:
    """Whether ``domain`` (exact match, Unicode or punycode) belongs to a free or
    consumer mailbox provider (gmail.com, outlook.com, web.de, qq.com, …)."""
    key = domain.strip().rstrip(".").lower()
    if not key.isascii():
        try:
            key = idna.encode(key, uts46=True).decode("ascii")
        except idna.IDNAError:
            return False
    return key in free_mail_domains()


# --- phone ------------------------------------------------------------------

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")

_PHONE_PARSE_MESSAGES = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "has an unknown or missing country code (write it as +<country code> …)"
    ),
    NumberParseException.NOT_A_NUMBER: "is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short to be a phone number",
    NumberParseException.TOO_SHORT_NSN: "is too short to be a phone number",
    NumberParseException.TOO_LONG: "is too long to be a phone number",
}
_PHONE_LENGTH_MESSAGES = {
    ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    ValidationResult.TOO_SHORT: "is too short to be a phone number",
    ValidationResult.TOO_LONG: "is too long to be a phone number",
    ValidationResult.INVALID_LENGTH: "has the wrong number of digits for its country",
}
_SUPPORTED_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)

# libphonenumber's metadata holds ~1,500 patterns, more than the re module's
# 512-entry cache: with numbers from many countries every call recompiled some
# (10k mixed numbers took ~4.5 s instead of ~0.3 s). Keep them compiled.
_enable_pattern_cache = getattr(phonenumbers, "enable_pattern_cache", None)
if _enable_pattern_cache is not None:
    _enable_pattern_cache()


class ParsedPhone(NamedTuple):
    number: str
    """E.164, e.g. ``+14155552671``."""
    extension: str | None
    """Digits after ``ext.``/``x``/``#``, or ``None``."""
    region: str | None
    """ISO 3166-1 alpha-2 region the number belongs to (``None`` for non-geographic)."""


def parse_phone(value: str, default_region: str | None = "US", field: str = "phone") -> ParsedPhone:
    """Parse a phone number written in any common way into E.164 plus its extension.

    Accepts ``+44 20 7946 0958``, ``(415) 555-2671`` (national, read in
    ``default_region``), ``011 44 …`` (the region's international prefix),
    ``00 33 1 …`` (``00`` read as ``+`` when the number is not valid otherwise),
    ``tel:`` URIs and vanity letters. Refuses numbers that are impossible or not
    valid (unassigned ranges, wrong length) according to libphonenumber."""
    text = _require_str(value, field).strip()
    if not text:
        raise NormalizationError(field, "must not be empty")
    if len(text) > 64:
        raise NormalizationError(field, "is too long to be a phone number")
    if _FORBIDDEN_CHARS.search(text):
        raise NormalizationError(field, "must not contain control characters")
    region = (default_region or "ZZ").upper()
    if region not in _SUPPORTED_REGIONS:
        region = "ZZ"
    try:
        number = phonenumbers.parse(text, region)
        parse_problem = None
    except NumberParseException as exc:
        number = None
        parse_problem = _PHONE_PARSE_MESSAGES.get(exc.error_type, "is not a phone number")
    if number is None or not phonenumbers.is_valid_number(number):
        alternative = _international_00(text)
        if alternative is not None:
            return _checked_e164(alternative, field)
    if number is None:
        raise NormalizationError(field, parse_problem or "is not a phone number")
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        message = _PHONE_LENGTH_MESSAGES.get(reason)
        if message is None:
            where = phonenumbers.region_code_for_country_code(number.country_code or 0)
            message = (
                "is not a valid phone number"
                if where in ("ZZ", "001")
                else f"is not a valid phone number for {where}"
            )
        raise NormalizationError(field, message)
    return _checked_e164(_parsed(number), field)


def _checked_e164(parsed: ParsedPhone, field: str) -> ParsedPhone:
    # libphonenumber accepts a few national plans (e.g. German) with numbers
    # longer than the 15 digits E.164 allows; such numbers cannot be stored as E.164.
    if not E164_PATTERN.match(parsed.number):
        raise NormalizationError(field, "is too long to be a phone number")
    return parsed


def _international_00(text: str) -> ParsedPhone | None:
    """``00 <country code> …`` is the international prefix in most of the world;
    try it as ``+`` when the default region did not yield a valid number."""
    stripped = text.lstrip(" (")
    if not stripped.startswith("00") or stripped.startswith("000"):
        return None
    try:
        number = phonenumbers.parse("+" + stripped[2:], None)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return _parsed(number)


def _parsed(number: phonenumbers.PhoneNumber) -> ParsedPhone:
    region = phonenumbers.region_code_for_number(number)
    return ParsedPhone(
        number=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        extension=number.extension or None,
        region=region if region and region not in ("ZZ", "001") else None,
    )


def normalize_phone(value: str, default_region: str | None = "US", field: str = "phone") -> str:
    """E.164 (``+14155552671``). An extension (``… ext. 12``) is accepted and
    DROPPED, since E.164 cannot carry one; use :func:`parse_phone` to keep it.
    Idempotent: an E.164 output normalizes to itself in any default region."""
    return parse_phone(value, default_region, field).number


# --- URLs and social profiles -------------------------------------------------

_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(value: str, field: str = "url") -> str:
    """An absolute ``http``/``https`` URL. ``https://`` is added when no scheme is
    given (``example.com/x`` → ``https://example.com/x``); scheme and host are
    lower-cased, an internationalized host is stored in its ASCII (punycode)
    form, a default port is dropped; path, query and fragment are kept as given.

    Refused: other schemes (``javascript:``, ``ftp:``, ``mailto:``), credentials
    (``user:pass@``), whitespace, control characters or backslashes anywhere,
    IP-address hosts and hosts without a dot (``localhost``), more than 2048
    characters."""
    text = _require_str(value, field).strip()
    if not text:
        raise NormalizationError(field, "must not be empty")
    if len(text) > 2048:
        raise NormalizationError(field, "must be at most 2048 characters")
    if _URL_FORBIDDEN.search(text):
        raise NormalizationError(
            field, "must not contain spaces, backslashes or control characters"
        )
    scheme, rest = _split_scheme(text, field)
    authority, tail = _split_authority(rest)
    if "@" in authority:
        raise NormalizationError(field, "must not contain a user name or password")
    host, port = _split_port(authority, field)
    ascii_host = _normalize_host(host, field)
    if port is not None and port == _DEFAULT_PORTS[scheme]:
        port = None
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    return f"{scheme}://{netloc}{tail}"


def _split_scheme(text: str, field: str) -> tuple[str, str]:
    if text.startswith("//"):
        return "https", text[2:]
    match = _SCHEME.match(text)
    if match is None:
        return "https", text
    candidate = match.group(1).lower()
    after = text[match.end() :]
    if after.startswith("//"):
        if candidate not in _DEFAULT_PORTS:
            raise NormalizationError(field, "must be an http or https address")
        return candidate, after[2:]
    if candidate in _DEFAULT_PORTS:
        raise NormalizationError(field, "is not a valid web address (write https://…)")
    # "example.com:8080/x" is a host and a port, not a scheme; "mailto:…",
    # "javascript:…" are schemes.
    if after[:1].isdigit() or "." in candidate:
        return "https", text
    raise NormalizationError(field, "must be an http or https address")


def _split_authority(rest: str) -> tuple[str, str]:
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], rest[index:]
    return rest, ""


def _split_port(authority: str, field: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        raise NormalizationError(field, "must use a domain name, not an IP address")
    host, colon, port_text = authority.partition(":")
    if not colon:
        return host, None
    if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
        raise NormalizationError(field, "has an invalid port")
    return host, int(port_text)


def _normalize_host(host: str, field: str) -> str:
    host = host.rstrip(".").lower()
    if not host:
        raise NormalizationError(field, "has no host name")
    if not host.isascii() or "xn--" in host:
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
            idna.decode(host)
        except (idna.IDNAError, UnicodeError):
            raise NormalizationError(field, "has an invalid host name") from None
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise NormalizationError(field, "has an invalid host name")
    if len(labels) < 2:
        raise NormalizationError(field, "must have a full domain name (such as example.com)")
    if not _TLD.match(labels[-1]):
        # An all-digit last label means an IPv4 address (in any of its forms).
        raise NormalizationError(field, "must use a domain name, not an IP address")
    return host


class _SocialNetworks(NamedTuple):
    aliases: dict[str, str]
    """Other spellings of network keys (lower case) → the canonical key."""
    templates: dict[str, str]
    """Networks where a bare handle becomes a profile URL: key → URL template."""


@lru_cache(maxsize=1)
def _social_networks() -> _SocialNetworks:
    networks = _SocialNetworks({}, {})
    for network, template, aliases in _data_rows("social_networks.tsv", 3):
        if template != "-":
            networks.templates[network] = template
        for alias in filter(None, (a.strip() for a in aliases.split(","))):
            networks.aliases[alias] = network
    return networks


_NETWORK_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,29}$")
_HANDLE = re.compile(r"^@?([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9_])?)$")
MAX_SOCIAL_PROFILES = 30


def normalize_social_profiles(
    mapping: Mapping[str, str | None], field: str = "socialProfiles"
) -> dict[str, str]:
    """``{network: url}`` with network keys lower-cased and canonical (``x`` →
    ``twitter``, ``fb`` → ``facebook``, ``web``/``homepage``/``url`` →
    ``website``, …; any other ``[a-z][a-z0-9_-]{0,29}`` key is kept) and URLs
    normalized by :func:`normalize_url`. For networks with a profile URL template
    in ``data/social_networks.tsv`` (github, twitter, linkedin, instagram, …) a
    handle (``@ada``, or ``ada`` without a dot) becomes the profile URL. Blank or
    ``None`` values are dropped. Errors name ``socialProfiles.<key>``; all are
    reported at once."""
    if not isinstance(mapping, Mapping):
        raise NormalizationError(field, "must be an object of network → URL")
    errors = ErrorCollector()
    result: dict[str, str] = {}
    for raw_key, raw_value in mapping.items():
        key_text = str(raw_key).strip().lower()
        key = _social_networks().aliases.get(key_text, key_text)
        path = _join_path(field, key_text or str(raw_key))
        if not _NETWORK_KEY.match(key):
            errors.add(path, "is not a valid network name (a-z, 0-9, _ and -; at most 30)")
            continue
        if raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()):
            continue
        if key in result:
            errors.add(path, f"repeats the {key} profile")
            continue
        url = errors.capture(_profile_url, key, raw_value, path)
        if url is not None:
            result[key] = url
    if len(result) > MAX_SOCIAL_PROFILES:
        errors.add(field, f"must have at most {MAX_SOCIAL_PROFILES} profiles")
    errors.raise_if_any()
    return result


def _profile_url(network: str, value: object, field: str) -> str:
    text = _require_str(value, field).strip()
    template = _social_networks().templates.get(network)
    if template is not None:
        match = _HANDLE.match(text)
        if match and (text.startswith("@") or "." not in text):
            return template.format(match.group(1))
    return normalize_url(text, field)


# --- tags -------------------------------------------------------------------

MAX_TAGS = 50
MAX_TAG_LENGTH = 50


def normalize_tags(values: Iterable[str], field: str = "tags") -> list[str]:
    """Cleaned tags (see :func:`clean_text`), blanks dropped, de-duplicated
    case-insensitively keeping the first spelling and order; at most 50 tags of at
    most 50 characters, no commas. Errors name ``tags.<index>``."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise NormalizationError(field, "must be a list of strings")
    errors = ErrorCollector()
    seen: set[str] = set()
    result: list[str] = []
    for index, value in enumerate(values):
        path = f"{field}.{index}"
        tag = errors.capture(clean_text, value, MAX_TAG_LENGTH, field=path)
        if not tag:
            continue
        if "," in tag:
            errors.add(path, "must not contain commas")
            continue
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            result.append(tag)
    if len(result) > MAX_TAGS:
        errors.add(field, f"must have at most {MAX_TAGS} tags")
    errors.raise_if_any()
    return result


# --- names ------------------------------------------------------------------


class ParsedName(NamedTuple):
    first: str
    middle: str
    last: str
    prefix: str
    """Titles such as ``Dr.``, ``Prof. Dr.``, ``Sir``."""
    suffix: str
    """Such as ``Jr.``, ``III``, ``PhD``."""


_SIMPLE_NAME_WORD = re.compile(r"^[A-Z][a-z]+$")
_ROMAN_NUMERAL = re.compile(r"^[ivxlcdm]+$")


@lru_cache(maxsize=1)
def _name_vocabulary() -> frozenset[str]:
    words: set[str] = set()
    for group in (
        NAME_CONSTANTS.titles,
        NAME_CONSTANTS.first_name_titles,
        NAME_CONSTANTS.suffix_acronyms,
        NAME_CONSTANTS.suffix_not_acronyms,
        NAME_CONSTANTS.prefixes,
        NAME_CONSTANTS.conjunctions,
        NAME_CONSTANTS.bound_first_names,
        NAME_CONSTANTS.non_first_name_prefixes,
    ):
        words.update(str(word).lower().strip(".") for word in group)
    return frozenset(words)


@lru_cache(maxsize=8192)
def split_full_name(full_name: str) -> ParsedName:
    """Split a full name with nameparser: ``Dr. Ada M. Lovelace Jr.`` →
    (``Ada``, ``M.``, ``Lovelace``, ``Dr.``, ``Jr.``); ``Lovelace, Ada`` → first
    ``Ada``, last ``Lovelace``; a single word is a first name. Nicknames in
    quotes or parentheses are dropped. Never raises: the input is made NFC,
    control characters are removed and whitespace collapsed; parts are not
    length-limited (clean them with :func:`clean_text` before storing)."""
    text = " ".join(_FORBIDDEN_CHARS.sub(" ", str(full_name)).split())
    if not text:
        return ParsedName("", "", "", "", "")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    words = text.split(" ")
    # nameparser costs ~0.25 ms a call; "First Last" made of plain capitalized
    # words that are in none of its vocabularies parses the same way, faster.
    if len(words) == 2:
        vocabulary = _name_vocabulary()
        if all(
            _SIMPLE_NAME_WORD.match(word)
            and word.lower() not in vocabulary
            and not _ROMAN_NUMERAL.match(word.lower())
            for word in words
        ):
            return ParsedName(words[0], "", words[1], "", "")
    parsed = HumanName(text)
    return ParsedName(
        first=parsed.first,
        middle=parsed.middle,
        last=parsed.last,
        prefix=parsed.title,
        suffix=parsed.suffix,
    )


def full_name(first: str | None, last: str | None) -> str:
    """``first last`` with blanks left out and whitespace collapsed."""
    return " ".join(f"{first or ''} {last or ''}".split())


# --- countries, postcodes, addresses ----------------------------------------


def _country_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = re.sub("[.'`\u2019]", "", text).replace("&", " and ")
    text = " ".join(re.sub(r"[^\w]+", " ", text).split())
    return text[4:] if text.startswith("the ") else text


class _Countries(NamedTuple):
    by_key: dict[str, str]
    names: dict[str, str]


@lru_cache(maxsize=1)
def _countries() -> _Countries:
    by_key: dict[str, str] = {}
    names: dict[str, str] = {}
    for code, name in _data_rows("countries.tsv", 2):
        names.setdefault(code, name)
        key = _country_key(name)
        if by_key.setdefault(key, code) != code:
            raise RuntimeError(f"countries.tsv: {name!r} names both {by_key[key]} and {code}")
    return _Countries(by_key, names)


def normalize_country(value: str, field: str = "country") -> str:
    """ISO 3166-1 alpha-2, upper case. Accepts a known alpha-2 code in any case
    and country names in English (all regions phonenumbers knows) plus German,
    French, Spanish, Italian, Portuguese and Dutch names and common aliases
    (``UK``, ``USA``, ``Holland``, ``Deutschland``, ``Ivory Coast``); matching
    ignores case, accents, punctuation and a leading "the". Unknown → error."""
    text = _require_str(value, field).strip()
    if not text:
        raise NormalizationError(field, "must not be empty")
    countries = _countries()
    if len(text) == 2 and text.isascii() and text.isalpha() and text.upper() in countries.names:
        return text.upper()
    code = countries.by_key.get(_country_key(text))
    if code is None:
        raise NormalizationError(field, "is not a known country (use an ISO 3166-1 alpha-2 code)")
    return code


def country_name(code: str) -> str:
    """English display name of an alpha-2 code (``GB`` → ``United Kingdom``)."""
    try:
        return _countries().names[code.upper()]
    except KeyError:
        raise NormalizationError("country", "is not a known country code") from None


class _PostcodeRule(NamedTuple):
    pattern: re.Pattern[str]
    """Matches the compact form (spaces and hyphens removed)."""
    split_at: int | None
    """Where the canonical form has a separator (negative: from the end)."""
    separator: str


@lru_cache(maxsize=1)
def _postcode_rules() -> dict[str, _PostcodeRule]:
    rules: dict[str, _PostcodeRule] = {}
    for code, pattern, split_at, separator in _data_rows("postcodes.tsv", 4):
        rules[code] = _PostcodeRule(
            re.compile(f"^(?:{pattern})$"),
            None if split_at == "-" else int(split_at),
            "-" if separator == "hyphen" else " ",
        )
    return rules


_POSTCODE_CHARS = re.compile(r"^[A-Z0-9][A-Z0-9 -]*$")


def normalize_postcode(value: str, country: str | None = None, field: str = "postcode") -> str:
    """Trimmed, upper-cased, spaces collapsed; letters, digits, spaces and hyphens
    only, at most 20 characters. For some countries (US, GB, CA, NL, IE, PL, PT,
    BR, JP, SE, DE, FR, IT, ES, FI, MX, AT, BE, CH, DK, NO, AU, NZ, ZA, IN) the
    format is checked and made canonical (``sw1a1aa`` → ``SW1A 1AA``, ``1234ab``
    → ``1234 AB``, ``021391234`` → ``02139-1234``). An unknown or missing
    country only gets the generic cleaning. Blank → ``""``."""
    text = clean_text(value, 20, field=field).upper()
    if not text:
        return ""
    if not _POSTCODE_CHARS.match(text) or not text.isascii():
        raise NormalizationError(field, "may contain only letters, digits, spaces and hyphens")
    code: str | None = None
    if country:
        try:
            code = normalize_country(country)
        except NormalizationError:
            code = None
    rule = _postcode_rules().get(code) if code else None
    if rule is None or code is None:
        return text
    compact = text.replace(" ", "").replace("-", "")
    if not rule.pattern.match(compact):
        raise NormalizationError(field, f"is not a valid postcode for {country_name(code)}")
    if rule.split_at is None or (code == "US" and len(compact) == 5):
        return compact
    cut = rule.split_at if rule.split_at >= 0 else len(compact) + rule.split_at
    return f"{compact[:cut]}{rule.separator}{compact[cut:]}"


ADDRESS_FIELDS = ("label", "street", "city", "region", "postcode", "country")
_ADDRESS_LIMITS = {"label": 40, "street": 300, "city": 120, "region": 120}


def normalize_address(mapping: Mapping[str, Any], field: str = "") -> dict[str, str | None]:
    """``{label, street, city, region, postcode, country}`` → the same six keys
    (``None`` when blank): texts cleaned (``street`` may span lines), ``country``
    by :func:`normalize_country`, ``postcode`` by :func:`normalize_postcode` for
    that country. At least one of street/city/region/postcode/country must be
    non-empty; unknown keys are refused. Error fields are ``<field>.<key>``
    (just ``<key>`` when ``field`` is empty); all problems are reported at once."""
    if not isinstance(mapping, Mapping):
        raise NormalizationError(field or "address", "must be an object")
    errors = ErrorCollector()
    for key in mapping:
        if key not in ADDRESS_FIELDS:
            errors.add(_join_path(field, str(key)), "is not an address field")
    result: dict[str, str | None] = dict.fromkeys(ADDRESS_FIELDS)
    for key, limit in _ADDRESS_LIMITS.items():
        raw = mapping.get(key)
        if raw is not None:
            cleaned = errors.capture(
                clean_text, raw, limit, field=_join_path(field, key), multiline=key == "street"
            )
            result[key] = cleaned or None
    raw_country = mapping.get("country")
    if raw_country is not None and not (isinstance(raw_country, str) and not raw_country.strip()):
        result["country"] = errors.capture(
            normalize_country, raw_country, _join_path(field, "country")
        )
    raw_postcode = mapping.get("postcode")
    if raw_postcode is not None:
        postcode = errors.capture(
            normalize_postcode, raw_postcode, result["country"], _join_path(field, "postcode")
        )
        result["postcode"] = postcode or None
    if not errors and not any(result[key] for key in ADDRESS_FIELDS if key != "label"):
        errors.add(field or "address", "must have a street, city, region, postcode or country")
    errors.raise_if_any()
    return result


# --- dates ------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_date(value: str | date, field: str = "date") -> str:
    """``YYYY-MM-DD`` from such a string or a ``date`` (a ``datetime`` gives its
    date). Other spellings (``28/02/1990``, ``19900228``) are refused."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _require_str(value, field).strip()
    if not _ISO_DATE.match(text):
        raise NormalizationError(field, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise NormalizationError(field, "is not a real calendar date") from None


def normalize_birthday(
    value: str | date, field: str = "birthday", *, today: date | None = None
) -> str:
    """ISO date, year 1900 or later and not in the future (today is the UTC date,
    with one day of slack for time zones ahead of UTC)."""
    iso = normalize_date(value, field)
    born = date.fromisoformat(iso)
    if born.year < 1900:
        raise NormalizationError(field, "must be in 1900 or later")
    limit = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if born > limit:
        raise NormalizationError(field, "must not be in the future")
    return iso


MAX_SAFE_INTEGER = 2**53 - 1


def finite_number(value: object, field: str) -> int | float:
    """An ``int`` or finite ``float`` (not a bool), ints within +/-(2**53 - 1) so
    JSON clients read them exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NormalizationError(field, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise NormalizationError(field, "must be a finite number")
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise NormalizationError(field, "is too large")
    return value
