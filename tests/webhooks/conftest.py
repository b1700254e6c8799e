"""Fixtures of the webhook tests: settings that allow 127.0.0.1 as a target, and a
real HTTP receiver."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kith.app import create_app
from kith.events.dispatcher import remove_sink
from kith.settings import Settings
from kith.webhooks import delivery
from tests.conftest import TransactionalDatabase, make_settings
from tests.factories import Factory
from tests.outbound.receiver import Receiver, running_receiver

WEBHOOKS = "/api/v1/webhooks"


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return make_settings(
        settings.database_url,
        settings.data_dir,
        webhook_allowed_hosts=["127.0.0.1"],
        webhook_max_attempts=3,
        webhook_disable_after_failures=4,
        webhook_timeout_seconds=2.0,
    )


@pytest.fixture
def app(db: TransactionalDatabase, hook_settings: Settings) -> FastAPI:
    return create_app(hook_settings, database=db, key_prefix=f"kith-test-{uuid.uuid4().hex}")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def factory(db: TransactionalDatabase, hook_settings: Settings) -> Factory:
    return Factory(db, hook_settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started


@pytest.fixture
def webhook_sink() -> Iterator[None]:
    """The webhook sink registered with the dispatcher for one test."""
    delivery.install()
    try:
        yield
    finally:
        remove_sink(delivery.SINK_NAME)
