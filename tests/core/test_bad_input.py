"""Bad input through the full card path (issue §7): each attack refused with its reason code.

Every token here goes through :func:`asxh_card.card.verify_card`, the path a scanner uses. Where
the attack needs a valid signature to get past earlier checks, the token is signed with the
issuer's own key, so the test shows the specific check (not the signature) refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import tracemalloc
import zlib
from typing import TYPE_CHECKING, Any

import pytest

from asxh_card import card as _card
from asxh_card._core.b64 import b64url_decode, b64url_encode
from asxh_card._core.deflate import deflate_raw
from asxh_card._core.keys import P256_ORDER, PrivateKey
from asxh_card.errors import Reason, VerificationError

if TYPE_CHECKING:
    from conftest import Kit


def refuse(text: Any, kit: Kit, *keys: PrivateKey, now: int | None = None) -> VerificationError:
    """Verify ``text`` expecting a refusal; return the error."""
    with pytest.raises(VerificationError) as info:
        _card.verify_card(text, keys=kit.lookup(*keys), now=kit.now if now is None else now)
    return info.value


def numeric(token: str) -> str:
    """The QR text of any string of characters 45-122 (no alphabet check, unlike qr_text)."""
    return "asxh:/" + "".join(f"{ord(c) - 45:02d}" for c in token)


def segments(token: str) -> list[str]:
    return token.split(".")


# --------------------------------------------------------------------------------------------
# Algorithm attacks


def test_alg_none_downgrade(es256_key: PrivateKey, kit: Kit) -> None:
    """alg-none downgrade: an unsigned token with alg none is refused (algorithm_not_allowed)."""
    header = b64url_encode(
        b'{"alg":"none","kid":"%s","typ":"asxh-card+jwt","zip":"DEF"}' % es256_key.kid.encode()
    )
    payload = segments(kit.card_token(es256_key))[1]
    for token in (f"{header}.{payload}.", f"{header}.{payload}.{'A' * 86}"):
        assert refuse(token, kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED
        assert refuse(numeric(token), kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize("alg", ["none", "None", "nOnE"])
def test_alg_none_spellings(es256_key: PrivateKey, kit: Kit, alg: str) -> None:
    """alg-none downgrade with odd capitalisation is refused too."""
    token = kit.token(kit.card_header(es256_key, alg=alg), kit.claim_set(), es256_key)
    assert refuse(token, kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize(
    "secret", ["pem", "jwk", "x"], ids=["spki-pem", "jwk-json", "x-coordinate"]
)
def test_hmac_key_confusion(es256_key: PrivateKey, kit: Kit, secret: str) -> None:
    """HMAC key confusion: HS256 "signed" with the issuer's public key is refused."""
    public = es256_key.public_key
    key = {
        "pem": public.to_pem(),
        "jwk": repr(public.to_jwk()).encode(),
        "x": b64url_decode(public.to_jwk()["x"]),
    }[secret]
    header = b64url_encode(_dumps(kit.card_header(es256_key, alg="HS256")))
    payload = segments(kit.card_token(es256_key))[1]
    mac = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{b64url_encode(mac)}"
    assert refuse(token, kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize(
    "alg",
    ["HS384", "RS256", "PS256", "ES384", "ES512", "ES256K", "Ed25519", "Ed448", "EDDSA", "es256"],
)
def test_algorithm_outside_allow_list(es256_key: PrivateKey, kit: Kit, alg: str) -> None:
    """Algorithms outside {ES256, EdDSA} are refused even with a valid ES256 signature."""
    token = kit.token(kit.card_header(es256_key, alg=alg), kit.claim_set(), es256_key)
    assert refuse(token, kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED


def test_algorithm_not_matching_the_key(
    es256_key: PrivateKey, eddsa_key: PrivateKey, kit: Kit
) -> None:
    """Algorithm substitution: the key type decides; an EdDSA token under an ES256 kid fails."""
    # Signed by the Ed25519 key but naming the ES256 key: the lookup returns the ES256 key.
    token = kit.token(kit.card_header(eddsa_key, kid=es256_key.kid), kit.claim_set(), eddsa_key)
    assert refuse(token, kit, es256_key).reason is Reason.ALGORITHM_NOT_ALLOWED
    token = kit.token(kit.card_header(es256_key, kid=eddsa_key.kid), kit.claim_set(), es256_key)
    assert refuse(token, kit, eddsa_key).reason is Reason.ALGORITHM_NOT_ALLOWED


# --------------------------------------------------------------------------------------------
# Header attacks


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_key_carrying_header(es256_key: PrivateKey, kit: Kit, member: str) -> None:
    """Embedded-key attack: an attacker's own key in jwk/jku/x5u/x5c is refused (malformed)."""
    attacker = PrivateKey.generate("ES256")
    value: Any = {
        "jwk": {
            k: v for k, v in attacker.public_key.to_jwk().items() if k in ("kty", "crv", "x", "y")
        },
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
    }[member]
    token = kit.token(kit.card_header(attacker, **{member: value}), kit.claim_set(), attacker)
    err = refuse(token, kit, es256_key, attacker)
    assert err.reason is Reason.MALFORMED
    assert "key-carrying" in err.detail


@pytest.mark.parametrize(
    "crit", [["exp"], ["b64"], [], "zip"], ids=["unknown", "b64", "empty", "not-a-list"]
)
def test_crit_header(es256_key: PrivateKey, kit: Kit, crit: Any) -> None:
    """Unknown or empty crit is refused (RFC 7515 §4.1.11): malformed."""
    token = kit.token(kit.card_header(es256_key, crit=crit), kit.claim_set(), es256_key)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert "crit" in err.detail


def test_duplicate_header_keys(es256_key: PrivateKey, kit: Kit) -> None:
    """Duplicate header keys (parser differential on alg or kid) are malformed."""
    for dup in ('"alg":"none"', f'"kid":"{es256_key.kid}"', '"zip":"DEF"'):
        header = _dumps(kit.card_header(es256_key))[:-1] + b"," + dup.encode() + b"}"
        token = kit.token(header, kit.claim_set(), es256_key)
        err = refuse(token, kit, es256_key)
        assert err.reason is Reason.MALFORMED
        assert "duplicate" in err.detail


def test_duplicate_claim_keys(es256_key: PrivateKey, kit: Kit) -> None:
    """Duplicate claim keys (e.g. two exp values) are malformed even with a valid signature."""
    body = _dumps(kit.claim_set())[:-1] + b',"exp":9999999999}'
    token = kit.token(kit.card_header(es256_key), body, es256_key)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert "duplicate" in err.detail


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"typ": "JWT"}, "typ"),
        ({"typ": None}, "typ"),
        ({"zip": None}, "header members"),
        ({"cty": "JWT"}, "header members"),
        ({"kid": None}, "header members"),
    ],
)
def test_card_header_is_exact(
    es256_key: PrivateKey, kit: Kit, change: dict[str, Any], what: str
) -> None:
    """Token confusion: the card header is exactly {alg, kid, typ: asxh-card+jwt, zip: DEF}."""
    token = kit.token(
        kit.card_header(es256_key, **change),
        kit.claim_set(),
        es256_key,
        compress="zip" not in change,
    )
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert what in err.detail


