"""Entitlements and cards: grant, update, end, issue, replace, revoke, suspend, reinstate.

Every entitlement gets its own status-list entry when it is granted; every card gets one more
for the card as a whole. Revoking or suspending flips the entry's two bits (DESIGN.md §4), so a
verifier sees it as soon as it fetches the list again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    bindparam,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
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
from asxh_card.service.db import adopt, mapped_table, one_of
from asxh_card.service.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    NotPermittedError,
    TransitionError,
)
from asxh_card.service.keyring import NEWEST_SIGNING_KEY_FIRST, signing_window
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
    "LOCKED_PERSONS",
    "CardOutcome",
    "Carried",
    "SigningIssuer",
    "change_card_status",
    "change_entitlement_status",
    "end_entitlement",
    "grant",
    "issue_card",
    "replace_card",
    "update_entitlement",
]


@dataclass(frozen=True, slots=True)
class SigningIssuer:
    """An issuer that may sign a card, and the key it signs with now."""

    issuer_id: str
    province: str
    kid: str
    key_file: str
    #: The key's cut-off, if any: it signs nothing after it.
    not_after: datetime | None


#: ``session.info`` key: ids of the persons whose row this transaction has locked.
LOCKED_PERSONS: Final = "asxh_locked_persons"

_CARDS: Final = mapped_table(CardRow)
_CARD_ENTITLEMENTS: Final = mapped_table(CardEntitlementRow)
_ENTITLEMENTS: Final = mapped_table(EntitlementRow)
_PERSONS: Final = mapped_table(PersonRow)
# The issuance path runs Core statements built once (bench/bench_service_load.py: building,
# compiling and flushing ORM statements took most of an issuance's CPU time).
_SIGNER_ROWS: Final = (
    select(
        IssuerRow.id.label("signer_id"),
        IssuerRow.programmes.label("signer_programmes"),
        IssuerKeyRow.kid.label("signer_kid"),
        IssuerKeyRow.key_file.label("signer_key_file"),
        IssuerKeyRow.not_after.label("signer_not_after"),
        IssuerKeyRow.not_before.label("signer_not_before"),
        IssuerKeyRow.id.label("signer_key_id"),
    )
    .join(IssuerKeyRow, IssuerKeyRow.issuer_id == IssuerRow.id)
    .where(IssuerRow.province == bindparam("province"), *signing_window(bindparam("now")))
)
_SIGNING_ISSUERS: Final = _SIGNER_ROWS.order_by(IssuerRow.id, *NEWEST_SIGNING_KEY_FIRST)
# The same as a subquery: what _ENTITLEMENTS_AND_CARDS joins to every entitlement row.
_SIGNERS: Final = _SIGNER_ROWS.subquery("signers")
_LOCK_PERSON: Final = (
    select(PersonRow.id).where(PersonRow.id == bindparam("person_id")).with_for_update()
)
#: What a card carries of an entitlement.
_CARRIED: Final = (
    _ENTITLEMENTS.c.id,
    _ENTITLEMENTS.c.programme,
    _ENTITLEMENTS.c.valid_from,
    _ENTITLEMENTS.c.valid_to,
    _ENTITLEMENTS.c.attributes,
)
_ACTIVE_ENTITLEMENTS: Final = (
    select(*_CARRIED)
    .where(
        _ENTITLEMENTS.c.person_id == bindparam("person_id"),
        _ENTITLEMENTS.c.state == State.ACTIVE,
    )
    .order_by(_ENTITLEMENTS.c.programme)
)


def _current_cards_of(person_id: Any) -> tuple[ColumnElement[bool], ...]:
    """Criteria of the current (active or suspended) cards of ``person_id``, of any issuer."""
    return (_CARDS.c.person_id == person_id, one_of(_CARDS.c.state, CURRENT))


_CURRENT_CARDS: Final = (
    select(_CARDS.c.id, _CARDS.c.issuer_id)
    .where(*_current_cards_of(bindparam("person_id")))
    .order_by(_CARDS.c.id)
)
# PostgreSQL: the person's active entitlements (a row each, or one empty row), its current
# cards of every issuer (two arrays, by id) and, joined to each entitlement row, the issuers
# of its province with the keys that sign now (as _SIGNING_ISSUERS, in its order) in one
# statement, read after the person's row lock (a statement that waited for the lock would
# still read from before it). Each statement cost more of the server's CPU than the
# database's work (docs/reliability.md "Speed").
_ENTITLEMENTS_AND_CARDS: Final = (
    select(
        *_CARRIED,
        select(func.array_agg(aggregate_order_by(_CARDS.c.id, _CARDS.c.id)))
        .where(*_current_cards_of(_PERSONS.c.id))
        .scalar_subquery()
        .label("card_ids"),
        select(func.array_agg(aggregate_order_by(_CARDS.c.issuer_id, _CARDS.c.id)))
        .where(*_current_cards_of(_PERSONS.c.id))
        .scalar_subquery()
        .label("card_issuers"),
        *_SIGNERS.c,
    )
    .select_from(_PERSONS)
    .outerjoin(
        _ENTITLEMENTS,
        and_(
            _ENTITLEMENTS.c.person_id == _PERSONS.c.id,
            _ENTITLEMENTS.c.state == State.ACTIVE,
        ),
    )
    .outerjoin(_SIGNERS, true())
    .where(_PERSONS.c.id == bindparam("person_id"))
    .order_by(
        _ENTITLEMENTS.c.programme,
        _ENTITLEMENTS.c.id,
        _SIGNERS.c.signer_id,
        _SIGNERS.c.signer_not_before.desc(),
        _SIGNERS.c.signer_key_id.desc(),
    )
)
_INSERT_CARD: Final = insert(_CARDS).returning(_CARDS.c.id)
_LINK_ENTITLEMENTS: Final = insert(_CARD_ENTITLEMENTS)
# PostgreSQL: the card and its entitlement links in one round trip (a data-modifying WITH;
# the links arrive as three arrays). Answers the card's id once per link.
_NEW_CARD: Final = (
    insert(_CARDS)
    .values({c.name: bindparam(f"card_{c.name}", type_=c.type) for c in _CARDS.c if c.name != "id"})
    .returning(_CARDS.c.id)
    .cte("new_card")
)
_LINKS: Final = (
    func.unnest(
        bindparam("link_entitlements", type_=postgresql.ARRAY(Integer)),
        bindparam("link_positions", type_=postgresql.ARRAY(Integer)),
        bindparam("link_indices", type_=postgresql.ARRAY(Integer)),
    )
    .table_valued("entitlement_id", "position", "status_idx")
    .render_derived()
)
_INSERT_CARD_AND_LINKS: Final = (
    insert(_CARD_ENTITLEMENTS)
    .from_select(
        ["card_id", "entitlement_id", "position", "status_idx"],
        select(
            _NEW_CARD.c.id, _LINKS.c.entitlement_id, _LINKS.c.position, _LINKS.c.status_idx
        ).join_from(_NEW_CARD, _LINKS, true()),  # one card, each of its links
    )
    .returning(_CARD_ENTITLEMENTS.c.card_id)
)


def issuer_for(session: Session, province: str, programmes: Sequence[str]) -> SigningIssuer:
    """The issuer of ``province`` that may sign every programme in ``programmes``, and its key.

    Of several, the first by id; an issuer without a key that signs now is passed over.
    """
    rows = session.connection().execute(_SIGNING_ISSUERS, {"province": province, "now": utc_now()})
    return _pick_signer(rows, province, programmes)


def _pick_signer(rows: Iterable[Any], province: str, programmes: Sequence[str]) -> SigningIssuer:
    """:func:`issuer_for`'s choice among rows with the columns of ``_SIGNER_ROWS``.

    The rows come by issuer id, each issuer's key that signs now first.
    """
    wanted = set(programmes)
    seen: set[str] = set()
    for row in rows:
        if row.signer_id in seen:  # an older key of an issuer already passed over
            continue
        seen.add(row.signer_id)
        # key_file is never None here (signing_window asks for one); the test tells mypy.
        if wanted <= set(row.signer_programmes) and row.signer_key_file is not None:
            return SigningIssuer(
                row.signer_id, province, row.signer_kid, row.signer_key_file, row.signer_not_after
            )
    names = ", ".join(sorted(wanted))
    raise ConflictError(
        f"no issuer of province {province} with an active key may sign {names}",
        message_vi=(
            f"Tỉnh {province} chưa có đơn vị cấp thẻ với khóa ký đang hoạt động được ký "
            f"chế độ {names}."
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


class Carried(NamedTuple):
    """An entitlement on a card: its id, programme, position and status-list index."""

    entitlement_id: int
    programme: str
    position: int
    status_idx: int


@dataclass(frozen=True, slots=True)
class CardOutcome:
    """A card and whether it was created now (False: an idempotent replay).

    ``carried`` lists a new card's entitlements as :func:`~asxh_card.service.views.card_out`
    shows them (None for a replay: read them back).
    """

    card: CardRow
    created: bool
    carried: tuple[Carried, ...] | None = None


def _fingerprint(person: PersonRow, guardian: Mapping[str, Any] | None) -> str:
    text = person.asxh_number + "|" + repr(sorted((guardian or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()


def current_entitlements(session: Session, person: PersonRow, today: date) -> list[Any]:
    """The person's active entitlements that have not ended, by programme.

    Rows of id, programme, valid_from, valid_to and attributes: what a card carries.
    """
    session.flush()  # the Core read below must see the session's pending changes
    rows = session.connection().execute(_ACTIVE_ENTITLEMENTS, {"person_id": person.id})
    return _not_ended(rows, today)


def _not_ended(rows: Iterable[Any], today: date) -> list[Any]:
    """The entitlement rows that still hold ``today`` (a card carries no ended one)."""
    return [row for row in rows if row.valid_to is None or row.valid_to >= today]


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

    def sign_and_store() -> tuple[CardRow, tuple[Carried, ...]]:
        card, previous, carried = _issue(
            session, ctx, actor, person, guardian=guardian, replaces=replaces
        )
        for old in previous:
            change_card_status(
                session, actor, old, action=Action.REVOKE, reason_code=reason_code, note=note
            )
            old.replaced_by_serial = card.serial
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
        return card, carried

    if idempotency_key is None:
        card, carried = sign_and_store()
    else:
        # A concurrent request with the same key stores it first: this one's card is undone
        # (the savepoint) and the stored card is the answer.
        try:
            with session.begin_nested():
                card, carried = sign_and_store()
        except IntegrityError:
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
    return CardOutcome(card, created=True, carried=carried)


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


def _card_expiry(ends: Sequence[date | None], settings: Settings, today: date) -> date:
    """The card's last day: its longest validity, or earlier when every entitlement ends."""
    longest = today + timedelta(days=settings.card_validity_days)
    if all(end is not None for end in ends):
        return min(longest, max(end for end in ends if end is not None))
    return longest


