"""Shared fixtures of the issuing tests: one key per session, a fixed clock, sample people."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.card import Guardian, Holder
from asxh_card.issuing.issuer import Issuer
from asxh_card.programmes import Entitlement

URI = "https://status.asxh.gov.vn/lists/79/1"
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
HOLDER_NUMBER = "79159880008"
GUARDIAN_NUMBER = "79428804839"
OTHER_NUMBER = "01674465227"
LONG_NAME = "Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Ngọc Bảo Trâm"


def status(idx: int) -> StatusRef:
    return StatusRef(idx=idx, uri=URI)


def six_programmes() -> tuple[Entitlement, ...]:
    """All six programmes with realistic attributes (their status entries follow the card's)."""
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    bhyt_attrs = {"level": 2, "coverage": 100, "facility": "79-123"}
    gn_attrs = {"kind": "near_poor", "household": "HN-2026-001234"}
    return (
        Entitlement("TGXH", start, end, {"amount": 1_500_000}),
        Entitlement("GN", start, end, gn_attrs),
        Entitlement("NCC", start, None, {"amount": 2_789_000}),
        Entitlement("BHXH", start, None, {"kind": "pensioner"}),
        Entitlement("BHYT", start, end, bhyt_attrs),
        Entitlement("BHTN", start, date(2026, 6, 30), {"amount": 4_960_000}),
    )


def bhyt() -> Entitlement:
    return Entitlement(
        "BHYT",
        date(2026, 1, 1),
        date(2026, 12, 31),
        {"level": 2, "coverage": 100, "facility": "79-123"},
    )


@pytest.fixture(scope="session")
def key() -> PrivateKey:
    return PrivateKey.generate("ES256")


@pytest.fixture
def issuer(key: PrivateKey) -> Issuer:
    serials = iter(f"TEST{i:08d}" for i in range(1_000_000))
    return Issuer(
        issuer_id="vn-79",
        province="79",
        signer=key,
        clock=lambda: NOW,
        serials=lambda: next(serials),
    )


@pytest.fixture
def holder() -> Holder:
    return Holder(HOLDER_NUMBER, "Nguyễn Thị Ngọc Hường", date(1958, 3, 2), "F")


@pytest.fixture
def guardian() -> Guardian:
    return Guardian(GUARDIAN_NUMBER, "Đặng Quốc Bảo", "authorised")


def lookup_for(key: PrivateKey) -> Any:
    def lookup(issuer: str, kid: str) -> PublicKey | None:
        return key.public_key if (issuer, kid) == ("vn-79", key.kid) else None

    return lookup


@pytest.fixture
def largest_entitlements() -> tuple[Entitlement, ...]:
    return six_programmes()


@pytest.fixture
def bhyt_entitlement() -> Entitlement:
    return bhyt()


@pytest.fixture
def lookup(key: PrivateKey) -> Any:
    return lookup_for(key)
