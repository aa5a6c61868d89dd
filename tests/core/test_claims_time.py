"""Registered time claims (RFC 7519 §4.1.4-6) with leeway and an injected clock; time helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from asxh_card._core.claims import DEFAULT_LEEWAY, MAX_NUMERIC_DATE, check_time_claims, numeric_date
from asxh_card._core.timeutil import VN_TZ, as_aware, utc_now, vn_date
from asxh_card.errors import ExpiredError, MalformedError, NotYetValidError, Reason

NOW = 1_780_000_000


def test_valid_window() -> None:
    """iat <= now, nbf <= now <= exp passes."""
    check_time_claims({"iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 10}, now=NOW)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (str(NOW), "string"),
        (float(NOW), "float"),
        (True, "boolean"),
        (False, "boolean"),
        (None, "null"),
        ([NOW], "array"),
        (NOW * 1000, "milliseconds"),
        (-1, "negative"),
        (MAX_NUMERIC_DATE + 1, "past 2200"),
    ],
)
@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
def test_numeric_date_refusals(claim: str, value: object, what: str) -> None:
    """Timestamps as strings, floats, booleans, milliseconds or out of range are malformed."""
    claims: dict[str, object] = {"iat": NOW, "nbf": NOW, "exp": NOW + 10, claim: value}
    with pytest.raises(MalformedError) as info:
        check_time_claims(claims, now=NOW)
    assert info.value.reason is Reason.MALFORMED


def test_bounds_are_accepted() -> None:
    """0 and 2200-01-01 are the extreme accepted NumericDates."""
    assert numeric_date({"t": 0}, "t", required=True) == 0
    assert numeric_date({"t": MAX_NUMERIC_DATE}, "t", required=True) == MAX_NUMERIC_DATE
    assert numeric_date({}, "t", required=False) is None


def test_required_claims() -> None:
    """iat is always required; exp unless require_exp=False; nbf never."""
    with pytest.raises(MalformedError, match="missing claim iat"):
        check_time_claims({"exp": NOW}, now=NOW)
    with pytest.raises(MalformedError, match="missing claim exp"):
        check_time_claims({"iat": NOW}, now=NOW)
    check_time_claims({"iat": NOW}, now=NOW, require_exp=False)


def test_exp_before_iat_or_nbf_is_malformed() -> None:
    """An exp before iat or before nbf is self-contradictory."""
    with pytest.raises(MalformedError, match="before"):
        check_time_claims({"iat": NOW, "exp": NOW - 1}, now=NOW)
    with pytest.raises(MalformedError, match="before"):
        check_time_claims({"iat": NOW - 100, "nbf": NOW, "exp": NOW - 1}, now=NOW)


def test_expiry_with_leeway() -> None:
    """exp + leeway is the last accepted second; one second later is expired."""
    claims = {"iat": NOW - 1000, "exp": NOW - DEFAULT_LEEWAY}
    check_time_claims(claims, now=NOW)
    with pytest.raises(ExpiredError) as info:
        check_time_claims(claims, now=NOW + 1)
    assert info.value.reason is Reason.EXPIRED
    with pytest.raises(ExpiredError):
        check_time_claims({"iat": NOW - 1000, "exp": NOW - 1}, now=NOW, leeway=0)


def test_not_before_with_leeway() -> None:
    """nbf - leeway is the first accepted second; one second earlier is not yet valid."""
    claims = {"iat": NOW - 1000, "nbf": NOW + DEFAULT_LEEWAY, "exp": NOW + 10_000}
    check_time_claims(claims, now=NOW)
    with pytest.raises(NotYetValidError, match="nbf") as info:
        check_time_claims(claims, now=NOW - 1)
    assert info.value.reason is Reason.NOT_YET_VALID


def test_issued_in_the_future() -> None:
    """A token issued after now + leeway is not yet valid (clock skew beyond the leeway)."""
    with pytest.raises(NotYetValidError, match="iat"):
        check_time_claims({"iat": NOW + DEFAULT_LEEWAY + 1, "exp": NOW + 10_000}, now=NOW)
    check_time_claims({"iat": NOW + DEFAULT_LEEWAY, "exp": NOW + 10_000}, now=NOW)


def test_default_leeway_is_five_minutes() -> None:
    """The leeway is five minutes."""
    assert DEFAULT_LEEWAY == 300


def test_utc_now_is_aware() -> None:
    """utc_now is timezone-aware UTC."""
    now = utc_now()
    assert now.tzinfo is UTC


def test_as_aware_refuses_naive() -> None:
    """A naive datetime is ambiguous by seven hours and is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        as_aware(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    assert as_aware(aware) is aware


def test_vn_date_is_utc_plus_7() -> None:
    """17:00 UTC is already the next day in Vietnam."""
    assert vn_date(datetime(2025, 12, 31, 17, 0, tzinfo=UTC)) == date(2026, 1, 1)
    assert vn_date(datetime(2025, 12, 31, 16, 59, tzinfo=UTC)) == date(2025, 12, 31)
    assert vn_date(datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=9)))) == date(
        2025, 12, 31
    )
    assert VN_TZ.utcoffset(None) == timedelta(hours=7)
