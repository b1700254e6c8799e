"""The list envelope and grammar every list endpoint shares (ARCHITECTURE.md §3).

``?page=&limit=`` for the seed's page numbers, ``?cursor=`` for deep pages (keyset
pagination over the sort columns plus the id), ``?sort=a,-b`` mapped through an
allow-list of columns — never a user string into SQL.
"""

from __future__ import annotations

import base64
import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Query
from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kith.errors import ValidationFailed
from kith.http.wire import ApiModel

T = TypeVar("T")
S = TypeVar("S")


class PageInfo(ApiModel):
    page: int
    limit: int
    has_next: bool
    next_cursor: str | None = None


class Page(ApiModel, Generic[T]):
    data: list[T]
    pagination: PageInfo
    total_count: int


@dataclass(frozen=True)
class ListParams:
    page: int
    limit: int
    sort: str | None
    cursor: str | None


def list_params(
    page: int = Query(1, ge=1, le=1_000_000, description="1-based page number"),
    limit: int = Query(20, ge=1, le=100),
    sort: str | None = Query(
        None, max_length=200, description="Comma-separated fields; prefix - for descending"
    ),
    cursor: str | None = Query(None, max_length=2000, description="Opaque cursor of a page"),
) -> ListParams:
    return ListParams(page=page, limit=limit, sort=sort, cursor=cursor)


@dataclass(frozen=True)
class SortKey:
    name: str
    column: Any
    descending: bool


def parse_sort(
    sort: str | None, allowed: Mapping[str, Any], default: Sequence[str]
) -> list[SortKey]:
    """Map ``a,-b`` through the allow-list; an unknown field is a 422."""
    fields = [f.strip() for f in sort.split(",")] if sort else list(default)
    keys: list[SortKey] = []
    for raw in fields:
        if not raw:
            continue
        descending = raw.startswith("-")
        name = raw.lstrip("-+")
        if name not in allowed:
            raise ValidationFailed(
                f"Cannot sort by {name!r}.",
                details=[
                    {
                        "field": "sort",
                        "location": "query",
                        "message": f"unknown sort field {name!r}; allowed: "
                        + ", ".join(sorted(allowed)),
                    }
                ],
            )
        if name not in {k.name for k in keys}:
            keys.append(SortKey(name, allowed[name], descending))
    if not keys and sort:  # "sort=," names nothing: the default order
        return parse_sort(None, allowed, default)
    return keys


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, raw),) = value.items()  # exactly one tagged value, else ValueError
        if not isinstance(raw, str):
            raise TypeError("tagged cursor value must be a string")
        if tag == "t":
            return datetime.fromisoformat(raw)
        if tag == "d":
            return date.fromisoformat(raw)
        if tag == "u":
            return uuid.UUID(raw)
        if tag == "n":
            return Decimal(raw)
        raise ValueError(f"unknown cursor value tag {tag!r}")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError("cursor values are scalars")


def _is_nullable(column: Any) -> bool:
    """Only a plain nullable table column; expressions count as NOT NULL."""
    return bool(getattr(getattr(column, "expression", column), "nullable", False))


def _python_type(column: Any) -> type | None:
    sql_type = getattr(column, "type", None)
    # A TypeDecorator answers ``object``; the type it decorates knows better.
    for candidate in (sql_type, getattr(sql_type, "impl_instance", None)):
        try:
            kind = candidate.python_type  # type: ignore[union-attr]
        except (AttributeError, NotImplementedError):
            continue
        if isinstance(kind, type) and kind is not object:
            return kind
    return None


def _check_value(value: Any, column: Any) -> Any:
    """A decoded cursor value as the column's Python type; anything else is a
    tampered cursor (and must not reach the database as a 500)."""
    if value is None:
        if not _is_nullable(column):
            raise ValueError("null in a NOT NULL sort column")
        return None
    kind = _python_type(column)
    if kind is None:
        return value
    if issubclass(kind, enum.Enum):
        return kind(value)
    if kind is bool or kind is str:
        ok = isinstance(value, kind)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is datetime:
        ok = isinstance(value, datetime) and (
            value.tzinfo is not None or not getattr(column.type, "timezone", False)
        )
    elif kind is date:
        ok = isinstance(value, date) and not isinstance(value, datetime)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise TypeError(f"cursor value does not fit the sort column ({kind.__name__})")
    return value


