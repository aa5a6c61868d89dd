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
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from asxh_card import card as _card
from asxh_card._core.statuslist import Status, StatusRef
from asxh_card._core.timeutil import VN_TZ, utc_now, vn_date
from asxh_card.errors import EntitlementError, InvalidInputError
from asxh_card.issuing.issuer import Issuer
from asxh_card.programmes import Entitlement, ProgrammeRegistry
from asxh_card.programmes.bhyt import bhyt_attributes_for_group
from asxh_card.programmes.bhyt import bhyt_group as bhyt_group_of
from asxh_card.service import audit, statuslists
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    NotPermittedError,
    TransitionError,
)
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import (
    CardEntitlementRow,
    CardRow,
    EntitlementRow,
    IdempotencyKeyRow,
    IssuerKeyRow,
    IssuerRow,
    PersonRow,
)
from asxh_card.service.settings import Settings
from asxh_card.service.states import CURRENT, STATE_VI, Action, State, transition

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


def issuer_for(
    session: Session, province: str, programmes: Sequence[str]
) -> tuple[IssuerRow, IssuerKeyRow]:
    """The issuer of ``province`` that may sign every programme in ``programmes``, and its key."""
    candidates = session.scalars(
        select(IssuerRow).where(IssuerRow.province == province).order_by(IssuerRow.id)
    ).all()
    for issuer in candidates:
        if set(programmes) <= set(issuer.programmes):
            key = Keyring.active_key(session, issuer.id)
            if key is not None:
                return issuer, key
    wanted = ", ".join(sorted(set(programmes)))
    raise ConflictError(
        f"no issuer of province {province} with an active key may sign {wanted}",
        message_vi=(
            f"Tỉnh {province} chưa có đơn vị cấp thẻ với khóa ký đang hoạt động được ký "
            f"chế độ {wanted}."
        ),
    )


def _check_programme(actor: Actor, programme: str) -> None:
    principal = actor.principal
    if principal.role == "issuer_officer" and programme not in principal.programmes:
        raise NotPermittedError(
            f"your account may not manage programme {programme}",
            message_vi=f"Tài khoản của bạn không được quản lý chế độ {programme}.",
        )


#: The BHYT attributes a group settles (reference/domain-vn.md §3.3).
_LEVEL_KEYS = ("level", "coverage")


def _validated(
    registry: ProgrammeRegistry,
    programme: str,
    valid_from: date,
    valid_to: date | None,
    attributes: Mapping[str, Any],
    *,
    bhyt_group: str | None = None,
    rederive: bool = False,
) -> dict[str, Any]:
    """The attributes in canonical form (BHYT facility ``79 - 024`` -> ``79-024``), checked.

    With a BHYT group the level and coverage follow from it on the day the entitlement starts
    or today, whichever is later (the level a card printed now must carry). ``rederive`` drops
    the level and coverage in ``attributes`` first when the group settles them (an update whose
    caller gave neither: the level may have moved since, as CN and LH did on 1 Jan 2026).
    """
    if bhyt_group is not None:
        if programme != "BHYT":
            raise EntitlementError(
                f"{programme}: bhyt_group is for BHYT entitlements only",
                message_vi=f"{programme}: chỉ chế độ BHYT mới có nhóm đối tượng BHYT.",
            )
        day = max(valid_from, vn_date(utc_now()))
        if rederive and bhyt_group_of(bhyt_group).level_on(day) is not None:
            attributes = {k: v for k, v in attributes.items() if k not in _LEVEL_KEYS}
        attributes = bhyt_attributes_for_group(bhyt_group, day, attributes)
    canonical = registry.get(programme).normalise_attributes(attributes)
    Entitlement(programme, valid_from, valid_to, canonical).validate_for_issuing(registry)
    return canonical


