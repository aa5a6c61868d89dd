"""Tests of asxh_card.ids: PIN, legacy aliases, mã số ASXH (Damm) and the CCCD QR parser.

All numbers are synthetic (valid prefix + 4th digit + year + made-up serial), never real people.
"""

from __future__ import annotations

import dataclasses
import random
import re
import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asxh_card import ids
from asxh_card.errors import IdentifierError, InvalidInputError
from asxh_card.ids import (
    BHYT_KNOWN_GROUPS,
    CCCD_QR_MAX_LENGTH,
    AsxhNumber,
    BhytCardCode,
    PersonalId,
    Sex,
    check_asxh_number,
    damm_check_digit,
    generate_asxh_number,
    is_valid_asxh_number,
    is_valid_pin,
    mask_identifier,
    parse_asxh_number,
    parse_bhxh_number,
    parse_bhyt_code,
    parse_cccd_qr,
    parse_cmnd,
    parse_pin,
)
from asxh_card.provinces import BIRTH_PROVINCES, CLOSED_PROVINCE_CODES, CURRENT_PROVINCES

TODAY = date(2026, 6, 1)


def _fullwidth(digits: str) -> str:
    """The same digits as FULLWIDTH DIGIT characters (U+FF10-U+FF19)."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def _arabic_indic(digits: str) -> str:
    """The same digits as ARABIC-INDIC DIGIT characters (U+0660-U+0669)."""
    return "".join(chr(0x0660 + int(d)) for d in digits)


def _devanagari(digits: str) -> str:
    """The same digits as DEVANAGARI DIGIT characters (U+0966-U+096F)."""
    return "".join(chr(0x0966 + int(d)) for d in digits)


# domain-vn.md §2.1, verbatim.
QR_EXAMPLE_1 = (
    "001090123456|012345678|Nguyễn Văn A|15031990|Nam|Số 1, Phường X, Quận Y, Hà Nội|10052021"
)
QR_EXAMPLE_2 = "079203000000||Trần Thị B|01012003|Nữ|Ấp Z, Xã W, Huyện V, Tỉnh U|20082021"


def _asxh(body: str) -> str:
    """Complete a 10-digit body with its Damm check digit."""
    return body + str(damm_check_digit(body))


def _digit_runs(text: str) -> set[str]:
    """Every 4-digit substring of the runs of ASCII digits in ``text``."""
    out: set[str] = set()
    for run in re.findall(r"[0-9]{4,}", text):
        out.update(run[i : i + 4] for i in range(len(run) - 3))
    return out


def _assert_no_leak(text: str, err: BaseException) -> None:
    """No 4+ digit substring of the input appears in the message (at most the last 3 digits)."""
    message = str(err)
    leaked = {run for run in _digit_runs(text) if run in message}
    assert not leaked, f"message leaks {leaked}: {message}"


# ---------------------------------------------------------------------------------------------
# mask_identifier
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("001090123456", "*********456"),
        ("  001090123456\n", "*********456"),
        ("01 2345 6789 4", "***********9 4"),
        ("1234", "*234"),
        ("123", "123"),
        ("", ""),
    ],
)
def test_mask_identifier(text: str, masked: str) -> None:
    """mask_identifier keeps only the last 3 characters (after stripping surrounding space)."""
    assert mask_identifier(text) == masked


# ---------------------------------------------------------------------------------------------
# Personal ID number
# ---------------------------------------------------------------------------------------------


def test_parse_pin_decodes_fields() -> None:
    """A valid PIN decodes to place, sex and birth year."""
    pin = parse_pin("001090123456", today=TODAY)
    assert pin == PersonalId(
        number="001090123456",
        place_code="001",
        place_kind="province",
        place_name="Hà Nội",
        sex="M",
        birth_year=1990,
    )
    assert pin.masked == "*********456"


def test_parse_pin_strips_surrounding_whitespace() -> None:
    """Surrounding whitespace is stripped; the stored number is the 12 digits."""
    assert parse_pin(" \t079303000001\n", today=TODAY).number == "079303000001"


def test_pin_repr_is_masked() -> None:
    """repr() of a PersonalId never shows the full number (it ends up in logs)."""
    pin = parse_pin("001090123456", today=TODAY)
    assert "001090123456" not in repr(pin)
    assert "*********456" in repr(pin)


@pytest.mark.parametrize("prefix", sorted(BIRTH_PROVINCES))
def test_every_table_a_code_is_accepted(prefix: str) -> None:
    """Every one of the 63 Table A prefixes is a valid place of birth, decoded historically."""
    pin = parse_pin(f"{prefix}185000123", today=TODAY)
    assert pin.place_kind == "province"
    assert pin.place_name == BIRTH_PROVINCES[prefix].name


@pytest.mark.parametrize(
    ("prefix", "name"),
    [
        ("101", "Afghanistan"),
        ("113", "Azerbaijan"),
        ("114", "Republic of Azerbaijan"),
        ("147", "Croatia"),
        ("148", "Republic of Croatia"),
        ("175", "United States"),
        ("232", "Japan"),
        ("286", "Ukraine"),
        ("295", "Zimbabwe"),
    ],
)
def test_country_codes_are_accepted(prefix: str, name: str) -> None:
    """Births registered abroad (prefixes 101-295) are valid; no leading 0 is required."""
    pin = parse_pin(f"{prefix}301000456", today=TODAY)
    assert pin.place_kind == "country"
    assert pin.place_name == name


def test_all_country_codes_are_accepted() -> None:
    """Every prefix 101-295 is accepted."""
    for code in range(101, 296):
        assert parse_pin(f"{code}210000999", today=TODAY).place_kind == "country"


@pytest.mark.parametrize("prefix", ["000", "003", "023", "097", "099", "100", "296", "500", "999"])
def test_unknown_place_codes_are_rejected(prefix: str) -> None:
    """000, gaps in Table A and codes outside 101-295 are refused."""
    with pytest.raises(IdentifierError, match="not a known place-of-birth code"):
        parse_pin(f"{prefix}090123456", today=TODAY)


@pytest.mark.parametrize(
    ("d4", "century", "sex"),
    [
        (0, 1900, "M"),
        (1, 1900, "F"),
        (2, 2000, "M"),
        (3, 2000, "F"),
        (4, 2100, "M"),
        (5, 2100, "F"),
        (6, 2200, "M"),
        (7, 2200, "F"),
        (8, 2300, "M"),
        (9, 2300, "F"),
    ],
)
def test_century_sex_table(d4: int, century: int, sex: str) -> None:
    """The 4th digit encodes century and sex exactly as in domain-vn §1.3."""
    pin = parse_pin(f"001{d4}45123456", today=date(2400, 1, 1))
    assert pin.birth_year == century + 45
    assert pin.sex == sex


def test_birth_year_boundary_with_injected_today() -> None:
    """A birth year equal to today's year is accepted; the next year is refused."""
    assert parse_pin("001225000001", today=date(2025, 1, 1)).birth_year == 2025
    with pytest.raises(IdentifierError, match="in the future"):
        parse_pin("001226000001", today=date(2025, 12, 31))


