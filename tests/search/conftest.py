"""A session in the test's transaction, an organization, and a way to index and
search contacts-like documents."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.search import index_document, search
from tests.conftest import TransactionalDatabase
from tests.factories import Factory


@pytest.fixture
def session(db: TransactionalDatabase) -> Iterator[Session]:
    session = db.session()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def org(factory: Factory) -> uuid.UUID:
    return factory.organization()


class Index:
    """Index documents of one organization and search them."""

    def __init__(self, session: Session, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    def add(self, title: str, *, kind: str = "contact", **fields: Any) -> uuid.UUID:
        record_id = fields.pop("record_id", None) or uuid.uuid4()
        index_document(
            self.session,
            organization_id=self.organization_id,
            kind=kind,
            record_id=record_id,
            title=title,
            **fields,
        )
        return record_id

    def ranked(
        self, query: str, *, kind: str = "contact", **kwargs: Any
    ) -> list[tuple[uuid.UUID, float]]:
        hits = search(
            self.session,
            organization_id=self.organization_id,
            kind=kind,
            query=query,
            **kwargs,
        ).subquery()
        rows = self.session.execute(
            select(hits.c.record_id, hits.c.rank).order_by(hits.c.rank, hits.c.record_id)
        )
        return [(record_id, rank) for record_id, rank in rows]

    def find(self, query: str, **kwargs: Any) -> list[uuid.UUID]:
        return [record_id for record_id, _ in self.ranked(query, **kwargs)]


@pytest.fixture
def index(session: Session, org: uuid.UUID) -> Index:
    return Index(session, org)
