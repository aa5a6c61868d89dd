"""The exception tree of asxh-card.

Everything the package raises on purpose derives from :class:`AsxhError`.

* :class:`InvalidInputError` (also a :class:`ValueError`): the caller handed in something
  malformed: a personal ID number that breaks a rule, an entitlement with a bad attribute, a card
  that would not fit a QR code. Subclasses name the area.
* :class:`VerificationError`: a card, trust bundle or status list did not verify. Every
  verification failure is a subclass with a stable :attr:`~VerificationError.reason` code
  (DESIGN.md §5: "every failure is a subclass of one verification error with a stable reason
  code"); the verifier lets nothing else escape. Each carries a message in Vietnamese and in
  English so a clerk sees the first and a developer the second.
* :class:`KeyStoreError`: an issuer or root key could not be created, loaded or decrypted.

Every verification error also has an :attr:`~VerificationError.outcome`: ``invalid`` (the card
is refused, with its reason) or ``cannot_check`` (the verifier's own data is out of date or
missing, its clock is wrong, or it failed: the clerk is told to update the data, never that the
card is invalid). A card that passes is the third outcome, ``valid`` (:class:`Outcome`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "AlgorithmNotAllowedError",
    "AsxhError",
    "BadSignatureError",
    "BundleInvalidError",
    "BundleRollbackError",
    "BundleStaleError",
    "CardLifetimeError",
    "CardTooLargeError",
    "ClockBeforeBundleError",
    "EntitlementError",
    "ExpiredError",
    "IdentifierError",
    "InputTypeError",
    "InternalVerifierError",
    "InvalidInputError",
    "IssuerOutOfScopeError",
    "KeyOutsideWindowError",
    "KeyStoreError",
    "MalformedError",
    "NotYetValidError",
    "Outcome",
    "PayloadTooLargeError",
    "Reason",
    "RevokedError",
    "StatusListInvalidError",
    "StatusListMissingError",
    "StatusListRollbackError",
    "StatusListStaleError",
    "StatusReferenceMissingError",
    "SuspendedError",
    "UnknownIssuerError",
    "UnknownKeyError",
    "VerificationError",
]


class AsxhError(Exception):
    """Root of every exception raised on purpose by asxh-card."""


class InvalidInputError(AsxhError, ValueError):
    """The caller's input breaks a rule; the message names the rule.

    Like :class:`VerificationError` it speaks both languages: ``message_en`` (also
    ``str(err)``) for a developer and ``message_vi`` for an officer, natural Vietnamese with
    diacritics. A raise site that has no Vietnamese sentence of its own gets the class's
    ``default_vi``, which names the area (identifier, entitlement, ...). Neither ever echoes a
    full personal ID number.
    """

    default_vi: ClassVar[str] = "Dữ liệu nhập vào không hợp lệ."

    def __init__(self, message: str = "", *, message_vi: str | None = None) -> None:
        super().__init__(message)
        self.message_en = message
        self.message_vi = message_vi or self.default_vi

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Pickle with the Vietnamese message (process pools carry errors between workers)."""
        if type(self).__init__ is not InvalidInputError.__init__:
            return super().__reduce__()  # a subclass with its own constructor
        return (_rebuild_invalid_input, (type(self), self.message_en, self.message_vi))

    def message(self, lang: str = "vi") -> str:
        """The message in ``lang`` (``"vi"`` or ``"en"``)."""
        return self.message_vi if lang == "vi" else self.message_en


def _rebuild_invalid_input(
    cls: type[InvalidInputError], message_en: str, message_vi: str
) -> InvalidInputError:
    return cls(message_en, message_vi=message_vi)


class InputTypeError(InvalidInputError, TypeError):
    """An argument has the wrong type (also a :class:`TypeError`): e.g. ``at="2026-01-01"``."""


class IdentifierError(InvalidInputError):
    """A personal ID number, legacy alias or mã số ASXH is invalid.

    Messages never echo the full identifier: at most its last three digits
    (Law 91/2025/QH15 treats the number as personal data; logs and error pages leak).
    """

    default_vi = "Số định danh cá nhân hoặc mã số không hợp lệ."