def grant(
    session: Session,
    registry: ProgrammeRegistry,
    actor: Actor,
    person: PersonRow,
    *,
    programme: str,
    valid_from: date,
    valid_to: date | None,
    attributes: Mapping[str, Any],
    category: str | None,
    bhyt_group: str | None = None,
) -> EntitlementRow:
    """Grant ``programme`` to ``person``; allocates the entitlement's status entry."""
    registry.get(programme)  # an unknown programme is a bad request, not a permission
    _check_programme(actor, programme)  # then permission, before the attributes are judged
    attributes = _validated(
        registry, programme, valid_from, valid_to, attributes, bhyt_group=bhyt_group
    )
    current = session.scalars(
        select(EntitlementRow).where(
            EntitlementRow.person_id == person.id,
            EntitlementRow.programme == programme,
            EntitlementRow.state.in_(CURRENT),
        )
    ).first()
    if current is not None:
        raise ConflictError(
            f"the person already has a current {programme} entitlement "
            f"(id {current.id}); update or end it first",
            message_vi=(
                f"Người này đang hưởng chế độ {programme} (mã {current.id}); hãy cập nhật hoặc "
                "kết thúc chế độ đó trước."
            ),
        )
    issuer_for(session, person.province, [programme])  # someone may sign it
    now = utc_now()
    entitlement = EntitlementRow(
        person_id=person.id,
        province=person.province,
        programme=programme,
        valid_from=valid_from,
        valid_to=valid_to,
        attributes=dict(attributes),
        category=category,
        bhyt_group=bhyt_group,
        state=State.ACTIVE,
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    session.add(entitlement)
    session.flush()
    audit.record(
        session,
        actor,
        "entitlement.grant",
        "entitlement",
        entitlement.id,
        province=person.province,
        detail={"programme": programme},
    )
    return entitlement


def _entitlement_not_current(entitlement: EntitlementRow) -> TransitionError:
    state = State(entitlement.state)
    return TransitionError(
        f"the entitlement is {entitlement.state}",
        message_vi=f"Chế độ được hưởng {STATE_VI[state]}: không thể thay đổi.",
    )


def update_entitlement(
    session: Session,
    registry: ProgrammeRegistry,
    actor: Actor,
    entitlement: EntitlementRow,
    changes: Mapping[str, Any],
) -> EntitlementRow:
    """Change the window, attributes, category or BHYT group of a current entitlement.

    ``changes["attributes"]`` replaces the attributes. With a BHYT group, a level and coverage
    the caller does not give (neither key in ``attributes``, or no ``attributes``) are the
    group's: re-derived when the group settles them (the level may have moved since); when it
    does not (PV, CT, unverified codes) the stored ones stay if the group is unchanged, and a
    new group needs them given: a new group never inherits the old group's level. The API and
    the web form both come here (docs/api.md).
    """
    _check_programme(actor, entitlement.programme)
    if entitlement.state not in CURRENT:
        raise _entitlement_not_current(entitlement)
    valid_from = changes.get("valid_from", entitlement.valid_from)
    valid_to = changes.get("valid_to", entitlement.valid_to)
    given: Mapping[str, Any] | None = changes.get("attributes")
    attributes = dict(entitlement.attributes if given is None else given)
    group = changes.get("bhyt_group", entitlement.bhyt_group)
    rederive = group is not None and not any(k in (given or {}) for k in _LEVEL_KEYS)
    if rederive:
        kept = entitlement.attributes if group == entitlement.bhyt_group else {}
        attributes = {k: v for k, v in attributes.items() if k not in _LEVEL_KEYS}
        attributes.update({k: kept[k] for k in _LEVEL_KEYS if k in kept})
    attributes = _validated(
        registry,
        entitlement.programme,
        valid_from,
        valid_to,
        attributes,
        bhyt_group=group,
        rederive=rederive,
    )
    entitlement.valid_from = valid_from
    entitlement.valid_to = valid_to
    entitlement.attributes = dict(attributes)
    entitlement.bhyt_group = group
    if "category" in changes:
        entitlement.category = changes["category"]
    entitlement.updated_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        "entitlement.update",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"fields": sorted(changes)},
    )
    return entitlement


def end_entitlement(
    session: Session,
    actor: Actor,
    entitlement: EntitlementRow,
    *,
    end_date: date,
    reason_code: str,
    note: str | None,
) -> EntitlementRow:
    """End an entitlement on ``end_date`` (inclusive).

    An end date of today or earlier revokes the entitlement's status entry at once: cards
    already issued carry the old end date. A later end date only shortens the window; re-issue
    the card so that it shows the new date.
    """
    _check_programme(actor, entitlement.programme)
    if entitlement.state not in CURRENT:
        raise _entitlement_not_current(entitlement)
    if end_date < entitlement.valid_from:
        raise InvalidInputError(
            "end_date is before the entitlement's valid_from",
            message_vi="Ngày kết thúc ở trước ngày bắt đầu hưởng chế độ.",
        )
    if entitlement.valid_to is not None and end_date > entitlement.valid_to:
        # Ending never lengthens the window; extending it is an update (and is validated).
        raise InvalidInputError(
            "end_date is after the entitlement's valid_to; update it instead",
            message_vi=(
                "Ngày kết thúc ở sau ngày hết hạn hưởng chế độ; hãy cập nhật chế độ thay vì "
                "kết thúc."
            ),
        )
    now = utc_now()
    entitlement.valid_to = end_date
    entitlement.reason_code = reason_code
    entitlement.note = note
    if end_date <= vn_date(now):
        entitlement.state, status = transition(entitlement.state, Action.END, "entitlement")
        _set_on_cards(session, entitlement, status)
    entitlement.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "entitlement.end",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"reason_code": reason_code, "end_date": end_date.isoformat()},
    )
    return entitlement


