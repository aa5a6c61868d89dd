"""Request and response bodies.

Request models forbid unknown fields (``extra="forbid"``), so a client cannot set what the
server owns (province, status, serial, role, mã số ASXH): such a request is refused with a
``server-owned-field`` problem.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from asxh_card._core.timeutil import parse_iso_date
from asxh_card.card import ISSUER_ID_PATTERN

__all__ = [
    "AliasIn",
    "CardIn",
    "CardOut",
    "EndIn",
    "EntitlementIn",
    "EntitlementOut",
    "EntitlementPatch",
    "IssuerIn",
    "IssuerOut",
    "KeyIn",
    "KeyOut",
    "KeyRetireIn",
    "LinkPinIn",
    "LookupIn",
    "OperatorChangeIn",
    "OperatorIn",
    "OperatorOut",
    "PasswordResetIn",
    "PersonOut",
    "ProvisionalIn",
    "ReconciliationOut",
    "RegisterIn",
    "ResolveIn",
    "SearchIn",
    "StatusChangeIn",
    "StatusRefOut",
    "TokenOut",
    "VerifyIn",
]

Sex = Literal["M", "F"]
ReasonCode = Literal[
    "lost",
    "stolen",
    "damaged",
    "deceased",
    "fraud",
    "eligibility_ended",
    "data_error",
    "superseded",
    "moved",
    "under_review",
    "other",
]


def _iso_day(value: object) -> object:
    """Accept only ``YYYY-MM-DD`` text (no timestamps, no other date forms)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_iso_date(value)  # the card codec's rule: one spelling per date


Day = Annotated[date, BeforeValidator(_iso_day)]


def _single_line(value: str) -> str:
    """Refuse control characters (NUL breaks PostgreSQL text; others break logs and cards)."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


def _note_text(value: str) -> str:
    """Free text: line breaks and tabs are fine, other control characters are not."""
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise ValueError("must not contain control characters other than line breaks")
    return value


Pin = Annotated[
    StrictStr,
    Field(min_length=1, max_length=20, description="12-digit PIN"),
    AfterValidator(_single_line),
]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_single_line)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=300), AfterValidator(_single_line)]
Note = Annotated[StrictStr, Field(max_length=1000), AfterValidator(_note_text)]
ProvinceCode = Annotated[StrictStr, Field(pattern=r"^[0-9]{2}$")]
AsxhNumberText = Annotated[StrictStr, Field(min_length=11, max_length=20)]
Programme = Annotated[StrictStr, Field(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")]
BhytGroupCode = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]
AttributeValue = (
    StrictInt | Annotated[StrictStr, Field(max_length=200), AfterValidator(_single_line)]
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


_PERSON_EXAMPLE: dict[str, Any] = {
    "pin": "079090001234",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "1990-05-17",
    "sex": "M",
    "hometown": "Xã Tân Phú, Tỉnh Đồng Nai",
    "permanent_address": "12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh",
}


class RegisterIn(_In):
    """Register a person by PIN. ``province`` only for national administrators."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PERSON_EXAMPLE]})

    pin: Pin
    full_name: Name
    date_of_birth: Day
    sex: Sex
    hometown: Text | None = None
    permanent_address: Text | None = None
    province: ProvinceCode | None = Field(
        default=None,
        description="Province of first registration: national administrators only; "
        "an officer's own province is used otherwise (setting it is refused).",
    )


class ProvisionalIn(_In):
    """A person without a PIN yet: name, date of birth, sex and commune."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Lò Thị Mai",
                    "date_of_birth": "2019-02-01",
                    "sex": "F",
                    "commune": "Xã Mường Phăng",
                }
            ]
        },
    )

    full_name: Name
    date_of_birth: Day
    sex: Sex
    commune: Text
    hometown: Text | None = None
    permanent_address: Text | None = None
    province: ProvinceCode | None = None


class LinkPinIn(_In):
    """Link a PIN to a provisional person (the mã số ASXH stays)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"pin": "011319004321"}]}
    )

    pin: Pin


class LookupIn(_In):
    """Find a person by exactly one identifier (in the body: never in a URL)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"pin": "079090001234"}, {"bhyt_code": "HN4790123456789"}]},
    )

    pin: Pin | None = None
    cmnd: Annotated[StrictStr, Field(max_length=20)] | None = None
    bhxh_number: Annotated[StrictStr, Field(max_length=20)] | None = None
    bhyt_code: Annotated[StrictStr, Field(max_length=30)] | None = None


class SearchIn(_In):
    """Find people of your province by full name and date of birth (in the body)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"full_name": "Nguyen Van An", "date_of_birth": "1990-05-17"}]
        },
    )

    full_name: Name = Field(
        description="Case and spacing do not matter; typed without diacritics it matches every "
        "spelling with them"
    )
    date_of_birth: Day


