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
- A whole email address (something@domain.tld, also while still being typed after
  the domain's dot) is one term: its words run together after the mark
  :data:`ADDRESS_MARK` ("ada.lovelace@acme.example" is ``0madalovelaceacmeexample``),
  which the index holds for every address (see :func:`email_compound`). Its parts
  would each be common ("gmail", "com") and costly to intersect; the address itself
  is selective. It matches addresses that start with what was typed. The mark keeps
  these terms (one per address) apart from words: without it every address of a
  James would be a term starting with "james", and a prefix search for "james"
  would merge the posting lists of all of them (at 1M contacts, tens of thousands:
  most of what such a query cost on both backends).
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

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MAX_QUERY_CHARS = 256
MAX_TERMS = 8
MAX_TERM_CHARS = 64


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
    the comparison form both backends index ("José" and "JOSE" are "jose"). Twice,
    as a compatibility form may be upper case (mathematical capitals) and lowering
    may add a combining mark ("İ")."""
    for _ in range(2):
        decomposed = unicodedata.normalize("NFKD", text.lower())
        text = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return unicodedata.normalize("NFC", text)


# In ASCII the word characters are exactly the letters and digits.
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def word_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each word of ``text``, in order."""
    if text.isascii():
        for match in _ASCII_WORD.finditer(text):
            yield match.span()
        return
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
    if text.isascii():
        return _ASCII_WORD.findall(text)
    return [text[start:end] for start, end in word_spans(text)]


# A local part, "@", and a domain with at least one dot followed by a word character.
_ADDRESS = re.compile(r"[^@]*[^\W_][^@]*@[^@.]*[^\W_][^@]*\.[^\W_]")


# Starts every address term; a digit then a letter, so that both FTS5 and PostgreSQL's
# parser (a "numword") keep the term in one piece, and no word of a name starts so.
ADDRESS_MARK = "0m"


def email_compound(address: str) -> str:
    """The words of an address run together after :data:`ADDRESS_MARK`: the one token
    that finds it whole ("" for an address without words)."""
    joined = "".join(words(address))
    return f"{ADDRESS_MARK}{joined}" if joined else ""


def parse_query(text: str) -> SearchQuery:
    """The words of ``text`` as terms (see the module docstring); never raises."""
    found: list[str] = []
    for chunk in fold(text[:MAX_QUERY_CHARS]).split():
        chunk_words = [email_compound(chunk)] if _ADDRESS.match(chunk) else words(chunk)
        for word in chunk_words:
            word = word[:MAX_TERM_CHARS]
            if word and word not in found:
                found.append(word)
    longer = [word for word in found if len(word) > 1]
    if longer:
        terms = [Term(word) for word in longer]
    else:
        terms = [Term(word, prefix=False) for word in found]
    return SearchQuery(tuple(terms[:MAX_TERMS]))


def fts5_expression(query: SearchQuery) -> str:
    """An FTS5 MATCH expression: every term, as a quoted string of word characters
    (``*`` for prefixes), joined by AND."""
    if not query:
        raise ValueError("an empty query has no FTS5 expression")
    return " AND ".join(f'"{term.text}"' + ("*" if term.prefix else "") for term in query.terms)


def tsquery_expression(query: SearchQuery) -> str:
    """``to_tsquery`` input: every term quoted, ``:*`` for prefixes, joined by ``&``."""
    if not query:
        raise ValueError("an empty query has no tsquery")
    return " & ".join(f"'{term.text}'" + (":*" if term.prefix else "") for term in query.terms)
