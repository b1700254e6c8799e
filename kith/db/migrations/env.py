"""Alembic environment: runs on SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alembic import context
from sqlalchemy import Connection

from kith.db.base import Base
from kith.db.engine import make_engine
from kith.model_registry import import_all_models
from kith.search.models import is_search_index_object

import_all_models()
target_metadata = Base.metadata
config = context.config


def include_name(name: str | None, type_: str, parent_names: Mapping[Any, object]) -> bool:
    """Leave the full-text index's backend-specific objects (FTS5 tables, the
    generated tsvector column and its GIN index) out of autogenerate: the migration
    owns them and the model cannot declare them for one backend only."""
    return not is_search_index_object(name, type_, parent_names)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; use `kith migrate`")
run_migrations_online()