def test_future_birth_year_rejected_with_real_clock() -> None:
    """Without an injected date, the current Vietnamese date is used (2090 is in the future)."""
    with pytest.raises(IdentifierError, match="in the future"):
        parse_pin("001290000001")
    assert parse_pin("001090000001").birth_year == 1990


@pytest.mark.parametrize(
    "text",
    [
        _arabic_indic("001090123456"),  # Arabic-Indic digits
        _fullwidth("001090123456"),  # fullwidth digits
        _devanagari("001090123456"),  # Devanagari digits
        "001 090123456",  # inner space
        "001-090-123456",
        "00109012345a",
        "+01090123456",
    ],
)
def test_pin_rejects_non_ascii_digits(text: str) -> None:
    """Only the ASCII digits 0-9 are accepted (Python's \\d would accept the Unicode ones)."""
    with pytest.raises(IdentifierError, match="only the ASCII digits"):
        parse_pin(text, today=TODAY)
    assert not is_valid_pin(text)


@pytest.mark.parametrize("text", ["", "00109012345", "0010901234567", "001"])
def test_pin_rejects_wrong_length(text: str) -> None:
    """A PIN is exactly 12 digits."""
    with pytest.raises(IdentifierError, match="exactly 12 digits"):
        parse_pin(text, today=TODAY)


