"""FastAPI dependencies: the caller's principal and the auth context."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from kith.auth.principal import Principal
from kith.auth.service import AuthContext, cached_principal, resolve_principal
from kith.db.session import DbSession

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A JWT access token from /auth/login or an API key (kith_…)",
)


async def auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


async def current_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    header = f"Bearer {credentials.credentials}" if credentials else None
    settings = request.app.state.settings
    # A cached credential costs no query, so it is answered on the event loop; a miss
    # reads the database in a worker thread.
    principal = cached_principal(settings, header)
    if principal is None:
        principal = await run_in_threadpool(resolve_principal, session, settings, header)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(
        organization_id=str(principal.organization_id), user_id=str(principal.user_id)
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Auth = Annotated[AuthContext, Depends(auth_context)]
