"""The DuckDB side shared by training and the background scan: an in-memory database
with a memory limit, the records table (features + blocking keys), the candidate pairs
of the blocking rules and the comparison levels of a pair in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb

from kith.contacts.dedupe.blocking import SCAN_WINDOW, keys_of_features, sort_key
from kith.contacts.dedupe.comparisons import COMPARISONS, TF_COLUMNS, case_sql
from kith.contacts.dedupe.features import Features, arrow_batches
from kith.contacts.dedupe.record import MatchRecord

if TYPE_CHECKING:
    from kith.contacts.dedupe.model import MatchModel

DEFAULT_MEMORY_LIMIT = "2GB"
RECORDS = "kith_records"
PAIRS = "kith_pairs"
TF_WEIGHTS = "kith_tf_weights"
PAIR_LEVELS = "kith_pair_levels"
TF_TOP = 5000


def connect(
    memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int = 2, temp_directory: str | None = None
) -> Any:
    """An in-memory DuckDB that spills to ``temp_directory`` beyond ``memory_limit``."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    if temp_directory:
        con.execute(f"SET temp_directory = '{temp_directory}'")
    return con


def _keys_column(_record: MatchRecord, feats: Features) -> list[str]:
    return keys_of_features(feats)


def _sort_column(_record: MatchRecord, feats: Features) -> str:
    return sort_key(feats)


def load_records(
    con: Any,
    records: Iterable[MatchRecord],
    *,
    table: str = RECORDS,
    extra: dict[str, Any] | None = None,
) -> int:
    """Table ``table`` of records (``unique_id`` from 0 in input order, the record's own
    fields as ``rec_*``, the features, ``keys`` and ``sort_key``, and ``extra``
    columns), loaded batch by batch; returns the row count."""
    import pyarrow as pa  # type: ignore[import-untyped]

    columns = {
        "keys": (pa.list_(pa.string()), _keys_column),
        "sort_key": (pa.string(), _sort_column),
        **(extra or {}),
    }
    created = False
    for batch in arrow_batches(records, extra=columns):
        con.register("kith_batch", batch)
        verb = f"INSERT INTO {table}" if created else f"CREATE TABLE {table} AS"
        con.execute(f"{verb} SELECT * FROM kith_batch")  # noqa: S608 - SQL of our own constants, no user input
        con.unregister("kith_batch")
        created = True
    if not created:
        return 0
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608 - SQL of our own constants, no user input


def build_candidate_pairs(
    con: Any, *, table: str = RECORDS, pairs: str = PAIRS, window: int = SCAN_WINDOW
) -> int:
    """Table ``pairs(l, r)`` (``l < r``, distinct) of the records sharing a blocking key.
    In a block each record meets the ``window`` records after it in ``sort_key`` order:
    every pair of a small block, a sorted-neighbourhood window in a huge one. Returns the
    number of pairs."""
    con.execute(
        f"""
        CREATE TEMP TABLE kith_keyed AS
        SELECT key, unique_id AS uid, sort_key FROM (
            SELECT unnest(keys) AS key, unique_id, sort_key FROM {table}
        )
        """  # noqa: S608 - SQL of our own constants, no user input
    )
    # Number the members of every block of two or more; singletons never pair.
    con.execute(
        """
        CREATE TEMP TABLE kith_blocks AS
        WITH multi AS (
            SELECT key, count(*) AS size FROM kith_keyed GROUP BY key HAVING count(*) > 1
        )
        SELECT dense_rank() OVER (ORDER BY k.key)::INTEGER AS bid,
               row_number() OVER (PARTITION BY k.key ORDER BY k.sort_key, k.uid)::INTEGER AS rn,
               m.size::INTEGER AS size, k.uid::INTEGER AS uid
        FROM kith_keyed k JOIN multi m USING (key)
        """
    )
    con.execute("DROP TABLE kith_keyed")
    con.execute(
        f"""
        CREATE TABLE {pairs} AS
        SELECT DISTINCT least(a.uid, b.uid) AS l, greatest(a.uid, b.uid) AS r
        FROM (
            SELECT bid, uid,
                   rn + unnest(range(1, least(size - rn, {int(window)}) + 1)) AS other
            FROM kith_blocks WHERE rn < size
        ) a
        JOIN kith_blocks b ON b.bid = a.bid AND b.rn = a.other
        """  # noqa: S608 - SQL of our own constants, no user input
    )
    con.execute("DROP TABLE kith_blocks")
    return int(con.execute(f"SELECT count(*) FROM {pairs}").fetchall()[0][0])  # noqa: S608 - SQL of our own constants, no user input