def _set_on_cards(session: Session, entitlement: EntitlementRow, status: Status) -> None:
    """Set the entitlement's entry in the status block of every card that carries it."""
    by_list: dict[int, list[tuple[int, Status]]] = {}
    for list_id, idx in session.execute(
        select(CardRow.status_list_id, CardEntitlementRow.status_idx)
        .join(CardRow, CardRow.id == CardEntitlementRow.card_id)
        .where(CardEntitlementRow.entitlement_id == entitlement.id)
    ).all():
        by_list.setdefault(list_id, []).append((idx, status))
    for list_id, changes in sorted(by_list.items()):
        statuslists.set_statuses(session, list_id, changes)


def change_entitlement_status(
    session: Session,
    actor: Actor,
    entitlement: EntitlementRow,
    *,
    action: Action | str,
    reason_code: str,
    note: str | None,
) -> EntitlementRow:
    """Revoke, suspend or reinstate one entitlement (on every card that carries it)."""
    _check_programme(actor, entitlement.programme)
    new_state, status = transition(entitlement.state, action, "entitlement")
    _set_on_cards(session, entitlement, status)
    entitlement.state = new_state
    entitlement.reason_code = reason_code
    entitlement.note = note
    entitlement.updated_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        f"entitlement.{action}",
        "entitlement",
        entitlement.id,
        province=entitlement.province,
        detail={"reason_code": reason_code},
    )
    return entitlement


def card_programmes(session: Session, card: CardRow) -> list[str]:
    """The programmes a card carries."""
    return list(
        session.scalars(
            select(EntitlementRow.programme)
            .join(CardEntitlementRow, CardEntitlementRow.entitlement_id == EntitlementRow.id)
            .where(CardEntitlementRow.card_id == card.id)
        )
    )


def _check_whole_card(session: Session, actor: Actor, card: CardRow) -> None:
    """An officer limited to some programmes may not change a card carrying others."""
    if actor.principal.role != "issuer_officer":
        return
    others = sorted(set(card_programmes(session, card)) - set(actor.principal.programmes))
    if others:
        raise NotPermittedError(
            f"card {card.serial} also carries {', '.join(others)}, which your account may not "
            "manage; change your programme's entitlement instead",
            message_vi=(
                f"Thẻ {card.serial} còn mang chế độ {', '.join(others)} mà tài khoản của bạn "
                "không được quản lý; hãy thay đổi chế độ thuộc chương trình của bạn."
            ),
        )


def change_card_status(
    session: Session,
    actor: Actor,
    card: CardRow,
    *,
    action: Action | str,
    reason_code: str,
    note: str | None,
) -> CardRow:
    """Revoke, suspend or reinstate a whole card (every programme on it must be the actor's)."""
    _check_whole_card(session, actor, card)
    new_state, status = transition(card.state, action, "card")
    statuslists.set_status(session, card.status_list_id, card.status_idx, status)
    card.state = new_state
    card.reason_code = reason_code
    card.note = note
    session.flush()
    audit.record(
        session,
        actor,
        f"card.{action}",
        "card",
        card.serial,
        province=card.province,
        detail={"reason_code": reason_code},
    )
    return card


@dataclass(frozen=True, slots=True)
class CardOutcome:
    """A card and whether it was created now (False: an idempotent replay)."""

    card: CardRow
    created: bool


