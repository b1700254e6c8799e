"""Finding duplicates: all of them in the background (:func:`find_duplicates`), or those
of one new or changed record on the request path (:func:`possible_duplicates`).

Background scan, in an in-memory DuckDB with a memory limit (spilling to a temporary
directory beyond it):

1. records are streamed in as Arrow batches with their features and blocking keys;
   the value frequencies of names and companies are counted in this data (the model's
   term frequencies are replaced by them, as Splink does at predict time);
2. candidate pairs: records sharing a key; inside a block each record meets the
   :data:`~kith.contacts.dedupe.blocking.SCAN_WINDOW` records after it in
   :func:`~kith.contacts.dedupe.blocking.sort_key` order (all pairs for small blocks,
   a sorted-neighbourhood window for the huge ones), pairs de-duplicated;
3. every candidate pair's comparison levels are computed in SQL (the same levels as
   the Python scorer, see :mod:`kith.contacts.dedupe.comparisons`) and weighed with the
   model's weights;
4. the pairs above the threshold (less a small margin) are read back and scored by
   :meth:`MatchModel.score`, which gives the final probability and the reasons.

Measured against a plain Splink ``predict`` on this machine (ARCHITECTURE §5: 121 s and
3.3 GB for 1M records with six blocking rules), this keeps Kith's own comparison levels
(nickname table, typo-tolerant swaps, joint corrections) identical between the create
path and the scan, and caps the huge blocks instead of comparing all their pairs.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from kith.contacts.dedupe.blocking import MAX_BLOCK_SIZE, SCAN_WINDOW, blocking_keys
from kith.contacts.dedupe.features import record_from_row
from kith.contacts.dedupe.model import (
    DEFAULT_THRESHOLD,
    Match,
    MatchModel,
    weight_from_probability,
)
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.tables import (
    DEFAULT_MEMORY_LIMIT,
    PAIR_LEVELS,
    PAIRS,
    RECORDS,
    build_candidate_pairs,
    connect,
    create_pair_levels,
    create_tf_weights,
    load_records,
    pair_weights_sql,
    term_frequencies,
)

MAX_CANDIDATES = 200
# SQL and Python compute the same levels; the margin only absorbs float rounding.
SQL_MARGIN_BITS = 0.5

Lookup = Callable[[Sequence[str]], Iterable[MatchRecord]]


# --- on create / update -----------------------------------------------------------------


def candidates_for(
    record: MatchRecord, lookup: Lookup, *, limit: int = MAX_CANDIDATES
) -> list[MatchRecord]:
    """The records worth comparing with ``record``: ``lookup(keys)`` (the caller's
    blocking-key index; it should return at most ``MAX_BLOCK_SIZE`` records per key)
    is asked for the record's blocking keys; the answer is de-duplicated, ``record``
    itself is left out, and the ``limit`` records sharing most keys are kept."""
    keys = blocking_keys(record)
    if not keys:
        return []
    shared: Counter[str] = Counter()
    by_id: dict[str, MatchRecord] = {}
    for candidate in lookup(keys):
        if candidate.id == record.id:
            continue
        shared[candidate.id] += 1
        by_id.setdefault(candidate.id, candidate)
    ranked = sorted(by_id, key=lambda cid: (-shared[cid], cid))
    return [by_id[cid] for cid in ranked[:limit]]


def possible_duplicates(
    record: MatchRecord,
    lookup: Lookup,
    model: MatchModel,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 10,
) -> list[tuple[MatchRecord, Match]]:
    """Candidates of ``record`` scoring at least ``threshold``, best first — what
    ``possibleDuplicates`` shows on create and update."""
    found = []
    for candidate in candidates_for(record, lookup):
        match = model.score(record, candidate)
        if match.probability >= threshold:
            found.append((candidate, match))
    found.sort(key=lambda item: (-item[1].probability, item[0].id))
    return found[:limit]


class BlockingIndex:
    """An in-memory blocking-key index (for tests, benchmarks and small tools; the
    contacts service keeps the same keys in a database table)."""

    def __init__(self, max_per_key: int = MAX_BLOCK_SIZE) -> None:
        self.max_per_key = max_per_key
        self._by_key: dict[str, dict[str, MatchRecord]] = {}
        self._keys_of: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self._keys_of)

    def add(self, record: MatchRecord) -> None:
        self.remove(record.id)
        keys = blocking_keys(record)
        self._keys_of[record.id] = keys
        for key in keys:
            self._by_key.setdefault(key, {})[record.id] = record

    def remove(self, record_id: str) -> None:
        for key in self._keys_of.pop(record_id, ()):
            block = self._by_key.get(key)
            if block is not None:
                block.pop(record_id, None)
                if not block:
                    del self._by_key[key]

    def lookup(self, keys: Sequence[str]) -> list[MatchRecord]:
        """Up to ``max_per_key`` records per key, the most recently added first."""
        out: list[MatchRecord] = []
        for key in keys:
            block = self._by_key.get(key)
            if block:
                values = list(block.values())
                out.extend(reversed(values[-self.max_per_key :]))
        return out


# --- background scan --------------------------------------------------------------------


def find_duplicates(
    records: Iterable[MatchRecord],
    model: MatchModel,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    window: int = SCAN_WINDOW,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = 2,
    temp_directory: str | None = None,
    adapt_prior: bool = True,
    stats: dict[str, Any] | None = None,
) -> Iterator[tuple[str, str, Match]]:
    """Every pair of records (ids, smaller first) that ``model`` scores at or above
    ``threshold``, with its match. Streams its input; memory stays within DuckDB's
    ``memory_limit`` plus the records of the matching pairs. ``stats`` (if given)
    receives counts: records, candidate pairs, pairs past the SQL filter, matches.

    The model is applied to the scanned data as Splink applies one at predict time: with
    the value frequencies of this data, and (when ``adapt_prior``) with λ and the
    joint u's scaled from the size of the data it was trained on to this one's."""
    with tempfile.TemporaryDirectory(prefix="kith-dedupe-", dir=temp_directory) as spill:
        con = connect(memory_limit, threads, spill)
        try:
            n = load_records(con, records)
            if n < 2:
                return
            if adapt_prior:
                model = model.for_population(n)
            model = model.with_term_frequencies(*term_frequencies(con))
            create_tf_weights(con, model)
            candidates = build_candidate_pairs(con, window=window)
            yield from _score_pairs(con, model, threshold, stats, n, candidates)
        finally:
            con.close()


def _score_pairs(
    con: Any,
    model: MatchModel,
    threshold: float,
    stats: dict[str, Any] | None,
    n: int,
    candidates: int,
) -> Iterator[tuple[str, str, Match]]:
    cutoff = weight_from_probability(threshold) - SQL_MARGIN_BITS
    create_pair_levels(con)
    con.execute(f"DROP TABLE {PAIRS}")
    weights = pair_weights_sql(model)
    con.execute(f"CREATE TABLE kith_hits AS SELECT l, r FROM ({weights}) WHERE w >= {cutoff!r}")  # noqa: S608 - SQL of our own constants, no user input
    con.execute(f"DROP TABLE {PAIR_LEVELS}")
    if stats is not None:
        stats["records"] = n
        stats["candidate_pairs"] = candidates
        stats["sql_hits"] = int(con.execute("SELECT count(*) FROM kith_hits").fetchall()[0][0])
    rows = con.execute(
        f"""
        SELECT * EXCLUDE (keys) FROM {RECORDS}
        WHERE unique_id IN (SELECT l FROM kith_hits UNION SELECT r FROM kith_hits)
        """  # noqa: S608 - SQL of our own constants, no user input
    )
    columns = [d[0] for d in rows.description]
    cache: dict[int, MatchRecord] = {}
    while chunk := rows.fetchmany(10_000):
        for values in chunk:
            row = dict(zip(columns, values, strict=True))
            cache[int(row["unique_id"])] = record_from_row(row)
    found = 0
    hits = con.execute("SELECT l, r FROM kith_hits ORDER BY l, r")
    while chunk := hits.fetchmany(10_000):
        for left, right in chunk:
            a, b = cache[int(left)], cache[int(right)]
            match = model.score(a, b)
            if match.probability >= threshold:
                found += 1
                yield (a.id, b.id, match) if a.id <= b.id else (b.id, a.id, match)
    if stats is not None:
        stats["matches"] = found
