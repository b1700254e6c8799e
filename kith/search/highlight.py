"""``<mark>`` the words of a document that a query matched, for the page shown.

Done in Python on both backends, with the same words and folding as the query
parser, so the marks agree with what matched: a document word is marked when its
folded form starts with a prefix term (or equals a whole-word term). Everything
else is HTML-escaped. Long fields (notes) are cut to a snippet around the first mark.
"""

from __future__ import annotations

import html

from kith.search.query import SearchQuery, fold, word_spans

MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"
ELLIPSIS = "…"
# Fields longer than this become a snippet of about this many characters.
SNIPPET_CHARS = 160


def matched_spans(text: str, query: SearchQuery) -> list[tuple[int, int]]:
    spans = []
    for start, end in word_spans(text):
        word = fold(text[start:end])
        for term in query.terms:
            if word.startswith(term.text) if term.prefix else word == term.text:
                spans.append((start, end))
                break
    return spans


def mark(text: str, query: SearchQuery, *, snippet_chars: int = SNIPPET_CHARS) -> str | None:
    """``text`` HTML-escaped with the matched words in ``<mark>``; None when no word
    matched. Longer than ``snippet_chars``: a window around the first match."""
    spans = matched_spans(text, query)
    if not spans:
        return None
    start, stop = 0, len(text)
    if len(text) > snippet_chars:
        start, stop = _window(text, spans[0][0], snippet_chars)
    parts = [ELLIPSIS] if start > 0 else []
    at = start
    for span_start, span_end in spans:
        if span_end <= start:
            continue
        if span_start >= stop:
            break
        parts.append(html.escape(text[at:span_start]))
        parts.append(f"{MARK_OPEN}{html.escape(text[span_start:span_end])}{MARK_CLOSE}")
        at = span_end
    parts.append(html.escape(text[at:stop]))
    if stop < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)


def _window(text: str, first: int, size: int) -> tuple[int, int]:
    """About ``size`` characters starting a little before ``first``, cut at spaces."""
    start = max(0, first - size // 4)
    if start > 0:
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and first - space < size // 2 else start
    stop = min(len(text), start + size)
    if stop < len(text):
        space = text.rfind(" ", max(first + 1, start), stop)
        stop = space if space > first else stop
    return start, max(stop, first + 1)
