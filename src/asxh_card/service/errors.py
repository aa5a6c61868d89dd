"""Errors of the service's domain code (registry, cards, keys, trust), independent of HTTP.

Domain modules raise these; :mod:`asxh_card.service.problems` maps each class to one problem
type in one table (:data:`asxh_card.service.problems.DOMAIN_PROBLEMS`), so no domain module
names an HTTP status or a problem slug. Messages never echo a PIN or a name.
"""

from __future__ import annotations

from asxh_card.errors import AsxhError

__all__ = [
    "BusyError",
    "ConflictError",
    "IdempotencyKeyReusedError",
    "NotFoundError",
    "NotPermittedError",
    "NotReadyError",
    "RateLimitedError",
    "ServiceError",
    "TransitionError",
]


class ServiceError(AsxhError):
    """A service rule refused the request; the message says which."""


class NotFoundError(ServiceError):
    """No such object, or not one the caller may see (the two are not told apart)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"no such {what}")


class NotPermittedError(ServiceError):
    """The caller's role, province or programmes do not allow this action."""


class ConflictError(ServiceError):
    """The request conflicts with the current state of the data."""


class TransitionError(ConflictError):
    """A card or entitlement cannot make this state change (see :mod:`.states`)."""


class IdempotencyKeyReusedError(ConflictError):
    """An ``Idempotency-Key`` was sent again with a different request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for another request")


class RateLimitedError(ServiceError):
    """Too many attempts; ``retry_after`` seconds until the next one is allowed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotReadyError(ServiceError):
    """The service cannot answer now (database unreachable, nothing signed yet)."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BusyError(NotReadyError):
    """Too much work in flight (password hashing, image decoding): try again shortly."""