# --------------------------------------------------------------------------------------------
# Structure and encoding


@pytest.mark.parametrize("count", [2, 4])
def test_wrong_segment_count(es256_key: PrivateKey, kit: Kit, count: int) -> None:
    """2 or 4 JWS segments are malformed."""
    parts = segments(kit.card_token(es256_key))
    token = ".".join(parts[:2]) if count == 2 else ".".join([*parts, parts[2]])
    assert refuse(token, kit, es256_key).reason is Reason.MALFORMED
    assert refuse(numeric(token), kit, es256_key).reason is Reason.MALFORMED


def _unused_bits(segment: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) | 1]


NON_CANONICAL = {
    "padding": lambda s: s + "=" * (-len(s) % 4 or 4),
    "plus": lambda s: s.replace("-", "+", 1) if "-" in s else "+" + s[1:],
    "slash": lambda s: s.replace("_", "/", 1) if "_" in s else "/" + s[1:],
    "space": lambda s: s[:5] + " " + s[5:],
    "newline": lambda s: s[:5] + "\n" + s[5:],
    "unused-bits": _unused_bits,
}


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
@pytest.mark.parametrize("kind", list(NON_CANONICAL))
def test_non_canonical_base64url(es256_key: PrivateKey, kit: Kit, part: int, kind: str) -> None:
    """Non-canonical base64url (padding, +/, whitespace, non-zero unused bits) is malformed."""
    token = kit.card_token(es256_key)
    parts = segments(token)
    if kind == "unused-bits":
        # Every segment must end in a partial group for this attack; pad claims until all do.
        serial = 0
        while any(len(p) % 4 not in (2, 3) for p in parts):
            serial += 1
            token = kit.card_token(es256_key, serial=f"T{serial}")
            parts = segments(token)
    parts[part] = NON_CANONICAL[kind](parts[part])
    bad = ".".join(parts)
    assert refuse(bad, kit, es256_key).reason is Reason.MALFORMED


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t + "\n", id="newline"),
        pytest.param(lambda t: t + "\r\n", id="crlf"),
        pytest.param(lambda t: t + " ", id="space"),
        pytest.param(lambda t: t + "0", id="odd-digit"),
        pytest.param(lambda t: t + "x", id="letter"),
        pytest.param(lambda t: t + "\x00", id="nul"),
        pytest.param(lambda t: "\ufeff" + t, id="leading-bom"),
        pytest.param(lambda t: t + "\ufeff", id="trailing-bom"),
        pytest.param(lambda t: " " + t, id="leading-space"),
    ],
)
def test_trailing_characters_and_bom_on_qr_text(
    es256_key: PrivateKey, kit: Kit, mutate: Any
) -> None:
    """Trailing characters or a BOM on the QR text are malformed (one text, one card)."""
    text = _card.qr_text(kit.card_token(es256_key))
    assert refuse(mutate(text), kit, es256_key).reason is Reason.MALFORMED


