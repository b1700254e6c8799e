"""Authentication: signup, login (with TOTP), rotating refresh tokens, logout,
MFA enrolment, invite acceptance, and resolving a request's principal."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import CursorResult, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from kith.audit import service as audit
from kith.auth.models import (
    ApiKey,
    AuthSession,
    InviteToken,
    Membership,
    MembershipStatus,
    Organization,
    RefreshToken,
    Team,
    TeamMember,
    User,
)
from kith.auth.principal import Principal
from kith.auth.roles import Role
from kith.auth.schemas import LoginIn, SignupIn
from kith.auth.tokens import (
    API_KEY_PREFIX,
    AccessClaims,
    Passwords,
    bearer_token,
    decode_access_token,
    digest,
    issue_access_token,
    new_secret,
)
from kith.db.types import utcnow
from kith.errors import Conflict, Unauthorized, ValidationFailed
from kith.events.outbox import publish
from kith.http.ratelimit import LoginThrottle
from kith.settings import Settings

RECOVERY_CODES = 10


@dataclass(frozen=True)
class AuthContext:
    """What authentication needs from the app: settings, hasher, throttle."""

    settings: Settings
    passwords: Passwords
    throttle: LoginThrottle


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    user: User
    membership: Membership
    organization: Organization
    tokens: Tokens


def _start_session(
    session: Session,
    ctx: AuthContext,
    *,
    user: User,
    organization_id: uuid.UUID,
    user_agent: str | None = None,
    ip: str | None = None,
) -> Tokens:
    now = utcnow()
    auth_session = AuthSession(
        organization_id=organization_id,
        user_id=user.id,
        expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
        user_agent=(user_agent or "")[:300] or None,
        ip_address=ip,
    )
    session.add(auth_session)
    session.flush()
    return _issue(session, ctx, auth_session)


def _issue(session: Session, ctx: AuthContext, auth_session: AuthSession) -> Tokens:
    refresh = new_secret()
    session.add(
        RefreshToken(
            organization_id=auth_session.organization_id,
            session_id=auth_session.id,
            token_hash=digest(refresh),
            expires_at=auth_session.expires_at,
        )
    )
    access, _ = issue_access_token(
        ctx.settings,
        user_id=auth_session.user_id,
        organization_id=auth_session.organization_id,
        session_id=auth_session.id,
    )
    return Tokens(access, refresh, ctx.settings.access_token_ttl_seconds)


def create_organization(
    session: Session,
    ctx: AuthContext,
    *,
    organization_name: str,
    email: str,
    name: str,
    password: str,
) -> tuple[Organization, User, Membership]:
    """A new organization with its first ADMIN (signup, ``kith create-admin``, demo)."""
    if session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict(
            "An account with this email already exists; sign in instead.",
            code="EMAIL_TAKEN",
        )
    organization = Organization(name=organization_name)
    user = User(email=email, name=name, password_hash=ctx.passwords.hash(password))
    session.add_all([organization, user])
    session.flush()
    membership = Membership(organization_id=organization.id, user_id=user.id, role=Role.ADMIN)
    session.add(membership)
    session.flush()
    principal = Principal(organization.id, user.id, Role.ADMIN)
    audit.record(
        session,
        principal,
        action="organization.created",
        entity_type="organization",
        entity_id=organization.id,
        after={"name": organization.name, "admin": email},
    )
    publish(
        session,
        principal,
        "user.created",
        aggregate_type="user",
        aggregate_id=user.id,
        payload={"userId": user.id, "email": user.email, "role": Role.ADMIN},
    )
    return organization, user, membership


def signup(session: Session, ctx: AuthContext, data: SignupIn) -> SignedIn:
    """Create an organization with its first ADMIN and sign them in."""
    organization, user, membership = create_organization(
        session,
        ctx,
        organization_name=data.organization_name,
        email=data.email,
        name=data.name,
        password=data.password,
    )
    tokens = _start_session(session, ctx, user=user, organization_id=organization.id)
    user.last_login_at = utcnow()
    return SignedIn(user, membership, organization, tokens)


def _check_second_factor(user: User, otp: str | None) -> bool:
    """True when the TOTP (not replayed) or an unused recovery code is given."""
    if not otp or not user.mfa_secret:
        return False
    code = otp.replace(" ", "").replace("-", "")
    if code.isdigit() and len(code) == 6:
        totp = pyotp.TOTP(user.mfa_secret)
        now = utcnow()
        for drift in (0, -1, 1):
            at = now + timedelta(seconds=30 * drift)
            counter = totp.timecode(at)
            if totp.verify(code, for_time=at) and counter > (user.mfa_last_counter or -1):
                user.mfa_last_counter = counter
                return True
        return False
    hashed = digest(code.lower())
    if hashed in (user.mfa_recovery_hashes or []):
        user.mfa_recovery_hashes = [h for h in user.mfa_recovery_hashes if h != hashed]
        return True
    return False


def login(
    session: Session,
    ctx: AuthContext,
    data: LoginIn,
    *,
    ip: str,
    user_agent: str | None = None,
) -> SignedIn:
    """Verify password (and second factor) and start a session. Failures are counted
    per account and per IP; over the limit the answer is 429 with Retry-After."""
    keys = (f"email:{data.email}", f"ip:{ip}")
    ctx.throttle.check(*keys)
    user = session.execute(select(User).where(User.email == data.email)).scalar_one_or_none()
    password_ok = ctx.passwords.verify(user.password_hash if user else None, data.password)
    if user is None or not password_ok or not user.is_active:
        ctx.throttle.failed(*keys)
        raise Unauthorized("Email or password is incorrect.", code="INVALID_CREDENTIALS")
    if user.mfa_enabled:
        if not data.otp:
            raise Unauthorized("This account requires a one-time code (otp).", code="MFA_REQUIRED")
        if not _check_second_factor(user, data.otp):
            ctx.throttle.failed(*keys)
            raise Unauthorized("The one-time code is not valid.", code="INVALID_OTP")
    stmt = (
        select(Membership, Organization)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Membership.created_at)
    )
    if data.organization_id:
        stmt = stmt.where(Membership.organization_id == data.organization_id)
    row = session.execute(stmt).first()
    if row is None:
        ctx.throttle.failed(*keys)
        raise Unauthorized("Email or password is incorrect.", code="INVALID_CREDENTIALS")
    membership, organization = row
    tokens = _start_session(
        session, ctx, user=user, organization_id=organization.id, user_agent=user_agent, ip=ip
    )
    user.last_login_at = utcnow()
    return SignedIn(user, membership, organization, tokens)


def refresh(session: Session, ctx: AuthContext, refresh_token: str) -> Tokens:
    """Rotate a refresh token. A spent token presented again means it leaked: the
    whole session (token family) is revoked and the caller must sign in again."""
    now = utcnow()
    token = session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token))
    ).scalar_one_or_none()
    if token is None:
        raise Unauthorized("The refresh token is not valid.", code="INVALID_REFRESH_TOKEN")
    auth_session = session.get(AuthSession, (token.organization_id, token.session_id))
    if auth_session is None or auth_session.revoked_at is not None:
        raise Unauthorized("This session has ended; sign in again.", code="SESSION_REVOKED")
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult[Any], result).rowcount
    if not claimed:
        auth_session.revoked_at = now
        auth_session.revoked_reason = "refresh_token_reuse"
        raise Unauthorized(
            "This refresh token was already used; the session is revoked. Sign in again.",
            code="REFRESH_TOKEN_REUSED",
            persist=True,
        )
    if token.expires_at <= now or auth_session.expires_at <= now:
        raise Unauthorized("The refresh token has expired.", code="INVALID_REFRESH_TOKEN")
    if _active_membership(session, auth_session.organization_id, auth_session.user_id) is None:
        raise Unauthorized("This account is deactivated.", code="ACCOUNT_DEACTIVATED")
    return _issue(session, ctx, auth_session)


def logout(session: Session, principal: Principal) -> None:
    """End the caller's session: its access and refresh tokens stop working."""
    if principal.kind != "user" or principal.credential_id is None:
        return
    auth_session = session.get(AuthSession, (principal.organization_id, principal.credential_id))
    if auth_session is not None and auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = "logout"


