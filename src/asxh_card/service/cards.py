"""Entitlements and cards: grant, update, end, issue, replace, revoke, suspend, reinstate.

Every entitlement gets its own status-list entry when it is granted; every card gets one more
for the card as a whole. Revoking or suspending flips the entry's two bits (DESIGN.md §4), so a
verifier sees it as soon as it fetches the list again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from asxh_card import card as _card
from asxh_card._core.statuslist import Status, StatusRef
from asxh_card._core.timeutil import VN_TZ, utc_now, vn_date
from asxh_card.errors import InvalidInputError
from asxh_card.issuing.issuer import Issuer as CardIssuer
from asxh_card.programmes import Entitlement as EntitlementModel
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.service import audit, statuslists
from asxh_card.service.context import ServiceContext
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import (
    Card,
    CardEntitlement,
    Entitlement,
    IdempotencyKey,
    Issuer,
    IssuerKey,
    Person,
)
from asxh_card.service.problems import ProblemError
from asxh_card.service.security import Principal
from asxh_card.service.settings import Settings

__all__ = [
    "CardOutcome",
    "change_card_status",
    "change_entitlement_status",
    "end_entitlement",
    "grant",
    "issue_card",
    "replace_card",
    "update_entitlement",
]

_STATUS_FOR_ACTION: Final = {
    "revoke": Status.REVOKED,
    "suspend": Status.SUSPENDED,
    "reinstate": Status.VALID,
}
_STATE_FOR_ACTION: Final = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}


def issuer_for(
    session: Session, province: str, programmes: Sequence[str]
) -> tuple[Issuer, IssuerKey]:
    """The issuer of ``province`` that may sign every programme in ``programmes``, and its key."""
    candidates = session.scalars(
        select(Issuer).where(Issuer.province == province).order_by(Issuer.id)
    ).all()
    for issuer in candidates:
        if set(programmes) <= set(issuer.programmes):
            key = Keyring.active_key(session, issuer.id)
            if key is not None:
                return issuer, key
    wanted = ", ".join(sorted(set(programmes)))
    raise ProblemError(
        "conflict",
        detail=f"no issuer of province {province} with an active key may sign {wanted}",
    )


def _check_programme(principal: Principal, programme: str) -> None:
    if principal.role == "issuer_officer" and programme not in principal.programmes:
        raise ProblemError("forbidden", detail=f"your account may not manage programme {programme}")


def _validated(
    registry: ProgrammeRegistry,
    programme: str,
    valid_from: date,
    valid_to: date | None,
    attributes: Mapping[str, Any],
) -> None:
    EntitlementModel(programme, valid_from, valid_to, dict(attributes)).validate(registry)


def grant(
    session: Session,
    registry: ProgrammeRegistry,
    principal: Principal,
    person: Person,
    *,
    programme: str,
    valid_from: date,
    valid_to: date | None,
    attributes: Mapping[str, Any],
    category: str | None,
    request_id: str | None = None,
) -> Entitlement:
    """Grant ``programme`` to ``person``; allocates the entitlement's status entry."""
    _validated(registry, programme, valid_from, valid_to, attributes)
    _check_programme(principal, programme)
    current = session.scalars(
        select(Entitlement).where(
            Entitlement.person_id == person.id,
            Entitlement.programme == programme,
            Entitlement.state.in_(("active", "suspended")),
        )
    ).first()
    if current is not None:
        raise ProblemError(
            "conflict",
            detail=f"the person already has a current {programme} entitlement "
            f"(id {current.id}); update or end it first",
        )
    issuer_for(session, person.province, [programme])  # someone may sign it
    now = utc_now()
    entitlement = Entitlement(
        person_id=person.id,
        province=person.province,
        programme=programme,
        valid_from=valid_from,
        valid_to=valid_to,
        attributes=dict(attributes),
        category=category,
        state="active",
        created_by=principal.username,
        created_at=now,
        updated_at=now,
    )
    session.add(entitlement)
    session.flush()
    audit.record(
        session,
        principal,
        "entitlement.grant",
        "entitlement",
        entitlement.id,
        province=person.province,
        detail={"programme": programme},
        request_id=request_id,
    )
    return entitlement


