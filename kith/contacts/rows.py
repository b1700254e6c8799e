"""Exact copies of ORM rows as JSON and back (for merge undo)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect

from kith.db.types import jsonable


def row_state(obj: Any) -> dict[str, Any]:
    """Every mapped column of ``obj`` as plain JSON values."""
    mapper = inspect(obj).mapper
    return {attr.key: jsonable(getattr(obj, attr.key)) for attr in mapper.column_attrs}


def _typed(python_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return python_type(value)
    return value


def apply_state(obj: Any, state: dict[str, Any]) -> None:
    """Set every column of ``obj`` back to ``state`` (the inverse of row_state)."""
    mapper = inspect(obj).mapper
    for attr in mapper.column_attrs:
        if attr.key not in state:
            continue
        # A TypeDecorator (UTCDateTime, Encrypted…) stores its impl's type.
        column_type = attr.columns[0].type
        column_type = getattr(column_type, "impl", column_type)
        try:
            python_type = column_type.python_type
        except NotImplementedError:
            python_type = None
        setattr(obj, attr.key, _typed(python_type, state[attr.key]))


def new_from_state(model: type[Any], state: dict[str, Any]) -> Any:
    obj = model()
    apply_state(obj, state)
    return obj
