"""The query parser: examples, and properties over any text (it never raises, and
what it hands the backends holds nothing but quoted word characters)."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.search import search
from kith.search.query import (
    MAX_TERM_CHARS,
    MAX_TERMS,
    SearchQuery,
    Term,
    fold,
    fts5_expression,
    is_word_char,
    parse_query,
    tsquery_expression,
    word_spans,
    words,
)

# Text with plenty of what query languages care about: quotes, operators, brackets,
# column filters, NUL and control characters, accents, emoji, other scripts.
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(list("\"'*:^-+(){}[]&|!<>@.,;~\\/ \t\n\x00\x01\x1b\x7f")),
        st.sampled_from(["AND", "OR", "NOT", "NEAR", "é", "ß", "İ", "ﬁ", "\uff21", "😀", "日本"]),
        st.sampled_from(["\ud800", "\udfff", "\u0301", "\u200b", "\ufeff", "\U000e0001"]),
        st.text(max_size=4),
    ),
    max_size=40,
).map("".join)


def test_words_are_folded_and_split_on_everything_else() -> None:
    assert parse_query("  John   O'Brien ") == SearchQuery((Term("john"), Term("brien")))
    assert parse_query("ada.lovelace acme.example").terms == tuple(
        Term(word) for word in ("ada", "lovelace", "acme", "example")
    )
    assert parse_query("JOSÉ Núñez") == SearchQuery((Term("jose"), Term("nunez")))
    assert parse_query("\uff21\uff23\uff2d\uff25 \ufb01ne") == SearchQuery(
        (Term("acme"), Term("fine"))
    )
    assert parse_query("İstanbul") == SearchQuery((Term("istanbul"),))
    assert parse_query("ada ADA Ada") == SearchQuery((Term("ada"),))
    assert parse_query('"ada" AND NOT (john*)').terms == tuple(
        Term(word) for word in ("ada", "and", "not", "john")
    )


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("ada.lovelace@acme.example", ["0madalovelaceacmeexample"]),
        ("Ada.Lovelace@ACME.ex", ["0madalovelaceacmeex"]),  # still being typed
        ("<j.smith+crm@globex.example>,", ["0mjsmithcrmglobexexample"]),
        ("ada lovelace@acme.example", ["ada", "0mlovelaceacmeexample"]),
        # Not a whole address: the words, each a prefix.
        ("ada@acme", ["ada", "acme"]),
        ("lovelace@", ["lovelace"]),
        ("@acme.example", ["acme", "example"]),
        ("ada@acme.", ["ada", "acme"]),
    ],
)
def test_a_whole_email_address_is_one_term(text: str, terms: list[str]) -> None:
    assert parse_query(text) == SearchQuery(tuple(Term(term) for term in terms))


@given(st.text(alphabet=st.characters(max_codepoint=127)) | hostile_text)
@example("ada.lovelace@acme.example")
@example("x_y-z 9")
def test_words_are_runs_of_word_characters(text: str) -> None:
    # ASCII text takes a faster path; both must cut text where is_word_char says.
    expected, run = [], ""
    for char in text + " ":
        if is_word_char(char):
            run += char
        elif run:
            expected.append(run)
            run = ""
    assert words(text) == expected
    assert [text[start:end] for start, end in word_spans(text)] == expected


def test_one_character_words_are_dropped_next_to_longer_ones() -> None:
    assert parse_query("j smith") == SearchQuery((Term("smith"),))
    assert parse_query("j k") == SearchQuery((Term("j", prefix=False), Term("k", prefix=False)))


@pytest.mark.parametrize("text", ["", "   ", "@.-", "\"'*", "\x00\x01\x02", "😀🎉"])
def test_no_words_no_query(text: str) -> None:
    query = parse_query(text)
    assert not query
    with pytest.raises(ValueError, match="empty"):
        fts5_expression(query)
    with pytest.raises(ValueError, match="empty"):
        tsquery_expression(query)


def test_sizes_are_bounded() -> None:
    query = parse_query(" ".join(f"word{number}" for number in range(50)))
    assert len(query.terms) == MAX_TERMS
    assert parse_query("x" * 500).terms == (Term("x" * MAX_TERM_CHARS),)


def test_rendered_expressions() -> None:
    query = parse_query("ada lov")
    assert fts5_expression(query) == '"ada"* AND "lov"*'
    assert fts5_expression(parse_query("j")) == '"j"'
    assert tsquery_expression(query) == "'ada':* & 'lov':*"
    assert tsquery_expression(parse_query("j")) == "'j'"


_FTS5 = re.compile(r'"[^"\s*]+"\*?( AND "[^"\s*]+"\*?)*')
_TSQUERY = re.compile(r"'[^'\\\s]+'(:\*)?( & '[^'\\\s]+'(:\*)?)*")


@given(hostile_text)
@example("\ud800")
@example("\x00")
@example("İ" * 300)
@example("\U0001d6a8")  # MATHEMATICAL BOLD CAPITAL ALPHA: NFKD gives a capital
@settings(max_examples=500)
def test_parser_never_raises_and_emits_word_characters_only(text: str) -> None:
    query = parse_query(text)
    assert len(query.terms) <= MAX_TERMS
    for term in query.terms:
        assert term.text
        assert len(term.text) <= MAX_TERM_CHARS
        assert all(is_word_char(char) for char in term.text), term
        assert term.text == term.text.lower()
        assert fold(term.text) == term.text
    if query:
        assert _FTS5.fullmatch(fts5_expression(query))
        assert _TSQUERY.fullmatch(tsquery_expression(query))


@given(hostile_text)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_text_runs_on_the_database(session: Session, org: uuid.UUID, text: str) -> None:
    stmt = search(session, organization_id=org, kind="contact", query=text)
    with session.begin_nested():  # a failure must not poison the test's transaction
        count = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    assert count == 0  # the organization has no documents
