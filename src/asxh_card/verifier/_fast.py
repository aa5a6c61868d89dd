"""Hot-path helpers of the verifier: same results as the core, less repeated work.

Each helper handles only the common, well-formed case itself and hands anything unusual to the
core function it shortcuts, so error reasons and messages are always the core's.

* :func:`token_from_qr_text`: numeric QR text to JWS with two ``bytes.translate`` calls and one
  big-integer addition instead of a Python loop over ~700 digit pairs (60 µs to ~3 µs).
* :func:`parse_card_token`: the protected header of a card is the same for every card signed by
  one key, so a header segment parsed and checked once by the core is remembered (bounded). The
  payload is parsed with the C JSON scanner; strictness (duplicate members, I-JSON integers,
  escapes) is then established by :func:`card_claims` while it validates the claims, or the
  core's strict parser runs instead.
* :func:`card_claims`: :meth:`CardClaims.from_claims` for the common, well-formed card, with the
  same checks in fewer steps; it returns None (never raises) for anything it does not fully
  handle, and the caller then runs the core parser, whose error is the one reported.
  tests/verifier/test_fast.py checks both give the same result on valid and mutated cards.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from asxh_card import card as _card
from asxh_card._core import jws as _jws
from asxh_card._core.b64 import B64Error, b64url_decode
from asxh_card._core.claims import MAX_NUMERIC_DATE
from asxh_card._core.deflate import InflateError, InflateLimitError, inflate_raw
from asxh_card._core.qrtext import QR_PREFIX
from asxh_card._core.statuslist import MAX_STATUS_URI_LENGTH, StatusRef
from asxh_card._core.strictjson import MAX_SAFE_INT
from asxh_card.errors import AsxhError, MalformedError, PayloadTooLargeError
from asxh_card.programmes import Entitlement, ProgrammeRegistry

__all__ = ["FastPayload", "card_claims", "parse_card_token", "token_from_qr_text"]

_DIGITS = b"0123456789"
# Digit pair "td" encodes chr(10 * t + d + 45): tens and ones are mapped separately, then added
# as two big integers. 10 * t + d + 45 <= 99 + 45 < 256, so no byte ever carries into the next.
_TENS = bytes.maketrans(_DIGITS, bytes(10 * i for i in range(10)))
_ONES = bytes.maketrans(_DIGITS, bytes(45 + i for i in range(10)))
_BEYOND_77 = re.compile(rb"[\x7b-\xff]")  # pair 78-99: above "z" (45 + 77)
_PREFIX_LENGTH = len(QR_PREFIX)
_HEADER_CACHE_SIZE = 256
_header_cache: dict[str, Any] = {}


def token_from_qr_text(text: str) -> str:
    """Same as :func:`asxh_card.card.token_from_qr_text`, about 20 times faster."""
    if (
        len(text) <= _card.MAX_QR_TEXT_LENGTH
        and text.startswith(QR_PREFIX)
        and len(text) % 2 == 0  # the prefix has 6 characters: the digits must be even
    ):
        digits = text[_PREFIX_LENGTH:]
        if digits and digits.isascii():
            raw = digits.encode("ascii")
            if not raw.translate(None, _DIGITS):  # only ASCII digits
                tens = int.from_bytes(raw[0::2].translate(_TENS), "big")
                ones = int.from_bytes(raw[1::2].translate(_ONES), "big")
                decoded = (tens + ones).to_bytes(len(raw) // 2, "big")
                if _BEYOND_77.search(decoded) is None:
                    return decoded.decode("ascii")
    return _card.token_from_qr_text(text)  # raises the core's error for anything unusual


class FastPayload(dict[str, Any]):
    """Claims parsed by the C JSON scanner, not yet proven strict (see :func:`card_claims`)."""

    __slots__ = ("text",)

    text: str


def _lenient_payload(raw: bytes) -> dict[str, Any] | None:
    """The payload via the C scanner, or None when the core's strict parser must decide."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        text = raw.decode("utf-8")
        if "\\u" in text:  # escapes could hide a lone surrogate or a colon: strict path
            return None
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if type(obj) is not dict:
        return None
    payload = FastPayload(obj)
    payload.text = text
    return payload