def test_pin_cross_checks_date_of_birth() -> None:
    """The birth year in the PIN must match the date of birth when one is given."""
    assert (
        parse_pin("001090123456", date_of_birth=date(1990, 3, 15), today=TODAY).birth_year == 1990
    )
    with pytest.raises(IdentifierError, match="does not match the date of birth"):
        parse_pin("001090123456", date_of_birth=date(1991, 3, 15), today=TODAY)
    with pytest.raises(IdentifierError, match="does not match the date of birth"):
        parse_pin("001090123456", date_of_birth=date(2090, 3, 15), today=TODAY)


def test_pin_cross_checks_sex() -> None:
    """The sex in the PIN's 4th digit must match the sex when one is given."""
    assert parse_pin("001190123456", sex="F", today=TODAY).sex == "F"
    with pytest.raises(IdentifierError, match="sex"):
        parse_pin("001190123456", sex="M", today=TODAY)
    with pytest.raises(IdentifierError, match="sex"):
        parse_pin("001090123456", sex="F", today=TODAY)


def test_is_valid_pin() -> None:
    """is_valid_pin mirrors parse_pin as a boolean."""
    assert is_valid_pin("001090123456")
    assert is_valid_pin("175301000456")
    assert not is_valid_pin("000090123456")
    assert not is_valid_pin("00109012345")
    assert not is_valid_pin("001990123456")  # born in 2390


def test_identifier_error_is_a_value_error() -> None:
    """IdentifierError is an InvalidInputError and a ValueError, as the error tree promises."""
    with pytest.raises(InvalidInputError):
        parse_pin("x")
    with pytest.raises(ValueError, match="ASCII"):
        parse_pin("x")


# Every failure path of every parser, each with an input full of 4+ digit runs.
LEAK_CASES: list[tuple[Any, str, dict[str, Any]]] = [
    (parse_pin, "000090123456", {}),
    (parse_pin, "023090123456", {}),
    (parse_pin, "296090123456", {}),
    (parse_pin, "00109012345", {}),
    (parse_pin, "0010901234567890", {}),
    (parse_pin, "00109012345x", {}),
    (parse_pin, _arabic_indic("001090123456"), {}),
    (parse_pin, "001990123456", {}),
    (parse_pin, "001090123456", {"date_of_birth": date(1991, 1, 1)}),
    (parse_pin, "001090123456", {"sex": "F"}),
    (parse_pin, "1" * 1500, {}),
    (parse_cmnd, "0123456789", {}),
    (parse_cmnd, "01234567x", {}),
    (parse_bhxh_number, "01234567890", {}),
    (parse_bhxh_number, "012345678x", {}),
    (parse_bhyt_code, "HS40101234567890", {}),
    (parse_bhyt_code, "H140101234567", {}),
    (parse_bhyt_code, "HS6010123456789", {}),
    (parse_bhyt_code, "HSA010123456789", {}),
    (parse_bhyt_code, "HS4X10123456789", {}),
    (parse_bhyt_code, "HS4010123456X89", {}),
    (parse_asxh_number, "0123456789", {}),
    (parse_asxh_number, "012345678901", {}),
    (parse_asxh_number, "01.2345.6789.4", {}),
    (parse_asxh_number, _asxh("2712345678"), {}),
    (parse_asxh_number, _asxh("0012345678"), {}),
    (parse_asxh_number, "01234567893", {}),
    (damm_check_digit, "01234x6789", {}),
    (parse_cccd_qr, "001090123456|012345678|A", {}),
    (parse_cccd_qr, "001990123456|012345678|A|15031990|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|0123456789|A|15031990|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678||15031990|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|1503199|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|31021990|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|Nữ|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031991|Nam|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|1234|X|10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|Nam||10052021", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|Nam|X|1005202", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|Nam|X|10051989", {}),
    (parse_cccd_qr, "001090123456|012345678|A|15031990|Nam|X|10052099", {}),
    (parse_cccd_qr, "001090123456|" + "1234567890" * 100, {}),
]


