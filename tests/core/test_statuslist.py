"""IETF Token Status List: bit packing, encoding, and the signed status-list token."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core import jws
from asxh_card._core.b64 import b64url_encode
from asxh_card._core.deflate import deflate_raw, deflate_zlib
from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card._core.statuslist import (
    STATUS_LIST_TYP,
    Status,
    StatusList,
    StatusRef,
    parse_status_list_token,
    sign_status_list,
    verify_status_list_token,
)
from asxh_card.errors import Reason, StatusListInvalidError, StatusListStaleError

if TYPE_CHECKING:
    from conftest import Kit

URI = "https://asxh.example.vn/v1/status-lists/1"
NOW = 1_780_000_000


def test_status_values() -> None:
    """The 2-bit values are 0 valid, 1 revoked, 2 suspended (DESIGN.md §4)."""
    assert (Status.VALID, Status.REVOKED, Status.SUSPENDED) == (0, 1, 2)


def test_status_ref_claim() -> None:
    """A status reference serialises as {"status_list": {"idx", "uri"}}."""
    assert StatusRef(idx=7, uri=URI).to_claim() == {"status_list": {"idx": 7, "uri": URI}}


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_get_set_each_bit_size(bits: int) -> None:
    """Each entry holds ``bits`` bits; setting one never disturbs its neighbours."""
    size = 64
    lst = StatusList.empty(size, bits)
    assert lst.size == size
    assert len(lst.to_bytes()) == size * bits // 8
    top = (1 << bits) - 1
    for idx in range(size):
        lst[idx] = (idx * 7) & top
    for idx in range(size):
        assert lst[idx] == (idx * 7) & top
    lst[5] = top
    lst[5] = 0
    assert lst[4] == (4 * 7) & top
    assert lst[5] == 0
    assert lst[6] == (6 * 7) & top


def test_lsb_first_packing() -> None:
    """Entries are packed from the least significant bit (draft §4.1 example: 0xB9, 0xA3)."""
    lst = StatusList.empty(16, 1)
    for idx in (0, 3, 4, 5, 7, 8, 9, 13, 15):
        lst[idx] = 1
    assert lst.to_bytes() == bytes([0xB9, 0xA3])
    two = StatusList.empty(12, 2)
    for idx, value in {
        0: 1,
        1: 2,
        2: 0,
        3: 3,
        4: 0,
        5: 1,
        6: 0,
        7: 1,
        8: 1,
        9: 2,
        10: 3,
        11: 3,
    }.items():
        two[idx] = value
    assert two.to_bytes() == bytes([0xC9, 0x44, 0xF9])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_index_and_value_bounds(bits: int) -> None:
    """Out-of-range indices raise IndexError; values wider than ``bits`` raise ValueError."""
    lst = StatusList.empty(16, bits)
    for idx in (-1, 16, 10**9):
        with pytest.raises(IndexError):
            lst[idx]
        with pytest.raises(IndexError):
            lst[idx] = 0
    with pytest.raises(ValueError, match="does not fit"):
        lst[0] = 1 << bits
    with pytest.raises(ValueError, match="does not fit"):
        lst[0] = -1


@pytest.mark.parametrize(("size", "bits"), [(0, 2), (-8, 1), (3, 2), (7, 1), (1, 4)])
def test_empty_needs_whole_bytes(size: int, bits: int) -> None:
    """A list must be a positive whole number of bytes."""
    with pytest.raises(ValueError, match="multiple of 8"):
        StatusList.empty(size, bits)


@pytest.mark.parametrize("bits", [0, 3, 16, -1])
def test_bits_must_be_1_2_4_or_8(bits: int) -> None:
    """Only 1, 2, 4 and 8 bits per entry exist."""
    with pytest.raises(ValueError, match="bits"):
        StatusList(b"\x00", bits)


@given(st.sampled_from([1, 2, 4, 8]), st.binary(min_size=1, max_size=256))
def test_encode_decode_round_trip(bits: int, data: bytes) -> None:
    """encode() is ZLIB + base64url and decode() reads it back byte for byte."""
    obj = StatusList(data, bits).encode()
    assert set(obj) == {"bits", "lst"}
    assert obj["bits"] == bits
    decoded = StatusList.decode(obj)
    assert decoded.bits == bits
    assert decoded.to_bytes() == data


def test_decode_accepts_aggregation_uri() -> None:
    """The draft's optional aggregation_uri member is allowed."""
    obj = {**StatusList(b"\x01", 1).encode(), "aggregation_uri": "https://example.com/agg"}
    assert StatusList.decode(obj).to_bytes() == b"\x01"


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([], "object"),
        ({"bits": 2}, "lst"),
        ({"bits": 2, "lst": 5}, "lst"),
        ({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"bits": True, "lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"bits": 2.0, "lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"bits": 1, "lst": "eNrbuRgAAhcBXQ", "extra": 1}, "unexpected"),
        ({"bits": 1, "lst": "eNrbuRgAAhcBXQ=="}, "lst"),
        ({"bits": 1, "lst": b64url_encode(deflate_raw(b"\x01"))}, "lst"),
        ({"bits": 1, "lst": b64url_encode(deflate_zlib(b""))}, "empty"),
        ({"bits": 1, "lst": b64url_encode(deflate_zlib(b"\x01")[:-2])}, "lst"),
    ],
)
def test_decode_refusals(obj: object, match: str) -> None:
    """Malformed status_list objects raise StatusListInvalidError."""
    with pytest.raises(StatusListInvalidError, match=match) as info:
        StatusList.decode(obj)
    assert info.value.reason is Reason.STATUS_LIST_INVALID


