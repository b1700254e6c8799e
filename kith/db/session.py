"""The request's unit of work: one session, committed after the handler returns
and before the response is sent (FastAPI dependency scope ``function``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from kith.db.engine import Database
from kith.errors import DomainError


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    session = get_database(request).session(write=request.method not in _READ_ONLY_METHODS)
    try:
        yield session
        session.commit()
    except DomainError as exc:
        if exc.persist:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
