"""The officer's actions, one function each: what the HTTP API and the web console both call.

Every rule lives here or below (the registry, :mod:`.cards`): the role allowed to act, the
province scope (an object of another province is "not found"), the programmes an officer may
manage, validation and the audit entry. A route or a page only turns its input into the
validated ``*In`` model of :mod:`.schemas`, calls one function and presents the answer, so the
two can never disagree on what an operator may do.

Each function runs its own transaction (a read-only one for look-ups) and returns response
models, never database rows, so nothing lazy is touched after the session has closed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import select

from asxh_card.errors import InvalidInputError
from asxh_card.ids import parse_asxh_number
from asxh_card.provinces import current_province
from asxh_card.service import audit, registry, stats
from asxh_card.service import cards as card_service
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.deps import (
    READERS,
    WRITERS,
    check_role,
    in_scope,
    province_for,
    reading,
    scoped,
)
from asxh_card.service.deps import transaction as _transaction
from asxh_card.service.errors import NotFoundError
from asxh_card.service.models import (
    AuditEventRow,
    CardRow,
    EntitlementRow,
    IssuerRow,
    PersonRow,
    ReconciliationRow,
)
from asxh_card.service.problems import ProblemError
from asxh_card.service.registry import PersonData, clean_name, clean_text
from asxh_card.service.schemas import (
    CardIn,
    CardOut,
    EndIn,
    EntitlementIn,
    EntitlementOut,
    EntitlementPatch,
    LookupIn,
    PersonOut,
    ProvisionalIn,
    ReconciliationOut,
    RegisterIn,
    ResolveIn,
    SearchIn,
    StatusChangeIn,
)
from asxh_card.service.security import Principal
from asxh_card.service.views import (
    card_out,
    entitlement_out,
    get_card,
    get_entitlement,
    get_person,
    get_reconciliation,
    person_out,
    reconciliation_out,
)

__all__ = [
    "RENDERINGS",
    "PersonDetail",
    "Registration",
    "audit_page",
    "change_card",
    "change_entitlement",
    "end_entitlement",
    "grant_entitlement",
    "issue_card",
    "list_cards",
    "list_entitlements",
    "list_reconciliations",
    "lookup_person",
    "name_key",
    "person_detail",
    "read_card",
    "read_entitlement",
    "read_person",
    "read_reconciliation",
    "register_person",
    "register_provisional",
    "render_card",
    "replace_card",
    "resolve_reconciliation",
    "search_persons",
    "stats_for",
    "update_entitlement",
]

#: The card renderings and their media types.
RENDERINGS: Final = {
    "qr.png": "image/png",
    "qr.svg": "image/svg+xml",
    "card.png": "image/png",
    "print.pdf": "application/pdf",
}
#: At most this many people answer a name and date-of-birth search.
SEARCH_LIMIT: Final = 50
#: The people of one province born on one day read to compare names (a province of ten million
#: has about 300 a day; more than this and the search asks for a narrower one).
_SEARCH_SCAN: Final = 20_000


# -- registry ---------------------------------------------------------------------------------


def _registration_province(principal: Principal, requested: str | None) -> str:
    """The province a new person is registered in: the officer's own, or the admin's choice."""
    if principal.role == "national_admin":
        if requested is None:
            raise InvalidInputError(
                "province is required for a national administrator",
                message_vi="Quản trị viên cấp quốc gia cần ghi rõ tỉnh (province).",
            )
        return current_province(requested).code
    if requested is not None:
        raise ProblemError(
            "server-owned-field",
            detail="province is set by the server from your account",
            detail_vi="Tỉnh do hệ thống lấy theo tài khoản của bạn, không được gửi lên.",
            errors=[
                {"loc": ["body", "province"], "msg": "server-owned field", "type": "server_owned"}
            ],
        )
    assert principal.province is not None  # noqa: S101 - officers always have one
    return principal.province


def _data(body: RegisterIn | ProvisionalIn, commune: str | None = None) -> PersonData:
    return PersonData(
        full_name=clean_name(body.full_name, "full_name"),
        date_of_birth=body.date_of_birth,
        sex=body.sex,
        hometown=clean_text(body.hometown, "hometown") if body.hometown else None,
        permanent_address=(
            clean_text(body.permanent_address, "permanent_address")
            if body.permanent_address
            else None
        ),
        commune=commune,
    )


@dataclass(frozen=True, slots=True)
class Registration:
    """What a registration did: a new or existing person, or a reconciliation to resolve.

    ``person`` is None when the registry holds different data (``reconciliation_id``,
    ``differing``): nothing was overwritten.
    """

    asxh_number: str
    created: bool
    person: PersonOut | None = None
    reconciliation_id: int | None = None
    differing: tuple[str, ...] = ()


def register_person(ctx: ServiceContext, actor: Actor, body: RegisterIn) -> Registration:
    """Register a person by PIN; the same PIN always gets the same mã số ASXH."""
    check_role(actor.principal, WRITERS)
    province = _registration_province(actor.principal, body.province)
    data = _data(body)
    with _transaction(ctx) as session:
        outcome = registry.register(
            session, ctx.protector, actor, province=province, pin=body.pin, data=data
        )
        number = outcome.person.asxh_number
        if outcome.reconciliation is not None:
            rec = outcome.reconciliation
            return Registration(
                number, created=False, reconciliation_id=rec.id, differing=tuple(rec.differing)
            )
        return Registration(
            number, created=outcome.created, person=person_out(session, ctx, outcome.person)
        )


def register_provisional(ctx: ServiceContext, actor: Actor, body: ProvisionalIn) -> PersonOut:
    """Register a person without a PIN (name, date of birth, sex, commune)."""
    check_role(actor.principal, WRITERS)
    province = _registration_province(actor.principal, body.province)
    data = _data(body, commune=clean_text(body.commune, "commune"))
    with _transaction(ctx) as session:
        person = registry.create_provisional(session, actor, province=province, data=data)
        return person_out(session, ctx, person)


def lookup_person(ctx: ServiceContext, actor: Actor, body: LookupIn) -> PersonOut:
    """The person with exactly one of PIN, CMND, BHXH number, BHYT card code, in scope.

    Every look-up, found or not, is audited (``person.lookup``, never the value looked up);
    not found raises :class:`NotFoundError` after that entry is committed.
    """
    check_role(actor.principal, READERS)
    given = {k: v for k, v in body.model_dump().items() if v is not None}
    if len(given) != 1:
        raise InvalidInputError(
            "give exactly one of pin, cmnd, bhxh_number, bhyt_code",
            message_vi="Hãy nhập đúng một trong các mã: số định danh, số CMND, mã số BHXH, "
            "mã thẻ BHYT.",
        )
    ((kind, value),) = given.items()
    out = None
    with _transaction(ctx) as session:
        if kind == "pin":
            person = registry.find_by_pin(session, ctx.protector, value)
        else:
            alias = {"cmnd": "cmnd", "bhxh_number": "bhxh", "bhyt_code": "bhyt"}[kind]
            person = registry.find_by_alias(session, ctx.protector, alias, value)
        if person is not None and in_scope(actor.principal, person.province):
            out = person_out(session, ctx, person)
        audit.record(
            session,
            actor,
            "person.lookup",
            "person",
            out.asxh_number if out else "-",
            province=out.province if out else actor.principal.province,
            detail={"kind": kind, "found": out is not None},
        )
    if out is None:  # after the commit: the look-up is audited either way
        raise NotFoundError("person")
    return out


def _fold(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _strip_marks(folded: str) -> str:
    # Casefolded already, so Đ is đ; đ is a letter of its own, not d with a mark, in Unicode.
    text = unicodedata.normalize("NFD", folded.replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c))


def name_key(name: str) -> tuple[str, bool]:
    """A name folded for comparison, and whether it was typed with Vietnamese diacritics.

    Case and spacing never matter. A name typed without diacritics ("Nguyen Van An") matches
    every spelling with them; one typed with them matches only the same diacritics (Nguyễn Văn
    Ân and Nguyễn Văn An are different people).
    """
    folded = _fold(name)
    return folded, _strip_marks(folded) != folded


def _same_name(stored: str, wanted: str, marked: bool) -> bool:
    folded = _fold(stored)
    return (folded if marked else _strip_marks(folded)) == wanted


def search_persons(ctx: ServiceContext, actor: Actor, body: SearchIn) -> list[PersonOut]:
    """People of the operator's province with this name and date of birth (at most 50).

    For when the card and the PIN are not at hand. Audited as ``person.search`` with the
    number of matches only (never the name or the date searched for).
    """
    check_role(actor.principal, READERS)
    wanted, marked = name_key(clean_name(body.full_name, "full_name"))
    with _transaction(ctx) as session:
        query = scoped(
            select(PersonRow).where(PersonRow.date_of_birth == body.date_of_birth),
            actor.principal,
            PersonRow.province,
        )
        rows = session.scalars(query.order_by(PersonRow.id).limit(_SEARCH_SCAN)).all()
        matches = [p for p in rows if _same_name(p.full_name, wanted, marked)][:SEARCH_LIMIT]
        found = [person_out(session, ctx, p) for p in matches]
        audit.record(
            session,
            actor,
            "person.search",
            "person",
            "-",
            province=actor.principal.province,
            detail={"kind": "name_dob", "found": len(found)},
        )
    return found


def read_person(ctx: ServiceContext, principal: Principal, number: str) -> PersonOut:
    """A person of the operator's province (NotFoundError for any other)."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        return person_out(session, ctx, get_person(session, principal, number))


