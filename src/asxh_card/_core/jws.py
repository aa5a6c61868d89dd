"""JWS compact serialization (RFC 7515) for ES256 and EdDSA with raw signatures.

Parsing is split so that the verifier can do the cheap, structural checks first, look up the key
by (issuer, kid) itself, and only then spend a signature verification:

1. :func:`parse_compact`: size caps before anything else, exactly three segments, canonical
   base64url, strict JSON header; ``alg`` on the allow-list; no ``none``/HMAC; no key-carrying
   headers (``jwk``, ``jku``, ``x5u``, ``x5c``, ``x5t``); no ``crit``; the expected ``typ`` and
   header member set.
2. :func:`decode_payload`: canonical base64url, bounded inflate for ``zip: DEF``, strict JSON.
3. :func:`verify_signature`: the *key* decides the algorithm (DESIGN.md §5); a header ``alg`` that
   does not fit the key is refused before any cryptography runs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

import msgspec

from asxh_card._core import strictjson
from asxh_card._core.b64 import B64Error, b64url_decode, b64url_encode
from asxh_card._core.deflate import InflateError, InflateLimitError, deflate_raw, inflate_raw
from asxh_card._core.keys import ALGORITHMS, PublicKey, Signer
from asxh_card.errors import (
    AlgorithmNotAllowedError,
    MalformedError,
    PayloadTooLargeError,
)

__all__ = [
    "CARD_LIMITS",
    "FORBIDDEN_HEADERS",
    "CompactJWS",
    "JWSLimits",
    "decode_payload",
    "parse_compact",
    "parse_payload_json",
    "payload_bytes",
    "sign_compact",
    "verify_signature",
]

#: Headers that carry or point at a key: trusting them lets the token choose its own key.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})


@dataclass(frozen=True, slots=True)
class JWSLimits:
    """Size caps, checked before the corresponding part is decoded."""

    max_token: int
    max_header: int
    max_payload: int
    max_inflated: int
    max_depth: int = strictjson.DEFAULT_MAX_DEPTH


# Every card signed by one key has the same protected header, so a header segment that passed
# the checks is remembered with the options it passed under (only successes are cached, and the
# cache is bounded so forged headers cannot grow it). Saves a strict JSON parse per card.
_HEADER_CACHE_SIZE = 256
_HEADER_CACHE: dict[
    tuple[bytes, str | None, frozenset[str] | None, frozenset[str]], Mapping[str, Any]
] = {}

#: A card must fit a QR of version 40 at most (7,089 digits, i.e. 3,544 JWS characters); the
#: inflated claims of the largest realistic card are under 2 KiB.
CARD_LIMITS = JWSLimits(max_token=3_600, max_header=400, max_payload=3_200, max_inflated=16_384)


class CompactJWS(msgspec.Struct, frozen=True):
    """A structurally valid compact JWS whose signature has not been checked yet."""

    header: Mapping[str, Any]
    signing_input: bytes
    payload_segment: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The header's ``alg`` (already on the allow-list)."""
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        """The header's ``kid``, if any."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def _decode_segment(segment: bytes, what: str) -> bytes:
    try:
        return b64url_decode(segment)
    except B64Error as exc:
        raise MalformedError(f"{what}: {exc}") from None


def parse_compact(
    token: str | bytes,
    *,
    limits: JWSLimits,
    typ: str | None,
    header_names: frozenset[str] | None = None,
    allowed_algs: frozenset[str] = ALGORITHMS,
) -> CompactJWS:
    """Structural checks of a compact JWS (step 1 in the module docstring).

    ``token`` is text or its ASCII bytes (the QR decoder hands over bytes, which saves an
    encode). ``typ`` is the required ``typ`` header (``None``: any or none). ``header_names`` is
    the exact set of header members required (``None``: any set without forbidden members).
    """
    if isinstance(token, str):
        if len(token) > limits.max_token:
            raise PayloadTooLargeError(f"token longer than {limits.max_token} characters")
        if not token.isascii():
            _refuse_non_ascii(token)
        data = token.encode("ascii")
    elif isinstance(token, bytes):
        data = token
    else:
        raise MalformedError("the token must be text")
    if len(data) > limits.max_token:
        raise PayloadTooLargeError(f"token longer than {limits.max_token} characters")
    parts = data.split(b".")
    if len(parts) != 3:
        raise MalformedError(f"a compact JWS has 3 segments, not {len(parts)}")
    header_segment, payload_segment, signature_segment = parts
    if len(header_segment) > limits.max_header:
        raise PayloadTooLargeError(f"header longer than {limits.max_header} characters")
    if len(payload_segment) > limits.max_payload:
        raise PayloadTooLargeError(f"payload longer than {limits.max_payload} characters")
    cache_key = (header_segment, typ, header_names, allowed_algs)
    header = _HEADER_CACHE.get(cache_key)
    if header is None:
        header = _parse_header(
            header_segment,
            limits=limits,
            typ=typ,
            header_names=header_names,
            allowed_algs=allowed_algs,
        )
        if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[cache_key] = header
    # Size of the signature is fixed by the algorithm, so a long one is refused before decoding.
    if len(signature_segment) != 86:
        raise MalformedError("the signature must be 64 bytes (raw r||s or Ed25519)")
    signature = _decode_segment(signature_segment, "signature")
    signing_input = data[: len(header_segment) + 1 + len(payload_segment)]
    return CompactJWS(header, signing_input, payload_segment, signature)


def _refuse_non_ascii(token: str) -> NoReturn:
    """Name the first segment with a character outside base64url (only text can have one)."""
    for what, segment in zip(("header", "payload", "signature"), token.split("."), strict=False):
        if not segment.isascii():
            raise MalformedError(f"{what}: characters outside the base64url alphabet")
    raise MalformedError("characters outside the base64url alphabet")


def _parse_header(
    header_segment: bytes,
    *,
    limits: JWSLimits,
    typ: str | None,
    header_names: frozenset[str] | None,
    allowed_algs: frozenset[str],
) -> Mapping[str, Any]:
    header_bytes = _decode_segment(header_segment, "header")
    try:
        header = strictjson.loads(header_bytes, max_size=limits.max_header, max_depth=4)
    except strictjson.StrictJSONError as exc:
        raise MalformedError(f"header: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedError("the header must be a JSON object")
    _check_header(header, typ=typ, header_names=header_names, allowed_algs=allowed_algs)
    return MappingProxyType(header)


def _check_header(
    header: dict[str, Any],
    *,
    typ: str | None,
    header_names: frozenset[str] | None,
    allowed_algs: frozenset[str],
) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedError("the header has no alg")
    if alg not in allowed_algs:
        raise AlgorithmNotAllowedError(f"alg {alg[:20]!r} is not on the allow-list")
    carried = FORBIDDEN_HEADERS & header.keys()
    if carried:
        raise MalformedError(f"key-carrying header(s) refused: {', '.join(sorted(carried))}")
    if "crit" in header:
        # RFC 7515 §4.1.11: a recipient must refuse extensions it does not understand; we
        # understand none, and an empty list is itself invalid.
        raise MalformedError("crit header refused: no extensions are understood")
    if header_names is not None and header.keys() != header_names:
        unexpected = sorted(header.keys() - header_names)
        missing = sorted(header_names - header.keys())
        raise MalformedError(f"header members: unexpected {unexpected}, missing {missing}")
    if typ is not None and header.get("typ") != typ:
        raise MalformedError(f"typ must be {typ!r}")
    if "kid" in header and (not isinstance(header["kid"], str) or not 0 < len(header["kid"]) <= 64):
        raise MalformedError("kid must be a string of 1-64 characters")
    if "zip" in header and header["zip"] != "DEF":
        raise MalformedError("zip must be DEF")


def decode_payload(jws: CompactJWS, *, limits: JWSLimits) -> Any:
    """Decode, inflate (when ``zip: DEF``) and strictly parse the payload (step 2)."""
    return parse_payload_json(payload_bytes(jws, limits=limits), limits=limits)


def payload_bytes(jws: CompactJWS, *, limits: JWSLimits) -> bytes:
    """The payload's bytes: canonical base64url decoded, inflated (bounded) for ``zip: DEF``."""
    raw = _decode_segment(jws.payload_segment, "payload")
    if jws.header.get("zip") == "DEF":
        try:
            raw = inflate_raw(raw, limit=limits.max_inflated)
        except InflateLimitError as exc:
            raise PayloadTooLargeError(f"payload {exc}") from None
        except InflateError as exc:
            raise MalformedError(f"payload: {exc}") from None
    return raw


