"""The signed ASXH card, version 1 (DESIGN.md §3): claims model, signing and core verification.

Claims (short names: every character costs QR space)::

    iss   issuer id                          sub   holder's mã số ASXH (11 digits)
    iat   issued at   nbf  not before        exp   expires (NumericDate seconds)
    jti   card serial                        v     format version, 1
    prov  province code of the issuing authority (34-province table)
    name  holder's name, NFC                 dob   date of birth, YYYY-MM-DD
    sex   "M" or "F"
    ent   entitlements, each ``[programme, from, to | null, attribute values...]`` with
          the values in the order the programme registry lists the attributes
    status  card-level Token Status List reference ``{"status_list": {"idx", "uri"}}``;
            required: a card without one could never be revoked (DESIGN.md §4)
    gdn   optional guardian / authorised person {"sub", "name", "rel"}

Status block: entitlement ``i`` (0-based, in ``ent`` order) has its own entry at
``status.idx + 1 + i`` in the card's list, so one programme can be suspended or revoked without
touching the others (DESIGN.md §2) while the card carries one IETF reference instead of seven.
Together with the positional entitlements this keeps the largest realistic card inside QR
version 20 and a typical one inside version 17 (DESIGN.md §3; docs/wire-format.md).

:class:`UncheckedCard` is a card read from text whose signature is not checked yet: it tells
only which key to fetch (``issuer``, ``kid``) and hands out claims only from
:meth:`UncheckedCard.verify` (signature, then every claim check), as :class:`VerifiedClaims`.
The offline :class:`~asxh_card.verifier.Verifier` is the safe way to verify a card (trust bundle,
scope, key windows, status lists); :func:`sign_card` and :func:`verify_card`, which skip all
that, are published in the low-level module :mod:`asxh_card.hazmat`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import msgspec

from asxh_card._core import jws as _jws
from asxh_card._core import strictjson
from asxh_card._core.claims import DEFAULT_LEEWAY, MAX_NUMERIC_DATE, check_times
from asxh_card._core.keys import PublicKey, Signer
from asxh_card._core.qrtext import QRTextError, decode_qr_bytes, encode_qr_text
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import utc_now
from asxh_card.errors import (
    AsxhError,
    EntitlementError,
    IdentifierError,
    InputTypeError,
    InternalVerifierError,
    InvalidInputError,
    MalformedError,
    PayloadTooLargeError,
    StatusReferenceMissingError,
    UnknownKeyError,
    VerificationError,
)
from asxh_card.ids import Sex, check_asxh_number
from asxh_card.names import MAX_NAME_LENGTH, normalise_name
from asxh_card.programmes import Entitlement, ProgrammeRegistry, check_status_uri

__all__ = [
    "CARD_TYP",
    "CARD_VERSION",
    "ISSUER_ID_PATTERN",
    "MAX_QR_TEXT_LENGTH",
    "SERIAL_PATTERN",
    "STATUS_REQUIRED_EN",
    "STATUS_REQUIRED_VI",
    "CardClaims",
    "Guardian",
    "Holder",
    "KeyLookup",
    "UncheckedCard",
    "VerifiedClaims",
    "normalise_name",
    "parse_card_jws",
    "qr_text",
    "sign_card",
    "status_block",
    "token_from_qr_text",
    "verify_card",
]

CARD_TYP = "asxh-card+jwt"
CARD_VERSION = 1
CARD_HEADER = frozenset({"alg", "kid", "typ", "zip"})
#: QR version 40 holds at most 7,089 numeric characters; nothing longer can come from a QR.
MAX_QR_TEXT_LENGTH = 7_100
MAX_ENTITLEMENTS = 16
#: Why a card without a status reference is refused (the codec, ``Issuer``, ``asxh issue``).
STATUS_REQUIRED_EN = (
    "a card needs a status reference (StatusRef: its index in the issuer's status list): "
    "without one it could never be revoked"
)
STATUS_REQUIRED_VI = (
    "Thẻ phải có tham chiếu danh sách trạng thái (vị trí của thẻ trong danh sách trạng thái "
    "của cơ quan cấp): thiếu nó thì thẻ không bao giờ thu hồi được."
)
Relation = Literal["guardian", "authorised"]
#: ``(issuer id, kid) -> PublicKey``; raise an :class:`~asxh_card.errors.VerificationError`
#: subclass (or return None) when the pair is unknown.
KeyLookup = Callable[[str, str], PublicKey | None]

# --------------------------------------------------------------------------------------------
# The wire schema (docs/wire-format.md): shapes and types, checked in C by msgspec.
#
# Everything structural about a version-1 claim set lives in these types: member names (no
# unknown, none missing, no explicit null for an absent optional claim), JSON types (a boolean
# or a float is never an integer), the I-JSON integer range (RFC 7493 §2.2), NumericDate range,
# exact YYYY-MM-DD dates, enumerations. Identifier patterns and what needs the registry or a
# checksum (mã số ASXH, names, entitlements, status URI) are checked in Python after decoding
# (_check_claims), on either path.

_SAFE_INT = strictjson.MAX_SAFE_INT
_NumericDate = Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMERIC_DATE)]
_AttributeValue = Annotated[int, msgspec.Meta(ge=-_SAFE_INT, le=_SAFE_INT)] | str | None
# Matched in _check_claims rather than with msgspec.Meta(pattern=...): msgspec calls re.search
# through the Python API, which cost 0.37 µs a pattern against 0.12 µs for fullmatch here.
#: An issuer id (``iss``; the trust bundle's issuer ``id``), matched in full.
ISSUER_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{0,39}")
#: A card serial (``jti``), matched in full.
SERIAL_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
_PROVINCE = re.compile(r"[0-9]{2}")


class _StatusListClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idx: Annotated[int, msgspec.Meta(ge=0, le=_SAFE_INT)]
    uri: str


class _StatusClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status_list: _StatusListClaim


class _GuardianClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sub: str
    name: str
    rel: Literal["guardian", "authorised"]


class _ClaimSet(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A version-1 claim set as on the wire.

    Members are declared in the order :meth:`CardClaims.to_claims` writes them: the fast path
    (:func:`_fast_claim_set`) compares the body with this type's encoding.
    """

    iss: str
    sub: str
    iat: _NumericDate
    nbf: _NumericDate
    exp: _NumericDate
    jti: str
    v: Literal[1]
    prov: str
    name: str
    dob: date
    sex: Literal["M", "F"]
    ent: Annotated[
        list[list[_AttributeValue]], msgspec.Meta(min_length=1, max_length=MAX_ENTITLEMENTS)
    ]
    status: _StatusClaim | msgspec.UnsetType = msgspec.UNSET
    gdn: _GuardianClaim | msgspec.UnsetType = msgspec.UNSET