@dataclass(frozen=True, slots=True)
class PersonDetail:
    """Everything the person page shows, read in one transaction."""

    person: PersonOut
    entitlements: list[EntitlementOut] = field(default_factory=list)
    cards: list[CardOut] = field(default_factory=list)
    reconciliations: list[ReconciliationOut] = field(default_factory=list)


def person_detail(ctx: ServiceContext, principal: Principal, number: str) -> PersonDetail:
    """A person in scope with their entitlements, cards (newest first) and open reconciliations."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        person = get_person(session, principal, number)
        entitlements = _entitlements(session, principal, person)
        cards = _cards(session, ctx, person)
        open_recs = session.scalars(
            select(ReconciliationRow)
            .where(ReconciliationRow.person_id == person.id, ReconciliationRow.state == "open")
            .order_by(ReconciliationRow.id)
        ).all()
        return PersonDetail(
            person=person_out(session, ctx, person),
            entitlements=entitlements,
            cards=cards,
            reconciliations=[reconciliation_out(session, r) for r in open_recs],
        )


def list_reconciliations(
    ctx: ServiceContext, principal: Principal, *, limit: int = 500
) -> list[ReconciliationOut]:
    """Open reconciliations the operator may see, oldest first."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        query = scoped(
            select(ReconciliationRow).where(ReconciliationRow.state == "open"),
            principal,
            ReconciliationRow.province,
        )
        rows = session.scalars(query.order_by(ReconciliationRow.id).limit(limit)).all()
        return [reconciliation_out(session, row) for row in rows]


