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
    status  card-level Token Status List reference ``{"status_list": {"idx", "uri"}}``
    gdn   optional guardian / authorised person {"sub", "name", "rel"}

Status block: entitlement ``i`` (0-based, in ``ent`` order) has its own entry at
``status.idx + 1 + i`` in the card's list, so one programme can be suspended or revoked without
touching the others (DESIGN.md §2) while the card carries one IETF reference instead of seven.
Together with the positional entitlements this keeps the largest realistic card inside QR
version 20 and a typical one inside version 17 (DESIGN.md §3; docs/wire-format.md).

:func:`verify_card` is the core path: QR text → JWS → claims → signature with a key the caller
looks up by (issuer, kid) → time checks. The offline :class:`~asxh_card.verifier.Verifier` adds
the trust bundle, scope, key windows and status lists on top.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from asxh_card._core import jws as _jws
from asxh_card._core.claims import DEFAULT_LEEWAY, check_time_claims, required_numeric_date
from asxh_card._core.keys import PublicKey, Signer
from asxh_card._core.qrtext import QRTextError, decode_qr_text, encode_qr_text
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import ISODateError, parse_iso_date, utc_now
from asxh_card.errors import (
    AsxhError,
    EntitlementError,
    IdentifierError,
    InvalidInputError,
    MalformedError,
    PayloadTooLargeError,
    UnknownKeyError,
    VerificationError,
)
from asxh_card.ids import Sex, parse_asxh_number
from asxh_card.programmes import Entitlement, ProgrammeRegistry, status_ref_from_claim

__all__ = [
    "CARD_TYP",
    "CARD_VERSION",
    "MAX_QR_TEXT_LENGTH",
    "CardClaims",
    "Guardian",
    "Holder",
    "KeyLookup",
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
MAX_NAME_LENGTH = 100
MAX_ENTITLEMENTS = 16
_ISSUER_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,39}")
_SERIAL = re.compile(r"[A-Za-z0-9_-]{1,40}")
_ASXH_DIGITS = re.compile(r"[0-9]{11}")
_PROVINCE = re.compile(r"[0-9]{2}")
_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "iat",
        "nbf",
        "exp",
        "jti",
        "v",
        "prov",
        "name",
        "dob",
        "sex",
        "ent",
        "status",
        "gdn",
    }
)
_OPTIONAL_CLAIMS = frozenset({"gdn", "status"})
_GUARDIAN_CLAIMS = frozenset({"sub", "name", "rel"})

Relation = Literal["guardian", "authorised"]
#: ``(issuer id, kid) -> PublicKey``; raise an :class:`~asxh_card.errors.VerificationError`
#: subclass (or return None) when the pair is unknown.
KeyLookup = Callable[[str, str], PublicKey | None]


def normalise_name(name: str) -> str:
    """NFC with collapsed whitespace: the same name always encodes to the same bytes."""
    return " ".join(unicodedata.normalize("NFC", name).split())


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
    status: StatusRef | None = None
    guardian: Guardian | None = None

    def __post_init__(self) -> None:
        """Give each entitlement its entry in the card's status block, or refuse a mismatch."""
        if self.status is None:
            if any(e.status is not None for e in self.entitlements):
                raise InvalidInputError(
                    "entitlement status entries need a card status: they follow the card's entry"
                )
            return
        first, uri = self.status.idx + 1, self.status.uri
        if all(
            e.status is not None and e.status.idx == first + i and e.status.uri == uri
            for i, e in enumerate(self.entitlements)
        ):
            return  # already the block (always so when parsed from a card)
        block = status_block(self.status, len(self.entitlements))
        filled = []
        for position, (given, ref) in enumerate(zip(self.entitlements, block, strict=True)):
            if given.status is not None and given.status != ref:
                raise InvalidInputError(
                    f"entitlement {position} ({given.programme}) must use status entry "
                    f"{ref.idx} of the card's list (the card's entry + {position + 1})"
                )
            filled.append(given if given.status is not None else replace(given, status=ref))
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
        }
        if self.status is not None:
            claims["status"] = self.status.to_claim()
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
        if not isinstance(claims, dict):
            raise MalformedError("the claims must be a JSON object")
        unknown = claims.keys() - _CLAIMS
        if unknown:
            raise MalformedError(f"unknown claim(s): {', '.join(sorted(unknown))[:100]}")
        missing = _CLAIMS - _OPTIONAL_CLAIMS - claims.keys()
        if missing:
            raise MalformedError(f"missing claim(s): {', '.join(sorted(missing))}")
        if type(claims["v"]) is not int or claims["v"] != CARD_VERSION:
            raise MalformedError(f"unsupported card format version (v must be {CARD_VERSION})")
        issuer = claims["iss"]
        if not isinstance(issuer, str) or not _ISSUER_ID.fullmatch(issuer):
            raise MalformedError("iss is not a valid issuer id")
        serial = claims["jti"]
        if not isinstance(serial, str) or not _SERIAL.fullmatch(serial):
            raise MalformedError("jti is not a valid card serial")
        province = claims["prov"]
        if not isinstance(province, str) or not _PROVINCE.fullmatch(province):
            raise MalformedError("prov must be a 2-digit province code")
        sex = claims["sex"]
        if sex not in ("M", "F"):
            raise MalformedError("sex must be M or F")
        ents = claims["ent"]
        if not isinstance(ents, list) or not 0 < len(ents) <= MAX_ENTITLEMENTS:
            raise MalformedError(f"ent must list 1-{MAX_ENTITLEMENTS} entitlements")
        try:
            status = status_ref_from_claim(claims["status"]) if "status" in claims else None
            block = status_block(status, len(ents)) if status is not None else [None] * len(ents)
            entitlements = tuple(
                Entitlement.from_claim(e, registry=registry, status=ref)
                for e, ref in zip(ents, block, strict=True)
            )
        except EntitlementError as exc:
            raise MalformedError(str(exc)) from None
        if len({e.programme for e in entitlements}) != len(entitlements):
            raise MalformedError("a programme appears twice in ent")
        iat = required_numeric_date(claims, "iat")
        nbf = required_numeric_date(claims, "nbf")
        exp = required_numeric_date(claims, "exp")
        return cls(
            issuer=issuer,
            province=province,
            serial=serial,
            issued_at=iat,
            not_before=nbf,
            expires_at=exp,
            holder=Holder(
                asxh_number=_asxh_number(claims["sub"], "sub"),
                name=_check_name(claims["name"], "name"),
                date_of_birth=_iso_date(claims["dob"], "dob"),
                sex=sex,
            ),
            entitlements=entitlements,
            status=status,
            guardian=_guardian(claims["gdn"]) if "gdn" in claims else None,
        )