_PROGRAMME_OF = operator.attrgetter("programme")
_CLAIMS_DECODER = msgspec.json.Decoder(_ClaimSet)
_CLAIMS_ENCODER = msgspec.json.Encoder()
# What a schema failure at a claim means, in the words of the wire format; msgspec's own detail
# (rule and JSON path) follows in brackets. No claim value is echoed except enum members.
_CLAIM_MEANING = {
    "iss": "iss is not a valid issuer id",
    "sub": "sub must be an 11-digit mã số ASXH",
    "iat": "claim iat must be an integer number of seconds (not milliseconds), 0 to 2200",
    "nbf": "claim nbf must be an integer number of seconds (not milliseconds), 0 to 2200",
    "exp": "claim exp must be an integer number of seconds (not milliseconds), 0 to 2200",
    "jti": "jti is not a valid card serial",
    "v": f"unsupported card format version (v must be {CARD_VERSION})",
    "prov": "prov must be a 2-digit province code",
    "name": "name must be non-empty text",
    "dob": "dob must be a calendar date YYYY-MM-DD",
    "sex": "sex must be M or F",
    "ent": (
        f"ent must list 1-{MAX_ENTITLEMENTS} entitlements, each a JSON array "
        "[programme, from, to | null, values...] of integers, strings and nulls"
    ),
    "status": 'status must be exactly {"status_list": {"idx": N, "uri": "https://..."}}',
    "gdn": "gdn must be an object with exactly sub, name and rel (guardian or authorised)",
}
_SCHEMA_ERROR = re.compile(r"(?P<detail>.*) - at `\$\.(?P<claim>\w+)(?P<rest>[^`]*)`", re.DOTALL)