def _fingerprint(person: PersonRow, guardian: Mapping[str, Any] | None) -> str:
    text = person.asxh_number + "|" + repr(sorted((guardian or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()


def current_entitlements(session: Session, person: PersonRow, today: date) -> list[EntitlementRow]:
    """The person's active entitlements that have not ended."""
    rows = session.scalars(
        select(EntitlementRow)
        .where(EntitlementRow.person_id == person.id, EntitlementRow.state == State.ACTIVE)
        .order_by(EntitlementRow.programme)
    ).all()
    return [e for e in rows if e.valid_to is None or e.valid_to >= today]


#: A guardian or authorised person acts for the holder: an adult (Bộ luật Dân sự 2015, Điều 20).
GUARDIAN_MIN_AGE = 18


def check_guardian(
    session: Session, actor: Actor, person: PersonRow, guardian: Mapping[str, Any]
) -> None:
    """Refuse a guardian who is not a registered adult the officer may see, named as registered.

    ``guardian`` has the parsed ``asxh_number`` and cleaned ``name``. A number unknown here and
    one registered in a province the officer may not see get the same answer (as for 409s).
    """
    number = guardian["asxh_number"]
    if number == person.asxh_number:
        raise InvalidInputError(
            "guardian.asxh_number: the guardian must be another person than the holder",
            message_vi="Người giám hộ phải là người khác, không phải chính chủ thẻ.",
        )
    row = session.scalars(select(PersonRow).where(PersonRow.asxh_number == number)).first()
    if row is None or not actor.principal.sees(row.province):
        raise InvalidInputError(
            f"guardian.asxh_number: {number} is not a registered person you may see; "
            "register the guardian first",
            message_vi=(
                f"Mã số ASXH {number} của người giám hộ chưa được đăng ký (hoặc bạn không được "
                "xem); hãy đăng ký người giám hộ trước."
            ),
        )
    if row.full_name.casefold() != str(guardian["name"]).casefold():
        raise InvalidInputError(
            f"guardian.name does not match the name registered for {number}",
            message_vi=f"Họ tên người giám hộ không khớp với họ tên đã đăng ký của mã số {number}.",
        )
    today = vn_date(utc_now())
    born = row.date_of_birth
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < GUARDIAN_MIN_AGE:
        raise InvalidInputError(
            f"guardian.asxh_number: the guardian must be at least {GUARDIAN_MIN_AGE} years old",
            message_vi=f"Người giám hộ phải từ đủ {GUARDIAN_MIN_AGE} tuổi trở lên.",
        )


def issue_card(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    person: PersonRow,
    *,
    idempotency_key: str | None = None,
    guardian: Mapping[str, Any] | None = None,
    replaces: CardRow | None = None,
    reason_code: str = "superseded",
    note: str | None = None,
) -> CardOutcome:
    """Sign a card from the person's current entitlements.

    One current card per person and issuer: the person's current cards from the same issuer
    are revoked (``reason_code``, ``superseded`` by default) and point to the new one.
    """
    fingerprint = _fingerprint(person, guardian)
    if idempotency_key is not None:
        replay = _replay(session, actor, idempotency_key, fingerprint)
        if replay is not None:
            return CardOutcome(replay, created=False)
    try:
        with session.begin_nested():
            card, previous = _issue(
                session,
                ctx,
                actor,
                person,
                guardian=guardian,
                replaces=replaces,
            )
            for old in previous:
                change_card_status(
                    session, actor, old, action=Action.REVOKE, reason_code=reason_code, note=note
                )
                old.replaced_by_serial = card.serial
            session.flush()
            if idempotency_key is not None:
                session.add(
                    IdempotencyKeyRow(
                        operator=actor.username,
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
        replay = _replay(session, actor, idempotency_key, fingerprint)
        if replay is None:
            raise
        return CardOutcome(replay, created=False)
    audit.record(
        session,
        actor,
        "card.issue",
        "card",
        card.serial,
        province=card.province,
        detail={"replaces": replaces.serial if replaces else None},
    )
    return CardOutcome(card, created=True)


def _replay(session: Session, actor: Actor, key: str, fingerprint: str) -> CardRow | None:
    row = session.scalars(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.operator == actor.username, IdempotencyKeyRow.key == key
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError
    return session.get(CardRow, row.card_id)


def _card_expiry(entitlements: Sequence[EntitlementRow], settings: Settings, today: date) -> date:
    longest = today + timedelta(days=settings.card_validity_days)
    ends = [e.valid_to for e in entitlements]
    if all(end is not None for end in ends):
        return min(longest, max(end for end in ends if end is not None))
    return longest


def _issue(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    person: PersonRow,
    *,
    guardian: Mapping[str, Any] | None,
    replaces: CardRow | None,
) -> tuple[CardRow, list[CardRow]]:
    """The new card and the person's current cards of the same issuer it supersedes."""
    settings, keyring, registry = ctx.settings, ctx.keyring, ctx.programmes
    # Issuances for one person take turns (a row lock on PostgreSQL; SQLite's writes already
    # do), so two at once cannot both find no current card and leave two.
    session.execute(select(PersonRow.id).where(PersonRow.id == person.id).with_for_update())
    today = vn_date(utc_now())
    entitlements = current_entitlements(session, person, today)
    if not entitlements:
        raise ConflictError(
            "the person has no current entitlement to put on a card",
            message_vi="Người này không có chế độ nào đang được hưởng để ghi lên thẻ.",
        )
    issuer_row, key = issuer_for(session, person.province, [e.programme for e in entitlements])
    previous = list(
        session.scalars(
            select(CardRow)
            .where(
                CardRow.person_id == person.id,
                CardRow.issuer_id == issuer_row.id,
                CardRow.state.in_(CURRENT),
            )
            .order_by(CardRow.id)
        )
    )
    for old in previous:
        _check_whole_card(session, actor, old)
    # The card's status block: its own entry, then one per entitlement (card.status_block,
    # which CardClaims fills in for the entitlements).
    status_list, idx = statuslists.allocate(
        session, settings, issuer_row.id, "card", 1 + len(entitlements)
    )
    card_status = StatusRef(
        idx=idx, uri=statuslists.list_uri(settings, issuer_row.id, status_list.id)
    )
    models = tuple(
        Entitlement(e.programme, e.valid_from, e.valid_to, dict(e.attributes)) for e in entitlements
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
    issuer = Issuer(
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
    card = CardRow(
        serial=issued.serial,
        person_id=person.id,
        province=person.province,
        issuer_id=issuer_row.id,
        kid=key.kid,
        token=issued.token,
        qr_text=issued.qr_text,
        state=State.ACTIVE,
        status_list_id=status_list.id,
        status_idx=idx,
        issued_at=now,
        expires_at=datetime.fromtimestamp(issued.claims.expires_at, VN_TZ),
        replaces_serial=replaces.serial if replaces else None,
        created_by=actor.username,
    )
    session.add(card)
    session.flush()
    # Positions as signed (the issuer keeps the order, but the card is the reference).
    by_programme = {e.programme: e for e in entitlements}
    signed = issued.claims.entitlements
    block = _card.status_block(card_status, len(signed))
    for position, (ent, ref) in enumerate(zip(signed, block, strict=True)):
        session.add(
            CardEntitlementRow(
                card_id=card.id,
                entitlement_id=by_programme[ent.programme].id,
                position=position,
                status_idx=ref.idx,
            )
        )
    session.flush()
    return card, previous


def _guardian_of(card: CardRow) -> dict[str, Any] | None:
    """The guardian block of an issued card, as :func:`issue_card` takes it (None if none)."""
    _header, payload = _card.parse_card_jws(card.token)
    gdn = payload.get("gdn")
    if not isinstance(gdn, dict):
        return None
    return {"asxh_number": gdn["sub"], "name": gdn["name"], "relation": gdn["rel"]}


def replace_card(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    old: CardRow,
    *,
    reason_code: str,
    note: str | None,
) -> CardRow:
    """A new card (new serial, current entitlements) and the old one revoked."""
    if old.state == State.REVOKED:
        raise TransitionError(
            "the card is already revoked", message_vi="Thẻ đã bị thu hồi từ trước."
        )
    person = session.get(PersonRow, old.person_id)
    assert person is not None  # noqa: S101 - foreign key
    if old.state not in CURRENT:
        raise TransitionError(
            f"cannot replace a {old.state} card",
            message_vi=f"Không thể cấp thay thẻ {STATE_VI[State(old.state)]}.",
        )
    # The new card supersedes every current card of its issuer, ``old`` among them, and keeps
    # the old card's guardian or authorised person (a replacement is the same card, renewed).
    outcome = issue_card(
        session,
        ctx,
        actor,
        person,
        guardian=_guardian_of(old),
        replaces=old,
        reason_code=reason_code,
        note=note,
    )
    if old.state != State.REVOKED:  # another issuer's card: revoke it too
        change_card_status(
            session, actor, old, action=Action.REVOKE, reason_code=reason_code, note=note
        )
        old.replaced_by_serial = outcome.card.serial
        session.flush()
    return outcome.card
