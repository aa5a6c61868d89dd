"""Canonical base64url without padding (RFC 7515 §2, RFC 4648 §5).

JWS needs one encoding per byte string, so decoding refuses everything a lenient decoder would
accept: padding, the ``+`` and ``/`` alphabet, whitespace, a length of 1 modulo 4, and non-zero
unused bits in the last character (DESIGN.md §5: "base64url must be canonical"). Otherwise two
different texts would verify as the same token, which defeats replay and status bookkeeping.

Speed: one ``bytes.translate`` maps ``-_`` to ``+/`` and ``+/=`` to ``!`` (never base64), so
``binascii.a2b_base64(..., strict_mode=True)`` refuses every character outside the base64url
alphabet in C; a regular expression over the segment cost about as much as the decoding itself.
"""

from __future__ import annotations

import base64
import binascii

from asxh_card.errors import InvalidInputError

__all__ = ["B64Error", "b64url_decode", "b64url_encode"]

# '-' -> '+', '_' -> '/', and the standard alphabet's own '+', '/', '=' -> '!', which strict
# base64 refuses: a segment may only use the URL-safe alphabet, without padding.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
# The last character of a 2- or 3-character final group carries 4 or 2 unused low bits.
_LAST_CHAR_UNUSED_MASK = (0, 0, 0b001111, 0b000011)
_INDEX = dict.fromkeys(range(256), 0) | {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


class B64Error(InvalidInputError):
    """Not canonical base64url. Private: callers translate it to their own error."""


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode canonical unpadded base64url, refusing any non-canonical form."""
    if isinstance(text, str):
        if not text.isascii():
            raise B64Error("characters outside the base64url alphabet (or padding)")
        text = text.encode("ascii")
    remainder = len(text) % 4
    if remainder == 1:
        raise B64Error("impossible base64url length")
    if remainder and _INDEX[text[-1]] & _LAST_CHAR_UNUSED_MASK[remainder]:
        raise B64Error("non-zero unused bits in the last base64url character")
    try:
        return binascii.a2b_base64(
            text.translate(_TO_STANDARD) + _PADDING[remainder], strict_mode=True
        )
    except binascii.Error:
        raise B64Error("characters outside the base64url alphabet (or padding)") from None