def status_block(status: StatusRef, count: int) -> list[StatusRef]:
    """The status entries of a card's ``count`` entitlements: the entries after the card's."""
    return [StatusRef(status.idx + 1 + i, status.uri) for i in range(count)]


def _asxh_number(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ASXH_DIGITS.fullmatch(value):
        raise MalformedError(f"{what} must be an 11-digit mã số ASXH")
    try:
        parse_asxh_number(value)
    except IdentifierError as exc:
        raise MalformedError(f"{what}: {exc}") from None
    return value


def _iso_date(value: object, what: str) -> date:
    try:
        return parse_iso_date(value)
    except ISODateError as exc:
        raise MalformedError(f"{what} {exc}") from None


def _guardian(value: object) -> Guardian:
    if not isinstance(value, dict) or value.keys() != _GUARDIAN_CLAIMS:
        raise MalformedError("gdn must be an object with exactly sub, name and rel")
    relation = value["rel"]
    if relation not in ("guardian", "authorised"):
        raise MalformedError("gdn.rel must be guardian or authorised")
    return Guardian(
        asxh_number=_asxh_number(value["sub"], "gdn.sub"),
        name=_check_name(value["name"], "gdn.name"),
        relation=relation,
    )


def sign_card(
    claims: CardClaims, signer: Signer, *, registry: ProgrammeRegistry | None = None
) -> str:
    """Sign ``claims`` as a compact JWS with ``zip: DEF`` (DESIGN.md §3).

    ``registry`` gives the attribute order of the positional entitlements; pass the one the
    entitlements were validated with when it is not the bundled registry.
    """
    return _jws.sign_compact(claims.to_claims(registry), signer, typ=CARD_TYP, compress=True)


def qr_text(token: str) -> str:
    """The ``asxh:/`` numeric QR text of a card token."""
    return encode_qr_text(token)


def token_from_qr_text(text: str) -> str:
    """The compact JWS inside an ``asxh:/`` QR text; raises :class:`MalformedError`."""
    if not isinstance(text, str):
        raise MalformedError("QR text must be text")
    if len(text) > MAX_QR_TEXT_LENGTH:
        raise PayloadTooLargeError(f"QR text longer than {MAX_QR_TEXT_LENGTH} characters")
    try:
        return decode_qr_text(text, max_length=MAX_QR_TEXT_LENGTH)
    except QRTextError as exc:
        raise MalformedError(f"QR text: {exc}") from None


def parse_card_jws(token: str) -> tuple[_jws.CompactJWS, dict[str, Any]]:
    """Structural parse of a card token and its payload, before any key is involved."""
    parsed = _jws.parse_compact(
        token, limits=_jws.CARD_LIMITS, typ=CARD_TYP, header_names=CARD_HEADER
    )
    payload = _jws.decode_payload(parsed, limits=_jws.CARD_LIMITS)
    if not isinstance(payload, dict):
        raise MalformedError("the card payload must be a JSON object")
    return parsed, payload


def verify_card(
    text: str,
    *,
    keys: KeyLookup,
    now: int | None = None,
    leeway: int = DEFAULT_LEEWAY,
    registry: ProgrammeRegistry | None = None,
) -> CardClaims:
    """Verify a card from its QR text (or bare token) with keys looked up by (issuer, kid).

    Raises only :class:`~asxh_card.errors.VerificationError` subclasses.
    """
    try:
        token = token_from_qr_text(text) if text.startswith("asxh:") else text
        parsed, payload = parse_card_jws(token)
        issuer = payload.get("iss")
        if not isinstance(issuer, str):
            raise MalformedError("missing iss")
        key = keys(issuer, parsed.kid or "")
        if key is None:
            raise UnknownKeyError(f"no key {parsed.kid!r} for issuer {issuer!r}")
        _jws.verify_signature(parsed, key)
        card = CardClaims.from_claims(payload, registry=registry)
        check_time_claims(
            payload, now=int(utc_now().timestamp()) if now is None else now, leeway=leeway
        )
    except VerificationError:
        raise
    except (AsxhError, ValueError, TypeError, AttributeError) as exc:
        # Defence in depth: DESIGN.md §5 lets nothing but VerificationError escape.
        raise MalformedError(f"{type(exc).__name__}: {exc}"[:200]) from None
    return card
