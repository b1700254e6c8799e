"""The list envelope and grammar every list endpoint shares (ARCHITECTURE.md §3).

``?page=&limit=`` for the seed's page numbers, ``?cursor=`` for deep pages (keyset
pagination over the sort columns plus the id), ``?sort=a,-b`` mapped through an
allow-list of columns — never a user string into SQL.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Query
from sqlalchemy import Select, and_, func, or_, select
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
                        "message": f"unknown sort field {name!r}; allowed: "
                        + ", ".join(sorted(allowed)),
                    }
                ],
            )
        if name not in {k.name for k in keys}:
            keys.append(SortKey(name, allowed[name], descending))
    return keys


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "u" in value:
        return uuid.UUID(value["u"])
    return value


def encode_cursor(values: Sequence[Any], sort: str | None) -> str:
    raw = orjson.dumps({"v": [_encode_value(v) for v in values], "s": sort or ""})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str | None, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        values = [_decode_value(v) for v in data["v"]]
        if data.get("s", "") != (sort or "") or len(values) != width:
            raise ValueError("cursor does not match this sort")
        return values
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed.field("cursor", "The cursor is invalid or expired.") from exc


def _after(columns: Sequence[Any], desc: Sequence[bool], values: Sequence[Any]) -> Any:
    """Rows strictly after ``values`` in the (mixed-direction) sort order."""
    clauses: list[ColumnElement[bool]] = []
    for i, (column, descending) in enumerate(zip(columns, desc, strict=True)):
        equal = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, step))
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
    ordered = stmt.order_by(
        *[c.desc() if d else c.asc() for c, d in zip(columns, desc, strict=True)]
    )
    if params.cursor:
        values = decode_cursor(params.cursor, params.sort, len(columns))
        ordered = ordered.where(_after(columns, desc, values))
    else:
        ordered = ordered.offset((params.page - 1) * params.limit)
    rows = session.execute(ordered.limit(params.limit + 1).add_columns(*columns)).all()
    has_next = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = None
    if has_next and rows:
        next_cursor = encode_cursor(list(rows[-1][1:]), params.sort)
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
