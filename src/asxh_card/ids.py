"""Identifiers: the personal ID number, its legacy aliases, and the mã số ASXH.

* **Personal ID number** (PIN, *số định danh cá nhân*, the CCCD number): 12 digits with no check
  digit (Decree 137/2015/ND-CP Art. 13; Circular 07/2016/TT-BCA Art. 7; Circular 59/2021/TT-BCA).
  Only its shape can be checked: a known place-of-birth code, a 4th digit for century and sex, a
  birth year that is not in the future. A well-shaped number is not a *verified* one
  (DESIGN.md §1, reference/domain-vn.md §1).
* **Legacy aliases**: the 9-digit CMND, the 10-digit BHXH number and the 15-character BHYT card
  code. VSS replaced the BHXH number by the PIN on 1 Aug 2025 (Dispatch 1804/BHXH-QLT), but the
  old codes still appear in historical data and hospital claim XML, so they are accepted as
  lookup aliases only (reference/domain-vn.md §3).
* **mã số ASXH**: 11 digits, ``PP NNNN NNNN C``: the current province code of first registration,
  8 random digits and a Damm check digit over the first 10 (DESIGN.md §1). It is never derived
  from the PIN, so a card does not reveal the PIN.
* **CCCD QR text**: the unsigned ``PIN|CMND|name|DOB|sex|address|issue date`` text on the front
  of the chip CCCD (Circular 06/2021/TT-BCA template). For pre-filling forms only: anyone can
  print such a QR.

The PIN is personal data (Law 91/2025/QH15): no error message, ``repr`` or log line built here
shows more than the last three characters of an identifier (:func:`mask_identifier`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Final, Literal

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.errors import IdentifierError
from asxh_card.names import normalise_name
from asxh_card.programmes.bhyt import bhyt_groups
from asxh_card.provinces import (
    BIRTH_PROVINCES,
    CLOSED_PROVINCE_CODES,
    COUNTRY_CODES,
    current_province,
    is_current_province_code,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BHYT_KNOWN_GROUPS",
    "CCCD_QR_MAX_LENGTH",
    "AsxhNumber",
    "BhytCardCode",
    "CccdQrRecord",
    "PersonalId",
    "Sex",
    "check_asxh_number",
    "damm_check_digit",
    "generate_asxh_number",
    "is_valid_asxh_number",
    "is_valid_pin",
    "mask_identifier",
    "parse_asxh_number",
    "parse_bhxh_number",
    "parse_bhyt_code",
    "parse_cccd_qr",
    "parse_cmnd",
    "parse_pin",
]

Sex = Literal["M", "F"]
"""``"M"`` (male, *Nam*) or ``"F"`` (female, *Nữ*), as encoded by the PIN's 4th digit."""

# ``[0-9]`` rather than ``\d``: in Python ``\d`` also matches Arabic-Indic, fullwidth and other
# Unicode digits, which no Vietnamese identifier contains.
_DIGITS = re.compile(r"[0-9]*")


def _today() -> date:
    # Birth years and card dates are Vietnamese calendar dates (UTC+07:00).
    return vn_date(utc_now())


def _count(n: int) -> str:
    # Lengths go into messages; a 4-digit count could coincide with digits of the input.
    return str(n) if n < 1000 else "more than 999"


def _count_vi(n: int) -> str:
    # The same count as _count, in Vietnamese ("12 chữ số" reads "có 12"): never 4 digits.
    return str(n) if n < 1000 else "hơn 999"


def mask_identifier(text: str) -> str:
    """Hide all but the last 3 characters: ``"001090123456"`` -> ``"*********456"``.

    Use it wherever an identifier must be shown or logged. Surrounding whitespace is dropped
    first; a text of 3 characters or fewer is returned as it is.
    """
    stripped = text.strip()
    return "*" * max(len(stripped) - 3, 0) + stripped[-3:]


# ---------------------------------------------------------------------------------------------
# Personal ID number
# ---------------------------------------------------------------------------------------------