def read_reconciliation(
    ctx: ServiceContext, principal: Principal, reconciliation_id: int
) -> ReconciliationOut:
    """A reconciliation in scope: submitted and current values of the differing fields."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        return reconciliation_out(
            session, get_reconciliation(session, principal, reconciliation_id)
        )


def resolve_reconciliation(
    ctx: ServiceContext, actor: Actor, reconciliation_id: int, body: ResolveIn
) -> ReconciliationOut:
    """Accept (all differing fields, or ``fields``) or reject the submitted values."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        row = get_reconciliation(session, actor.principal, reconciliation_id)
        registry.resolve_reconciliation(
            session,
            ctx.protector,
            actor,
            row,
            action=body.action,
            fields=body.fields,
            note=body.note,
        )
        return reconciliation_out(session, row)


# -- entitlements -----------------------------------------------------------------------------


def _entitlements(session: Any, principal: Principal, person: PersonRow) -> list[EntitlementOut]:
    rows = session.scalars(
        select(EntitlementRow)
        .where(EntitlementRow.person_id == person.id)
        .order_by(EntitlementRow.id)
    ).all()
    return [entitlement_out(principal, r, person.asxh_number) for r in rows]


def grant_entitlement(
    ctx: ServiceContext, actor: Actor, number: str, body: EntitlementIn
) -> EntitlementOut:
    """Grant a programme; ``category`` and ``bhyt_group`` are sensitive and never on a card."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        person = get_person(session, actor.principal, number)
        row = card_service.grant(
            session,
            ctx.programmes,
            actor,
            person,
            programme=body.programme,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            attributes=body.attributes,
            category=body.category,
            bhyt_group=body.bhyt_group,
        )
        return entitlement_out(actor.principal, row, person.asxh_number)


def list_entitlements(
    ctx: ServiceContext, principal: Principal, number: str
) -> list[EntitlementOut]:
    """All of a person's entitlements, current and past."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        return _entitlements(session, principal, get_person(session, principal, number))