class EntitlementError(InvalidInputError):
    """An entitlement or programme attribute is invalid, or a field may never go on a card."""

    default_vi = "Thông tin chế độ được hưởng không hợp lệ."


class CardTooLargeError(InvalidInputError):
    """The card would not fit in a QR code of version 20 at error correction M (DESIGN.md §3)."""

    default_vi = "Thẻ có quá nhiều thông tin, không vừa mã QR: hãy bớt chế độ trên thẻ."


class KeyStoreError(AsxhError):
    """An issuer or root key could not be created, loaded or decrypted."""


class Reason(StrEnum):
    """Stable reason codes of verification failures (part of the public, documented contract)."""

    MALFORMED = "malformed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNKNOWN_KEY = "unknown_key"
    KEY_OUTSIDE_WINDOW = "key_outside_window"
    ISSUER_OUT_OF_SCOPE = "issuer_out_of_scope"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    BUNDLE_INVALID = "bundle_invalid"
    BUNDLE_STALE = "bundle_stale"
    BUNDLE_ROLLBACK = "bundle_rollback"
    CLOCK_BEFORE_BUNDLE = "clock_before_bundle"
    STATUS_LIST_INVALID = "status_list_invalid"
    STATUS_LIST_STALE = "status_list_stale"
    STATUS_LIST_MISSING = "status_list_missing"
    STATUS_LIST_ROLLBACK = "status_list_rollback"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    STATUS_REFERENCE_MISSING = "status_reference_missing"
    INTERNAL_ERROR = "internal_error"


class Outcome(StrEnum):
    """What a clerk is told: the card is valid, invalid, or cannot be checked right now.

    ``cannot_check`` means the verifier's own data (trust bundle, status list) is out of date or
    missing, the device clock is wrong, or the verifier failed: update the data (or fix the
    clock) and check again. It never means the card is invalid.
    """

    VALID = "valid"
    INVALID = "invalid"
    CANNOT_CHECK = "cannot_check"


#: The clerk's headline for each outcome, Vietnamese first (CLI, service, web page).
OUTCOME_HEADLINES: dict[Outcome, tuple[str, str]] = {
    Outcome.VALID: ("THẺ HỢP LỆ", "VALID CARD"),
    Outcome.INVALID: ("THẺ KHÔNG HỢP LỆ", "INVALID CARD"),
    Outcome.CANNOT_CHECK: (
        "CHƯA KIỂM TRA ĐƯỢC THẺ: HÃY CẬP NHẬT DỮ LIỆU",
        "CANNOT CHECK THE CARD: UPDATE THE DATA",
    ),
}


