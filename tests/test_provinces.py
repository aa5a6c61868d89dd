"""Tests of the administrative-unit tables (reference/domain-vn.md §1.4, §1.5, §5.2)."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest

from asxh_card.errors import IdentifierError
from asxh_card.provinces import (
    BIRTH_PROVINCES,
    CLOSED_PROVINCE_CODES,
    COUNTRY_CODES,
    CURRENT_PROVINCES,
    BirthProvince,
    Province,
    current_province,
    is_current_province_code,
)

# reference/domain-vn.md §5.2, "Closed 2-digit codes".
DOC_CLOSED_CODES = [
    "02", "06", "10", "17", "26", "27", "30", "34", "35", "36", "45", "49", "54", "58", "60",
    "62", "64", "67", "70", "72", "74", "77", "83", "84", "87", "89", "93", "94", "95",
]  # fmt: skip


def _fullwidth(digits: str) -> str:
    """The same digits as FULLWIDTH DIGIT characters (U+FF10-U+FF19)."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def _arabic_indic(digits: str) -> str:
    """The same digits as ARABIC-INDIC DIGIT characters (U+0660-U+0669)."""
    return "".join(chr(0x0660 + int(d)) for d in digits)


CENTRALLY_RUN_CITIES = {"01", "31", "46", "48", "79", "92"}


def test_current_table_has_34_units() -> None:
    """There are exactly 34 provincial units since 1 Jul 2025, with 2-digit codes."""
    assert len(CURRENT_PROVINCES) == 34
    assert all(len(c) == 2 and c.isdigit() for c in CURRENT_PROVINCES)


def test_current_names_carry_unit_type() -> None:
    """Names are official: 6 'Thành phố' (centrally run cities) and 28 'Tỉnh'."""
    cities = {c for c, n in CURRENT_PROVINCES.items() if n.startswith("Thành phố ")}
    provinces = {c for c, n in CURRENT_PROVINCES.items() if n.startswith("Tỉnh ")}
    assert cities == CENTRALLY_RUN_CITIES
    assert len(provinces) == 28


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01", "Thành phố Hà Nội"),
        ("15", "Tỉnh Lào Cai"),
        ("24", "Tỉnh Bắc Ninh"),
        ("46", "Thành phố Huế"),
        ("79", "Thành phố Hồ Chí Minh"),
        ("96", "Tỉnh Cà Mau"),
    ],
)
def test_current_province_known_codes(code: str, name: str) -> None:
    """current_province returns the Province with its Table B name."""
    assert current_province(code) == Province(code, name)
    assert is_current_province_code(code)


def test_closed_codes_match_reference() -> None:
    """The derived closed codes are exactly the 29 listed in domain-vn §5.2."""
    assert sorted(CLOSED_PROVINCE_CODES) == DOC_CLOSED_CODES
    assert CLOSED_PROVINCE_CODES.isdisjoint(CURRENT_PROVINCES)


@pytest.mark.parametrize("code", DOC_CLOSED_CODES)
def test_current_province_rejects_closed_codes(code: str) -> None:
    """A closed code raises IdentifierError naming the province that absorbed it."""
    successor = BIRTH_PROVINCES["0" + code].successor_code
    with pytest.raises(IdentifierError, match="closed on 1 July 2025") as info:
        current_province(code)
    assert CURRENT_PROVINCES[successor] in str(info.value)
    assert not is_current_province_code(code)


@pytest.mark.parametrize("code", ["00", "03", "97", "99"])
def test_current_province_rejects_unknown_codes(code: str) -> None:
    """A 2-digit code that never was a province is 'unknown'."""
    with pytest.raises(IdentifierError, match="unknown province code"):
        current_province(code)
    assert not is_current_province_code(code)


@pytest.mark.parametrize(
    "code", ["", "1", "001", "ab", _fullwidth("01"), _arabic_indic("01"), " 01"]
)
def test_current_province_rejects_malformed_codes(code: str) -> None:
    """Anything but 2 ASCII digits is refused (no stripping, no Unicode digits)."""
    with pytest.raises(IdentifierError, match="2 ASCII digits"):
        current_province(code)
    assert not is_current_province_code(code)


