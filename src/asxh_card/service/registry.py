"""The person registry: PIN → mã số ASXH (1:1), provisional persons, aliases, reconciliation.

Concurrency: the PIN's keyed look-up hash is unique in the database. Two requests registering
the same PIN at the same time both try to insert; the loser's insert fails, its savepoint rolls
back and it reads and returns the winner's person, so both get the same number. mã số ASXH
collisions (8 random digits) are retried the same way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.errors import IdentifierError, InvalidInputError
from asxh_card.ids import (
    generate_asxh_number,
    mask_identifier,
    parse_bhxh_number,
    parse_bhyt_code,
    parse_cmnd,
    parse_pin,
)
from asxh_card.names import clean_person_name as clean_name
from asxh_card.names import normalise_name
from asxh_card.service import audit
from asxh_card.service.audit import Actor
from asxh_card.service.errors import ConflictError, TransitionError
from asxh_card.service.models import PersonAliasRow, PersonRow, ReconciliationRow
from asxh_card.service.security import DataProtector

__all__ = [
    "RECONCILED_FIELDS",
    "PersonData",
    "RegisterOutcome",
    "add_alias",
    "clean_name",
    "clean_text",
    "create_provisional",
    "find_by_alias",
    "find_by_pin",
    "link_pin",
    "person_values",
    "pin_masked",
    "reconcile",
    "register",
    "resolve_reconciliation",
]

RECONCILED_FIELDS: Final = ("full_name", "date_of_birth", "hometown", "permanent_address")
_MAX_NUMBER_TRIES = 20
#: One answer for an identifier held by a person the officer may not see *or* by another person
#: of their own province: a 409 must not tell an officer that it is registered elsewhere.
_NOT_HERE = (
    "this {what} cannot be registered to this person by your account; "
    "a national administrator can resolve it"
)
_NOT_HERE_VI = (
    "Tài khoản của bạn không thể ghi {what} này cho người này; "
    "quản trị viên cấp quốc gia có thể xử lý."
)
_IDENTIFIER_VI: Final = {
    "PIN": "số định danh cá nhân",
    "cmnd": "số CMND",
    "bhxh": "mã số BHXH",
    "bhyt": "mã thẻ BHYT",
}


def _not_here(what: str) -> ConflictError:
    # The same answer whoever holds the identifier (see _NOT_HERE).
    what_vi = _IDENTIFIER_VI.get(what, "mã định danh")
    label = what if what == "PIN" else f"{what} identifier"
    return ConflictError(_NOT_HERE.format(what=label), message_vi=_NOT_HERE_VI.format(what=what_vi))


#: Field names of a registration, in Vietnamese, for messages.
FIELD_VI: Final = {
    "full_name": "Họ và tên",
    "hometown": "Quê quán",
    "permanent_address": "Nơi thường trú",
    "commune": "Xã, phường",
    "date_of_birth": "Ngày sinh",
}


def clean_text(value: str, what: str, *, max_length: int = 300) -> str:
    """NFC, single spaces, no control characters, non-empty."""
    text = normalise_name(value)  # the one NFC + single-space rule (asxh_card.names)
    what_vi = FIELD_VI.get(what, f"Trường {what}")
    if not text:
        raise InvalidInputError(f"{what} must not be empty", message_vi=f"{what_vi} bị trống.")
    if len(text) > max_length:
        raise InvalidInputError(
            f"{what} is longer than {max_length} characters",
            message_vi=f"{what_vi} dài quá {max_length} ký tự.",
        )
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise InvalidInputError(
            f"{what} contains control characters",
            message_vi=f"{what_vi} chứa ký tự điều khiển.",
        )
    return text


@dataclass(frozen=True, slots=True)
class PersonData:
    """Identity data submitted at registration (validated and normalised)."""

    full_name: str
    date_of_birth: date
    sex: str
    hometown: str | None
    permanent_address: str | None
    commune: str | None = None

    def values(self) -> dict[str, Any]:
        """The reconciled fields as JSON-friendly values."""
        return _reconciled_values(self)


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    """What :func:`register` did."""

    person: PersonRow
    created: bool
    reconciliation: ReconciliationRow | None = None


def _reconciled_values(source: PersonData | PersonRow) -> dict[str, Any]:
    # Submitted and stored values are compared, and stored as JSON, in this one form.
    values = {name: getattr(source, name) for name in RECONCILED_FIELDS}
    values["date_of_birth"] = values["date_of_birth"].isoformat()
    return values


def person_values(person: PersonRow) -> dict[str, Any]:
    """A person's reconciled fields as JSON-friendly values (as :meth:`PersonData.values`)."""
    return _reconciled_values(person)


