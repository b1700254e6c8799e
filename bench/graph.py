"""``python -m bench.graph`` (``kith bench graph``): the relationship-graph engine at scale.

    .venv/bin/python -m bench.graph --nodes 1000000 --edges 5000000
    .venv/bin/python -m bench.graph --nodes 20000 --edges 100000   # smoke (RESULTS.md untouched)

Generates a power-law graph (bench/graph_data.py), builds an ``OrgGraph`` from its arrays
in this process and times each interactive operation on its own (one thread, no HTTP,
no database): p50/p95/p99 over a sample of inputs, each operation capped by a time
budget. Then the batch analytics (PageRank, sampled betweenness, Leiden) once.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.graph_data import generate
from bench.harness import Machine, code_version, machine_busy_seconds
from bench.report import RESULTS_PATH, update_results
from kith.graph.engine import EdgeChange, NodeKey, OrgGraph
from kith.graph.engine.analytics import compute_analytics

HEADING = "Relationship graph engine"
INTRO = """\
The in-memory graph engine (`kith/graph/engine/`) on a generated organization: contacts
with power-law degrees (Chung-Lu, exponent 2.5, so a few hubs know tens of thousands),
20 users who know 300 contacts each, strengths skewed low (Beta(1.2, 4)). Everything runs
in one Python process on one thread, without HTTP or a database: build from arrays, then
each operation alone over a sample of inputs. "Ordinary" contacts have 2-30
relationships, "hubs" are the 10 best-connected contacts. Strongest and fewest-hop paths
join two random ordinary contacts with at most 6 hops; "to 50 targets" is one strongest
path search from a user to 50 random contacts (at most 4 hops); "apply" is one `apply` of
1,000 changes (strength changes, removals and new relationships). Targets (ARCHITECTURE
§5): network p95 ≤10 ms (hub ≤50 ms), paths p95 ≤10 ms, PageRank ≤3 s, Leiden ≤60 s,
engine ≤1 GB."""
SMOKE_NODES = 100_000

console = Console()


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)  # ms
    results: list[str] = field(default_factory=list)

    def ms(self, q: float) -> float:
        return float(np.percentile(self.samples, q)) if self.samples else float("nan")


def measure(
    label: str,
    operation: Callable[[Any], object],
    inputs: Sequence[Any],
    budget: float,
    describe: Callable[[object], str] | None = None,
) -> Timing:
    """Run ``operation`` on each input until they or ``budget`` seconds run out."""
    timing = Timing(label)
    deadline = time.perf_counter() + budget
    for item in inputs:
        started = time.perf_counter()
        result = operation(item)
        timing.samples.append((time.perf_counter() - started) * 1000)
        if describe is not None:
            timing.results.append(describe(result))
        if time.perf_counter() > deadline:
            break
    return timing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.graph", description=__doc__)
    parser.add_argument("--nodes", type=int, default=1_000_000, help="contacts (default 1M)")
    parser.add_argument("--edges", type=int, default=5_000_000, help="relationships (5M)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--queries", type=int, default=200, help="inputs per operation")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds at most per operation (60)"
    )
    parser.add_argument(
        "--betweenness-samples", type=int, default=16, help="betweenness pivots (16)"
    )
    parser.add_argument(
        "--analytics", action=argparse.BooleanOptionalAction, default=True, help="run them"
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"update {RESULTS_PATH.name} (default: yes from {SMOKE_NODES:,} nodes on)",
    )
    args = parser.parse_args(argv)
    if args.nodes < 100 or args.edges < args.nodes or args.queries < 1:
        parser.error("need --nodes >= 100, --edges >= --nodes and --queries >= 1")
    if args.write is None:
        args.write = args.nodes >= SMOKE_NODES
    return args


def _changes(
    graph: OrgGraph, keys: list[NodeKey], rng: random.Random, count: int
) -> list[EdgeChange]:
    """A realistic batch: a third new relationships, a third re-weighted, a third removed."""
    changes: list[EdgeChange] = []
    while len(changes) < count:
        a = keys[rng.randrange(len(keys))]
        kind = len(changes) % 3
        if kind == 0:
            b = keys[rng.randrange(len(keys))]
            if a != b:
                changes.append(EdgeChange(a, b, rng.uniform(0.01, 1.0)))
            continue
        neighbours = graph.neighbors(a)
        if not neighbours:
            continue
        b = neighbours[rng.randrange(len(neighbours))][0]
        changes.append(EdgeChange(a, b, rng.uniform(0.01, 1.0) if kind == 1 else None))
    return changes


def run(args: argparse.Namespace) -> dict[str, Any]:
    busy_before, cpu_before, wall_before = machine_busy_seconds(), time.process_time(), time.time()
    console.print(f"generating {args.nodes:,} contacts / {args.edges:,} relationships")
    started = time.perf_counter()
    data = generate(args.nodes, args.edges, seed=args.seed)
    generated = time.perf_counter() - started
    gc.collect()
    rss_before = rss_mib()
    started = time.perf_counter()
    graph = OrgGraph.build(data.keys, data.src, data.dst, data.strength, version=1)
    built = time.perf_counter() - started
    gc.collect()
    # The keys are the generator's; a loader that builds them from rows owns them, so
    # count what the graph holds: the arrays and its estimate for keys and index.
    rss_after = rss_mib()
    keys = data.keys
    degree = np.diff(graph._snapshot.indptr)
    console.print(f"built in {built:.1f} s; max degree {int(degree.max()):,}")

    rng = random.Random(args.seed)
    pool = rng.sample(range(data.contacts), min(data.contacts, 50 * args.queries))
    ordinary = [i for i in pool if 2 <= degree[i] <= 30][: 2 * args.queries]
    hubs = np.argsort(degree[: data.contacts])[-10:][::-1].tolist()
    pairs = list(zip(ordinary[: args.queries], ordinary[args.queries :], strict=False))
    users = list(range(data.contacts, data.contacts + data.users))

    def hops(result: object) -> str:
        return str(result.hops) if result is not None else "none"  # type: ignore[attr-defined]

    timings: list[Timing] = []

    def add(t: Timing) -> None:
        timings.append(t)
        console.print(
            f"  {t.label}: n={len(t.samples)} p50 {t.ms(50):.1f} ms p95 {t.ms(95):.1f} ms "
            f"p99 {t.ms(99):.1f} ms"
        )

    add(
        measure(
            "network, ordinary contact (depth 3, limit 200)",
            lambda i: graph.network(keys[i], 3, limit=200),
            ordinary[: args.queries],
            args.budget,
        )
    )
    add(
        measure(
            "network, hub (depth 3, limit 200)",
            lambda i: graph.network(keys[i], 3, limit=200),
            hubs * max(1, args.queries // 40),
            args.budget,
        )
    )
    add(
        measure(
            "strongest path, k=1",
            lambda p: graph.strongest_paths(keys[p[0]], keys[p[1]], k=1),
            pairs,
            args.budget,
            lambda r: str(r[0].hops) if r else "none",  # type: ignore[index]
        )
    )
    add(
        measure(
            "fewest hops",
            lambda p: graph.fewest_hops(keys[p[0]], keys[p[1]]),
            pairs,
            args.budget,
            hops,
        )
    )
    add(
        measure(
            "strongest paths, k=3",
            lambda p: graph.strongest_paths(keys[p[0]], keys[p[1]], k=3),
            pairs[: max(1, args.queries // 4)],
            args.budget,
        )
    )
    targets = [
        (users[i % len(users)], rng.sample(range(data.contacts), 50))
        for i in range(max(1, args.queries // 4))
    ]
    add(
        measure(
            "strongest paths to 50 targets (from a user, 4 hops)",
            lambda t: graph.strongest_paths_to_many(keys[t[0]], [keys[j] for j in t[1]]),
            targets,
            args.budget,
        )
    )
    batches = [_changes(graph, keys, rng, 1000) for _ in range(min(20, args.queries))]
    versions = iter(range(2, 2 + len(batches)))
    add(
        measure(
            "apply 1,000 changes",
            lambda batch: graph.apply(batch, next(versions)),
            batches,
            args.budget,
        )
    )
    after_apply = rss_mib()

    analytics: dict[str, float] = {}
    communities = 0
    modularity = float("nan")
    if args.analytics:
        console.print("analytics (igraph): PageRank, betweenness, Leiden")
        started = time.perf_counter()
        result = compute_analytics(
            graph, seed=args.seed, betweenness_samples=args.betweenness_samples
        )
        analytics = dict(result.computed_in_seconds)
        analytics["total"] = time.perf_counter() - started
        communities = int(result.community.max()) + 1
        modularity = result.modularity
        console.print(
            "  "
            + ", ".join(f"{k} {v:.1f} s" for k, v in analytics.items())
            + f"; {communities:,} communities, modularity {modularity:.3f}"
        )
    wall = time.time() - wall_before
    other = (machine_busy_seconds() - busy_before - (time.process_time() - cpu_before)) / wall
    return {
        "data": data,
        "generated": generated,
        "built": built,
        "rss_delta": rss_after - rss_before,
        "rss_after_apply": after_apply,
        "rss_total": rss_mib(),
        "nbytes": graph.nbytes(),
        "max_degree": int(degree.max()),
        "hub_degrees": [int(degree[h]) for h in hubs],
        "timings": timings,
        "analytics": analytics,
        "communities": communities,
        "modularity": modularity,
        "other_load": max(0.0, other),
        "wall": wall,
    }


def command(args: argparse.Namespace) -> str:
    parts = [
        ".venv/bin/python -m bench.graph",
        f"--nodes {args.nodes}",
        f"--edges {args.edges}",
        f"--seed {args.seed}",
        f"--queries {args.queries}",
        f"--budget {args.budget:g}",
        f"--betweenness-samples {args.betweenness_samples}",
    ]
    if not args.analytics:
        parts.append("--no-analytics")
    return " ".join(parts)


def markdown_block(args: argparse.Namespace, run_: dict[str, Any]) -> str:
    data = run_["data"]
    machine = Machine.detect()
    lines = [
        f"### {args.nodes:,} contacts / {data.edges:,} relationships",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {machine.describe()}",
        f"- **Software**: {machine.python}; {code_version()}; numpy {np.__version__}",
        f"- **Dataset**: {args.nodes:,} contacts + {data.users} users, {data.edges:,} "
        f"relationships (seed {args.seed}); max degree {run_['max_degree']:,}, hubs "
        f"{', '.join(f'{d:,}' for d in run_['hub_degrees'][:5])}, …; generated in "
        f"{run_['generated']:.1f} s",
        f"- **Command**: `{command(args)}`",
        f"- **Other load**: other processes used {run_['other_load']:.0%} of a core during "
        f"the run ({run_['wall']:.0f} s)",
        "",
        f"Build from arrays: **{run_['built']:.1f} s**; resident memory: RSS "
        f"+{run_['rss_delta']:,.0f} MiB for the build, `nbytes()` "
        f"{run_['nbytes'] / 2**20:,.0f} MiB (arrays, patch, keys and their index), "
        f"process RSS {run_['rss_total']:,.0f} MiB in all (generator data included).",
        "",
        "| operation | runs | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in run_["timings"]:
        lines.append(
            f"| {t.label} | {len(t.samples)} | {t.ms(50):.1f} | {t.ms(95):.1f} | "
            f"{t.ms(99):.1f} | {max(t.samples):.1f} |"
        )
    if run_["analytics"]:
        a = run_["analytics"]
        lines += [
            "",
            f"Analytics (igraph {_igraph_version()}, one run): igraph graph from the engine "
            f"{a.get('igraph', 0):.1f} s, PageRank **{a.get('pagerank', 0):.1f} s**, "
            f"betweenness ({args.betweenness_samples} sampled pivots) "
            f"{a.get('betweenness', 0):.1f} s, Leiden (2 iterations) "
            f"**{a.get('leiden', 0):.1f} s** ({run_['communities']:,} communities, "
            f"modularity {run_['modularity']:.3f}); total {a['total']:.1f} s.",
        ]
    return "\n".join(lines)


def _igraph_version() -> str:
    import igraph

    return str(igraph.__version__)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_ = run(args)
    table = Table(title=f"Graph engine, {args.nodes:,} nodes / {run_['data'].edges:,} edges")
    for column in ("operation", "runs", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for t in run_["timings"]:
        table.add_row(
            t.label, str(len(t.samples)), f"{t.ms(50):.1f}", f"{t.ms(95):.1f}", f"{t.ms(99):.1f}"
        )
    console.print(table)
    if args.write:
        update_results(HEADING, INTRO, f"graph:engine:{args.nodes}", markdown_block(args, run_))
        console.print(f"updated {RESULTS_PATH}")
    else:
        console.print(f"[dim]{RESULTS_PATH.name} not updated (smoke run)[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
