"""Wire shapes of identity and authentication."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from kith.auth.models import MembershipStatus
from kith.auth.roles import Role
from kith.http.wire import ApiModel, InputModel

PasswordStr = Annotated[str, StringConstraints(min_length=8, max_length=256)]


def _lower(value: str) -> str:
    return value.strip().lower()


class SignupIn(InputModel):
    organization_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: PasswordStr
    name: str = Field(min_length=1, max_length=200)

    _email = field_validator("email")(_lower)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "organizationName": "Acme",
                    "email": "ada@acme.example",
                    "password": "correct horse battery",
                    "name": "Ada Lovelace",
                }
            ]
        }
    }


class LoginIn(InputModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = Field(None, min_length=6, max_length=32, description="TOTP or recovery code")
    organization_id: uuid.UUID | None = Field(
        None, description="Which organization to sign in to (default: the first one)"
    )

    _email = field_validator("email")(_lower)


class RefreshIn(InputModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class OrganizationOut(ApiModel):
    id: uuid.UUID
    name: str
    default_region: str
    created_at: datetime


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    status: MembershipStatus
    organization_id: uuid.UUID
    team_ids: list[uuid.UUID]
    mfa_enabled: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class UserCreated(UserOut):
    invite_url: str | None = Field(
        None, description="Single-use invite link (also emailed); present only on creation"
    )


class TokenPair(ApiModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class AuthResult(TokenPair):
    user: UserOut
    organization: OrganizationOut


class MfaEnrollOut(ApiModel):
    secret: str
    otpauth_uri: str


class MfaCodeIn(InputModel):
    code: str = Field(min_length=6, max_length=32)


class MfaVerified(ApiModel):
    enabled: bool
    recovery_codes: list[str]


class MfaDisabled(ApiModel):
    enabled: bool


class UserCreateIn(InputModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: PasswordStr | None = None

    _email = field_validator("email")(_lower)

    model_config = {
        "json_schema_extra": {
            "examples": [{"email": "rep@acme.example", "name": "Rep", "role": "SALES_REP"}]
        }
    }


class UserUpdateIn(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None
    status: Literal[MembershipStatus.ACTIVE, MembershipStatus.DEACTIVATED] | None = None

    model_config = {"json_schema_extra": {"examples": [{"name": "Renamed"}]}}


class MeUpdateIn(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    password: PasswordStr | None = None
    current_password: str | None = Field(None, max_length=256)


class AcceptInviteIn(InputModel):
    token: str = Field(min_length=10, max_length=200)
    password: PasswordStr


class TeamIn(InputModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=1000)

    model_config = {"json_schema_extra": {"examples": [{"name": "EMEA sales"}]}}


class TeamUpdateIn(InputModel):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=1000)

    model_config = {"json_schema_extra": {"examples": [{"description": "Renamed"}]}}


class TeamOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str
    member_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
    version: int


class ApiKeyIn(InputModel):
    name: str = Field(min_length=1, max_length=120)
    role: Role

    model_config = {"json_schema_extra": {"examples": [{"name": "zapier", "role": "VIEWER"}]}}


class ApiKeyOut(ApiModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key; shown only in this response")
