"""Entitlements: one programme on a card, its validity window, attributes and status entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import ISODateError, parse_iso_date
from asxh_card.errors import EntitlementError
from asxh_card.programmes._common import AttributeValue, _is_int, _is_mapping, _show, _type_name
from asxh_card.programmes.fields import check_status_fields
from asxh_card.programmes.registry import ProgrammeRegistry

__all__ = ["Entitlement", "EntitlementState"]

# --------------------------------------------------------------------------------------------
# Entitlements


class EntitlementState(StrEnum):
    """Where an entitlement stands on a given day.

    :meth:`Entitlement.state_at` returns only the first three; the verifier sets ``suspended``
    and ``revoked`` from the entitlement's status-list entry.
    """

    ACTIVE = "active"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


def _empty_attributes() -> Mapping[str, AttributeValue]:
    return MappingProxyType({})


def _claim_date(value: object, key: str) -> date:
    try:
        return parse_iso_date(value)
    except ISODateError as exc:
        raise EntitlementError(f"entitlement claim: {key!r} {exc}") from None


def _check_day(value: object, name: str, programme: str) -> None:
    # A datetime is a date subclass, but comparing one with a date raises TypeError and its
    # isoformat() is not the wire form: the card's dates are Vietnamese calendar dates.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise EntitlementError(f"{programme}: {name} must be a date, got {_type_name(value)}")


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One programme on a card: what, from when to when, a few attributes, and a status entry.

    ``valid_to`` is inclusive; ``None`` means open-ended (bounded by the card's ``exp``).
    ``attributes`` is copied into a read-only mapping. Construction does not validate: call
    :meth:`validate` (``from_claim`` does).
    """

    programme: str
    valid_from: date
    valid_to: date | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=_empty_attributes, hash=False)
    status: StatusRef | None = None

    def __post_init__(self) -> None:
        """Freeze the attributes so a validated entitlement cannot change afterwards."""
        # Typed as object: these guard callers that ignore the annotations, which the
        # registry lookups below would otherwise turn into TypeError or KeyError.
        programme: object = self.programme
        attributes: object = self.attributes
        if not isinstance(programme, str):
            raise EntitlementError(f"programme must be a string, got {_type_name(programme)}")
        if not _is_mapping(attributes) or not all(isinstance(k, str) for k in attributes):
            raise EntitlementError(f"{programme}: attributes must be a mapping with string keys")
        object.__setattr__(self, "attributes", MappingProxyType(dict(attributes)))

    def with_status(self, status: StatusRef) -> Entitlement:
        """A copy of the entitlement with ``status`` as its status entry.

        ``dataclasses.replace`` would run ``__post_init__`` again and copy the attributes a
        second time; they are already a read-only mapping, so the copy shares them. The card
        model gives every entitlement its entry this way, on each issue and each parse.
        """
        copy = object.__new__(Entitlement)
        for name in ("programme", "valid_from", "valid_to", "attributes"):
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "status", status)
        return copy

    def validate(self, registry: ProgrammeRegistry | None = None) -> None:
        """Raise :class:`EntitlementError` unless this entitlement may go on a card.

        Checks: the programme is in the registry; the dates are dates and ``valid_to`` is not
        before ``valid_from``; the status reference is well formed; no attribute is on the
        never-on-card list; every attribute is in the programme's schema and valid; required
        attributes are present; cross-attribute rules (BHYT level/coverage) hold.
        """
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(self.programme)
        code = programme.code
        _check_day(self.valid_from, "valid_from", code)
        if self.valid_to is not None:
            _check_day(self.valid_to, "valid_to", code)
            if self.valid_to < self.valid_from:
                raise EntitlementError(
                    f"{code}: valid_to is before valid_from",
                    message_vi=f"{code}: ngày hết hạn ở trước ngày bắt đầu hưởng.",
                )
        if self.status is not None:
            if not isinstance(self.status, StatusRef):
                raise EntitlementError(f"{code}: status must be a StatusRef")
            check_status_fields(self.status.idx, self.status.uri)
        reg.check_entitlement_attributes(programme, self.attributes)

    def validate_for_issuing(self, registry: ProgrammeRegistry | None = None) -> None:
        """:meth:`validate`, plus the rules an issuer applies and a verifier does not.

        The programme's start date (``effective_from``) and its amount floor (base level x
        the smallest coefficient in force on ``valid_from``, e.g. TGXH 500,000 đ from
        2024-07-01), both data in the registry. A verifier reads signed cards and only checks
        their shape, so these rules, which change with the law, never make an issued card
        unreadable.
        """
        reg = ProgrammeRegistry.default() if registry is None else registry
        self.validate(reg)
        reg.get(self.programme).check_dates_and_amounts(self.valid_from, self.attributes)

    def state_at(self, day: date) -> EntitlementState:
        """``active``, ``not_yet_valid`` or ``expired`` on ``day`` (both ends inclusive).

        Pass a Vietnamese calendar date (``asxh_card._core.timeutil.vn_date``), not a datetime.
        """
        _check_day(day, "day", self.programme)
        if day < self.valid_from:
            return EntitlementState.NOT_YET_VALID
        if self.valid_to is not None and day > self.valid_to:
            return EntitlementState.EXPIRED
        return EntitlementState.ACTIVE

    def to_claim(self, registry: ProgrammeRegistry | None = None) -> list[Any]:
        """Return the compact card wire form (DESIGN.md §3, docs/wire-format.md)::

            [programme, from, to | null, attribute values...]

        Attribute values are positional, in the order the registry lists the programme's
        attributes; an absent optional attribute is ``null`` and trailing absent ones are left
        out. The status entry is not written here: it follows from the card's status block.
        """
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(self.programme)
        unknown = [k for k in self.attributes if k not in programme.attributes]
        if unknown:
            raise EntitlementError(
                f"{programme.code}: unknown attribute {_show(unknown[0])} cannot be encoded"
            )
        values = [self.attributes.get(name) for name in programme.attributes]
        while values and values[-1] is None:
            values.pop()
        return [
            self.programme,
            self.valid_from.isoformat(),
            None if self.valid_to is None else self.valid_to.isoformat(),
            *values,
        ]

    @classmethod
    def from_claim(
        cls,
        obj: object,
        *,
        registry: ProgrammeRegistry | None = None,
        status: StatusRef | None = None,
    ) -> Entitlement:
        """Parse and validate the compact wire form strictly (see :meth:`to_claim`).

        Refuses anything but a JSON array ``[programme, from, to | null, values...]``, non-ISO
        dates, booleans or floats for integers, more values than the programme has attributes,
        a trailing ``null`` (one card, one encoding), and anything :meth:`validate` refuses.
        ``status`` is the entry the card's status block gives this entitlement. Raises only
        :class:`EntitlementError`, whatever JSON-like value it is given.
        """
        if type(obj) is not list:
            raise EntitlementError(f"entitlement claim must be a JSON array, got {_type_name(obj)}")
        if len(obj) < 3:
            raise EntitlementError("entitlement claim: needs [programme, from, to | null, ...]")
        programme_code, raw_from, raw_to, *values = obj
        if not isinstance(programme_code, str):
            raise EntitlementError(
                f"entitlement claim: the programme must be a string, got "
                f"{_type_name(programme_code)}"
            )
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(programme_code)
        valid_from = _claim_date(raw_from, "from")
        valid_to = None if raw_to is None else _claim_date(raw_to, "to")
        names = tuple(programme.attributes)
        if len(values) > len(names):
            raise EntitlementError(
                f"{programme.code}: {len(values)} attribute values for {len(names)} attributes"
            )
        if values and values[-1] is None:
            raise EntitlementError(f"{programme.code}: trailing null attribute value")
        attributes: dict[str, AttributeValue] = {}
        for name, value in zip(names, values, strict=False):
            if value is None:
                continue
            if not (_is_int(value) or isinstance(value, str)):
                raise EntitlementError(
                    f"{programme.code}: attribute {_show(name)} must be an integer or a string, "
                    f"got {_type_name(value)}"
                )
            attributes[name] = value
        entitlement = cls(programme_code, valid_from, valid_to, attributes, status)
        entitlement.validate(reg)
        return entitlement