def _check_dob(dob: date) -> None:
    # Today in Vietnam: until 07:00 there the UTC date is still yesterday.
    if dob > vn_date(utc_now()) or dob < date(1900, 1, 1):
        raise InvalidInputError(
            "date_of_birth must be between 1900-01-01 and today",
            message_vi="Ngày sinh phải từ ngày 01/01/1900 đến hôm nay.",
        )


def _new_person(
    session: Session, province: str, data: PersonData, **identity: Any
) -> PersonRow | None:
    """Insert a person with a fresh mã số ASXH; None when the PIN hash already exists."""
    now = utc_now()
    for _ in range(_MAX_NUMBER_TRIES):
        number = generate_asxh_number(province).value
        person = PersonRow(
            asxh_number=number,
            province=province,
            full_name=data.full_name,
            date_of_birth=data.date_of_birth,
            sex=data.sex,
            hometown=data.hometown,
            permanent_address=data.permanent_address,
            commune=data.commune,
            created_at=now,
            updated_at=now,
            **identity,
        )
        try:
            with session.begin_nested():
                session.add(person)
        except IntegrityError:
            pin_hash = identity.get("pin_hash")
            if pin_hash is not None and find_by_hash(session, pin_hash) is not None:
                return None
            continue  # mã số ASXH collision: draw again
        return person
    raise RuntimeError("could not draw an unused mã số ASXH")  # pragma: no cover


def find_by_hash(session: Session, pin_hash: str) -> PersonRow | None:
    """The person with this PIN look-up hash."""
    return session.scalars(select(PersonRow).where(PersonRow.pin_hash == pin_hash)).first()


def find_by_pin(session: Session, protector: DataProtector, pin: str) -> PersonRow | None:
    """The person with ``pin`` (shape-checked first)."""
    parsed = parse_pin(pin)
    return find_by_hash(session, protector.lookup_hash("pin", parsed.number))


def register(
    session: Session,
    protector: DataProtector,
    actor: Actor,
    *,
    province: str,
    pin: str,
    data: PersonData,
) -> RegisterOutcome:
    """Register a person by PIN; the same PIN always gets the same mã số ASXH."""
    _check_dob(data.date_of_birth)
    parsed = parse_pin(pin, date_of_birth=data.date_of_birth, sex=data.sex)  # type: ignore[arg-type]
    pin_hash = protector.lookup_hash("pin", parsed.number)
    person = find_by_hash(session, pin_hash)
    if person is None:
        person = _new_person(
            session,
            province,
            data,
            pin_hash=pin_hash,
            pin_cipher=protector.encrypt("pin", parsed.number),
            provisional=False,
        )
        if person is None:
            person = find_by_hash(session, pin_hash)
            assert person is not None  # noqa: S101 - the insert failed on this very hash
        else:
            audit.record(
                session,
                actor,
                "person.register",
                "person",
                person.asxh_number,
                province=person.province,
            )
            return RegisterOutcome(person, created=True)
    return reconcile(session, actor, person, data)


