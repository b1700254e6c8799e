"""Training a :class:`MatchModel` with Splink 5 on DuckDB.

The comparisons are ours (:mod:`kith.contacts.dedupe.comparisons`), handed to Splink as
custom SQL levels over the feature columns, so the m and u Splink estimates belong to
exactly the levels the Python scorer uses. Steps:

1. records → feature table in an in-memory DuckDB (``memory_limit`` set, 2 threads);
2. u of every level by Splink's random sampling (``estimate_u_using_random_sampling``)
   — except the email and phone levels, whose u comes from value frequencies and is
   fixed before sampling (``fix_u_probability``);
3. m by Splink's expectation maximisation
   (``estimate_parameters_using_expectation_maximisation``) over two blocking rules
   (same first and last name; same birthday): each comparison is estimated in the
   session that does not block on its own columns;
4. m and u read back per level from ``linker.misc.save_model_to_json()``.

Pieces estimated outside Splink, and why:

- email/phone u from value frequencies: in a large org a random sample of a few million
  pairs never meets two records sharing an email, and Splink keeps a made-up u;
- exact email and exact phone m get a floor (0.5 / 0.4): an org's data, like the
  benchmark, holds almost no duplicate pair sharing an email (Kith answers such a create
  with 409), so EM learns m ≈ 0 and would count a shared email *against* a match;
- m of "two different known given names" is fixed (``DIFFERENT_GIVEN_NAMES_M``), and
  the joint u's of last name + address / birthday (relatives, see
  :data:`~kith.contacts.dedupe.model.JOINTS`) are counted directly: EM cannot tell
  relatives from duplicates, the Fellegi-Sunter model has no place for the dependence;
- λ by EM over all candidate pairs of the blocking rules with m and u fixed
  (:func:`estimate_prior`): Splink's λ from one training session's blocking rule came
  out 3 to 4 times too low on the benchmark, whose true λ we know; ours is within 1%;
- term frequencies of first name, last name and company (top values) counted directly;
- a level Splink reports as never observed keeps its prior m, or for u the rarity
  floor of the sample.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kith.contacts.dedupe.comparisons import (
    ADDRESS,
    BIRTHDAY,
    COMPARISON_BY_NAME,
    COMPARISONS,
    FIRST_NAME,
    Comparison,
    case_sql,
)
from kith.contacts.dedupe.model import JOINTS, LevelParams, MatchModel
from kith.contacts.dedupe.record import MatchRecord
from kith.contacts.dedupe.tables import (
    DEFAULT_MEMORY_LIMIT,
    PAIR_LEVELS,
    RECORDS,
    build_candidate_pairs,
    connect,
    create_pair_levels,
    create_tf_weights,
    load_records,
    pair_weights_sql,
    term_frequencies,
)

log = logging.getLogger(__name__)

EXACT_M_FLOOR = {("email", "exact"): 0.5, ("phone", "exact"): 0.4}
EM_BLOCKING_RULES = (
    "l.first = r.first AND l.last = r.last AND l.first <> '' AND l.last <> ''",
    "l.birthday = r.birthday AND l.birthday <> ''",
)
TABLE = RECORDS
# λ is estimated on a uniform sample of this many records in bigger data sets (the pair
# probability does not depend on the sample's size).
PRIOR_SAMPLE = 200_000


def _pair_count(n: float) -> float:
    return n * (n - 1) / 2


def _share_u(con: Any, table: str, column: str, rows_with_values: int) -> float:
    """Share of record pairs (among records that have a value) sharing a value of a
    list column (or list expression): Σ C(count, 2) / C(N, 2)."""
    sql = f"""
        SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM (
            SELECT count(DISTINCT unique_id) AS c
            FROM (SELECT unique_id, unnest({column}) AS v FROM {table})
            GROUP BY v
        )
    """  # noqa: S608 - SQL of our own constants, no user input
    shared = float(con.execute(sql).fetchall()[0][0])
    return shared / max(1.0, _pair_count(rows_with_values))


def frequency_u(con: Any, table: str = TABLE) -> dict[tuple[str, str], float]:
    """u of the email and phone levels from value frequencies."""
    n_email = int(
        con.execute(f"SELECT count(*) FROM {table} WHERE len(emails) > 0").fetchall()[0][0]  # noqa: S608 - SQL of our own constants, no user input
    )
    n_phone = int(
        con.execute(f"SELECT count(*) FROM {table} WHERE len(phones) > 0").fetchall()[0][0]  # noqa: S608 - SQL of our own constants, no user input
    )
    floor_email = 0.5 / max(1.0, _pair_count(n_email))
    floor_phone = 0.5 / max(1.0, _pair_count(n_phone))
    exact = _share_u(con, table, "emails", n_email)
    local = _share_u(con, table, "email_handles", n_email)
    domain = _share_u(con, table, "email_domains", n_email)
    phone = _share_u(con, table, "phones", n_phone)
    tail = _share_u(con, table, "phone_tails", n_phone)
    # Levels are exclusive: a pair sharing an email also shares its local part, etc.
    u_local = max(local - exact, floor_email)
    u_domain = max(domain - local, floor_email)
    u_tail = max(tail - phone, floor_phone)
    return {
        ("email", "exact"): max(exact, floor_email),
        ("email", "local"): u_local,
        ("email", "domain"): u_domain,
        ("email", "else"): max(1e-9, 1 - exact - u_local - u_domain),
        ("phone", "exact"): max(phone, floor_phone),
        ("phone", "tail"): u_tail,
        ("phone", "else"): max(1e-9, 1 - phone - u_tail),
    }


# How to enumerate the pairs agreeing on each kind of agreement, and whom to count.
_JOINS = {
    ADDRESS.name: "a.street_num = b.street_num AND a.street <> '' AND b.street <> ''",
    BIRTHDAY.name: "a.birthday = b.birthday AND a.birthday <> ''",
}
_PRESENT = {
    ADDRESS.name: "(street <> '' OR postcode <> '' OR city <> '')",
    BIRTHDAY.name: "birthday <> ''",
}


def joint_u(con: Any, u_different: float, table: str = TABLE) -> dict[str, float]:
    """For each of :data:`~kith.contacts.dedupe.model.JOINTS`: P(exact last name and the
    other agreements | different people) — the relatives in the data. Counted directly
    from the pairs that agree on all of them and have two different known given names
    (almost all relatives), divided by how often two people's given names are known
    and different; EM cannot separate relatives from duplicates (see
    ``DIFFERENT_GIVEN_NAMES_M``)."""
    first_sql = case_sql(FIRST_NAME, "a", "b")
    different = FIRST_NAME.index("different")
    out: dict[str, float] = {}
    for name, parts in JOINTS.items():
        names = [comparison_name for comparison_name, _keys in parts]
        join = _JOINS[BIRTHDAY.name] if BIRTHDAY.name in names else _JOINS[names[0]]
        agree = " AND ".join(
            f"({case_sql(COMPARISON_BY_NAME[c], 'a', 'b')}) IN "
            f"({', '.join(str(COMPARISON_BY_NAME[c].index(k)) for k in keys)})"
            for c, keys in parts
        )
        count = con.execute(
            f"""
            SELECT count(*) FROM {table} a JOIN {table} b
              ON a.last = b.last AND a.unique_id < b.unique_id AND {join}
            WHERE a.last <> '' AND {agree} AND ({first_sql}) = {different}
            """  # noqa: S608 - SQL of our own constants, no user input
        ).fetchall()[0][0]
        present = con.execute(
            f"SELECT count(*) FROM {table} WHERE last <> '' AND "  # noqa: S608 - SQL of our own constants, no user input
            + " AND ".join(_PRESENT[c] for c in names)
        ).fetchall()[0][0]
        if present >= 2 and u_different > 0:
            out[name] = max(float(count), 0.5) / u_different / _pair_count(float(present))
    return out


def estimate_prior(
    con: Any, model: MatchModel, records: int, *, table: str = TABLE, iterations: int = 50
) -> float:
    """λ by expectation maximisation over all candidate pairs of the blocking rules
    (``kith_pairs``, built over ``table``), with m and u fixed:
    λ ← Σ P(match | pair, λ) / C(N, 2)."""
    create_tf_weights(con, model, table=table)
    create_pair_levels(con, table=table)
    neutral = model.with_prior(0.5)  # prior weight 0: the pair's evidence alone
    weights = pair_weights_sql(neutral)
    con.execute(f"CREATE OR REPLACE TEMP TABLE kith_pair_weights AS SELECT w FROM ({weights})")  # noqa: S608 - SQL of our own constants, no user input
    con.execute(f"DROP TABLE {PAIR_LEVELS}")
    total = _pair_count(records)
    prior = model.prior
    for _ in range(iterations):
        prior_weight = math.log2(prior / (1 - prior))
        expected = float(
            con.execute(
                f"SELECT sum(1.0 / (1.0 + pow(2.0, -(w + {prior_weight!r})))) "  # noqa: S608 - SQL of our own constants, no user input
                "FROM kith_pair_weights"
            ).fetchall()[0][0]
            or 0.0
        )
        updated = min(max(expected / total, 1e-12), 0.5)
        converged = abs(updated - prior) <= 1e-4 * prior
        prior = updated
        if converged:
            break
    con.execute("DROP TABLE kith_pair_weights")
    return prior


def _splink_comparison(
    comparison: Comparison, fixed_u: dict[tuple[str, str], float]
) -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    for level in comparison.levels:
        spec: dict[str, Any] = {"sql_condition": level.condition, "label_for_charts": level.key}
        if level.is_null:
            spec["is_null_level"] = True
        else:
            spec["m_probability"] = level.m_prior
            spec["u_probability"] = level.u_prior
            if level.fixed_m:
                spec["fix_m_probability"] = True
            u = fixed_u.get((comparison.name, level.key))
            if u is not None:
                spec["u_probability"] = u
                spec["fix_u_probability"] = True
        if level.tf_column:
            spec["tf_adjustment_column"] = level.tf_column
            spec["tf_adjustment_weight"] = 1.0
        levels.append(spec)
    return {
        "output_column_name": comparison.name,
        "comparison_levels": levels,
        "comparison_description": comparison.name,
    }


def splink_settings(fixed_u: dict[tuple[str, str], float], prior: float) -> dict[str, Any]:
    """The Splink settings dict of our comparisons (dedupe, ``unique_id`` column)."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": [_splink_comparison(c, fixed_u) for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": list(EM_BLOCKING_RULES),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 25,
        "em_convergence": 0.0001,
    }