def level_columns() -> list[str]:
    return [f"lv_{c.name}" for c in COMPARISONS]


def levels_sql(left: str = "a", right: str = "b") -> str:
    """``lv_<comparison>`` columns: the level index of every comparison of a pair."""
    return ", ".join(f"({case_sql(c, left, right)})::INTEGER AS lv_{c.name}" for c in COMPARISONS)


def term_frequencies(
    con: Any, table: str = RECORDS, top: int = TF_TOP
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Frequencies of the ``top`` most common values of every term-frequency column
    (among the records that have one, values seen more than once), and the floor for
    all others: a value seen once."""
    freqs: dict[str, dict[str, float]] = {}
    floors: dict[str, float] = {}
    for column in TF_COLUMNS:
        total = max(
            1,
            int(con.execute(f"SELECT count(*) FROM {table} WHERE {column} <> ''").fetchall()[0][0]),  # noqa: S608 - SQL of our own constants, no user input
        )
        rows = con.execute(
            f"SELECT {column}, count(*) AS c FROM {table} WHERE {column} <> '' "  # noqa: S608 - SQL of our own constants, no user input
            f"GROUP BY {column} HAVING count(*) > 1 ORDER BY c DESC, {column} LIMIT {int(top)}"
        ).fetchall()
        freqs[column] = {str(v): c / total for v, c in rows}
        floors[column] = 1.0 / total
    return freqs, floors


def create_tf_weights(con: Any, model: MatchModel, table: str = RECORDS) -> None:
    """Table ``kith_tf_weights(unique_id, tfw_<column>…)``: every record's weight for an
    exact match on each term-frequency column, under ``model``."""
    m_of = {
        lv.tf_column: model.levels[c.name][lv.key].m
        for c in COMPARISONS
        for lv in c.levels
        if lv.tf_column
    }
    import pyarrow as pa

    selects, joins = [], []
    for column in TF_COLUMNS:
        values = sorted(model.term_frequencies.get(column, {}))
        weights = pa.table(
            {
                "v": pa.array(values, pa.string()),
                "w": pa.array(
                    [model.tf_weight(column, m_of[column], v) for v in values], pa.float64()
                ),
            }
        )
        con.register("kith_tf_batch", weights)
        con.execute(f"CREATE OR REPLACE TEMP TABLE kith_tf_{column} AS SELECT * FROM kith_tf_batch")  # noqa: S608 - SQL of our own constants, no user input
        con.unregister("kith_tf_batch")
        floor = model.tf_weight(column, m_of[column], "\x00")
        selects.append(f"coalesce(tf_{column}.w, {floor!r}) AS tfw_{column}")
        joins.append(f"LEFT JOIN kith_tf_{column} tf_{column} ON tf_{column}.v = r.{column}")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {TF_WEIGHTS} AS
        SELECT r.unique_id, {", ".join(selects)} FROM {table} r {" ".join(joins)}
        """  # noqa: S608 - SQL of our own constants, no user input
    )


def create_pair_levels(con: Any, *, table: str = RECORDS, pairs: str = PAIRS) -> None:
    """Table ``kith_pair_levels(l, r, lv_<comparison>…)`` of every candidate pair's
    comparison levels (materialized once: the weight formula refers to them often)."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {PAIR_LEVELS} AS
        SELECT p.l, p.r, {levels_sql("a", "b")}
        FROM {pairs} p
        JOIN {table} a ON a.unique_id = p.l
        JOIN {table} b ON b.unique_id = p.r
        """  # noqa: S608 - SQL of our own constants, no user input
    )


def pair_weights_sql(model: MatchModel) -> str:
    """``SELECT l, r, w`` over :data:`PAIR_LEVELS`: every candidate pair's total match
    weight under ``model`` (needs :func:`create_tf_weights` for it)."""
    weight = model.weight_sql(
        level_columns(),
        {c: f"ta.tfw_{c}" for c in TF_COLUMNS},
        {c: f"tb.tfw_{c}" for c in TF_COLUMNS},
    )
    return f"""
        SELECT x.l, x.r, {weight} AS w FROM {PAIR_LEVELS} x
        JOIN {TF_WEIGHTS} ta ON ta.unique_id = x.l
        JOIN {TF_WEIGHTS} tb ON tb.unique_id = x.r
    """  # noqa: S608 - SQL of our own constants, no user input
