"""BHYT beneficiary groups (*mã đối tượng*) as data, and the benefit level each has on a date.

The 54 group codes of reference/domain-vn.md §3.3 (43 of Decision 1351/QĐ-BHXH as amended, LH
of the 2024 Law on Social Insurance, and 10 codes seen in a 2026 claim-rule engine) live in
``asxh_card/data/bhyt_groups.json`` with a level schedule each (§3.2, Table E): near-poor
households (CN) move from level 3 to 2 and social-pension recipients aged 75+ (LH) from 4 to 2
on 1 Jan 2026 (Resolution 261/2025/QH15 Art. 2(1)(a)). A schedule left empty means the level is
not settled by the reference (PV, CT and the unverified codes): the officer enters it.

The group itself never goes on a card (it reveals poverty or NCC status, ``never_on_card``);
the service keeps it beside the entitlement and puts the level and coverage on the card.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal

import msgspec

from asxh_card.errors import EntitlementError

__all__ = [
    "BHYT_GROUPS_RESOURCE",
    "BhytGroup",
    "bhyt_attributes_for_group",
    "bhyt_group",
    "bhyt_groups",
    "load_bhyt_groups",
]

BHYT_GROUPS_RESOURCE: Final = "bhyt_groups.json"
_MAX_BYTES: Final = 1 << 20


class _Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    level: int
    from_: str | None = msgspec.field(name="from", default=None)
    source: str = ""


class _Group(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    status: Literal["P", "V", "U"]
    description: str
    description_vi: str
    levels: list[_Step]
    open_question: str = ""


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    note: str
    groups: list[_Group]


@dataclass(frozen=True, slots=True)
class BhytGroup:
    """One beneficiary group and its benefit-level schedule."""

    code: str
    """Two uppercase letters (the first two characters of the legacy card code)."""
    status: Literal["P", "V", "U"]
    """How sure the reference is: probable, verified, unverified (domain-vn §0)."""
    description: str
    description_vi: str
    schedule: tuple[tuple[date | None, int], ...]
    """``(from, level)`` steps in date order; ``None`` for "before the first dated step"."""
    open_question: str = ""
    """Why the level is not settled (empty when it is)."""

    def level_on(self, day: date) -> int | None:
        """The benefit level on ``day``, or ``None`` when the reference does not settle it."""
        level = None
        for start, step in self.schedule:
            if start is None or start <= day:
                level = step
        return level


def _fail(problem: str) -> EntitlementError:
    return EntitlementError(
        f"BHYT group list: {problem}",
        message_vi=f"Danh mục đối tượng BHYT không hợp lệ: {problem}",
    )


def load_bhyt_groups(data: bytes) -> Mapping[str, BhytGroup]:
    """Parse and check a BHYT group list (the bundled file's format).

    Codes are two uppercase ASCII letters and unique; levels are 1-5; in a schedule only the
    first step may lack ``from`` and dates increase. Raises :class:`EntitlementError`.
    """
    if len(data) > _MAX_BYTES:
        raise _fail("larger than 1 MiB")
    try:
        raw = msgspec.json.decode(data, type=_File)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise _fail(str(exc)) from None
    if raw.version != 1:
        raise _fail("'version' must be 1")
    groups: dict[str, BhytGroup] = {}
    for item in raw.groups:
        code = item.code
        if not (len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()):
            raise _fail(f"group code {code[:10]!r} is not two letters A-Z")
        if code in groups:
            raise _fail(f"group {code} is listed twice")
        schedule: list[tuple[date | None, int]] = []
        for i, step in enumerate(item.levels):
            if not 1 <= step.level <= 5:
                raise _fail(f"group {code}: level {step.level} is not 1-5")
            start = None
            if step.from_ is not None:
                try:
                    start = date.fromisoformat(step.from_)
                except ValueError:
                    raise _fail(f"group {code}: 'from' must be YYYY-MM-DD") from None
            elif i:
                raise _fail(f"group {code}: only the first level may lack 'from'")
            previous = schedule[-1][0] if schedule else None
            if start is not None and previous is not None and start <= previous:
                raise _fail(f"group {code}: 'from' dates must increase")
            schedule.append((start, step.level))
        groups[code] = BhytGroup(
            code=code,
            status=item.status,
            description=item.description,
            description_vi=item.description_vi,
            schedule=tuple(schedule),
            open_question=item.open_question,
        )
    return MappingProxyType(groups)


@functools.cache
def bhyt_groups() -> Mapping[str, BhytGroup]:
    """The bundled group list (``asxh_card/data/bhyt_groups.json``), by code."""
    data = resources.files("asxh_card.data").joinpath(BHYT_GROUPS_RESOURCE).read_bytes()
    return load_bhyt_groups(data)


def bhyt_group(code: str) -> BhytGroup:
    """The group ``code``; :class:`EntitlementError` (in both languages) for an unknown one."""
    group = bhyt_groups().get(code)
    if group is None:
        shown = code[:4] if code.isascii() and code.isalnum() else "?"
        raise EntitlementError(
            f"BHYT: {shown!r} is not one of the {len(bhyt_groups())} known beneficiary group codes",
            message_vi=(
                f"BHYT: {shown!r} không phải một trong {len(bhyt_groups())} mã đối tượng "
                "tham gia BHYT đã biết."
            ),
        )
    return group


def bhyt_attributes_for_group(
    code: str, day: date, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """The BHYT attributes with the level and coverage that follow from group ``code`` on ``day``.

    A level left out is taken from the group's schedule; a level given must agree with it. When
    the schedule does not settle the level (PV, CT, unverified codes) the officer's level is
    kept, and one must be given. A coverage left out follows from the level (Table E).
    """
    # Imported here: the registry module imports nothing from this one, but the package does.
    from asxh_card.programmes.registry import bhyt_coverage_for_level  # noqa: PLC0415

    group = bhyt_group(code)
    expected = group.level_on(day)
    out = dict(attributes)
    given = out.get("level")
    when = day.strftime("%d/%m/%Y")
    if expected is None:
        if given is None:
            raise EntitlementError(
                f"BHYT: the benefit level of group {code} is not settled by the reference "
                "data; enter the level VSS gives",
                message_vi=(
                    f"BHYT: mức hưởng của nhóm đối tượng {code} chưa được xác định trong danh "
                    "mục; hãy nhập mức hưởng theo BHXH Việt Nam."
                ),
            )
    elif given is None:
        out["level"] = expected
    elif given != expected:
        raise EntitlementError(
            f"BHYT: group {code} is at benefit level {expected} on {day.isoformat()}, "
            f"not {given!r}",
            message_vi=(
                f"BHYT: nhóm đối tượng {code} có mức hưởng {expected} vào ngày {when}, "
                f"không phải mức {given}."
            ),
        )
    if "coverage" not in out and isinstance(out.get("level"), int):
        out["coverage"] = bhyt_coverage_for_level(out["level"])
    return out