def read_entitlement(
    ctx: ServiceContext, principal: Principal, entitlement_id: int
) -> EntitlementOut:
    """One entitlement in scope."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        row = get_entitlement(session, principal, entitlement_id)
        return entitlement_out(principal, row, row.person.asxh_number)


def update_entitlement(
    ctx: ServiceContext, actor: Actor, entitlement_id: int, body: EntitlementPatch
) -> EntitlementOut:
    """Change the window, attributes, category or BHYT group (the fields set in ``body``)."""
    check_role(actor.principal, WRITERS)
    changes = body.model_dump(exclude_unset=True)
    with _transaction(ctx) as session:
        row = get_entitlement(session, actor.principal, entitlement_id)
        card_service.update_entitlement(session, ctx.programmes, actor, row, changes)
        return entitlement_out(actor.principal, row, row.person.asxh_number)


def end_entitlement(
    ctx: ServiceContext, actor: Actor, entitlement_id: int, body: EndIn
) -> EntitlementOut:
    """End on ``end_date``; today or earlier also revokes its status entry at once."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        row = get_entitlement(session, actor.principal, entitlement_id)
        card_service.end_entitlement(
            session,
            actor,
            row,
            end_date=body.end_date,
            reason_code=body.reason_code,
            note=body.note,
        )
        return entitlement_out(actor.principal, row, row.person.asxh_number)


def change_entitlement(
    ctx: ServiceContext, actor: Actor, entitlement_id: int, action: str, body: StatusChangeIn
) -> EntitlementOut:
    """Revoke, suspend or reinstate one entitlement on every card that carries it."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        row = get_entitlement(session, actor.principal, entitlement_id)
        card_service.change_entitlement_status(
            session,
            actor,
            row,
            action=action,
            reason_code=body.reason_code,
            note=body.note,
        )
        return entitlement_out(actor.principal, row, row.person.asxh_number)


# -- cards ------------------------------------------------------------------------------------


def _cards(session: Any, ctx: ServiceContext, person: PersonRow) -> list[CardOut]:
    rows = session.scalars(
        select(CardRow).where(CardRow.person_id == person.id).order_by(CardRow.id.desc())
    ).all()
    return [card_out(session, ctx, r) for r in rows]


def issue_card(
    ctx: ServiceContext, actor: Actor, body: CardIn, *, idempotency_key: str | None = None
) -> tuple[CardOut, bool]:
    """Sign a card from the person's current entitlements; also whether it is new.

    A retry with the same ``idempotency_key`` returns the same card (``False``).
    """
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        person = get_person(session, actor.principal, body.asxh_number, for_update=True)
        guardian = body.guardian.model_dump() if body.guardian else None
        if guardian is not None:
            guardian["asxh_number"] = parse_asxh_number(guardian["asxh_number"]).value
            guardian["name"] = clean_name(guardian["name"], "guardian.name")
            card_service.check_guardian(session, actor, person, guardian)
        outcome = card_service.issue_card(
            session, ctx, actor, person, idempotency_key=idempotency_key, guardian=guardian
        )
        return card_out(session, ctx, outcome.card, carried=outcome.carried), outcome.created


def list_cards(ctx: ServiceContext, principal: Principal, number: str) -> list[CardOut]:
    """Every card issued to the person, newest first."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        return _cards(session, ctx, get_person(session, principal, number))


