"""Assertions shared by the API tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The error envelope of ARCHITECTURE.md §3, tied to the response's request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "meta"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "details", "traceId", "timestamp", "path"} <= set(error)
    assert error["traceId"] == response.headers["x-request-id"]
    assert error["timestamp"].endswith("Z")
    assert isinstance(error["message"], str)
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)
