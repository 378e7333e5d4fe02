"""Domain exceptions: services raise these; the gateway maps each to one problem+json status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a caller can act on; `detail` is safe to show to the caller."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid transition"


class TooLarge(DomainError):
    status = 413
    title = "Payload too large"


class UnsupportedType(DomainError):
    status = 415
    title = "Unsupported media type"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class ValidationFailed(DomainError):
    status = 422
    title = "Validation failed"


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"


class Unavailable(DomainError):
    status = 503
    title = "Service unavailable"
