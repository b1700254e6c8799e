"""User text → a search query that is safe to hand to FTS5 ``MATCH`` or ``to_tsquery``.

The grammar is deliberately tiny: the words of the text, where a word is a run of
letters and digits (Unicode categories L*, N* and Co — what FTS5's ``unicode61``
tokenizer calls token characters) after folding (lower case, compatibility forms,
diacritics removed). Everything else — quotes, operators, ``@``/``.``, NUL and other
control characters, unpaired surrogates — only separates words, so none of it can
reach the backends' query syntax. "ada@acme" is the words ``ada`` and ``acme``, and
that finds ada.lovelace@acme.example.

- Every word is matched as a prefix ("joh" finds John) and all words must match
  (AND), in any field.
- One-character words: the FTS5 prefix index holds 2- and 3-character prefixes only,
  so a one-character prefix would read every term starting with that character. When
  the query has longer words they are dropped ("j smith" is "smith"); a query of
  one-character words only matches them as whole words.
- At most :data:`MAX_TERMS` words of at most :data:`MAX_TERM_CHARS` characters each
  (a cut word is still a prefix of the word it was cut from), from the first
  :data:`MAX_QUERY_CHARS` characters of the text.
- No words (empty or symbols only): the query matches nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MAX_QUERY_CHARS = 256
MAX_TERMS = 8
MAX_TERM_CHARS = 32


@dataclass(frozen=True)
class Term:
    """One folded word; ``prefix``: matches words it starts, else whole words only."""

    text: str
    prefix: bool = True


@dataclass(frozen=True)
class SearchQuery:
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)


def is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def fold(text: str) -> str:
    """Lower case, compatibility forms unified (full-width, ligatures), diacritics off:
    the comparison form both backends index ("José" and "JOSE" are "jose")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each word of ``text``, in order."""
    start = -1
    for index, char in enumerate(text):
        if is_word_char(char):
            if start < 0:
                start = index
        elif start >= 0:
            yield start, index
            start = -1
    if start >= 0:
        yield start, len(text)


def words(text: str) -> list[str]:
    return [text[start:end] for start, end in word_spans(text)]


def parse_query(text: str) -> SearchQuery:
    """The words of ``text`` as terms (see the module docstring); never raises."""
    found: list[str] = []
    for word in words(fold(text[:MAX_QUERY_CHARS])):
        word = word[:MAX_TERM_CHARS]
        if word not in found:
            found.append(word)
    longer = [word for word in found if len(word) > 1]
    if longer:
        terms = [Term(word) for word in longer]
    else:
        terms = [Term(word, prefix=False) for word in found]
    return SearchQuery(tuple(terms[:MAX_TERMS]))


def fts5_expression(query: SearchQuery, scope: str, columns: tuple[str, ...]) -> str:
    """An FTS5 MATCH expression: the scope token in the ``scope`` column AND every
    term in ``columns``. Terms are quoted strings of word characters only."""
    if not query:
        raise ValueError("an empty query has no FTS5 expression")
    if not scope.isalnum() or not scope.isascii():
        raise ValueError("the scope token must be ASCII letters and digits")
    terms = " AND ".join(f'"{term.text}"' + ("*" if term.prefix else "") for term in query.terms)
    return f'scope : "{scope}" AND {{{" ".join(columns)}}} : ({terms})'


def tsquery_expression(query: SearchQuery) -> str:
    """``to_tsquery`` input: every term quoted, ``:*`` for prefixes, joined by ``&``."""
    if not query:
        raise ValueError("an empty query has no tsquery")
    return " & ".join(f"'{term.text}'" + (":*" if term.prefix else "") for term in query.terms)