@pytest.mark.parametrize(("func", "text", "kwargs"), LEAK_CASES)
def test_error_messages_never_leak_identifiers(
    func: Any, text: str, kwargs: dict[str, Any]
) -> None:
    """No failure message contains a 4+ digit substring of the input (at most the last 3)."""
    with pytest.raises(IdentifierError) as info:
        func(text, **kwargs)
    _assert_no_leak(text, info.value)
    # The chained cause (QR wrapping a PIN error) is masked as well.
    if info.value.__cause__ is not None:
        _assert_no_leak(text, info.value.__cause__)


# ---------------------------------------------------------------------------------------------
# Legacy aliases
# ---------------------------------------------------------------------------------------------


def test_parse_cmnd() -> None:
    """A CMND is 9 ASCII digits; surrounding whitespace is stripped."""
    assert parse_cmnd(" 012345678 ") == "012345678"
    with pytest.raises(IdentifierError, match="exactly 9 digits"):
        parse_cmnd("01234567")
    with pytest.raises(IdentifierError, match="only the ASCII digits"):
        parse_cmnd(_fullwidth("012345678"))


def test_parse_bhxh_number() -> None:
    """A legacy BHXH number is 10 ASCII digits."""
    assert parse_bhxh_number("0123456789") == "0123456789"
    with pytest.raises(IdentifierError, match="exactly 10 digits"):
        parse_bhxh_number("012345678")
    with pytest.raises(IdentifierError, match="only the ASCII digits"):
        parse_bhxh_number("01234 56789")


@pytest.mark.parametrize(
    "text", ["HS4010123456789", "HS 4 01 0123456789", "  HS 4 01 0123456789 ", "hs4010123456789"]
)
def test_parse_bhyt_code_forms(text: str) -> None:
    """The BHYT code is accepted compact, spaced, padded, or in ASCII lowercase."""
    code = parse_bhyt_code(text)
    assert code == BhytCardCode(group="HS", level=4, province_code="01", bhxh_number="0123456789")
    assert code.code == "HS4010123456789"
    assert code.known_group


def test_bhyt_repr_masks_bhxh_number() -> None:
    """repr() of a BHYT code does not show the full BHXH number."""
    text = repr(parse_bhyt_code("DN4791234567890"))
    assert "1234567890" not in text
    assert "*******890" in text


def test_bhyt_known_groups() -> None:
    """Table D (43) + LH + 10 unverified codes are known; others are accepted but flagged."""
    assert len(BHYT_KNOWN_GROUPS) == 54
    for group in ("DN", "CN", "LH", "AK", "BA", "TE", "QN"):
        assert parse_bhyt_code(f"{group}2010123456789").known_group
    unknown = parse_bhyt_code("ZZ3970123456789")
    assert not unknown.known_group
    assert unknown.province_code == "97"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HS401012345678", "15 characters"),
        ("HS40101234567890", "15 characters"),
        ("H14010123456789", "group code"),
        ("ÀS4010123456789", "group code"),
        ("HS0010123456789", "benefit level"),
        ("HS6010123456789", "benefit level"),
        ("HSX010123456789", "benefit level"),
        ("HS4A10123456789", "province code"),
        ("HS4010123456A89", "BHXH number"),
        ("HS401012345678" + _arabic_indic("9"), "BHXH number"),
        ("HS4-01-0123456789", "15 characters"),
    ],
)
def test_parse_bhyt_code_rejects(text: str, message: str) -> None:
    """Each broken part of a BHYT code gets its own message."""
    with pytest.raises(IdentifierError, match=message):
        parse_bhyt_code(text)


# ---------------------------------------------------------------------------------------------
# Damm check digit and mã số ASXH
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    [("572", 4), ("5724", 0), ("", 0), ("0", 0), ("0123456789", 4)],
)
def test_damm_known_vectors(digits: str, check: int) -> None:
    """Fixed vectors: 572 -> 4 (Wikipedia's worked example); a number plus its digit -> 0."""
    assert damm_check_digit(digits) == check


def test_damm_table_is_weakly_totally_antisymmetric_quasigroup() -> None:
    """The table is a Latin square with zero diagonal and x*y != y*x composition collisions."""
    table = ids._DAMM
    for i in range(10):
        assert sorted(table[i]) == list(range(10))
        assert sorted(row[i] for row in table) == list(range(10))
        assert table[i][i] == 0
    for c in range(10):
        for x in range(10):
            for y in range(10):
                if x != y:
                    assert table[table[c][x]][y] != table[table[c][y]][x]


