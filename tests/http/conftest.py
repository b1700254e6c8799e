"""Fixtures and helpers for the cross-cutting HTTP tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kith.app import create_app
from kith.auth.models import Team
from kith.settings import Settings
from tests.conftest import TransactionalDatabase, make_settings
from tests.factories import Factory, Tenant

TEAMS = "/api/v1/teams"


def count_teams(db: TransactionalDatabase, organization_id: uuid.UUID | None = None) -> int:
    stmt = select(func.count()).select_from(Team)
    if organization_id is not None:
        stmt = stmt.where(Team.organization_id == organization_id)
    with db.transaction() as session:
        return int(session.execute(stmt).scalar_one())


@pytest.fixture
def tenant(factory: Factory) -> Tenant:
    return factory.tenant()


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(db: TransactionalDatabase, settings: Settings) -> AppFactory:
    """``make_app(**setting_overrides)``: an app on the test's database with its own
    rate-limit namespace (so Redis keys never leak between tests) unless ``key_prefix``
    is given."""

    def build(key_prefix: str | None = None, **overrides: object) -> FastAPI:
        app_settings = make_settings(settings.database_url, settings.data_dir, **overrides)
        prefix = key_prefix or f"kith-test-{uuid.uuid4().hex}"
        return create_app(app_settings, database=db, key_prefix=prefix)

    return build


@pytest.fixture
def open_client() -> Iterator[Callable[..., TestClient]]:
    """``open_client(app, **kwargs)``: a started TestClient, closed after the test."""
    opened: list[TestClient] = []

    def start(app: FastAPI, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        client.__enter__()
        opened.append(client)
        return client

    yield start
    for client in reversed(opened):
        client.__exit__(None, None, None)
