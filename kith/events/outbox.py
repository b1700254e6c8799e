"""``publish``: write an event into the caller's transaction. Delivery (handlers,
webhooks, NATS) happens only after that transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.db.hooks import after_commit
from kith.db.types import jsonable
from kith.events.catalogue import is_known
from kith.events.models import OutboxEvent
from kith.observability import request_id_var


class UnknownEvent(ValueError):
    pass


# Installed by a process running the dispatcher: wake it when events commit.
_wake: Callable[[], None] | None = None


def set_wake(callback: Callable[[], None] | None) -> None:
    global _wake
    _wake = callback


def _wake_dispatcher() -> None:
    if _wake is not None:
        _wake()


def publish(
    session: Session,
    principal: Principal,
    event_type: str,
    *,
    aggregate_type: str,
    aggregate_id: uuid.UUID | str,
    payload: Mapping[str, Any],
) -> uuid.UUID:
    """Add ``event_type`` to the outbox in the current transaction; returns the event id
    consumers use to de-duplicate."""
    if not is_known(event_type):
        raise UnknownEvent(f"{event_type!r} is not in kith.events.catalogue")
    event_id = uuid.uuid4()
    rid = request_id_var.get()
    session.add(
        OutboxEvent(
            id=event_id,
            organization_id=principal.organization_id,
            event_type=event_type,
            aggregate_type=aggregate_type,
            aggregate_id=str(aggregate_id),
            payload=jsonable(dict(payload)),
            actor_id=None if principal.kind == "system" else principal.user_id,
            request_id=None if rid == "-" else rid,
        )
    )
    if _wake is not None and not session.info.get("kith_outbox_wake"):
        session.info["kith_outbox_wake"] = True
        after_commit(session, _after_commit_wake(session))
    return event_id


def _after_commit_wake(session: Session) -> Callable[[], None]:
    def callback() -> None:
        session.info.pop("kith_outbox_wake", None)
        _wake_dispatcher()

    return callback
