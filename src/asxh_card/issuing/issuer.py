"""The :class:`Issuer`: a person and their entitlements in, a signed card and its QR text out.

Everything a card may be refused for is checked here, before signing and long before rendering:

* the holder: a valid mã số ASXH (:func:`~asxh_card.ids.parse_asxh_number`), a name by the
  name rule (:func:`~asxh_card.names.clean_person_name`: typographic apostrophes folded, NFC,
  single spaces, letters and ' - . only), a date of birth
  that is not in the future, sex ``M`` or ``F``; the same for a guardian, who must be another
  person;
* every entitlement (:meth:`~asxh_card.programmes.Entitlement.validate`: programme known, no
  never-on-card attribute, attributes in the schema, BHYT level/coverage consistent), no
  programme twice;
* data minimisation over the whole claim set: entitlements are positional arrays that can carry
  only the schema's attributes (and the registry refuses a schema attribute on the never-on-card
  list), so the only names left are the card's fixed claim names, which
  :func:`~asxh_card.programmes.check_card_fields` checks once, when the :class:`Issuer` is built;
* the validity window: ``not_before < expires``, ``expires`` in the future, at most
  :data:`MAX_VALIDITY` long, ``not_before`` at most :data:`MAX_NOT_BEFORE_AHEAD` ahead, and no
  entitlement that ends before the card starts or starts after it ends;
* the size budget: the QR text must fit QR version 20 at ECC M
  (:class:`~asxh_card.errors.CardTooLargeError` otherwise).

The issuer imports neither Pillow nor zxing-cpp: signing stays cheap and runs without the
``render`` extra. Rendering is :mod:`asxh_card.issuing.render`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final

from asxh_card import card as _card
from asxh_card._core.keys import Signer
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import VN_TZ, as_aware, utc_now, vn_date, vn_day
from asxh_card.errors import (
    CardTooLargeError,
    EntitlementError,
    IdentifierError,
    InvalidInputError,
)
from asxh_card.ids import mask_identifier, parse_asxh_number
from asxh_card.issuing.sizing import MAX_CARD_QR_VERSION, qr_version
from asxh_card.names import clean_person_name
from asxh_card.programmes import (
    Entitlement,
    ProgrammeRegistry,
    check_card_fields,
    check_status_fields,
)
from asxh_card.provinces import current_province

__all__ = [
    "MAX_NOT_BEFORE_AHEAD",
    "MAX_VALIDITY",
    "CardRequest",
    "IssuedCard",
    "Issuer",
    "Moment",
    "new_serial",
]

#: Longest validity window of one card. Entitlements are renewed yearly; ten years bounds the
#: damage of a card that can no longer be revoked (a lost status list).
MAX_VALIDITY: Final = timedelta(days=10 * 366)
#: Cards are printed ahead of time, but not years ahead.
MAX_NOT_BEFORE_AHEAD: Final = timedelta(days=366)
_SERIAL_LENGTH = 12
_EARLIEST_BIRTH = date(1900, 1, 1)
#: What a name may hold besides letters; deleted before one C-level ``isalpha()`` over the rest.

#: A point in time: an aware datetime, a Vietnamese calendar date (``not_before`` = start of that
#: day, ``expires`` = end of that day, UTC+07:00), or NumericDate seconds.
Moment = datetime | date | int


def new_serial() -> str:
    """A random card serial: 12 base32 characters (60 bits) from the OS CSPRNG.

    Random, so that serials reveal nothing about issuance order or volume; URL-safe and short
    because every character costs QR space.
    """
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:_SERIAL_LENGTH]


@dataclass(frozen=True, slots=True)
class CardRequest:
    """Everything one card says about a person: the input of :meth:`Issuer.issue_request`."""

    holder: _card.Holder
    entitlements: tuple[Entitlement, ...]
    expires: Moment
    not_before: Moment | None = None
    guardian: _card.Guardian | None = None
    #: The card's entry in its issuer's status list: required (a card without one could never
    #: be revoked, DESIGN.md §4). Keyword-only, so it follows the optional fields.
    status: StatusRef = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A signed card: the compact JWS, its ``asxh:/`` QR text, the claims and the QR version."""

    token: str
    qr_text: str
    claims: _card.CardClaims
    qr_version: int
    kid: str = field(default="")

    @property
    def serial(self) -> str:
        """The card serial (``jti``)."""
        return self.claims.serial


def _seconds(moment: Moment, what: str, *, end_of_day: bool) -> int:
    if isinstance(moment, bool):
        raise InvalidInputError(f"{what} must be a datetime, a date or seconds, not a boolean")
    if isinstance(moment, int):
        return moment
    if isinstance(moment, datetime):
        try:
            return int(as_aware(moment).timestamp())
        except ValueError:
            raise InvalidInputError(f"{what} must be timezone-aware") from None
    if isinstance(moment, date):
        # A card's dates are Vietnamese calendar dates: a card "valid until 31/12/2030" is valid
        # through the last second of that day in Vietnam.
        start = datetime.combine(moment, time(0, 0), VN_TZ)
        return int(start.timestamp()) + (86_399 if end_of_day else 0)
    raise InvalidInputError(f"{what} must be a datetime, a date or seconds")


