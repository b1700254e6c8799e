"""Assertions shared by the API tests."""

from __future__ import annotations

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
