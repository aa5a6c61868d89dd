"""Canonical base64url without padding (RFC 7515 §2, RFC 4648 §5).

JWS needs one encoding per byte string, so decoding refuses everything a lenient decoder would
accept: padding, the ``+`` and ``/`` alphabet, whitespace, a length of 1 modulo 4, and non-zero
unused bits in the last character (DESIGN.md §5: "base64url must be canonical"). Otherwise two
different texts would verify as the same token, which defeats replay and status bookkeeping.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["B64Error", "b64url_decode", "b64url_encode"]

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
# The last character of a 2- or 3-character final group carries 4 or 2 unused low bits.
_LAST_CHAR_UNUSED_MASK = {2: 0b001111, 3: 0b000011}
_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


class B64Error(ValueError):
    """Not canonical base64url. Private: callers translate it to their own error."""


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url, refusing any non-canonical form."""
    if not _ALPHABET.fullmatch(text):
        raise B64Error("characters outside the base64url alphabet (or padding)")
    remainder = len(text) % 4
    if remainder == 1:
        raise B64Error("impossible base64url length")
    if remainder:
        if _INDEX[text[-1]] & _LAST_CHAR_UNUSED_MASK[remainder]:
            raise B64Error("non-zero unused bits in the last base64url character")
        text += "=" * (4 - remainder)
    try:
        return base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above forbid it
        raise B64Error(str(exc)) from None