class AliasIn(_In):
    """A legacy identifier that resolves to the person."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kind": "cmnd", "value": "123456789"}]}
    )

    kind: Literal["cmnd", "bhxh", "bhyt"]
    value: Annotated[StrictStr, Field(min_length=1, max_length=30)]


class AliasOut(BaseModel):
    """An alias, masked."""

    kind: str
    masked: str


class PersonOut(BaseModel):
    """A registered person (the PIN only masked)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "asxh_number": "79123456784",
                    "asxh_number_display": "79 1234 5678 4",
                    "province": "79",
                    "full_name": "Nguyễn Văn An",
                    "date_of_birth": "1990-05-17",
                    "sex": "M",
                    "hometown": "Xã Tân Phú, Tỉnh Đồng Nai",
                    "permanent_address": "12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh",
                    "commune": None,
                    "provisional": False,
                    "pin_masked": "*********234",
                    "aliases": [],
                    "created_at": "2026-01-02T03:04:05Z",
                }
            ]
        }
    )

    asxh_number: str
    asxh_number_display: str
    province: str
    full_name: str
    date_of_birth: date
    sex: str
    hometown: str | None
    permanent_address: str | None
    commune: str | None
    provisional: bool
    pin_masked: str | None
    aliases: list[AliasOut]
    created_at: datetime


class ReconciliationOut(BaseModel):
    """A registration that differed from the registry, waiting for (or after) a decision."""

    id: int
    asxh_number: str
    province: str
    state: str
    differing: list[str]
    submitted: dict[str, Any]
    current: dict[str, Any]
    resolution: str | None
    note: str | None
    created_by: str
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None


class ResolveIn(_In):
    """Accept the submitted values (all differing fields, or ``fields``) or reject them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action": "accept", "fields": ["permanent_address"], "note": "moved"}]
        },
    )

    action: Literal["accept", "reject"]
    fields: list[Literal["full_name", "date_of_birth", "hometown", "permanent_address"]] | None = (
        None
    )
    note: Note | None = None


class StatusRefOut(BaseModel):
    """A status-list entry."""

    idx: int
    uri: str


class EntitlementIn(_In):
    """Grant an entitlement. ``category`` is the sensitive reason: stored, never on a card."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "programme": "BHYT",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31",
                    "attributes": {"facility": "79-001"},
                    "bhyt_group": "CN",
                },
                {
                    "programme": "TGXH",
                    "valid_from": "2026-01-01",
                    "attributes": {"amount": 750000},
                    "category": "Decree 20/2021/ND-CP Art. 5(6): person with a severe disability",
                },
            ]
        },
    )

    programme: Programme
    valid_from: Day
    valid_to: Day | None = None
    attributes: Annotated[dict[str, AttributeValue], Field(max_length=16)] = Field(
        default_factory=dict
    )
    category: Text | None = None
    bhyt_group: BhytGroupCode | None = Field(
        default=None,
        description="BHYT only: the beneficiary group (mã đối tượng, e.g. CN). The level and "
        "coverage follow from it and the date when left out, and must agree when given. "
        "Sensitive: never on the card.",
    )


class EntitlementPatch(_In):
    """Change an entitlement's window, attributes or category (omitted fields stay)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"attributes": {"amount": 900000}}]},
    )

    valid_from: Day | None = None
    valid_to: Day | None = None
    attributes: Annotated[dict[str, AttributeValue], Field(max_length=16)] | None = None
    category: Text | None = None
    bhyt_group: BhytGroupCode | None = None

    @field_validator("valid_from", "attributes", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # ``None`` is the default meaning "leave it"; an explicit null would reach the update
        # as a value (``valid_to``/``category`` null clear them, these two cannot be cleared).
        if value is None:
            raise ValueError("may be left out, but not set to null")
        return value


class EntitlementOut(BaseModel):
    """An entitlement; ``category`` is null unless your role may see it."""

    id: int
    asxh_number: str
    province: str
    programme: str
    valid_from: date
    valid_to: date | None
    attributes: dict[str, Any]
    category: str | None
    bhyt_group: str | None = None
    state: str
    reason_code: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class StatusChangeIn(_In):
    """Revoke, suspend or reinstate, with a reason code and a free-text note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason_code": "lost", "note": "reported at the commune"}]
        },
    )

    reason_code: ReasonCode
    note: Note | None = None


