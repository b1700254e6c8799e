"""Custom fields: an organization-defined schema for ``customFields`` on
contacts, and validation of values against it. Pure: no database.

Values are stored JSON-ready: TEXT, URL, EMAIL, SELECT as strings, NUMBER as
``int``/``float``, DATE as ``YYYY-MM-DD``, BOOLEAN as ``bool``, MULTI_SELECT as a
list of options in the definition's option order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from kith.contacts.normalize import (
    ErrorCollector,
    NormalizationError,
    NormalizationErrors,
    clean_text,
    finite_number,
    normalize_date,
    normalize_email,
    normalize_url,
)

__all__ = [
    "FieldDefinition",
    "FieldType",
    "apply_custom_field_changes",
    "filter_value",
    "validate_custom_fields",
    "validate_definition",
    "validate_definitions",
]


class FieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    URL = "URL"
    EMAIL = "EMAIL"


SELECT_TYPES = frozenset({FieldType.SELECT, FieldType.MULTI_SELECT})
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_KEY_LENGTH = 40
MAX_LABEL_LENGTH = 100
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 100
MAX_TEXT_LENGTH = 2000
MAX_DEFINITIONS = 100


def _definition_problems(
    key: object, label: object, type_: object, options: Sequence[object]
) -> list[NormalizationError]:
    """Invariants of a definition that is already clean (no rewriting here)."""
    problems: list[NormalizationError] = []
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_KEY_LENGTH
        or not KEY_PATTERN.match(key)
    ):
        problems.append(
            NormalizationError(
                "key",
                "must be lower snake case: a-z, 0-9 and single underscores, starting with "
                f"a letter, at most {MAX_KEY_LENGTH} characters",
            )
        )
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_LENGTH:
        problems.append(NormalizationError("label", f"must be 1 to {MAX_LABEL_LENGTH} characters"))
    if not isinstance(type_, FieldType):
        problems.append(NormalizationError("type", f"must be one of {', '.join(FieldType)}"))
        return problems
    if type_ in SELECT_TYPES:
        if not options:
            problems.append(NormalizationError("options", f"{type_} needs at least one option"))
        elif len(options) > MAX_OPTIONS:
            problems.append(
                NormalizationError("options", f"must have at most {MAX_OPTIONS} options")
            )
        seen: set[str] = set()
        for index, option in enumerate(options):
            if not isinstance(option, str) or not option or len(option) > MAX_OPTION_LENGTH:
                problems.append(
                    NormalizationError(
                        f"options.{index}", f"must be 1 to {MAX_OPTION_LENGTH} characters"
                    )
                )
                continue
            if "," in option:
                problems.append(NormalizationError(f"options.{index}", "must not contain commas"))
            folded = option.casefold()
            if folded in seen:
                problems.append(
                    NormalizationError(f"options.{index}", f"repeats the option {option!r}")
                )
            seen.add(folded)
    elif options:
        problems.append(
            NormalizationError("options", "are only allowed for SELECT and MULTI_SELECT fields")
        )
    return problems


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    """One custom field. ``key`` is lower snake case (1-40 characters); SELECT
    and MULTI_SELECT need at least one option, options are unique ignoring case
    and contain no commas. ``sensitive`` fields are encrypted at rest by the
    caller; validation treats them like any other. Construction raises
    :class:`NormalizationErrors` (fields ``key``, ``label``, ``type``,
    ``options[.<i>]``) for an invalid definition; use :func:`validate_definition`
    to also clean user input."""

    key: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()
    required: bool = False
    sensitive: bool = False

    def __post_init__(self) -> None:
        # Lenient with callers building definitions from stored JSON: "select"
        # and a list of options are accepted and coerced.
        raw_type: object = self.type
        if isinstance(raw_type, str) and raw_type.upper() in FieldType.__members__:
            object.__setattr__(self, "type", FieldType(raw_type.upper()))
        raw_options: object = self.options
        if isinstance(raw_options, list):
            object.__setattr__(self, "options", tuple(raw_options))
        problems = _definition_problems(self.key, self.label, self.type, self.options)
        if problems:
            raise NormalizationErrors(problems)


def validate_definition(
    key: str | FieldDefinition,
    label: str = "",
    type: FieldType | str = FieldType.TEXT,
    options: Iterable[str] = (),
    *,
    required: bool = False,
    sensitive: bool = False,
) -> FieldDefinition:
    """Clean user input into a :class:`FieldDefinition`: key trimmed, label and
    options cleaned (NFC, whitespace collapsed), type matched ignoring case.
    Raises :class:`NormalizationErrors` listing every problem (fields ``key``,
    ``label``, ``type``, ``options``, ``options.<i>``). Given a
    ``FieldDefinition`` instead of a key, re-checks and cleans that one."""
    if isinstance(key, FieldDefinition):
        return validate_definition(
            key.key,
            key.label,
            key.type,
            key.options,
            required=key.required,
            sensitive=key.sensitive,
        )
    errors = ErrorCollector()
    clean_key = key.strip() if isinstance(key, str) else key
    clean_label = errors.capture(clean_text, label, MAX_LABEL_LENGTH, field="label", required=True)
    field_type: FieldType | None = None
    if isinstance(type, str) and type.strip().upper() in FieldType.__members__:
        field_type = FieldType(type.strip().upper())
    raw_options: object = options
    if isinstance(raw_options, str | bytes) or not isinstance(raw_options, Iterable):
        errors.add("options", "must be a list of strings")
        raw_options = ()
    clean_options: list[str] = []
    for index, option in enumerate(raw_options):
        cleaned = errors.capture(
            clean_text, option, MAX_OPTION_LENGTH, field=f"options.{index}", required=True
        )
        clean_options.append(cleaned if cleaned is not None else "")
    flags: dict[str, object] = {"required": required, "sensitive": sensitive}
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            errors.add(name, "must be true or false")
    failed = {error.field for error in errors.errors}
    for problem in _definition_problems(
        clean_key, clean_label or "", field_type or type, clean_options
    ):
        if problem.field not in failed:
            errors.extend(problem)
    errors.raise_if_any()
    assert field_type is not None
    assert clean_label is not None
    assert isinstance(clean_key, str)
    return FieldDefinition(
        key=clean_key,
        label=clean_label,
        type=field_type,
        options=tuple(clean_options),
        required=required,
        sensitive=sensitive,
    )


def validate_definitions(definitions: Sequence[FieldDefinition]) -> tuple[FieldDefinition, ...]:
    """A whole schema: at most 100 fields, keys unique (errors name
    ``<index>.key``)."""
    errors = ErrorCollector()
    if len(definitions) > MAX_DEFINITIONS:
        errors.add("", f"must have at most {MAX_DEFINITIONS} custom fields")
    seen: set[str] = set()
    for index, definition in enumerate(definitions):
        if definition.key in seen:
            errors.add(f"{index}.key", f"repeats the key {definition.key!r}")
        seen.add(definition.key)
    errors.raise_if_any()
    return tuple(definitions)


# --- values -----------------------------------------------------------------


@lru_cache(maxsize=1024)
def _option_index(options: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """casefolded option → (position, canonical spelling)."""
    return {option.casefold(): (position, option) for position, option in enumerate(options)}


def _options_message(definition: FieldDefinition) -> str:
    shown = ", ".join(definition.options[:10])
    more = ", …" if len(definition.options) > 10 else ""
    return f"must be one of: {shown}{more}"


def _select(definition: FieldDefinition, value: object, field: str) -> str:
    if not isinstance(value, str):
        raise NormalizationError(field, _options_message(definition))
    found = _option_index(definition.options).get(" ".join(value.split()).casefold())
    if found is None:
        raise NormalizationError(field, _options_message(definition))
    return found[1]


def _multi_select(definition: FieldDefinition, values: Iterable[object], field: str) -> list[str]:
    index = _option_index(definition.options)
    chosen: dict[int, str] = {}
    unknown: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise NormalizationError(field, "must be a list of options")
        found = index.get(" ".join(value.split()).casefold())
        if found is None:
            unknown.append(repr(value))
        else:
            chosen[found[0]] = found[1]
    if unknown:
        raise NormalizationError(
            field, f"{', '.join(unknown[:5])} not an option; {_options_message(definition)}"
        )
    return [chosen[position] for position in sorted(chosen)]


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(definition: FieldDefinition, value: object, field: str) -> Any:
    """A non-blank value checked and normalized for its type; ``None`` = blank."""
    kind = definition.type
    if kind is FieldType.TEXT:
        if not isinstance(value, str):
            raise NormalizationError(field, "must be text")
        return clean_text(value, MAX_TEXT_LENGTH, field=field, multiline=True) or None
    if kind is FieldType.NUMBER:
        if isinstance(value, bool):
            raise NormalizationError(field, "must be a number, not true/false")
        return finite_number(value, field)
    if kind is FieldType.DATE:
        if isinstance(value, datetime):
            raise NormalizationError(field, "must be a date (YYYY-MM-DD), not a date and time")
        if not isinstance(value, str | date):
            raise NormalizationError(field, "must be a date written YYYY-MM-DD")
        return normalize_date(value, field)
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise NormalizationError(field, "must be true or false")
        return value
    if kind is FieldType.SELECT:
        return _select(definition, value, field)
    if kind is FieldType.MULTI_SELECT:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise NormalizationError(field, "must be a list of options")
        return _multi_select(definition, value, field) or None
    if kind is FieldType.URL:
        if not isinstance(value, str):
            raise NormalizationError(field, "must be a web address")
        return normalize_url(value, field)
    if not isinstance(value, str):
        raise NormalizationError(field, "must be an email address")
    return normalize_email(value, field)


def validate_custom_fields(
    definitions: Sequence[FieldDefinition],
    values: Mapping[str, Any],
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Check ``values`` against the schema and return them normalized, in
    definition order.

    - Unknown keys → "unknown custom field".
    - ``None`` (and a blank string, an empty multi-select list) clears a value:
      with ``partial`` (PATCH) the key is returned with ``None`` so the caller
      removes it (see :func:`apply_custom_field_changes`); otherwise it is left
      out. A required field cannot be cleared.
    - Without ``partial`` every required field must have a value.
    - Every problem is reported (as :class:`NormalizationErrors` when more than
      one), each naming ``customFields.<key>``.
    """
    if not isinstance(values, Mapping):
        raise NormalizationError("customFields", "must be an object")
    by_key = {definition.key: definition for definition in definitions}
    errors = ErrorCollector()
    found: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = str(raw_key)
        field = f"customFields.{key[:60]}"
        definition = by_key.get(key)
        if definition is None:
            errors.add(field, "unknown custom field")
            continue
        normalized: Any = None
        if not _is_blank(value):
            try:
                normalized = _coerce(definition, value, field)
            except NormalizationError as exc:
                errors.extend(exc)
                continue
        if normalized is None:
            if definition.required:
                errors.add(field, "is required")
            elif partial:
                found[key] = None
            continue
        found[key] = normalized
    if not partial:
        reported = {error.field for error in errors.errors}
        for definition in definitions:
            field = f"customFields.{definition.key}"
            if definition.required and definition.key not in found and field not in reported:
                errors.add(field, "is required")
    errors.raise_if_any()
    return {
        definition.key: found[definition.key]
        for definition in definitions
        if definition.key in found
    }