def _read_probability(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None  # Splink writes "level not observed in training dataset"


def train_model(
    records: Iterable[MatchRecord],
    *,
    seed: int = 42,
    u_max_pairs: float = 5e6,
    em_max_pairs: float | None = 2e6,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = 2,
    metadata: dict[str, Any] | None = None,
) -> MatchModel:
    """Estimate a model from an organization's records with Splink (see module doc)."""
    from splink import DuckDBAPI, Linker

    started = time.perf_counter()
    con = connect(memory_limit, threads)
    try:
        n = load_records(con, records, table=TABLE)
        if n < 50:
            raise ValueError(f"{n} records are too few to train a match model")
        fixed_u = frequency_u(con)
        tf, tf_floor = term_frequencies(con)
        db_api = DuckDBAPI(connection=con)
        table = db_api.register(TABLE)
        linker = Linker(table, splink_settings(fixed_u, prior=5.0 / n), log_level=logging.WARNING)
        u_pairs = min(u_max_pairs, _pair_count(n))
        linker.training.estimate_u_using_random_sampling(
            max_pairs=u_pairs, seed=seed, min_count_per_level=None, num_chunks=1
        )
        for index, rule in enumerate(EM_BLOCKING_RULES):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                max_pairs=em_max_pairs if n > 100_000 else None,
                populate_probability_two_random_records_match_from_trained_values=index == 0,
            )
        trained = linker.misc.save_model_to_json()
        sampled_floor = 1.0 / max(u_pairs, 1.0)
        levels = _levels_from_splink(trained, fixed_u, sampled_floor)
        splink_prior = min(max(float(trained["probability_two_random_records_match"]), 1e-12), 0.5)
        joints = joint_u(con, levels[FIRST_NAME.name]["different"].u)
        model = MatchModel(
            prior=splink_prior,
            levels=levels,
            term_frequencies=tf,
            tf_floor=tf_floor,
            joint_u=joints,
            trained_records=n,
        )
        prior_table, prior_records = TABLE, n
        if n > PRIOR_SAMPLE:
            con.execute(
                f"CREATE TABLE kith_prior_sample AS SELECT * FROM {TABLE} "  # noqa: S608
                f"USING SAMPLE reservoir({PRIOR_SAMPLE} ROWS) REPEATABLE ({int(seed)})"
            )
            prior_table, prior_records = "kith_prior_sample", PRIOR_SAMPLE
        build_candidate_pairs(con, table=prior_table)
        prior = estimate_prior(con, model, prior_records, table=prior_table)
    finally:
        con.close()
    info = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trainer": "splink " + _splink_version(),
        "seconds": round(time.perf_counter() - started, 1),
        "u_max_pairs": u_pairs,
        "em_blocking_rules": list(EM_BLOCKING_RULES),
        "splink_prior": splink_prior,
        **(metadata or {}),
    }
    return MatchModel(
        prior=prior,
        levels=levels,
        term_frequencies=tf,
        tf_floor=tf_floor,
        joint_u=joints,
        trained_records=n,
        metadata=info,
    )


