"""Raw DEFLATE (RFC 1951) for cards and ZLIB (RFC 1950) for status lists, with bounded inflate.

Inflation is bounded *while* decompressing (``max_length``), so a decompression bomb stops after
``limit + 1`` bytes of output, whatever it would expand to (DESIGN.md §5). Compression uses
zlib-ng when it is installed: the stdlib ``zlib.compress`` of a small payload costs 7-74 µs
depending on heap state, zlib-ng a stable ~7.5 µs with identical output size
(shared/reference/performance-notes.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from asxh_card.errors import InvalidInputError

__all__ = [
    "InflateError",
    "InflateLimitError",
    "deflate_raw",
    "deflate_zlib",
    "inflate_raw",
    "inflate_zlib",
]

_compress: Callable[..., bytes]
try:  # pragma: no cover - which branch runs depends on the installed extras
    from zlib_ng import zlib_ng as _zng

    _compress = _zng.compress
except ImportError:  # pragma: no cover
    _compress = zlib.compress

_RAW_WBITS = -15
_ZLIB_WBITS = 15


class InflateError(InvalidInputError):
    """Corrupt, truncated or trailing-garbage compressed data."""


class InflateLimitError(InflateError):
    """The data inflates to more than the allowed size."""


def deflate_raw(data: bytes, level: int = 9) -> bytes:
    """Compress ``data`` as raw DEFLATE (no zlib header), as the card's ``zip: DEF`` requires."""
    return _compress(data, level, wbits=_RAW_WBITS)


def deflate_zlib(data: bytes, level: int = 9) -> bytes:
    """Compress ``data`` with the ZLIB wrapper, as the Token Status List requires."""
    return _compress(data, level, wbits=_ZLIB_WBITS)


def _inflate(data: bytes, limit: int, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InflateError(f"corrupt compressed data: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise InflateLimitError(f"inflates to more than {limit} bytes")
    if not inflater.eof:
        raise InflateError("truncated compressed data")
    if inflater.unused_data:
        raise InflateError("trailing data after the compressed stream")
    return out


def inflate_raw(data: bytes, *, limit: int) -> bytes:
    """Inflate raw DEFLATE, refusing output over ``limit`` bytes, truncation and trailing data."""
    return _inflate(data, limit, _RAW_WBITS)


def inflate_zlib(data: bytes, *, limit: int) -> bytes:
    """Inflate ZLIB-wrapped DEFLATE with the same bounds as :func:`inflate_raw`."""
    return _inflate(data, limit, _ZLIB_WBITS)