def revoke_user_sessions(
    session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, reason: str
) -> None:
    session.execute(
        update(AuthSession)
        .where(
            AuthSession.organization_id == organization_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


# -- MFA ---------------------------------------------------------------------------


def mfa_enroll(session: Session, principal: Principal) -> tuple[str, str]:
    """Start TOTP enrolment: a new secret and its otpauth:// URI (not yet enforced)."""
    user = _user_of(session, principal)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already enabled.", code="MFA_ENABLED")
    user.mfa_secret = pyotp.random_base32()
    user.mfa_last_counter = None
    uri = pyotp.TOTP(user.mfa_secret).provisioning_uri(name=user.email, issuer_name="Kith")
    return user.mfa_secret, uri


def mfa_verify(session: Session, principal: Principal, code: str) -> list[str]:
    """Confirm enrolment with a current code; returns recovery codes (shown once)."""
    user = _user_of(session, principal)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already enabled.", code="MFA_ENABLED")
    if not user.mfa_secret:
        raise Conflict("Start enrolment first (POST /auth/mfa/enroll).", code="MFA_NOT_ENROLLED")
    if not (code.isdigit() and _check_second_factor(user, code)):
        raise ValidationFailed.field("code", "The code is not valid for this secret.")
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    user.mfa_recovery_hashes = [digest(c.replace("-", "")) for c in codes]
    user.mfa_enabled = True
    audit.record(
        session,
        principal,
        action="mfa.enabled",
        entity_type="user",
        entity_id=user.id,
        after={"mfaEnabled": True},
    )
    return codes


def mfa_disable(session: Session, principal: Principal, code: str) -> None:
    user = _user_of(session, principal)
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not enabled.", code="MFA_NOT_ENABLED")
    if not _check_second_factor(user, code):
        raise ValidationFailed.field("code", "The code is not valid.")
    user.mfa_enabled = False
    user.mfa_secret = None
    user.mfa_recovery_hashes = []
    audit.record(
        session,
        principal,
        action="mfa.disabled",
        entity_type="user",
        entity_id=user.id,
        after={"mfaEnabled": False},
    )


# -- invites -----------------------------------------------------------------------


def create_invite(
    session: Session, ctx: AuthContext, *, organization_id: uuid.UUID, user_id: uuid.UUID
) -> str:
    """A single-use, short-lived invite token bound to the user; returns the token."""
    token = new_secret()
    session.add(
        InviteToken(
            organization_id=organization_id,
            user_id=user_id,
            token_hash=digest(token),
            expires_at=utcnow() + timedelta(seconds=ctx.settings.invite_token_ttl_seconds),
        )
    )
    return token


def accept_invite(session: Session, ctx: AuthContext, token: str, password: str) -> SignedIn:
    now = utcnow()
    invite = session.execute(
        select(InviteToken).where(InviteToken.token_hash == digest(token))
    ).scalar_one_or_none()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise Unauthorized("The invite link is invalid or has expired.", code="INVALID_INVITE")
    user = session.get(User, invite.user_id)
    membership = session.get(Membership, (invite.organization_id, invite.user_id))
    organization = session.get(Organization, invite.organization_id)
    if user is None or membership is None or organization is None:
        raise Unauthorized("The invite link is invalid or has expired.", code="INVALID_INVITE")
    if membership.status == MembershipStatus.DEACTIVATED:
        raise Unauthorized("This account is deactivated.", code="ACCOUNT_DEACTIVATED")
    if user.password_hash is None:
        user.password_hash = ctx.passwords.hash(password)
    elif not ctx.passwords.verify(user.password_hash, password):
        raise Unauthorized(
            "You already have a Kith account: enter its password to join.",
            code="INVALID_CREDENTIALS",
        )
    invite.used_at = now
    membership.status = MembershipStatus.ACTIVE
    membership.bump_version()
    tokens = _start_session(session, ctx, user=user, organization_id=organization.id)
    user.last_login_at = now
    return SignedIn(user, membership, organization, tokens)


# -- resolving the caller ------------------------------------------------------------


def _active_membership(
    session: Session, organization_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    return session.execute(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == organization_id,
            Membership.user_id == user_id,
            Membership.status == MembershipStatus.ACTIVE,
            User.is_active.is_(True),
        )
    ).scalar_one_or_none()


def _team_ids(
    session: Session, organization_id: uuid.UUID, user_id: uuid.UUID
) -> frozenset[uuid.UUID]:
    rows = session.execute(
        select(TeamMember.team_id).where(
            TeamMember.organization_id == organization_id, TeamMember.user_id == user_id
        )
    ).scalars()
    return frozenset(rows)


class PrincipalCache:
    """Who a credential is, remembered for a few seconds: resolving it costs two queries
    on every request otherwise. Any write to the tables a principal is made of (users,
    memberships, sessions, API keys, teams) empties it, in this process at once; other
    API processes notice within ``KITH_AUTH_CACHE_SECONDS``."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def get(self, key: tuple[Any, ...]) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[Any, ...], principal: Principal, ttl: float, generation: int) -> None:
        """Remember ``principal`` unless the cache was emptied since ``generation`` (it
        was read from rows a concurrent transaction has changed since)."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


principals = PrincipalCache()
_PRINCIPAL_TABLES: tuple[type[Any], ...] = (
    Organization,
    User,
    Membership,
    Team,
    TeamMember,
    AuthSession,
    ApiKey,
)
_AUTH_CHANGED = "kith_auth_changed"


# Bookkeeping columns that never change what a credential resolves to.
_NOT_PRINCIPAL = frozenset({"last_used_at", "last_login_at", "updated_at"})


def _changes_principals(obj: Any, *, new: bool, deleted: bool) -> bool:
    if not isinstance(obj, _PRINCIPAL_TABLES):
        return False
    if deleted:
        return True
    if new:  # a new session, key or membership is not cached yet; a team member is
        return isinstance(obj, TeamMember)
    return any(
        attr.key not in _NOT_PRINCIPAL and attr.history.has_changes() for attr in inspect(obj).attrs
    )


@event.listens_for(Session, "after_flush")
def _forget_principals_on_flush(session: Session, _context: Any) -> None:
    changed = (
        any(_changes_principals(o, new=True, deleted=False) for o in session.new)
        or any(_changes_principals(o, new=False, deleted=True) for o in session.deleted)
        or any(_changes_principals(o, new=False, deleted=False) for o in session.dirty)
    )
    if changed:
        session.info[_AUTH_CHANGED] = True
        principals.clear()


@event.listens_for(Session, "do_orm_execute")
def _forget_principals_on_bulk_write(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        issubclass(mapper.class_, _PRINCIPAL_TABLES) for mapper in state.all_mappers
    ):
        state.session.info[_AUTH_CHANGED] = True
        principals.clear()


@event.listens_for(Session, "after_commit")
def _forget_principals_on_commit(session: Session) -> None:
    # Again after the commit: a request may have cached the old rows in between.
    if session.info.pop(_AUTH_CHANGED, False):
        principals.clear()


@event.listens_for(Session, "after_rollback")
def _keep_principals_on_rollback(session: Session) -> None:
    session.info.pop(_AUTH_CHANGED, None)


def cached_principal(settings: Settings, authorization: str | None) -> Principal | None:
    """The principal an ``Authorization`` header resolved to within the last
    ``KITH_AUTH_CACHE_SECONDS``, without touching the database (None: not cached).

    Entries are keyed by the credential itself, so a cached token skips its signature
    check too; an entry never outlives the access token's own expiry."""
    token = bearer_token(authorization)
    return None if token is None else _cached(settings, token)


def resolve_principal(session: Session, settings: Settings, authorization: str | None) -> Principal:
    """The principal behind an ``Authorization: Bearer`` header (JWT or API key). What
    it resolves to is cached for ``KITH_AUTH_CACHE_SECONDS`` (see :class:`PrincipalCache`
    and :func:`cached_principal`)."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized()
    cached = _cached(settings, token)
    if cached is not None:
        return cached
    ttl = float(settings.auth_cache_seconds)
    generation = principals.generation
    if token.startswith(API_KEY_PREFIX):
        principal = _api_key_principal(session, token)
    else:
        claims = decode_access_token(settings, token)
        if claims is None:
            raise Unauthorized("The access token is invalid or expired.", code="INVALID_TOKEN")
        principal = _session_principal(session, claims)
        ttl = min(ttl, (claims.expires_at - utcnow()).total_seconds())
    if ttl > 0:
        principals.put(_credential_key(token), principal, ttl, generation)
    return principal


def _cached(settings: Settings, token: str) -> Principal | None:
    if settings.auth_cache_seconds <= 0:
        return None
    return principals.get(_credential_key(token))


def _credential_key(token: str) -> tuple[str, str]:
    # A digest, not the token: the cache never holds a usable credential.
    return ("credential", digest(token))


def _session_principal(session: Session, claims: AccessClaims) -> Principal:
    row = session.execute(
        select(Membership.role)
        .join(User, User.id == Membership.user_id)
        .join(
            AuthSession,
            (AuthSession.organization_id == Membership.organization_id)
            & (AuthSession.user_id == Membership.user_id),
        )
        .where(
            Membership.organization_id == claims.organization_id,
            Membership.user_id == claims.user_id,
            Membership.status == MembershipStatus.ACTIVE,
            User.is_active.is_(True),
            AuthSession.id == claims.session_id,
            AuthSession.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise Unauthorized("This session has ended; sign in again.", code="SESSION_REVOKED")
    return Principal(
        organization_id=claims.organization_id,
        user_id=claims.user_id,
        role=row[0],
        team_ids=_team_ids(session, claims.organization_id, claims.user_id),
        kind="user",
        credential_id=claims.session_id,
    )


def _api_key_principal(session: Session, token: str) -> Principal:
    key = session.execute(
        select(ApiKey).where(ApiKey.key_hash == digest(token), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if key is None or _active_membership(session, key.organization_id, key.created_by) is None:
        raise Unauthorized("The API key is invalid or revoked.", code="INVALID_API_KEY")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return Principal(
        organization_id=key.organization_id,
        user_id=key.created_by,
        role=key.role,
        team_ids=_team_ids(session, key.organization_id, key.created_by),
        kind="api_key",
        credential_id=key.id,
    )


def _user_of(session: Session, principal: Principal) -> User:
    if principal.kind != "user":
        raise Unauthorized("Sign in as a user for this action (not an API key).")
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized()
    return user


def organization_of(session: Session, principal: Principal) -> Organization:
    """The caller's organization (e.g. its default phone region)."""
    organization = session.get(Organization, principal.organization_id)
    if organization is None:
        raise Unauthorized()
    return organization
