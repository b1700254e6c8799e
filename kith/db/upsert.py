"""Insert-if-absent on both backends (``INSERT … ON CONFLICT DO NOTHING``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignore(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True when this call inserted it.

    Uses RETURNING: psycopg reports ``rowcount == -1`` for such an INSERT."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key = inspect(model).primary_key[0]
    stmt = insert(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None