class Issuer:
    """Issues signed cards for one issuing authority with one signing key.

    ``issuer_id`` is the ``iss`` of the trust bundle (e.g. ``vn-79``), ``province`` the 2-digit
    code of the issuing authority's province. ``clock`` and ``serials`` are injectable for tests
    and reproducible runs; ``registry`` defaults to the bundled programme registry.
    """

    __slots__ = ("_clock", "_registry", "_serials", "_signer", "issuer_id", "province")

    def __init__(
        self,
        *,
        issuer_id: str,
        province: str,
        signer: Signer,
        registry: ProgrammeRegistry | None = None,
        clock: Callable[[], datetime] = utc_now,
        serials: Callable[[], str] = new_serial,
    ) -> None:
        # Typed as object: guards callers that ignore the annotations (JSON input).
        raw_id: object = issuer_id
        if not isinstance(raw_id, str) or not _card.ISSUER_ID_PATTERN.fullmatch(raw_id):
            raise InvalidInputError(
                "issuer_id must be 1-40 characters a-z, 0-9, '.', '-' starting with a letter "
                "or digit"
            )
        try:
            current_province(province)
        except IdentifierError as exc:
            raise InvalidInputError(f"province: {exc}") from None
        if not isinstance(signer, Signer):
            raise InvalidInputError("signer must implement asxh_card._core.keys.Signer")
        self.issuer_id = issuer_id
        self.province = province
        self._signer = signer
        self._registry = registry or ProgrammeRegistry.default()
        check_card_fields(_claim_skeleton(self._registry), path="claims", registry=self._registry)
        self._clock = clock
        self._serials = serials

    def __repr__(self) -> str:
        return (
            f"Issuer(issuer_id={self.issuer_id!r}, province={self.province!r}, "
            f"kid={self._signer.kid!r})"
        )

    @property
    def kid(self) -> str:
        """The ``kid`` of the signing key."""
        return self._signer.kid

    @property
    def registry(self) -> ProgrammeRegistry:
        """The programme registry entitlements are checked against."""
        return self._registry

    # ------------------------------------------------------------------------------------
    # Building and checking the claims

    def build_claims(
        self,
        holder: _card.Holder,
        entitlements: Sequence[Entitlement],
        *,
        expires: Moment,
        not_before: Moment | None = None,
        guardian: _card.Guardian | None = None,
        status: StatusRef,
    ) -> _card.CardClaims:
        """Check everything and return the claims of a card (not yet signed).

        Raises :class:`~asxh_card.errors.InvalidInputError` subclasses: ``IdentifierError`` for
        a bad mã số ASXH, ``EntitlementError`` for a bad entitlement or a never-on-card field,
        ``InvalidInputError`` for anything else (name, dates, window, a missing ``status``:
        every card carries its entry in a status list, or it could never be revoked).
        """
        now_dt = self._clock()
        now = int(as_aware(now_dt).timestamp())
        today = vn_date(now_dt)
        holder = _check_holder(holder, today=today)
        guardian = _check_guardian(guardian, holder) if guardian is not None else None
        nbf = now if not_before is None else _seconds(not_before, "not_before", end_of_day=False)
        exp = _seconds(expires, "expires", end_of_day=True)
        if exp <= nbf:
            raise InvalidInputError("validity: expires must be after not_before")
        if exp <= now:
            raise InvalidInputError("validity: expires is in the past")
        if exp - nbf > MAX_VALIDITY.total_seconds():
            raise InvalidInputError(
                f"validity: a card may be valid for at most {MAX_VALIDITY.days} days"
            )
        if nbf - now > MAX_NOT_BEFORE_AHEAD.total_seconds():
            raise InvalidInputError(
                f"validity: not_before is more than {MAX_NOT_BEFORE_AHEAD.days} days ahead"
            )
        ents = tuple(entitlements)
        if not 0 < len(ents) <= _card.MAX_ENTITLEMENTS:
            raise EntitlementError(f"a card carries 1-{_card.MAX_ENTITLEMENTS} entitlements")
        card_start = vn_day(nbf)
        card_end = vn_day(exp)
        seen: set[str] = set()
        for ent in ents:
            if not isinstance(ent, Entitlement):
                raise EntitlementError("entitlements must be Entitlement objects")
            ent.validate_for_issuing(self._registry)
            if ent.programme in seen:
                raise EntitlementError(f"{ent.programme}: the programme appears twice")
            seen.add(ent.programme)
            if ent.valid_to is not None and ent.valid_to < card_start:
                raise EntitlementError(
                    f"{ent.programme}: the entitlement ends before the card becomes valid"
                )
            if ent.valid_from > card_end:
                raise EntitlementError(
                    f"{ent.programme}: the entitlement starts after the card expires"
                )
        given: object = status  # typed StatusRef, but callers may pass anything
        if given is None:
            raise InvalidInputError(_card.STATUS_REQUIRED_EN, message_vi=_card.STATUS_REQUIRED_VI)
        if not isinstance(given, StatusRef):
            raise InvalidInputError("status must be a StatusRef")
        # The card's entry: the rules a verifier applies (http(s) URL, idx >= 0), the same
        # check Entitlement.validate makes of an entitlement's entry. The entitlements'
        # entries follow it (card.status_block), filled in by CardClaims.
        check_status_fields(given.idx, given.uri)
        serial: object = self._serials()
        if not isinstance(serial, str) or not _card.SERIAL_PATTERN.fullmatch(serial):
            raise InvalidInputError("the serial generator returned an invalid serial")
        return _card.CardClaims(
            issuer=self.issuer_id,
            province=self.province,
            serial=serial,
            issued_at=now,
            not_before=nbf,
            expires_at=exp,
            holder=holder,
            entitlements=ents,
            status=status,
            guardian=guardian,
        )

    def sign(self, claims: _card.CardClaims) -> IssuedCard:
        """Sign checked claims and enforce the QR size budget."""
        token = _card.sign_card(claims, self._signer, registry=self._registry)
        text = _card.qr_text(token)
        version = qr_version(text)
        if version is None or version > MAX_CARD_QR_VERSION:
            needed = "more than 40" if version is None else str(version)
            raise CardTooLargeError(
                f"the card needs QR version {needed} at error correction M; the limit is "
                f"{MAX_CARD_QR_VERSION} (shorten the name or drop an entitlement)"
            )
        return IssuedCard(
            token=token, qr_text=text, claims=claims, qr_version=version, kid=self._signer.kid
        )

    def issue(
        self,
        holder: _card.Holder,
        entitlements: Sequence[Entitlement],
        *,
        expires: Moment,
        not_before: Moment | None = None,
        guardian: _card.Guardian | None = None,
        status: StatusRef,
    ) -> IssuedCard:
        """Check, sign and size one card. See :meth:`build_claims` for what is refused."""
        claims = self.build_claims(
            holder,
            entitlements,
            expires=expires,
            not_before=not_before,
            guardian=guardian,
            status=status,
        )
        return self.sign(claims)

    def issue_request(self, request: CardRequest) -> IssuedCard:
        """:meth:`issue` for a :class:`CardRequest`."""
        return self.issue(
            request.holder,
            request.entitlements,
            expires=request.expires,
            not_before=request.not_before,
            guardian=request.guardian,
            status=request.status,
        )

    def issue_many(self, requests: Iterable[CardRequest]) -> Iterator[IssuedCard]:
        """Issue cards one by one, lazily; the first refused card raises.

        For batches where bad records are reported and skipped, see
        :func:`asxh_card.issuing.bulk.issue_batch`.
        """
        for request in requests:
            yield self.issue_request(request)


