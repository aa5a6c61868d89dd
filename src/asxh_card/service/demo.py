"""Demo seeding (``asxh serve --demo``): DEMO keys, issuers, operators and synthetic people.

Everything is idempotent: a second start finds the seeded data and only prints the log-in
information again. The keys and secrets under the var directory are **demo keys**; the people
are synthetic (random PINs with a valid shape, invented names).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.service import cards, registry
from asxh_card.service.audit import Actor
from asxh_card.service.bundles import latest_bundle
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.models import CardRow, IssuerRow, OperatorRow, PersonRow
from asxh_card.service.registry import PersonData
from asxh_card.service.security import Principal
from asxh_card.service.settings import load_or_create_secrets
from asxh_card.service.states import State

__all__ = ["DEMO_ISSUERS", "DemoInfo", "ensure_issuer", "ensure_operator", "seed"]

ALL_PROGRAMMES: Final = ("TGXH", "GN", "NCC", "BHXH", "BHYT", "BHTN", "HTXH")
DEMO_ISSUERS: Final = (
    ("vn-79", "Sở Y tế Thành phố Hồ Chí Minh (DEMO)", "79", "079"),
    ("vn-01", "Sở Y tế Thành phố Hà Nội (DEMO)", "01", "001"),
)
_SYSTEM = Actor(
    Principal(username="demo-seed", role="national_admin", province=None, programmes=())
)

_FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
_MIDDLE_M = ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành")
_MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ")
_GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Hùng", "Khang", "Long", "Nam", "Phúc", "Sơn", "Tuấn")
_GIVEN_F = ("Anh", "Chi", "Hà", "Hạnh", "Hoa", "Lan", "Linh", "Mai", "Ngân", "Thảo", "Yến")
_WARDS = {
    "79": ("Phường Sài Gòn", "Phường Bến Thành", "Xã Cần Giờ", "Phường Thủ Đức"),
    "01": ("Phường Hoàn Kiếm", "Phường Ba Đình", "Xã Sóc Sơn", "Phường Cầu Giấy"),
}


@dataclass(frozen=True, slots=True)
class DemoInfo:
    """What the demo printed: operator passwords and a sample card."""

    passwords: dict[str, str]
    sample_serial: str | None
    sample_number: str | None
    people: int


def ensure_issuer(
    session: Session,
    ctx: ServiceContext,
    issuer_id: str,
    *,
    name: str,
    province: str,
    programmes: tuple[str, ...] = ALL_PROGRAMMES,
) -> IssuerRow:
    """The issuer, created with a first key when missing."""
    issuer = session.get(IssuerRow, issuer_id)
    if issuer is None:
        issuer = IssuerRow(
            id=issuer_id,
            name=name,
            province=province,
            programmes=sorted(programmes),
            created_at=utc_now(),
        )
        session.add(issuer)
        session.flush()
    if ctx.keyring.active_key(session, issuer_id) is None:
        ctx.keyring.create_issuer_key(session, issuer)
    return issuer


def ensure_operator(
    session: Session,
    ctx: ServiceContext,
    username: str,
    *,
    password: str,
    role: str,
    province: str | None = None,
    programmes: tuple[str, ...] = (),
) -> OperatorRow:
    """The operator account, created when missing (the password is not changed otherwise)."""
    row = session.scalars(select(OperatorRow).where(OperatorRow.username == username)).first()
    if row is None:
        row = OperatorRow(
            username=username,
            password_hash=ctx.passwords.hash(password),
            role=role,
            province=province,
            programmes=list(programmes),
            active=True,
            created_at=utc_now(),
        )
        session.add(row)
        session.flush()
    return row


def _passwords(var_dir: Path) -> dict[str, str]:
    values, _created = load_or_create_secrets(
        var_dir / "demo-operators.json",
        lambda: {
            name: f"demo-{secrets.token_urlsafe(9)}"
            for name in ("admin", "officer79", "officer01", "auditor", "servicepoint")
        },
    )
    return values


def synthetic_pin(rng: random.Random, prefix: str, dob: date, sex: str) -> str:
    """A PIN with a valid shape (prefix, century/sex digit, year) and 6 random digits."""
    century = (dob.year - 1900) // 100
    digit = century * 2 + (1 if sex == "F" else 0)
    return f"{prefix}{digit}{dob.year % 100:02d}{rng.randrange(10**6):06d}"


def _person(rng: random.Random, province: str) -> tuple[PersonData, str]:
    sex = rng.choice(("M", "F"))
    middle = _MIDDLE_F if sex == "F" else _MIDDLE_M
    given = _GIVEN_F if sex == "F" else _GIVEN_M
    name = f"{rng.choice(_FAMILY)} {rng.choice(middle)} {rng.choice(given)}"
    dob = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 80))
    ward = rng.choice(_WARDS[province])
    data = PersonData(
        full_name=name,
        date_of_birth=dob,
        sex=sex,
        hometown=f"{ward}, {'Thành phố Hồ Chí Minh' if province == '79' else 'Thành phố Hà Nội'}",
        permanent_address=f"{rng.randrange(1, 300)} đường số {rng.randrange(1, 40)}, {ward}",
    )
    return data, sex


def _entitlements(rng: random.Random) -> list[tuple[str, dict[str, Any], str]]:
    options: list[tuple[str, dict[str, Any], str]] = [
        ("BHYT", {"level": 2, "coverage": 100, "facility": "79-001"}, "HN"),
        ("TGXH", {"amount": rng.choice((500_000, 750_000, 1_000_000))}, "Art. 5(5)"),
        ("GN", {"kind": rng.choice(("poor", "near_poor"))}, "2025 review"),
        ("NCC", {"amount": 2_789_000}, "Art. 3 relative"),
        ("BHXH", {"kind": rng.choice(("participant", "pensioner"))}, ""),
    ]
    return [options[0], *rng.sample(options[1:], rng.randrange(0, 3))]


def seed(ctx: ServiceContext, *, people: int = 100, seed_value: int | None = None) -> DemoInfo:
    """Seed the demo (idempotently) and return what to print."""
    ctx.keyring.ensure_root()
    passwords = _passwords(ctx.settings.var_dir)
    with session_scope(ctx.sessions) as session:
        for issuer_id, name, province, _prefix in DEMO_ISSUERS:
            ensure_issuer(session, ctx, issuer_id, name=name, province=province)
        for username, role, province_code, programmes in (
            ("admin", "national_admin", None, ()),
            ("officer79", "issuer_officer", "79", ALL_PROGRAMMES),
            ("officer01", "issuer_officer", "01", ALL_PROGRAMMES),
            ("auditor", "auditor", None, ()),
            ("servicepoint", "service_point", None, ()),
        ):
            ensure_operator(
                session,
                ctx,
                username,
                password=passwords[username],
                role=role,
                province=province_code,
                programmes=programmes,
            )
        existing = session.scalar(select(func.count()).select_from(PersonRow)) or 0
    rng = random.Random(seed_value)  # noqa: S311 - synthetic demo data, not secrets
    today = vn_date(utc_now())
    sample: tuple[str | None, str | None] = (None, None)
    with session_scope(ctx.sessions) as session:
        for i in range(max(0, people - existing)):
            _issuer_id, _name, province, prefix = DEMO_ISSUERS[i % 2]
            data, sex = _person(rng, province)
            pin = synthetic_pin(rng, prefix, data.date_of_birth, sex)
            outcome = registry.register(
                session, ctx.protector, _SYSTEM, province=province, pin=pin, data=data
            )
            person = outcome.person
            for programme, base_attributes, category in _entitlements(rng):
                attributes = dict(base_attributes)
                if programme == "BHYT":
                    attributes["facility"] = f"{province}-001"
                cards.grant(
                    session,
                    ctx.programmes,
                    _SYSTEM,
                    person,
                    programme=programme,
                    valid_from=date(today.year, 1, 1),
                    valid_to=date(today.year, 12, 31) if programme == "BHYT" else None,
                    attributes=attributes,
                    category=category or None,
                )
            card = cards.issue_card(session, ctx, _SYSTEM, person).card
            if sample == (None, None) and province == "79":
                sample = (card.serial, person.asxh_number)
    if sample == (None, None):
        with session_scope(ctx.sessions) as session:
            card_row = session.scalars(
                select(CardRow)
                .where(CardRow.province == "79", CardRow.state == State.ACTIVE)
                .limit(1)
            ).first()
            if card_row is not None:
                person_row = session.get(PersonRow, card_row.person_id)
                sample = (card_row.serial, person_row.asxh_number if person_row else None)
    with session_scope(ctx.sessions) as session:
        total = session.scalar(select(func.count()).select_from(PersonRow)) or 0
        latest_bundle(session, ctx.settings, ctx.keyring)
    return DemoInfo(
        passwords=passwords, sample_serial=sample[0], sample_number=sample[1], people=total
    )