def _schema_error(exc: msgspec.ValidationError) -> MalformedError:
    text = str(exc)
    match = _SCHEMA_ERROR.fullmatch(text)
    if match is None:  # the claim set itself: not an object, a missing or an unknown claim
        return MalformedError(f"claims: {text}"[:300])
    claim, detail = match["claim"], match["detail"][:120]
    meaning = _CLAIM_MEANING.get(claim, f"claim {claim}")
    return MalformedError(f"{meaning} ({detail} at {claim}{match['rest']})")


def _fast_claim_set(body: bytes) -> _ClaimSet | None:
    """The typed claim set if ``body`` is exactly its canonical encoding, else None.

    Decoding to the schema is a C pass; what it cannot see is a duplicate member (msgspec keeps
    the last, msgspec#648). Re-encoding and comparing closes that gap: the encoding has each
    member once, so it equals ``body`` only if ``body`` had no duplicate (and no other
    non-canonical detail). Our issuers write exactly this encoding; any other body, and any
    body with an escape (a lone surrogate needs one), returns None and takes the strict path.
    """
    if b"\\" in body:
        return None
    try:
        claims = _CLAIMS_DECODER.decode(body)
    except (msgspec.MsgspecError, ValueError):  # ValueError: invalid UTF-8
        return None
    return claims if _CLAIMS_ENCODER.encode(claims) == body else None


def _claim_set_from_mapping(claims: object) -> _ClaimSet:
    """The typed claim set of a strict-JSON object; :class:`MalformedError` names the claim."""
    if not isinstance(claims, dict):
        raise MalformedError("the claims must be a JSON object")
    try:
        return msgspec.convert(claims, _ClaimSet, strict=True)
    except msgspec.ValidationError as exc:
        raise _schema_error(exc) from None


class VerifiedClaims(msgspec.Struct, frozen=True):
    """A card whose signature and claims passed every check (:meth:`UncheckedCard.verify`).

    ``claims`` is the typed wire claim set (``iss``, ``iat``, ``nbf``, ``exp``, ``jti``, ``prov``,
    ...); the other members are the parts the card's readers need. The card's times are *not*
    checked here (the caller decides the moment and the leeway).

    ``entitlements`` are shared, immutable and carry no status entry: their entries follow from
    ``status`` (:func:`status_block`).
    """

    claims: _ClaimSet
    holder: Holder
    guardian: Guardian | None
    entitlements: tuple[Entitlement, ...]
    programmes: frozenset[str]
    status: StatusRef


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise MalformedError(f"{what} must be non-empty text")
    if len(name) > MAX_NAME_LENGTH:
        raise MalformedError(f"{what} longer than {MAX_NAME_LENGTH} characters")
    if normalise_name(name) != name:
        raise MalformedError(f"{what} is not NFC-normalised with single spaces")
    # isprintable() is False for every category-C character (control, format, surrogate,
    # private use, unassigned) and for non-ASCII separators: one C-level pass over the name.
    if not name.isprintable():
        raise MalformedError(f"{what} contains control characters")
    return name


@dataclass(frozen=True, slots=True)
class Holder:
    """The person the card is for. ``asxh_number`` is the compact 11-digit mã số ASXH."""

    asxh_number: str
    name: str
    date_of_birth: date
    sex: Sex


@dataclass(frozen=True, slots=True)
class Guardian:
    """A guardian or authorised person who may act for the holder (e.g. collect TGXH)."""

    asxh_number: str
    name: str
    relation: Relation = "guardian"