def update_entitlement(
    session: Session,
    registry: ProgrammeRegistry,
    principal: Principal,
    entitlement: Entitlement,
    changes: Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Entitlement:
    """Change the window, attributes or category of a current entitlement."""
    _check_programme(principal, entitlement.programme)
    if entitlement.state not in ("active", "suspended"):
        raise ProblemError("conflict", detail=f"the entitlement is {entitlement.state}")
    valid_from = changes.get("valid_from", entitlement.valid_from)
    valid_to = changes.get("valid_to", entitlement.valid_to)
    attributes = changes.get("attributes", entitlement.attributes)
    _validated(registry, entitlement.programme, valid_from, valid_to, attributes)
    entitlement.valid_from = valid_from
    entitlement.valid_to = valid_to
    entitlement.attributes = dict(attributes)
    if "category" in changes:
        entitlement.category = changes["category"]
    entitlement.updated_at = utc_now()
    session.flush()
    audit.record(
        session,
        principal,
        "entitlement.update",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"fields": sorted(changes)},
        request_id=request_id,
    )
    return entitlement


def end_entitlement(
    session: Session,
    principal: Principal,
    entitlement: Entitlement,
    *,
    end_date: date,
    reason_code: str,
    note: str | None,
    request_id: str | None = None,
) -> Entitlement:
    """End an entitlement on ``end_date`` (inclusive).

    An end date of today or earlier revokes the entitlement's status entry at once: cards
    already issued carry the old end date. A later end date only shortens the window; re-issue
    the card so that it shows the new date.
    """
    _check_programme(principal, entitlement.programme)
    if entitlement.state not in ("active", "suspended"):
        raise ProblemError("conflict", detail=f"the entitlement is {entitlement.state}")
    if end_date < entitlement.valid_from:
        raise InvalidInputError("end_date is before the entitlement's valid_from")
    if entitlement.valid_to is not None and end_date > entitlement.valid_to:
        # Ending never lengthens the window; extending it is an update (and is validated).
        raise InvalidInputError("end_date is after the entitlement's valid_to; update it instead")
    now = utc_now()
    entitlement.valid_to = end_date
    entitlement.reason_code = reason_code
    entitlement.note = note
    if end_date <= vn_date(now):
        entitlement.state = "ended"
        _set_on_cards(session, entitlement, Status.REVOKED)
    entitlement.updated_at = now
    session.flush()
    audit.record(
        session,
        principal,
        "entitlement.end",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"reason_code": reason_code, "end_date": end_date.isoformat()},
        request_id=request_id,
    )
    return entitlement


def _set_on_cards(session: Session, entitlement: Entitlement, status: Status) -> None:
    """Set the entitlement's entry in the status block of every card that carries it."""
    by_list: dict[int, list[tuple[int, Status]]] = {}
    for list_id, idx in session.execute(
        select(Card.status_list_id, CardEntitlement.status_idx)
        .join(Card, Card.id == CardEntitlement.card_id)
        .where(CardEntitlement.entitlement_id == entitlement.id)
    ).all():
        by_list.setdefault(list_id, []).append((idx, status))
    for list_id, changes in sorted(by_list.items()):
        statuslists.set_statuses(session, list_id, changes)


def _transition(current: str, action: str, what: str) -> None:
    allowed = {
        "revoke": ("active", "suspended"),
        "suspend": ("active",),
        "reinstate": ("suspended",),
    }[action]
    if current not in allowed:
        article = "an" if current[:1] in "aeiou" else "a"
        raise ProblemError("conflict", detail=f"cannot {action} {article} {current} {what}")