def test_birth_table_has_63_provinces() -> None:
    """Table A has the 63 pre-2025 provinces, keyed by 3-digit prefix 001-096."""
    assert len(BIRTH_PROVINCES) == 63
    for prefix, province in BIRTH_PROVINCES.items():
        assert province.prefix == prefix
        assert prefix.startswith("0")
        assert 1 <= int(prefix) <= 96


def test_birth_table_bac_giang_is_024() -> None:
    """Bắc Giang is 024 (one published copy misprints 023, which does not exist)."""
    assert BIRTH_PROVINCES["024"].name == "Bắc Giang"
    assert "023" not in BIRTH_PROVINCES


def test_every_birth_province_has_a_current_successor() -> None:
    """Each old province maps to one of the 34 current units."""
    for province in BIRTH_PROVINCES.values():
        assert province.successor_code in CURRENT_PROVINCES
        assert province.successor == current_province(province.successor_code)


def test_every_current_code_was_an_old_code() -> None:
    """A merged province keeps the code of the host province (Decision 19/2025/QĐ-TTg)."""
    for code in CURRENT_PROVINCES:
        assert BIRTH_PROVINCES["0" + code].successor_code == code


def test_successors_partition_old_provinces() -> None:
    """Open and closed codes together are exactly the 63 old 2-digit codes."""
    old = {p.prefix[1:] for p in BIRTH_PROVINCES.values()}
    assert old == set(CURRENT_PROVINCES) | CLOSED_PROVINCE_CODES


@pytest.mark.parametrize(
    ("prefix", "old_name", "new_code", "new_name"),
    [
        ("015", "Yên Bái", "15", "Tỉnh Lào Cai"),
        ("010", "Lào Cai", "15", "Tỉnh Lào Cai"),
        ("024", "Bắc Giang", "24", "Tỉnh Bắc Ninh"),
        ("027", "Bắc Ninh", "24", "Tỉnh Bắc Ninh"),
        ("044", "Quảng Bình", "44", "Tỉnh Quảng Trị"),
        ("052", "Bình Định", "52", "Tỉnh Gia Lai"),
        ("080", "Long An", "80", "Tỉnh Tây Ninh"),
        ("082", "Tiền Giang", "82", "Tỉnh Đồng Tháp"),
        ("091", "Kiên Giang", "91", "Tỉnh An Giang"),
        ("077", "Bà Rịa - Vũng Tàu", "79", "Thành phố Hồ Chí Minh"),
    ],
)
def test_reused_codes_keep_their_historical_meaning(
    prefix: str, old_name: str, new_code: str, new_name: str
) -> None:
    """A prefix decodes with the old table even where the 2-digit code now names another unit."""
    province = BIRTH_PROVINCES[prefix]
    assert province == BirthProvince(prefix, old_name, new_code)
    assert province.successor.name == new_name


def test_country_codes_cover_101_to_295() -> None:
    """Table C is exactly the contiguous range 101-295 (195 codes), disjoint from Table A."""
    assert sorted(COUNTRY_CODES) == [str(n) for n in range(101, 296)]
    assert COUNTRY_CODES.keys().isdisjoint(BIRTH_PROVINCES)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("101", "Afghanistan"),
        ("113", "Azerbaijan"),
        ("114", "Republic of Azerbaijan"),
        ("147", "Croatia"),
        ("148", "Republic of Croatia"),
        ("175", "United States"),
        ("232", "Japan"),
        ("279", "China"),
        ("286", "Ukraine"),
        ("295", "Zimbabwe"),
    ],
)
def test_country_code_names(code: str, name: str) -> None:
    """Spot-check country names, including the duplicated Azerbaijan and Croatia entries."""
    assert COUNTRY_CODES[code] == name


def test_all_names_are_nfc() -> None:
    """Every Vietnamese name is stored NFC-normalised (cards carry NFC text)."""
    names = [*CURRENT_PROVINCES.values(), *(p.name for p in BIRTH_PROVINCES.values())]
    names += list(COUNTRY_CODES.values())
    assert all(unicodedata.is_normalized("NFC", n) for n in names)


def test_tables_are_immutable() -> None:
    """The mappings are read-only proxies and the records are frozen."""
    with pytest.raises(TypeError):
        CURRENT_PROVINCES["99"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        COUNTRY_CODES["999"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        BIRTH_PROVINCES["099"] = BirthProvince("099", "x", "01")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        current_province("01").name = "x"  # type: ignore[misc]
