"""Factories for organizations, users with roles, teams and credentials.

Each call writes through ``Database.transaction()`` (a SAVEPOINT of the test's
transaction) so the rows are visible to the app under test.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from kith.auth.models import AuthSession, Membership, Organization, Team, TeamMember, User
from kith.auth.roles import Role
from kith.auth.tokens import Passwords, issue_access_token
from kith.db.engine import Database
from kith.db.types import utcnow
from kith.settings import Settings

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery"


@dataclass
class Member:
    user_id: uuid.UUID
    email: str
    role: Role
    organization_id: uuid.UUID
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Tenant:
    """An organization with its ADMIN, and a way to add colleagues."""

    factory: Factory
    organization_id: uuid.UUID
    admin: Member

    def member(self, role: Role = Role.SALES_REP, **kwargs: object) -> Member:
        return self.factory.user(self.organization_id, role=role, **kwargs)  # type: ignore[arg-type]

    def team(self, *members: Member, name: str = "Team") -> uuid.UUID:
        return self.factory.team(self.organization_id, *members, name=name)


class Factory:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.passwords = Passwords(settings)

    def organization(self, name: str | None = None) -> uuid.UUID:
        with self.database.transaction() as session:
            org = Organization(name=name or f"Org {next(_counter)}")
            session.add(org)
            session.flush()
            return org.id

    def user(
        self,
        organization_id: uuid.UUID,
        *,
        role: Role = Role.SALES_REP,
        email: str | None = None,
        name: str = "Test User",
        password: str = DEFAULT_PASSWORD,
    ) -> Member:
        email = email or f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@acme.example"
        with self.database.transaction() as session:
            user = User(email=email, name=name, password_hash=self.passwords.hash(password))
            session.add(user)
            session.flush()
            session.add(Membership(organization_id=organization_id, user_id=user.id, role=role))
            user_id = user.id
        member = Member(user_id, email, role, organization_id)
        member.headers = self.headers(member)
        return member

    def headers(self, member: Member) -> dict[str, str]:
        """A fresh signed-in session for ``member``, as request headers."""
        with self.database.transaction() as session:
            auth_session = AuthSession(
                organization_id=member.organization_id,
                user_id=member.user_id,
                expires_at=utcnow() + timedelta(days=1),
            )
            session.add(auth_session)
            session.flush()
            token, _ = issue_access_token(
                self.settings,
                user_id=member.user_id,
                organization_id=member.organization_id,
                session_id=auth_session.id,
            )
        return {"Authorization": f"Bearer {token}"}

    def team(self, organization_id: uuid.UUID, *members: Member, name: str = "Team") -> uuid.UUID:
        with self.database.transaction() as session:
            team = Team(organization_id=organization_id, name=name)
            session.add(team)
            session.flush()
            for member in members:
                session.add(
                    TeamMember(
                        organization_id=organization_id, team_id=team.id, user_id=member.user_id
                    )
                )
            team_id = team.id
        for member in members:  # team ids are read per request, tokens stay valid
            member.headers = member.headers or self.headers(member)
        return team_id

    def tenant(self, name: str | None = None) -> Tenant:
        org_id = self.organization(name)
        admin = self.user(org_id, role=Role.ADMIN, name="Admin")
        return Tenant(self, org_id, admin)
