"""IETF Token Status List (draft-ietf-oauth-status-list): references, lists, signed tokens.

A status list is a byte array holding one ``bits``-wide value per index (1, 2, 4 or 8 bits),
packed from the least significant bit of each byte (draft §4.1), ZLIB-compressed and
base64url-encoded as ``{"bits": b, "lst": "..."}``. This project uses 2 bits with values
0 valid, 1 revoked, 2 suspended (DESIGN.md §4). The signed token has ``typ: statuslist+jwt``
and claims ``sub`` (the list's URI), ``iat``, ``exp``, ``ttl`` and ``status_list``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgspec

from asxh_card._core import jws as _jws
from asxh_card._core.b64 import B64Error, b64url_decode, b64url_encode
from asxh_card._core.claims import numeric_date, required_numeric_date
from asxh_card._core.deflate import InflateError, InflateLimitError, deflate_zlib, inflate_zlib
from asxh_card._core.keys import PublicKey, Signer
from asxh_card.errors import (
    InvalidInputError,
    StatusListInvalidError,
    StatusListStaleError,
    VerificationError,
)

__all__ = [
    "MAX_STATUS_URI_LENGTH",
    "MIN_STATUS_LIST_SIZE",
    "STATUS_LIST_HEADER",
    "STATUS_LIST_TYP",
    "Status",
    "StatusList",
    "StatusListToken",
    "StatusRef",
    "parse_status_list_token",
    "sign_status_list",
    "verify_status_list_token",
]

STATUS_LIST_TYP = "statuslist+jwt"
VALID_BITS = (1, 2, 4, 8)
#: Longest status-list URI accepted in a card (keeps the card inside its QR budget).
MAX_STATUS_URI_LENGTH = 200
#: Fewest entries a verifier accepts in a list, so that one entry hides in the crowd (DESIGN.md §4).
MIN_STATUS_LIST_SIZE = 131_072
#: 100 million 2-bit entries are 25 MB raw; refuse anything that inflates beyond 32 MiB.
MAX_LIST_BYTES = 32 * 1024 * 1024
STATUS_LIST_HEADER = frozenset({"alg", "kid", "typ"})
_STATUS_LIST_CLAIMS = frozenset({"sub", "iat", "exp", "ttl", "status_list"})
STATUS_LIST_LIMITS = _jws.JWSLimits(
    max_token=48 * 1024 * 1024,
    max_header=400,
    max_payload=48 * 1024 * 1024,
    max_inflated=48 * 1024 * 1024,
    max_depth=4,
)


class Status(IntEnum):
    """Status values of this project's 2-bit lists (DESIGN.md §4)."""

    VALID = 0
    REVOKED = 1
    SUSPENDED = 2


class StatusRef(msgspec.Struct, frozen=True):
    """A pointer into a status list: ``{"status_list": {"idx": N, "uri": "..."}}``."""

    idx: int
    uri: str

    def to_claim(self) -> dict[str, Any]:
        """The JSON form used in card and entitlement claims."""
        return {"status_list": {"idx": self.idx, "uri": self.uri}}