def test_decode_bomb_is_bounded() -> None:
    """Decompression bomb in a status list: inflating past max_bytes is refused."""
    obj = {"bits": 2, "lst": b64url_encode(deflate_zlib(bytes(1_000_000)))}
    with pytest.raises(StatusListInvalidError, match="inflates"):
        StatusList.decode(obj, max_bytes=100_000)


@pytest.fixture
def status_list() -> StatusList:
    lst = StatusList.empty(131_072, 2)
    lst[42] = Status.REVOKED
    lst[4242] = Status.SUSPENDED
    return lst


def test_signed_token_round_trip(any_key: PrivateKey, status_list: StatusList) -> None:
    """A signed status-list token verifies and gives back the list, times and kid."""
    token = sign_status_list(
        status_list, any_key, uri=URI, issued_at=NOW, expires_at=NOW + 86_400, ttl=3_600
    )
    parsed = jws.parse_compact(token, limits=jws.CARD_LIMITS, typ=STATUS_LIST_TYP)
    assert parsed.header == {"alg": any_key.alg, "kid": any_key.kid, "typ": STATUS_LIST_TYP}
    result = verify_status_list_token(token, any_key.public_key, uri=URI, now=NOW + 60)
    assert result.uri == URI
    assert result.issued_at == NOW
    assert result.expires_at == NOW + 86_400
    assert result.ttl == 3_600
    assert result.kid == any_key.kid
    assert result.status_list[42] == Status.REVOKED
    assert result.status_list[4242] == Status.SUSPENDED
    assert result.status_list[43] == Status.VALID


def test_signed_token_without_exp_or_ttl(es256_key: PrivateKey, status_list: StatusList) -> None:
    """exp and ttl are optional."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW)
    result = verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW + 10**6)
    assert result.expires_at is None
    assert result.ttl is None


def test_wrong_key_is_invalid(es256_key: PrivateKey, status_list: StatusList) -> None:
    """A list signed by another key is invalid (bad signature inside)."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW)
    other = PrivateKey.generate("ES256")
    with pytest.raises(StatusListInvalidError, match="bad_signature") as info:
        verify_status_list_token(token, other.public_key, uri=URI, now=NOW)
    assert info.value.reason is Reason.STATUS_LIST_INVALID


def test_wrong_uri_is_invalid(es256_key: PrivateKey, status_list: StatusList) -> None:
    """List substitution: a token for another URI is refused."""
    token = sign_status_list(status_list, es256_key, uri=URI + "0", issued_at=NOW)
    with pytest.raises(StatusListInvalidError, match="sub"):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)