def reconcile(
    session: Session, actor: Actor, person: PersonRow, data: PersonData
) -> RegisterOutcome:
    """An existing person registered again: differing data open a reconciliation.

    Stored data are never overwritten; a PIN of a province ``actor`` does not see is a
    conflict.
    """
    if not actor.principal.sees(person.province):
        raise _not_here("PIN")
    stored, submitted = person_values(person), data.values()
    differing = [f for f in RECONCILED_FIELDS if stored[f] != submitted[f]]
    if not differing:
        return RegisterOutcome(person, created=False)
    reconciliation = session.scalars(
        select(ReconciliationRow).where(
            ReconciliationRow.person_id == person.id, ReconciliationRow.state == "open"
        )
    ).first()
    if reconciliation is None or reconciliation.submitted != submitted:
        reconciliation = ReconciliationRow(
            person_id=person.id,
            province=person.province,
            submitted=submitted,
            differing=differing,
            state="open",
            created_by=actor.username,
            created_at=utc_now(),
        )
        session.add(reconciliation)
        session.flush()
        audit.record(
            session,
            actor,
            "reconciliation.open",
            "reconciliation",
            reconciliation.id,
            province=person.province,
            detail={"fields": differing},
        )
    return RegisterOutcome(person, created=False, reconciliation=reconciliation)


def create_provisional(
    session: Session,
    actor: Actor,
    *,
    province: str,
    data: PersonData,
) -> PersonRow:
    """A person without a PIN yet; the number stays when the PIN is linked later."""
    _check_dob(data.date_of_birth)
    if not data.commune:
        raise InvalidInputError(
            "commune is required for a provisional person",
            message_vi="Cần ghi xã, phường khi đăng ký tạm một người chưa có số định danh.",
        )
    person = _new_person(session, province, data, provisional=True)
    assert person is not None  # noqa: S101 - no PIN hash, so only number collisions retry
    audit.record(
        session,
        actor,
        "person.provisional",
        "person",
        person.asxh_number,
        province=province,
    )
    return person


def link_pin(
    session: Session,
    protector: DataProtector,
    actor: Actor,
    person: PersonRow,
    pin: str,
) -> PersonRow:
    """Link a PIN to a provisional person; the mã số ASXH does not change."""
    parsed = parse_pin(pin, date_of_birth=person.date_of_birth, sex=person.sex)  # type: ignore[arg-type]
    pin_hash = protector.lookup_hash("pin", parsed.number)
    if person.pin_hash is not None:
        if person.pin_hash == pin_hash:
            return person
        raise ConflictError(
            "this person already has another PIN",
            message_vi="Người này đã có một số định danh cá nhân khác.",
        )
    if find_by_hash(session, pin_hash) is not None:
        raise _not_here("PIN")
    try:
        # Changed inside the savepoint (begin_nested flushes pending changes *before* it): a
        # lost race rolls back only this and leaves the person as it was.
        with session.begin_nested():
            person.pin_hash = pin_hash
            person.pin_cipher = protector.encrypt("pin", parsed.number)
            person.provisional = False
            person.updated_at = utc_now()
    except IntegrityError:
        raise _not_here("PIN") from None
    audit.record(
        session,
        actor,
        "person.link_pin",
        "person",
        person.asxh_number,
        province=person.province,
    )
    return person


def normalise_alias(kind: str, value: str) -> str:
    """Validate an alias and return its canonical form (raises IdentifierError)."""
    if kind == "cmnd":
        return parse_cmnd(value)
    if kind == "bhxh":
        return parse_bhxh_number(value)
    if kind == "bhyt":
        return parse_bhyt_code(value).code
    raise IdentifierError(
        f"unknown alias kind {kind[:10]!r}",
        message_vi=f"Không có loại mã định danh {kind[:10]!r}.",
    )


def _find_alias(session: Session, kind: str, lookup: str) -> PersonAliasRow | None:
    return session.scalars(
        select(PersonAliasRow).where(
            PersonAliasRow.kind == kind, PersonAliasRow.lookup_hash == lookup
        )
    ).first()


