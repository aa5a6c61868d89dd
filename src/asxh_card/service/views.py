"""Database rows to response bodies, and province-scoped look-ups (foreign objects are 404)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from asxh_card.ids import mask_identifier, parse_asxh_number
from asxh_card.service import registry, statuslists
from asxh_card.service.cards import LOCKED_PERSONS, Carried
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import adopt, mapped_table
from asxh_card.service.deps import in_scope
from asxh_card.service.errors import NotFoundError
from asxh_card.service.models import (
    CardEntitlementRow,
    CardRow,
    EntitlementRow,
    PersonAliasRow,
    PersonRow,
    ReconciliationRow,
)
from asxh_card.service.schemas import (
    AliasOut,
    CardEntitlementOut,
    CardOut,
    EntitlementOut,
    PersonOut,
    ReconciliationOut,
    StatusRefOut,
)
from asxh_card.service.security import Principal

__all__ = [
    "card_out",
    "entitlement_out",
    "get_card",
    "get_entitlement",
    "get_person",
    "get_reconciliation",
    "person_out",
    "reconciliation_out",
]


_PERSONS: Final = mapped_table(PersonRow)
# Core, and the row adopted into the session (db.adopt): nearly every request reads a person.
_PERSON: Final = select(_PERSONS).where(_PERSONS.c.asxh_number == bindparam("number"))
_PERSON_TO_LOCK: Final = _PERSON.with_for_update()


def get_person(
    session: Session, principal: Principal, number: str, *, for_update: bool = False
) -> PersonRow:
    """The person with mã số ASXH ``number`` in the principal's scope (404 otherwise).

    ``for_update`` locks the person's row until the transaction ends (PostgreSQL; SQLite's
    writes take turns anyway), in the same statement: card issuance needs it.
    """
    value = parse_asxh_number(number).value
    session.flush()  # the Core read below must see the session's pending changes
    query = _PERSON_TO_LOCK if for_update else _PERSON
    row = session.connection().execute(query, {"number": value}).mappings().first()
    if row is None or not in_scope(principal, row["province"]):
        raise NotFoundError("person")
    if for_update:
        session.info.setdefault(LOCKED_PERSONS, set()).add(row["id"])
    return adopt(session, PersonRow, row)


def get_entitlement(session: Session, principal: Principal, entitlement_id: int) -> EntitlementRow:
    """An entitlement in scope (404 otherwise)."""
    row = session.get(EntitlementRow, entitlement_id)
    if row is None or not in_scope(principal, row.province):
        raise NotFoundError("entitlement")
    return row


def get_card(session: Session, principal: Principal, serial: str) -> CardRow:
    """A card in scope (404 otherwise)."""
    row = session.scalars(select(CardRow).where(CardRow.serial == serial)).first()
    if row is None or not in_scope(principal, row.province):
        raise NotFoundError("card")
    return row


def get_reconciliation(
    session: Session, principal: Principal, reconciliation_id: int
) -> ReconciliationRow:
    """A reconciliation in scope (404 otherwise)."""
    row = session.get(ReconciliationRow, reconciliation_id)
    if row is None or not in_scope(principal, row.province):
        raise NotFoundError("reconciliation")
    return row


def person_out(session: Session, ctx: ServiceContext, person: PersonRow) -> PersonOut:
    """Response body of a person."""
    aliases = session.scalars(
        select(PersonAliasRow)
        .where(PersonAliasRow.person_id == person.id)
        .order_by(PersonAliasRow.id)
    ).all()
    number = parse_asxh_number(person.asxh_number)
    return PersonOut(
        asxh_number=person.asxh_number,
        asxh_number_display=number.formatted,
        province=person.province,
        full_name=person.full_name,
        date_of_birth=person.date_of_birth,
        sex=person.sex,
        hometown=person.hometown,
        permanent_address=person.permanent_address,
        commune=person.commune,
        provisional=person.provisional,
        pin_masked=registry.pin_masked(ctx.protector, person),
        aliases=[AliasOut(kind=a.kind, masked=mask_identifier("*" * 6 + a.last3)) for a in aliases],
        created_at=person.created_at,
    )


def _may_see_category(principal: Principal, programme: str) -> bool:
    if principal.role == "national_admin":
        return True
    return principal.role == "issuer_officer" and programme in principal.programmes


def entitlement_out(principal: Principal, row: EntitlementRow, asxh_number: str) -> EntitlementOut:
    """Response body of an entitlement (category only for who may see it)."""
    return EntitlementOut(
        id=row.id,
        asxh_number=asxh_number,
        province=row.province,
        programme=row.programme,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        attributes=dict(row.attributes),
        category=row.category if _may_see_category(principal, row.programme) else None,
        bhyt_group=row.bhyt_group if _may_see_category(principal, row.programme) else None,
        state=row.state,
        reason_code=row.reason_code,
        note=row.note,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def card_out(
    session: Session,
    ctx: ServiceContext,
    card: CardRow,
    *,
    carried: Sequence[Carried] | None = None,
) -> CardOut:
    """Response body of a card; ``carried`` (a new card's entitlements) saves reading them."""
    person = session.get(PersonRow, card.person_id)
    assert person is not None  # noqa: S101 - foreign key
    uri = statuslists.list_uri(ctx.settings, card.issuer_id, card.status_list_id)
    if carried is None:
        carried = [
            Carried(link.entitlement_id, programme, link.position, link.status_idx)
            for link, programme in session.execute(
                select(CardEntitlementRow, EntitlementRow.programme)
                .join(EntitlementRow, EntitlementRow.id == CardEntitlementRow.entitlement_id)
                .where(CardEntitlementRow.card_id == card.id)
                .order_by(CardEntitlementRow.position)
            )
        ]
    entries = [
        CardEntitlementOut(
            id=link.entitlement_id,
            programme=link.programme,
            position=link.position,
            status=StatusRefOut(idx=link.status_idx, uri=uri),
        )
        for link in carried
    ]
    base = f"/v1/cards/{card.serial}"
    return CardOut(
        serial=card.serial,
        asxh_number=person.asxh_number,
        province=card.province,
        issuer=card.issuer_id,
        kid=card.kid,
        state=card.state,
        reason_code=card.reason_code,
        note=card.note,
        issued_at=card.issued_at,
        expires_at=card.expires_at,
        status=StatusRefOut(idx=card.status_idx, uri=uri),
        entitlement_ids=sorted(e.id for e in entries),
        entitlements=entries,
        replaces_serial=card.replaces_serial,
        replaced_by_serial=card.replaced_by_serial,
        token=card.token,
        qr_text=card.qr_text,
        links={
            "self": base,
            "qr_png": f"{base}/qr.png",
            "qr_svg": f"{base}/qr.svg",
            "card_png": f"{base}/card.png",
            "print_pdf": f"{base}/print.pdf",
        },
    )


def reconciliation_out(session: Session, row: ReconciliationRow) -> ReconciliationOut:
    """Response body of a reconciliation."""
    person = session.get(PersonRow, row.person_id)
    assert person is not None  # noqa: S101 - foreign key
    current = registry.person_values(person)
    return ReconciliationOut(
        id=row.id,
        asxh_number=person.asxh_number,
        province=row.province,
        state=row.state,
        differing=list(row.differing),
        submitted=dict(row.submitted),
        current={k: current[k] for k in row.differing},
        resolution=row.resolution,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )
