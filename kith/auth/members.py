"""Managing an organization's people: users (memberships), teams and API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from kith.audit import service as audit
from kith.auth.models import (
    ApiKey,
    Membership,
    MembershipStatus,
    Team,
    TeamMember,
    User,
)
from kith.auth.principal import Principal
from kith.auth.roles import Permission, Role
from kith.auth.schemas import (
    ApiKeyIn,
    MeUpdateIn,
    TeamIn,
    TeamUpdateIn,
    UserCreateIn,
    UserUpdateIn,
)
from kith.auth.scoping import check_if_match, get_for_write, get_scoped
from kith.auth.service import AuthContext, create_invite, revoke_user_sessions
from kith.auth.tokens import API_KEY_PREFIX, digest, new_secret
from kith.db.types import utcnow
from kith.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from kith.events.outbox import publish


@dataclass(frozen=True)
class Member:
    """A user as seen inside one organization."""

    user: User
    membership: Membership
    team_ids: list[uuid.UUID]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.user.id,
            "email": self.user.email,
            "name": self.user.name,
            "role": self.membership.role,
            "status": self.membership.status,
            "organization_id": self.membership.organization_id,
            "team_ids": self.team_ids,
            "mfa_enabled": self.user.mfa_enabled,
            "last_login_at": self.user.last_login_at,
            "created_at": self.membership.created_at,
            "updated_at": max(self.membership.updated_at, self.user.updated_at),
            "version": self.membership.version,
        }


def members_query(principal: Principal) -> Select[Membership, User]:
    """Users of the caller's organization (everyone may see who their colleagues are)."""
    return (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == principal.organization_id)
    )


def to_member(session: Session, membership: Membership, user: User) -> Member:
    teams = session.execute(
        select(TeamMember.team_id).where(
            TeamMember.organization_id == membership.organization_id,
            TeamMember.user_id == user.id,
        )
    ).scalars()
    return Member(user, membership, sorted(teams, key=str))


def get_member(session: Session, principal: Principal, user_id: uuid.UUID) -> Member:
    row = session.execute(members_query(principal).where(Membership.user_id == user_id)).first()
    if row is None:
        raise NotFound("User not found.")
    return to_member(session, row[0], row[1])


def _snapshot(member: Member) -> dict[str, Any]:
    return {
        "email": member.user.email,
        "name": member.user.name,
        "role": member.membership.role,
        "status": member.membership.status,
    }


def create_member(
    session: Session, ctx: AuthContext, principal: Principal, data: UserCreateIn
) -> tuple[Member, str | None]:
    """Add a user to the organization. Without a password, an invite (single-use
    token) is created and announced to the mailer; returns the member and the token."""
    principal.require(Permission.MANAGE_USERS)
    user = session.execute(select(User).where(User.email == data.email)).scalar_one_or_none()
    existing = (
        session.get(Membership, (principal.organization_id, user.id)) if user is not None else None
    )
    if existing is not None:
        raise Conflict("This person is already a member.", code="USER_EXISTS")
    if user is None:
        user = User(
            email=data.email,
            name=data.name,
            password_hash=ctx.passwords.hash(data.password) if data.password else None,
        )
        session.add(user)
        session.flush()
    invited = data.password is None or user.password_hash is None
    membership = Membership(
        organization_id=principal.organization_id,
        user_id=user.id,
        role=data.role,
        status=MembershipStatus.INVITED if invited else MembershipStatus.ACTIVE,
    )
    session.add(membership)
    session.flush()
    token = None
    if invited:
        token = create_invite(
            session, ctx, organization_id=principal.organization_id, user_id=user.id
        )
        publish(
            session,
            principal,
            "user.invited",
            aggregate_type="user",
            aggregate_id=user.id,
            payload={
                "userId": user.id,
                "email": user.email,
                "name": user.name,
                "inviteUrl": invite_url(ctx, token),
            },
        )
    member = Member(user, membership, [])
    audit.record(
        session,
        principal,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after=_snapshot(member),
    )
    publish(
        session,
        principal,
        "user.created",
        aggregate_type="user",
        aggregate_id=user.id,
        payload={"userId": user.id, "email": user.email, "role": data.role},
    )
    return member, token


