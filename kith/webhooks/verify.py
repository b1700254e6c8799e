"""Webhook signatures: ``X-Kith-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC key is the subscription's secret (``whsec_…``) and the signed message is
``f"{t}."`` followed by the raw request body. Receivers verify with
:func:`verify_signature`; the same helper checks signatures of inbound provider
webhooks that use this scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Kith-Signature"


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Kith-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify_signature(
    secret: str,
    header_value: str | None,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when ``header_value`` signs ``body`` with ``secret`` and its timestamp is
    within ``tolerance_seconds`` of ``now`` (replays of old requests are refused)."""
    if not header_value:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header_value.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, body, timestamp)
    # Compare against every v1 (several may be sent while a secret rotates).
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched
