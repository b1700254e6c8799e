"""`kith serve` starts a real server process that answers /health."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.cli.conftest import Installation

STARTUP_TIMEOUT_S = 60.0  # a wait limit, not a speed check: CI machines can be busy


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kith(*args: str) -> list[str]:
    return [sys.executable, "-m", "kith.cli.main", *args]


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # local test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_kith_serve_answers_health(installation: Installation, tmp_path: Path) -> None:
    env = {**os.environ, **installation.env}
    migrated = subprocess.run(
        _kith("migrate"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        _kith("serve", "--port", str(port)),
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        health: tuple[int, dict[str, object]] | None = None
        while time.monotonic() < deadline:
            assert server.poll() is None, f"kith serve exited early:\n{_read(log)}"
            try:
                health = _get(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        assert health is not None, f"no answer within {STARTUP_TIMEOUT_S} s:\n{_read(log)}"
        assert health == (200, {"status": "ok"})

        # The process really reaches its database, too.
        status, ready = _get(f"http://127.0.0.1:{port}/ready")
        assert status == 200, ready
        assert ready["status"] == "ready"
        assert ready["checks"] == {"database": "ok", "redis": "not configured", "queue": "ok"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def _read(log: object) -> str:
    log.seek(0)  # type: ignore[attr-defined]
    text: str = log.read()  # type: ignore[attr-defined]
    return text
