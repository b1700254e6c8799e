"""The outbox dispatcher on a database of the test's own (real commits)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.events import dispatcher as dispatch
from kith.events.dispatcher import Dispatcher, Event, on
from kith.events.models import EventHandled, OutboxEvent
from kith.events.outbox import publish
from kith.runtime import Runtime
from tests.assertions import wait_for

ORG = uuid.uuid4()


@pytest.fixture
def handled() -> Iterator[list[tuple[str, str, uuid.UUID]]]:
    """Records (handler, aggregate id, event id) for user.* events; unregistered after."""
    seen: list[tuple[str, str, uuid.UUID]] = []
    before = {k: list(v) for k, v in dispatch.HANDLERS.items()}

    @on("user.created", name="test.recorder")
    def record(session: Session, event: Event) -> None:
        seen.append(("created", event.aggregate_id, event.id))

    @on("user.deactivated", name="test.flaky")
    def flaky(session: Session, event: Event) -> None:
        if event.payload.get("fail"):
            raise RuntimeError("downstream is down")
        seen.append(("deactivated", event.aggregate_id, event.id))

    yield seen
    dispatch.HANDLERS.clear()
    dispatch.HANDLERS.update(before)


def emit(database: Database, event_type: str, aggregate: str, **payload: object) -> uuid.UUID:
    with database.transaction() as session:
        return publish(
            session,
            Principal.system(ORG),
            event_type,
            aggregate_type="user",
            aggregate_id=aggregate,
            payload=payload,
        )


def pending(database: Database) -> list[int]:
    with database.transaction() as session:
        return list(
            session.execute(
                select(OutboxEvent.seq).where(OutboxEvent.delivered_at.is_(None))
            ).scalars()
        )


def test_committed_events_reach_handlers_once(live_database: Database, handled: list) -> None:
    first = emit(live_database, "user.created", "a")
    second = emit(live_database, "user.created", "b")
    assert Dispatcher(live_database).dispatch_pending() == 2
    assert handled == [("created", "a", first), ("created", "b", second)]
    assert pending(live_database) == []
    # A redelivery (e.g. the process died before marking it delivered) is absorbed.
    with live_database.transaction() as session:
        session.execute(update(OutboxEvent).values(delivered_at=None))
    assert Dispatcher(live_database).dispatch_pending() == 2
    assert len(handled) == 2
    with live_database.transaction() as session:
        markers = session.execute(select(EventHandled.event_id)).scalars().all()
    assert sorted(markers, key=str) == sorted([first, second], key=str)


def test_a_rolled_back_publish_is_never_delivered(live_database: Database, handled: list) -> None:
    def failing_request() -> None:
        with live_database.transaction() as session:
            publish(
                session,
                Principal.system(ORG),
                "user.created",
                aggregate_type="user",
                aggregate_id="ghost",
                payload={},
            )
            raise RuntimeError("request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert Dispatcher(live_database).dispatch_pending() == 0
    assert handled == []


def test_a_failing_event_holds_back_its_aggregate_only(
    live_database: Database, handled: list
) -> None:
    failing = emit(live_database, "user.deactivated", "a", fail=True)
    emit(live_database, "user.created", "a")  # same aggregate: must wait
    other = emit(live_database, "user.created", "b")
    Dispatcher(live_database).dispatch_pending()
    assert handled == [("created", "b", other)]
    with live_database.transaction() as session:
        row = session.execute(select(OutboxEvent).where(OutboxEvent.id == failing)).scalar_one()
        assert row.attempts == 1
        assert row.last_error == "RuntimeError: downstream is down"
        assert row.next_attempt_at is not None
        # The downstream recovers and the retry is due.
        row.payload = {"fail": False}
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
    Dispatcher(live_database).dispatch_pending()
    assert [h[:2] for h in handled] == [("created", "b"), ("deactivated", "a"), ("created", "a")]
    assert pending(live_database) == []


def test_only_one_dispatcher_holds_the_lease(live_database: Database) -> None:
    first, second = Dispatcher(live_database), Dispatcher(live_database)
    assert first.acquire()
    assert not second.acquire()
    assert first.acquire()  # renewing is fine
    first.release()
    assert second.acquire()
    expired = Dispatcher(live_database, lease_seconds=-1)
    second.release()
    assert expired.acquire()
    assert first.acquire()  # the expired holder loses it


def test_events_committed_before_a_crash_are_delivered_after_restart(
    live_database: Database, handled: list, runtime_factory: Callable[..., Runtime]
) -> None:
    # Committed while no dispatcher runs (the process had crashed).
    ids = [emit(live_database, "user.created", f"u{i}") for i in range(3)]
    runtime_factory(workers=1)  # restart: the dispatch loop polls the outbox
    wait_for(lambda: len(handled) == 3)
    assert [h[2] for h in handled] == ids
    # And a commit in this process wakes the loop at once.
    late = emit(live_database, "user.created", "late")
    wait_for(lambda: len(handled) == 4)
    assert handled[-1][2] == late


def test_each_delivering_batch_wakes_the_sinks_without_waiting_for_the_drain(
    live_database: Database, handled: list
) -> None:
    # Under a steady stream a drain never ends; webhook rows written by the first batch
    # must be sent while later batches are still being dispatched.
    for name in "abcde":
        emit(live_database, "user.created", name)
    seen_at: list[int] = []
    dispatcher = Dispatcher(
        live_database, batch_size=2, after_batch=lambda: seen_at.append(len(handled))
    )
    assert dispatcher.dispatch_pending() == 5
    assert seen_at == [2, 4, 5]