def invite_url(ctx: AuthContext, token: str) -> str:
    return f"{ctx.settings.base_url.rstrip('/')}/accept-invite?token={token}"


def _admins_left(session: Session, organization_id: uuid.UUID, excluding: uuid.UUID) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.organization_id == organization_id,
                Membership.role == Role.ADMIN,
                Membership.status == MembershipStatus.ACTIVE,
                Membership.user_id != excluding,
            )
        ).scalar_one()
    )


def update_member(
    session: Session, principal: Principal, user_id: uuid.UUID, data: UserUpdateIn
) -> Member:
    principal.require(Permission.MANAGE_USERS)
    member = get_member(session, principal, user_id)
    check_if_match(member.membership.version)
    before = _snapshot(member)
    changes = data.model_dump(exclude_unset=True)
    demoting = (changes.get("role") not in (None, Role.ADMIN)) or (
        changes.get("status") == MembershipStatus.DEACTIVATED
    )
    if (
        demoting
        and member.membership.role == Role.ADMIN
        and not _admins_left(session, principal.organization_id, user_id)
    ):
        raise Conflict("An organization needs at least one active ADMIN.", code="LAST_ADMIN")
    if changes.get("name"):
        member.user.name = changes["name"]
    if changes.get("role"):
        member.membership.role = changes["role"]
    if changes.get("status"):
        if member.membership.status == MembershipStatus.INVITED and (
            changes["status"] == MembershipStatus.ACTIVE
        ):
            raise Conflict("An invited user becomes active by accepting the invite.")
        member.membership.status = changes["status"]
        if changes["status"] == MembershipStatus.DEACTIVATED:
            revoke_user_sessions(session, principal.organization_id, user_id, "deactivated")
    member.membership.bump_version()
    member.membership.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="user.updated",
        entity_type="user",
        entity_id=user_id,
        before=before,
        after=_snapshot(member),
    )
    return member


def deactivate_member(session: Session, principal: Principal, user_id: uuid.UUID) -> None:
    """Deactivate (never hard-delete: their records and audit trail stay)."""
    principal.require(Permission.MANAGE_USERS)
    member = get_member(session, principal, user_id)
    check_if_match(member.membership.version)
    if member.membership.status == MembershipStatus.DEACTIVATED:
        return
    if member.membership.role == Role.ADMIN and not _admins_left(
        session, principal.organization_id, user_id
    ):
        raise Conflict("An organization needs at least one active ADMIN.", code="LAST_ADMIN")
    before = _snapshot(member)
    member.membership.status = MembershipStatus.DEACTIVATED
    member.membership.bump_version()
    revoke_user_sessions(session, principal.organization_id, user_id, "deactivated")
    audit.record(
        session,
        principal,
        action="user.deactivated",
        entity_type="user",
        entity_id=user_id,
        before=before,
        after=_snapshot(member),
    )
    publish(
        session,
        principal,
        "user.deactivated",
        aggregate_type="user",
        aggregate_id=user_id,
        payload={"userId": user_id},
    )


