"""What a successful verification returns: frozen, typed, and JSON-ready.

:meth:`VerificationResult.to_json` is the stable object ``asxh verify --json`` prints
(docs/verifier.md documents every member); do not rename members without a format bump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import msgspec

from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import as_aware, vn_date
from asxh_card.card import Guardian, Holder
from asxh_card.errors import Outcome
from asxh_card.programmes import AttributeValue, EntitlementState

__all__ = [
    "JSON_FORMAT_VERSION",
    "BhytCoverage",
    "CardValidity",
    "EntitlementResult",
    "IssuerInfo",
    "VerificationResult",
    "VerificationWarning",
]

#: Version of the ``--json`` object; bumped only on an incompatible change.
JSON_FORMAT_VERSION = 1
_SEPARATORS = re.compile(r"[\s-]")


class VerificationWarning(msgspec.Struct, frozen=True):
    """A condition worth telling the clerk about that does not make the card invalid."""

    code: str
    message_vi: str
    message_en: str

    def message(self, lang: str = "vi") -> str:
        """The message in ``lang`` (``"vi"`` or ``"en"``)."""
        return self.message_vi if lang == "vi" else self.message_en


class IssuerInfo(msgspec.Struct, frozen=True):
    """The issuer as the trust bundle names it."""

    id: str
    name: str
    province: str


class CardValidity(msgspec.Struct, frozen=True):
    """The card's own validity window (aware UTC datetimes)."""

    issued_at: datetime
    not_before: datetime
    expires_at: datetime


class EntitlementResult(msgspec.Struct, frozen=True):
    """One programme on the card and its state at the verification time."""

    programme: str
    valid_from: date
    valid_to: date | None
    attributes: Mapping[str, AttributeValue]
    state: EntitlementState
    status: StatusRef | None = None

    def active_on(self, day: date) -> bool:
        """Whether the entitlement is active on Vietnamese calendar ``day``.

        A suspended or revoked entitlement is never active: its status is the one the status
        list gave at verification time.
        """
        if self.state in (EntitlementState.SUSPENDED, EntitlementState.REVOKED):
            return False
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class BhytCoverage(msgspec.Struct, frozen=True):
    """Health-insurance (BHYT) cover on a day: benefit level 1-5, coverage %, facility code."""

    level: int
    coverage: int
    facility: str | None
    valid_from: date
    valid_to: date | None


def _day(at: date | datetime) -> date:
    if isinstance(at, datetime):
        return vn_date(as_aware(at))
    return at


class VerificationResult(msgspec.Struct, frozen=True):
    """A card that passed every check (an invalid card raises instead)."""

    holder: Holder
    issuer: IssuerInfo
    validity: CardValidity
    serial: str
    guardian: Guardian | None
    entitlements: tuple[EntitlementResult, ...]
    checked_at: datetime
    bundle_version: int
    warnings: tuple[VerificationWarning, ...] = ()

    @property
    def valid(self) -> bool:
        """Always True: an invalid card raises :class:`~asxh_card.errors.VerificationError`."""
        return True

    @property
    def outcome(self) -> Outcome:
        """Always ``Outcome.VALID``; the other two outcomes are on the error raised instead."""
        return Outcome.VALID

    def entitlement(self, programme: str) -> EntitlementResult | None:
        """The entitlement for ``programme`` (e.g. ``"BHYT"``), or None if the card has none."""
        return next((e for e in self.entitlements if e.programme == programme), None)

    def bhyt_at(self, day: date | datetime | None = None) -> BhytCoverage | None:
        """BHYT cover on ``day`` (default: the verification day, Vietnam time), or None.

        None when the card has no BHYT entitlement, or it is not active that day (outside its
        window, suspended or revoked).
        """
        entitlement = self.entitlement("BHYT")
        if entitlement is None or not entitlement.active_on(_day(day or self.checked_at)):
            return None
        level = entitlement.attributes.get("level")
        coverage = entitlement.attributes.get("coverage")
        facility = entitlement.attributes.get("facility")
        if not isinstance(level, int) or not isinstance(coverage, int):
            return None  # pragma: no cover - the programme registry requires both
        return BhytCoverage(
            level=level,
            coverage=coverage,
            facility=facility if isinstance(facility, str) else None,
            valid_from=entitlement.valid_from,
            valid_to=entitlement.valid_to,
        )

    def may_collect(
        self,
        programme: str = "TGXH",
        *,
        collector: str,
        at: date | datetime | None = None,
    ) -> bool:
        """Whether ``collector`` (a mã số ASXH) may collect ``programme`` payments on ``at``.

        True when the collector is the holder or the card's guardian / authorised person, and
        the entitlement is active that day (not suspended, revoked, expired or not yet valid).
        """
        number = _SEPARATORS.sub("", collector)
        allowed = {self.holder.asxh_number}
        if self.guardian is not None:
            allowed.add(self.guardian.asxh_number)
        if number not in allowed:
            return False
        entitlement = self.entitlement(programme)
        return entitlement is not None and entitlement.active_on(_day(at or self.checked_at))

    def to_json(self) -> dict[str, Any]:
        """The stable ``asxh verify --json`` object (docs/verifier.md)."""
        return {
            "format": JSON_FORMAT_VERSION,
            "valid": True,
            "outcome": Outcome.VALID.value,
            "reason": None,
            "checked_at": self.checked_at.isoformat(),
            "bundle_version": self.bundle_version,
            "serial": self.serial,
            "issuer": {
                "id": self.issuer.id,
                "name": self.issuer.name,
                "province": self.issuer.province,
            },
            "holder": {
                "asxh_number": self.holder.asxh_number,
                "name": self.holder.name,
                "date_of_birth": self.holder.date_of_birth.isoformat(),
                "sex": self.holder.sex,
            },
            "guardian": None
            if self.guardian is None
            else {
                "asxh_number": self.guardian.asxh_number,
                "name": self.guardian.name,
                "relation": self.guardian.relation,
            },
            "validity": {
                "issued_at": self.validity.issued_at.isoformat(),
                "not_before": self.validity.not_before.isoformat(),
                "expires_at": self.validity.expires_at.isoformat(),
            },
            "entitlements": [
                {
                    "programme": e.programme,
                    "state": e.state.value,
                    "valid_from": e.valid_from.isoformat(),
                    "valid_to": None if e.valid_to is None else e.valid_to.isoformat(),
                    "attributes": dict(e.attributes),
                }
                for e in self.entitlements
            ],
            "warnings": [{"code": w.code, "message": w.message_en} for w in self.warnings],
        }
