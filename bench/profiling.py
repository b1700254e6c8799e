"""Optional: profile the server with py-spy while each operation is measured.

py-spy is not a dependency of Kith; install it anywhere (``pipx install py-spy``, or a
throwaway virtualenv) and pass ``--profile DIR`` (and ``--py-spy PATH`` when it is not
on PATH). It samples the server from outside the process, in ``--gil`` mode: only the
thread holding the GIL is sampled, so the report is where the Python CPU goes
(time inside C calls that release the GIL, such as SQLite's ``sqlite3_step``, is not
in it). Per operation it writes ``<op>.txt`` (self time by package and by function,
inclusive time by function) and ``<op>.raw`` (collapsed stacks for flame graph tools).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")
_MARKERS = ("site-packages/", "/work/main/", "lib/python3.11/", "lib/python3.12/")


def find_py_spy(explicit: str | None) -> str | None:
    return explicit if explicit else shutil.which("py-spy")


def _frame(raw: str) -> tuple[str, str]:
    """``func (path:line)`` → (``short/path.py:func``, ``package``)."""
    match = _FRAME.match(raw)
    if not match:
        return raw, "?"
    path = match.group("file")
    for marker in _MARKERS:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    parts = path.split("/")
    if parts[0] == "kith" and len(parts) > 1:
        package = "kith." + parts[1].removesuffix(".py")
    elif len(parts) == 1 or parts[0] in ("asyncio", "concurrent", "json", "email", "http"):
        package = "stdlib:" + parts[0].removesuffix(".py")
    else:
        package = parts[0]
    return f"{path}:{match.group('func')}", package


def summarize(raw_path: Path, label: str, wall_seconds: float, rate: int) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        total += n
        own[frames[-1][0]] += n
        packages[frames[-1][1]] += n
        for name in {name for name, _ in frames}:
            inclusive[name] += n

    def table(title: str, counter: Counter[str], limit: int) -> list[str]:
        rows = [f"\n== {title} =="]
        rows += [f"{n / total:6.1%}  {name}" for name, n in counter.most_common(limit)]
        return rows

    possible = wall_seconds * rate
    header = (
        f"py-spy --gil profile of {label}: {total} samples in {wall_seconds:.1f} s at "
        f"{rate} Hz (GIL held in ~{total / possible:.0%} of the samples)"
        if total and possible
        else f"py-spy profile of {label}: no samples"
    )
    if not total:
        return header + "\n"
    return (
        "\n".join(
            [
                header,
                *table(
                    "self time by package (C calls count for their Python caller)", packages, 25
                ),
                *table("self time by function", own, 40),
                *table("inclusive time by function", inclusive, 80),
            ]
        )
        + "\n"
    )


class PySpy:
    """Records one py-spy profile per measured operation of the server ``pid``."""

    def __init__(self, executable: str, pid: int, out: Path, rate: int = 250) -> None:
        self.executable = executable
        self.pid = pid
        self.out = out
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None
        self._label = ""
        self._started = 0.0
        out.mkdir(parents=True, exist_ok=True)

    def start(self, label: str, now: float) -> None:
        self._label, self._started = label, now
        self._process = subprocess.Popen(
            [
                self.executable,
                "record",
                "--pid",
                str(self.pid),
                "--gil",
                "--nonblocking",
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.out / f"{label}.raw"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self, now: float) -> Path | None:
        process, self._process = self._process, None
        if process is None:
            return None
        process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        raw = self.out / f"{self._label}.raw"
        if not raw.exists():
            message = stderr.decode(errors="replace").strip()
            (self.out / f"{self._label}.txt").write_text(f"py-spy failed: {message}\n")
            return None
        report = self.out / f"{self._label}.txt"
        report.write_text(summarize(raw, self._label, now - self._started, self.rate))
        return report
