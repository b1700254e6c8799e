"""Base models for the wire format: camelCase JSON, snake_case attributes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel
from starlette.responses import Response


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_nul(v) for v in value)
    return False  # nested models validate their own fields


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

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text: refuse it here as a 422, not a 500 later.
        if _contains_nul(value):
            raise ValueError("Text must not contain NUL (\\u0000) characters.")
        return value


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


class ModelResponse(Response):
    """A response model serialized once, by pydantic's own serializer. Returned by a
    route (which keeps its ``response_model`` for the OpenAPI document), it skips
    FastAPI's validation of the value against that model and its second
    serialization: for a page of contacts that was a third of the request's time."""

    media_type = "application/json"

    def __init__(
        self, model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        body = type(model).__pydantic_serializer__.to_json(model, by_alias=True)
        super().__init__(content=body, status_code=status_code, headers=headers)
