"""The CCCD chip-card QR text as scanners really deliver it, for pre-filling a registration.

The QR on a chip CCCD holds ``PIN|CMND|name|ddMMyyyy|Nam or Nữ|address|ddMMyyyy``
(Circular 06/2021/TT-BCA; ``reference/domain-vn.md`` §2.1), which
:func:`asxh_card.ids.parse_cccd_qr` parses. Some desktop scanners and phone apps add labels
("Số CCCD: …", "Họ và tên: …"), print one labelled field per line instead of ``|``, or write
dates as ``dd/mm/yyyy``. :func:`parse_scanned` rewrites those forms into the plain one and
hands it to the library's parser, so every check of the library still applies. The record is
unsigned: it only fills the form, the officer checks it against the card.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from asxh_card.ids import CCCD_QR_MAX_LENGTH, CccdQrRecord, parse_cccd_qr

__all__ = ["parse_scanned", "plain_cccd_text"]

#: A label before a field: letters, spaces and a few marks (never a digit) up to a colon.
_LABEL: Final = re.compile(r"^[^\W\d_][^\d:|]{0,40}:\s*", re.UNICODE)
_DATE: Final = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")

#: Field positions by words of their labels (Vietnamese without diacritics, and English).
_FIELDS: Final = (
    (1, ("cmnd", "chung minh")),
    (0, ("cccd", "can cuoc", "dinh danh", "so the", "id number", "identity", "pin")),
    (3, ("ngay sinh", "birth", "dob")),
    (6, ("ngay cap", "issue")),
    (2, ("ho va ten", "ho ten", "ten", "name")),
    (4, ("gioi tinh", "gioi", "sex", "gender")),
    (5, ("thuong tru", "dia chi", "noi o", "cu tru", "address", "residence")),
)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c))


def _date(value: str) -> str:
    match = _DATE.match(value)
    if match is None:
        return value
    day, month, year = match.groups()
    return f"{int(day):02d}{int(month):02d}{year}"


def _position(label: str) -> int | None:
    words = _plain(label)
    for position, keys in _FIELDS:
        if any(key in words for key in keys):
            return position
    return None


def plain_cccd_text(text: str) -> str:
    """``text`` as the plain ``|``-separated QR text: labels dropped, dates as ddMMyyyy.

    One labelled field per line (no ``|``) is put in order by its label; text the rules do not
    recognise is returned as it came, for the parser to explain what is wrong with it.
    """
    text = text.strip().lstrip("\ufeff")
    if len(text) > CCCD_QR_MAX_LENGTH:
        return text  # refused by the parser before it is split
    if "|" in text:
        fields = [_date(_LABEL.sub("", part.strip(), count=1)) for part in text.split("|")]
        return "|".join(fields)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    placed: dict[int, str] = {}
    for line in lines:
        label, colon, value = line.partition(":")
        position = _position(label) if colon else None
        if position is None or position in placed:
            return text
        placed[position] = _date(value.strip())
    if not placed:
        return text
    return "|".join(placed.get(i, "") for i in range(max(6, max(placed) + 1)))


def parse_scanned(text: str) -> CccdQrRecord:
    """Parse a scanned or pasted CCCD QR text, labelled or not (raises ``IdentifierError``)."""
    return parse_cccd_qr(plain_cccd_text(text))