def parse_card_token(token: str) -> tuple[_jws.CompactJWS, dict[str, Any]]:
    """Same as :func:`asxh_card.card.parse_card_jws`, reusing headers the core already checked.

    The payload may come back as a :class:`FastPayload` (parsed leniently); pass it to
    :func:`card_claims`, which proves it strict or returns None.
    """
    limits = _jws.CARD_LIMITS
    if len(token) <= limits.max_token:
        header_segment, _, rest = token.partition(".")
        header = _header_cache.get(header_segment)
        if header is not None:
            payload_segment, dot, signature_segment = rest.partition(".")
            if (
                dot
                and "." not in signature_segment
                and len(payload_segment) <= limits.max_payload
                and len(signature_segment) == 86
            ):
                try:
                    signature = b64url_decode(signature_segment)
                    raw = b64url_decode(payload_segment)
                except B64Error as exc:
                    raise MalformedError(f"signature or payload: {exc}") from None
                try:
                    raw = inflate_raw(raw, limit=limits.max_inflated)
                except InflateLimitError as exc:
                    raise PayloadTooLargeError(f"payload {exc}") from None
                except InflateError as exc:
                    raise MalformedError(f"payload: {exc}") from None
                parsed = _jws.CompactJWS(
                    header,
                    f"{header_segment}.{payload_segment}".encode("ascii"),
                    payload_segment,
                    signature,
                )
                payload = _lenient_payload(raw)
                if payload is None:
                    payload = _jws.decode_payload(parsed, limits=limits)
                    if not isinstance(payload, dict):
                        raise MalformedError("the card payload must be a JSON object")
                return parsed, payload
    parsed, payload = _card.parse_card_jws(token)
    if len(_header_cache) < _HEADER_CACHE_SIZE and parsed.header.get("zip") == "DEF":
        _header_cache[token.partition(".")[0]] = parsed.header
    return parsed, payload


# -- claims ----------------------------------------------------------------------------------

_CLAIMS = _card._CLAIMS
_REQUIRED = _CLAIMS - _card._OPTIONAL_CLAIMS
_ISSUER_ID = _card._ISSUER_ID
_SERIAL = _card._SERIAL
_PROVINCE = re.compile(r"\d{2}")  # as card.py: re.fullmatch(r"\d{2}", province)
_ENT_KEYS = frozenset({"p", "from", "to", "a", "status"})
_ENT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # programmes._ISO_DATE
_STATUS_URI = re.compile(r"https?://[\x21-\x7e]+")  # programmes._STATUS_URI


class _NotHandledError(Exception):
    """Internal: leave this payload to the core parser."""


