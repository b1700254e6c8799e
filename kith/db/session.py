"""The request's unit of work: one session, committed after the handler returns
and before the response is sent (FastAPI dependency scope ``function``).

The dependency is ``async`` so that a request costs one hop to a worker thread (the
endpoint), not three: a read session opens its connection lazily on the endpoint's
first query, and its commit only ends a read transaction, so both run on the event
loop. A write session takes the SQLite write lock when it starts and its commit
writes, so those two steps run in a worker thread, never blocking the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kith.db.engine import Database
from kith.errors import DomainError


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    database = get_database(request)
    write = request.method not in _READ_ONLY_METHODS
    session = await run_in_threadpool(database.session, write=True) if write else database.session()
    try:
        yield session
        await _finish(session, commit=True, write=write)
    except DomainError as exc:
        await _finish(session, commit=exc.persist, write=write)
        raise
    except BaseException:
        await _finish(session, commit=False, write=write)
        raise
    finally:
        session.close()


async def _finish(session: Session, *, commit: bool, write: bool) -> None:
    end = session.commit if commit else session.rollback
    if write:
        await run_in_threadpool(end)
    else:
        end()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