class VerificationError(AsxhError):
    """A card, trust bundle or status list failed verification.

    ``reason`` is a stable code from :class:`Reason`; ``message_vi`` and ``message_en`` explain
    it for a clerk and a developer; ``detail`` (English, optional) says exactly which check
    failed. ``str(err)`` is the English message followed by the detail.
    """

    reason: ClassVar[Reason] = Reason.MALFORMED
    #: ``invalid`` or ``cannot_check`` (:class:`Outcome`); an instance may override it.
    default_outcome: ClassVar[Outcome] = Outcome.INVALID
    default_vi: ClassVar[str] = "Thẻ không hợp lệ."
    default_en: ClassVar[str] = "The card is not valid."

    def __init__(
        self,
        detail: str = "",
        *,
        message_vi: str | None = None,
        message_en: str | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        self.detail = detail
        self.message_vi = message_vi or self.default_vi
        self.message_en = message_en or self.default_en
        self.outcome = outcome or self.default_outcome
        super().__init__(f"{self.message_en} ({detail})" if detail else self.message_en)

    @property
    def cannot_check(self) -> bool:
        """True when the card could not be checked (update the data); False when invalid."""
        return self.outcome is Outcome.CANNOT_CHECK

    def headline(self, lang: str = "vi") -> str:
        """The clerk's headline for this outcome in ``lang`` ("THẺ KHÔNG HỢP LỆ", ...)."""
        vi, en = OUTCOME_HEADLINES[self.outcome]
        return vi if lang == "vi" else en

    def message(self, lang: str = "vi") -> str:
        """The message in ``lang`` (``"vi"`` or ``"en"``)."""
        return self.message_vi if lang == "vi" else self.message_en


class MalformedError(VerificationError):
    """The text or image is not a well-formed card (encoding, JWS structure, JSON, claims)."""

    reason = Reason.MALFORMED
    default_vi = "Mã QR không phải là thẻ ASXH hợp lệ hoặc đã bị hỏng."
    default_en = "The QR code is not a well-formed ASXH card, or it is damaged."


class PayloadTooLargeError(MalformedError):
    """An input exceeded a size limit checked before parsing (DESIGN.md §5)."""

    reason = Reason.PAYLOAD_TOO_LARGE
    default_vi = "Dữ liệu thẻ vượt quá kích thước cho phép."
    default_en = "The card data is larger than allowed."


class StatusReferenceMissingError(MalformedError):
    """The card carries no status reference, so it could never be revoked (DESIGN.md §4).

    Every card names its entry in a status list; a card without one is refused as invalid even
    when its signature is good (a leaked or buggy issuer would otherwise mint unrevocable cards).
    """

    reason = Reason.STATUS_REFERENCE_MISSING
    default_vi = (
        "Thẻ không có tham chiếu danh sách trạng thái nên không thể bị thu hồi: thẻ không hợp lệ."
    )
    default_en = (
        "The card carries no status reference, so it could never be revoked: it is not valid."
    )


class AlgorithmNotAllowedError(VerificationError):
    """The header names an algorithm outside the allow-list or one that does not fit the key."""

    reason = Reason.ALGORITHM_NOT_ALLOWED
    default_vi = "Thẻ dùng thuật toán ký không được chấp nhận."
    default_en = "The card uses a signature algorithm that is not allowed."


class BadSignatureError(VerificationError):
    """The signature does not verify with the issuer's key: the card was altered or forged."""

    reason = Reason.BAD_SIGNATURE
    default_vi = "Chữ ký trên thẻ không đúng: thẻ đã bị sửa đổi hoặc giả mạo."
    default_en = "The card's signature does not verify: it was altered or forged."


class UnknownIssuerError(VerificationError):
    """The issuer named by the card is not in the trust bundle."""

    reason = Reason.UNKNOWN_ISSUER
    default_vi = "Cơ quan cấp thẻ không có trong danh sách tin cậy."
    default_en = "The card's issuer is not in the trust bundle."


class UnknownKeyError(VerificationError):
    """The issuer is known but has no key with the card's ``kid``."""

    reason = Reason.UNKNOWN_KEY
    default_vi = "Khóa ký của thẻ không có trong danh sách tin cậy."
    default_en = "The key that signed the card is not in the trust bundle."


class KeyOutsideWindowError(VerificationError):
    """The key signed the card outside the signing window the bundle gives it."""

    reason = Reason.KEY_OUTSIDE_WINDOW
    default_vi = "Thẻ được ký ngoài thời hạn sử dụng của khóa ký."
    default_en = "The card was signed outside its key's signing window."


class IssuerOutOfScopeError(VerificationError):
    """The issuer signed a programme or a province it may not sign for."""

    reason = Reason.ISSUER_OUT_OF_SCOPE
    default_vi = "Cơ quan cấp thẻ không có thẩm quyền với nội dung trên thẻ."
    default_en = "The issuer may not sign this card's programme or province."


class ExpiredError(VerificationError):
    """The card (or a token) is past its ``exp``, leeway included."""

    reason = Reason.EXPIRED
    default_vi = "Thẻ đã hết hạn."
    default_en = "The card has expired."


class NotYetValidError(VerificationError):
    """The card (or a token) is before its ``nbf``, leeway included."""

    reason = Reason.NOT_YET_VALID
    default_vi = "Thẻ chưa đến ngày có hiệu lực."
    default_en = "The card is not valid yet."


class RevokedError(VerificationError):
    """The card has been revoked in its status list."""

    reason = Reason.REVOKED
    default_vi = "Thẻ đã bị thu hồi."
    default_en = "The card has been revoked."


class SuspendedError(VerificationError):
    """The card is suspended in its status list."""

    reason = Reason.SUSPENDED
    default_vi = "Thẻ đang bị tạm dừng."
    default_en = "The card is suspended."


class BundleInvalidError(VerificationError):
    """The trust bundle is malformed or not signed by a pinned root key."""

    reason = Reason.BUNDLE_INVALID
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Gói dữ liệu tin cậy không hợp lệ."
    default_en = "The trust bundle is not valid."


class BundleStaleError(VerificationError):
    """The trust bundle is past its expiry or its freshness limit."""

    reason = Reason.BUNDLE_STALE
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Gói dữ liệu tin cậy đã quá cũ, cần cập nhật."
    default_en = "The trust bundle is out of date and must be refreshed."


class BundleRollbackError(BundleInvalidError):
    """A bundle older than the one already held was offered (rollback, DESIGN.md §4)."""

    reason = Reason.BUNDLE_ROLLBACK
    default_vi = "Gói dữ liệu tin cậy cũ hơn gói đang dùng."
    default_en = "The trust bundle is older than the one already installed."


class ClockBeforeBundleError(VerificationError):
    """The device clock is earlier than the bundle's issue time: the clock is wrong."""

    reason = Reason.CLOCK_BEFORE_BUNDLE
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Đồng hồ của thiết bị sai (sớm hơn thời điểm phát hành gói dữ liệu tin cậy)."
    default_en = "The device clock is wrong: it is earlier than the trust bundle's issue time."


class StatusListInvalidError(VerificationError):
    """A status list token is malformed, badly signed, or of the wrong bit size."""

    reason = Reason.STATUS_LIST_INVALID
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Danh sách trạng thái thẻ không hợp lệ."
    default_en = "The card status list is not valid."


class StatusListMissingError(VerificationError):
    """The card's status list (under its issuer's status base) is not held: sync first."""

    reason = Reason.STATUS_LIST_MISSING
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Chưa có danh sách trạng thái của thẻ này, cần cập nhật dữ liệu."
    default_en = "The card's status list is not on this device; update the data."


class StatusListRollbackError(StatusListInvalidError):
    """A status list older (by ``iat``) than the one already held was offered (rollback)."""

    reason = Reason.STATUS_LIST_ROLLBACK
    default_vi = "Danh sách trạng thái thẻ cũ hơn danh sách đang dùng."
    default_en = "The status list is older than the one already held."


class CardLifetimeError(VerificationError):
    """The card's lifetime (``exp - iat``) exceeds the verifier's maximum (default 10 years)."""

    reason = Reason.LIFETIME_TOO_LONG
    default_vi = "Thời hạn của thẻ dài hơn mức tối đa cho phép."
    default_en = "The card's lifetime is longer than the maximum allowed."


class StatusListStaleError(VerificationError):
    """A status list token is past its ``exp`` or ``ttl``."""

    reason = Reason.STATUS_LIST_STALE
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = "Danh sách trạng thái thẻ đã quá cũ, cần cập nhật."
    default_en = "The card status list is out of date and must be refreshed."


class InternalVerifierError(VerificationError):
    """The verifier failed on its own (a bug), not because of the card: it cannot say either way.

    Raised instead of letting a :class:`TypeError` or :class:`AttributeError` escape, and never
    reported as ``malformed``: the card may be perfectly valid.
    """

    reason = Reason.INTERNAL_ERROR
    default_outcome = Outcome.CANNOT_CHECK
    default_vi = (
        "Phần mềm kiểm tra thẻ gặp lỗi nội bộ; chưa kết luận được về thẻ. "
        "Hãy báo cho bộ phận kỹ thuật."
    )
    default_en = "The verifier failed internally; the card could not be checked. Report it."