def encode_cursor(values: Sequence[Any], sort: str | None) -> str:
    raw = orjson.dumps({"v": [_encode_value(v) for v in values], "s": sort or ""})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: str | None, width: int, columns: Sequence[Any] | None = None
) -> list[Any]:
    """The sort values a cursor holds; with ``columns``, each checked against its column."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(data, dict) or not isinstance(data.get("v"), list):
            raise TypeError("not a cursor")
        values = [_decode_value(v) for v in data["v"]]
        if data.get("s", "") != (sort or "") or len(values) != width:
            raise ValueError("cursor does not match this sort")
        if columns is not None:
            values = [_check_value(v, c) for v, c in zip(values, columns, strict=True)]
        return values
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        message = "The cursor is invalid or expired."
        raise ValidationFailed(
            message, details=[{"field": "cursor", "location": "query", "message": message}]
        ) from exc


def _order(column: Any, descending: bool) -> Any:
    """NULLs sort as the largest value on every backend (PostgreSQL's default; SQLite
    puts them first unless told). Only nullable columns get the clause, so indexes on
    NOT NULL columns keep serving the ORDER BY."""
    ordered = column.desc() if descending else column.asc()
    if _is_nullable(column):
        ordered = ordered.nulls_first() if descending else ordered.nulls_last()
    return ordered


def _equal(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def _step(column: Any, value: Any, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``value`` in one column, NULL being the largest value."""
    nullable = _is_nullable(column)
    if value is None:  # NULL is last ascending, first descending
        return column.is_not(None) if descending else false()
    if descending:
        return column < value  # type: ignore[no-any-return]
    if nullable:
        return or_(column > value, column.is_(None))
    return column > value  # type: ignore[no-any-return]


def _after(columns: Sequence[Any], desc: Sequence[bool], values: Sequence[Any]) -> Any:
    """Rows strictly after ``values`` in the (mixed-direction) sort order."""
    clauses: list[ColumnElement[bool]] = []
    for i, (column, descending) in enumerate(zip(columns, desc, strict=True)):
        equal = [_equal(columns[j], values[j]) for j in range(i)]
        clauses.append(and_(*equal, _step(column, values[i], descending)))
    return or_(*clauses)


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    params: ListParams,
    *,
    sort_fields: Mapping[str, Any],
    default_sort: Sequence[str],
    id_column: Any,
    to_item: Callable[[Any], S],
    count: bool = True,
) -> Page[S]:
    """Run ``stmt`` (already scoped and filtered) as one page of the list envelope."""
    keys = parse_sort(params.sort, sort_fields, default_sort)
    columns = [k.column for k in keys] + [id_column]
    desc = [k.descending for k in keys] + [bool(keys and keys[-1].descending)]
    total = 0
    if count:
        total = session.execute(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        ).scalar_one()
    ordered = stmt.order_by(*[_order(c, d) for c, d in zip(columns, desc, strict=True)])
    if params.cursor:
        values = decode_cursor(params.cursor, params.sort, len(columns), columns)
        ordered = ordered.where(_after(columns, desc, values))
    else:
        ordered = ordered.offset((params.page - 1) * params.limit)
    rows = session.execute(ordered.limit(params.limit + 1).add_columns(*columns)).all()
    has_next = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = None
    if has_next and rows:
        # The sort values are the last columns (the statement may select several entities).
        next_cursor = encode_cursor(list(rows[-1][-len(columns) :]), params.sort)
    return Page[S](
        data=[to_item(row[0]) for row in rows],
        pagination={
            "page": params.page,
            "limit": params.limit,
            "has_next": has_next,
            "next_cursor": next_cursor,
        },
        total_count=total,
    )
