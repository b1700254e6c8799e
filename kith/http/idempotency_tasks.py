"""Periodic purge of expired Idempotency-Key records."""

from __future__ import annotations

from kith.db.engine import Database
from kith.http.idempotency import purge_expired
from kith.jobs.registry import periodic


@periodic("idempotency.purge", "17 * * * *")
def purge_idempotency_keys(database: Database) -> None:
    """Delete Idempotency-Key answers older than KITH_IDEMPOTENCY_TTL_SECONDS."""
    purge_expired(database)
