"""The signed trust bundle (DESIGN.md §4) and the status lists it names.

A bundle is a compact JWS with the protected header exactly ``{"alg", "kid", "typ"}``,
``typ: asxh-bundle+jwt``, no compression, signed by a national root key that the verifier pins
(looked up by ``kid``, the RFC 7638 thumbprint). Its payload::

    {"v": 1, "version": 7, "iat": 1767225600, "exp": 1769817600,
     "issuers": [{"id": "vn-79", "name": "...", "province": "79", "programmes": ["BHYT", ...],
                  "keys": [{"jwk": {...public JWK...}, "not_before": 1767225600,
                            "not_after": null}]}],
     "status_lists": [{"uri": "https://...", "issuer": "vn-79", "sha256": "<64 hex>",
                       "token": "<optional embedded statuslist+jwt>"}]}

Everything is checked strictly (docs/trust-bundle.md): exact member sets, duplicate issuer ids,
duplicate ``kid`` across the *whole* bundle, private key members, key types and curves (through
:meth:`PublicKey.from_jwk`), province codes, programme codes, window order, duplicate status
URIs, status lists naming an unknown issuer, and an embedded token whose hash does not match.
Every failure is a :class:`~asxh_card.errors.BundleInvalidError`.

Status-list tokens are verified here once, at load time (signature with a key of the issuer the
bundle names for the list, SHA-256 against the bundle, structure, 2-bit entries) and decoded into
memory; their freshness (``exp``, ``iat + ttl``) is checked at verification time by the verifier.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from asxh_card._core import jws as _jws
from asxh_card._core.claims import numeric_date
from asxh_card._core.keys import JWKError, PublicKey
from asxh_card._core.statuslist import StatusListToken, parse_status_list_token
from asxh_card.card import ISSUER_ID_PATTERN
from asxh_card.errors import (
    BundleInvalidError,
    StatusListInvalidError,
    VerificationError,
)
from asxh_card.provinces import is_current_province_code

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BUNDLE_LIMITS",
    "BUNDLE_TYP",
    "IssuerEntry",
    "KeyEntry",
    "LoadedStatusList",
    "StatusListEntry",
    "TrustBundle",
    "load_status_list",
    "parse_bundle",
    "pinned_bundle",
    "token_sha256",
]

BUNDLE_TYP = "asxh-bundle+jwt"
BUNDLE_FORMAT_VERSION = 1
BUNDLE_HEADER = frozenset({"alg", "kid", "typ"})
#: Generous but explicit: thousands of issuers and a few embedded small status lists fit in
#: 8 MiB; national-scale lists are synced beside the bundle, not inside it (DESIGN.md §4).
BUNDLE_LIMITS = _jws.JWSLimits(
    max_token=8 * 1024 * 1024,
    max_header=400,
    max_payload=8 * 1024 * 1024,
    max_inflated=6 * 1024 * 1024,
    max_depth=8,
)
MAX_ISSUERS = 10_000
MAX_KEYS_PER_ISSUER = 32
MAX_STATUS_LISTS = 10_000
MAX_NAME_LENGTH = 200

_PAYLOAD_MEMBERS = frozenset({"v", "version", "iat", "exp", "issuers", "status_lists"})
_ISSUER_MEMBERS = frozenset({"id", "name", "province", "programmes", "keys"})
_KEY_MEMBERS = frozenset({"jwk", "not_before", "not_after"})
_LIST_MEMBERS = frozenset({"uri", "issuer", "sha256"})
_LIST_OPTIONAL = frozenset({"token"})
# Same shapes as the card's iss claim (card.py) and the programme registry's codes.
_PROGRAMME = re.compile(r"[A-Z][A-Z0-9_]{1,15}")
_STATUS_URI = re.compile(r"https?://[\x21-\x7e]{1,192}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def token_sha256(token: str) -> str:
    """The lowercase hex SHA-256 of a token's ASCII text (how the bundle pins a status list)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """An issuer's public key and the window in which it may sign (``iat`` of what it signs)."""

    key: PublicKey
    not_before: int
    not_after: int | None

    def covers(self, moment: int) -> bool:
        """Whether a signature made at ``moment`` (seconds) falls inside the window."""
        return self.not_before <= moment and (self.not_after is None or moment <= self.not_after)


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """One issuer of the bundle: who it is, what it may sign, and its keys by ``kid``."""

    id: str
    name: str
    province: str
    programmes: frozenset[str]
    keys: Mapping[str, KeyEntry]


@dataclass(frozen=True, slots=True)
class StatusListEntry:
    """A status list named by the bundle: its URI, issuer, token hash and optional token."""

    uri: str
    issuer: str
    sha256: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """A verified trust bundle (build it with :func:`parse_bundle`)."""

    version: int
    issued_at: int
    expires_at: int
    issuers: Mapping[str, IssuerEntry]
    status_lists: Mapping[str, StatusListEntry]
    root_kid: str
    token: str


@dataclass(frozen=True, slots=True)
class LoadedStatusList(StatusListToken):
    """A verified, decoded status list of ``issuer``, kept in memory.

    Freshness (:meth:`~asxh_card._core.statuslist.StatusListToken.stale_at`) is checked per
    verification.
    """

    issuer: str


def _bad(detail: str) -> BundleInvalidError:
    return BundleInvalidError(detail)


def _object(
    value: object, where: str, required: frozenset[str], optional: frozenset[str]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be a JSON object")
    unknown = value.keys() - required - optional
    if unknown:
        raise _bad(f"{where}: unknown member(s) {', '.join(sorted(unknown))[:100]}")
    missing = required - value.keys()
    if missing:
        raise _bad(f"{where}: missing member(s) {', '.join(sorted(missing))}")
    return value


def _int(value: object, where: str, *, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise _bad(f"{where} must be an integer >= {minimum}")
    return value


def _text(value: object, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise _bad(f"{where} must be non-empty text of at most {MAX_NAME_LENGTH} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(f"{where} is not well formed")
    return value


def _moment(obj: Mapping[str, Any], name: str, where: str, *, nullable: bool = False) -> int | None:
    value = obj[name]
    if value is None and nullable:
        return None
    try:
        return numeric_date({name: value}, name, required=True)
    except VerificationError:
        raise _bad(f"{where}.{name} must be a NumericDate (integer seconds)") from None


def _parse_key(obj: object, where: str) -> KeyEntry:
    entry = _object(obj, where, _KEY_MEMBERS, frozenset())
    try:
        key = PublicKey.from_jwk(entry["jwk"])
    except JWKError as exc:
        # Private members, wrong kty/curve, off-curve points, kid != thumbprint all land here.
        raise _bad(f"{where}.jwk: {exc}") from None
    not_before = _moment(entry, "not_before", where)
    not_after = _moment(entry, "not_after", where, nullable=True)
    assert not_before is not None  # noqa: S101 - not nullable
    if not_after is not None and not_after < not_before:
        raise _bad(f"{where}: not_after is before not_before")
    return KeyEntry(key, not_before, not_after)


def _parse_issuer(obj: object, where: str, seen_kids: set[str]) -> IssuerEntry:
    entry = _object(obj, where, _ISSUER_MEMBERS, frozenset())
    issuer_id = _text(entry["id"], f"{where}.id", ISSUER_ID_PATTERN)
    name = _text(entry["name"], f"{where}.name")
    province = entry["province"]
    if not isinstance(province, str) or not is_current_province_code(province):
        raise _bad(f"{where}.province must be a current 2-digit province code")
    programmes = entry["programmes"]
    if (
        not isinstance(programmes, list)
        or not programmes
        or not all(isinstance(p, str) and _PROGRAMME.fullmatch(p) for p in programmes)
    ):
        raise _bad(f"{where}.programmes must be a non-empty list of programme codes")
    if len(set(programmes)) != len(programmes):
        raise _bad(f"{where}.programmes lists a programme twice")
    raw_keys = entry["keys"]
    if not isinstance(raw_keys, list) or not 0 < len(raw_keys) <= MAX_KEYS_PER_ISSUER:
        raise _bad(f"{where}.keys must list 1-{MAX_KEYS_PER_ISSUER} keys")
    keys: dict[str, KeyEntry] = {}
    for i, raw in enumerate(raw_keys):
        key = _parse_key(raw, f"{where}.keys[{i}]")
        # A kid must name one key in the whole bundle: otherwise "which issuer owns this key"
        # has two answers, and a key of issuer A could pass for issuer B's (DESIGN.md §5).
        if key.key.kid in seen_kids:
            raise _bad(f"{where}.keys[{i}]: duplicate kid {key.key.kid}")
        seen_kids.add(key.key.kid)
        keys[key.key.kid] = key
    return IssuerEntry(
        id=issuer_id,
        name=name,
        province=province,
        programmes=frozenset(programmes),
        keys=MappingProxyType(keys),
    )


def _parse_status_entry(
    obj: object, where: str, issuers: Mapping[str, IssuerEntry]
) -> StatusListEntry:
    entry = _object(obj, where, _LIST_MEMBERS, _LIST_OPTIONAL)
    uri = entry["uri"]
    if not isinstance(uri, str) or not _STATUS_URI.fullmatch(uri):
        raise _bad(f"{where}.uri must be an http(s) URL of printable ASCII")
    issuer = entry["issuer"]
    if not isinstance(issuer, str) or issuer not in issuers:
        raise _bad(f"{where}.issuer names no issuer of the bundle")
    digest = entry["sha256"]
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise _bad(f"{where}.sha256 must be 64 lowercase hex digits")
    token = entry.get("token")
    if token is not None:
        if not isinstance(token, str) or not token.isascii():
            raise _bad(f"{where}.token must be a compact JWS")
        if token_sha256(token) != digest:
            raise _bad(f"{where}.token does not match its sha256")
    return StatusListEntry(uri=uri, issuer=issuer, sha256=digest, token=token)


def _parse_payload(payload: object, *, root_kid: str, token: str) -> TrustBundle:
    body = _object(payload, "bundle", _PAYLOAD_MEMBERS, frozenset())
    if type(body["v"]) is not int or body["v"] != BUNDLE_FORMAT_VERSION:
        raise _bad(f"unsupported bundle format (v must be {BUNDLE_FORMAT_VERSION})")
    version = _int(body["version"], "version", minimum=1)
    issued_at = _moment(body, "iat", "bundle")
    expires_at = _moment(body, "exp", "bundle")
    assert issued_at is not None  # noqa: S101 - not nullable
    assert expires_at is not None  # noqa: S101 - not nullable
    if expires_at <= issued_at:
        raise _bad("exp must be after iat")
    raw_issuers = body["issuers"]
    if not isinstance(raw_issuers, list) or not 0 < len(raw_issuers) <= MAX_ISSUERS:
        raise _bad(f"issuers must list 1-{MAX_ISSUERS} issuers")
    issuers: dict[str, IssuerEntry] = {}
    seen_kids: set[str] = {root_kid}  # a root key must never double as an issuer key
    for i, raw in enumerate(raw_issuers):
        issuer = _parse_issuer(raw, f"issuers[{i}]", seen_kids)
        if issuer.id in issuers:
            raise _bad(f"issuers[{i}]: duplicate issuer id {issuer.id}")
        issuers[issuer.id] = issuer
    raw_lists = body["status_lists"]
    if not isinstance(raw_lists, list) or len(raw_lists) > MAX_STATUS_LISTS:
        raise _bad(f"status_lists must list at most {MAX_STATUS_LISTS} lists")
    lists: dict[str, StatusListEntry] = {}
    for i, raw in enumerate(raw_lists):
        entry = _parse_status_entry(raw, f"status_lists[{i}]", issuers)
        if entry.uri in lists:
            raise _bad(f"status_lists[{i}]: duplicate uri")
        lists[entry.uri] = entry
    return TrustBundle(
        version=version,
        issued_at=issued_at,
        expires_at=expires_at,
        issuers=MappingProxyType(issuers),
        status_lists=MappingProxyType(lists),
        root_kid=root_kid,
        token=token,
    )


def parse_bundle(token: str | bytes, *, roots: Sequence[PublicKey]) -> TrustBundle:
    """Verify a bundle token against the pinned ``roots`` and parse it strictly.

    Raises :class:`~asxh_card.errors.BundleInvalidError` for anything wrong, including a bundle
    signed by a key that is not pinned. Freshness is the verifier's business, not this one's.
    """
    if not roots:
        raise BundleInvalidError("no pinned root key")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise BundleInvalidError("the bundle is not ASCII text") from None
    token = token.strip()
    try:
        parsed = _jws.parse_compact(
            token, limits=BUNDLE_LIMITS, typ=BUNDLE_TYP, header_names=BUNDLE_HEADER
        )
        root = next((r for r in roots if r.kid == parsed.kid), None)
        if root is not None:
            _jws.verify_signature(parsed, root)
            payload = _jws.decode_payload(parsed, limits=BUNDLE_LIMITS)
    except VerificationError as exc:
        raise BundleInvalidError(f"{exc.reason.value}: {exc.detail}") from None
    if root is None:
        raise BundleInvalidError("the bundle is not signed by a pinned root key (kid)")
    return _parse_payload(payload, root_kid=root.kid, token=token)


def pinned_bundle(bundle: TrustBundle | str | bytes, *, roots: Sequence[PublicKey]) -> TrustBundle:
    """``bundle`` as a :class:`TrustBundle` verified against ``roots``.

    A token is verified and parsed (:func:`parse_bundle`). A :class:`TrustBundle` object is
    verified again from its ``token``: an object built or altered by the caller (its issuers,
    keys or ``root_kid`` edited) never stands in for a signed bundle. Raises
    :class:`~asxh_card.errors.BundleInvalidError`.
    """
    if isinstance(bundle, TrustBundle):
        return parse_bundle(bundle.token, roots=roots)
    return parse_bundle(bundle, roots=roots)


def load_status_list(token: str, entry: StatusListEntry, bundle: TrustBundle) -> LoadedStatusList:
    """Verify a status-list token for ``entry`` of ``bundle`` and decode it into memory.

    The token must hash to ``entry.sha256``, carry ``typ: statuslist+jwt`` and a ``kid`` of the
    issuer the bundle names for the list, be signed inside that key's window, name ``entry.uri``
    as its ``sub`` and hold 2-bit entries (DESIGN.md §4). Raises
    :class:`~asxh_card.errors.StatusListInvalidError`; freshness is checked per verification.
    """
    token = token.strip()
    if not token.isascii() or token_sha256(token) != entry.sha256:
        raise StatusListInvalidError(
            f"the token for {entry.uri} does not match the bundle's sha256"
        )
    issuer = bundle.issuers[entry.issuer]

    def key_of(kid: str) -> PublicKey | None:
        found = issuer.keys.get(kid)
        return None if found is None else found.key

    try:
        verified = parse_status_list_token(token, key_of)
    except StatusListInvalidError as exc:
        raise StatusListInvalidError(f"{entry.uri} (issuer {issuer.id}): {exc.detail}") from None
    if verified.uri != entry.uri:
        raise StatusListInvalidError("the token is for another status list URI (sub)")
    if not issuer.keys[verified.kid].covers(verified.issued_at):
        raise StatusListInvalidError("the list was signed outside its key's window")
    if verified.status_list.bits != 2:
        raise StatusListInvalidError(f"the list has {verified.status_list.bits}-bit entries, not 2")
    return LoadedStatusList(
        uri=verified.uri,
        issued_at=verified.issued_at,
        expires_at=verified.expires_at,
        ttl=verified.ttl,
        status_list=verified.status_list,
        kid=verified.kid,
        issuer=entry.issuer,
    )
