"""The ``asxh:/`` QR text (DESIGN.md §3): the JWS in SMART Health Cards numeric mode.

Every JWS character ``c`` (all in ``-.0-9A-Za-z_``, code points 45-122) becomes the two decimal
digits of ``ord(c) - 45`` (00-77). Digits fill a QR numeric segment at 3.33 bits a character
instead of 8, which keeps a card inside QR version 20.

Speed: read as hexadecimal, a pair of decimal digits ``ab`` is the byte ``16a + b``, distinct for
every pair, so ``bytes.fromhex`` followed by one ``bytes.translate`` table converts the whole text
in C; a per-pair Python loop cost ~100 µs a card, a third of a full verification.
"""

from __future__ import annotations

from typing import NoReturn

from asxh_card.errors import InvalidInputError

__all__ = ["QR_PREFIX", "QRTextError", "decode_qr_bytes", "decode_qr_text", "encode_qr_text"]

QR_PREFIX = "asxh:/"
_INVALID = 0  # NUL never appears in a JWS, so it marks "no such character"
_JWS_CHARS = "-." + "".join(map(chr, range(48, 58))) + "".join(map(chr, range(65, 91)))
_JWS_CHARS += "_" + "".join(map(chr, range(97, 123)))


def _tables() -> tuple[bytes, bytes]:
    decode = bytearray([_INVALID] * 256)
    encode = bytearray([0xFF] * 256)  # 0xFF hex "ff" is not a digit pair: caught after .hex()
    for value in range(78):
        pair_as_hex_byte = (value // 10) * 16 + value % 10
        decode[pair_as_hex_byte] = 45 + value
        if chr(45 + value) in _JWS_CHARS:
            encode[45 + value] = pair_as_hex_byte
    return bytes(decode), bytes(encode)


_DECODE_TABLE, _ENCODE_TABLE = _tables()


class QRTextError(InvalidInputError):
    """Not a well-formed ``asxh:/`` text. Private: callers translate it to their own error."""


def encode_qr_text(jws: str) -> str:
    """Encode a compact JWS as ``asxh:/`` followed by its numeric form."""
    if not jws.isascii():
        raise QRTextError("character outside the JWS alphabet")
    digits = jws.encode("ascii").translate(_ENCODE_TABLE).hex()
    if "f" in digits:
        raise QRTextError("character outside the JWS alphabet")
    return QR_PREFIX + digits


def decode_qr_bytes(text: str, *, max_length: int) -> bytes:
    """Decode ``asxh:/`` + digits to the JWS as ASCII bytes (``max_length`` is checked first).

    ``bytes.fromhex`` skips whitespace and reads ``a``-``f``: a length that is not exactly half
    the digits, or a decoded byte the table leaves at ``NUL``, sends the text to
    :func:`_diagnose`, which says what is wrong. Valid text never pays for the diagnosis.
    """
    if len(text) > max_length:
        raise QRTextError(f"QR text longer than {max_length} characters")
    if not text.startswith(QR_PREFIX):
        raise QRTextError("missing the asxh:/ prefix")
    digits = text[len(QR_PREFIX) :]
    try:
        decoded = bytes.fromhex(digits)
    except ValueError:
        _diagnose(digits)
    if not decoded or len(decoded) * 2 != len(digits):
        _diagnose(digits)
    token = decoded.translate(_DECODE_TABLE)
    if _INVALID in token:
        _diagnose(digits)
    return token


def _diagnose(digits: str) -> NoReturn:
    if not digits:
        raise QRTextError("no digits after the asxh:/ prefix")
    # isdigit() alone accepts other scripts' digits (e.g. "٣"); isascii() rules those out.
    if not digits.isascii() or not digits.isdigit():
        raise QRTextError("characters other than ASCII digits after the prefix")
    if len(digits) % 2:
        raise QRTextError("odd number of digits")
    raise QRTextError("digit pair above 77")


def decode_qr_text(text: str, *, max_length: int) -> str:
    """Decode ``asxh:/`` + digits back to the JWS; the caller's ``max_length`` is checked first."""
    return decode_qr_bytes(text, max_length=max_length).decode("ascii")