def test_bom_inside_the_payload(es256_key: PrivateKey, kit: Kit) -> None:
    """A UTF-8 BOM before the claims JSON is malformed even with a valid signature."""
    token = kit.token(
        kit.card_header(es256_key), b"\xef\xbb\xbf" + _dumps(kit.claim_set()), es256_key
    )
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert "byte-order" in err.detail


def test_bom_inside_the_header(es256_key: PrivateKey, kit: Kit) -> None:
    """A UTF-8 BOM before the header JSON is malformed."""
    token = kit.token(
        b"\xef\xbb\xbf" + _dumps(kit.card_header(es256_key)), kit.claim_set(), es256_key
    )
    assert refuse(token, kit, es256_key).reason is Reason.MALFORMED


@pytest.mark.parametrize(
    "body",
    [
        b'{"iss":"vn-79","name":"\xc3"}',
        b"[]",
        b'"card"',
        b"null",
        b"",
        b'{"iss":"vn-79"} {}',
        b'{"iss":"vn-79","n":NaN}',
    ],
    ids=["bad-utf8", "array", "string", "null", "empty", "trailing", "nan"],
)
def test_payload_not_one_json_object(es256_key: PrivateKey, kit: Kit, body: bytes) -> None:
    """Non-UTF-8, non-object, empty, NaN or trailing-data payloads are malformed."""
    token = kit.token(kit.card_header(es256_key), body, es256_key)
    assert refuse(token, kit, es256_key).reason is Reason.MALFORMED


# --------------------------------------------------------------------------------------------
# Signatures


def test_der_signature(es256_key: PrivateKey, kit: Kit) -> None:
    """A DER-encoded ECDSA signature (what many libraries emit) is malformed: JWS uses raw r||s."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    parts = segments(kit.card_token(es256_key))
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    der = es256_key._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]
    token = f"{parts[0]}.{parts[1]}.{b64url_encode(der)}"
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert "64 bytes" in err.detail


@pytest.mark.parametrize(
    ("r", "s"),
    [
        (0, None),
        (None, 0),
        (P256_ORDER, None),
        (None, P256_ORDER),
        (0, 0),
        (P256_ORDER, P256_ORDER),
    ],
    ids=["r=0", "s=0", "r=n", "s=n", "r=s=0", "r=s=n"],
)
def test_r_or_s_zero_or_group_order(
    es256_key: PrivateKey, kit: Kit, r: int | None, s: int | None
) -> None:
    """ECDSA range check: r or s equal to 0 or to the curve order n is a bad signature."""
    parts = segments(kit.card_token(es256_key))
    signature = b64url_decode(parts[2])
    r_bytes = signature[:32] if r is None else r.to_bytes(32, "big")
    s_bytes = signature[32:] if s is None else s.to_bytes(32, "big")
    token = f"{parts[0]}.{parts[1]}.{b64url_encode(r_bytes + s_bytes)}"
    assert refuse(token, kit, es256_key).reason is Reason.BAD_SIGNATURE


def test_flipped_bit_in_header(es256_key: PrivateKey, kit: Kit) -> None:
    """Tampering: one flipped bit in the header's alg, kid or typ is refused with its reason."""
    header = _dumps(kit.card_header(es256_key))
    payload = segments(kit.card_token(es256_key))[1]
    signature = segments(kit.card_token(es256_key))[2]
    cases = {
        b'"ES256"': Reason.ALGORITHM_NOT_ALLOWED,  # ES256 -> ES257
        es256_key.kid.encode(): Reason.UNKNOWN_KEY,
        b"asxh-card+jwt": Reason.MALFORMED,
    }
    for needle, reason in cases.items():
        index = header.index(needle) + len(needle) - 2
        flipped = header[:index] + bytes([header[index] ^ 1]) + header[index + 1 :]
        token = f"{b64url_encode(flipped)}.{payload}.{signature}"
        assert refuse(token, kit, es256_key).reason is reason, needle


