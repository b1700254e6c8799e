"""The caller of a request: who, in which organization, with which role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from kith.auth.roles import ROLE_PERMISSIONS, Permission, Role, Visibility, visibility_of
from kith.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    kind: Literal["user", "api_key", "system"] = "user"
    credential_id: uuid.UUID | None = None  # session id or API key id

    @property
    def visibility(self) -> Visibility:
        return visibility_of(self.role)

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise 403 unless the role grants ``permission``."""
        if not self.can(permission):
            raise Forbidden(
                f"Your role ({self.role.value}) does not allow this action.",
                details={"required": permission.value},
            )

    @classmethod
    def system(cls, organization_id: uuid.UUID) -> Principal:
        """The principal background jobs act as inside one organization."""
        return cls(
            organization_id=organization_id,
            user_id=uuid.UUID(int=0),
            role=Role.ADMIN,
            kind="system",
        )
