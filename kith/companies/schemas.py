"""Wire shapes of companies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from kith.http.wire import ApiModel, InputModel


class CompanyIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = Field(default_factory=list, max_length=20)
    industry: str | None = Field(None, max_length=100)
    size: str | None = Field(None, max_length=20, description='e.g. "11-50"')
    description: str | None = Field(None, max_length=5000)
    address: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)

    model_config = {
        "json_schema_extra": {"examples": [{"name": "TechCorp", "domains": ["techcorp.example"]}]}
    }


class CompanyPatch(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    domains: list[str] | None = Field(None, max_length=20)
    industry: str | None = Field(None, max_length=100)
    size: str | None = Field(None, max_length=20)
    description: str | None = Field(None, max_length=5000)
    address: dict[str, Any] | None = None
    links: dict[str, str] | None = None

    model_config = {"json_schema_extra": {"examples": [{"industry": "Software"}]}}


class CompanyOut(ApiModel):
    id: uuid.UUID
    name: str
    domain: str | None
    domains: list[str]
    industry: str | None
    size: str | None
    description: str | None
    address: dict[str, Any] | None
    links: dict[str, str]
    contact_count: int
    created_at: datetime
    updated_at: datetime
    version: int