def _levels_from_splink(
    trained: dict[str, Any],
    fixed_u: dict[tuple[str, str], float],
    sampled_floor: float,
) -> dict[str, dict[str, LevelParams]]:
    by_name = {c["output_column_name"]: c for c in trained["comparisons"]}
    out: dict[str, dict[str, LevelParams]] = {}
    for comparison in COMPARISONS:
        splink_levels = by_name[comparison.name]["comparison_levels"]
        if len(splink_levels) != len(comparison.levels):
            raise RuntimeError(f"Splink returned other levels for {comparison.name}")
        params: dict[str, LevelParams] = {}
        for level, spec in zip(comparison.levels, splink_levels, strict=True):
            if level.is_null:
                continue
            key = (comparison.name, level.key)
            m = _read_probability(spec.get("m_probability"))
            u = _read_probability(spec.get("u_probability"))
            if m is None or level.fixed_m:
                m = level.m_prior
            if key in EXACT_M_FLOOR:
                m = max(m, EXACT_M_FLOOR[key])
            if key in fixed_u:
                u = fixed_u[key]
            elif u is None or u <= 0:
                u = sampled_floor
            params[level.key] = LevelParams(m=max(m, 1e-6), u=max(u, 1e-12))
        out[comparison.name] = params
    return out


def _splink_version() -> str:
    import splink

    return str(getattr(splink, "__version__", "?"))


def train_default_model(
    persons: int = 10000, seed: int = 20240611, path: Path | None = None
) -> MatchModel:
    """Train the model shipped with Kith on generated data and write it next to this
    module (``default_model.json``). The seed differs from every benchmark seed; 10,000
    persons (about 40,000 records) estimate the weights better than 5,000 did (labelled
    set F1 0.9900 -> 0.9901, and 0.9912 -> 0.9913 on a second one)."""
    from kith.contacts.dedupe.generate import generate_benchmark

    data = generate_benchmark(persons, seed=seed)
    model = train_model(
        data.records,
        metadata={"source": f"generated: generate_benchmark({persons}, seed={seed})"},
    )
    target = path or Path(__file__).with_name("default_model.json")
    target.write_text(model.to_json() + "\n")
    return model


if __name__ == "__main__":  # python -m kith.contacts.dedupe.train
    logging.basicConfig(level=logging.INFO)
    trained_model = train_default_model()
    log.info("wrote default_model.json: %r %s", trained_model, trained_model.metadata)
