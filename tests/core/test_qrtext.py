"""The ``asxh:/`` numeric QR text (SMART Health Cards numeric mode, DESIGN.md §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core.qrtext import QR_PREFIX, QRTextError, decode_qr_text, encode_qr_text

JWS_ALPHABET = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"


def test_known_encoding() -> None:
    """Each character becomes ord(c) - 45 as two digits: '-' 00, '.' 01, '0' 03, 'z' 77."""
    assert encode_qr_text("-.0Az_") == "asxh:/000103207750"
    assert decode_qr_text("asxh:/000103207750", max_length=100) == "-.0Az_"


@given(st.text(alphabet=JWS_ALPHABET, min_size=1, max_size=300))
def test_round_trip(jws: str) -> None:
    """Any JWS text encodes to 2 digits a character and decodes back."""
    text = encode_qr_text(jws)
    assert text.startswith(QR_PREFIX)
    assert len(text) == len(QR_PREFIX) + 2 * len(jws)
    assert text[len(QR_PREFIX) :].isdigit()
    assert decode_qr_text(text, max_length=10_000) == jws


@pytest.mark.parametrize(
    "jws", ["a b", "a=b", "a+b", "é", "a/b", "\n", "a:b", "[", "`", "{", "\x00", "ÿ"]
)
def test_encode_refuses_characters_outside_the_jws_alphabet(jws: str) -> None:
    """Only base64url characters and dots can be encoded."""
    with pytest.raises(QRTextError, match="alphabet"):
        encode_qr_text(jws)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("asxh:/123", "odd"),
        ("asxh:/78", "above 77"),
        ("asxh:/0099", "above 77"),
        ("asxh:/0", "odd"),
        ("ASXH:/00", "prefix"),
        ("shc:/00", "prefix"),
        ("asxh:00", "prefix"),
        ("asxh//00", "prefix"),
        (" asxh:/00", "prefix"),
        ("\ufeffasxh:/00", "prefix"),
        ("asxh:/00\n", "ASCII digits"),
        ("asxh:/00 ", "ASCII digits"),
        ("asxh:/00\ufeff", "ASCII digits"),
        ("asxh:/0a", "ASCII digits"),
        ("asxh:/\u0660\u0660", "ASCII digits"),
        ("asxh:/\uff10\uff10", "ASCII digits"),
        ("asxh:/-1", "ASCII digits"),
    ],
)
def test_decode_refusals(text: str, match: str) -> None:
    """Odd digit count, pairs above 77, wrong prefix, BOM, trailing or non-ASCII digits fail."""
    with pytest.raises(QRTextError, match=match):
        decode_qr_text(text, max_length=100)


def test_bare_prefix_is_refused() -> None:
    """The bare prefix carries no token and is refused."""
    with pytest.raises(QRTextError, match="no digits"):
        decode_qr_text("asxh:/", max_length=100)


@pytest.mark.parametrize("pair", ["02", "13", "16", "46", "51"])
def test_pairs_for_non_jws_characters_decode_but_are_not_jws(pair: str) -> None:
    """Pairs for '/', ':', '=', '[' and '`' decode; the JWS parser refuses those characters."""
    decoded = decode_qr_text("asxh:/" + pair, max_length=100)
    assert decoded not in JWS_ALPHABET


def test_every_pair_up_to_77_decodes_to_its_character() -> None:
    """Pair ``nn`` is chr(nn + 45) for nn in 00-77."""
    digits = "".join(f"{i:02d}" for i in range(78))
    assert decode_qr_text("asxh:/" + digits, max_length=1000) == "".join(
        chr(45 + i) for i in range(78)
    )


def test_length_is_checked_first() -> None:
    """The length cap is checked before anything else, even the prefix."""
    with pytest.raises(QRTextError, match="longer"):
        decode_qr_text("x" * 101, max_length=100)
    assert decode_qr_text("asxh:/" + "00" * 47, max_length=100) == "-" * 47