class EndIn(_In):
    """End an entitlement on ``end_date`` (inclusive)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"end_date": "2026-06-30", "reason_code": "eligibility_ended"}]
        },
    )

    end_date: Day
    reason_code: ReasonCode
    note: Note | None = None


class GuardianIn(_In):
    """A guardian or authorised person printed on the card."""

    asxh_number: AsxhNumberText
    name: Name
    relation: Literal["guardian", "authorised"] = "guardian"


class CardIn(_In):
    """Issue a card for a person from their current entitlements."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"asxh_number": "79123456784"}]}
    )

    asxh_number: AsxhNumberText
    guardian: GuardianIn | None = None


class CardEntitlementOut(BaseModel):
    """An entitlement on a card and its entry in the card's status block."""

    id: int
    programme: str
    position: int
    status: StatusRefOut


class CardOut(BaseModel):
    """An issued card with its token and QR text.

    ``status`` is the card's own entry; entitlement ``i`` has the entry ``status.idx + 1 + i``
    of the same list (``entitlements[i].status``).
    """

    serial: str
    asxh_number: str
    province: str
    issuer: str
    kid: str
    state: str
    reason_code: str | None
    note: str | None
    issued_at: datetime
    expires_at: datetime
    status: StatusRefOut
    entitlement_ids: list[int]
    entitlements: list[CardEntitlementOut]
    replaces_serial: str | None
    replaced_by_serial: str | None
    token: str
    qr_text: str
    links: dict[str, str]


class VerifyIn(_In):
    """A card's QR text (``asxh:/...``) or bare token."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"qr_text": "asxh:/5676290..."}]}
    )

    qr_text: Annotated[StrictStr, Field(min_length=1, max_length=7100)]


class IssuerIn(_In):
    """Register an issuing authority (national administrators)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "vn-48",
                    "name": "Sở Y tế Thành phố Đà Nẵng",
                    "province": "48",
                    "programmes": ["TGXH", "BHYT"],
                }
            ]
        },
    )

    id: Annotated[StrictStr, Field(pattern=f"^{ISSUER_ID_PATTERN.pattern}$")]
    name: Name
    province: ProvinceCode
    programmes: Annotated[list[Programme], Field(min_length=1, max_length=32)]


class KeyIn(_In):
    """Generate a new signing key for an issuer; its older keys stop signing when it starts.

    ``not_before`` (a future moment with its offset) pre-publishes the key: it signs from then
    on, and the current keys get that moment as their cut-off. Left out: the switch is now.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"alg": "ES256"}, {"not_before": "2027-01-01T00:00:00+07:00"}]
        },
    )

    alg: Literal["ES256", "EdDSA"] = "ES256"
    not_before: AwareDatetime | None = None


class KeyRetireIn(_In):
    """The cut-off of a retired key (default now): it signs nothing after it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"at": "2027-01-01T00:00:00+07:00"}]}
    )

    at: AwareDatetime | None = None


class KeyOut(BaseModel):
    """An issuer key (public part)."""

    kid: str
    alg: str
    state: str
    not_before: datetime
    not_after: datetime | None
    jwk: dict[str, str]


class IssuerOut(BaseModel):
    """An issuer and its keys."""

    id: str
    name: str
    province: str
    programmes: list[str]
    keys: list[KeyOut]


class OperatorIn(_In):
    """Create an operator account (national administrators)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "canbo.danang",
                    "password": "a long passphrase 2026",
                    "role": "issuer_officer",
                    "province": "48",
                    "programmes": ["TGXH", "BHYT"],
                }
            ]
        },
    )

    username: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
    password: Annotated[StrictStr, Field(min_length=12, max_length=200)]
    role: Literal["national_admin", "issuer_officer", "auditor", "service_point"]
    province: ProvinceCode | None = None
    programmes: Annotated[list[Programme], Field(max_length=32)] = Field(default_factory=list)


class OperatorChangeIn(_In):
    """Change an operator account (national administrators); fields left out stay."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"role": "auditor", "province": "48"}]},
    )

    active: StrictBool | None = None
    role: Literal["national_admin", "issuer_officer", "auditor", "service_point"] | None = None
    province: ProvinceCode | None = None
    programmes: Annotated[list[Programme], Field(max_length=32)] | None = None


class PasswordResetIn(_In):
    """A new password for an operator account."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "a new long passphrase"}]}
    )

    password: Annotated[StrictStr, Field(min_length=12, max_length=200)]


class OperatorOut(BaseModel):
    """An operator account (never the password hash)."""

    username: str
    role: str
    province: str | None
    programmes: list[str]
    active: bool
    created_at: datetime


class TokenOut(BaseModel):
    """OAuth2 access token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
