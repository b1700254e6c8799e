"""Run side effects only after the transaction that caused them commits.

``after_commit(session, fn)`` queues ``fn``; it runs once the session's
transaction commits and is dropped if it rolls back. Used to wake workers
(the database row stays the truth, so a lost wake-up is recovered by a poll).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "kith_after_commit"
log = logging.getLogger("kith.db.hooks")


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks: list[Callable[[], None]] = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a wake-up must never break the committed request
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
