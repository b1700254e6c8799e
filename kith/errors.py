"""Domain errors. Each carries its HTTP status and code; the app turns them into
the error envelope of ARCHITECTURE.md §3, routers never re-map them."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "BAD_REQUEST"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
        persist: bool = False,
    ) -> None:
        """``persist``: commit the request's transaction although the request fails
        (e.g. revoking a token family when a spent refresh token is replayed)."""
        self.message = message or self.message
        self.persist = persist
        self.details = details
        if code:
            self.code = code
        self.headers = headers or {}
        self.retry_after = retry_after
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message = "The request is not valid."

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, details=[{"field": field, "message": message}])


class Unauthorized(DomainError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "Authentication is required."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status_code = 403
    code = "FORBIDDEN"
    message = "You do not have permission to do this."


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"
    message = "The resource was not found."


class Conflict(DomainError):
    status_code = 409
    code = "CONFLICT"
    message = "The request conflicts with the current state."


class PreconditionFailed(DomainError):
    status_code = 412
    code = "PRECONDITION_FAILED"
    message = "The resource has changed since you read it (If-Match did not match)."


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "The request body is too large."


class RateLimited(DomainError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    message = "Too many requests. Please try again later."


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    message = "The service is temporarily unavailable."
