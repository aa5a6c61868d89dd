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

from asxh_card.errors import InvalidInputError, MalformedError, PayloadTooLargeError
from asxh_card.ids import CCCD_QR_MAX_LENGTH, CccdQrRecord, parse_cccd_qr
from asxh_card.verifier.image import read_qr_texts

__all__ = ["MAX_PHOTO_BYTES", "parse_scanned", "plain_cccd_text", "read_cccd_photo"]

#: A phone photo of a card is a few MB (as the check page's photos).
MAX_PHOTO_BYTES: Final = 8 * 1024 * 1024

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


def read_cccd_photo(data: bytes) -> str:
    """The text of the CCCD QR code in a photo (zxing-cpp, as the card check reads cards).

    Blocking and costly: call it from a worker thread, inside the service's image gate.
    Raises :class:`InvalidInputError` for a file that is too large, not an image, or holds no
    QR code with CCCD fields (the messages never echo what was read).
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidInputError("the photo is larger than 8 MB", message_vi="Ảnh lớn hơn 8 MB.")
    try:
        texts = read_qr_texts(data)  # the card check's reader: same pixel cap, second pass
    except PayloadTooLargeError:
        raise InvalidInputError(
            "the photo has more than 50 megapixels",
            message_vi="Ảnh lớn hơn 50 megapixel; hãy chụp lại với độ phân giải thấp hơn.",
        ) from None
    except MalformedError:
        raise InvalidInputError(
            "the file is not an image, or the image is damaged",
            message_vi="Tệp không phải là ảnh hoặc ảnh bị hỏng.",
        ) from None
    for text in texts:
        if "|" in text:
            return text
    raise InvalidInputError(
        "no CCCD QR code could be read from the photo; take it again: good light, sharp, the "
        "whole QR code in the frame, or scan or paste its text",
        message_vi=(
            "Không đọc được mã QR của CCCD trên ảnh. Hãy chụp lại: đủ ánh sáng, ảnh rõ nét, mã "
            "QR nằm trọn trong khung hình; hoặc quét, dán nội dung mã."
        ),
    )