def parse_payload_json(raw: bytes, *, limits: JWSLimits) -> Any:
    """Strict JSON of the payload's bytes (:mod:`asxh_card._core.strictjson`)."""
    try:
        return strictjson.loads(raw, max_size=limits.max_inflated, max_depth=limits.max_depth)
    except strictjson.StrictJSONError as exc:
        raise MalformedError(f"payload: {exc}") from None


def verify_signature(jws: CompactJWS, key: PublicKey) -> None:
    """Check the signature with ``key``, whose type fixes the algorithm (step 3)."""
    if jws.alg != key.alg:
        raise AlgorithmNotAllowedError(f"alg {jws.alg!r} does not fit the {key.alg} key")
    key.verify(jws.signature, jws.signing_input)  # BadSignatureError; also for a wrong length


@functools.lru_cache(maxsize=64)
def _encoded_header(alg: str, kid: str, typ: str, *, compress: bool) -> str:
    """The base64url protected header: the same for every token of one key and type."""
    header = {"alg": alg, "kid": kid, "typ": typ}
    if compress:
        header["zip"] = "DEF"
    return b64url_encode(strictjson.dumps(header))


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    signer: Signer,
    *,
    typ: str,
    compress: bool,
) -> str:
    r"""Sign ``payload`` (claims or raw bytes) with ``signer``.

    The header is ``{"alg", "kid", "typ"}`` plus ``"zip": "DEF"`` when ``compress``; JSON is
    compact UTF-8 (a Vietnamese name is not escaped to ``\\uXXXX``).
    """
    body = payload if isinstance(payload, bytes) else strictjson.dumps(payload)
    if compress:
        body = deflate_raw(body)
    header = _encoded_header(signer.alg, signer.kid, typ, compress=compress)
    signing_input = f"{header}.{b64url_encode(body)}"
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"