def _numeric_date(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_NUMERIC_DATE:
        raise _NotHandledError
    return value


def _entitlement_date(value: object) -> date:
    if type(value) is not str or _ENT_DATE.fullmatch(value) is None:
        raise _NotHandledError
    return date.fromisoformat(value)  # ValueError: handled by the caller


def _status(obj: object) -> tuple[StatusRef, int]:
    """The StatusRef and the number of colons its JSON text holds (3 keys + the URI's)."""
    if type(obj) is not dict or len(obj) != 1:
        raise _NotHandledError
    inner = obj.get("status_list")
    if type(inner) is not dict or len(inner) != 2:
        raise _NotHandledError
    idx, uri = inner.get("idx"), inner.get("uri")
    if (
        type(idx) is not int
        or not 0 <= idx <= MAX_SAFE_INT
        or type(uri) is not str
        or len(uri) > MAX_STATUS_URI_LENGTH
        or _STATUS_URI.fullmatch(uri) is None
    ):
        raise _NotHandledError
    return StatusRef(idx=idx, uri=uri), 3 + uri.count(":")


def _entitlement(obj: object, registry: ProgrammeRegistry) -> tuple[Entitlement, int]:
    """Mirror of Entitlement.from_claim + validate; returns it and its JSON colon count."""
    if type(obj) is not dict or not obj.keys() <= _ENT_KEYS or "p" not in obj or "from" not in obj:
        raise _NotHandledError
    code = obj["p"]
    if type(code) is not str or code not in registry:
        raise _NotHandledError
    programme = registry.get(code)
    colons = len(obj)
    valid_from = _entitlement_date(obj["from"])
    valid_to = _entitlement_date(obj["to"]) if "to" in obj else None
    if valid_to is not None and valid_to < valid_from:
        raise _NotHandledError
    attributes: dict[str, int | str] = {}
    if "a" in obj:
        raw = obj["a"]
        if type(raw) is not dict or not raw:
            raise _NotHandledError
        specs = programme.attributes
        for key, value in raw.items():
            spec = specs.get(key)  # a schema name is never on the never-on-card list
            if spec is None:
                raise _NotHandledError
            if type(value) is str:
                colons += value.count(":")
            elif type(value) is not int:
                raise _NotHandledError
            spec.check(code, value)
            attributes[key] = value
        colons += len(raw)
    for spec in programme.attributes.values():
        if spec.required and spec.name not in attributes:
            raise _NotHandledError
    for constraint in programme.constraints:
        constraint.check(code, attributes)
    status = None
    if "status" in obj:
        status, extra = _status(obj["status"])
        colons += extra
    return Entitlement(programme.code, valid_from, valid_to, attributes, status), colons


def card_claims(payload: dict[str, Any], registry: ProgrammeRegistry) -> _card.CardClaims | None:
    r""":meth:`CardClaims.from_claims` for well-formed cards; None means "ask the core".

    For a :class:`FastPayload`, also proves the JSON was strict: no ``\u`` escape (checked at
    parse), ints within I-JSON range and floats absent (checked per claim), and no duplicate
    member: the text's colons must equal the members kept plus the colons inside kept strings,
    so a dropped duplicate member (its own colon) always shows.
    """
    try:
        return _card_claims(payload, registry)
    except (_NotHandledError, AsxhError, ValueError, TypeError, KeyError):
        return None


def _card_claims(payload: dict[str, Any], registry: ProgrammeRegistry) -> _card.CardClaims | None:
    keys = payload.keys()
    if not (keys <= _CLAIMS and keys >= _REQUIRED):
        return None
    if type(payload["v"]) is not int or payload["v"] != _card.CARD_VERSION:
        return None
    issuer, serial, province = payload["iss"], payload["jti"], payload["prov"]
    if (
        type(issuer) is not str
        or _ISSUER_ID.fullmatch(issuer) is None
        or type(serial) is not str
        or _SERIAL.fullmatch(serial) is None
        or type(province) is not str
        or _PROVINCE.fullmatch(province) is None
    ):
        return None
    sex = payload["sex"]
    if sex not in ("M", "F"):
        return None
    ents = payload["ent"]
    if type(ents) is not list or not 0 < len(ents) <= _card.MAX_ENTITLEMENTS:
        return None
    colons = len(payload)
    entitlements = []
    for obj in ents:
        entitlement, extra = _entitlement(obj, registry)
        entitlements.append(entitlement)
        colons += extra
    if len({e.programme for e in entitlements}) != len(entitlements):
        return None
    status = None
    if "status" in payload:
        status, extra = _status(payload["status"])
        colons += extra
    guardian = None
    name = payload["name"]
    if type(name) is not str:
        return None
    colons += name.count(":")
    if "gdn" in payload:
        gdn = payload["gdn"]
        if type(gdn) is not dict or type(gdn.get("name")) is not str:
            return None
        guardian = _card._guardian(gdn)
        colons += 3 + gdn["name"].count(":")
    if isinstance(payload, FastPayload) and payload.text.count(":") != colons:
        return None  # a duplicate member (or something unusual): the strict parser decides
    return _card.CardClaims(
        issuer=issuer,
        province=province,
        serial=serial,
        issued_at=_numeric_date(payload["iat"]),
        not_before=_numeric_date(payload["nbf"]),
        expires_at=_numeric_date(payload["exp"]),
        holder=_card.Holder(
            asxh_number=_card._asxh_number(payload["sub"], "sub"),
            name=_card._check_name(name, "name"),
            date_of_birth=_card._iso_date(payload["dob"], "dob"),
            sex=sex,
        ),
        entitlements=tuple(entitlements),
        status=status,
        guardian=guardian,
    )