def test_flipped_bit_in_payload(any_key: PrivateKey, kit: Kit) -> None:
    """Tampering: one flipped bit in the claims (an entitlement amount) is a bad signature."""
    token = kit.card_token(any_key)
    header, _, signature = segments(token)
    body = _dumps(kit.claim_set())
    index = body.index(b"750000")
    flipped = body[:index] + bytes([body[index] ^ 2]) + body[index + 1 :]  # 7 -> 5
    assert b"550000" in flipped
    forged = f"{header}.{b64url_encode(deflate_raw(flipped))}.{signature}"
    assert refuse(forged, kit, any_key).reason is Reason.BAD_SIGNATURE


def test_flipped_bit_in_signature(any_key: PrivateKey, kit: Kit) -> None:
    """Tampering: any one flipped bit of the signature is a bad signature."""
    header, payload, signature = segments(kit.card_token(any_key))
    raw = b64url_decode(signature)
    for bit in range(0, 512, 7):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        token = f"{header}.{payload}.{b64url_encode(bytes(flipped))}"
        assert refuse(token, kit, any_key).reason is Reason.BAD_SIGNATURE


def test_every_flipped_bit_is_refused(es256_key: PrivateKey, kit: Kit) -> None:
    """Tampering, exhaustively: every single-bit change of the decoded segments is refused."""
    token = kit.card_token(es256_key)
    parts = [b64url_decode(p) for p in segments(token)]
    allowed = [
        {Reason.MALFORMED, Reason.ALGORITHM_NOT_ALLOWED, Reason.UNKNOWN_KEY},
        {Reason.MALFORMED, Reason.PAYLOAD_TOO_LARGE, Reason.UNKNOWN_KEY, Reason.BAD_SIGNATURE},
        {Reason.BAD_SIGNATURE},
    ]
    lookup = kit.lookup(es256_key)
    for part, raw in enumerate(parts):
        for bit in range(len(raw) * 8):
            flipped = bytearray(raw)
            flipped[bit // 8] ^= 1 << (bit % 8)
            changed = [b64url_encode(p) for p in parts]
            changed[part] = b64url_encode(bytes(flipped))
            with pytest.raises(VerificationError) as info:
                _card.verify_card(".".join(changed), keys=lookup, now=kit.now)
            assert info.value.reason in allowed[part], (part, bit, info.value)


# --------------------------------------------------------------------------------------------
# Sizes and compression


def test_deflate_bomb_refused_by_size_cap_before_inflate(es256_key: PrivateKey, kit: Kit) -> None:
    """Decompression bomb: 200 MiB of zeros is payload_too_large, refused by size before inflate."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1024 * 1024)
    bomb = b"".join([compressor.compress(chunk) for _ in range(200)] + [compressor.flush()])
    token = kit.token(kit.card_header(es256_key), bomb, es256_key, compress=False)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        err = refuse(token, kit, es256_key)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.reason is Reason.PAYLOAD_TOO_LARGE
    assert "longer than" in err.detail
    assert peak < 4 * 1024 * 1024
    assert elapsed < 5  # sanity bound only; timing belongs in bench/


def test_small_deflate_bomb_stops_at_the_inflate_limit(es256_key: PrivateKey, kit: Kit) -> None:
    """Decompression bomb under the size cap (2 MiB of zeros in 2 KB) stops at the 16 KiB bound."""
    bomb = deflate_raw(bytes(2 * 1024 * 1024))
    assert len(b64url_encode(bomb)) < 3_200
    token = kit.token(kit.card_header(es256_key), bomb, es256_key, compress=False)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.PAYLOAD_TOO_LARGE
    assert "inflates" in err.detail


@pytest.mark.parametrize("kind", ["truncated", "zlib-wrapped", "trailing-garbage", "not-deflate"])
def test_bad_deflate(es256_key: PrivateKey, kit: Kit, kind: str) -> None:
    """Truncated, zlib-wrapped or garbage DEFLATE payloads are malformed (even validly signed)."""
    claims = _dumps(kit.claim_set())
    body = {
        "truncated": deflate_raw(claims)[:-3],
        "zlib-wrapped": zlib.compress(claims),
        "trailing-garbage": deflate_raw(claims) + b"\x00",
        "not-deflate": claims,
    }[kind]
    token = kit.token(kit.card_header(es256_key), body, es256_key, compress=False)
    assert refuse(token, kit, es256_key).reason is Reason.MALFORMED


def test_oversized_header(es256_key: PrivateKey, kit: Kit) -> None:
    """A header over 400 characters is payload_too_large before it is decoded."""
    token = kit.token(kit.card_header(es256_key, pad="x" * 400), kit.claim_set(), es256_key)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.PAYLOAD_TOO_LARGE
    assert "header" in err.detail


def test_oversized_payload(es256_key: PrivateKey, kit: Kit) -> None:
    """A payload segment over 3,200 characters is payload_too_large before it is decoded."""
    token = kit.token(kit.card_header(es256_key), b"\x00" * 2_500, es256_key, compress=False)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.PAYLOAD_TOO_LARGE
    assert "payload" in err.detail


def test_oversized_token_and_qr_text(es256_key: PrivateKey, kit: Kit) -> None:
    """An over-long token or QR text is payload_too_large before it is split or decoded."""
    assert refuse("a" * 3_601, kit, es256_key).reason is Reason.PAYLOAD_TOO_LARGE
    assert refuse("asxh:/" + "00" * 3_600, kit, es256_key).reason is Reason.PAYLOAD_TOO_LARGE
    # The longest QR text (7,100 characters) decodes to 3,547 JWS characters, under the token cap.
    assert (_card.MAX_QR_TEXT_LENGTH - 6) // 2 <= 3_600


# --------------------------------------------------------------------------------------------
# Numeric QR text


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t[:-1], id="odd-digit-count"),
        pytest.param(lambda t: t[:-2] + "78", id="pair-78"),
        pytest.param(lambda t: t[:8] + "99" + t[10:], id="pair-99"),
        pytest.param(lambda t: "ASXH:/" + t[6:], id="upper-prefix"),
        pytest.param(lambda t: "asxh:" + t[6:], id="prefix-no-slash"),
        pytest.param(lambda t: "shc:/" + t[6:], id="shc-prefix"),
        pytest.param(lambda _t: "asxh:/", id="bare-prefix"),
        pytest.param(lambda t: t[:6] + "\u0660" + t[7:], id="arabic-digit"),
    ],
)
def test_bad_numeric_qr_text(es256_key: PrivateKey, kit: Kit, mutate: Any) -> None:
    """Odd digit count, a pair above 77 or the wrong prefix is malformed."""
    text = _card.qr_text(kit.card_token(es256_key))
    assert refuse(mutate(text), kit, es256_key).reason is Reason.MALFORMED


# --------------------------------------------------------------------------------------------
# Time claims


@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(str, id="string"),
        pytest.param(float, id="float"),
        pytest.param(lambda _v: True, id="boolean"),
        pytest.param(lambda v: v * 1000, id="milliseconds"),
        pytest.param(lambda _v: None, id="missing"),
        pytest.param(lambda v: -v, id="negative"),
    ],
)
def test_timestamps_must_be_integer_seconds(
    es256_key: PrivateKey, kit: Kit, claim: str, convert: Any
) -> None:
    """Timestamps as strings, floats, booleans or milliseconds are malformed (validly signed)."""
    claims = kit.claim_set()
    claims = kit.claim_set(**{claim: convert(claims[claim])})
    token = kit.token(kit.card_header(es256_key), claims, es256_key)
    err = refuse(token, kit, es256_key)
    assert err.reason is Reason.MALFORMED
    assert claim in err.detail


def _dumps(value: Any) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
