"""Time helpers: the card's dates are Vietnamese calendar dates (UTC+07:00, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

#: Indochina Time. Vietnam keeps no daylight-saving time, so a fixed offset is exact.
VN_TZ = timezone(timedelta(hours=7), "ICT")


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def as_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: a naive time is ambiguous by 7 hours here."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment


def vn_date(moment: datetime) -> date:
    """The Vietnamese calendar date at ``moment``."""
    return as_aware(moment).astimezone(VN_TZ).date()
