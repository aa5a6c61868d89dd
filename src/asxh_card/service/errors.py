"""Errors of the service's domain code (registry, cards, keys, trust), independent of HTTP.

Domain modules raise these; :mod:`asxh_card.service.problems` maps each class to one problem
type in one table (:data:`asxh_card.service.problems.DOMAIN_PROBLEMS`), so no domain module
names an HTTP status or a problem slug. Messages never echo a PIN or a name.

Each error speaks both languages, like :class:`~asxh_card.errors.InvalidInputError`: ``str(err)``
(``message_en``) for a developer and ``message_vi`` for an officer; a raise site without its own
Vietnamese sentence gets the class's ``default_vi``. The problem carries it as ``detail_vi``.
"""

from __future__ import annotations

from typing import ClassVar

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
    """A service rule refused the request; the message says which, in English and Vietnamese."""

    default_vi: ClassVar[str] = "Yêu cầu bị từ chối theo quy định của hệ thống."

    def __init__(self, message: str = "", *, message_vi: str | None = None) -> None:
        super().__init__(message)
        self.message_en = message
        self.message_vi = message_vi or self.default_vi

    def message(self, lang: str = "vi") -> str:
        """The message in ``lang`` (``"vi"`` or ``"en"``)."""
        return self.message_vi if lang == "vi" else self.message_en


#: What a :class:`NotFoundError` names, in Vietnamese ("Không tìm thấy người ...").
NOT_FOUND_VI: dict[str, str] = {
    "person": "người được cấp thẻ",
    "entitlement": "chế độ được hưởng",
    "card": "thẻ",
    "reconciliation": "yêu cầu đối chiếu",
    "key": "khóa ký",
    "issuer": "đơn vị cấp thẻ",
    "operator": "tài khoản cán bộ",
    "import job": "lượt nhập danh sách",
    "print batch": "lô in thẻ",
    "status list": "danh sách trạng thái",
}


class NotFoundError(ServiceError):
    """No such object, or not one the caller may see (the two are not told apart)."""

    default_vi = "Không tìm thấy dữ liệu yêu cầu."

    def __init__(self, what: str) -> None:
        self.what = what
        what_vi = NOT_FOUND_VI.get(what)
        super().__init__(
            f"no such {what}",
            message_vi=f"Không tìm thấy {what_vi}." if what_vi else None,
        )


class NotPermittedError(ServiceError):
    """The caller's role, province or programmes do not allow this action."""

    default_vi = "Tài khoản của bạn không được phép thực hiện thao tác này."


class ConflictError(ServiceError):
    """The request conflicts with the current state of the data."""

    default_vi = "Yêu cầu mâu thuẫn với dữ liệu hiện có."


class TransitionError(ConflictError):
    """A card or entitlement cannot make this state change (see :mod:`.states`)."""

    default_vi = "Không thể chuyển sang trạng thái này."


class IdempotencyKeyReusedError(ConflictError):
    """An ``Idempotency-Key`` was sent again with a different request."""

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used for another request",
            message_vi="Khóa Idempotency-Key này đã được dùng cho một yêu cầu khác.",
        )


class RateLimitedError(ServiceError):
    """Too many attempts; ``retry_after`` seconds until the next one is allowed."""

    def __init__(self, message: str, *, retry_after: int, message_vi: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(
            message,
            message_vi=message_vi or f"Quá nhiều lần thử; hãy thử lại sau {retry_after} giây.",
        )


class NotReadyError(ServiceError):
    """The service cannot answer now (database unreachable, nothing signed yet)."""

    default_vi = "Dịch vụ chưa sẵn sàng; hãy thử lại sau."

    def __init__(
        self, message: str, *, retry_after: int | None = None, message_vi: str | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, message_vi=message_vi)


class BusyError(NotReadyError):
    """Too much work in flight (password hashing, image decoding): try again shortly."""

    default_vi = "Hệ thống đang bận; hãy thử lại sau ít giây."