@pytest.mark.parametrize("digits", ["12a", _arabic_indic("123"), "1 2", "-1"])
def test_damm_rejects_non_digits(digits: str) -> None:
    """damm_check_digit refuses anything but ASCII digits."""
    with pytest.raises(IdentifierError, match="ASCII digits"):
        damm_check_digit(digits)


def test_generate_asxh_number_seeded() -> None:
    """A seeded randbelow gives a reproducible, valid number with the province prefix."""
    a = generate_asxh_number("79", randbelow=random.Random(7).randrange)
    b = generate_asxh_number("79", randbelow=random.Random(7).randrange)
    assert a == b
    assert a.province_code == "79"
    assert len(a.value) == 11
    assert damm_check_digit(a.value) == 0
    assert parse_asxh_number(a.formatted) == a


def test_generate_asxh_number_default_randomness() -> None:
    """With the default CSPRNG, numbers are valid and (overwhelmingly) distinct."""
    numbers = {generate_asxh_number("01").value for _ in range(50)}
    assert len(numbers) == 50
    assert all(is_valid_asxh_number(n) for n in numbers)


@pytest.mark.parametrize("serial", [0, 10**8 - 1])
def test_generate_asxh_number_zero_pads(serial: int) -> None:
    """The 8 random digits are zero-padded at both ends of the range."""
    number = generate_asxh_number("04", randbelow=lambda _n: serial)
    assert number.value[2:10] == f"{serial:08d}"


def test_generate_asxh_number_asks_for_10_to_the_8() -> None:
    """randbelow is called once with 10**8; an out-of-range answer is refused."""
    calls: list[int] = []

    def fake(n: int) -> int:
        calls.append(n)
        return n

    with pytest.raises(ValueError, match="outside"):
        generate_asxh_number("01", randbelow=fake)
    assert calls == [10**8]


@pytest.mark.parametrize("code", sorted(CURRENT_PROVINCES))
def test_generate_for_every_current_province(code: str) -> None:
    """Every one of the 34 current codes can register a number."""
    assert generate_asxh_number(code).province_code == code


@pytest.mark.parametrize("code", ["27", "02", "00", "99", "1", "001"])
def test_generate_rejects_closed_or_unknown_province(code: str) -> None:
    """Only the 34 current province codes may start a new number."""
    with pytest.raises(IdentifierError):
        generate_asxh_number(code)


def test_damm_catches_all_single_errors_and_adjacent_transpositions() -> None:
    """Over 2,000 generated numbers, every substitution and adjacent swap breaks the check."""
    rng = random.Random(20250701)
    codes = sorted(CURRENT_PROVINCES)
    checked = 0
    for i in range(2000):
        value = generate_asxh_number(codes[i % len(codes)], randbelow=rng.randrange).value
        assert damm_check_digit(value) == 0
        for pos in range(11):
            for digit in "0123456789":
                if digit != value[pos]:
                    mutated = value[:pos] + digit + value[pos + 1 :]
                    assert damm_check_digit(mutated) != 0, (value, mutated)
                    checked += 1
        for pos in range(10):
            if value[pos] != value[pos + 1]:
                mutated = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
                assert damm_check_digit(mutated) != 0, (value, mutated)
                assert not is_valid_asxh_number(mutated)
                checked += 1
    assert checked > 2000 * 99


@pytest.mark.parametrize(
    "text",
    [
        "01234567894",
        "01 2345 6789 4",
        "01-2345-6789-4",
        " 01 2345-6789 4\n",
        "0 1 2 3 4 5 6 7 8 9 4",
        "01--2345--6789--4",
    ],
)
def test_parse_asxh_number_forms(text: str) -> None:
    """Spaces and dashes anywhere are ignored; display and compact forms round-trip."""
    number = parse_asxh_number(text)
    assert number.value == "01234567894"
    assert number.province_code == "01"
    assert number.formatted == "01 2345 6789 4"
    assert str(number) == "01234567894"
    assert is_valid_asxh_number(text)


