"""Scanner output of the CCCD QR as it really comes: labels, one field a line, dd/mm/yyyy."""

from __future__ import annotations

import random
from datetime import date

import pytest

from asxh_card.errors import IdentifierError
from asxh_card.service.cccd_scan import parse_scanned, plain_cccd_text
from asxh_card.service.demo import synthetic_pin

PIN = synthetic_pin(random.Random(3), "079", date(1990, 3, 15), "F")
PLAIN = f"{PIN}|123456789|Nguyễn Thị Minh Khai|15031990|Nữ|12 Lê Lợi, Phường Sài Gòn|01022022"


def test_plain_text_is_left_as_it_is() -> None:
    """The standard QR text passes through unchanged to the library's parser."""
    assert plain_cccd_text(PLAIN) == PLAIN
    record = parse_scanned(PLAIN)
    assert record.full_name == "Nguyễn Thị Minh Khai"
    assert record.cmnd == "123456789"


def test_labels_and_slashed_dates_are_dropped() -> None:
    """``Số CCCD: …|Họ và tên: …`` with dd/mm/yyyy dates reads as the plain text."""
    labelled = (
        f"Số CCCD: {PIN}|Số CMND: 123456789|Họ và tên: Nguyễn Thị Minh Khai|"
        "Ngày sinh: 15/03/1990|Giới tính: Nữ|Nơi thường trú: 12 Lê Lợi, Phường Sài Gòn|"
        "Ngày cấp: 01/02/2022"
    )
    assert plain_cccd_text(labelled) == PLAIN


def test_one_labelled_field_a_line_is_put_in_order() -> None:
    """Lines in any order, labels in Vietnamese or English, a missing CMND left empty."""
    lines = (
        "Name: Nguyễn Thị Minh Khai\n"
        f"ID number: {PIN}\n"
        "Date of birth: 15.03.1990\n"
        "Sex: Nữ\n"
        "Address: 12 Lê Lợi, Phường Sài Gòn\n"
    )
    record = parse_scanned(lines)
    assert record.pin.number == PIN
    assert record.cmnd is None
    assert record.date_of_birth == date(1990, 3, 15)
    assert record.address == "12 Lê Lợi, Phường Sài Gòn"


def test_unrecognised_text_reaches_the_parser_and_is_explained() -> None:
    """Text the rules do not know is handed on as it came; the library says what is wrong."""
    assert plain_cccd_text("Hello: world\nHello: again") == "Hello: world\nHello: again"
    with pytest.raises(IdentifierError) as caught:
        parse_scanned("just some text")
    assert "CCCD" in caught.value.message_vi
    with pytest.raises(IdentifierError):
        parse_scanned("x" * 5000)  # refused by length before it is split