def change_entitlement_status(
    session: Session,
    principal: Principal,
    entitlement: Entitlement,
    *,
    action: str,
    reason_code: str,
    note: str | None,
    request_id: str | None = None,
) -> Entitlement:
    """Revoke, suspend or reinstate one entitlement (on every card that carries it)."""
    _check_programme(principal, entitlement.programme)
    _transition(entitlement.state, action, "entitlement")
    _set_on_cards(session, entitlement, _STATUS_FOR_ACTION[action])
    entitlement.state = _STATE_FOR_ACTION[action]
    entitlement.reason_code = reason_code
    entitlement.note = note
    entitlement.updated_at = utc_now()
    session.flush()
    audit.record(
        session,
        principal,
        f"entitlement.{action}",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"reason_code": reason_code},
        request_id=request_id,
    )
    return entitlement


def change_card_status(
    session: Session,
    principal: Principal,
    card: Card,
    *,
    action: str,
    reason_code: str,
    note: str | None,
    request_id: str | None = None,
) -> Card:
    """Revoke, suspend or reinstate a whole card."""
    _transition(card.state, action, "card")
    statuslists.set_status(
        session, card.status_list_id, card.status_idx, _STATUS_FOR_ACTION[action]
    )
    card.state = _STATE_FOR_ACTION[action]
    card.reason_code = reason_code
    card.note = note
    session.flush()
    audit.record(
        session,
        principal,
        f"card.{action}",
        "card",
        card.serial,
        province=card.province,
        detail={"reason_code": reason_code},
        request_id=request_id,
    )
    return card


@dataclass(frozen=True, slots=True)
class CardOutcome:
    """A card and whether it was created now (False: an idempotent replay)."""

    card: Card
    created: bool


