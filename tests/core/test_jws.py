"""JWS compact serialization: structure, header rules, signature, payload (RFC 7515 + DESIGN §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from asxh_card._core import jws
from asxh_card._core.b64 import b64url_decode, b64url_encode
from asxh_card._core.deflate import deflate_raw
from asxh_card._core.keys import PrivateKey
from asxh_card.errors import (
    AlgorithmNotAllowedError,
    BadSignatureError,
    MalformedError,
    PayloadTooLargeError,
    Reason,
)

if TYPE_CHECKING:
    from conftest import Kit

LIMITS = jws.JWSLimits(max_token=10_000, max_header=400, max_payload=8_000, max_inflated=4_000)
TYP = "test+jwt"


def sign(key: PrivateKey, payload: dict[str, object] | bytes, *, compress: bool = False) -> str:
    return jws.sign_compact(payload, key, typ=TYP, compress=compress)


def test_sign_parse_verify_round_trip(any_key: PrivateKey) -> None:
    """A token signed by sign_compact parses, verifies and decodes to its claims."""
    token = sign(any_key, {"sub": "x", "name": "Lê Văn Tám"}, compress=True)
    parsed = jws.parse_compact(token, limits=LIMITS, typ=TYP)
    assert parsed.header == {"alg": any_key.alg, "kid": any_key.kid, "typ": TYP, "zip": "DEF"}
    assert parsed.alg == any_key.alg
    assert parsed.kid == any_key.kid
    jws.verify_signature(parsed, any_key.public_key)
    assert jws.decode_payload(parsed, limits=LIMITS) == {"sub": "x", "name": "Lê Văn Tám"}


def test_header_is_compact_utf8_in_fixed_order(es256_key: PrivateKey) -> None:
    """The header is exactly {alg, kid, typ[, zip]} in compact JSON."""
    token = sign(es256_key, b"{}")
    header = b64url_decode(token.split(".")[0])
    assert header == f'{{"alg":"ES256","kid":"{es256_key.kid}","typ":"{TYP}"}}'.encode()


def test_uncompressed_payload_bytes(es256_key: PrivateKey) -> None:
    """Raw payload bytes are signed as given."""
    token = sign(es256_key, b'{"a":1}')
    assert b64url_decode(token.split(".")[1]) == b'{"a":1}'
    parsed = jws.parse_compact(token, limits=LIMITS, typ=None)
    assert jws.decode_payload(parsed, limits=LIMITS) == {"a": 1}


def test_kid_absent_or_not_text(es256_key: PrivateKey, kit: Kit) -> None:
    """CompactJWS.kid is None when the header has no kid."""
    token = kit.token({"alg": "ES256"}, b"{}", es256_key, compress=False)
    assert jws.parse_compact(token, limits=LIMITS, typ=None).kid is None


def test_not_text_is_malformed() -> None:
    """A token that is neither text nor bytes is malformed."""
    with pytest.raises(MalformedError) as info:
        jws.parse_compact(123, limits=LIMITS, typ=None)  # type: ignore[arg-type]
    assert info.value.reason is Reason.MALFORMED


def test_bytes_token_parses_like_text(es256_key: PrivateKey) -> None:
    """The ASCII bytes of a token parse to the same JWS as its text (the QR path uses bytes)."""
    token = sign(es256_key, b"{}")
    assert jws.parse_compact(token.encode(), limits=LIMITS, typ=TYP) == jws.parse_compact(
        token, limits=LIMITS, typ=TYP
    )


def test_non_ascii_bytes_are_malformed(es256_key: PrivateKey) -> None:
    """Non-ASCII bytes in any segment of a bytes token are refused as malformed."""
    header, payload, signature = sign(es256_key, b"{}").encode().split(b".")
    for token in (
        header + b"\xc3\xa9." + payload + b"." + signature,
        header + b"." + payload + b"\xc3\xa9." + signature,
        header + b"." + payload + b"." + signature[:-2] + b"\xc3\xa9",
    ):
        with pytest.raises(MalformedError):
            jws.decode_payload(jws.parse_compact(token, limits=LIMITS, typ=None), limits=LIMITS)


@pytest.mark.parametrize(
    "alg",
    [
        "none",
        "None",
        "NONE",
        "HS256",
        "HS512",
        "RS256",
        "PS256",
        "ES384",
        "ES512",
        "ES256K",
        "Ed25519",
        "",
        "es256",
    ],
)
def test_alg_outside_allow_list(es256_key: PrivateKey, kit: Kit, alg: str) -> None:
    """Algorithms outside {ES256, EdDSA} are refused before any signature work."""
    token = kit.token({"alg": alg, "typ": TYP}, b"{}", es256_key, compress=False)
    with pytest.raises(AlgorithmNotAllowedError) as info:
        jws.parse_compact(token, limits=LIMITS, typ=TYP)
    assert info.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_allow_list_can_be_narrowed(eddsa_key: PrivateKey) -> None:
    """A caller may allow only one algorithm."""
    token = sign(eddsa_key, b"{}")
    with pytest.raises(AlgorithmNotAllowedError):
        jws.parse_compact(token, limits=LIMITS, typ=TYP, allowed_algs=frozenset({"ES256"}))


@pytest.mark.parametrize("alg", [None, 256, ["ES256"]])
def test_alg_missing_or_not_text(es256_key: PrivateKey, kit: Kit, alg: object) -> None:
    """A header without a text alg is malformed."""
    header = {"typ": TYP} if alg is None else {"alg": alg, "typ": TYP}
    token = kit.token(header, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError) as info:
        jws.parse_compact(token, limits=LIMITS, typ=TYP)
    assert info.value.reason is Reason.MALFORMED


def test_alg_not_matching_key(es256_key: PrivateKey, eddsa_key: PrivateKey) -> None:
    """The key decides the algorithm: an EdDSA token checked with an ES256 key is refused."""
    parsed = jws.parse_compact(sign(eddsa_key, b"{}"), limits=LIMITS, typ=TYP)
    with pytest.raises(AlgorithmNotAllowedError) as info:
        jws.verify_signature(parsed, es256_key.public_key)
    assert info.value.reason is Reason.ALGORITHM_NOT_ALLOWED
    parsed = jws.parse_compact(sign(es256_key, b"{}"), limits=LIMITS, typ=TYP)
    with pytest.raises(AlgorithmNotAllowedError):
        jws.verify_signature(parsed, eddsa_key.public_key)


def test_signature_by_another_key(any_key: PrivateKey) -> None:
    """A signature by another key of the same type is a bad signature."""
    other = PrivateKey.generate(any_key.alg)
    parsed = jws.parse_compact(sign(any_key, b"{}"), limits=LIMITS, typ=TYP)
    with pytest.raises(BadSignatureError) as info:
        jws.verify_signature(parsed, other.public_key)
    assert info.value.reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"])
def test_key_carrying_headers(es256_key: PrivateKey, kit: Kit, member: str) -> None:
    """Embedded-key attack: a header that carries or points at a key is refused."""
    header = {"alg": "ES256", "typ": TYP, member: es256_key.public_key.to_jwk()}
    token = kit.token(header, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError, match="key-carrying") as info:
        jws.parse_compact(token, limits=LIMITS, typ=TYP)
    assert info.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("crit", [["exp"], [], ["b64"], "b64", None])
def test_crit_is_refused(es256_key: PrivateKey, kit: Kit, crit: object) -> None:
    """Unknown or empty crit (RFC 7515 §4.1.11) is refused: no extension is understood."""
    token = kit.token(
        {"alg": "ES256", "typ": TYP, "crit": crit, "b64": False}, b"{}", es256_key, compress=False
    )
    with pytest.raises(MalformedError, match="crit") as info:
        jws.parse_compact(token, limits=LIMITS, typ=TYP)
    assert info.value.reason is Reason.MALFORMED


def test_typ_is_enforced(es256_key: PrivateKey, kit: Kit) -> None:
    """Token confusion: a token of another typ (or none) is refused when a typ is required."""
    for header in ({"alg": "ES256", "typ": "JWT"}, {"alg": "ES256"}):
        token = kit.token(header, b"{}", es256_key, compress=False)
        with pytest.raises(MalformedError, match="typ"):
            jws.parse_compact(token, limits=LIMITS, typ=TYP)


def test_exact_header_member_set(es256_key: PrivateKey, kit: Kit) -> None:
    """With header_names, an extra or missing member is refused."""
    names = frozenset({"alg", "kid", "typ"})
    ok = kit.token({"alg": "ES256", "kid": "k", "typ": TYP}, b"{}", es256_key, compress=False)
    jws.parse_compact(ok, limits=LIMITS, typ=TYP, header_names=names)
    for header in (
        {"alg": "ES256", "typ": TYP},
        {"alg": "ES256", "kid": "k", "typ": TYP, "cty": "x"},
    ):
        token = kit.token(header, b"{}", es256_key, compress=False)
        with pytest.raises(MalformedError, match="header members"):
            jws.parse_compact(token, limits=LIMITS, typ=TYP, header_names=names)


@pytest.mark.parametrize("kid", ["", "k" * 65, 5, None, ["k"]])
def test_kid_shape(es256_key: PrivateKey, kit: Kit, kid: object) -> None:
    """kid must be a string of 1-64 characters."""
    token = kit.token({"alg": "ES256", "kid": kid}, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError, match="kid"):
        jws.parse_compact(token, limits=LIMITS, typ=None)


@pytest.mark.parametrize("zip_value", ["GZIP", "def", "", None, 1])
def test_zip_must_be_def(es256_key: PrivateKey, kit: Kit, zip_value: object) -> None:
    """Only zip: DEF is understood."""
    token = kit.token({"alg": "ES256", "zip": zip_value}, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError, match="zip"):
        jws.parse_compact(token, limits=LIMITS, typ=None)


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg":"ES256","alg":"ES256"}',
        b'{"alg":"ES256","typ":"test+jwt","typ":"test+jwt"}',
        b'{"alg":"ES256","alg":"none"}',
        b'{"alg":"none","alg":"ES256"}',
    ],
)
def test_duplicate_header_members(es256_key: PrivateKey, kit: Kit, header: bytes) -> None:
    """Duplicate header keys (parser differential) are refused, whichever value comes last."""
    token = kit.token(header, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError, match="duplicate") as info:
        jws.parse_compact(token, limits=LIMITS, typ=None)
    assert info.value.reason is Reason.MALFORMED


@pytest.mark.parametrize(
    "header", [b"[]", b'"ES256"', b"null", b"", b"\xef\xbb\xbf{}", b'{"alg":"ES256"} x']
)
def test_header_not_an_object(es256_key: PrivateKey, kit: Kit, header: bytes) -> None:
    """The header must be one JSON object: no arrays, strings, BOM or trailing data."""
    token = kit.token(header, b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError):
        jws.parse_compact(token, limits=LIMITS, typ=None)


def test_deep_header_is_refused(es256_key: PrivateKey, kit: Kit) -> None:
    """Headers may nest at most four levels."""
    token = kit.token(b'{"alg":"ES256","x":[[[[[1]]]]]}', b"{}", es256_key, compress=False)
    with pytest.raises(MalformedError, match="deeper"):
        jws.parse_compact(token, limits=LIMITS, typ=None)


@pytest.mark.parametrize("count", [1, 2, 4, 5])
def test_segment_count(es256_key: PrivateKey, count: int) -> None:
    """A compact JWS has exactly three segments."""
    parts = sign(es256_key, b"{}").split(".")
    token = ".".join((parts * 2)[:count])
    with pytest.raises(MalformedError, match="3 segments") as info:
        jws.parse_compact(token, limits=LIMITS, typ=None)
    assert info.value.reason is Reason.MALFORMED


def test_size_caps_come_first() -> None:
    """Oversized token, header or payload are refused before decoding anything."""
    small = jws.JWSLimits(max_token=100, max_header=10, max_payload=20, max_inflated=50)
    cases = ["x" * 101, "h" * 11 + ".p.s", "h.p" + "p" * 20 + ".s"]
    for token in cases:
        with pytest.raises(PayloadTooLargeError) as info:
            jws.parse_compact(token, limits=small, typ=None)
        assert info.value.reason is Reason.PAYLOAD_TOO_LARGE


def test_signature_must_be_86_characters(es256_key: PrivateKey) -> None:
    """The signature segment length is fixed (64 bytes) and checked before decoding."""
    header, payload, signature = sign(es256_key, b"{}").split(".")
    for bad in (signature[:-1], signature + "A", signature + "==", "", signature * 2):
        with pytest.raises(MalformedError, match="64 bytes"):
            jws.parse_compact(f"{header}.{payload}.{bad}", limits=LIMITS, typ=None)


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s[:-2] + "+" + s[-1], id="plus"),
        pytest.param(lambda s: s[:-2] + "/" + s[-1], id="slash"),
        pytest.param(lambda s: s[:2] + " " + s[3:], id="space"),
        pytest.param(lambda s: s[:2] + "\n" + s[3:], id="newline"),
        pytest.param(lambda s: s[:-1] + "é", id="non-ascii"),
    ],
)
def test_non_canonical_base64url_in_each_part(
    es256_key: PrivateKey, part: int, mutate: object
) -> None:
    """Non-canonical base64url (``+/``, whitespace, non-ASCII) in any segment is malformed."""
    parts = sign(es256_key, {"a": "payload of some length"}).split(".")
    parts[part] = mutate(parts[part])  # type: ignore[operator]
    token = ".".join(parts)
    with pytest.raises(MalformedError) as info:
        parse_and_decode(token)
    assert info.value.reason is Reason.MALFORMED


def parse_and_decode(token: str) -> object:
    """Both structural steps, so a defect in any segment is reached."""
    return jws.decode_payload(jws.parse_compact(token, limits=LIMITS, typ=None), limits=LIMITS)


def _with_unused_bits(segment: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3)
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) | 1]


def test_non_zero_unused_bits_in_each_part(es256_key: PrivateKey, kit: Kit) -> None:
    """Two texts, one token: non-zero unused bits in any segment are refused."""
    # Pick payload lengths so that each segment ends in a partial group.
    token = kit.token({"alg": "ES256", "x": "y"}, b'{"ab":1}', es256_key, compress=False)
    header, payload, signature = token.split(".")
    for parts in (
        (_with_unused_bits(header), payload, signature),
        (header, _with_unused_bits(payload), signature),
        (header, payload, _with_unused_bits(signature)),
    ):
        with pytest.raises(MalformedError, match="unused bits") as info:
            parse_and_decode(".".join(parts))
        assert info.value.reason is Reason.MALFORMED


def test_padding_in_header_and_payload(es256_key: PrivateKey, kit: Kit) -> None:
    """Padded base64url segments are refused."""
    token = kit.token({"alg": "ES256", "x": "y"}, b'{"ab":1}', es256_key, compress=False)
    header, payload, signature = token.split(".")
    for parts in ((header + "==", payload, signature), (header, payload + "=", signature)):
        with pytest.raises(MalformedError):
            parse_and_decode(".".join(parts))


def test_non_ascii_payload_segment_is_malformed(es256_key: PrivateKey) -> None:
    """A non-ASCII payload segment is malformed (it used to escape as UnicodeEncodeError)."""
    header, payload, signature = sign(es256_key, b"{}").split(".")
    with pytest.raises(MalformedError, match="alphabet"):
        jws.parse_compact(f"{header}.{payload}\u00e9.{signature}", limits=LIMITS, typ=None)


def test_payload_inflate_limit(es256_key: PrivateKey) -> None:
    """Decompression bomb in the payload: inflating past max_inflated is payload_too_large."""
    parsed = jws.parse_compact(
        sign(es256_key, b"[" + b"0," * 3000 + b"0]", compress=True), limits=LIMITS, typ=None
    )
    with pytest.raises(PayloadTooLargeError) as info:
        jws.decode_payload(parsed, limits=LIMITS)
    assert info.value.reason is Reason.PAYLOAD_TOO_LARGE


def test_uncompressed_payload_over_limit(es256_key: PrivateKey) -> None:
    """An uncompressed payload is bounded by max_inflated too."""
    parsed = jws.parse_compact(
        sign(es256_key, b"[" + b"0," * 2300 + b"0]"), limits=LIMITS, typ=None
    )
    with pytest.raises(MalformedError, match="larger"):
        jws.decode_payload(parsed, limits=LIMITS)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (deflate_raw(b"{}")[:-1], "truncated|corrupt"),
        (b"x\x9c" + deflate_raw(b"{}"), "corrupt"),
        (deflate_raw(b"{}") + b"!", "trailing"),
    ],
    ids=["truncated", "zlib-header", "trailing"],
)
def test_bad_deflate_payload(es256_key: PrivateKey, kit: Kit, body: bytes, match: str) -> None:
    """Truncated, zlib-wrapped or trailing-garbage DEFLATE payloads are malformed."""
    token = kit.token({"alg": "ES256", "zip": "DEF"}, body, es256_key, compress=False)
    parsed = jws.parse_compact(token, limits=LIMITS, typ=None)
    with pytest.raises(MalformedError, match=match) as info:
        jws.decode_payload(parsed, limits=LIMITS)
    assert info.value.reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b'{"a":1,"a":2}', "duplicate"),
        (b"\xef\xbb\xbf{}", "byte-order"),
        (b'{"a":"\xc3"}', "UTF-8"),
        (b"{} {}", "Extra data"),
        (b'{"n":NaN}', "NaN"),
    ],
)
def test_bad_json_payload(es256_key: PrivateKey, body: bytes, match: str) -> None:
    """Duplicate claims, a BOM inside the payload, invalid UTF-8, trailing data are malformed."""
    parsed = jws.parse_compact(sign(es256_key, body, compress=True), limits=LIMITS, typ=None)
    with pytest.raises(MalformedError, match=match):
        jws.decode_payload(parsed, limits=LIMITS)


def test_empty_payload_is_malformed(es256_key: PrivateKey) -> None:
    """An empty payload is not JSON."""
    parsed = jws.parse_compact(sign(es256_key, b""), limits=LIMITS, typ=None)
    with pytest.raises(MalformedError):
        jws.decode_payload(parsed, limits=LIMITS)


def test_limits_of_a_card() -> None:
    """The card limits fit a QR of version 40 (3,544 JWS characters) and a 16 KiB payload."""
    assert jws.CARD_LIMITS.max_token >= 3_544
    assert jws.CARD_LIMITS.max_inflated == 16_384


def test_forbidden_headers_list() -> None:
    """Every key-carrying header of RFC 7515 is on the forbidden list."""
    assert {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"} <= jws.FORBIDDEN_HEADERS


def test_signing_input_is_the_first_two_segments(es256_key: PrivateKey) -> None:
    """The signature covers exactly ASCII(header '.' payload)."""
    token = sign(es256_key, b"{}")
    parsed = jws.parse_compact(token, limits=LIMITS, typ=None)
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()
    assert parsed.signature == b64url_decode(token.rsplit(".", 1)[1])
    assert b64url_encode(parsed.signature) == token.rsplit(".", 1)[1]
