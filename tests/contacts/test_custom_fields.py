"""Custom field definitions and values (pure, no database)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kith.contacts.custom_fields import (
    FieldDefinition,
    FieldType,
    apply_custom_field_changes,
    filter_value,
    validate_custom_fields,
    validate_definition,
    validate_definitions,
)
from kith.contacts.normalize import NormalizationError, NormalizationErrors, to_validation_error

TEXT = FieldDefinition("notes", "Notes", FieldType.TEXT)
NUMBER = FieldDefinition("budget", "Budget", FieldType.NUMBER)
DATE = FieldDefinition("renewal_date", "Renewal date", FieldType.DATE)
BOOLEAN = FieldDefinition("newsletter", "Newsletter", FieldType.BOOLEAN)
SELECT = FieldDefinition("tier", "Tier", FieldType.SELECT, ("Gold", "Silver", "Bronze"))
MULTI = FieldDefinition(
    "interests", "Interests", FieldType.MULTI_SELECT, ("AI", "Cloud", "Data", "Security")
)
URL = FieldDefinition("portfolio", "Portfolio", FieldType.URL)
EMAIL = FieldDefinition("assistant_email", "Assistant email", FieldType.EMAIL)
REQUIRED = FieldDefinition("region_code", "Region code", FieldType.TEXT, required=True)
SENSITIVE = FieldDefinition("ssn_last4", "SSN (last 4)", FieldType.TEXT, sensitive=True)
SCHEMA = (TEXT, NUMBER, DATE, BOOLEAN, SELECT, MULTI, URL, EMAIL, SENSITIVE)


def problems(func: Any, *args: Any, **kwargs: Any) -> dict[str, str]:
    """field → message of every problem ``func`` raises."""
    with pytest.raises(NormalizationError) as info:
        func(*args, **kwargs)
    return {error.field: error.message for error in info.value.errors}


# --- definitions ------------------------------------------------------------


def test_field_types_are_upper_case_strings() -> None:
    assert [t.value for t in FieldType] == [
        "TEXT",
        "NUMBER",
        "DATE",
        "BOOLEAN",
        "SELECT",
        "MULTI_SELECT",
        "URL",
        "EMAIL",
    ]
    assert FieldType("SELECT") == "SELECT"


@pytest.mark.parametrize("key", ["a", "budget", "renewal_date", "q3_2024_target", "x" * 40])
def test_valid_keys(key: str) -> None:
    assert FieldDefinition(key, "Label", FieldType.TEXT).key == key


@pytest.mark.parametrize(
    "key", ["", "Budget", "1st", "_a", "a_", "a__b", "a-b", "a b", "ä", "x" * 41, "budget "]
)
def test_invalid_keys(key: str) -> None:
    assert "key" in problems(FieldDefinition, key, "Label", FieldType.TEXT)


def test_definition_rules() -> None:
    assert "options" in problems(FieldDefinition, "tier", "Tier", FieldType.SELECT)
    assert "options" in problems(FieldDefinition, "tags", "Tags", FieldType.MULTI_SELECT, ())
    assert problems(FieldDefinition, "tier", "Tier", FieldType.SELECT, ("Gold", "gold")) == {
        "options.1": "repeats the option 'gold'"
    }
    assert "options.0" in problems(FieldDefinition, "t", "T", FieldType.SELECT, ("a,b",))
    assert "options.1" in problems(FieldDefinition, "t", "T", FieldType.SELECT, ("a", ""))
    assert "options" in problems(FieldDefinition, "notes", "Notes", FieldType.TEXT, ("x",))
    assert "label" in problems(FieldDefinition, "notes", "", FieldType.TEXT)
    assert "type" in problems(FieldDefinition, "notes", "Notes", "COLOUR")
    many = tuple(f"o{i}" for i in range(201))
    assert "options" in problems(FieldDefinition, "t", "T", FieldType.SELECT, many)


def test_definition_reports_every_problem_at_once() -> None:
    found = problems(FieldDefinition, "Bad Key", "", FieldType.SELECT, ("A", "a"))
    assert set(found) == {"key", "label", "options.1"}


def test_definition_is_frozen_and_coerces_stored_json() -> None:
    definition = FieldDefinition("tier", "Tier", "select", ["Gold"])  # type: ignore[arg-type]
    assert definition.type is FieldType.SELECT
    assert definition.options == ("Gold",)
    with pytest.raises(AttributeError):
        definition.key = "other"  # type: ignore[misc]


def test_validate_definition_cleans_input() -> None:
    definition = validate_definition(
        " deal_size ", "  Deal   size ", "multi_select", [" Small ", "Large"], required=True
    )
    assert definition == FieldDefinition(
        "deal_size", "Deal size", FieldType.MULTI_SELECT, ("Small", "Large"), required=True
    )
    assert validate_definition("vip", "VIP", FieldType.BOOLEAN, sensitive=True).sensitive


def test_validate_definition_reports_every_problem() -> None:
    found = problems(validate_definition, "Deal Size", " ", "colour", ["a", "A", "x\x00"])
    assert set(found) == {"key", "label", "type", "options.2"}
    found = problems(validate_definition, "deal", "Deal", "SELECT", ["Small", " small "])
    assert found == {"options.1": "repeats the option 'small'"}
    assert "options" in problems(validate_definition, "deal", "Deal", "SELECT", "Small")
    assert "required" in problems(
        validate_definition,
        "deal",
        "Deal",
        "TEXT",
        required="yes",  # type: ignore[arg-type]
    )


def test_validate_definition_rechecks_a_definition() -> None:
    assert validate_definition(SELECT) == SELECT
    assert validate_definition(SENSITIVE).sensitive


def test_validate_definitions_requires_unique_keys() -> None:
    assert validate_definitions(SCHEMA) == SCHEMA
    assert problems(validate_definitions, [TEXT, NUMBER, TEXT]) == {
        "2.key": "repeats the key 'notes'"
    }
    many = [FieldDefinition(f"f{i}", "F", FieldType.TEXT) for i in range(101)]
    assert "" in problems(validate_definitions, many)


# --- values: every type -----------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "raw", "expected"),
    [
        (TEXT, "  Met at   PyCon ", "Met at PyCon"),
        (TEXT, "Line one\r\n\r\n\r\nLine two", "Line one\n\nLine two"),
        (TEXT, "x" * 2000, "x" * 2000),
        (NUMBER, 42, 42),
        (NUMBER, -1.5, -1.5),
        (NUMBER, 0, 0),
        (NUMBER, 2**53 - 1, 2**53 - 1),
        (DATE, "2024-02-29", "2024-02-29"),
        (DATE, date(2024, 2, 29), "2024-02-29"),
        (DATE, " 0001-01-01 ", "0001-01-01"),
        (BOOLEAN, True, True),
        (BOOLEAN, False, False),
        (SELECT, "Gold", "Gold"),
        (SELECT, " gold ", "Gold"),
        (MULTI, ["Security", "ai", "AI", "Cloud"], ["AI", "Cloud", "Security"]),
        (MULTI, ("Data",), ["Data"]),
        (URL, "Example.com/ada", "https://example.com/ada"),
        (EMAIL, " Assistant@Example.COM ", "assistant@example.com"),
    ],
)
def test_valid_values(definition: FieldDefinition, raw: Any, expected: Any) -> None:
    result = validate_custom_fields(SCHEMA, {definition.key: raw})
    assert result == {definition.key: expected}
    assert type(result[definition.key]) is type(expected)
    assert validate_custom_fields(SCHEMA, result) == result  # idempotent


@pytest.mark.parametrize(
    ("definition", "raw", "message"),
    [
        (TEXT, 5, "must be text"),
        (TEXT, "x" * 2001, "at most 2000"),
        (TEXT, "bad\x07", "control"),
        (NUMBER, True, "not true/false"),
        (NUMBER, False, "not true/false"),
        (NUMBER, "42", "must be a number"),
        (NUMBER, float("nan"), "finite"),
        (NUMBER, float("inf"), "finite"),
        (NUMBER, float("-inf"), "finite"),
        (NUMBER, 2**53, "too large"),
        (NUMBER, [1], "must be a number"),
        (DATE, "2023-02-29", "real calendar date"),
        (DATE, "29/02/2024", "YYYY-MM-DD"),
        (DATE, datetime(2024, 2, 29, 12, 0), "not a date and time"),
        (DATE, 20240229, "YYYY-MM-DD"),
        (BOOLEAN, "true", "true or false"),
        (BOOLEAN, 1, "true or false"),
        (BOOLEAN, 0, "true or false"),
        (SELECT, "Platinum", "must be one of: Gold, Silver, Bronze"),
        (SELECT, ["Gold"], "must be one of"),
        (MULTI, "AI", "list of options"),
        (MULTI, ["AI", "Quantum", "Blockchain"], "'Quantum', 'Blockchain' not an option"),
        (MULTI, ["AI", 3], "list of options"),
        (MULTI, {"AI": True}, "list of options"),
        (URL, "javascript:alert(1)", "http or https"),
        (URL, 5, "web address"),
        (EMAIL, "not-an-email", "valid email"),
        (EMAIL, ["a@b.com"], "email address"),
    ],
)
def test_invalid_values(definition: FieldDefinition, raw: Any, message: str) -> None:
    found = problems(validate_custom_fields, SCHEMA, {definition.key: raw})
    field = f"customFields.{definition.key}"
    assert list(found) == [field]
    assert message in found[field]


def test_unknown_keys_are_refused() -> None:
    found = problems(validate_custom_fields, SCHEMA, {"notes": "ok", "favourite_colour": "red"})
    assert found == {"customFields.favourite_colour": "unknown custom field"}
    assert problems(validate_custom_fields, (), {"x": None}) == {
        "customFields.x": "unknown custom field"
    }


def test_required_fields() -> None:
    schema = (*SCHEMA, REQUIRED)
    assert problems(validate_custom_fields, schema, {}) == {
        "customFields.region_code": "is required"
    }
    for blank in (None, "", "   "):
        assert problems(validate_custom_fields, schema, {"region_code": blank}) == {
            "customFields.region_code": "is required"
        }
    assert validate_custom_fields(schema, {"region_code": "EMEA"}) == {"region_code": "EMEA"}
    # a bad value is reported once, not also as missing
    assert problems(validate_custom_fields, schema, {"region_code": 5}) == {
        "customFields.region_code": "must be text"
    }


def test_partial_updates_skip_missing_required_fields_and_keep_clears() -> None:
    schema = (*SCHEMA, REQUIRED)
    assert validate_custom_fields(schema, {"budget": 10}, partial=True) == {"budget": 10}
    changes = validate_custom_fields(
        schema, {"notes": None, "tier": "", "interests": [], "budget": 3}, partial=True
    )
    assert changes == {"notes": None, "budget": 3, "tier": None, "interests": None}
    assert problems(validate_custom_fields, schema, {"region_code": None}, partial=True) == {
        "customFields.region_code": "is required"
    }
    assert validate_custom_fields(schema, {}, partial=True) == {}


def test_clearing_without_partial_leaves_the_key_out() -> None:
    assert validate_custom_fields(SCHEMA, {"notes": None, "tier": "  ", "interests": []}) == {}


def test_apply_custom_field_changes() -> None:
    current = {"notes": "old", "budget": 1, "tier": "Gold"}
    changes = validate_custom_fields(SCHEMA, {"notes": None, "budget": 2}, partial=True)
    assert apply_custom_field_changes(current, changes) == {"budget": 2, "tier": "Gold"}
    assert current == {"notes": "old", "budget": 1, "tier": "Gold"}


def test_result_is_in_definition_order() -> None:
    result = validate_custom_fields(
        SCHEMA, {"portfolio": "example.com", "notes": "n", "budget": 1, "newsletter": False}
    )
    assert list(result) == ["notes", "budget", "newsletter", "portfolio"]


def test_every_problem_is_reported_at_once() -> None:
    schema = (*SCHEMA, REQUIRED)
    with pytest.raises(NormalizationErrors) as info:
        validate_custom_fields(
            schema,
            {
                "notes": 1,
                "budget": float("nan"),
                "renewal_date": "tomorrow",
                "newsletter": "yes",
                "tier": "Platinum",
                "interests": ["Quantum"],
                "portfolio": "ftp://x.com",
                "assistant_email": "nope",
                "mystery": 1,
            },
        )
    fields = [error.field for error in info.value.errors]
    assert fields == [
        "customFields.notes",
        "customFields.budget",
        "customFields.renewal_date",
        "customFields.newsletter",
        "customFields.tier",
        "customFields.interests",
        "customFields.portfolio",
        "customFields.assistant_email",
        "customFields.mystery",
        "customFields.region_code",
    ]
    failure = to_validation_error([info.value])
    assert failure.status_code == 422
    assert len(failure.details) == 10
    assert "customFields.mystery" in failure.message


def test_values_must_be_a_mapping() -> None:
    assert problems(validate_custom_fields, SCHEMA, ["notes"]) == {
        "customFields": "must be an object"
    }


def test_sensitive_fields_validate_like_any_other() -> None:
    assert validate_custom_fields(SCHEMA, {"ssn_last4": " 1234 "}) == {"ssn_last4": "1234"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([d.key for d in SCHEMA] + ["other"]), JSON_VALUES))
def test_validation_is_idempotent_or_names_the_fields(values: dict[str, Any]) -> None:
    try:
        result = validate_custom_fields(SCHEMA, values)
    except NormalizationError as error:
        fields = {e.field for e in error.errors}
        assert fields <= {f"customFields.{k}" for k in values}
        return
    assert validate_custom_fields(SCHEMA, result) == result
    assert set(result) <= set(values)


# --- filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "raw", "expected"),
    [
        (TEXT, "  PyCon  2024 ", "PyCon 2024"),
        (NUMBER, "42", 42),
        (NUMBER, "-7", -7),
        (NUMBER, "+3", 3),
        (NUMBER, "1.5", 1.5),
        (NUMBER, ".5", 0.5),
        (NUMBER, "1e3", 1000.0),
        (DATE, "2024-02-29", "2024-02-29"),
        (BOOLEAN, "true", True),
        (BOOLEAN, "TRUE", True),
        (BOOLEAN, "1", True),
        (BOOLEAN, "yes", True),
        (BOOLEAN, "false", False),
        (BOOLEAN, "0", False),
        (BOOLEAN, "off", False),
        (SELECT, "silver", "Silver"),
        (MULTI, "cloud", "Cloud"),
        (MULTI, " Security ", "Security"),
        (URL, "example.com", "https://example.com"),
        (EMAIL, "Ada@Example.com", "ada@example.com"),
    ],
)
def test_filter_value(definition: FieldDefinition, raw: str, expected: Any) -> None:
    value = filter_value(definition, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("definition", "raw", "message"),
    [
        (TEXT, "", "must not be empty"),
        (TEXT, "   ", "must not be empty"),
        (NUMBER, "abc", "must be a number"),
        (NUMBER, "nan", "must be a number"),
        (NUMBER, "inf", "must be a number"),
        (NUMBER, "1e999", "finite"),
        (NUMBER, "9" * 20, "too large"),
        (NUMBER, "1,5", "must be a number"),
        (DATE, "2024-13-01", "real calendar date"),
        (DATE, "yesterday", "YYYY-MM-DD"),
        (BOOLEAN, "maybe", "true or false"),
        (SELECT, "Platinum", "must be one of"),
        (MULTI, "Quantum", "must be one of: AI, Cloud, Data, Security"),
        (MULTI, "AI,Cloud", "must be one of"),
        (URL, "javascript:alert(1)", "http or https"),
        (EMAIL, "nope", "valid email"),
    ],
)
def test_filter_value_refuses(definition: FieldDefinition, raw: str, message: str) -> None:
    with pytest.raises(NormalizationError) as info:
        filter_value(definition, raw)
    assert info.value.field == f"cf.{definition.key}"
    assert message in info.value.message


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SCHEMA), st.text(max_size=30))
def test_filter_value_never_crashes(definition: FieldDefinition, raw: str) -> None:
    try:
        filter_value(definition, raw)
    except NormalizationError as error:
        fields = {e.field for e in error.errors}
        assert fields == {f"cf.{definition.key}"}
