"""Strict JSON (RFC 8259 + I-JSON): one reading per text, bounded size and depth."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core import strictjson
from asxh_card._core.strictjson import MAX_SAFE_INT, StrictJSONError, dumps, loads


def parse(data: bytes | str, **kwargs: int) -> object:
    raw = data.encode() if isinstance(data, str) else data
    kwargs.setdefault("max_size", 10_000)
    return loads(raw, **kwargs)


def test_parses_plain_json() -> None:
    """Ordinary JSON parses to the expected Python values."""
    assert parse('{"a":[1,-2,3.5,"x",true,false,null],"b":{}}') == {
        "a": [1, -2, 3.5, "x", True, False, None],
        "b": {},
    }


@pytest.mark.parametrize(
    "text",
    ['{"a":1,"a":2}', '{"a":1,"b":{"c":1,"c":1}}', '[{"k":1,"k":1}]', '{"a":1,"b":2,"a":1}'],
)
def test_duplicate_member_names_are_refused(text: str) -> None:
    """Duplicate keys (two parsers could read different values) are refused at any depth."""
    with pytest.raises(StrictJSONError, match="duplicate"):
        parse(text)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a":-Infinity}', "[1e400]", "[-1e400]"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    """NaN, Infinity and literals that overflow a double are refused."""
    with pytest.raises(StrictJSONError):
        parse(text)


@pytest.mark.parametrize(
    "text", [str(MAX_SAFE_INT + 1), str(-MAX_SAFE_INT - 1), "1" * 17, "9" * 5000, "-" + "9" * 5000]
)
def test_integers_outside_the_safe_range_are_refused(text: str) -> None:
    """Integers beyond ±(2**53 - 1), including 5000-digit ones, are refused without int()."""
    with pytest.raises(StrictJSONError, match="safe range"):
        parse(text)


def test_safe_range_bounds_are_accepted() -> None:
    """±(2**53 - 1) are the largest integers accepted."""
    assert parse(f"[{MAX_SAFE_INT},{-MAX_SAFE_INT}]") == [MAX_SAFE_INT, -MAX_SAFE_INT]


def test_overlong_float_literal_is_refused() -> None:
    """A float literal over 40 characters is refused (bounded conversion cost)."""
    with pytest.raises(StrictJSONError, match="too long"):
        parse("0." + "1" * 50)


def test_size_limit_is_checked_before_parsing() -> None:
    """Input over ``max_size`` is refused before it is decoded or parsed."""
    assert parse(b"[1]", max_size=3) == [1]
    with pytest.raises(StrictJSONError, match="larger"):
        parse(b"\xff" * 4, max_size=3)


def test_depth_limit() -> None:
    """Nesting deeper than ``max_depth`` is refused; exactly ``max_depth`` is accepted."""
    assert parse("[" * 4 + "]" * 4, max_depth=4) == [[[[]]]]
    with pytest.raises(StrictJSONError, match="deeper"):
        parse("[" * 5 + "]" * 5, max_depth=4)
    with pytest.raises(StrictJSONError, match="deeper"):
        parse('{"a":' * 33 + "1" + "}" * 33)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    """Brackets and escaped quotes inside strings are not nesting."""
    text = '["[[[[[[\\"{{{{{{", {"k": "]]]]"}]'
    assert parse(text, max_depth=2) == ['[[[[[["{{{{{{', {"k": "]]]]"}]


def test_depth_check_is_linear_on_unterminated_strings() -> None:
    """Depth check DoS: ``\\"`` repeated then brackets used to rescan from every quote (0.8 s)."""
    payload = b'\\"' * 8000 + b"[" * 40
    started = time.perf_counter()
    with pytest.raises(StrictJSONError):
        parse(payload, max_size=16_384)
    # A sanity bound (the quadratic scan took ~0.8 s here; the linear one takes < 1 ms).
    assert time.perf_counter() - started < 0.2


def test_recursion_error_is_translated() -> None:
    """Nesting past the interpreter's recursion limit is a StrictJSONError, not RecursionError."""
    with pytest.raises(StrictJSONError):
        parse("[" * 100_000 + "]" * 100_000, max_size=1_000_000, max_depth=1_000_000)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"a":"\xff"}', "not valid UTF-8"),
        (b'{"a":"\xed\xa0\x80"}', "not valid UTF-8"),
        (b'"\\ud800"', "lone surrogate"),
        (b'{"\\udfff":1}', "lone surrogate"),
    ],
)
def test_bom_invalid_utf8_and_lone_surrogates_are_refused(data: bytes, why: str) -> None:
    """A BOM, invalid UTF-8 and lone surrogate escapes are refused."""
    with pytest.raises(StrictJSONError, match=why):
        parse(data)


def test_surrogate_pair_escapes_are_accepted() -> None:
    """A proper surrogate-pair escape is one character, not a lone surrogate."""
    assert parse('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize(
    "text",
    [
        "{} x",
        "{}{}",
        "[1]]",
        "",
        " ",
        "{'a':1}",
        '{"a":01}',
        "[1,]",
        '{"a":"\n"}',
        "\ufeff{}",
        "{}\x00",
    ],
)
def test_invalid_json_and_trailing_data_are_refused(text: str) -> None:
    """Trailing data, single quotes, leading zeros, raw control characters are refused."""
    with pytest.raises(StrictJSONError):
        parse(text)


def test_trailing_whitespace_is_json() -> None:
    """Whitespace around the value is allowed by RFC 8259."""
    assert parse(' {"a":1}\n') == {"a": 1}


def test_dumps_is_compact_utf8() -> None:
    """dumps writes compact UTF-8 without escaping Vietnamese letters."""
    assert dumps({"name": "Nguyễn", "n": [1, 2]}) == '{"name":"Nguyễn","n":[1,2]}'.encode()


def test_dumps_refuses_nan() -> None:
    """dumps refuses NaN and Infinity."""
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps({"x": float("nan")})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=5), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_dumps_loads_round_trip(value: object) -> None:
    """Any I-JSON value survives dumps then loads."""
    assert loads(dumps(value), max_size=1_000_000) == value


def test_default_depth_is_32() -> None:
    """The default depth limit is 32 levels."""
    assert strictjson.DEFAULT_MAX_DEPTH == 32
