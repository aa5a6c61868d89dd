"""The ``asxh:/`` QR text (DESIGN.md §3): the JWS in SMART Health Cards numeric mode.

Every JWS character ``c`` (all in ``-.0-9A-Za-z_``, code points 45-122) becomes the two decimal
digits of ``ord(c) - 45`` (00-77). Digits fill a QR numeric segment at 3.33 bits a character
instead of 8, which keeps a card inside QR version 20.
"""

from __future__ import annotations

__all__ = ["QR_PREFIX", "QRTextError", "decode_qr_text", "encode_qr_text"]

QR_PREFIX = "asxh:/"
_ENCODE = {chr(45 + i): f"{i:02d}" for i in range(78)}
_DECODE = {v: k for k, v in _ENCODE.items()}


class QRTextError(ValueError):
    """Not a well-formed ``asxh:/`` text. Private: callers translate it to their own error."""


def encode_qr_text(jws: str) -> str:
    """Encode a compact JWS as ``asxh:/`` followed by its numeric form."""
    try:
        return QR_PREFIX + "".join([_ENCODE[c] for c in jws])
    except KeyError:
        raise QRTextError("character outside the JWS alphabet") from None


def decode_qr_text(text: str, *, max_length: int) -> str:
    """Decode ``asxh:/`` + digits back to the JWS; the caller's ``max_length`` is checked first."""
    if len(text) > max_length:
        raise QRTextError(f"QR text longer than {max_length} characters")
    if not text.startswith(QR_PREFIX):
        raise QRTextError("missing the asxh:/ prefix")
    digits = text[len(QR_PREFIX) :]
    if not digits.isascii() or not digits.isdigit():
        raise QRTextError("characters other than ASCII digits after the prefix")
    if len(digits) % 2:
        raise QRTextError("odd number of digits")
    try:
        return "".join([_DECODE[digits[i : i + 2]] for i in range(0, len(digits), 2)])
    except KeyError:
        raise QRTextError("digit pair above 77") from None