def _fingerprint(person: Person, guardian: Mapping[str, Any] | None) -> str:
    text = person.asxh_number + "|" + repr(sorted((guardian or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()


def current_entitlements(session: Session, person: Person, today: date) -> list[Entitlement]:
    """The person's active entitlements that have not ended."""
    rows = session.scalars(
        select(Entitlement)
        .where(Entitlement.person_id == person.id, Entitlement.state == "active")
        .order_by(Entitlement.programme)
    ).all()
    return [e for e in rows if e.valid_to is None or e.valid_to >= today]


def issue_card(
    session: Session,
    ctx: ServiceContext,
    principal: Principal,
    person: Person,
    *,
    idempotency_key: str | None = None,
    guardian: Mapping[str, Any] | None = None,
    replaces: Card | None = None,
    request_id: str | None = None,
) -> CardOutcome:
    """Sign a card from the person's current entitlements."""
    fingerprint = _fingerprint(person, guardian)
    if idempotency_key is not None:
        replay = _replay(session, principal, idempotency_key, fingerprint)
        if replay is not None:
            return CardOutcome(replay, created=False)
    try:
        with session.begin_nested():
            card = _issue(
                session,
                ctx,
                principal,
                person,
                guardian=guardian,
                replaces=replaces,
            )
            if idempotency_key is not None:
                session.add(
                    IdempotencyKey(
                        operator=principal.username,
                        key=idempotency_key,
                        fingerprint=fingerprint,
                        card_id=card.id,
                        created_at=utc_now(),
                    )
                )
                session.flush()
    except IntegrityError:
        if idempotency_key is None:
            raise
        replay = _replay(session, principal, idempotency_key, fingerprint)
        if replay is None:
            raise
        return CardOutcome(replay, created=False)
    audit.record(
        session,
        principal,
        "card.issue",
        "card",
        card.serial,
        province=card.province,
        detail={"replaces": replaces.serial if replaces else None},
        request_id=request_id,
    )
    return CardOutcome(card, created=True)


def _replay(session: Session, principal: Principal, key: str, fingerprint: str) -> Card | None:
    row = session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.operator == principal.username, IdempotencyKey.key == key
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise ProblemError("idempotency-key-reused")
    return session.get(Card, row.card_id)


def _card_expiry(entitlements: Sequence[Entitlement], settings: Settings, today: date) -> date:
    longest = today + timedelta(days=settings.card_validity_days)
    ends = [e.valid_to for e in entitlements]
    if all(end is not None for end in ends):
        return min(longest, max(end for end in ends if end is not None))
    return longest


def _issue(
    session: Session,
    ctx: ServiceContext,
    principal: Principal,
    person: Person,
    *,
    guardian: Mapping[str, Any] | None,
    replaces: Card | None,
) -> Card:
    settings, keyring, registry = ctx.settings, ctx.keyring, ctx.programmes
    today = vn_date(utc_now())
    entitlements = current_entitlements(session, person, today)
    if not entitlements:
        raise ProblemError(
            "conflict", detail="the person has no current entitlement to put on a card"
        )
    issuer_row, key = issuer_for(session, person.province, [e.programme for e in entitlements])
    # The card's status block: its own entry, then one per entitlement (card.status_block,
    # which CardClaims fills in for the entitlements).
    status_list, idx = statuslists.allocate(
        session, settings, issuer_row.id, "card", 1 + len(entitlements)
    )
    card_status = StatusRef(
        idx=idx, uri=statuslists.list_uri(settings, issuer_row.id, status_list.id)
    )
    models = tuple(
        EntitlementModel(e.programme, e.valid_from, e.valid_to, dict(e.attributes))
        for e in entitlements
    )
    holder = _card.Holder(
        asxh_number=person.asxh_number,
        name=person.full_name,
        date_of_birth=person.date_of_birth,
        sex=person.sex,  # type: ignore[arg-type]  # "M" or "F", checked at registration
    )
    gdn = None
    if guardian is not None:
        gdn = _card.Guardian(
            asxh_number=guardian["asxh_number"],
            name=guardian["name"],
            relation=guardian.get("relation", "guardian"),
        )
    issuer = CardIssuer(
        issuer_id=issuer_row.id,
        province=issuer_row.province,
        signer=keyring.signer(key),
        registry=registry,
    )
    expires = _card_expiry(entitlements, settings, today)
    issued = issuer.issue(
        holder,
        models,
        expires=expires,
        guardian=gdn,
        status=card_status,
    )
    now = utc_now()
    card = Card(
        serial=issued.serial,
        person_id=person.id,
        province=person.province,
        issuer_id=issuer_row.id,
        kid=key.kid,
        token=issued.token,
        qr_text=issued.qr_text,
        state="active",
        status_list_id=status_list.id,
        status_idx=idx,
        issued_at=now,
        expires_at=datetime.fromtimestamp(issued.claims.expires_at, VN_TZ),
        replaces_serial=replaces.serial if replaces else None,
        created_by=principal.username,
    )
    session.add(card)
    session.flush()
    # Positions as signed (the issuer keeps the order, but the card is the reference).
    by_programme = {e.programme: e for e in entitlements}
    signed = issued.claims.entitlements
    block = _card.status_block(card_status, len(signed))
    for position, (ent, ref) in enumerate(zip(signed, block, strict=True)):
        session.add(
            CardEntitlement(
                card_id=card.id,
                entitlement_id=by_programme[ent.programme].id,
                position=position,
                status_idx=ref.idx,
            )
        )
    session.flush()
    return card


def replace_card(
    session: Session,
    ctx: ServiceContext,
    principal: Principal,
    old: Card,
    *,
    reason_code: str,
    note: str | None,
    request_id: str | None = None,
) -> Card:
    """A new card (new serial, current entitlements) and the old one revoked."""
    if old.state == "revoked":
        raise ProblemError("conflict", detail="the card is already revoked")
    person = session.get(Person, old.person_id)
    assert person is not None  # noqa: S101 - foreign key
    outcome = issue_card(
        session,
        ctx,
        principal,
        person,
        replaces=old,
        request_id=request_id,
    )
    change_card_status(
        session,
        principal,
        old,
        action="revoke",
        reason_code=reason_code,
        note=note,
        request_id=request_id,
    )
    old.replaced_by_serial = outcome.card.serial
    session.flush()
    return outcome.card