def apply_custom_field_changes(
    current: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge the result of a ``partial`` validation into stored values: ``None``
    removes a key, anything else sets it."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- list filters -----------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def filter_value(definition: FieldDefinition, raw: str) -> Any:
    """Parse a query-string filter (``?cf.<key>=…``) into a value comparable with
    stored values; errors name ``cf.<key>``.

    TEXT: cleaned text. NUMBER: ``int`` (digits only) or finite ``float``
    (``1.5``, ``1e3``). DATE: ``YYYY-MM-DD``. BOOLEAN: true/false, 1/0, yes/no,
    on/off (any case). SELECT and MULTI_SELECT: one option (any case) in its
    canonical spelling (for MULTI_SELECT the filter means "has this option").
    URL/EMAIL: normalized like stored values. So the result is a ``str``,
    ``int``, ``float`` or ``bool``.
    Sensitive fields are parsed like others; whether they may be filtered on is
    the caller's decision."""
    field = f"cf.{definition.key}"
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise NormalizationError(field, "must not be empty")
    kind = definition.type
    if kind is FieldType.TEXT:
        return clean_text(text, MAX_TEXT_LENGTH, field=field)
    if kind is FieldType.NUMBER:
        if not _NUMBER.match(text):
            raise NormalizationError(field, "must be a number")
        if _INTEGER.match(text):
            return finite_number(int(text), field)
        number = float(text)
        if not math.isfinite(number):
            raise NormalizationError(field, "must be a finite number")
        return number
    if kind is FieldType.DATE:
        return normalize_date(text, field)
    if kind is FieldType.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise NormalizationError(field, "must be true or false")
    if kind in SELECT_TYPES:
        return _select(definition, text, field)
    if kind is FieldType.URL:
        return normalize_url(text, field)
    return normalize_email(text, field)