class StatusList:
    """A mutable status list of ``size`` entries of ``bits`` bits each."""

    __slots__ = ("_data", "bits")

    def __init__(self, data: bytes | bytearray, bits: int) -> None:
        if bits not in VALID_BITS:
            raise InvalidInputError(f"bits must be one of {VALID_BITS}")
        self.bits = bits
        self._data = bytearray(data)

    @classmethod
    def empty(cls, size: int, bits: int = 2) -> StatusList:
        """A list of ``size`` entries, all 0 (valid); ``size`` must fill whole bytes."""
        if size <= 0 or (size * bits) % 8:
            raise InvalidInputError("size * bits must be a positive multiple of 8")
        return cls(bytes(size * bits // 8), bits)

    @property
    def size(self) -> int:
        """Number of entries."""
        return len(self._data) * 8 // self.bits

    def to_bytes(self) -> bytes:
        """The packed byte array."""
        return bytes(self._data)

    def __getitem__(self, idx: int) -> int:
        if not 0 <= idx < self.size:
            raise IndexError(f"status index {idx} outside 0..{self.size - 1}")
        bit = idx * self.bits
        return (self._data[bit >> 3] >> (bit & 7)) & ((1 << self.bits) - 1)

    def values(self, start: int, count: int) -> list[int]:
        """The ``count`` consecutive entries from ``start`` (a card's status block) at once."""
        bits = self.bits
        if count <= 0 or start < 0 or (start + count) * bits > len(self._data) * 8:
            raise IndexError(f"status entries {start}..{start + count - 1} outside the list")
        data, mask = self._data, (1 << bits) - 1
        # Entries never straddle a byte (bits divides 8): one index and shift per entry.
        return [
            (data[bit >> 3] >> (bit & 7)) & mask
            for bit in range(start * bits, (start + count) * bits, bits)
        ]

    def __setitem__(self, idx: int, value: int) -> None:
        if not 0 <= idx < self.size:
            raise IndexError(f"status index {idx} outside 0..{self.size - 1}")
        mask = (1 << self.bits) - 1
        if not 0 <= value <= mask:
            raise InvalidInputError(f"status value {value} does not fit in {self.bits} bits")
        bit = idx * self.bits
        shift = bit & 7
        self._data[bit >> 3] = (self._data[bit >> 3] & ~(mask << shift)) | (value << shift)

    def encode(self) -> dict[str, Any]:
        """``{"bits": b, "lst": base64url(zlib(bytes))}`` (draft §4.2)."""
        return {"bits": self.bits, "lst": b64url_encode(deflate_zlib(bytes(self._data)))}

    @classmethod
    def decode(cls, obj: object, *, max_bytes: int = MAX_LIST_BYTES) -> StatusList:
        """Parse the ``status_list`` JSON object; raises :class:`StatusListInvalidError`."""
        if not isinstance(obj, Mapping):
            raise StatusListInvalidError("status_list must be an object")
        unknown = obj.keys() - {"bits", "lst", "aggregation_uri"}
        if unknown:
            raise StatusListInvalidError(f"unexpected status_list member(s) {sorted(unknown)}")
        bits, lst = obj.get("bits"), obj.get("lst")
        if type(bits) is not int or bits not in VALID_BITS:
            raise StatusListInvalidError("bits must be 1, 2, 4 or 8")
        if not isinstance(lst, str):
            raise StatusListInvalidError("lst must be a base64url string")
        try:
            data = inflate_zlib(b64url_decode(lst), limit=max_bytes)
        except InflateLimitError:
            raise StatusListInvalidError(
                f"the list inflates to more than {max_bytes} bytes"
            ) from None
        except (B64Error, InflateError) as exc:
            raise StatusListInvalidError(f"lst: {exc}") from None
        if not data:
            raise StatusListInvalidError("the list is empty")
        return cls(data, bits)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """A status-list token whose structure and signature have been checked."""

    uri: str
    issued_at: int
    expires_at: int | None
    ttl: int | None
    status_list: StatusList
    kid: str

    def stale_at(self, now: int, leeway: int) -> str | None:
        """Why the list is stale at ``now`` (a short English reason), or None when fresh."""
        if self.expires_at is not None and now > self.expires_at + leeway:
            return "past its exp"
        if self.ttl is not None and now > self.issued_at + self.ttl + leeway:
            return f"past its ttl ({self.ttl} s after iat)"
        return None


def sign_status_list(
    status_list: StatusList,
    signer: Signer,
    *,
    uri: str,
    issued_at: int,
    expires_at: int | None = None,
    ttl: int | None = None,
) -> str:
    """Sign ``status_list`` as a ``statuslist+jwt`` token for ``uri``."""
    claims: dict[str, Any] = {"sub": uri, "iat": issued_at}
    if expires_at is not None:
        claims["exp"] = expires_at
    if ttl is not None:
        claims["ttl"] = ttl
    claims["status_list"] = status_list.encode()
    return _jws.sign_compact(claims, signer, typ=STATUS_LIST_TYP, compress=False)


def parse_status_list_token(
    token: str,
    keys: Callable[[str], PublicKey | None],
    *,
    extra_claims: frozenset[str] | None = frozenset(),
    max_bytes: int = MAX_LIST_BYTES,
) -> StatusListToken:
    """Check a status-list token's structure and signature and decode its list.

    ``keys`` maps the header's ``kid`` to the key that must have signed it (None: unknown).
    The payload holds ``sub``, ``iat`` and ``status_list``, optional ``exp`` and ``ttl``, and
    only the ``extra_claims`` named (``None``: any other claim, as JWTs in general allow). No
    policy beyond that: callers check the URI, freshness and bit size they need.
    Raises :class:`StatusListInvalidError` only.
    """
    try:
        parsed = _jws.parse_compact(
            token, limits=STATUS_LIST_LIMITS, typ=STATUS_LIST_TYP, header_names=STATUS_LIST_HEADER
        )
    except VerificationError as exc:
        raise StatusListInvalidError(f"{exc.reason.value}: {exc.detail}") from None
    key = keys(parsed.kid or "")
    if key is None:
        raise StatusListInvalidError("the status list is not signed by a known key")
    try:
        _jws.verify_signature(parsed, key)
        claims = _jws.decode_payload(parsed, limits=STATUS_LIST_LIMITS)
    except VerificationError as exc:
        raise StatusListInvalidError(f"{exc.reason.value}: {exc.detail}") from None
    if not isinstance(claims, dict):
        raise StatusListInvalidError("the payload must be a JSON object")
    unexpected = claims.keys() - _STATUS_LIST_CLAIMS
    if extra_claims is not None and unexpected - extra_claims:
        raise StatusListInvalidError(
            "the payload must be an object of sub, iat, exp, ttl, status_list"
        )
    uri = claims.get("sub")
    if not isinstance(uri, str) or not uri:
        raise StatusListInvalidError("the status list token has no sub (URI)")
    try:
        issued_at = required_numeric_date(claims, "iat")
        expires_at = numeric_date(claims, "exp", required=False)
        ttl = numeric_date(claims, "ttl", required=False)
    except VerificationError as exc:
        raise StatusListInvalidError(exc.detail) from None
    if expires_at is not None and expires_at < issued_at:
        raise StatusListInvalidError("exp is before iat")
    return StatusListToken(
        uri=uri,
        issued_at=issued_at,
        expires_at=expires_at,
        ttl=ttl,
        status_list=StatusList.decode(claims.get("status_list"), max_bytes=max_bytes),
        kid=key.kid,
    )


def verify_status_list_token(
    token: str,
    key: PublicKey,
    *,
    uri: str,
    now: int,
    bits: int | None = 2,
    leeway: int = 300,
    max_bytes: int = MAX_LIST_BYTES,
) -> StatusListToken:
    """Verify a status-list token signed by ``key`` for ``uri`` at time ``now``.

    Raises :class:`StatusListInvalidError` (bad structure, signature, key, URI or bit size) or
    :class:`StatusListStaleError` (issued in the future, past ``exp``, or past ``iat + ttl``).
    """
    # The caller names the key, so the header's kid is not consulted: IETF issuers choose their
    # own kid values (the draft's example uses "12"); the signature decides.
    verified = parse_status_list_token(
        token, lambda _kid: key, extra_claims=None, max_bytes=max_bytes
    )
    if verified.uri != uri:
        raise StatusListInvalidError("the token is for another status list URI (sub)")
    if verified.issued_at > now + leeway:
        raise StatusListStaleError("issued in the future (iat)")
    stale = verified.stale_at(now, leeway)
    if stale is not None:
        raise StatusListStaleError(f"the list is {stale}")
    if bits is not None and verified.status_list.bits != bits:
        raise StatusListInvalidError(
            f"the list has {verified.status_list.bits}-bit entries, not {bits}"
        )
    return verified
