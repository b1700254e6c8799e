"""FastAPI dependencies: the caller's principal and the auth context."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kith.auth.principal import Principal
from kith.auth.service import AuthContext, resolve_principal
from kith.db.session import DbSession

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A JWT access token from /auth/login or an API key (kith_…)",
)


def auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


def current_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    header = f"Bearer {credentials.credentials}" if credentials else None
    principal = resolve_principal(session, request.app.state.settings, header)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(
        organization_id=str(principal.organization_id), user_id=str(principal.user_id)
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Auth = Annotated[AuthContext, Depends(auth_context)]
