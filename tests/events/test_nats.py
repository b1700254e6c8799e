"""Publishing public events to NATS JetStream, against the local server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import select

from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.events import nats as nats_events
from kith.events.dispatcher import SINKS, Dispatcher, Event, add_sink, remove_sink
from kith.events.models import OutboxEvent
from kith.events.nats import NatsPublisher
from kith.events.outbox import publish
from kith.settings import Settings
from tests.conftest import TransactionalDatabase, make_settings

NATS_URL = os.environ.get("KITH_TEST_NATS_URL", "nats://127.0.0.1:4222")


async def _stream_messages(stream: str, subjects: str) -> list[Any]:
    nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subjects, stream=stream)
        messages = []
        try:
            while True:
                batch = await sub.fetch(10, timeout=0.5)
                messages.extend(batch)
        except nats.errors.TimeoutError:
            pass
        return messages
    finally:
        await nc.close()


async def _delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def nats_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    stream = f"KITHTEST_{uuid.uuid4().hex[:12].upper()}"
    try:
        yield make_settings(settings.database_url, tmp_path, nats_url=NATS_URL, nats_stream=stream)
    finally:
        asyncio.run(_delete_stream(stream))


@pytest.fixture
def publisher(nats_settings: Settings) -> Iterator[NatsPublisher]:
    # A subject prefix per run: streams with overlapping subjects cannot coexist.
    prefix = f"kithtest{uuid.uuid4().hex[:10]}"
    started = NatsPublisher(nats_settings, subject_prefix=prefix, timeout=5.0)
    try:
        yield started
    finally:
        started.close()


def _emit(db: TransactionalDatabase, org: uuid.UUID, event_type: str, **payload: Any) -> uuid.UUID:
    principal = Principal(org, uuid.uuid4(), Role.ADMIN)
    with db.transaction() as session:
        return publish(
            session,
            principal,
            event_type,
            aggregate_type="contact",
            aggregate_id=uuid.uuid4(),
            payload=payload,
        )


def test_public_events_reach_the_stream_once(
    db: TransactionalDatabase, publisher: NatsPublisher, nats_settings: Settings
) -> None:
    org = uuid.uuid4()
    add_sink("nats", publisher.sink)
    try:
        first = _emit(db, org, "contact.created", name="Ada")
        second = _emit(db, org, "deal.stage_changed", stage="WON")
        _emit(db, org, "user.invited", inviteUrl="https://kith.example/accept?token=secret")
        assert Dispatcher(db).dispatch_pending() == 3
    finally:
        remove_sink("nats")
    # Published again (a retried dispatch): JetStream drops the copy by Nats-Msg-Id.
    with db.transaction() as session:
        row = session.execute(select(OutboxEvent).where(OutboxEvent.id == first)).scalar_one()
        event = Event.of(row)
    ack = publisher.publish(event)
    assert ack.duplicate is True
    assert ack.stream == nats_settings.nats_stream

    messages = asyncio.run(
        _stream_messages(nats_settings.nats_stream, f"{publisher.subject_prefix}.>")
    )
    assert len(messages) == 2
    by_id = {m.headers["Nats-Msg-Id"]: m for m in messages}
    assert set(by_id) == {str(first), str(second)}
    created = by_id[str(first)]
    assert created.subject == f"{publisher.subject_prefix}.{org}.contact.created"
    envelope = json.loads(created.data)
    assert envelope["id"] == str(first)
    assert envelope["type"] == "contact.created"
    assert envelope["organizationId"] == str(org)
    assert envelope["data"] == {"name": "Ada"}
    assert by_id[str(second)].subject == f"{publisher.subject_prefix}.{org}.deal.stage_changed"
    assert json.loads(by_id[str(second)].data)["data"] == {"stage": "WON"}


def test_a_failed_publish_makes_the_dispatcher_retry(
    db: TransactionalDatabase, settings: Settings, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_settings(settings.database_url, tmp_path, nats_url=f"nats://127.0.0.1:{port}")
    broken = NatsPublisher(down, timeout=0.5)
    add_sink("nats", broken.sink)
    try:
        event_id = _emit(db, uuid.uuid4(), "contact.created", name="Ada")
        assert Dispatcher(db).dispatch_pending() == 0
    finally:
        remove_sink("nats")
        broken.close()
    with db.transaction() as session:
        row = session.execute(select(OutboxEvent).where(OutboxEvent.id == event_id)).scalar_one()
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.next_attempt_at is not None


def test_install_only_with_a_nats_url(settings: Settings, nats_settings: Settings) -> None:
    assert nats_events.install(settings) is None
    assert "nats" not in SINKS
    installed = nats_events.install(nats_settings)
    try:
        assert installed is not None
        assert SINKS["nats"] == installed.sink
    finally:
        nats_events.uninstall()
    assert "nats" not in SINKS
