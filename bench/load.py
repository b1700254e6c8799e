"""A closed-loop load generator: N asyncio workers, each with its own httpx client and
keep-alive connection, sending one request after another for a duration or a count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

# One request to send: (extra headers, body bytes or None).
RequestParts = tuple[dict[str, str], bytes | None]


@dataclass
class Operation:
    key: str  # the name used with --only
    label: str  # what the table shows
    method: str
    path: str
    expect: int = 200
    build: Callable[[], RequestParts] = field(default=lambda: ({}, None))


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted values, linearly interpolated."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Result:
    key: str
    label: str
    concurrency: int
    latencies: list[float]  # seconds, successful requests only
    errors: int
    elapsed: float  # wall seconds of the measured window
    server_cpu: float | None = None  # server CPU seconds in the window
    client_cpu: float | None = None  # this process's CPU seconds in the window
    error_samples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    @property
    def server_cpu_per_request_ms(self) -> float | None:
        if self.server_cpu is None or not self.requests:
            return None
        return self.server_cpu / self.requests * 1000

    @property
    def server_cpu_share(self) -> float | None:
        """Server CPU use in the window, 1.0 = one core busy."""
        return None if self.server_cpu is None else self.server_cpu / self.elapsed

    @property
    def client_cpu_share(self) -> float | None:
        return None if self.client_cpu is None else self.client_cpu / self.elapsed


class ClientPool:
    """``size`` clients, each limited to one connection (one simulated user agent)."""

    def __init__(self, base_url: str, size: int, headers: dict[str, str]) -> None:
        self.clients = [
            httpx.AsyncClient(
                base_url=base_url,
                headers=headers,
                timeout=httpx.Timeout(60.0),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            for _ in range(size)
        ]

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))


async def _worker(
    client: httpx.AsyncClient,
    op: Operation,
    deadline: float,
    budget: list[int] | None,
    result: Result,
) -> None:
    while time.perf_counter() < deadline:
        if budget is not None:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        headers, body = op.build()
        if body is not None:
            headers = {**headers, "content-type": "application/json"}
        started = time.perf_counter()
        try:
            response = await client.request(op.method, op.path, headers=headers, content=body)
            ok = response.status_code == op.expect
            problem = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if ok:
            result.latencies.append(elapsed)
        else:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(problem)


async def run_operation(
    pool: ClientPool,
    op: Operation,
    *,
    duration: float,
    requests: int | None = None,
    cpu_clock: Callable[[], float] | None = None,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> Result:
    """Run ``op`` from every client at once until ``duration`` seconds have passed (or
    ``requests`` were sent, when given; ``duration`` is then only a safety limit)."""
    result = Result(op.key, op.label, len(pool.clients), [], 0, 0.0)
    budget = [requests] if requests is not None else None
    if on_start:
        on_start()
    server_before = cpu_clock() if cpu_clock else None
    client_before = time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(_worker(c, op, deadline, budget, result) for c in pool.clients))
    result.elapsed = time.perf_counter() - started
    result.client_cpu = time.process_time() - client_before
    if cpu_clock and server_before is not None:
        result.server_cpu = cpu_clock() - server_before
    if on_stop:
        on_stop()
    return result
