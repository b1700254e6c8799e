"""Tables (Rich for the terminal, Markdown for bench/RESULTS.md) and the RESULTS.md
update that replaces only one benchmark's block for one backend."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from bench.load import Result

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"

RESULTS_HEADER = """\
# Benchmark results

Numbers in this file are produced by the benchmarks in `bench/`, never by timed unit tests
(ARCHITECTURE.md §5 has the targets). `make bench` runs the platform request-overhead
benchmark (`.venv/bin/python -m bench` from the repository root; `--help` lists the
options). The other benchmarks are `python -m bench.<name>`, named in their sections.
Each one starts a throwaway Kith: a temporary data directory, with SQLite or a temporary
PostgreSQL database. It runs the real code on this machine and measures from outside.

Each benchmark rewrites only its own generated blocks, one per backend, between
`<!-- BEGIN bench:… -->` and `<!-- END bench:… -->`. A block records the date (UTC), the
machine, the dataset, the settings and the other load on the machine during the run.
Everything else here, such as the interpretation notes, is written by hand and kept.
Smoke runs (`--duration` under 5 s) do not write here.
"""

COLUMNS = (
    "operation",
    "clients",
    "requests",
    "errors",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "server CPU ms/req",
    "server CPU",
    "client CPU",
)


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None or value != value else pattern.format(value)


def result_row(result: Result) -> list[str]:
    return [
        result.label,
        str(result.concurrency),
        f"{result.requests:,}",
        str(result.errors),
        _fmt(result.rate, "{:,.0f}"),
        _fmt(result.ms(50), "{:.1f}"),
        _fmt(result.ms(95), "{:.1f}"),
        _fmt(result.ms(99), "{:.1f}"),
        _fmt(result.server_cpu_per_request_ms, "{:.2f}"),
        _fmt(None if result.server_cpu_share is None else result.server_cpu_share * 100, "{:.0f}%"),
        _fmt(None if result.client_cpu_share is None else result.client_cpu_share * 100, "{:.0f}%"),
    ]


def rich_table(title: str, results: Sequence[Result]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if i == 0 else "right")
    for result in results:
        table.add_row(*result_row(result), style="red" if result.errors else None)
    return table


def markdown_table(results: Sequence[Result]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for result in results:
        cells = [cell.replace("|", "\\|") for cell in result_row(result)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markers(block_id: str) -> tuple[str, str]:
    return f"<!-- BEGIN bench:{block_id} -->", f"<!-- END bench:{block_id} -->"


def update_results(
    heading: str,
    intro: str,
    block_id: str,
    block: str,
    path: Path = RESULTS_PATH,
) -> None:
    """Put ``block`` in the section ``## heading`` of RESULTS.md, replacing the previous
    block with the same id; create the file or the section (with ``intro``) as needed.
    Everything else in the file stays as it is."""
    text = path.read_text() if path.exists() else RESULTS_HEADER
    begin, end = _markers(block_id)
    generated = f"{begin}\n{block.strip()}\n{end}"

    title = f"## {heading}"
    start = text.find(f"\n{title}\n") + 1 if f"\n{title}\n" in text else -1
    if start < 0:
        text = f"{text.rstrip()}\n\n{title}\n\n{intro.strip()}\n\n{generated}\n"
        path.write_text(text)
        return
    following = re.search(r"^## ", text[start + len(title) :], re.MULTILINE)
    stop = start + len(title) + following.start() if following else len(text)
    section = text[start:stop]

    existing = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if existing.search(section):
        section = existing.sub(lambda _m: generated, section, count=1)
    else:
        # After the section's last generated block, or after its intro paragraph.
        ends = list(re.finditer(r"<!-- END bench:[^>]*-->", section))
        if ends:
            at = ends[-1].end()
        else:
            paragraph = section.find("\n\n", len(title) + 2)
            at = paragraph if paragraph >= 0 else len(section.rstrip())
        section = f"{section[:at].rstrip()}\n\n{generated}\n\n{section[at:].lstrip()}"
    text = text[:start] + section.rstrip() + "\n" + ("\n" + text[stop:] if stop < len(text) else "")
    path.write_text(text)
