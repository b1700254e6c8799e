"""Where a contacts request spends its time: every SQL statement it runs, timed, with the
database's plan — ``python -m bench.contacts_explain`` on a database filled by
``kith bench generate`` (or ``python -m bench.contacts --explain FILE``).

    KITH_DATA_DIR=var .venv/bin/python -m bench.contacts_explain --output plans.md

The requests go through the real application in this process (``create_app`` and a
test client, with a fresh session token of the organization's admin), so the statements
are exactly those ``kith serve`` runs. Each request is sent a few times; the last (warm)
run's statements are recorded with their time, and the slow ones are explained
(SQLite ``EXPLAIN QUERY PLAN``; PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``, for SELECTs
only). Writes go to the database like any request's (one contact created and one
updated per run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, text

SLOW_STATEMENT_MS = 1.0


@dataclass
class Statement:
    sql: str
    parameters: Any
    ms: float  # execute() in the request (rows may be fetched later: not always all of it)
    replay_ms: float | None = None  # execute + fetch all rows, alone, best of 3
    plan: str = ""

    @property
    def cost_ms(self) -> float:
        return self.ms if self.replay_ms is None else max(self.ms, self.replay_ms)


@dataclass
class RequestProfile:
    label: str
    method: str
    path: str
    status: int
    total_ms: list[float]
    statements: list[Statement] = field(default_factory=list)

    @property
    def sql_ms(self) -> float:
        return sum(s.cost_ms for s in self.statements)


@contextmanager
def recording(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement executed on ``engine`` meanwhile, with its time."""
    found: list[Statement] = []

    def before(conn: Any, *_args: Any) -> None:
        conn.info.setdefault("kith_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        started = conn.info["kith_started"].pop()
        found.append(Statement(statement, parameters, (time.perf_counter() - started) * 1000))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _is_select(statement: Statement) -> bool:
    return statement.sql.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH")


def replay(engine: Engine, statement: Statement, times: int = 3) -> float:
    """The statement alone, all rows fetched: best of ``times``, in ms."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        best = float("inf")
        for _ in range(times):
            started = time.perf_counter()
            cursor.execute(statement.sql, statement.parameters)
            cursor.fetchall()
            best = min(best, time.perf_counter() - started)
        return best * 1000
    finally:
        raw.rollback()
        raw.close()


def explain(engine: Engine, statement: Statement) -> str:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters)
            return "\n".join(f"{row[0]:>3} {row[1]:>3} {row[3]}" for row in cursor.fetchall())
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


def _admin(engine: Engine, organization_id: uuid.UUID) -> uuid.UUID:
    from kith.auth.models import Membership
    from kith.auth.roles import Role

    with engine.connect() as connection:
        return uuid.UUID(
            str(
                connection.execute(
                    select(Membership.user_id).where(
                        Membership.organization_id == organization_id,
                        Membership.role == Role.ADMIN,
                    )
                )
                .scalars()
                .first()
            )
        )


def _token(database: Any, settings: Any, organization_id: uuid.UUID, user_id: uuid.UUID) -> str:
    from kith.auth.models import AuthSession
    from kith.auth.tokens import issue_access_token
    from kith.db.types import utcnow

    with database.transaction(write=True) as session:
        auth_session = AuthSession(
            organization_id=organization_id,
            user_id=user_id,
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(auth_session)
        session.flush()
        session_id = auth_session.id
    token, _ = issue_access_token(
        settings, user_id=user_id, organization_id=organization_id, session_id=session_id
    )
    return str(token)


def requests_for(engine: Engine, organization_id: uuid.UUID) -> list[tuple[str, str, str, Any]]:
    """(label, method, path, body): the benchmark's operations, with real values."""
    from bench.contacts import CONTACTS, FILTERS, prefixes

    key = organization_id.hex if engine.dialect.name == "sqlite" else organization_id
    with engine.connect() as connection:
        rare = connection.execute(
            text(
                "SELECT last_name FROM contacts WHERE organization_id = :org"
                " GROUP BY last_name HAVING count(*) = 1 LIMIT 1"
            ),
            {"org": key},
        ).scalar_one()
        common = connection.execute(
            text(
                "SELECT first_name FROM contacts WHERE organization_id = :org"
                " GROUP BY first_name ORDER BY count(*) DESC LIMIT 1"
            ),
            {"org": key},
        ).scalar_one()
        some = (
            connection.execute(
                text(
                    "SELECT id FROM contacts WHERE organization_id = :org AND deleted_at IS NULL"
                    " ORDER BY created_at DESC LIMIT 1 OFFSET 1000"
                ),
                {"org": key},
            ).scalar_one_or_none()
            or connection.execute(
                text("SELECT id FROM contacts WHERE organization_id = :org LIMIT 1"), {"org": key}
            ).scalar_one()
        )
    contact = uuid.UUID(str(some))
    status_tag = "&".join(f"{k}={v}" for k, v in FILTERS[0].items())
    new = uuid.uuid4().hex[:8]
    return [
        ("search, selective", "GET", f"{CONTACTS}/search?q={rare}", None),
        ("search, common", "GET", f"{CONTACTS}/search?q={common}", None),
        ("search, prefix", "GET", f"{CONTACTS}/search?q={prefixes()[0]}", None),
        ("list, default", "GET", CONTACTS, None),
        ("list, status + tag", "GET", f"{CONTACTS}?{status_tag}", None),
        ("list, deep cursor", "GET", f"{CONTACTS}?{status_tag}&DEEP", None),
        ("get", "GET", f"{CONTACTS}/{contact}", None),
        (
            "create",
            "POST",
            CONTACTS,
            {"firstName": "Ada", "lastName": f"Explain{new}", "email": f"ada.{new}@x.example"},
        ),
        ("patch", "PATCH", f"{CONTACTS}/{contact}", {"leadScore": 77, "position": f"P {new}"}),
    ]


def profile(
    settings: Any, organization_id: uuid.UUID | None = None, repeats: int = 3
) -> list[RequestProfile]:
    from fastapi.testclient import TestClient

    from kith.app import create_app
    from kith.db.engine import Database

    database = Database.from_settings(settings)
    engine = database.engine
    try:
        if organization_id is None:
            with engine.connect() as connection:
                organization_id = uuid.UUID(
                    str(connection.execute(text("SELECT id FROM organizations")).scalar_one())
                )
        token = _token(database, settings, organization_id, _admin(engine, organization_id))
        headers = {"authorization": f"Bearer {token}"}
        app = create_app(settings, database=database)
        profiles: list[RequestProfile] = []
        with TestClient(app, headers=headers) as client:
            for label, method, path, body in requests_for(engine, organization_id):
                if path.endswith("&DEEP"):
                    path = _deep(client, path.removesuffix("&DEEP"))
                times: list[float] = []
                response = None
                for attempt in range(repeats):
                    payload = body if attempt == 0 or method != "POST" else _fresh(body)
                    with recording(engine) as statements:
                        started = time.perf_counter()
                        response = client.request(method, path, json=payload)
                        times.append((time.perf_counter() - started) * 1000)
                assert response is not None
                result = RequestProfile(
                    label, method, path, response.status_code, times, statements
                )
                for statement in statements:
                    if _is_select(statement):
                        statement.replay_ms = replay(engine, statement)
                        if statement.cost_ms >= SLOW_STATEMENT_MS:
                            statement.plan = explain(engine, statement)
                profiles.append(result)
        return profiles
    finally:
        database.dispose()


def _fresh(body: dict[str, Any]) -> dict[str, Any]:
    new = uuid.uuid4().hex[:8]
    return {**body, "lastName": f"Explain{new}", "email": f"ada.{new}@x.example"}


def _deep(client: Any, path: str, pages: int = 50) -> str:
    cursor = None
    for _ in range(pages):
        response = client.get(path + (f"&cursor={cursor}" if cursor else ""))
        cursor = response.json()["pagination"]["nextCursor"]
        if not cursor:
            break
    return path + (f"&cursor={cursor}" if cursor else "")


def _short(sql: str, limit: int = 1200) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + " …"


def markdown(profiles: Sequence[RequestProfile], backend: str) -> str:
    lines = [f"# Contacts requests, statement by statement ({backend})", ""]
    lines += [
        "| request | status | request ms (runs) | SQL ms (last run) | statements |",
        "|---|---:|---|---:|---:|",
    ]
    for p in profiles:
        runs = ", ".join(f"{t:.1f}" for t in p.total_ms)
        lines.append(f"| {p.label} | {p.status} | {runs} | {p.sql_ms:.1f} | {len(p.statements)} |")
    for p in profiles:
        lines += ["", f"## {p.label}: `{p.method} {p.path[:160]}`", ""]
        lines.append(
            f"Last run {p.total_ms[-1]:.1f} ms, of which SQL {p.sql_ms:.1f} ms "
            f"in {len(p.statements)} statements (SQL: the larger of the time in the request "
            "and the statement alone with every row fetched)."
        )
        for number, statement in enumerate(p.statements, 1):
            replayed = "" if statement.replay_ms is None else f" (alone {statement.replay_ms:.2f})"
            lines += [
                "",
                f"{number}. {statement.ms:.2f} ms{replayed}: `{_short(statement.sql)}`",
            ]
            if statement.plan:
                lines += ["", "```", statement.plan, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.contacts_explain",
        description="Time and explain every SQL statement of the contacts requests "
        "(database configured by KITH_*).",
    )
    parser.add_argument("--organization-id", type=uuid.UUID, default=None)
    parser.add_argument("--output", type=Path, help="write the report here (default: stdout)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from kith.settings import Settings

    settings = Settings(embedded_worker=False)  # no background statements in the record
    profiles = profile(settings, args.organization_id, args.repeats)
    backend = "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite"
    report = markdown(profiles, backend)
    if args.output:
        args.output.write_text(report)
    else:
        sys.stdout.write(report)
    summary = {p.label: round(p.total_ms[-1], 1) for p in profiles}
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