def test_wrong_bit_size_is_invalid(es256_key: PrivateKey) -> None:
    """A 1-bit list is refused where 2 bits are expected; bits=None accepts any."""
    token = sign_status_list(StatusList.empty(64, 1), es256_key, uri=URI, issued_at=NOW)
    with pytest.raises(StatusListInvalidError, match="1-bit"):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)
    assert (
        verify_status_list_token(
            token, es256_key.public_key, uri=URI, now=NOW, bits=None
        ).status_list.bits
        == 1
    )


def test_expired_list_is_stale(es256_key: PrivateKey, status_list: StatusList) -> None:
    """A list past exp (plus leeway) is stale, not invalid."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW, expires_at=NOW + 100)
    verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW + 400)
    with pytest.raises(StatusListStaleError) as info:
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW + 401)
    assert info.value.reason is Reason.STATUS_LIST_STALE


def test_list_past_ttl_is_stale(es256_key: PrivateKey, status_list: StatusList) -> None:
    """A list older than iat + ttl (plus leeway) is stale."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW, ttl=600)
    verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW + 900)
    with pytest.raises(StatusListStaleError, match="ttl"):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW + 901)


def test_list_from_the_future_is_stale(es256_key: PrivateKey, status_list: StatusList) -> None:
    """A list issued after now + leeway is refused as stale (clock problem)."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW + 1_000)
    with pytest.raises(StatusListStaleError):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ({"sub": URI, "status_list": {"bits": 2, "lst": "eNoDAAAAAAE"}}, "iat"),
        ({"sub": URI, "iat": str(NOW), "status_list": {}}, "iat"),
        ({"sub": URI, "iat": NOW, "ttl": 1.5, "status_list": {}}, "ttl"),
        ({"sub": URI, "iat": NOW, "exp": NOW - 5}, "before"),
        ({"sub": URI, "iat": NOW}, "status_list"),
    ],
)
def test_bad_claims_are_invalid(
    es256_key: PrivateKey, kit: Kit, claims: dict[str, object], match: str
) -> None:
    """Missing or non-integer times and a missing list are invalid, the reason in the detail."""
    header = {"alg": "ES256", "kid": es256_key.kid, "typ": STATUS_LIST_TYP}
    token = kit.token(header, claims, es256_key, compress=False)
    with pytest.raises(StatusListInvalidError, match=match):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)


def test_payload_must_be_an_object(es256_key: PrivateKey, kit: Kit) -> None:
    """A status-list payload that is not a JSON object is invalid."""
    header = {"alg": "ES256", "kid": es256_key.kid, "typ": STATUS_LIST_TYP}
    token = kit.token(header, b"[1]", es256_key, compress=False)
    with pytest.raises(StatusListInvalidError, match="object"):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256", "typ": STATUS_LIST_TYP},
        {"alg": "ES256", "kid": "k", "typ": "asxh-card+jwt"},
        {"alg": "ES256", "kid": "k", "typ": STATUS_LIST_TYP, "zip": "DEF"},
        {"alg": "HS256", "kid": "k", "typ": STATUS_LIST_TYP},
        {"alg": "ES256", "kid": "k", "typ": STATUS_LIST_TYP, "jwk": {}},
    ],
    ids=["no-kid", "card-typ", "zip", "hs256", "jwk"],
)
def test_bad_headers_are_invalid(
    es256_key: PrivateKey, kit: Kit, status_list: StatusList, header: dict[str, object]
) -> None:
    """Token confusion and header attacks on a status list surface as status_list_invalid."""
    claims = {"sub": URI, "iat": NOW, "status_list": status_list.encode()}
    token = kit.token(header, claims, es256_key, compress="zip" in header)
    with pytest.raises(StatusListInvalidError) as info:
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)
    assert info.value.reason is Reason.STATUS_LIST_INVALID


def test_non_ascii_token_is_invalid_not_unicode_error(
    es256_key: PrivateKey, status_list: StatusList
) -> None:
    """A non-ASCII payload segment is status_list_invalid (it used to raise UnicodeEncodeError)."""
    header, payload, signature = sign_status_list(
        status_list, es256_key, uri=URI, issued_at=NOW
    ).split(".")
    with pytest.raises(StatusListInvalidError):
        verify_status_list_token(
            f"{header}.{payload}é.{signature}", es256_key.public_key, uri=URI, now=NOW
        )


def test_bad_list_inside_a_good_token(es256_key: PrivateKey, kit: Kit) -> None:
    """A validly signed token whose list does not decode is invalid."""
    header = {"alg": "ES256", "kid": es256_key.kid, "typ": STATUS_LIST_TYP}
    claims = {"sub": URI, "iat": NOW, "status_list": {"bits": 2, "lst": "!!"}}
    token = kit.token(header, claims, es256_key, compress=False)
    with pytest.raises(StatusListInvalidError, match="lst"):
        verify_status_list_token(token, es256_key.public_key, uri=URI, now=NOW)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_values_reads_a_block_of_consecutive_entries(bits: int) -> None:
    """values(start, count) equals reading each entry, across byte boundaries, for every width."""
    rng = random.Random(bits)
    status_list = StatusList.empty(256, bits)
    for i in range(256):
        status_list[i] = rng.randrange(1 << bits)
    for start in range(0, 250, 7):
        for count in (1, 2, 5):
            assert status_list.values(start, count) == [
                status_list[i] for i in range(start, start + count)
            ]


@pytest.mark.parametrize(("start", "count"), [(-1, 2), (255, 2), (0, 0), (256, 1)])
def test_values_outside_the_list_raise_index_error(start: int, count: int) -> None:
    """A block reaching outside the list (or empty) is an IndexError, as for one entry."""
    with pytest.raises(IndexError):
        StatusList.empty(256, 2).values(start, count)


def _signed_claims(key: PrivateKey, claims: dict[str, object]) -> str:
    return jws.sign_compact(claims, key, typ=STATUS_LIST_TYP, compress=False)


def test_parse_finds_the_key_by_kid(es256_key: PrivateKey, status_list: StatusList) -> None:
    """parse_status_list_token asks the lookup for the header's kid; unknown kids are invalid."""
    token = sign_status_list(status_list, es256_key, uri=URI, issued_at=NOW, ttl=60)
    asked: list[str] = []

    def lookup(kid: str) -> PublicKey | None:
        asked.append(kid)
        return es256_key.public_key if kid == es256_key.kid else None

    parsed = parse_status_list_token(token, lookup)
    assert (parsed.uri, parsed.issued_at, parsed.ttl, parsed.kid) == (URI, NOW, 60, es256_key.kid)
    assert asked == [es256_key.kid]
    with pytest.raises(StatusListInvalidError, match="not signed by a known key"):
        parse_status_list_token(token, lambda _kid: None)


