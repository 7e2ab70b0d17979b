"""Errors that carry their own answer: an HTTP status, an error code and a safe sentence.

Services and views raise them; the API's exception handler (`apps.common.api.errors`) reads the
attributes and writes the contract's envelope `{"error_code", "detail", ...extra}`. No table maps
error types to codes: a new error is a subclass with its `status_code` and `error_code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

FEATURE_DISABLED_RETRY_SECONDS = 300


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    TOURNAMENT_NOT_FOUND = "TOURNAMENT_NOT_FOUND"
    PARTICIPANT_NOT_FOUND = "PARTICIPANT_NOT_FOUND"
    SEASON_NOT_FOUND = "SEASON_NOT_FOUND"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    FEATURE_DISABLED = "FEATURE_DISABLED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


QUOTE_LIMIT = 40


def shortened(value: object) -> str:
    """What a client sent, for a message: cut short when it is long (its first characters and
    its length), so an answer never echoes a huge parameter."""
    text = str(value)
    if len(text) > QUOTE_LIMIT:
        return f"{text[: QUOTE_LIMIT // 2]}... ({len(text)} characters)"
    return text


def quoted(value: object) -> str:
    """`shortened`, in single quotes: for text whose ends a reader must see."""
    return f"'{shortened(value)}'"


class ServiceError(Exception):
    """A refusal answered with `status_code` and the envelope `{error_code, detail, **extra}`,
    plus `headers`. `detail` is a sentence safe to show a client."""

    status_code: ClassVar[int] = 400
    error_code: ClassVar[ErrorCode] = ErrorCode.VALIDATION_ERROR

    def __init__(
        self,
        detail: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code.value, "detail": self.detail, **self.extra}


class InvalidInputError(ServiceError):
    """400 VALIDATION_ERROR with `errors` {field: [messages]}; `detail` names the first field."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        field = next(iter(errors))
        super().__init__(f"Invalid {field}: {errors[field][0]}", extra={"errors": dict(errors)})
        self.errors = dict(errors)


class PayloadTooLargeError(InvalidInputError):
    """413: a request body over the API's size limit; a VALIDATION_ERROR like any bad body."""

    status_code = 413

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            {"body": [f"The request body is over the limit of {limit_bytes // 1024} KiB."]}
        )


class NotFoundError(ServiceError):
    status_code = 404
    error_code = ErrorCode.NOT_FOUND


class ServiceUnavailableError(ServiceError):
    """503: a dependency this request needs (the database, or Redis where it is required)."""

    status_code = 503
    error_code = ErrorCode.SERVICE_UNAVAILABLE


class FeatureDisabledError(ServiceError):
    status_code = 503
    error_code = ErrorCode.FEATURE_DISABLED

    def __init__(
        self, detail: str = "Leaderboards are switched off for now; try again later."
    ) -> None:
        retry = FEATURE_DISABLED_RETRY_SECONDS
        super().__init__(
            detail, extra={"retry_after_seconds": retry}, headers={"Retry-After": str(retry)}
        )


class RateLimitExceededError(ServiceError):
    status_code = 429
    error_code = ErrorCode.RATE_LIMIT_EXCEEDED

    def __init__(self, retry_after_seconds: int, headers: Mapping[str, str]) -> None:
        super().__init__(
            f"Rate limit exceeded; retry in {retry_after_seconds} seconds.",
            extra={"retry_after_seconds": retry_after_seconds},
            headers={"Retry-After": str(retry_after_seconds), **headers},
        )
