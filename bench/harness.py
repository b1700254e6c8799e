"""What every benchmark needs: a throwaway Kith (data dir, database, admin) served by
the real ``kith serve`` in a subprocess, and a description of the machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

ADMIN_EMAIL = "bench@kith.example"
ORGANIZATION = "Bench"
# High enough that the limiter never answers 429, low enough to be a real limit:
# the middleware still counts every request, so its cost is part of the numbers.
RATE_LIMIT = "1000000000/minute"


# -- the machine --------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    os: str
    python: str

    @classmethod
    def detect(cls) -> Machine:
        cpu = platform.processor() or platform.machine()
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        ram_gib = 0.0
        with contextlib.suppress(OSError, ValueError):
            meminfo = Path("/proc/meminfo").read_text()
            match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
            if match:
                ram_gib = int(match.group(1)) / 1024 / 1024
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        return cls(
            cpu=cpu,
            cores=cores or os.cpu_count() or 0,
            ram_gib=ram_gib,
            os=f"{platform.system()} {platform.release()} {platform.machine()}",
            python=f"{platform.python_implementation()} {platform.python_version()}",
        )

    def describe(self) -> str:
        return f"{self.cpu}, {self.cores} cores, {self.ram_gib:.1f} GiB RAM, {self.os}"


def code_version() -> str:
    """kith's version and the commit the working tree is on (read-only git)."""
    from kith import __version__

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"kith {__version__}"
    return f"kith {__version__} (commit {commit}{', uncommitted changes' if dirty else ''})"


# -- the backend --------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """Where the server keeps its data: SQLite by default, or a throwaway database on a
    PostgreSQL server; Redis (rate limits, throttles) when a URL is given."""

    postgres_url: str | None = None
    redis_url: str | None = None

    @property
    def label(self) -> str:
        name = "PostgreSQL" if self.postgres_url else "SQLite"
        return f"{name}+Redis" if self.redis_url else name

    @property
    def slug(self) -> str:
        return self.label.lower().replace("+", "-")


@contextlib.contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """Create a fresh database on ``server_url``'s server; drop it afterwards."""
    import psycopg
    from sqlalchemy import make_url

    from kith.db.engine import normalize_url

    url = make_url(normalize_url(server_url))
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"kith_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # without guest time (already in user)
    return busy / os.sysconf("SC_CLK_TCK")


DATABASE_PROCESSES = ("postgres", "redis-server")


def processes_cpu_seconds(names: tuple[str, ...] = DATABASE_PROCESSES) -> dict[int, float]:
    """CPU seconds of every running process whose command name is one of ``names``
    (the PostgreSQL and Redis servers the benchmark talks to), by pid."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        if name in names:
            fields = text.rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def cpu_used_since(before: dict[int, float]) -> float:
    """CPU the processes counted by ``processes_cpu_seconds`` used since ``before``
    (processes that ended meanwhile are missed, new ones count whole)."""
    now = processes_cpu_seconds()
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class KithServer:
    """A migrated Kith with one organization and its admin, served by ``kith serve``."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    password: str
    email: str = ADMIN_EMAIL
    env: dict[str, str] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""

    def error_summary(self, limit: int = 5) -> list[str]:
        """The server's logged errors, counted by their final exception line."""
        counts: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(entry, dict) or entry.get("level") not in ("error", "critical"):
                    continue
                exception = str(entry.get("exception") or "").strip().splitlines()
                cause = next(
                    (x for x in reversed(exception) if x and not x.startswith(("[", "(", " "))),
                    "",
                )
                event = str(entry.get("event", "?")).strip()
                counts[f"{event}: {cause[:200]}"] += 1
        return [f"{n}x {what}" for what, n in counts.most_common(limit)]


def _kith_command(*args: str) -> list[str]:
    script = BIN / "kith"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "kith.cli.main", *args]


def _run(command: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _wait_until_healthy(server: KithServer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"kith serve exited early:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/health").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"kith serve did not answer /health in {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def kith_server(
    backend: Backend,
    *,
    log_level: str = "WARNING",
    extra_env: dict[str, str] | None = None,
) -> Iterator[KithServer]:
    """Data dir, database, ``kith migrate``, ``kith create-admin`` and ``kith serve`` on a
    free port; everything is removed on exit."""
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kith-bench-")))
        # Start from a clean slate: no KITH_* from the caller's shell, and a working
        # directory without a .env file.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
        env.update(
            {
                "KITH_ENV": "development",
                "KITH_DATA_DIR": str(data_dir),
                "KITH_RATE_LIMIT": RATE_LIMIT,
                "KITH_LOG_LEVEL": log_level,
            }
        )
        if backend.postgres_url:
            env["KITH_DATABASE_URL"] = stack.enter_context(throwaway_postgres(backend.postgres_url))
        if backend.redis_url:
            env["KITH_REDIS_URL"] = backend.redis_url
        env.update(extra_env or {})

        password = "Bench-" + secrets.token_urlsafe(18)
        _run(_kith_command("migrate"), env, data_dir)
        _run(
            _kith_command(
                "create-admin",
                "--email",
                ADMIN_EMAIL,
                "--password",
                password,
                "--organization",
                ORGANIZATION,
                "--name",
                "Bench Admin",
            ),
            env,
            data_dir,
        )

        port = free_port()
        command = _kith_command("serve", "--port", str(port))
        log_path = data_dir / "server.log"
        log_file = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=log_file, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, process)
        server = KithServer(
            base_url=f"http://127.0.0.1:{port}",
            process=process,
            data_dir=data_dir,
            log_path=log_path,
            password=password,
            env=env,
        )
        _wait_until_healthy(server)
        yield server