def test_parse_refuses_other_claims_unless_allowed(
    es256_key: PrivateKey, status_list: StatusList
) -> None:
    """Extra claims are refused by default, allowed when named or when extra_claims is None."""
    claims = {"sub": URI, "iat": NOW, "iss": "x", "status_list": status_list.encode()}
    token = _signed_claims(es256_key, claims)
    with pytest.raises(StatusListInvalidError, match="must be an object of sub"):
        parse_status_list_token(token, lambda _kid: es256_key.public_key)
    for allowed in (frozenset({"iss"}), None):
        parsed = parse_status_list_token(
            token, lambda _kid: es256_key.public_key, extra_claims=allowed
        )
        assert parsed.uri == URI


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ({"iat": NOW}, "no sub"),
        ({"sub": "", "iat": NOW}, "no sub"),
        ({"sub": URI}, "missing claim iat"),
        ({"sub": URI, "iat": NOW, "exp": NOW - 1}, "exp is before iat"),
        ({"sub": URI, "iat": "soon"}, "integer number of seconds"),
    ],
)
def test_parse_refuses_malformed_payloads(
    es256_key: PrivateKey, status_list: StatusList, claims: dict[str, object], match: str
) -> None:
    """A payload without a URI, with a bad iat or exp before iat is status_list_invalid."""
    token = _signed_claims(es256_key, {**claims, "status_list": status_list.encode()})
    with pytest.raises(StatusListInvalidError, match=match) as info:
        parse_status_list_token(token, lambda _kid: es256_key.public_key)
    assert info.value.reason is Reason.STATUS_LIST_INVALID