def read_card(ctx: ServiceContext, principal: Principal, serial: str) -> CardOut:
    """A card in scope."""
    check_role(principal, READERS)
    with reading(ctx) as session:
        return card_out(session, ctx, get_card(session, principal, serial))


def replace_card(ctx: ServiceContext, actor: Actor, serial: str, body: StatusChangeIn) -> CardOut:
    """A new card (new serial) from the current entitlements; the old card is revoked."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        old = get_card(session, actor.principal, serial)
        card = card_service.replace_card(
            session, ctx, actor, old, reason_code=body.reason_code, note=body.note
        )
        return card_out(session, ctx, card)


def change_card(
    ctx: ServiceContext, actor: Actor, serial: str, action: str, body: StatusChangeIn
) -> CardOut:
    """Revoke, suspend or reinstate a whole card (its status-list entry changes at once)."""
    check_role(actor.principal, WRITERS)
    with _transaction(ctx) as session:
        card = get_card(session, actor.principal, serial)
        card_service.change_card_status(
            session, actor, card, action=action, reason_code=body.reason_code, note=body.note
        )
        return card_out(session, ctx, card)


def render_card(
    ctx: ServiceContext, principal: Principal, serial: str, rendering: str
) -> tuple[bytes, str]:
    """A card's QR (PNG, SVG), card image (PNG) or print PDF, and its media type.

    Rendered on demand from the stored token: nothing is cached on disk.
    """
    from asxh_card.service import rendering as render  # noqa: PLC0415 - Pillow on demand

    check_role(principal, READERS)
    with reading(ctx) as session:
        card = get_card(session, principal, serial)
        token, text = card.token, card.qr_text
        issuer = session.get(IssuerRow, card.issuer_id)
        authority = issuer.name if issuer is not None else None
    data = render.render(  # an unknown rendering is refused before the token is parsed
        rendering, token=token, qr_text=text, registry=ctx.programmes, authority=authority
    )
    return data, RENDERINGS[rendering]


# -- statistics and the audit log -------------------------------------------------------------


def stats_for(
    ctx: ServiceContext,
    principal: Principal,
    *,
    province: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> stats.Stats:
    """Counts for ``province`` or every province the operator sees (officers: their own)."""
    check_role(principal, READERS)
    provinces: list[str] | None
    if province is not None:
        provinces = [province_for(principal, province)]
    elif principal.is_national:
        provinces = None
    else:
        provinces = [principal.province] if principal.province else []
    with reading(ctx) as session:
        return stats.compute(session, provinces, since=since, until=until)


def audit_page(
    ctx: ServiceContext,
    principal: Principal,
    *,
    limit: int = 100,
    before_id: int | None = None,
    roles: Collection[str] = READERS,
) -> list[dict[str, Any]]:
    """Audit entries newest first, ``limit`` of them before ``before_id``; province-scoped."""
    check_role(principal, roles)
    with reading(ctx) as session:
        query = scoped(select(AuditEventRow), principal, AuditEventRow.province)
        if before_id is not None:
            query = query.where(AuditEventRow.id < before_id)
        rows = session.scalars(query.order_by(AuditEventRow.id.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "role": r.role,
                "action": r.action,
                "object_type": r.object_type,
                "object_id": r.object_id,
                "province": r.province,
                "detail": r.detail,
                "request_id": r.request_id,
            }
            for r in rows
        ]