@dataclass(frozen=True, slots=True)
class CardClaims:
    """Everything a version-1 card states."""

    issuer: str
    province: str
    serial: str
    issued_at: int
    not_before: int
    expires_at: int
    holder: Holder
    entitlements: tuple[Entitlement, ...]
    #: The card's entry in its issuer's status list (DESIGN.md §4): required, since a card
    #: without one could never be revoked.
    status: StatusRef
    guardian: Guardian | None = None

    def __post_init__(self) -> None:
        """Give each entitlement its entry in the card's status block, or refuse a mismatch."""
        if not isinstance(self.status, StatusRef):
            raise (InvalidInputError if self.status is None else InputTypeError)(
                STATUS_REQUIRED_EN, message_vi=STATUS_REQUIRED_VI
            )
        first, uri = self.status.idx + 1, self.status.uri
        if all(
            e.status is not None and e.status.idx == first + i and e.status.uri == uri
            for i, e in enumerate(self.entitlements)
        ):
            return  # already the block (a card built by the issuer, or a copy of one)
        block = status_block(self.status, len(self.entitlements))
        filled = []
        for position, (given, ref) in enumerate(zip(self.entitlements, block, strict=True)):
            if given.status is not None and given.status != ref:
                raise InvalidInputError(
                    f"entitlement {position} ({given.programme}) must use status entry "
                    f"{ref.idx} of the card's list (the card's entry + {position + 1})"
                )
            filled.append(given if given.status is not None else given.with_status(ref))
        object.__setattr__(self, "entitlements", tuple(filled))

    def to_claims(self, registry: ProgrammeRegistry | None = None) -> dict[str, Any]:
        """The JSON claim set, in a fixed member order."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.holder.asxh_number,
            "iat": self.issued_at,
            "nbf": self.not_before,
            "exp": self.expires_at,
            "jti": self.serial,
            "v": CARD_VERSION,
            "prov": self.province,
            "name": self.holder.name,
            "dob": self.holder.date_of_birth.isoformat(),
            "sex": self.holder.sex,
            "ent": [e.to_claim(registry) for e in self.entitlements],
            "status": self.status.to_claim(),
        }
        if self.guardian is not None:
            claims["gdn"] = {
                "sub": self.guardian.asxh_number,
                "name": self.guardian.name,
                "rel": self.guardian.relation,
            }
        return claims

    @classmethod
    def from_claims(
        cls, claims: object, *, registry: ProgrammeRegistry | None = None
    ) -> CardClaims:
        """Parse a claim set strictly; raises :class:`~asxh_card.errors.MalformedError`."""
        checked = _check_claims(_claim_set_from_mapping(claims), registry)
        return cls._from_checked(checked)

    @classmethod
    def _from_checked(cls, checked: VerifiedClaims) -> CardClaims:
        claims = checked.claims
        return cls(
            issuer=claims.iss,
            province=claims.prov,
            serial=claims.jti,
            issued_at=claims.iat,
            not_before=claims.nbf,
            expires_at=claims.exp,
            holder=checked.holder,
            # Shared and without status entries (parse_typed_claim memo): __post_init__ gives
            # each a copy with its entry of the block.
            entitlements=checked.entitlements,
            status=checked.status,
            guardian=checked.guardian,
        )


def status_block(status: StatusRef, count: int) -> list[StatusRef]:
    """The status entries of a card's ``count`` entitlements: the entries after the card's."""
    return [StatusRef(status.idx + 1 + i, status.uri) for i in range(count)]


def _asxh_number(value: str, what: str) -> str:
    try:
        return check_asxh_number(value)
    except IdentifierError as exc:
        raise MalformedError(f"{what} must be an 11-digit mã số ASXH: {exc}") from None


def _check_claims(claims: _ClaimSet, registry: ProgrammeRegistry | None) -> VerifiedClaims:
    """The checks the wire schema leaves: patterns, checksums, names, registry, status URI."""
    if ISSUER_ID_PATTERN.fullmatch(claims.iss) is None:
        raise MalformedError(_CLAIM_MEANING["iss"])
    if SERIAL_PATTERN.fullmatch(claims.jti) is None:
        raise MalformedError(_CLAIM_MEANING["jti"])
    if _PROVINCE.fullmatch(claims.prov) is None:
        raise MalformedError(_CLAIM_MEANING["prov"])
    reg = ProgrammeRegistry.default() if registry is None else registry
    try:
        entitlements = tuple(map(reg.parse_typed_claim, claims.ent))
        if not claims.status:
            # The signature is good (checked before the claims): refuse a card nobody could
            # revoke, with its own reason rather than a schema message (DESIGN.md §4).
            raise StatusReferenceMissingError("the card has no status claim")
        ref = claims.status.status_list
        status = StatusRef(ref.idx, check_status_uri(ref.uri))
    except EntitlementError as exc:
        raise MalformedError(str(exc)) from None
    programmes = frozenset(map(_PROGRAMME_OF, entitlements))
    if len(programmes) != len(entitlements):
        raise MalformedError("a programme appears twice in ent")
    guardian = None
    if claims.gdn:
        guardian = Guardian(
            asxh_number=_asxh_number(claims.gdn.sub, "gdn.sub"),
            name=_check_name(claims.gdn.name, "gdn.name"),
            relation=claims.gdn.rel,
        )
    holder = Holder(
        _asxh_number(claims.sub, "sub"), _check_name(claims.name, "name"), claims.dob, claims.sex
    )
    return VerifiedClaims(claims, holder, guardian, entitlements, programmes, status)


def sign_card(
    claims: CardClaims, signer: Signer, *, registry: ProgrammeRegistry | None = None
) -> str:
    """Sign ``claims`` as a compact JWS with ``zip: DEF`` (DESIGN.md §3); low level.

    Published in :mod:`asxh_card.hazmat`; :class:`asxh_card.issuing.Issuer` is the issuing API.

    ``registry`` gives the attribute order of the positional entitlements; pass the one the
    entitlements were validated with when it is not the bundled registry.
    """
    return _jws.sign_compact(claims.to_claims(registry), signer, typ=CARD_TYP, compress=True)


def qr_text(token: str) -> str:
    """The ``asxh:/`` numeric QR text of a card token."""
    return encode_qr_text(token)


def _qr_token(text: str) -> bytes:
    if len(text) > MAX_QR_TEXT_LENGTH:
        raise PayloadTooLargeError(f"QR text longer than {MAX_QR_TEXT_LENGTH} characters")
    try:
        return decode_qr_bytes(text, max_length=MAX_QR_TEXT_LENGTH)
    except QRTextError as exc:
        raise MalformedError(f"QR text: {exc}") from None


def token_from_qr_text(text: str) -> str:
    """The compact JWS inside an ``asxh:/`` QR text; raises :class:`MalformedError`."""
    if not isinstance(text, str):
        raise MalformedError("QR text must be text")
    return _qr_token(text).decode("ascii")


def _parse_card_token(token: str | bytes) -> _jws.CompactJWS:
    return _jws.parse_compact(
        token, limits=_jws.CARD_LIMITS, typ=CARD_TYP, header_names=CARD_HEADER
    )


def parse_card_jws(token: str) -> tuple[_jws.CompactJWS, dict[str, Any]]:
    """Structural parse of a card token and its payload, before any key is involved."""
    parsed = _parse_card_token(token)
    payload = _jws.decode_payload(parsed, limits=_jws.CARD_LIMITS)
    if not isinstance(payload, dict):
        raise MalformedError("the card payload must be a JSON object")
    return parsed, payload


class UncheckedCard:
    """A card read from its QR text (``asxh:/...``) or bare token, signature not checked yet.

    Construction checks the structure only (size limits, JWS, payload). Before the signature is
    checked it exposes only what says which key to fetch: :attr:`issuer` and :attr:`kid`. The
    claims come from :meth:`verify`, which checks the signature with the key the caller chose
    for that (issuer, kid) and then every claim. When the payload is in the canonical encoding
    the claim set is typed already; otherwise the payload is strict JSON, and its claims are
    checked only after the signature, so a forged card reports ``bad_signature`` however broken
    its claims are. Raises :class:`~asxh_card.errors.VerificationError` subclasses only for the
    card's own defects.
    """

    __slots__ = ("_claims", "_jws", "_mapping", "issuer")

    issuer: str
    """The ``iss`` claim as the card states it (not yet authenticated)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise MalformedError("the card must be given as text")
        self._jws = _parse_card_token(_qr_token(text) if text.startswith("asxh:") else text)
        body = _jws.payload_bytes(self._jws, limits=_jws.CARD_LIMITS)
        self._claims = _fast_claim_set(body)
        self._mapping: dict[str, Any] | None = None
        if self._claims is not None:
            self.issuer = self._claims.iss
            return
        payload = _jws.parse_payload_json(body, limits=_jws.CARD_LIMITS)
        if not isinstance(payload, dict):
            raise MalformedError("the card payload must be a JSON object")
        issuer = payload.get("iss")
        if not isinstance(issuer, str):
            raise MalformedError("missing iss")
        self._mapping = payload
        self.issuer = issuer

    def __repr__(self) -> str:
        return f"UncheckedCard(issuer={self.issuer[:40]!r}, kid={self.kid[:64]!r})"

    @property
    def kid(self) -> str:
        """The header's ``kid`` ("" when absent; not yet authenticated)."""
        return self._jws.kid or ""

    def verify(self, key: PublicKey, registry: ProgrammeRegistry | None = None) -> VerifiedClaims:
        """Check the signature with ``key`` (algorithm pinned by the key), then every claim.

        Raises :class:`~asxh_card.errors.BadSignatureError` or
        :class:`~asxh_card.errors.AlgorithmNotAllowedError` for the signature, then
        :class:`~asxh_card.errors.MalformedError` for a claim. Choosing ``key`` is the caller's
        job: look it up by (:attr:`issuer`, :attr:`kid`) among that issuer's keys only.
        """
        _jws.verify_signature(self._jws, key)
        claims = self._claims
        if claims is None:
            claims = _claim_set_from_mapping(self._mapping)
        return _check_claims(claims, registry)


