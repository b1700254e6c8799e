"""HTTP routes of identity: /auth, /users, /teams, /api-keys."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from kith.auth import members, service
from kith.auth.dependencies import Auth, CurrentPrincipal
from kith.auth.models import ApiKey, Membership, Team, User
from kith.auth.roles import Role
from kith.auth.schemas import (
    AcceptInviteIn,
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AuthResult,
    LoginIn,
    MeUpdateIn,
    MfaCodeIn,
    MfaDisabled,
    MfaEnrollOut,
    MfaVerified,
    OrganizationOut,
    RefreshIn,
    SignupIn,
    TeamIn,
    TeamOut,
    TeamUpdateIn,
    TokenPair,
    UserCreated,
    UserCreateIn,
    UserOut,
    UserUpdateIn,
)
from kith.auth.scoping import get_scoped, scoped
from kith.db.session import DbSession
from kith.http.etag import VersionedRoute
from kith.http.middleware import client_ip
from kith.http.pagination import ListParams, Page, list_params, paginate

auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"], route_class=VersionedRoute)
teams_router = APIRouter(prefix="/teams", tags=["teams"], route_class=VersionedRoute)
keys_router = APIRouter(prefix="/api-keys", tags=["api keys"])

Params = Depends(list_params)


def _signed_in(result: service.SignedIn, session: Any) -> AuthResult:
    member = members.to_member(session, result.membership, result.user)
    return AuthResult(
        user=UserOut.model_validate(member.as_dict()),
        organization=OrganizationOut.model_validate(result.organization),
        access_token=result.tokens.access_token,
        refresh_token=result.tokens.refresh_token,
        expires_in=result.tokens.expires_in,
    )


@auth_router.post("/signup", status_code=status.HTTP_201_CREATED, response_model=AuthResult)
def signup(data: SignupIn, session: DbSession, ctx: Auth) -> AuthResult:
    """Create an organization and its first ADMIN; returns tokens for that admin."""
    return _signed_in(service.signup(session, ctx, data), session)


@auth_router.post("/login", response_model=AuthResult)
def login(data: LoginIn, request: Request, session: DbSession, ctx: Auth) -> AuthResult:
    """Sign in. With MFA on, ``otp`` (a TOTP or recovery code) is required.
    After 5 failures a minute per account or IP the answer is 429."""
    result = service.login(
        session,
        ctx,
        data,
        ip=client_ip(request.scope),
        user_agent=request.headers.get("user-agent"),
    )
    return _signed_in(result, session)


@auth_router.post("/refresh", response_model=TokenPair)
def refresh(data: RefreshIn, session: DbSession, ctx: Auth) -> TokenPair:
    """Rotate the refresh token; reusing a spent one revokes the whole session."""
    tokens = service.refresh(session, ctx, data.refresh_token)
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: CurrentPrincipal, session: DbSession) -> Response:
    service.logout(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post("/accept-invite", response_model=AuthResult)
def accept_invite(data: AcceptInviteIn, session: DbSession, ctx: Auth) -> AuthResult:
    return _signed_in(service.accept_invite(session, ctx, data.token, data.password), session)


@auth_router.post("/mfa/enroll", response_model=MfaEnrollOut)
def mfa_enroll(principal: CurrentPrincipal, session: DbSession) -> MfaEnrollOut:
    secret, uri = service.mfa_enroll(session, principal)
    return MfaEnrollOut(secret=secret, otpauth_uri=uri)


@auth_router.post("/mfa/verify", response_model=MfaVerified)
def mfa_verify(data: MfaCodeIn, principal: CurrentPrincipal, session: DbSession) -> MfaVerified:
    """Turn MFA on with a current code; the recovery codes are shown only here."""
    return MfaVerified(
        enabled=True, recovery_codes=service.mfa_verify(session, principal, data.code)
    )


@auth_router.post("/mfa/disable", response_model=MfaDisabled)
def mfa_disable(data: MfaCodeIn, principal: CurrentPrincipal, session: DbSession) -> MfaDisabled:
    service.mfa_disable(session, principal, data.code)
    return MfaDisabled(enabled=False)


# -- users -----------------------------------------------------------------------------

USER_SORTS = {
    "name": User.name,
    "email": User.email,
    "createdAt": Membership.created_at,
    "role": Membership.role,
}


@users_router.get("", response_model=Page[UserOut])
async def list_users(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Params,
    role: Role | None = Query(None),
) -> Page[UserOut]:
    stmt = members.members_query(principal)
    if role:
        stmt = stmt.where(Membership.role == role)
    return paginate(
        session,
        stmt,
        params,
        sort_fields=USER_SORTS,
        default_sort=["name"],
        id_column=Membership.user_id,
        to_item=lambda m: UserOut.model_validate(
            members.to_member(session, m, session.get(User, m.user_id)).as_dict()  # type: ignore[arg-type]
        ),
    )


@users_router.post("", status_code=status.HTTP_201_CREATED, response_model=UserCreated)
def create_user(
    data: UserCreateIn, principal: CurrentPrincipal, session: DbSession, ctx: Auth
) -> UserCreated:
    """Add a user (ADMIN). Without ``password`` an invite is sent; its link is also
    returned once as ``inviteUrl``."""
    member, token = members.create_member(session, ctx, principal, data)
    out = UserCreated.model_validate(member.as_dict())
    out.invite_url = members.invite_url(ctx, token) if token else None
    return out


@users_router.get("/me", response_model=UserOut)
async def get_me(principal: CurrentPrincipal, session: DbSession) -> UserOut:
    return UserOut.model_validate(
        members.get_member(session, principal, principal.user_id).as_dict()
    )


@users_router.patch("/me", response_model=UserOut)
def update_me(
    data: MeUpdateIn, principal: CurrentPrincipal, session: DbSession, ctx: Auth
) -> UserOut:
    return UserOut.model_validate(members.update_me(session, ctx, principal, data).as_dict())


@users_router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> UserOut:
    return UserOut.model_validate(members.get_member(session, principal, user_id).as_dict())


@users_router.patch("/{user_id}", response_model=UserOut)
def update_user(
    user_id: uuid.UUID, data: UserUpdateIn, principal: CurrentPrincipal, session: DbSession
) -> UserOut:
    return UserOut.model_validate(
        members.update_member(session, principal, user_id, data).as_dict()
    )


@users_router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def deactivate_user(
    user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Deactivate the user in this organization (their records stay)."""
    members.deactivate_member(session, principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- teams -----------------------------------------------------------------------------

TEAM_SORTS = {"name": Team.name, "createdAt": Team.created_at, "updatedAt": Team.updated_at}


def _team_out(session: Any, team: Team, member_ids: list[uuid.UUID] | None = None) -> TeamOut:
    return TeamOut(
        id=team.id,
        name=team.name,
        description=team.description,
        member_ids=members.team_member_ids(session, team) if member_ids is None else member_ids,
        created_at=team.created_at,
        updated_at=team.updated_at,
        version=team.version,
    )


@teams_router.get("", response_model=Page[TeamOut])
async def list_teams(
    principal: CurrentPrincipal, session: DbSession, params: ListParams = Params
) -> Page[TeamOut]:
    page = paginate(
        session,
        scoped(Team, principal),
        params,
        sort_fields=TEAM_SORTS,
        default_sort=["name"],
        id_column=Team.id,
        to_item=lambda t: t,
    )
    member_ids = members.members_of_teams(session, page.data)
    return Page[TeamOut](
        data=[_team_out(session, t, member_ids[t.id]) for t in page.data],
        pagination=page.pagination,
        total_count=page.total_count,
        total_count_capped=page.total_count_capped,
    )


@teams_router.post("", status_code=status.HTTP_201_CREATED, response_model=TeamOut)
def create_team(data: TeamIn, principal: CurrentPrincipal, session: DbSession) -> TeamOut:
    return _team_out(session, members.create_team(session, principal, data))


@teams_router.get("/{team_id}", response_model=TeamOut)
async def get_team(team_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> TeamOut:
    return _team_out(session, get_scoped(session, Team, team_id, principal))


@teams_router.patch("/{team_id}", response_model=TeamOut)
def update_team(
    team_id: uuid.UUID, data: TeamUpdateIn, principal: CurrentPrincipal, session: DbSession
) -> TeamOut:
    return _team_out(session, members.update_team(session, principal, team_id, data))


@teams_router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_team(team_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> Response:
    members.delete_team(session, principal, team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@teams_router.put("/{team_id}/members/{user_id}", response_model=TeamOut)
def add_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> TeamOut:
    return _team_out(session, members.set_team_member(session, principal, team_id, user_id, True))


@teams_router.delete("/{team_id}/members/{user_id}", response_model=TeamOut)
def remove_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> TeamOut:
    return _team_out(session, members.set_team_member(session, principal, team_id, user_id, False))


# -- API keys ----------------------------------------------------------------------------

KEY_SORTS = {"name": ApiKey.name, "createdAt": ApiKey.created_at}


@keys_router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(
    data: ApiKeyIn, principal: CurrentPrincipal, session: DbSession
) -> ApiKeyCreated:
    """Create an API key acting with ``role``. The key is shown only in this response."""
    key, secret = members.create_api_key(session, principal, data)
    out = ApiKeyOut.model_validate(key)
    return ApiKeyCreated(**out.model_dump(), key=secret)


@keys_router.get("", response_model=Page[ApiKeyOut])
def list_api_keys(
    principal: CurrentPrincipal, session: DbSession, params: ListParams = Params
) -> Page[ApiKeyOut]:
    return paginate(
        session,
        members.api_keys_query(principal),
        params,
        sort_fields=KEY_SORTS,
        default_sort=["-createdAt"],
        id_column=ApiKey.id,
        to_item=ApiKeyOut.model_validate,
    )


@keys_router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> Response:
    members.revoke_api_key(session, principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