def test_asxh_repr_is_masked() -> None:
    """repr() of an AsxhNumber shows only the last 3 digits."""
    assert repr(parse_asxh_number("01234567894")) == "AsxhNumber('********894')"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("01.2345.6789.4", "only digits"),
        ("01_2345_6789_4", "only digits"),
        ("01\t2345 6789 4", "only digits"),
        ("01 2345 6789 A", "only digits"),
        (_fullwidth("01234567894"), "only digits"),
        ("0123456789", "exactly 11 digits"),
        ("012345678944", "exactly 11 digits"),
        ("", "exactly 11 digits"),
        (_asxh("2712345678"), "closed on 1 July 2025"),
        (_asxh("0212345678"), "closed on 1 July 2025"),
        (_asxh("0012345678"), "not one of the 34 current province codes"),
        (_asxh("9912345678"), "not one of the 34 current province codes"),
        ("01234567893", "wrong check digit"),
        ("01 2345 6789 3", "wrong check digit"),
        ("01234567849", "wrong check digit"),
    ],
)
def test_parse_asxh_number_rejects(text: str, message: str) -> None:
    """Other characters, length, closed/unknown province, check digit: each its own message."""
    with pytest.raises(IdentifierError, match=message):
        parse_asxh_number(text)
    assert not is_valid_asxh_number(text)


def test_check_asxh_number_compact_form_only() -> None:
    """check_asxh_number returns the compact digits and refuses separators and bad digits."""
    assert check_asxh_number("01234567894") == "01234567894"
    for text in (
        "01 2345 6789 4",
        "01234567893",
        _asxh("2712345678"),
        _fullwidth("01234567894"),
        "",
    ):
        with pytest.raises(IdentifierError):
            check_asxh_number(text)
    with pytest.raises(IdentifierError, match=r"\*{8}893"):  # masked: last three digits only
        check_asxh_number("01234567893")


def test_asxh_number_validates_on_construction() -> None:
    """AsxhNumber cannot hold an invalid value, nor a formatted one."""
    assert AsxhNumber("01234567894").province_code == "01"
    with pytest.raises(IdentifierError):
        AsxhNumber("01 2345 6789 4")
    with pytest.raises(IdentifierError):
        AsxhNumber("01234567893")
    with pytest.raises(dataclasses.FrozenInstanceError):
        AsxhNumber("01234567894").value = "x"  # type: ignore[misc]


def test_closed_codes_never_start_a_number() -> None:
    """No closed province code yields a valid number, whatever the check digit."""
    for code in CLOSED_PROVINCE_CODES:
        assert not is_valid_asxh_number(_asxh(code + "00000000"))


# ---------------------------------------------------------------------------------------------
# CCCD QR
# ---------------------------------------------------------------------------------------------


def test_cccd_qr_example_1() -> None:
    """The first domain-vn §2.1 example parses into every field."""
    record = parse_cccd_qr(QR_EXAMPLE_1, today=TODAY)
    assert record.pin.number == "001090123456"
    assert record.pin.place_name == "Hà Nội"
    assert record.cmnd == "012345678"
    assert record.full_name == "Nguyễn Văn A"
    assert record.date_of_birth == date(1990, 3, 15)
    assert record.sex == "M"
    assert record.address == "Số 1, Phường X, Quận Y, Hà Nội"
    assert record.issue_date == date(2021, 5, 10)
    assert "001090123456" not in repr(record)
    assert "Nguyễn" not in repr(record)


def test_cccd_qr_example_2_is_inconsistent() -> None:
    """The second §2.1 example says 'Nữ' but its 4th digit 2 means male: the cross-check fails."""
    with pytest.raises(IdentifierError, match="sex given by digit 4"):
        parse_cccd_qr(QR_EXAMPLE_2, today=TODAY)


def test_cccd_qr_example_2_corrected() -> None:
    """With the 4th digit corrected to 3 (21st century, female) the second example parses."""
    record = parse_cccd_qr(QR_EXAMPLE_2.replace("079203", "079303"), today=TODAY)
    assert record.cmnd is None
    assert record.sex == "F"
    assert record.pin.birth_year == 2003
    assert record.pin.place_name == "Hồ Chí Minh"
    assert record.full_name == "Trần Thị B"
    assert record.issue_date == date(2021, 8, 20)


