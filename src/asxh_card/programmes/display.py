"""Entitlements in words, for people: Vietnamese first, English beside it.

``asxh verify`` and other human-readable outputs say "Hộ cận nghèo" and "750.000 đ/tháng",
never ``kind=near_poor`` or ``amount=750000``. Machine outputs (``--json``) keep the raw values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Final

from asxh_card.programmes._common import AttributeValue
from asxh_card.programmes.registry import ProgrammeRegistry

__all__ = ["describe_attributes", "format_amount", "format_day", "format_period", "programme_name"]

#: Words for enum values, by (programme, attribute, value): (Vietnamese, English).
_VALUE_WORDS: Final[Mapping[tuple[str, str, str], tuple[str, str]]] = {
    ("GN", "kind", "poor"): ("Hộ nghèo", "poor household"),
    ("GN", "kind", "near_poor"): ("Hộ cận nghèo", "near-poor household"),
    ("BHXH", "kind", "participant"): ("Người tham gia", "participant"),
    ("BHXH", "kind", "pensioner"): ("Hưởng lương hưu", "pensioner"),
}
#: Words for attribute names that are shown with their value.
_ATTRIBUTE_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "household": ("Mã hộ", "household"),
    "facility": ("Nơi KCB ban đầu", "primary-care facility"),
}


def format_amount(amount: int, lang: str = "vi") -> str:
    """``750.000 đ/tháng`` (Vietnamese groups thousands with dots) or ``750,000 VND/month``."""
    if lang == "vi":
        return f"{amount:,} đ/tháng".replace(",", ".")
    return f"{amount:,} VND/month"


def format_day(day: date) -> str:
    """A day as Vietnamese write it: dd/mm/yyyy."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def format_period(valid_from: date, valid_to: date | None, lang: str = "vi") -> str:
    """``01/01/2026 - 31/12/2026`` (with an en dash); open-ended ``từ 01/01/2026``."""
    if valid_to is None:
        return f"{'từ' if lang == 'vi' else 'from'} {format_day(valid_from)}"
    return f"{format_day(valid_from)} – {format_day(valid_to)}"  # noqa: RUF001 - Vietnamese en dash


def programme_name(code: str, lang: str = "vi", registry: ProgrammeRegistry | None = None) -> str:
    """The programme's name from the registry (``name_vi`` or ``name_en``), else its code."""
    reg = ProgrammeRegistry.default() if registry is None else registry
    if code not in reg:
        return code
    programme = reg.get(code)
    return programme.name_vi if lang == "vi" else programme.name_en


def describe_attributes(
    programme: str, attributes: Mapping[str, AttributeValue], lang: str = "vi"
) -> str:
    """The attributes as words: ``Hộ cận nghèo``, ``750.000 đ/tháng``, ``Mức 2 (100%)``."""
    vi = lang == "vi"
    parts: list[str] = []
    if "level" in attributes:
        level = attributes["level"]
        coverage = attributes.get("coverage")
        word = "Mức" if vi else "level"
        parts.append(f"{word} {level}" + (f" ({coverage}%)" if coverage is not None else ""))
    for name, value in attributes.items():
        if name in ("level", "coverage"):
            continue
        if name == "amount" and isinstance(value, int):
            parts.append(format_amount(value, lang))
        elif isinstance(value, str) and (programme, name, value) in _VALUE_WORDS:
            words = _VALUE_WORDS[programme, name, value]
            parts.append(words[0] if vi else words[1])
        elif name in _ATTRIBUTE_WORDS:
            words = _ATTRIBUTE_WORDS[name]
            parts.append(f"{words[0] if vi else words[1]}: {value}")
        else:
            parts.append(f"{name}: {value}")
    return " · ".join(parts)
