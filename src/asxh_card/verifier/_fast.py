"""Hot-path helpers of the verifier: same results as the core, less repeated work.

Each helper handles only the common, well-formed case itself and hands anything unusual to the
core function it shortcuts, so error reasons and messages are always the core's.

* :func:`token_from_qr_text`: numeric QR text to JWS with two ``bytes.translate`` calls and one
  big-integer addition instead of a Python loop over ~700 digit pairs (60 µs to ~3 µs).
* :func:`parse_card_token`: the protected header of a card is the same for every card signed by
  one key, so a header segment parsed and checked once by the core is remembered (bounded).
"""

from __future__ import annotations

from typing import Any

from asxh_card import card as _card
from asxh_card._core import jws as _jws
from asxh_card._core.b64 import B64Error, b64url_decode
from asxh_card._core.qrtext import QR_PREFIX
from asxh_card.errors import MalformedError

__all__ = ["parse_card_token", "token_from_qr_text"]

_DIGITS = b"0123456789"
# Digit pair "td" encodes chr(10 * t + d + 45): tens and ones are mapped separately, then added
# as two big integers. 10 * t + d + 45 <= 99 + 45 < 256, so no byte ever carries into the next.
_TENS = bytes.maketrans(_DIGITS, bytes(10 * i for i in range(10)))
_ONES = bytes.maketrans(_DIGITS, bytes(45 + i for i in range(10)))
_MAX_CHAR = 45 + 77  # "z": pair 77 is the highest the encoding uses
_PREFIX_LENGTH = len(QR_PREFIX)
_HEADER_CACHE_SIZE = 256
_header_cache: dict[str, Any] = {}


def token_from_qr_text(text: str) -> str:
    """Same as :func:`asxh_card.card.token_from_qr_text`, about 20 times faster."""
    if (
        len(text) <= _card.MAX_QR_TEXT_LENGTH
        and text.startswith(QR_PREFIX)
        and len(text) % 2 == 0  # the prefix has 6 characters: the digits must be even
    ):
        digits = text[_PREFIX_LENGTH:]
        if digits and digits.isascii() and digits.isdigit():
            raw = digits.encode("ascii")
            tens = int.from_bytes(raw[0::2].translate(_TENS), "big")
            ones = int.from_bytes(raw[1::2].translate(_ONES), "big")
            decoded = (tens + ones).to_bytes(len(raw) // 2, "big")
            if max(decoded) <= _MAX_CHAR:
                return decoded.decode("ascii")
    return _card.token_from_qr_text(text)  # raises the core's error for anything unusual


def parse_card_token(token: str) -> tuple[_jws.CompactJWS, dict[str, Any]]:
    """Same as :func:`asxh_card.card.parse_card_jws`, reusing headers the core already checked."""
    limits = _jws.CARD_LIMITS
    if len(token) <= limits.max_token:
        header_segment, _, rest = token.partition(".")
        header = _header_cache.get(header_segment)
        if header is not None:
            payload_segment, dot, signature_segment = rest.partition(".")
            if (
                dot
                and "." not in signature_segment
                and len(payload_segment) <= limits.max_payload
                and len(signature_segment) == 86
            ):
                try:
                    signature = b64url_decode(signature_segment)
                except B64Error as exc:
                    raise MalformedError(f"signature: {exc}") from None
                parsed = _jws.CompactJWS(
                    header,
                    f"{header_segment}.{payload_segment}".encode("ascii"),
                    payload_segment,
                    signature,
                )
                payload = _jws.decode_payload(parsed, limits=limits)
                if not isinstance(payload, dict):
                    raise MalformedError("the card payload must be a JSON object")
                return parsed, payload
    parsed, payload = _card.parse_card_jws(token)
    if len(_header_cache) < _HEADER_CACHE_SIZE:
        _header_cache[token.partition(".")[0]] = parsed.header
    return parsed, payload