def add_alias(
    session: Session,
    protector: DataProtector,
    actor: Actor,
    person: PersonRow,
    *,
    kind: str,
    value: str,
) -> PersonAliasRow:
    """Attach a legacy identifier to ``person`` (stored as a keyed hash).

    A BHYT card code embeds a BHXH number, which becomes an alias of the same person too; a
    code whose BHXH number is another person's is refused, as that number itself would be.
    """
    canonical = normalise_alias(kind, value)
    wanted = [(kind, canonical)]
    if kind == "bhyt":
        wanted.append(("bhxh", parse_bhyt_code(canonical).bhxh_number))
    new: list[PersonAliasRow] = []
    for alias_kind, alias_value in wanted:
        lookup = protector.lookup_hash(alias_kind, alias_value)
        existing = _find_alias(session, alias_kind, lookup)
        if existing is not None and existing.person_id != person.id:
            raise _not_here(alias_kind)
        if existing is not None and alias_kind == kind:
            return existing
        if existing is None:
            new.append(
                PersonAliasRow(
                    person_id=person.id,
                    kind=alias_kind,
                    lookup_hash=lookup,
                    last3=alias_value[-3:],
                    created_at=utc_now(),
                )
            )
    try:
        with session.begin_nested():
            session.add_all(new)
    except IntegrityError:
        raise ConflictError(
            "this identifier was just added elsewhere",
            message_vi="Mã định danh này vừa được ghi cho người khác.",
        ) from None
    audit.record(
        session,
        actor,
        "person.alias",
        "person",
        person.asxh_number,
        province=person.province,
        detail={"kind": kind},
    )
    return new[0]


def find_by_alias(
    session: Session, protector: DataProtector, kind: str, value: str
) -> PersonRow | None:
    """The person a legacy identifier resolves to."""
    canonical = normalise_alias(kind, value)
    alias = _find_alias(session, kind, protector.lookup_hash(kind, canonical))
    if alias is None and kind == "bhyt":
        return find_by_alias(session, protector, "bhxh", parse_bhyt_code(canonical).bhxh_number)
    return None if alias is None else session.get(PersonRow, alias.person_id)


def pin_masked(protector: DataProtector, person: PersonRow) -> str | None:
    """The PIN with all but its last 3 digits masked, or None."""
    if person.pin_cipher is None:
        return None
    return mask_identifier(protector.decrypt("pin", person.pin_cipher))


def resolve_reconciliation(
    session: Session,
    protector: DataProtector,
    actor: Actor,
    reconciliation: ReconciliationRow,
    *,
    action: str,
    fields: Sequence[str] | None,
    note: str | None,
) -> ReconciliationRow:
    """Accept (apply the submitted values, all or ``fields``) or reject a reconciliation."""
    if reconciliation.state != "open":
        raise TransitionError(
            "this reconciliation is already resolved",
            message_vi="Yêu cầu đối chiếu này đã được xử lý.",
        )
    person = session.get(PersonRow, reconciliation.person_id)
    assert person is not None  # noqa: S101 - foreign key
    chosen = list(reconciliation.differing) if fields is None else fields
    unknown = [f for f in chosen if f not in reconciliation.differing]
    if unknown:
        raise InvalidInputError(
            f"fields not under reconciliation: {', '.join(unknown)[:200]}",
            message_vi=f"Các trường không thuộc yêu cầu đối chiếu: {', '.join(unknown)[:200]}.",
        )
    if action == "accept":
        submitted: Mapping[str, Any] = reconciliation.submitted
        values = {name: submitted[name] for name in chosen}
        if "date_of_birth" in values:
            values["date_of_birth"] = new_dob = date.fromisoformat(values["date_of_birth"])
            if person.pin_cipher is not None:
                # The PIN encodes the birth year: a new date must still agree with it (a new
                # birth year means a new PIN, Circular 59/2021 Art. 6). Checked before any
                # field changes, so a refusal leaves the person untouched.
                pin = protector.decrypt("pin", person.pin_cipher)
                parse_pin(pin, date_of_birth=new_dob, sex=person.sex)  # type: ignore[arg-type]
        for name, value in values.items():
            setattr(person, name, value)
        person.updated_at = utc_now()
    reconciliation.state = "resolved"
    reconciliation.resolution = action
    reconciliation.note = note
    reconciliation.resolved_by = actor.username
    reconciliation.resolved_at = utc_now()
    audit.record(
        session,
        actor,
        f"reconciliation.{action}",
        "reconciliation",
        reconciliation.id,
        province=reconciliation.province,
        detail={"fields": chosen},
    )
    session.flush()
    return reconciliation
