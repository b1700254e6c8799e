"""Base models for the wire format: camelCase JSON, snake_case attributes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """An API response shape (camelCase on the wire)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        serialize_by_alias=True,
    )


class InputModel(BaseModel):
    """An API request body: camelCase or snake_case accepted, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )


class ErrorBody(ApiModel):
    code: str
    message: str
    details: object | None = None
    trace_id: str
    timestamp: str
    path: str


class ErrorMeta(ApiModel):
    retry_after: int | None = None


class ErrorEnvelope(ApiModel):
    error: ErrorBody
    meta: ErrorMeta = ErrorMeta()