def _card_issuer(ctx: ServiceContext, signing: SigningIssuer) -> Issuer:
    """The :class:`Issuer` that signs with ``signing``'s key, kept per key.

    Building one checks the registry's card fields each time; a key id names one key file.
    """
    key = f"card-issuer/{signing.issuer_id}/{signing.province}/{signing.kid}"
    issuer = ctx.cache.get(key)
    if not isinstance(issuer, Issuer):
        issuer = Issuer(
            issuer_id=signing.issuer_id,
            province=signing.province,
            signer=ctx.keyring.signer(signing),
            registry=ctx.programmes,
        )
        with ctx.lock:
            ctx.cache[key] = issuer
    return issuer


def _what_to_issue(
    session: Session, person: PersonRow, today: date
) -> tuple[list[Any], SigningIssuer, list[int]]:
    """What a new card carries, who signs it, and the current cards of that issuer it replaces.

    Read after the person's row lock; PostgreSQL reads all three in one statement.
    """
    connection = session.connection()
    signers: list[Any] | None = None
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            _ENTITLEMENTS_AND_CARDS,
            {"person_id": person.id, "province": person.province, "now": utc_now()},
        ).all()
        first = rows[0]  # the person's row is there (locked)
        current = list(zip(first.card_ids or (), first.card_issuers or (), strict=True))
        # Every entitlement row carries the same signers: those of the first one.
        signers = [row for row in rows if row.id == first.id and row.signer_id is not None]
        entitlements = _not_ended({r.id: r for r in rows if r.id is not None}.values(), today)
    else:
        entitlements = current_entitlements(session, person, today)
        cards = connection.execute(_CURRENT_CARDS, {"person_id": person.id})
        current = [(card.id, card.issuer_id) for card in cards]
    if not entitlements:
        raise ConflictError(
            "the person has no current entitlement to put on a card",
            message_vi="Người này không có chế độ nào đang được hưởng để ghi lên thẻ.",
        )
    programmes = [e.programme for e in entitlements]
    if signers is None:
        signing = issuer_for(session, person.province, programmes)
    else:
        signing = _pick_signer(signers, person.province, programmes)
    return entitlements, signing, [card_id for card_id, of in current if of == signing.issuer_id]


