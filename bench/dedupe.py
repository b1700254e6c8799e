"""``python -m bench.dedupe`` (``kith bench dedupe``): quality and speed of duplicate
detection (``kith.contacts.dedupe``).

    .venv/bin/python -m bench.dedupe                       # 5,000 persons, 1M-record scan
    .venv/bin/python -m bench.dedupe --scan 0              # quality only
    .venv/bin/python -m bench.dedupe --persons 300 --scan 0 --no-write   # smoke run

Quality is measured on a labelled benchmark (``generate_benchmark(persons, seed)``): every
pair of records the background scan reports at ``DEFAULT_THRESHOLD`` is checked against
the truth, and recall counts every true pair, also those blocking never proposed. Models:

- *own data*: trained with Splink on the evaluation records themselves, without their
  labels — what an organization does with its own contacts;
- *separate set*: trained on another generated set (``--train-seed``);
- *default*: the model shipped with Kith (trained on a third seed).

The baseline rule ("fuzzy name ≥ 90 and same birthday or postcode") is evaluated over
the same candidate pairs. Speed: pair scoring in Python, the on-create path (blocking
keys → in-memory index lookup → scoring the candidates) and the background scan of
``--scan`` generated records in a subprocess (wall time, CPU time, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from kith.contacts.dedupe.blocking import MAX_BLOCK_SIZE, SCAN_WINDOW, blocking_keys
from kith.contacts.dedupe.features import compute_features, features_of
from kith.contacts.dedupe.generate import LabelledData, generate_benchmark, generate_population
from kith.contacts.dedupe.model import DEFAULT_THRESHOLD, MatchModel
from kith.contacts.dedupe.record import (
    MatchRecord,
    normalize_birthday,
    normalize_for_matching,
    normalize_postcode,
)
from kith.contacts.dedupe.scan import BlockingIndex, find_duplicates, possible_duplicates
from kith.contacts.dedupe.tables import DEFAULT_MEMORY_LIMIT
from kith.contacts.dedupe.train import train_model

HEADING = "Duplicate detection"
INTRO = """\
`kith.contacts.dedupe`: a Fellegi-Sunter match model (names with nicknames and swapped
first/last names, emails, phones, company, address, birthday, country) trained with
Splink 5 on DuckDB, applied in Python on create and in DuckDB + Python by the background
scan. Produced by `.venv/bin/python -m bench.dedupe` (see its docstring). Quality is
measured over pairs at the default threshold on a generated, labelled benchmark with
realistic damage; recall counts every true pair, including those blocking never
proposed. Each run rewrites only its own block below."""

BASELINE_NAME_RATIO = 90


# --- quality -------------------------------------------------------------------------------


@dataclass
class Quality:
    label: str
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    seconds: float = 0.0
    note: str = ""

    def row(self) -> str:
        return (
            f"| {self.label} | {self.precision:.4f} | {self.recall:.4f} | **{self.f1:.4f}** "
            f"| {self.tp:,} | {self.fp:,} | {self.fn:,} | {self.note} |"
        )


def quality(label: str, found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> Quality:
    tp = len(found & truth)
    fp, fn = len(found) - tp, len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(label, precision, recall, f1, tp, fp, fn)


def scan_pairs(records: list[MatchRecord], model: MatchModel) -> tuple[set[tuple[str, str]], float]:
    started = time.perf_counter()
    found = {(a, b) for a, b, _match in find_duplicates(records, model, DEFAULT_THRESHOLD)}
    return found, time.perf_counter() - started


def candidate_pairs(records: list[MatchRecord]) -> set[tuple[str, str]]:
    """Pairs sharing a blocking key (all of them: no window), ids sorted."""
    by_key: dict[str, list[str]] = {}
    for record in records:
        for key in blocking_keys(record):
            by_key.setdefault(key, []).append(record.id)
    pairs: set[tuple[str, str]] = set()
    for ids in by_key.values():
        ids.sort()
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pairs.add((a, b))
    return pairs


def baseline(a: MatchRecord, b: MatchRecord) -> bool:
    """Fuzzy full name ≥ 90 and the same birthday or postcode."""
    name_a, name_b = normalize_for_matching(a.full_name), normalize_for_matching(b.full_name)
    if fuzz.ratio(name_a, name_b) < BASELINE_NAME_RATIO:
        return False
    birthday_a = normalize_birthday(a.birthday)
    postcode_a = normalize_postcode(a.postcode)
    return bool(birthday_a and birthday_a == normalize_birthday(b.birthday)) or bool(
        postcode_a and postcode_a == normalize_postcode(b.postcode)
    )


# --- speed ---------------------------------------------------------------------------------


def scoring_throughput(
    model: MatchModel, records: list[MatchRecord], pairs: list[tuple[str, str]]
) -> dict[str, float]:
    by_id = {r.id: r for r in records}
    sample = [(by_id[a], by_id[b]) for a, b in pairs]
    for a, b in sample:  # warm the feature cache
        model.score(a, b)
    started = time.perf_counter()
    for a, b in sample:
        model.score(a, b)
    warm = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    for a, b in sample:
        model.weight_of_features(compute_features(a), compute_features(b))
    cold = len(sample) / (time.perf_counter() - started)
    return {"warm": warm, "cold": cold, "pairs": float(len(sample))}


def create_latency(
    model: MatchModel, existing: Iterable[MatchRecord], new: list[MatchRecord]
) -> dict[str, float]:
    """Index ``existing``; then for each new record time what the create path does: its
    blocking keys, the index lookup, scoring the candidates. Then add it to the index."""
    index = BlockingIndex()
    for record in existing:
        index.add(record)
    features_of.cache_clear()
    timings, candidates, found = [], [], 0
    for record in new:
        started = time.perf_counter()
        matches = possible_duplicates(record, index.lookup, model)
        timings.append((time.perf_counter() - started) * 1000)
        candidates.append(len(index.lookup(blocking_keys(record))))
        found += bool(matches)
        index.add(record)
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(p / 100 * len(timings)))]

    return {
        "indexed": float(len(index) - len(new)),
        "creates": float(len(new)),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "candidates_mean": statistics.fmean(candidates),
        "with_duplicates": found / len(new),
    }


# --- the 1M scan, in a subprocess ----------------------------------------------------------


def _write_population(path: Path, records: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [
        "id",
        "first_name",
        "last_name",
        "company",
        "street",
        "city",
        "postcode",
        "country",
        "birthday",
    ]
    schema = pa.schema(
        [pa.field(f, pa.string()) for f in fields]
        + [pa.field("emails", pa.list_(pa.string())), pa.field("phones", pa.list_(pa.string()))]
    )
    with pq.ParquetWriter(path, schema) as writer:
        batch: dict[str, list[Any]] = {name: [] for name in schema.names}
        for record in generate_population(records, seed=seed):
            for name in schema.names:
                value = getattr(record, name)
                batch[name].append(list(value) if isinstance(value, tuple) else value)
            if len(batch["id"]) == 100_000:
                writer.write_table(pa.table(batch, schema=schema))
                batch = {name: [] for name in schema.names}
        if batch["id"]:
            writer.write_table(pa.table(batch, schema=schema))


def _read_population(path: Path) -> Iterator[MatchRecord]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
        for row in batch.to_pylist():
            row["emails"] = tuple(row["emails"] or ())
            row["phones"] = tuple(row["phones"] or ())
            yield MatchRecord(**row)


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scan_worker(path: str, model_path: str, out: str, memory_limit: str) -> None:
    """Run in a fresh process: the scan of the parquet file, counted and timed."""
    model = MatchModel.from_json(Path(model_path).read_text())
    stats: dict[str, Any] = {}
    started, cpu0 = time.perf_counter(), time.process_time()
    pairs = []
    for a, b, match in find_duplicates(
        _read_population(Path(path)),
        model,
        DEFAULT_THRESHOLD,
        memory_limit=memory_limit,
        stats=stats,
    ):
        pairs.append((a, b, round(match.probability, 4)))
    stats["seconds"] = time.perf_counter() - started
    stats["cpu_seconds"] = time.process_time() - cpu0
    stats["peak_rss_mib"] = _peak_rss_mib()
    Path(out).write_text(json.dumps({"stats": stats, "pairs": pairs}))


def _busy_jiffies() -> int:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [int(v) for v in fields]
        return sum(values) - values[3] - (values[4] if len(values) > 4 else 0)
    except (OSError, ValueError, IndexError):
        return 0


def run_scan(records: int, seed: int, model: MatchModel, memory_limit: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kith-bench-dedupe-") as tmp:
        data = Path(tmp) / "population.parquet"
        started = time.perf_counter()
        _write_population(data, records, seed)
        generated = time.perf_counter() - started
        model_path = Path(tmp) / "model.json"
        model_path.write_text(model.to_json())
        out = Path(tmp) / "result.json"
        busy0, wall0 = _busy_jiffies(), time.perf_counter()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.dedupe",
                "--scan-worker",
                str(data),
                str(model_path),
                str(out),
                memory_limit,
            ],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        wall = time.perf_counter() - wall0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy = (_busy_jiffies() - busy0) / os.sysconf("SC_CLK_TCK")
        own = (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime)
        result = json.loads(out.read_text())
    stats = result["stats"]
    stats["generated_seconds"] = generated
    stats["other_cpu_share"] = max(0.0, (busy - own) / wall) if wall else 0.0
    found = {(a, b) for a, b, _p in result["pairs"]}
    truth = sum(1 for a, b in found if a.split("-")[0] == b.split("-")[0])
    stats["precision_vs_generator"] = truth / len(found) if found else 0.0
    return stats


# --- the report ----------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    from bench.harness import Machine, code_version

    lines = [
        f"### {report['persons']:,} persons",
        "",
        f"- **Date**: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC",
        f"- **Machine**: {Machine.detect().describe()}",
        f"- **Software**: {Machine.detect().python}; {code_version()}; splink "
        f"{report['splink']}, duckdb {report['duckdb']}",
        f"- **Command**: `{report['command']}`",
        f"- **Dataset**: `generate_benchmark({report['persons']}, seed={report['seed']})`: "
        f"{report['records']:,} records, {report['true_pairs']:,} true duplicate pairs "
        f"({report['persons']:,} persons with 1-4 duplicates each, as many people appearing "
        f"once — 15% of them namesakes carrying the most common names — and relatives at the "
        f"same address); blocking proposes {report['candidates']:,} pairs, "
        f"{report['blocking_recall']:.2%} of the true pairs",
        f"- **Default threshold**: {DEFAULT_THRESHOLD} (match probability)",
        "",
        "| model | precision | recall | F1 | TP | FP | FN | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *[q.row() for q in report["qualities"]],
        "",
        f"- **Pair scoring** (`MatchModel.score`, Python + rapidfuzz, one core): "
        f"{report['throughput']['warm']:,.0f} pairs/s with cached record features, "
        f"{report['throughput']['cold']:,.0f} pairs/s computing both records' features each "
        f"time ({report['throughput']['pairs']:,.0f} candidate pairs)",
        f"- **On create** (`possible_duplicates`: blocking keys, in-memory index lookup of at "
        f"most {MAX_BLOCK_SIZE} records a key, scoring the candidates): "
        + "; ".join(
            f"{c['indexed']:,.0f} contacts indexed: p50 {c['p50']:.2f} ms, "
            f"**p95 {c['p95']:.2f} ms**, p99 {c['p99']:.2f} ms, "
            f"{c['candidates_mean']:.0f} candidates on average"
            for c in report["creates"]
        ),
    ]
    scan = report.get("scan")
    if scan:
        lines += [
            f"- **Background scan** of {scan['records']:,} generated records "
            f"(`generate_population(seed={report['scan_seed']})`, ~12% of people duplicated; "
            f"DuckDB memory_limit {report['memory_limit']}, 2 threads, sorted-neighbourhood "
            f"window {SCAN_WINDOW}), in a fresh process reading a Parquet file: "
            f"**{scan['seconds']:.0f} s** wall ({scan['cpu_seconds']:.0f} s CPU), "
            f"**peak RSS {scan['peak_rss_mib'] / 1024:.2f} GiB**; "
            f"{scan['candidate_pairs']:,} candidate pairs, {scan['sql_hits']:,} past the SQL "
            f"weight filter, {scan['matches']:,} reported "
            f"({scan['precision_vs_generator']:.1%} of them true duplicates); "
            f"other processes used {scan['other_cpu_share']:.0%} of a core meanwhile",
        ]
    lines += [f"- {note}" for note in report.get("notes", [])]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dedupe", description=__doc__)
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1, help="evaluation set seed")
    parser.add_argument("--train-seed", type=int, default=11, help="separate training set seed")
    parser.add_argument("--scan", type=int, default=1_000_000, help="records to scan (0: skip)")
    parser.add_argument("--scan-seed", type=int, default=7)
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT)
    parser.add_argument(
        "--create-index",
        type=int,
        default=100_000,
        help="also time creates against an index of this many records",
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="update bench/RESULTS.md (default: unless a smoke run)",
    )
    parser.add_argument("--scan-worker", nargs=4, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scan_worker:
        scan_worker(*args.scan_worker)
        return 0
    import duckdb
    import splink

    def say(message: str) -> None:
        print(message, flush=True)

    say(f"generating the benchmark: {args.persons} persons, seed {args.seed}")
    data: LabelledData = generate_benchmark(args.persons, seed=args.seed)
    truth = data.true_pairs()
    by_id = {r.id: r for r in data.records}
    candidates = candidate_pairs(data.records)
    report: dict[str, Any] = {
        "persons": args.persons,
        "seed": args.seed,
        "records": len(data.records),
        "true_pairs": len(truth),
        "candidates": len(candidates),
        "blocking_recall": len(candidates & truth) / len(truth),
        "splink": splink.__version__,
        "duckdb": duckdb.__version__,
        "memory_limit": args.memory_limit,
        "scan_seed": args.scan_seed,
        "command": "python -m bench.dedupe " + " ".join(argv if argv is not None else sys.argv[1:]),
        "notes": [],
    }
    qualities: list[Quality] = []

    say("training on the evaluation records themselves (Splink, no labels)")
    started = time.perf_counter()
    own = train_model(data.records)
    own_seconds = time.perf_counter() - started
    found, seconds = scan_pairs(data.records, own)
    q = quality("trained on its own records (unsupervised)", found, truth)
    q.note = f"training {own_seconds:.0f} s, scan {seconds:.1f} s; λ {own.prior:.3g}"
    qualities.append(q)
    say(f"  {q.row()}")

    say(f"training on a separate set (seed {args.train_seed})")
    other = generate_benchmark(args.persons, seed=args.train_seed)
    started = time.perf_counter()
    separate = train_model(other.records)
    separate_seconds = time.perf_counter() - started
    found, seconds = scan_pairs(data.records, separate)
    q = quality(f"trained on a separate set (seed {args.train_seed})", found, truth)
    q.note = f"training {separate_seconds:.0f} s, scan {seconds:.1f} s"
    qualities.append(q)
    say(f"  {q.row()}")

    default = MatchModel.default()
    found, seconds = scan_pairs(data.records, default)
    q = quality("default model (shipped)", found, truth)
    q.note = f"{default.metadata.get('source', '')}; scan {seconds:.1f} s"
    qualities.append(q)
    say(f"  {q.row()}")

    found = {pair for pair in candidates if baseline(by_id[pair[0]], by_id[pair[1]])}
    q = quality("baseline: fuzzy name ≥ 90 and same birthday or postcode", found, truth)
    q.note = "over the same candidate pairs"
    qualities.append(q)
    say(f"  {q.row()}")
    report["qualities"] = qualities

    say("pair scoring throughput")
    sample = random.Random(0).sample(sorted(candidates), min(50_000, len(candidates)))
    report["throughput"] = scoring_throughput(own, data.records, sample)
    say(f"  {report['throughput']}")

    say("on-create latency")
    held_out = random.Random(1).sample(data.records, min(1000, len(data.records) // 5))
    held = {r.id for r in held_out}
    creates = [create_latency(own, (r for r in data.records if r.id not in held), held_out)]
    if args.create_index:
        population = generate_population(args.create_index + 1000, seed=args.scan_seed + 1)
        records = list(population)
        creates.append(
            create_latency(default.for_population(len(records)), records[:-1000], records[-1000:])
        )
    report["creates"] = creates
    say(f"  {creates}")

    if args.scan:
        say(f"background scan of {args.scan:,} generated records (subprocess)")
        report["scan"] = run_scan(args.scan, args.scan_seed, default, args.memory_limit)
        say(f"  {report['scan']}")

    block = markdown(report)
    print(block)
    smoke = args.persons < 5000
    if args.write or (args.write is None and not smoke):
        from bench.report import RESULTS_PATH, update_results

        update_results(HEADING, INTRO, "dedupe", block)
        say(f"updated {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