def verify_card(
    text: str,
    *,
    keys: KeyLookup,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
    registry: ProgrammeRegistry | None = None,
) -> CardClaims:
    """Verify a card's signature, claims and times with a key the caller looks up (low level).

    Hazardous (published in :mod:`asxh_card.hazmat`): no trust bundle, no issuer scope, no key
    window, no status list. ``keys(issuer, kid)`` must return a key *of that issuer* (a lookup
    by ``kid`` alone accepts a card claiming another issuer). In the field use
    :class:`asxh_card.verifier.Verifier`. Raises only
    :class:`~asxh_card.errors.VerificationError` subclasses: the card's defects with their
    reason, the verifier's own failures as ``internal_error``.
    """
    try:
        card = UncheckedCard(text)
        key = keys(card.issuer, card.kid)
        if key is None:
            raise UnknownKeyError(f"no key {card.kid!r} for issuer {card.issuer!r}")  # noqa: TRY301
        checked = card.verify(key, registry)
        claims = checked.claims
        check_times(
            claims.iat,
            claims.nbf,
            claims.exp,
            now=int(utc_now().timestamp()) if now is None else now,
            leeway=leeway,
        )
    except VerificationError:
        raise
    except (AsxhError, ValueError) as exc:
        # Defence in depth: DESIGN.md §5 lets nothing but VerificationError escape.
        raise MalformedError(f"{type(exc).__name__}: {exc}"[:200]) from None
    except Exception as exc:
        raise InternalVerifierError(f"{type(exc).__name__}: {exc}"[:200]) from exc
    return CardClaims._from_checked(checked)