def _claim_skeleton(registry: ProgrammeRegistry) -> dict[str, object]:
    """A claim set with every optional claim present: the names any card of this format carries.

    Entitlements are left out: their arrays hold values, not names (docs/wire-format.md).
    """
    claims = _card.CardClaims(
        issuer="x",
        province="00",
        serial="x",
        issued_at=0,
        not_before=0,
        expires_at=0,
        holder=_card.Holder("", "", _EARLIEST_BIRTH, "M"),
        entitlements=(),
        status=StatusRef(0, ""),
        guardian=_card.Guardian("", ""),
    )
    return claims.to_claims(registry)


def _check_holder(holder: _card.Holder, *, today: date) -> _card.Holder:
    if not isinstance(holder, _card.Holder):
        raise InvalidInputError("holder must be a Holder")
    number = parse_asxh_number(holder.asxh_number).value
    dob: object = holder.date_of_birth
    if not isinstance(dob, date) or isinstance(dob, datetime):
        raise InvalidInputError("holder date of birth must be a date")
    if dob > today:
        raise InvalidInputError("holder date of birth is in the future")
    if dob < _EARLIEST_BIRTH:
        raise InvalidInputError("holder date of birth is before 1900")
    if holder.sex not in ("M", "F"):
        raise InvalidInputError("holder sex must be M or F")
    return _card.Holder(
        asxh_number=number,
        name=clean_person_name(holder.name, "holder name"),
        date_of_birth=dob,
        sex=holder.sex,
    )


def _check_guardian(guardian: _card.Guardian, holder: _card.Holder) -> _card.Guardian:
    if not isinstance(guardian, _card.Guardian):
        raise InvalidInputError("guardian must be a Guardian")
    number = parse_asxh_number(guardian.asxh_number).value
    if number == holder.asxh_number:
        raise InvalidInputError(
            f"guardian {mask_identifier(number)} is the holder: a guardian is another person"
        )
    if guardian.relation not in ("guardian", "authorised"):
        raise InvalidInputError("guardian relation must be 'guardian' or 'authorised'")
    return _card.Guardian(
        asxh_number=number,
        name=clean_person_name(guardian.name, "guardian name"),
        relation=guardian.relation,
    )