def update_me(session: Session, ctx: AuthContext, principal: Principal, data: MeUpdateIn) -> Member:
    member = get_member(session, principal, principal.user_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name"):
        member.user.name = changes["name"]
    if changes.get("password"):
        if not data.current_password or not ctx.passwords.verify(
            member.user.password_hash, data.current_password
        ):
            raise ValidationFailed.field("currentPassword", "The current password is wrong.")
        member.user.password_hash = ctx.passwords.hash(changes["password"])
        audit.record(
            session,
            principal,
            action="user.password_changed",
            entity_type="user",
            entity_id=principal.user_id,
        )
    member.user.updated_at = utcnow()
    if changes:
        member.membership.bump_version()  # the representation (and its ETag) changed
    return member


# -- teams ----------------------------------------------------------------------------


def team_member_ids(session: Session, team: Team) -> list[uuid.UUID]:
    return members_of_teams(session, [team])[team.id]


def members_of_teams(session: Session, teams: Sequence[Team]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each team's member ids (sorted), in one query for a page of teams."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {team.id: [] for team in teams}
    if teams:
        rows = session.execute(
            select(TeamMember.team_id, TeamMember.user_id).where(
                TeamMember.organization_id == teams[0].organization_id,
                TeamMember.team_id.in_(list(found)),
            )
        )
        for team_id, user_id in rows:
            found[team_id].append(user_id)
    return {team_id: sorted(ids, key=str) for team_id, ids in found.items()}


def create_team(session: Session, principal: Principal, data: TeamIn) -> Team:
    principal.require(Permission.MANAGE_USERS)
    team = Team(
        organization_id=principal.organization_id, name=data.name, description=data.description
    )
    session.add(team)
    session.flush()
    audit.record(
        session,
        principal,
        action="team.created",
        entity_type="team",
        entity_id=team.id,
        after=data.model_dump(),
    )
    return team


def update_team(
    session: Session, principal: Principal, team_id: uuid.UUID, data: TeamUpdateIn
) -> Team:
    principal.require(Permission.MANAGE_USERS)
    team = get_for_write(session, Team, team_id, principal)
    before = {"name": team.name, "description": team.description}
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(team, field, value)
    team.bump_version()
    team.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="team.updated",
        entity_type="team",
        entity_id=team.id,
        before=before,
        after={"name": team.name, "description": team.description},
    )
    return team


def delete_team(session: Session, principal: Principal, team_id: uuid.UUID) -> None:
    principal.require(Permission.MANAGE_USERS)
    team = get_for_write(session, Team, team_id, principal, Permission.MANAGE_USERS)
    session.execute(
        delete(TeamMember).where(
            TeamMember.organization_id == team.organization_id, TeamMember.team_id == team.id
        )
    )
    session.delete(team)
    audit.record(
        session,
        principal,
        action="team.deleted",
        entity_type="team",
        entity_id=team_id,
        before={"name": team.name},
    )


def set_team_member(
    session: Session, principal: Principal, team_id: uuid.UUID, user_id: uuid.UUID, present: bool
) -> Team:
    principal.require(Permission.MANAGE_USERS)
    team = get_for_write(session, Team, team_id, principal, Permission.MANAGE_USERS)
    get_member(session, principal, user_id)  # 404 for a user outside the organization
    key = (principal.organization_id, team.id, user_id)
    existing = session.get(TeamMember, key)
    if present and existing is None:
        session.add(TeamMember(organization_id=key[0], team_id=key[1], user_id=key[2]))
    elif not present and existing is not None:
        session.delete(existing)
    else:
        return team
    team.bump_version()
    team.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action="team.member_added" if present else "team.member_removed",
        entity_type="team",
        entity_id=team.id,
        after={"userId": user_id},
    )
    session.flush()
    return team


# -- API keys -------------------------------------------------------------------------


def create_api_key(session: Session, principal: Principal, data: ApiKeyIn) -> tuple[ApiKey, str]:
    """A new key (returned once, stored as a SHA-256 digest) acting with ``data.role``."""
    principal.require(Permission.MANAGE_SETTINGS)
    if principal.kind != "user":
        raise Unauthorized("API keys are created by a signed-in user.")
    secret = new_secret(API_KEY_PREFIX)
    key = ApiKey(
        organization_id=principal.organization_id,
        name=data.name,
        prefix=secret[:12],
        key_hash=digest(secret),
        role=data.role,
        created_by=principal.user_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        principal,
        action="api_key.created",
        entity_type="api_key",
        entity_id=key.id,
        after={"name": key.name, "role": key.role},
    )
    return key, secret


def api_keys_query(principal: Principal) -> Select[*tuple[Any, ...]]:
    principal.require(Permission.MANAGE_SETTINGS)
    return select(ApiKey).where(ApiKey.organization_id == principal.organization_id)


def revoke_api_key(session: Session, principal: Principal, key_id: uuid.UUID) -> None:
    principal.require(Permission.MANAGE_SETTINGS)
    key = get_scoped(session, ApiKey, key_id, principal)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            session,
            principal,
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=key.id,
            before={"name": key.name},
        )
