"""The schema of a programme: its attributes, their types and its cross-attribute rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from asxh_card.errors import EntitlementError
from asxh_card.programmes._common import AttributeValue, _is_int, _show, _type_name

__all__ = [
    "AmountRule",
    "AttributeSpec",
    "AttributeType",
    "LookupConstraint",
    "Programme",
    "normalise_facility_code",
]


class AttributeType(StrEnum):
    """The type of a programme attribute on a card."""

    INT = "int"
    STR = "str"
    ENUM = "enum"


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """The schema of one attribute a programme may put on a card.

    ``minimum``/``maximum`` apply to ``int``; ``values`` to ``enum``; ``pattern`` (matched in
    full, ASCII digits only) and ``max_length`` to ``str``.
    """

    name: str
    type: AttributeType
    required: bool
    minimum: int | None = None
    maximum: int | None = None
    values: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    max_length: int | None = None
    description: str = ""
    normalise: str = ""

    def check(self, programme: str, value: object) -> None:
        """Raise :class:`EntitlementError` unless ``value`` satisfies this schema.

        Messages name the programme, the attribute and the rule but never echo the value:
        an amount or a household reference is personal data and error messages end in logs.
        """
        where = f"{programme}: attribute {self.name!r}"
        if self.type is AttributeType.INT:
            if not _is_int(value):
                raise EntitlementError(
                    f"{where} must be an integer, got {_type_name(value)}",
                    message_vi=f"{programme}: trường {self.name} phải là số nguyên.",
                )
            assert isinstance(value, int)  # noqa: S101 - narrows for mypy; _is_int checked it
            if self.minimum is not None and value < self.minimum:
                raise EntitlementError(
                    f"{where} must be at least {self.minimum}",
                    message_vi=f"{programme}: trường {self.name} phải từ {self.minimum} trở lên.",
                )
            if self.maximum is not None and value > self.maximum:
                raise EntitlementError(
                    f"{where} must be at most {self.maximum}",
                    message_vi=f"{programme}: trường {self.name} tối đa là {self.maximum}.",
                )
            return
        if not isinstance(value, str):
            raise EntitlementError(
                f"{where} must be a string, got {_type_name(value)}",
                message_vi=f"{programme}: trường {self.name} phải là văn bản.",
            )
        if self.type is AttributeType.ENUM:
            if value not in self.values:
                allowed = ", ".join(repr(v) for v in self.values)
                raise EntitlementError(
                    f"{where} must be one of {allowed}",
                    message_vi=f"{programme}: trường {self.name} phải là một trong: {allowed}.",
                )
            return
        if self.max_length is not None and len(value) > self.max_length:
            raise EntitlementError(
                f"{where} is longer than {self.max_length} characters",
                message_vi=f"{programme}: trường {self.name} dài quá {self.max_length} ký tự.",
            )
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            raise EntitlementError(
                f"{where} does not match the pattern {self.pattern.pattern}",
                message_vi=f"{programme}: trường {self.name} sai định dạng"
                + (" (mã cơ sở KCB dạng 79-024)." if self.normalise == "facility" else "."),
            )


@dataclass(frozen=True, slots=True, eq=False)
class LookupConstraint:
    """A cross-attribute rule: attribute ``value`` must equal ``table[attributes[key]]``.

    BHYT uses it to tie the coverage percentage to the benefit level (domain-vn §3.2, Table E),
    so a card can never say "level 4, 100 %".
    """

    key: str
    value: str
    table: Mapping[AttributeValue, AttributeValue]
    note: str = ""

    def check(self, programme: str, attributes: Mapping[str, object]) -> None:
        """Raise :class:`EntitlementError` if the pair in ``attributes`` breaks the table."""
        if self.key not in attributes or self.value not in attributes:
            return  # a missing required attribute is reported by the schema check
        key_value = attributes[self.key]
        if not isinstance(key_value, int | str) or key_value not in self.table:
            raise EntitlementError(
                f"{programme}: attribute {self.key!r} has no entry in the {self.value!r} table",
                message_vi=f"{programme}: giá trị của trường {self.key} không có trong bảng.",
            )
        expected = self.table[key_value]
        actual = attributes[self.value]
        if type(actual) is not type(expected) or actual != expected:
            raise EntitlementError(
                f"{programme}: attribute {self.value!r} must be {expected} for "
                f"{self.key} {key_value} (rule: {self.value} follows {self.key})",
                message_vi=(
                    f"{programme}: trường {self.value} phải là {expected} khi {self.key} là "
                    f"{key_value}."
                ),
            )


# A BHYT facility code as printed on the card, "79 - 024", or typed compactly, "79024".
_FACILITY_CODE = re.compile(r"\s*([0-9]{2})\s*[-\u2010\u2011\u2013]?\s*([0-9]{3})\s*", re.ASCII)


def normalise_facility_code(value: str) -> str:
    """``"79 - 024"``, ``"79-024"`` and ``"79024"`` all become ``"79-024"`` (PP-NNN).

    The registered primary-care facility is printed on BHYT cards as ``"PP - NNN"`` (2-digit
    province code, 3-digit facility code; domain-vn §2.4); officers type it as they read it.
    A value of any other shape is returned unchanged, for the schema check to refuse by name.
    """
    match = _FACILITY_CODE.fullmatch(value)
    return value if match is None else f"{match[1]}-{match[2]}"


@dataclass(frozen=True, slots=True, eq=False)
class AmountRule:
    """A monthly amount is base level x coefficient: the floor it may not go below, as data.

    ``levels`` are ``(from, base in VND)`` in date order (TGXH: 360,000 from 2021-07-01,
    500,000 from 2024-07-01); ``coefficients`` the legal multipliers (Decree 20/2021 Art. 6).
    Provinces may pay more, so only the floor, base x the smallest coefficient, is enforced:
    it catches an amount typed in thousands (750 for 750,000 đ).
    """

    attribute: str
    levels: tuple[tuple[date, int], ...]
    coefficients: tuple[float, ...]
    note: str = ""

    def base_on(self, day: date) -> tuple[date, int] | None:
        """The base level in force on ``day`` (its start date and amount), or None before any."""
        current = None
        for start, base in self.levels:
            if start <= day:
                current = (start, base)
        return current

    def check(self, programme: str, valid_from: date, attributes: Mapping[str, object]) -> None:
        """Refuse an amount below the floor in force on ``valid_from`` (never echoing it)."""
        amount = attributes.get(self.attribute)
        in_force = self.base_on(valid_from)
        if not _is_int(amount) or in_force is None:
            return
        assert isinstance(amount, int)  # noqa: S101 - narrows for mypy
        start, base = in_force
        floor = round(base * min(self.coefficients))
        if amount < floor:
            hint = (
                " (amounts are in đồng per month, not thousands of đồng)"
                if amount * 1000 >= floor
                else ""
            )
            floor_vi = f"{floor:,}".replace(",", ".")
            hint_vi = " Số tiền ghi bằng đồng, không phải nghìn đồng." if hint else ""
            raise EntitlementError(
                f"{programme}: attribute {self.attribute!r} is below the legal minimum of "
                f"{floor:,} VND/month (base level {base:,} from {start.isoformat()} x "
                f"{min(self.coefficients)}){hint}",
                message_vi=(
                    f"{programme}: số tiền thấp hơn mức tối thiểu {floor_vi} đ/tháng "
                    f"(mức chuẩn từ {start.day:02d}/{start.month:02d}/{start.year}).{hint_vi}"
                ),
            )


@dataclass(frozen=True, slots=True, eq=False)
class Programme:
    """One programme of the registry: who owns it, on what legal basis, and its card schema."""

    code: str
    name_vi: str
    name_en: str
    owner: str
    legal_basis: str
    attributes: Mapping[str, AttributeSpec]
    constraints: tuple[LookupConstraint, ...] = ()
    operator: str = ""
    notes: str = ""
    effective_from: date | None = None
    amount_rule: AmountRule | None = None

    def check_dates_and_amounts(self, valid_from: date, attributes: Mapping[str, object]) -> None:
        """Refuse an entitlement starting before the programme exists, or below its floor."""
        if self.effective_from is not None and valid_from < self.effective_from:
            start = self.effective_from
            raise EntitlementError(
                f"{self.code}: the programme starts on {start.isoformat()}; valid_from is earlier",
                message_vi=(
                    f"{self.code}: chế độ chỉ áp dụng từ ngày "
                    f"{start.day:02d}/{start.month:02d}/{start.year}; ngày bắt đầu hưởng sớm hơn."
                ),
            )
        if self.amount_rule is not None:
            self.amount_rule.check(self.code, valid_from, attributes)

    def normalise_attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """``attributes`` with officer-typed forms made canonical (BHYT facility ``79 - 024``).

        Which attributes are facility codes is data: ``"normalise": "facility"`` in the registry.
        """
        out = dict(attributes)
        for name, spec in self.attributes.items():
            value = out.get(name)
            if spec.normalise == "facility" and isinstance(value, str):
                out[name] = normalise_facility_code(value)
        return out

    def check_attributes(self, attributes: Mapping[str, object]) -> None:
        """Check ``attributes`` against the schema: known keys, valid values, required present."""
        for key, value in attributes.items():
            spec = self.attributes.get(key)
            if spec is None:
                allowed = ", ".join(self.attributes) or "none"
                raise EntitlementError(
                    f"{self.code}: unknown attribute {_show(key)} (allowed: {allowed})",
                    message_vi=f"{self.code}: trường {_show(key)} không có trong chế độ này "
                    f"(được dùng: {allowed}).",
                )
            spec.check(self.code, value)
        for spec in self.attributes.values():
            if spec.required and spec.name not in attributes:
                raise EntitlementError(
                    f"{self.code}: required attribute {spec.name!r} is missing",
                    message_vi=f"{self.code}: thiếu trường bắt buộc {spec.name}.",
                )
        for constraint in self.constraints:
            constraint.check(self.code, attributes)
