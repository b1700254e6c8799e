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
from sqlalchemy import Select, and_, false, func, literal, or_, select, tuple_
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
    # True when the list counts only up to a cap (large lists, e.g. contacts) and
    # holds more: totalCount is then that cap, a lower bound ("1,000+").
    total_count_capped: bool = False


@dataclass(frozen=True)
class ListParams:
    page: int
    limit: int
    sort: str | None
    cursor: str | None


async def list_params(
    page: int = Query(1, ge=1, le=1_000_000, description="1-based page number"),
    limit: int = Query(20, ge=1, le=100),
    sort: str | None = Query(
        None, max_length=200, description="Comma-separated fields; prefix - for descending"
    ),
    cursor: str | None = Query(None, max_length=2000, description="Opaque cursor of a page"),
) -> ListParams:
    # async: FastAPI would run a plain function in a worker thread, which costs more
    # than the function.
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


def encode_cursor(
    values: Sequence[Any], sort: str | None, count: tuple[int, bool] | None = None
) -> str:
    """``count``: the list's (totalCount, capped), carried so later pages need not count."""
    data: dict[str, Any] = {"v": [_encode_value(v) for v in values], "s": sort or ""}
    if count is not None:
        data["n"] = [count[0], count[1]]
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def _cursor_data(cursor: str) -> dict[str, Any]:
    padded = cursor + "=" * (-len(cursor) % 4)
    data = orjson.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(data, dict) or not isinstance(data.get("v"), list):
        raise TypeError("not a cursor")
    return data


def cursor_count(cursor: str) -> tuple[int, bool] | None:
    """The (totalCount, capped) a cursor carries, if any (call after decode_cursor)."""
    try:
        count = _cursor_data(cursor).get("n")
    except (ValueError, TypeError):
        return None
    if (
        isinstance(count, list)
        and len(count) == 2
        and isinstance(count[0], int)
        and not isinstance(count[0], bool)
        and count[0] >= 0
        and isinstance(count[1], bool)
    ):
        return count[0], count[1]
    return None


def decode_cursor(
    cursor: str, sort: str | None, width: int, columns: Sequence[Any] | None = None
) -> list[Any]:
    """The sort values a cursor holds; with ``columns``, each checked against its column."""
    try:
        data = _cursor_data(cursor)
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
    if len(set(desc)) == 1 and None not in values and not any(map(_is_nullable, columns)):
        # One direction, no NULLs: a row-value comparison, which both databases use as
        # the start of an index range (PostgreSQL does not with the OR form below, so a
        # deep page would walk every row before it).
        row, start = tuple_(*columns), tuple_(*values)
        return row < start if desc[0] else row > start
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
    count_cap: int | None = None,
    pinned: Mapping[str, Sequence[Any]] | None = None,
    keys_first: bool = False,
) -> Page[S]:
    """Run ``stmt`` (already scoped and filtered) as one page of the list envelope.

    ``count_cap``: count at most that many rows (``totalCountCapped`` when there are
    more), only when the page does not already tell the total, and never again on the
    pages a cursor leads to (the count rides along in the cursor): a page by cursor
    costs the same at page 51 as at page 1, whatever the list's size.

    ``pinned``: per first sort field, columns the WHERE clause holds constant (e.g.
    ``deleted_at IS NULL``) that an index has before that field; they are named first in
    the ORDER BY, as PostgreSQL does not infer from ``IS NULL`` that the index's order
    is the one asked for. ``keys_first``: find the page's ids and sort values first
    (an index-only scan when an index holds them and the filters), then load its rows:
    a filtered page otherwise fetches every row it tests from the table."""
    keys = parse_sort(params.sort, sort_fields, default_sort)
    columns = [k.column for k in keys] + [id_column]
    desc = [k.descending for k in keys] + [bool(keys and keys[-1].descending)]
    order = [_order(c, d) for c, d in zip(columns, desc, strict=True)]
    if pinned and keys and keys[0].name in pinned:
        order = [_order(c, desc[0]) for c in pinned[keys[0].name]] + order
    ordered = stmt.order_by(*order)
    offset = 0
    carried: tuple[int, bool] | None = None
    if params.cursor:
        values = decode_cursor(params.cursor, params.sort, len(columns), columns)
        ordered = ordered.where(_after(columns, desc, values))
        if count_cap is not None:
            carried = cursor_count(params.cursor)
    else:
        offset = (params.page - 1) * params.limit
        ordered = ordered.offset(offset)
    ordered = ordered.limit(params.limit + 1)
    if keys_first:
        found = session.execute(
            ordered.with_only_columns(*columns, maintain_column_froms=True)
        ).all()
        has_next = len(found) > params.limit
        sort_values = [tuple(row) for row in found[: params.limit]]
        ids = [row[-1] for row in sort_values]
        loaded = (
            {
                row[-1]: row[0]
                for row in session.execute(stmt.where(id_column.in_(ids)).add_columns(id_column))
            }
            if ids
            else {}
        )
        items = [loaded[i] for i in ids if i in loaded]
    else:
        rows = session.execute(ordered.add_columns(*columns)).all()
        has_next = len(rows) > params.limit
        rows = rows[: params.limit]
        # The sort values are the last columns (the statement may select several entities).
        sort_values = [tuple(row[-len(columns) :]) for row in rows]
        items = [row[0] for row in rows]
    total, capped = 0, False
    if count and count_cap is None:
        total = _count(session, stmt)
    elif count and carried is not None:
        total, capped = carried
    elif count and not params.cursor and not has_next and (items or offset == 0):
        total = offset + len(items)  # the last page: the total is known
    elif count:
        assert count_cap is not None
        total = _count(session, stmt, limit=count_cap + 1)
        if total > count_cap:
            total, capped = max(count_cap, offset + len(items)), True
    next_cursor = None
    if has_next and sort_values:
        next_cursor = encode_cursor(
            list(sort_values[-1]),
            params.sort,
            (total, capped) if count and count_cap is not None else None,
        )
    return Page[S](
        data=[to_item(item) for item in items],
        pagination={
            "page": params.page,
            "limit": params.limit,
            "has_next": has_next,
            "next_cursor": next_cursor,
        },
        total_count=total,
        total_count_capped=capped,
    )


def _count(session: Session, stmt: Select[*tuple[Any, ...]], limit: int | None = None) -> int:
    """Rows of ``stmt``, counted up to ``limit`` (selecting no columns: an index that
    holds the filtered columns answers it alone)."""
    rows = stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True)
    if limit is not None:
        rows = rows.limit(limit)
    return int(session.execute(select(func.count()).select_from(rows.subquery())).scalar_one())
