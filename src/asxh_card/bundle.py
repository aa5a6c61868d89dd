"""The trust-bundle format (DESIGN.md §4, docs/trust-bundle.md), beside the card format.

A bundle is a compact JWS with the protected header exactly ``{"alg", "kid", "typ"}``,
``typ: asxh-bundle+jwt``, no compression, signed by a national root key that the verifier pins
(looked up by ``kid``, the RFC 7638 thumbprint). Its payload (format ``v`` 2)::

    {"v": 2, "version": 7, "iat": 1767225600, "exp": 1769817600,
     "issuers": [{"id": "vn-79", "name": "...", "province": "79", "programmes": ["BHYT", ...],
                  "status_base": "https://asxh.gov.vn/v1/status-lists/vn-79/",
                  "keys": [{"jwk": {...public JWK...}, "not_before": 1767225600,
                            "not_after": 1830297600}]}]}

The bundle names no status list and no list hash: any ``statuslist+jwt`` token whose ``sub`` lies
under an issuer's ``status_base`` and that is signed by one of *that issuer's* keys inside the
key's window is acceptable (:func:`load_status_list`). The root therefore signs a new bundle only
when issuers, keys or bases change; an issuer's next key is published ahead with a future
``not_before``.

The document is described by a msgspec schema (:class:`BundleDocument`, as the card's claims are
in :mod:`asxh_card.card`); what a schema cannot say is checked after decoding: duplicate issuer
ids, a ``kid`` twice anywhere in the bundle (or equal to the root's), private key members, key
types and curves (:meth:`PublicKey.from_jwk`), province codes, window order, and status bases
that are equal or one inside another. Every failure is a
:class:`~asxh_card.errors.BundleInvalidError`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

import msgspec

from asxh_card._core import jws as _jws
from asxh_card._core.claims import MAX_NUMERIC_DATE
from asxh_card._core.keys import JWKError, PublicKey
from asxh_card._core.statuslist import (
    MIN_STATUS_LIST_SIZE,
    StatusListToken,
    parse_status_list_token,
)
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
    "MAX_STATUS_BASE_LENGTH",
    "BundleDocument",
    "IssuerDocument",
    "IssuerEntry",
    "KeyDocument",
    "KeyEntry",
    "LoadedStatusList",
    "TrustBundle",
    "load_status_list",
    "parse_bundle",
    "pinned_bundle",
    "token_sha256",
]

BUNDLE_TYP = "asxh-bundle+jwt"
#: 2: per-issuer ``status_base``, no ``status_lists`` (format 1 pinned each list by SHA-256).
BUNDLE_FORMAT_VERSION = 2
BUNDLE_HEADER = frozenset({"alg", "kid", "typ"})
#: Thousands of issuers with a few keys each fit in 8 MiB; status lists never travel inside.
BUNDLE_LIMITS = _jws.JWSLimits(
    max_token=8 * 1024 * 1024,
    max_header=400,
    max_payload=8 * 1024 * 1024,
    max_inflated=6 * 1024 * 1024,
    max_depth=8,
)
MAX_ISSUERS = 10_000
MAX_KEYS_PER_ISSUER = 32
MAX_NAME_LENGTH = 200
#: A base plus a list id must still fit the card's status URI (MAX_STATUS_URI_LENGTH 200).
MAX_STATUS_BASE_LENGTH = 160

# Anchored: msgspec applies Meta(pattern=...) with re.search.
_IssuerId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9.-]{0,39}$")]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"\S")]
_Province = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}$")]
_Programme = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")]
# http(s), printable ASCII, ending in "/" so that "…/vn-7/" never covers "…/vn-79/…"; no query.
_StatusBase = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_STATUS_BASE_LENGTH, pattern=r"^https?://[\x21-\x22\x24-\x3e\x40-\x7e]+/$"
    ),
]
_NumericDate = Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMERIC_DATE)]


class KeyDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``issuers[].keys[]``: a public JWK and its signing window (``not_after`` optional)."""

    jwk: dict[str, Any]
    not_before: _NumericDate
    not_after: _NumericDate | None = None


class IssuerDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``issuers[]``: who signs cards, for which province and programmes, with which keys."""

    id: _IssuerId
    name: _Name
    province: _Province
    programmes: Annotated[list[_Programme], msgspec.Meta(min_length=1, max_length=64)]
    status_base: _StatusBase
    keys: Annotated[list[KeyDocument], msgspec.Meta(min_length=1, max_length=MAX_KEYS_PER_ISSUER)]


class BundleDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The bundle payload (docs/trust-bundle.md "Payload")."""

    v: int
    version: Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
    iat: _NumericDate
    exp: _NumericDate
    issuers: Annotated[list[IssuerDocument], msgspec.Meta(min_length=1, max_length=MAX_ISSUERS)]


def token_sha256(token: str) -> str:
    """The lowercase hex SHA-256 of a token's ASCII text."""
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
    """One issuer of the bundle: who it is, what it may sign, its status base, its keys."""

    id: str
    name: str
    province: str
    programmes: frozenset[str]
    status_base: str
    keys: Mapping[str, KeyEntry]

    def owns_status_uri(self, uri: str) -> bool:
        """Whether ``uri`` lies under this issuer's status base (a list it may publish)."""
        return len(uri) > len(self.status_base) and uri.startswith(self.status_base)


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """A verified trust bundle (build it with :func:`parse_bundle`)."""

    version: int
    issued_at: int
    expires_at: int
    issuers: Mapping[str, IssuerEntry]
    root_kid: str
    token: str
    #: kid to the issuer that owns the key (a kid names one key in the whole bundle).
    key_owners: Mapping[str, str]

    def issuer_of_status_uri(self, uri: str) -> IssuerEntry | None:
        """The issuer whose status base holds ``uri`` (bases never nest), or None."""
        for issuer in self.issuers.values():
            if issuer.owns_status_uri(uri):
                return issuer
        return None


@dataclass(frozen=True, slots=True)
class LoadedStatusList(StatusListToken):
    """A verified, decoded status list of ``issuer``, kept in memory.

    Freshness (:meth:`~asxh_card._core.statuslist.StatusListToken.stale_at`) is checked per
    verification.
    """

    issuer: str
    token: str


def _bad(detail: str) -> BundleInvalidError:
    return BundleInvalidError(detail)


def _key_entry(doc: KeyDocument, where: str) -> KeyEntry:
    try:
        key = PublicKey.from_jwk(doc.jwk)
    except JWKError as exc:
        # Private members, wrong kty/curve, off-curve points, kid != thumbprint all land here.
        raise _bad(f"{where}.jwk: {exc}") from None
    if doc.not_after is not None and doc.not_after < doc.not_before:
        raise _bad(f"{where}: not_after is before not_before")
    return KeyEntry(key, doc.not_before, doc.not_after)


def _issuer_entry(doc: IssuerDocument, where: str, owners: dict[str, str]) -> IssuerEntry:
    if not is_current_province_code(doc.province):
        raise _bad(f"{where}.province must be a current 2-digit province code")
    if len(set(doc.programmes)) != len(doc.programmes):
        raise _bad(f"{where}.programmes lists a programme twice")
    keys: dict[str, KeyEntry] = {}
    for i, raw in enumerate(doc.keys):
        key = _key_entry(raw, f"{where}.keys[{i}]")
        # A kid must name one key in the whole bundle: otherwise "which issuer owns this key"
        # has two answers, and a key of issuer A could pass for issuer B's (DESIGN.md §5).
        if key.key.kid in owners:
            raise _bad(f"{where}.keys[{i}]: duplicate kid {key.key.kid}")
        owners[key.key.kid] = doc.id
        keys[key.key.kid] = key
    return IssuerEntry(
        id=doc.id,
        name=doc.name,
        province=doc.province,
        programmes=frozenset(doc.programmes),
        status_base=doc.status_base,
        keys=MappingProxyType(keys),
    )


