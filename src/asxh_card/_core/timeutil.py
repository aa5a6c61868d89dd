"""Time helpers: the card's dates are Vietnamese calendar dates (UTC+07:00, no daylight saving)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, timezone

from asxh_card.errors import InvalidInputError

#: Indochina Time. Vietnam keeps no daylight-saving time, so a fixed offset is exact.
VN_TZ = timezone(timedelta(hours=7), "ICT")
_VN_OFFSET_SECONDS = 7 * 3600
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ISODateError(InvalidInputError):
    """Not an exact ``YYYY-MM-DD`` calendar date; the message completes "<field> ..."."""


def parse_iso_date(value: object) -> date:
    """The date of an exact ``YYYY-MM-DD`` string (ASCII digits only).

    Stricter than :meth:`date.fromisoformat`, which in Python 3.11 also takes ``20260101`` and
    ``2026-W01-1``: the wire form has one spelling per date. Raises :class:`ISODateError`.
    """
    if not isinstance(value, str):
        raise ISODateError("must be a date string YYYY-MM-DD")
    parsed = _iso_date(value)
    if isinstance(parsed, str):
        raise ISODateError(parsed)
    return parsed


@functools.lru_cache(maxsize=4096)
def _iso_date(value: str) -> date | str:
    # Cached: cards repeat a handful of dates (programme years, card windows).
    if _ISO_DATE.fullmatch(value) is None:
        return "must be a date string YYYY-MM-DD"
    try:
        return date.fromisoformat(value)
    except ValueError:
        return "is not a calendar date"


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def as_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: a naive time is ambiguous by 7 hours here."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError("datetime must be timezone-aware")
    return moment


def vn_date(moment: datetime) -> date:
    """The Vietnamese calendar date at ``moment``."""
    return as_aware(moment).astimezone(VN_TZ).date()


def vn_day(seconds: int) -> date:
    """The Vietnamese calendar date at POSIX time ``seconds`` (a NumericDate such as ``exp``).

    The one rule for "which day is it in Vietnam" from a timestamp; :func:`vn_date` is the same
    for a datetime. Integer arithmetic, no datetime: the verifier calls it on every card.
    """
    return date.fromordinal(_EPOCH_ORDINAL + (seconds + _VN_OFFSET_SECONDS) // 86_400)