def test_cccd_qr_normalises_and_trims() -> None:
    """Fields are trimmed; name and address are NFC with whitespace collapsed; NFD sex works."""
    nfd = unicodedata.normalize("NFD", "Trần   Thị\tB")
    sex = unicodedata.normalize("NFD", "NỮ")
    text = f" 079303000000 |  | {nfd} | 01012003 | {sex} |  Ấp Z ,  Xã W | "
    record = parse_cccd_qr(text, today=TODAY)
    assert record.full_name == "Trần Thị B"
    assert unicodedata.is_normalized("NFC", record.full_name)
    assert record.address == "Ấp Z , Xã W"
    assert record.sex == "F"
    assert record.cmnd is None
    assert record.issue_date is None


@pytest.mark.parametrize(("word", "sex"), [("nam", "M"), ("NAM", "M"), ("nữ", "F"), ("NỮ", "F")])
def test_cccd_qr_sex_is_case_insensitive(word: str, sex: str) -> None:
    """'Nam'/'Nữ' match in any case, NFC or NFD."""
    pin = "001090123456" if sex == "M" else "001190123456"
    for form in ("NFC", "NFD"):
        text = f"{pin}||A|01011990|{unicodedata.normalize(form, word)}|X"
        assert parse_cccd_qr(text, today=TODAY).sex == sex


def test_cccd_qr_field_counts() -> None:
    """6, 7 and 8 fields are accepted (8th ignored); 5 and 9 are refused."""
    base = "001090123456|012345678|Nguyễn Văn A|15031990|Nam|Hà Nội"
    assert parse_cccd_qr(base, today=TODAY).issue_date is None
    assert parse_cccd_qr(base + "|", today=TODAY).issue_date is None
    assert parse_cccd_qr(base + "|10052021|extra", today=TODAY).issue_date == date(2021, 5, 10)
    with pytest.raises(IdentifierError, match="6 to 8 fields"):
        parse_cccd_qr("001090123456|012345678|Nguyễn Văn A|15031990|Nam", today=TODAY)
    with pytest.raises(IdentifierError, match="6 to 8 fields"):
        parse_cccd_qr(base + "|10052021|x|y", today=TODAY)
    with pytest.raises(IdentifierError, match="6 to 8 fields"):
        parse_cccd_qr("", today=TODAY)


def test_cccd_qr_size_cap() -> None:
    """Exactly 1,000 characters are accepted; 1,001 are refused before splitting."""
    head = "001090123456||A|01011990|Nam|"
    text = head + "x" * (CCCD_QR_MAX_LENGTH - len(head))
    assert len(text) == 1000
    assert parse_cccd_qr(text, today=TODAY).address == "x" * (1000 - len(head))
    with pytest.raises(IdentifierError, match="longer than 1,000"):
        parse_cccd_qr(text + "x", today=TODAY)
    with pytest.raises(IdentifierError, match="longer than 1,000"):
        parse_cccd_qr("|" * 5000, today=TODAY)


def test_cccd_qr_default_today() -> None:
    """Without an injected date the current date is used."""
    assert parse_cccd_qr(QR_EXAMPLE_1).sex == "M"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({0: "00109012345"}, "field 1 \\(PIN\\)"),
        ({0: "000090123456"}, "field 1 \\(PIN\\)"),
        ({1: "12345678"}, "field 2 \\(old CMND\\)"),
        ({2: "   "}, "field 3 \\(full name\\) is empty"),
        ({2: "Nguyễn\x00A"}, "field 3 \\(full name\\) contains control"),
        ({2: "Nguyễn\u200bA"}, "field 3 \\(full name\\) contains control"),
        ({3: "1503199"}, "field 4 \\(date of birth\\) must be 8 digits"),
        ({3: "1990-03-15"}, "field 4 \\(date of birth\\) must be 8 digits"),
        ({3: _fullwidth("15031990")}, "field 4 \\(date of birth\\) must be 8 digits"),
        ({3: "31021990"}, "field 4 \\(date of birth\\) is not a calendar date"),
        ({3: "15131990"}, "field 4 \\(date of birth\\) is not a calendar date"),
        ({0: "001227000001", 3: "01012027"}, "field 1 \\(PIN\\)"),
        ({0: "001226000001", 3: "01122026", 6: ""}, "field 4 \\(date of birth\\) is in the future"),
        ({4: "Male"}, "field 5 \\(sex\\)"),
        ({4: ""}, "field 5 \\(sex\\)"),
        ({5: ""}, "field 6 \\(address\\) is empty"),
        ({5: "Hà Nội\x07"}, "field 6 \\(address\\) contains control"),
        ({6: "1005202"}, "field 7 \\(issue date\\) must be 8 digits"),
        ({6: "30022021"}, "field 7 \\(issue date\\) is not a calendar date"),
        ({6: "10052099"}, "field 7 \\(issue date\\) is in the future"),
        ({6: "14031990"}, "field 7 \\(issue date\\) is before the date of birth"),
        ({3: "15031991"}, "field 1 \\(PIN\\) disagrees.*date of birth"),
        ({4: "Nữ"}, "field 1 \\(PIN\\) disagrees.*sex"),
    ],
)
def test_cccd_qr_broken_fields(fields: dict[int, str], message: str) -> None:
    """Each broken field raises IdentifierError naming that field."""
    parts = QR_EXAMPLE_1.split("|")
    for index, value in fields.items():
        parts[index] = value
    text = "|".join(parts)
    with pytest.raises(IdentifierError, match=message) as info:
        parse_cccd_qr(text, today=TODAY)
    _assert_no_leak(text, info.value)