def _check_bases(issuers: Mapping[str, IssuerEntry]) -> None:
    # In sorted order a base that is a prefix of another sits right before one that starts with
    # it, so comparing neighbours finds every nesting (n log n for 10,000 issuers).
    ordered = sorted((issuer.status_base, issuer.id) for issuer in issuers.values())
    for (base, owner), (following, other) in itertools.pairwise(ordered):
        if following.startswith(base):
            raise _bad(
                f"status_base of {other} lies inside that of {owner}: each issuer needs its own"
            )


def parse_payload(payload: object, *, root_kid: str, token: str) -> TrustBundle:
    """Check a decoded bundle payload against :class:`BundleDocument` and the rules beyond it."""
    try:
        doc = msgspec.convert(payload, BundleDocument, strict=True)
    except msgspec.ValidationError as exc:
        raise _bad(str(exc)[:300]) from None
    if doc.v != BUNDLE_FORMAT_VERSION:
        raise _bad(f"unsupported bundle format (v must be {BUNDLE_FORMAT_VERSION})")
    if doc.exp <= doc.iat:
        raise _bad("exp must be after iat")
    issuers: dict[str, IssuerEntry] = {}
    owners: dict[str, str] = {root_kid: ""}  # a root key must never double as an issuer key
    for i, raw in enumerate(doc.issuers):
        if raw.id in issuers:
            raise _bad(f"issuers[{i}]: duplicate issuer id {raw.id}")
        issuers[raw.id] = _issuer_entry(raw, f"issuers[{i}]", owners)
    _check_bases(issuers)
    del owners[root_kid]
    return TrustBundle(
        version=doc.version,
        issued_at=doc.iat,
        expires_at=doc.exp,
        issuers=MappingProxyType(issuers),
        root_kid=root_kid,
        token=token,
        key_owners=MappingProxyType(owners),
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
    return parse_payload(payload, root_kid=root.kid, token=token)


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


def load_status_list(token: str, bundle: TrustBundle) -> LoadedStatusList:
    """Verify a status-list token against ``bundle`` and decode it into memory.

    The token must carry ``typ: statuslist+jwt`` and the ``kid`` of a key of the bundle, be
    signed inside that key's window, name as its ``sub`` a URI under the status base of the
    issuer owning the key, carry ``exp`` and/or ``ttl``, and hold at least 131,072 2-bit entries
    (DESIGN.md §4). Raises :class:`~asxh_card.errors.StatusListInvalidError`; freshness is
    checked per verification.
    """
    token = token.strip()
    if not token.isascii():
        raise StatusListInvalidError("the status list token is not ASCII text")

    def key_of(kid: str) -> PublicKey | None:
        owner = bundle.key_owners.get(kid)
        return None if owner is None else bundle.issuers[owner].keys[kid].key

    verified = parse_status_list_token(token, key_of)
    issuer = bundle.issuers[bundle.key_owners[verified.kid]]
    where = f"{verified.uri[:200]} (issuer {issuer.id})"
    if not issuer.owns_status_uri(verified.uri):
        # Otherwise issuer B would decide whether issuer A's cards are revoked.
        raise StatusListInvalidError(f"{where}: the list is not under its issuer's status_base")
    if not issuer.keys[verified.kid].covers(verified.issued_at):
        raise StatusListInvalidError(f"{where}: the list was signed outside its key's window")
    if verified.status_list.bits != 2:
        raise StatusListInvalidError(
            f"{where}: the list has {verified.status_list.bits}-bit entries, not 2"
        )
    if verified.status_list.size < MIN_STATUS_LIST_SIZE:
        raise StatusListInvalidError(
            f"{where}: the list has {verified.status_list.size} entries, fewer than "
            f"{MIN_STATUS_LIST_SIZE} (an entry must hide in the crowd)"
        )
    if verified.expires_at is None and verified.ttl is None:
        raise StatusListInvalidError(f"{where}: the list has neither exp nor ttl")
    return LoadedStatusList(
        uri=verified.uri,
        issued_at=verified.issued_at,
        expires_at=verified.expires_at,
        ttl=verified.ttl,
        status_list=verified.status_list,
        kid=verified.kid,
        issuer=issuer.id,
        token=token,
    )
