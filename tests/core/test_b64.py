"""Canonical base64url (RFC 7515 §2): one text per byte string, everything else refused."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core.b64 import B64Error, b64url_decode, b64url_encode


@given(st.binary(max_size=200))
def test_round_trip_and_canonical_form(data: bytes) -> None:
    """Encoding has no padding, uses the URL-safe alphabet and decodes back to the same bytes."""
    text = b64url_encode(data)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b""),
        ("AA", b"\x00"),
        ("AAA", b"\x00\x00"),
        ("AAAA", b"\x00\x00\x00"),
        ("_-8", b"\xff\xef"),
    ],
)
def test_decodes_known_values(text: str, expected: bytes) -> None:
    """Known encodings of every final-group length decode as RFC 4648 §5 says."""
    assert b64url_decode(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("AA==", "padding"),
        ("AAA=", "padding"),
        ("ab+/", "standard alphabet"),
        ("ab/c", "standard alphabet"),
        ("ab c", "inner space"),
        ("abcd\n", "trailing newline"),
        (" abcd", "leading space"),
        ("ab\tc", "tab"),
        ("abcdé", "non-ASCII letter"),
        ("ab.c", "dot"),
        ("A", "length 1 modulo 4"),
        ("AAAAA", "length 1 modulo 4"),
        ("AB", "non-zero unused bits (2-char group)"),
        ("AAB", "non-zero unused bits (3-char group)"),
        ("AAAAAP", "non-zero unused bits after a full group"),
        ("\uff21\uff21", "full-width letters"),
    ],
)
def test_refuses_non_canonical(text: str, why: str) -> None:
    """Padding, ``+/``, whitespace, bad length and non-zero unused bits are refused."""
    with pytest.raises(B64Error):
        b64url_decode(text)


@given(st.binary(min_size=1, max_size=64))
def test_every_alias_of_the_last_character_is_refused(data: bytes) -> None:
    """Setting any unused low bit of the last character gives a refused, non-canonical alias."""
    text = b64url_encode(data)
    unused = {2: 4, 3: 2}.get(len(text) % 4, 0)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(text[-1])
    for bit in range(unused):
        alias = text[:-1] + alphabet[index ^ (1 << bit)]
        with pytest.raises(B64Error, match="unused bits"):
            b64url_decode(alias)


def test_error_is_a_value_error() -> None:
    """B64Error is a ValueError so callers can translate it in one except clause."""
    assert issubclass(B64Error, ValueError)
