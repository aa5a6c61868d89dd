"""Registered time claims (RFC 7519 §4.1.4-4.1.6) with leeway and an injected clock.

A NumericDate must be a JSON integer of seconds. Strings, floats and booleans are refused, and so
are values past the year 2200: a millisecond timestamp (about 1.7e12 today) would otherwise read as
a date tens of thousands of years away and make a card valid forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asxh_card.errors import ExpiredError, MalformedError, NotYetValidError

__all__ = [
    "DEFAULT_LEEWAY",
    "MAX_NUMERIC_DATE",
    "check_time_claims",
    "check_times",
    "numeric_date",
    "required_numeric_date",
]

#: Five minutes: the leeway the verifier grants for clock skew (issue 4 §2).
DEFAULT_LEEWAY = 300
#: 2200-01-01T00:00:00Z.
MAX_NUMERIC_DATE = 7_258_118_400


def numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    """The integer value of claim ``name``, or None when absent and not ``required``."""
    if name not in claims:
        if required:
            raise MalformedError(f"missing claim {name}")
        return None
    value = claims[name]
    if type(value) is not int:  # bool is a subclass of int: refuse it too
        raise MalformedError(f"claim {name} must be an integer number of seconds")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise MalformedError(f"claim {name} is out of range (milliseconds instead of seconds?)")
    return value


def required_numeric_date(claims: Mapping[str, Any], name: str) -> int:
    """The integer value of claim ``name``, which must be present."""
    value = numeric_date(claims, name, required=True)
    if value is None:  # pragma: no cover - required=True never returns None
        raise MalformedError(f"missing claim {name}")
    return value


def check_time_claims(
    claims: Mapping[str, Any],
    *,
    now: int,
    leeway: int = DEFAULT_LEEWAY,
    require_exp: bool = True,
) -> None:
    """Check ``iat``, ``nbf`` and ``exp`` against ``now`` (seconds) with ``leeway`` seconds."""
    check_times(
        required_numeric_date(claims, "iat"),
        numeric_date(claims, "nbf", required=False),
        numeric_date(claims, "exp", required=require_exp),
        now=now,
        leeway=leeway,
    )


def check_times(iat: int, nbf: int | None, exp: int | None, *, now: int, leeway: int) -> None:
    """The checks of :func:`check_time_claims` on values already read as NumericDates."""
    if exp is not None and (exp < iat or (nbf is not None and exp < nbf)):
        raise MalformedError("exp is before iat or nbf")
    if iat > now + leeway:
        raise NotYetValidError("issued in the future (iat)")
    if nbf is not None and nbf > now + leeway:
        raise NotYetValidError("before nbf")
    if exp is not None and now > exp + leeway:
        raise ExpiredError("past exp")
