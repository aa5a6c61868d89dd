"""The exception tree: one root, one verification umbrella, stable bilingual reason codes."""

from __future__ import annotations

import inspect

import pytest

from asxh_card import errors
from asxh_card.errors import AsxhError, Reason, VerificationError

VERIFICATION_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, VerificationError) and cls is not VerificationError
]

#: The public contract: these strings never change (DESIGN.md §5, verifier documentation).
STABLE_CODES = {
    "malformed",
    "payload_too_large",
    "algorithm_not_allowed",
    "bad_signature",
    "unknown_issuer",
    "unknown_key",
    "key_outside_window",
    "issuer_out_of_scope",
    "expired",
    "not_yet_valid",
    "revoked",
    "suspended",
    "bundle_invalid",
    "bundle_stale",
    "bundle_rollback",
    "clock_before_bundle",
    "status_list_invalid",
    "status_list_stale",
    "status_list_missing",
    "status_list_rollback",
    "lifetime_too_long",
    "status_reference_missing",
    "internal_error",
}


def test_reason_codes_are_stable() -> None:
    """The reason codes are exactly the documented set."""
    assert {r.value for r in Reason} == STABLE_CODES


def test_every_exported_class_derives_from_the_root() -> None:
    """Every exception in errors.__all__ derives from AsxhError."""
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, AsxhError), name


def test_each_reason_has_one_class() -> None:
    """Each reason code is carried by exactly one verification error class."""
    by_reason = {cls.reason: cls for cls in VERIFICATION_ERRORS}
    assert len(by_reason) == len(VERIFICATION_ERRORS) == len(Reason)


@pytest.mark.parametrize("cls", VERIFICATION_ERRORS, ids=lambda c: c.__name__)
def test_bilingual_messages(cls: type[VerificationError]) -> None:
    """Every verification error has its own Vietnamese and English message."""
    err = cls()
    assert err.message_vi != err.message_en
    assert err.message() == err.message_vi == cls.default_vi
    assert err.message("en") == err.message_en == cls.default_en
    assert str(err) == err.message_en
    assert err.detail == ""
    assert isinstance(err, VerificationError)
    assert isinstance(err, AsxhError)
    assert err.reason.value in STABLE_CODES
    assert cls.default_vi != VerificationError.default_vi


def test_detail_and_overrides() -> None:
    """The detail is appended to the English message; messages may be overridden."""
    err = errors.ExpiredError("past exp", message_vi="Hết hạn.", message_en="Expired.")
    assert str(err) == "Expired. (past exp)"
    assert err.message("vi") == "Hết hạn."
    assert err.detail == "past exp"


def test_umbrella_defaults() -> None:
    """The umbrella itself is malformed with generic messages."""
    err = VerificationError()
    assert err.reason is Reason.MALFORMED
    assert err.message("vi") == "Thẻ không hợp lệ."


def test_input_errors_are_value_errors() -> None:
    """Invalid input errors are ValueErrors; verification and key-store errors are not."""
    for cls in (
        errors.InvalidInputError,
        errors.IdentifierError,
        errors.EntitlementError,
        errors.CardTooLargeError,
    ):
        assert issubclass(cls, ValueError)
        assert not issubclass(cls, VerificationError)
    assert not issubclass(VerificationError, ValueError)
    assert not issubclass(errors.KeyStoreError, ValueError)


def test_subclass_relations() -> None:
    """payload_too_large is a kind of malformed; rollback is a kind of invalid bundle."""
    assert issubclass(errors.PayloadTooLargeError, errors.MalformedError)
    assert issubclass(errors.BundleRollbackError, errors.BundleInvalidError)
