"""Issue 13.4: BHYT beneficiary groups as data, and the level that follows from group and date.

Expected values are copied from reference/domain-vn.md §3.2 (Table E) and §3.3 (Table D), not
from the data file: the 43 codes of Table D, LH [V] and the 10 [U] codes (54 in all); the level
of each settled group; CN 3 -> 2 and LH 4 -> 2 on 1 Jan 2026 (Resolution 261/2025/QH15); PV
("3 or 4, the two sources disagree") and CT (4 under QĐ 1351, 2 in a 2026 rule engine) and the
[U] codes left for the officer to enter.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest

from asxh_card.errors import EntitlementError
from asxh_card.ids import BHYT_KNOWN_GROUPS, parse_bhyt_code
from asxh_card.programmes.bhyt import (
    BHYT_GROUPS_RESOURCE,
    bhyt_attributes_for_group,
    bhyt_group,
    bhyt_groups,
    load_bhyt_groups,
)

TABLE_D = [
    "DN",
    "HX",
    "CH",
    "NN",
    "TK",
    "HC",
    "XK",
    "HT",
    "TB",
    "NO",
    "CT",
    "XB",
    "TN",
    "CS",
    "QN",
    "CA",
    "CY",
    "XN",
    "MS",
    "CC",
    "CK",
    "CB",
    "KC",
    "HD",
    "TE",
    "BT",
    "HN",
    "DT",
    "DK",
    "XD",
    "TS",
    "TC",
    "TQ",
    "TA",
    "TY",
    "HG",
    "LS",
    "PV",
    "CN",
    "HS",
    "SV",
    "GB",
    "GD",
]
UNVERIFIED = ["AK", "TG", "DS", "HK", "ND", "TH", "TV", "TD", "TU", "BA"]
#: Table E (domain-vn §3.2) for the groups whose level the reference settles, before 2026.
LEVELS_2025 = {
    1: "CC TE",
    2: "CK CB KC HN DT DK XD BT TS",
    3: "HT TC CN",
    4: "DN HX CH NN TK HC XK TB NO XB TN CS XN MS HD TQ TA TY HG LS HS SV GB GD LH",
    5: "QN CA CY",
}
BEFORE, AFTER = date(2025, 12, 31), date(2026, 1, 1)


def test_the_54_codes_of_the_reference() -> None:
    """43 codes of Table D + LH + 10 unverified codes; the legacy-code parser knows the same."""
    assert len(TABLE_D) == 43
    expected = {*TABLE_D, "LH", *UNVERIFIED}
    assert len(expected) == 54
    assert set(bhyt_groups()) == expected
    assert expected == BHYT_KNOWN_GROUPS
    assert parse_bhyt_code("CN3010123456789").known_group
    assert not parse_bhyt_code("ZZ3010123456789").known_group


@pytest.mark.parametrize("level", sorted(LEVELS_2025))
def test_levels_of_table_e(level: int) -> None:
    """Every settled group has its Table E level on 31 Dec 2025."""
    for code in LEVELS_2025[level].split():
        assert bhyt_group(code).level_on(BEFORE) == level, code


def test_cn_and_lh_move_to_level_2_on_1_january_2026() -> None:
    """Resolution 261/2025/QH15: near-poor (CN) 3 -> 2, social pension 75+ (LH) 4 -> 2."""
    assert (bhyt_group("CN").level_on(BEFORE), bhyt_group("CN").level_on(AFTER)) == (3, 2)
    assert (bhyt_group("LH").level_on(BEFORE), bhyt_group("LH").level_on(AFTER)) == (4, 2)
    # Every other settled group keeps its level ("levels keep their percentages").
    for level, codes in LEVELS_2025.items():
        for code in codes.split():
            if code not in ("CN", "LH"):
                assert bhyt_group(code).level_on(AFTER) == level, code


def test_unsettled_levels_are_left_to_the_officer() -> None:
    """PV (3 or 4), CT (4 or 2) and the [U] codes have no level of their own, and say why."""
    for code in ("PV", "CT", *UNVERIFIED):
        group = bhyt_group(code)
        assert group.level_on(AFTER) is None, code
        assert group.open_question, code
    assert bhyt_group("LH").status == "V"
    assert {bhyt_group(c).status for c in UNVERIFIED} == {"U"}


def test_attributes_follow_the_group() -> None:
    """Level and coverage filled in from group and day; a wrong level is refused in Vietnamese."""
    derived = bhyt_attributes_for_group("CN", AFTER, {"facility": "79-024"})
    assert derived == {"facility": "79-024", "level": 2, "coverage": 100}
    assert bhyt_attributes_for_group("CN", BEFORE, {})["coverage"] == 95
    assert bhyt_attributes_for_group("HS", AFTER, {"level": 4}) == {"level": 4, "coverage": 80}
    with pytest.raises(EntitlementError) as info:
        bhyt_attributes_for_group("CN", AFTER, {"level": 3})
    assert "mức hưởng 2 vào ngày 01/01/2026" in info.value.message_vi
    assert "level 2" in str(info.value)
    with pytest.raises(EntitlementError, match="not settled") as info:
        bhyt_attributes_for_group("PV", AFTER, {})
    assert "hãy nhập mức hưởng" in info.value.message_vi
    assert bhyt_attributes_for_group("PV", AFTER, {"level": 3})["coverage"] == 95


def test_unknown_group_is_refused() -> None:
    """A code outside the list (or not two letters) is refused, in both languages."""
    for code in ("ZZ", "cn", "C1", ""):
        with pytest.raises(EntitlementError) as info:
            bhyt_group(code)
        assert "mã đối tượng" in info.value.message_vi


def _doc(*groups: dict[str, object]) -> bytes:
    base = {"status": "P", "description": "x", "description_vi": "x"}
    items = [base | g for g in groups]
    return json.dumps({"version": 1, "note": "", "groups": items}).encode()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_doc({"code": "CN", "levels": []}, {"code": "CN", "levels": []}), "twice"),
        (_doc({"code": "C1", "levels": []}), "two letters"),
        (_doc({"code": "CN", "levels": [{"level": 6}]}), "not 1-5"),
        (_doc({"code": "CN", "levels": [{"level": 3}, {"level": 2}]}), "may lack 'from'"),
        (
            _doc(
                {
                    "code": "CN",
                    "levels": [
                        {"from": "2026-01-01", "level": 3},
                        {"from": "2025-01-01", "level": 2},
                    ],
                }
            ),
            "increase",
        ),
        (_doc({"code": "CN", "levels": [{"from": "1/1/2026", "level": 3}]}), "YYYY-MM-DD"),
        (_doc({"code": "CN", "levels": [], "colour": "red"}), "colour"),
        (b'{"version": 2, "note": "", "groups": []}', "version"),
        (b"[", "BHYT group list"),
        (b" " * ((1 << 20) + 1), "1 MiB"),
    ],
)
def test_a_broken_group_list_is_refused(data: bytes, problem: str) -> None:
    """The data file is checked when read: duplicates, levels, schedules, unknown members."""
    with pytest.raises(EntitlementError, match=problem):
        load_bhyt_groups(data)


def test_bundled_file_is_the_one_read() -> None:
    """The bundled resource parses to the same groups (no hidden second copy)."""
    data = resources.files("asxh_card.data").joinpath(BHYT_GROUPS_RESOURCE).read_bytes()
    assert dict(load_bhyt_groups(data)) == dict(bhyt_groups())
