"""QR size budget of a card (DESIGN.md §3): which QR version an ``asxh:/`` text needs at ECC M.

The QR text is generated as two segments: a byte segment for the ``asxh:/`` prefix and a numeric
segment for the digits (:mod:`asxh_card.issuing.render` produces exactly that symbol; a test
compares it with ``qrcode`` built from explicit segments). The bit count follows ISO/IEC 18004:

* every segment has a 4-bit mode indicator and a character-count field whose width depends on
  the version class (1-9, 10-26, 27-40): 8/16/16 bits for byte mode, 10/12/14 for numeric mode;
* byte mode costs 8 bits a character; numeric mode 10 bits per group of 3 digits, 7 bits for a
  final pair and 4 bits for a final single digit.

The terminator may be truncated when the data fill the symbol exactly, so a text fits a version
when its segment bits do not exceed 8 x the version's data codewords at ECC M. The capacities are
the QR standard's (table 7), checked against ``qrcode``'s own tables in the tests.

Pure Python, no imports beyond the core: the issuer checks the budget before anything is
rendered, and signing stays cheap.
"""

from __future__ import annotations

import bisect
from typing import Final

from asxh_card._core.qrtext import QR_PREFIX

__all__ = [
    "DATA_CODEWORDS_M",
    "MAX_CARD_QR_VERSION",
    "TYPICAL_CARD_QR_VERSION",
    "qr_bits",
    "qr_version",
]

#: A card must fit QR version 20 at ECC M (DESIGN.md §3).
MAX_CARD_QR_VERSION: Final = 20
#: A typical card fits version 17 or lower (DESIGN.md §3).
TYPICAL_CARD_QR_VERSION: Final = 17

#: Data codewords (8-bit) at error correction level M for versions 1..40 (index 0 = version 1).
DATA_CODEWORDS_M: Final[tuple[int, ...]] = (
    16, 28, 44, 64, 86, 108, 124, 154, 182, 216,
    254, 290, 334, 365, 415, 453, 507, 563, 627, 669,
    714, 782, 860, 914, 1000, 1062, 1128, 1193, 1267, 1373,
    1455, 1541, 1631, 1725, 1812, 1914, 1992, 2102, 2216, 2334,
)  # fmt: skip

_MODE_BITS = 4


def _class(version: int) -> int:
    return 0 if version <= 9 else 1 if version <= 26 else 2


_BYTE_COUNT_BITS = (8, 16, 16)
_NUMERIC_COUNT_BITS = (10, 12, 14)


def _numeric_bits(digits: int) -> int:
    groups, rest = divmod(digits, 3)
    return groups * 10 + (0, 4, 7)[rest]


def qr_bits(prefix_bytes: int, digits: int, version: int) -> int:
    """Bits of a byte segment of ``prefix_bytes`` plus a numeric segment of ``digits`` digits."""
    cls = _class(version)
    total = 0
    if prefix_bytes:
        total += _MODE_BITS + _BYTE_COUNT_BITS[cls] + 8 * prefix_bytes
    if digits:
        total += _MODE_BITS + _NUMERIC_COUNT_BITS[cls] + _numeric_bits(digits)
    return total


def qr_version(text: str) -> int | None:
    """The smallest QR version (1-40) holding ``text`` at ECC M, or None when none does.

    ``text`` is an ``asxh:/`` QR text: the prefix goes in a byte segment, the rest (digits) in a
    numeric segment. Raises :class:`ValueError` for anything else (it is a programming error: the
    issuer only passes texts it has just encoded).
    """
    if not text.startswith(QR_PREFIX):
        raise ValueError("not an asxh:/ QR text")
    rest = text[len(QR_PREFIX) :]
    if rest and not (rest.isascii() and rest.isdigit()):
        raise ValueError("an asxh:/ QR text has only ASCII digits after the prefix")
    digits = len(rest)
    index = bisect.bisect_left(_MAX_DIGITS, digits)
    return index + 1 if index < len(_MAX_DIGITS) else None


def _max_digits(version: int) -> int:
    """The most digits that fit ``version`` after the ``asxh:/`` byte segment."""
    budget = DATA_CODEWORDS_M[version - 1] * 8
    low, high = 0, budget  # qr_bits is increasing in the digit count: binary search
    while low < high:
        mid = (low + high + 1) // 2
        if qr_bits(len(QR_PREFIX), mid, version) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


#: Digits capacity per version, computed once: :func:`qr_version` is a bisection (the issuer
#: checks the budget on every card, so this sits on the signing hot path).
_MAX_DIGITS: Final[tuple[int, ...]] = tuple(_max_digits(v) for v in range(1, 41))
