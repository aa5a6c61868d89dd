"""Issue 13.2: every identifier rule speaks Vietnamese beside English, and never echoes a PIN.

The inputs break the rules of reference/domain-vn.md §1-§3 (12-digit PIN with a Table A or
Table C place code and a century/sex digit, the 9-digit CMND, the 10-digit BHXH number, the
15-character BHYT code with a 1-5 level, the CCCD QR fields of §2.1, the mã số ASXH of
DESIGN.md §1 with a current province code). Each must raise an :class:`IdentifierError` whose
``message_vi`` is a specific sentence of its own (not the class default), written with
Vietnamese diacritics, different from the English one, and without the full number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest

from asxh_card import ids
from asxh_card.errors import IdentifierError
from asxh_card.provinces import current_province

TODAY = date(2026, 3, 1)
PIN = "079090123456"  # HCMC (079), male, born 1990
QR = f"{PIN}|025123456|Nguyễn Văn An|15061990|Nam|12 Lê Lợi, Phường Sài Gòn|01012022"
#: A Vietnamese letter with a diacritic (every natural sentence here has at least one).
VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]")


def _qr(**fields: str) -> str:
    parts = QR.split("|")
    for index, value in fields.items():
        parts[int(index[1:]) - 1] = value
    return "|".join(parts)


CASES: list[tuple[str, Callable[[], object], str]] = [
    ("pin letters", lambda: ids.parse_pin("07909012345A"), "chữ số"),
    ("pin length", lambda: ids.parse_pin("07909012345"), "12 chữ số"),
    ("pin place", lambda: ids.parse_pin("097090123456"), "nơi đăng ký khai sinh"),
    ("pin future", lambda: ids.parse_pin("079290123456", today=TODAY), "tương lai"),
    (
        "pin dob",
        lambda: ids.parse_pin(PIN, date_of_birth=date(1991, 1, 1), today=TODAY),
        "ngày sinh",
    ),
    ("pin sex", lambda: ids.parse_pin(PIN, sex="F", today=TODAY), "giới tính"),
    ("cmnd letters", lambda: ids.parse_cmnd("02512345X"), "CMND"),
    ("cmnd length", lambda: ids.parse_cmnd("0251234567"), "9 chữ số"),
    ("bhxh letters", lambda: ids.parse_bhxh_number("01234567X9"), "BHXH"),
    ("bhxh length", lambda: ids.parse_bhxh_number("012345678"), "10 chữ số"),
    ("bhyt length", lambda: ids.parse_bhyt_code("HS40101234567"), "15 ký tự"),
    ("bhyt group", lambda: ids.parse_bhyt_code("H140101234567890"[:15]), "mã đối tượng"),
    ("bhyt level", lambda: ids.parse_bhyt_code("HS6010123456789"), "mức hưởng"),
    ("bhyt province", lambda: ids.parse_bhyt_code("HS40A0123456789"), "mã tỉnh"),
    ("bhyt number", lambda: ids.parse_bhyt_code("HS401012345678X"), "mã số BHXH"),
    ("damm", lambda: ids.damm_check_digit("12a"), "chữ số"),
    ("asxh chars", lambda: ids.check_asxh_number("79x23456789"), "Mã số ASXH"),
    ("asxh length", lambda: ids.parse_asxh_number("7912345678"), "11 chữ số"),
    ("asxh closed", lambda: ids.parse_asxh_number("02123456789"), "01/07/2025"),
    ("asxh unknown", lambda: ids.parse_asxh_number("99123456789"), "34 tỉnh"),
    ("asxh check", lambda: ids.parse_asxh_number("79123456789"), "chữ số kiểm tra"),
    ("province closed", lambda: current_province("02"), "01/07/2025"),
    ("province unknown", lambda: current_province("99"), "34 tỉnh"),
    ("province shape", lambda: current_province("7"), "2 chữ số"),
    ("qr long", lambda: ids.parse_cccd_qr("|" * 1001, today=TODAY), "1.000 ký tự"),
    ("qr fields", lambda: ids.parse_cccd_qr("a|b|c", today=TODAY), "6 đến 8 trường"),
    ("qr pin", lambda: ids.parse_cccd_qr(_qr(f1="07909012345"), today=TODAY), "trường 1"),
    ("qr cmnd", lambda: ids.parse_cccd_qr(_qr(f2="12"), today=TODAY), "trường 2"),
    ("qr name empty", lambda: ids.parse_cccd_qr(_qr(f3=" "), today=TODAY), "trường 3"),
    ("qr name control", lambda: ids.parse_cccd_qr(_qr(f3="An\x07"), today=TODAY), "điều khiển"),
    ("qr dob shape", lambda: ids.parse_cccd_qr(_qr(f4="1506199"), today=TODAY), "trường 4"),
    ("qr dob date", lambda: ids.parse_cccd_qr(_qr(f4="31021990"), today=TODAY), "ngày có thật"),
    ("qr dob future", lambda: ids.parse_cccd_qr(_qr(f4="15062027"), today=TODAY), "tương lai"),
    ("qr sex", lambda: ids.parse_cccd_qr(_qr(f5="Male"), today=TODAY), "'Nam' hoặc 'Nữ'"),
    ("qr address empty", lambda: ids.parse_cccd_qr(_qr(f6=""), today=TODAY), "trường 6"),
    ("qr address control", lambda: ids.parse_cccd_qr(_qr(f6="a\x00"), today=TODAY), "trường 6"),
    ("qr issue future", lambda: ids.parse_cccd_qr(_qr(f7="01012027"), today=TODAY), "trường 7"),
    ("qr issue early", lambda: ids.parse_cccd_qr(_qr(f7="01011980"), today=TODAY), "trước ngày"),
    (
        "qr disagrees",
        lambda: ids.parse_cccd_qr(_qr(f4="15061991"), today=TODAY),
        "không khớp",
    ),
]


@pytest.mark.parametrize(("name", "call", "words"), CASES, ids=[c[0] for c in CASES])
def test_identifier_rules_have_their_own_vietnamese_sentence(
    name: str, call: Callable[[], object], words: str
) -> None:
    """Each broken rule: a specific Vietnamese sentence naming it, English kept, no full PIN."""
    with pytest.raises(IdentifierError) as info:
        call()
    err = info.value
    assert err.message_vi != IdentifierError.default_vi, name
    assert words in err.message_vi, (name, err.message_vi)
    assert VIETNAMESE.search(err.message_vi), err.message_vi
    assert err.message_vi != err.message_en
    assert err.message("en") == str(err) == err.message_en
    for secret in (PIN, "025123456", "0123456789"):
        assert secret not in err.message_vi
        assert secret not in err.message_en


def test_pin_messages_show_only_the_last_three_digits() -> None:
    """The Vietnamese message masks the PIN as the English one does (Law 91/2025/QH15)."""
    with pytest.raises(IdentifierError) as info:
        ids.parse_pin("079290123456", today=TODAY)
    assert "*********456" in info.value.message_vi
    assert "079290" not in info.value.message_vi


def test_counts_never_echo_four_digits_in_vietnamese() -> None:
    """A long input's length is not echoed (it could coincide with digits of the input)."""
    with pytest.raises(IdentifierError) as info:
        ids.parse_pin("1" * 1234)
    assert "1234" not in info.value.message_vi
    assert "hơn 999" in info.value.message_vi


def test_entitlement_rules_an_officer_meets_speak_vietnamese() -> None:
    """Unknown programme, window backwards, a never-on-card field, coverage not the level's."""
    from asxh_card.errors import EntitlementError
    from asxh_card.programmes import Entitlement

    cases = [
        (Entitlement("XYZ", date(2026, 1, 1)), "Không có chế độ"),
        (
            Entitlement("TGXH", date(2026, 1, 1), date(2025, 1, 1), {"amount": 500000}),
            "ngày hết hạn ở trước ngày bắt đầu",
        ),
        (
            Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 500000, "reason": "x"}),
            "không bao giờ được ghi lên thẻ",
        ),
        (
            Entitlement(
                "BHYT", date(2026, 1, 1), None, {"level": 3, "coverage": 80, "facility": "79-024"}
            ),
            "phải là 95 khi level là 3",
        ),
    ]
    for entitlement, words in cases:
        with pytest.raises(EntitlementError) as info:
            entitlement.validate()
        assert words in info.value.message_vi, info.value.message_vi
        assert VIETNAMESE.search(info.value.message_vi)