# ---------------------------------------------------------------------------------------------
# Property tests: arbitrary text never raises anything but IdentifierError
# ---------------------------------------------------------------------------------------------

_PARSERS = (parse_pin, parse_asxh_number, parse_bhyt_code, parse_cccd_qr)

# Text close to the real formats reaches deeper rules than uniformly random text.
_near_digits = st.text(
    alphabet=st.sampled_from("0123456789 -|\t" + _arabic_indic("3") + _fullwidth("5") + "AZaz"),
    min_size=0,
    max_size=20,
)
_qr_field = st.one_of(
    st.text(max_size=15),
    _near_digits,
    st.sampled_from(["Nam", "Nữ", "nữ", "", "15031990", "31021990", "001090123456", "012345678"]),
)
_qr_text = st.lists(_qr_field, min_size=0, max_size=10).map("|".join)
# Texts of 995-1005 characters, straddling the CCCD QR size cap.
_around_cap = st.tuples(st.sampled_from([QR_EXAMPLE_1, "|", "x"]), st.integers(995, 1005)).map(
    lambda t: (t[0] + "|" + "x" * 1005)[: t[1]]
)


def _check_parser_outcome(text: str) -> None:
    for parser in _PARSERS:
        message = ""
        try:
            parser(text)
        except IdentifierError as err:
            message = str(err)
        # Messages never carry a run of 4+ digits except the decree year they cite.
        assert set(re.findall(r"\d{4,}", message)) <= {"2025"}, message


@settings(database=None, max_examples=300)
@given(st.text(max_size=60))
def test_parsers_on_arbitrary_text(text: str) -> None:
    """On any text the parsers return a value or raise IdentifierError, nothing else."""
    _check_parser_outcome(text)


@settings(database=None, max_examples=300)
@given(st.one_of(_near_digits, _qr_text, _around_cap))
def test_parsers_on_near_miss_text(text: str) -> None:
    """Near-valid identifiers and QR texts also only ever raise IdentifierError."""
    _check_parser_outcome(text)


@settings(database=None, max_examples=200)
@given(
    st.sampled_from(sorted(BIRTH_PROVINCES) + [str(n) for n in range(101, 296)]),
    st.integers(0, 3),
    st.integers(0, 99),
    st.integers(0, 999_999),
)
def test_valid_pins_round_trip(prefix: str, d4: int, yy: int, serial: int) -> None:
    """Any PIN built from a known prefix, a 20th/21st-century digit and a past year parses."""
    year = 1900 + (d4 // 2) * 100 + yy
    number = f"{prefix}{d4}{yy:02d}{serial:06d}"
    today = date(max(year, 2026), 12, 31)
    sex: Sex = "M" if d4 % 2 == 0 else "F"
    pin = parse_pin(number, date_of_birth=date(year, 6, 1), sex=sex, today=today)
    assert (pin.number, pin.birth_year, pin.place_code) == (number, year, prefix)