def _issue(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    person: PersonRow,
    *,
    guardian: Mapping[str, Any] | None,
    replaces: CardRow | None,
) -> tuple[CardRow, list[CardRow], tuple[Carried, ...]]:
    """The new card, what it carries, and the current cards of its issuer it supersedes."""
    settings = ctx.settings
    session.flush()  # the Core statements below must see the session's pending changes
    connection = session.connection()
    if connection.dialect.name == "postgresql" and person.id not in session.info.get(
        LOCKED_PERSONS, ()
    ):
        # Issuances for one person take turns (a row lock; SQLite's writes already do), so
        # two at once cannot both find no current card and leave two.
        connection.execute(_LOCK_PERSON, {"person_id": person.id})
    today = vn_date(utc_now())
    entitlements, signing, previous_ids = _what_to_issue(session, person, today)
    previous = (
        list(
            session.scalars(
                select(CardRow).where(CardRow.id.in_(previous_ids)).order_by(CardRow.id)
            )
        )
        if previous_ids
        else []
    )
    for old in previous:
        _check_whole_card(session, actor, old)
    # The card's status block: its own entry, then one per entitlement (card.status_block,
    # which CardClaims fills in for the entitlements).
    list_id, idx = statuslists.allocate(
        session, settings, signing.issuer_id, "card", 1 + len(entitlements)
    )
    card_status = StatusRef(idx=idx, uri=statuslists.list_uri(settings, signing.issuer_id, list_id))
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
    issued = _card_issuer(ctx, signing).issue(
        holder,
        models,
        expires=_card_expiry([e.valid_to for e in entitlements], settings, today),
        guardian=gdn,
        status=card_status,
    )
    values: dict[str, Any] = {
        "serial": issued.serial,
        "person_id": person.id,
        "province": person.province,
        "issuer_id": signing.issuer_id,
        "kid": signing.kid,
        "token": issued.token,
        "qr_text": issued.qr_text,
        "state": State.ACTIVE.value,
        "reason_code": None,
        "note": None,
        "status_list_id": list_id,
        "status_idx": idx,
        "issued_at": utc_now(),
        "expires_at": datetime.fromtimestamp(issued.claims.expires_at, VN_TZ),
        "replaces_serial": replaces.serial if replaces else None,
        "replaced_by_serial": None,
        "created_by": actor.username,
        "import_job_id": None,
    }
    # Positions as signed (the issuer keeps the order, but the card is the reference).
    by_programme = {e.programme: e.id for e in entitlements}
    signed = issued.claims.entitlements
    block = _card.status_block(card_status, len(signed))
    carried = tuple(
        Carried(by_programme[ent.programme], ent.programme, position, ref.idx)
        for position, (ent, ref) in enumerate(zip(signed, block, strict=True))
    )
    card_id = _insert_card(connection, values, carried)
    # The row as written joins the session without a read-back (every column is set).
    card = adopt(session, CardRow, {"id": card_id, **values})
    return card, previous, carried


def _insert_card(
    connection: Connection, values: Mapping[str, Any], carried: Sequence[Carried]
) -> int:
    """Insert the card row and its entitlement links; the card's id."""
    if connection.dialect.name == "postgresql":
        params = {f"card_{name}": value for name, value in values.items()}
        params["link_entitlements"] = [link.entitlement_id for link in carried]
        params["link_positions"] = [link.position for link in carried]
        params["link_indices"] = [link.status_idx for link in carried]
        card_ids = connection.execute(_INSERT_CARD_AND_LINKS, params).scalars().all()
        return int(card_ids[0])
    card_id: int = connection.execute(_INSERT_CARD, values).scalar_one()
    connection.execute(
        _LINK_ENTITLEMENTS,
        [
            {
                "card_id": card_id,
                "entitlement_id": link.entitlement_id,
                "position": link.position,
                "status_idx": link.status_idx,
            }
            for link in carried
        ],
    )
    return card_id


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