_PIN_LENGTH: Final = 12


@dataclass(frozen=True, slots=True, repr=False)
class PersonalId:
    """A personal ID number whose shape is valid (not proof that it was ever issued)."""

    number: str
    """The 12 ASCII digits."""
    place_code: str
    """Digits 1-3: place-of-birth registration code (Table A province, or country 101-295)."""
    place_kind: Literal["province", "country"]
    """Whether :attr:`place_code` is a pre-2025 province or a country (birth registered abroad)."""
    place_name: str
    """Pre-2025 province name (Vietnamese) or country name (English)."""
    sex: Sex
    """From the 4th digit: even is male, odd is female."""
    birth_year: int
    """``1900 + (d4 // 2) * 100 + int(d5d6)``."""

    @property
    def masked(self) -> str:
        """The number with all but its last 3 digits replaced by ``*``."""
        return mask_identifier(self.number)

    def __repr__(self) -> str:
        """Show the masked number only, so that logs never carry a full PIN."""
        return f"PersonalId({self.masked!r})"


def parse_pin(
    text: str,
    *,
    date_of_birth: date | None = None,
    sex: Sex | None = None,
    today: date | None = None,
) -> PersonalId:
    """Parse and check the shape of a 12-digit personal ID number.

    Rules, in order (Decree 137/2015/ND-CP Art. 13, reference/domain-vn.md §1.2-1.4):

    1. exactly 12 ASCII digits once surrounding whitespace is stripped;
    2. digits 1-3 are a Table A province code (001-096, with gaps) or a country code (101-295);
    3. the 4th digit gives century and sex, digits 5-6 the year within the century, and that
       birth year is not after ``today`` (Vietnamese calendar date by default);
    4. when given, ``date_of_birth`` has that birth year and ``sex`` that sex.

    Raises :class:`IdentifierError` naming the failed rule; the message shows at most the last
    3 digits.
    """
    number = text.strip()
    if _DIGITS.fullmatch(number) is None:
        raise IdentifierError(
            "personal ID number: must contain only the ASCII digits 0-9",
            message_vi="Số định danh cá nhân chỉ được gồm các chữ số từ 0 đến 9.",
        )
    if len(number) != _PIN_LENGTH:
        raise IdentifierError(
            f"personal ID number: must be exactly 12 digits, got {_count(len(number))}",
            message_vi=(
                "Số định danh cá nhân phải có đúng 12 chữ số, "
                f"số đã nhập có {_count_vi(len(number))}."
            ),
        )
    masked = mask_identifier(number)
    place_code = number[:3]
    birth_province = BIRTH_PROVINCES.get(place_code)
    place_kind: Literal["province", "country"]
    if birth_province is not None:
        place_kind, place_name = "province", birth_province.name
    elif place_code in COUNTRY_CODES:
        place_kind, place_name = "country", COUNTRY_CODES[place_code]
    else:
        # 000 is mentioned by one source without a meaning; unknown codes are refused rather
        # than guessed (reference/domain-vn.md §1.5).
        raise IdentifierError(
            f"personal ID number {masked}: digits 1-3 are not a known place-of-birth code "
            "(pre-2025 province 001-096 or country 101-295)",
            message_vi=(
                f"Số định danh cá nhân {masked}: ba chữ số đầu không phải mã nơi đăng ký khai "
                "sinh đã biết (mã tỉnh trước năm 2025 từ 001 đến 096, hoặc mã quốc gia từ 101 "
                "đến 295)."
            ),
        )
    d4 = int(number[3])
    # Table 1.3: 0/1 20th century, 2/3 21st, ... ; even male, odd female.
    birth_year = 1900 + (d4 // 2) * 100 + int(number[4:6])
    pin_sex: Sex = "M" if d4 % 2 == 0 else "F"
    if birth_year > (today or _today()).year:
        raise IdentifierError(
            f"personal ID number {masked}: the birth year given by digits 4-6 "
            "(century/sex digit and year) is in the future",
            message_vi=(
                f"Số định danh cá nhân {masked}: năm sinh theo chữ số thứ 4 đến thứ 6 "
                "(thế kỷ, giới tính và năm) nằm trong tương lai."
            ),
        )
    if date_of_birth is not None and date_of_birth.year != birth_year:
        raise IdentifierError(
            f"personal ID number {masked}: the birth year given by digits 4-6 does not match "
            "the date of birth",
            message_vi=(
                f"Số định danh cá nhân {masked}: năm sinh theo chữ số thứ 4 đến thứ 6 không "
                "khớp với ngày sinh."
            ),
        )
    if sex is not None and sex != pin_sex:
        raise IdentifierError(
            f"personal ID number {masked}: the sex given by digit 4 does not match the sex given",
            message_vi=(
                f"Số định danh cá nhân {masked}: giới tính theo chữ số thứ 4 không khớp với "
                "giới tính đã khai."
            ),
        )
    return PersonalId(
        number=number,
        place_code=place_code,
        place_kind=place_kind,
        place_name=place_name,
        sex=pin_sex,
        birth_year=birth_year,
    )


def is_valid_pin(text: str) -> bool:
    """Whether :func:`parse_pin` accepts ``text`` (shape only, no cross-checks)."""
    try:
        parse_pin(text)
    except IdentifierError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Legacy aliases
# ---------------------------------------------------------------------------------------------


def _parse_fixed_digits(text: str, length: int, what: str, what_vi: str) -> str:
    value = text.strip()
    if _DIGITS.fullmatch(value) is None:
        raise IdentifierError(
            f"{what}: must contain only the ASCII digits 0-9",
            message_vi=f"{what_vi} chỉ được gồm các chữ số từ 0 đến 9.",
        )
    if len(value) != length:
        raise IdentifierError(
            f"{what}: must be exactly {length} digits, got {_count(len(value))}",
            message_vi=(
                f"{what_vi} phải có đúng {length} chữ số, số đã nhập có {_count_vi(len(value))}."
            ),
        )
    return value


def parse_cmnd(text: str) -> str:
    """Check an old 9-digit identity card (CMND) number and return its digits.

    Shape only: the CMND has no check digit and its first digits' meaning is not verified
    (reference/domain-vn.md §1.6). CMND cards lost validity on 31 Dec 2024 (Law 26/2023/QH15
    Art. 46); the number survives as an alias.
    """
    return _parse_fixed_digits(text, 9, "CMND number", "Số chứng minh nhân dân (CMND)")


def parse_bhxh_number(text: str) -> str:
    """Check a legacy 10-digit social-insurance (BHXH) number and return its digits.

    Shape only: no check digit is published (reference/domain-vn.md §3.4).
    """
    return _parse_fixed_digits(text, 10, "BHXH number", "Mã số bảo hiểm xã hội (BHXH)")


# Beneficiary group codes of the 15-character BHYT card code: the 54 codes of
# asxh_card/data/bhyt_groups.json (reference/domain-vn.md §3.3: Table D of Decision
# 1351/QĐ-BHXH as amended, LH, and the codes seen in a 2026 claim-rule engine). The list is not
# authoritative: VSS adds groups (Law 51/2024/QH15), so an unknown group is accepted in a legacy
# code and only flagged through BhytCardCode.known_group.
BHYT_KNOWN_GROUPS: Final[frozenset[str]] = frozenset(bhyt_groups())

_BHYT_CODE = re.compile(r"[A-Z]{2}[1-5][0-9]{2}[0-9]{10}")


@dataclass(frozen=True, slots=True, repr=False)
class BhytCardCode:
    """A legacy 15-character health-insurance card code ``XX N PP SSSSSSSSSS``."""

    group: str
    """Beneficiary group code (*mã đối tượng*), two uppercase letters (Table D)."""
    level: int
    """Benefit level (*mức hưởng*) 1-5 at the time the card was printed (Table E)."""
    province_code: str
    """2-digit code of the issuing province (pre-2025 GSO code on older cards)."""
    bhxh_number: str
    """The 10-digit BHXH number."""

    @property
    def code(self) -> str:
        """The compact 15-character code, e.g. ``"HS4010123456789"``."""
        return f"{self.group}{self.level}{self.province_code}{self.bhxh_number}"

    @property
    def known_group(self) -> bool:
        """Whether :attr:`group` is in :data:`BHYT_KNOWN_GROUPS` (the list is not authoritative)."""
        return self.group in BHYT_KNOWN_GROUPS

    def __repr__(self) -> str:
        """Mask the BHXH number: it identifies a person."""
        return (
            f"BhytCardCode(group={self.group!r}, level={self.level}, "
            f"province_code={self.province_code!r}, "
            f"bhxh_number={mask_identifier(self.bhxh_number)!r})"
        )


def parse_bhyt_code(text: str) -> BhytCardCode:
    """Parse a 15-character BHYT card code, with or without spaces (``"HS 4 01 0123456789"``).

    Structure ``^[A-Z]{2}[1-5][0-9]{2}[0-9]{10}$`` (Decision 1351/QĐ-BHXH; reference/domain-vn.md
    §3.1). ASCII lowercase letters are accepted and upper-cased. The benefit level printed on a
    card may be out of date (levels changed on 1 Jan 2026): store it with a date.
    """
    compact = text.strip().replace(" ", "")
    if compact.isascii():
        compact = compact.upper()
    if len(compact) != 15:
        raise IdentifierError(
            "BHYT card code: must be 15 characters once spaces are removed, "
            f"got {_count(len(compact))}",
            message_vi=(
                "Mã thẻ BHYT phải có đúng 15 ký tự (không tính dấu cách), "
                f"mã đã nhập có {_count_vi(len(compact))}."
            ),
        )
    if _BHYT_CODE.fullmatch(compact) is None:
        masked = mask_identifier(compact)
        group, level, province = compact[:2], compact[2], compact[3:5]
        if not (group.isascii() and group.isalpha()):
            reason = "characters 1-2 (group code) must be two letters A-Z"
            reason_vi = "hai ký tự đầu (mã đối tượng) phải là hai chữ cái từ A đến Z"
        elif level not in "12345":
            reason = "character 3 (benefit level) must be a digit 1-5"
            reason_vi = "ký tự thứ 3 (mức hưởng) phải là một chữ số từ 1 đến 5"
        elif _DIGITS.fullmatch(province) is None:
            reason = "characters 4-5 (province code) must be two digits"
            reason_vi = "ký tự thứ 4 và 5 (mã tỉnh) phải là hai chữ số"
        else:  # the only rule left
            reason = "characters 6-15 (BHXH number) must be ten digits"
            reason_vi = "ký tự thứ 6 đến 15 (mã số BHXH) phải là mười chữ số"
        raise IdentifierError(
            f"BHYT card code {masked}: {reason}", message_vi=f"Mã thẻ BHYT {masked}: {reason_vi}."
        )
    return BhytCardCode(
        group=compact[:2],
        level=int(compact[2]),
        province_code=compact[3:5],
        bhxh_number=compact[5:],
    )


# ---------------------------------------------------------------------------------------------
# mã số ASXH
# ---------------------------------------------------------------------------------------------

# The Damm quasigroup of order 10 (H. M. Damm, 2004), the table published on Wikipedia ("Damm
# algorithm"). It is weakly totally anti-symmetric with a zero diagonal, so the check digit
# catches every single-digit error and every adjacent transposition (DESIGN.md §1).
_DAMM: Final[tuple[tuple[int, ...], ...]] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_ASXH_LENGTH: Final = 11
_ASXH_RANDOM_SPACE: Final = 10**8
_ASXH_SEPARATORS = re.compile(r"[ -]")


# Each Damm row indexed by the digit's ASCII code (48-57), so a loop over the digits' bytes
# needs no ord() or subtraction: card verification checks a number per card.
_DAMM_BY_BYTE: Final = tuple(bytes(48) + bytes(row) for row in _DAMM)


def damm_check_digit(digits: str) -> int:
    """Return the Damm check digit of a string of ASCII digits (``"572"`` -> ``4``).

    Appending the check digit gives a string whose own check digit is 0, which is how a
    complete number is validated. Raises :class:`IdentifierError` for any non-digit character.
    """
    if _DIGITS.fullmatch(digits) is None:
        raise IdentifierError(
            "Damm check digit: input must contain only the ASCII digits 0-9",
            message_vi="Chữ số kiểm tra: dữ liệu chỉ được gồm các chữ số từ 0 đến 9.",
        )
    interim = 0
    for byte in digits.encode("ascii"):
        interim = _DAMM_BY_BYTE[interim][byte]
    return interim


def check_asxh_number(value: str) -> str:
    """Validate a compact 11-digit mã số ASXH (no separators) and return it unchanged.

    The fast check for numbers read from cards; :func:`parse_asxh_number` also accepts spaces
    and dashes and returns an :class:`AsxhNumber`. Raises :class:`IdentifierError` with the
    same messages.
    """
    if _DIGITS.fullmatch(value) is None:
        raise IdentifierError(
            "mã số ASXH: may contain only digits 0-9, with optional spaces or dashes",
            message_vi=(
                "Mã số ASXH chỉ được gồm các chữ số từ 0 đến 9, có thể cách nhau bằng dấu cách "
                "hoặc dấu gạch ngang."
            ),
        )
    if len(value) != _ASXH_LENGTH:
        raise IdentifierError(
            f"mã số ASXH: must be exactly 11 digits, got {_count(len(value))}",
            message_vi=f"Mã số ASXH phải có đúng 11 chữ số, số đã nhập có {_count_vi(len(value))}.",
        )
    # The province code is not echoed: messages show at most the last three digits.
    if value[:2] in CLOSED_PROVINCE_CODES:
        raise IdentifierError(
            f"mã số ASXH {mask_identifier(value)}: digits 1-2 are a province code closed on "
            "1 July 2025 (Decision 19/2025/QĐ-TTg)",
            message_vi=(
                f"Mã số ASXH {mask_identifier(value)}: hai chữ số đầu là mã của một tỉnh đã "
                "sáp nhập từ ngày 01/07/2025 (Quyết định 19/2025/QĐ-TTg)."
            ),
        )
    if not is_current_province_code(value[:2]):
        raise IdentifierError(
            f"mã số ASXH {mask_identifier(value)}: digits 1-2 are not one of the 34 current "
            "province codes",
            message_vi=(
                f"Mã số ASXH {mask_identifier(value)}: hai chữ số đầu không phải mã của một "
                "trong 34 tỉnh, thành phố hiện nay."
            ),
        )
    if damm_check_digit(value) != 0:
        raise IdentifierError(
            f"mã số ASXH {mask_identifier(value)}: wrong check digit (mistyped or transposed "
            "digits)",
            message_vi=(
                f"Mã số ASXH {mask_identifier(value)}: sai chữ số kiểm tra (có thể gõ nhầm "
                "hoặc đảo chỗ hai chữ số)."
            ),
        )
    return value


@dataclass(frozen=True, slots=True, repr=False)
class AsxhNumber:
    """A valid mã số ASXH. Construct it with the compact 11 digits; it validates itself."""

    value: str
    """The 11 digits without separators."""
    province_code: str = field(init=False)
    """Digits 1-2: current province code of first registration."""

    def __post_init__(self) -> None:
        """Validate ``value`` (so no invalid instance exists) and derive the province code."""
        check_asxh_number(self.value)
        object.__setattr__(self, "province_code", self.value[:2])

    @property
    def formatted(self) -> str:
        """The display form ``PP NNNN NNNN C``."""
        v = self.value
        return f"{v[:2]} {v[2:6]} {v[6:10]} {v[10]}"

    def __str__(self) -> str:
        """Return the compact 11 digits."""
        return self.value

    def __repr__(self) -> str:
        """Show the masked number only (logs)."""
        return f"AsxhNumber({mask_identifier(self.value)!r})"


def generate_asxh_number(
    province_code: str,
    *,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> AsxhNumber:
    """Draw a new mã số ASXH for a person first registered in ``province_code``.

    The 8 middle digits come from one call ``randbelow(10**8)`` (a CSPRNG by default, so that
    numbers reveal nothing about issuance order); tests inject ``random.Random(seed).randrange``.
    Uniqueness is the registry's job, not this function's. Raises :class:`IdentifierError` for a
    province code that is not one of the 34 current ones.
    """
    province = current_province(province_code)
    serial = randbelow(_ASXH_RANDOM_SPACE)
    if not 0 <= serial < _ASXH_RANDOM_SPACE:
        raise ValueError("randbelow returned a value outside [0, 10**8)")
    body = f"{province.code}{serial:08d}"
    return AsxhNumber(f"{body}{damm_check_digit(body)}")


def parse_asxh_number(text: str) -> AsxhNumber:
    """Parse a mã số ASXH with or without spaces or dashes (``"01 2345 6789 3"``).

    Raises :class:`IdentifierError` for other characters, a wrong length, a closed or unknown
    province code, and a wrong check digit, each with its own message.
    """
    return AsxhNumber(_ASXH_SEPARATORS.sub("", text.strip()))


def is_valid_asxh_number(text: str) -> bool:
    """Whether :func:`parse_asxh_number` accepts ``text``."""
    try:
        parse_asxh_number(text)
    except IdentifierError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# CCCD chip-card QR text
# ---------------------------------------------------------------------------------------------

CCCD_QR_MAX_LENGTH: Final = 1000
_DATE_DDMMYYYY = re.compile(r"[0-9]{8}")
_SEX_WORDS: Final[dict[str, Sex]] = {"nam": "M", "nữ": "F"}


@dataclass(frozen=True, slots=True, repr=False)
class CccdQrRecord:
    """The fields of a chip CCCD's QR text. Unsigned: for pre-filling forms, never as proof."""

    pin: PersonalId
    """Checked with :func:`parse_pin` against :attr:`date_of_birth` and :attr:`sex`."""
    cmnd: str | None
    """Old 9-digit CMND number, or ``None`` when the person never had one."""
    full_name: str
    """NFC-normalised, whitespace collapsed."""
    date_of_birth: date
    sex: Sex
    address: str
    """Permanent address as printed (pre-2025 cards name districts); NFC, whitespace collapsed."""
    issue_date: date | None

    def __repr__(self) -> str:
        """Show the masked PIN only: the record is personal data."""
        return f"CccdQrRecord(pin={self.pin.masked!r})"


def _clean_text(value: str) -> str:
    return normalise_name(value)  # the one NFC + single-space rule (asxh_card.names)


def _has_control(value: str) -> bool:
    # After _clean_text no separator but the ASCII space is left, so isprintable() is False
    # exactly for category C (control, format, surrogate, private use, unassigned), as in
    # card._check_name: one C-level pass instead of a category lookup per character.
    return not value.isprintable()


def _qr_error(message: str, message_vi: str) -> IdentifierError:
    return IdentifierError(f"CCCD QR: {message}", message_vi=f"Mã QR trên CCCD: {message_vi}")


def _qr_date(value: str, what: str, what_vi: str) -> date:
    if _DATE_DDMMYYYY.fullmatch(value) is None:
        raise _qr_error(
            f"{what} must be 8 digits ddMMyyyy", f"{what_vi} phải gồm 8 chữ số dạng ngàythángnăm."
        )
    try:
        return date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        raise _qr_error(
            f"{what} is not a calendar date", f"{what_vi} không phải ngày có thật."
        ) from None


def parse_cccd_qr(text: str, *, today: date | None = None) -> CccdQrRecord:
    """Parse the text of the QR code on the front of a chip CCCD (Circular 06/2021/TT-BCA).

    Format (reference/domain-vn.md §2.1): ``PIN|CMND|name|ddMMyyyy|Nam or Nữ|address|ddMMyyyy``.
    Tolerant as scanners vary: fields are trimmed, 6 to 8 fields are accepted (an 8th is
    ignored), an empty CMND gives ``None``, a missing or empty issue date gives ``None``, and the
    sex word matches in any case and in NFC or NFD. Input longer than 1,000 characters is refused
    before it is split. Each broken field raises :class:`IdentifierError` naming the field and
    never echoing personal data beyond the last 3 digits of the PIN.
    """
    if len(text) > CCCD_QR_MAX_LENGTH:
        raise _qr_error("text is longer than 1,000 characters", "nội dung dài quá 1.000 ký tự.")
    fields = [f.strip() for f in text.split("|")]
    if not 6 <= len(fields) <= 8:
        raise _qr_error(
            f"expected 6 to 8 fields separated by '|', got {_count(len(fields))}",
            f"cần từ 6 đến 8 trường ngăn cách bởi dấu '|', mã đã quét có {_count_vi(len(fields))}.",
        )
    today = today or _today()
    try:
        parse_pin(fields[0], today=today)
    except IdentifierError as err:
        raise _qr_error(
            f"field 1 (PIN): {err}", f"trường 1 (số định danh cá nhân): {err.message_vi}"
        ) from err

    cmnd: str | None = None
    if fields[1]:
        try:
            cmnd = parse_cmnd(fields[1])
        except IdentifierError as err:
            raise _qr_error(
                f"field 2 (old CMND): {err}", f"trường 2 (số CMND cũ): {err.message_vi}"
            ) from err

    full_name = _clean_text(fields[2])
    if not full_name:
        raise _qr_error("field 3 (full name) is empty", "trường 3 (họ và tên) bị trống.")
    if _has_control(full_name):
        raise _qr_error(
            "field 3 (full name) contains control characters",
            "trường 3 (họ và tên) chứa ký tự điều khiển.",
        )

    date_of_birth = _qr_date(fields[3], "field 4 (date of birth)", "trường 4 (ngày sinh)")
    if date_of_birth > today:
        raise _qr_error(
            "field 4 (date of birth) is in the future", "trường 4 (ngày sinh) nằm trong tương lai."
        )

    sex = _SEX_WORDS.get(unicodedata.normalize("NFC", fields[4]).casefold())
    if sex is None:
        raise _qr_error(
            "field 5 (sex) must be 'Nam' or 'Nữ'", "trường 5 (giới tính) phải là 'Nam' hoặc 'Nữ'."
        )

    address = _clean_text(fields[5])
    if not address:
        raise _qr_error("field 6 (address) is empty", "trường 6 (nơi thường trú) bị trống.")
    if _has_control(address):
        raise _qr_error(
            "field 6 (address) contains control characters",
            "trường 6 (nơi thường trú) chứa ký tự điều khiển.",
        )

    issue_date: date | None = None
    if len(fields) > 6 and fields[6]:
        issue_date = _qr_date(fields[6], "field 7 (issue date)", "trường 7 (ngày cấp)")
        if issue_date > today:
            raise _qr_error(
                "field 7 (issue date) is in the future", "trường 7 (ngày cấp) nằm trong tương lai."
            )
        if issue_date < date_of_birth:
            raise _qr_error(
                "field 7 (issue date) is before the date of birth",
                "trường 7 (ngày cấp) trước ngày sinh.",
            )

    try:
        pin = parse_pin(fields[0], date_of_birth=date_of_birth, sex=sex, today=today)
    except IdentifierError as err:
        raise _qr_error(
            f"field 1 (PIN) disagrees with the QR: {err}",
            f"trường 1 (số định danh cá nhân) không khớp với các trường khác: {err.message_vi}",
        ) from err

    return CccdQrRecord(
        pin=pin,
        cmnd=cmnd,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        address=address,
        issue_date=issue_date,
    )
