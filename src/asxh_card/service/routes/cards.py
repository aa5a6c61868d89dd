"""Entitlement and card routes: grant, update, end, issue, render, replace, revoke."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response
from sqlalchemy import select

from asxh_card.ids import parse_asxh_number
from asxh_card.service import cards as card_service
from asxh_card.service.deps import Ctx, Reader, WriterActor, reading, transaction
from asxh_card.service.models import CardRow, EntitlementRow, IssuerRow
from asxh_card.service.registry import clean_name
from asxh_card.service.routes._common import IdPath, NumberPath, SerialPath, problems
from asxh_card.service.schemas import (
    CardIn,
    CardOut,
    EndIn,
    EntitlementIn,
    EntitlementOut,
    EntitlementPatch,
    StatusChangeIn,
)
from asxh_card.service.views import (
    card_out,
    entitlement_out,
    get_card,
    get_entitlement,
    get_person,
)

router = APIRouter()

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        pattern=r"^[\x21-\x7e]{1,100}$",
        description="A retry with the same key returns the same card",
    ),
]
Action = Literal["revoke", "suspend", "reinstate"]


# -- entitlements -----------------------------------------------------------------------------


@router.post(
    "/v1/persons/{number}/entitlements",
    response_model=EntitlementOut,
    status_code=201,
    tags=["entitlements"],
    summary="Grant an entitlement",
    responses=problems(
        "not-found", "forbidden", "conflict", "invalid-entitlement", "server-owned-field"
    ),
)
def grant_entitlement(
    number: NumberPath, body: EntitlementIn, ctx: Ctx, actor: WriterActor
) -> EntitlementOut:
    """Grant a programme with its validity window and attributes.

    ``category`` (the sensitive reason) is stored and shown only to who manages the programme;
    it never goes on a card.
    """
    with transaction(ctx) as session:
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


@router.get(
    "/v1/persons/{number}/entitlements",
    response_model=list[EntitlementOut],
    tags=["entitlements"],
    summary="List a person's entitlements",
    responses=problems("not-found", "forbidden"),
)
def list_entitlements(number: NumberPath, ctx: Ctx, principal: Reader) -> list[EntitlementOut]:
    """All entitlements, current and past."""
    with reading(ctx) as session:
        person = get_person(session, principal, number)
        rows = session.scalars(
            select(EntitlementRow)
            .where(EntitlementRow.person_id == person.id)
            .order_by(EntitlementRow.id)
        ).all()
        return [entitlement_out(principal, r, person.asxh_number) for r in rows]


@router.get(
    "/v1/entitlements/{entitlement_id}",
    response_model=EntitlementOut,
    tags=["entitlements"],
    summary="Get an entitlement",
    responses=problems("not-found", "forbidden"),
)
def read_entitlement(entitlement_id: IdPath, ctx: Ctx, principal: Reader) -> EntitlementOut:
    """One entitlement of your province."""
    with reading(ctx) as session:
        row = get_entitlement(session, principal, entitlement_id)
        return entitlement_out(principal, row, row.person.asxh_number)


@router.patch(
    "/v1/entitlements/{entitlement_id}",
    response_model=EntitlementOut,
    tags=["entitlements"],
    summary="Update an entitlement",
    responses=problems("not-found", "forbidden", "conflict", "invalid-entitlement"),
)
def update_entitlement(
    entitlement_id: IdPath, body: EntitlementPatch, ctx: Ctx, actor: WriterActor
) -> EntitlementOut:
    """Change window, attributes or category; re-issue the card to carry the change."""
    changes = body.model_dump(exclude_unset=True)
    with transaction(ctx) as session:
        row = get_entitlement(session, actor.principal, entitlement_id)
        card_service.update_entitlement(session, ctx.programmes, actor, row, changes)
        return entitlement_out(actor.principal, row, row.person.asxh_number)


@router.post(
    "/v1/entitlements/{entitlement_id}/end",
    response_model=EntitlementOut,
    tags=["entitlements"],
    summary="End an entitlement",
    responses=problems("not-found", "forbidden", "conflict"),
)
def end_entitlement(
    entitlement_id: IdPath, body: EndIn, ctx: Ctx, actor: WriterActor
) -> EntitlementOut:
    """End on ``end_date``; today or earlier also revokes its status entry at once."""
    with transaction(ctx) as session:
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


@router.post(
    "/v1/entitlements/{entitlement_id}/{action}",
    response_model=EntitlementOut,
    tags=["entitlements"],
    summary="Revoke, suspend or reinstate one entitlement",
    responses=problems("not-found", "forbidden", "conflict"),
)
def change_entitlement(
    *,
    entitlement_id: IdPath,
    action: Action,
    body: StatusChangeIn,
    ctx: Ctx,
    actor: WriterActor,
) -> EntitlementOut:
    """Flip the entitlement's own status-list entry.

    Every card carrying it shows the change at once; the card's other entitlements stay valid.
    """
    with transaction(ctx) as session:
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


@router.post(
    "/v1/cards",
    response_model=CardOut,
    status_code=201,
    tags=["cards"],
    summary="Issue a card from the person's current entitlements",
    responses={
        200: {"description": "Idempotent replay: the card issued for this Idempotency-Key"},
        **problems(
            "not-found", "forbidden", "conflict", "idempotency-key-reused", "server-owned-field"
        ),
    },
)
def issue_card(
    *,
    body: CardIn,
    ctx: Ctx,
    actor: WriterActor,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CardOut:
    """Sign a card with the province issuer's active key.

    Send an ``Idempotency-Key`` header: a retry with the same key returns the same card.
    """
    with transaction(ctx) as session:
        person = get_person(session, actor.principal, body.asxh_number)
        guardian = body.guardian.model_dump() if body.guardian else None
        if guardian is not None:
            guardian["asxh_number"] = parse_asxh_number(guardian["asxh_number"]).value
            guardian["name"] = clean_name(guardian["name"], "guardian.name")
            card_service.check_guardian(session, actor, person, guardian)
        outcome = card_service.issue_card(
            session,
            ctx,
            actor,
            person,
            idempotency_key=idempotency_key,
            guardian=guardian,
        )
        if not outcome.created:
            response.status_code = 200
        return card_out(session, ctx, outcome.card)


@router.get(
    "/v1/persons/{number}/cards",
    response_model=list[CardOut],
    tags=["cards"],
    summary="List a person's cards",
    responses=problems("not-found", "forbidden"),
)
def list_cards(number: NumberPath, ctx: Ctx, principal: Reader) -> list[CardOut]:
    """Every card issued to the person, newest first."""
    with reading(ctx) as session:
        person = get_person(session, principal, number)
        rows = session.scalars(
            select(CardRow).where(CardRow.person_id == person.id).order_by(CardRow.id.desc())
        ).all()
        return [card_out(session, ctx, r) for r in rows]


@router.get(
    "/v1/cards/{serial}",
    response_model=CardOut,
    tags=["cards"],
    summary="Get a card",
    responses=problems("not-found", "forbidden"),
)
def read_card(serial: SerialPath, ctx: Ctx, principal: Reader) -> CardOut:
    """A card of your province (404 for any other)."""
    with reading(ctx) as session:
        return card_out(session, ctx, get_card(session, principal, serial))


@router.post(
    "/v1/cards/{serial}/replace",
    response_model=CardOut,
    status_code=201,
    tags=["cards"],
    summary="Replace a lost or damaged card",
    responses=problems("not-found", "forbidden", "conflict"),
)
def replace_card(
    *, serial: SerialPath, body: StatusChangeIn, ctx: Ctx, actor: WriterActor
) -> CardOut:
    """A new card (new serial) from the current entitlements; the old card is revoked."""
    with transaction(ctx) as session:
        old = get_card(session, actor.principal, serial)
        card = card_service.replace_card(
            session,
            ctx,
            actor,
            old,
            reason_code=body.reason_code,
            note=body.note,
        )
        return card_out(session, ctx, card)


@router.post(
    "/v1/cards/{serial}/{action}",
    response_model=CardOut,
    tags=["cards"],
    summary="Revoke, suspend or reinstate a whole card",
    responses=problems("not-found", "forbidden", "conflict"),
)
def change_card(
    *,
    serial: SerialPath,
    action: Action,
    body: StatusChangeIn,
    ctx: Ctx,
    actor: WriterActor,
) -> CardOut:
    """Flips the card-level status-list entry (visible in its status list at once)."""
    with transaction(ctx) as session:
        card = get_card(session, actor.principal, serial)
        card_service.change_card_status(
            session,
            actor,
            card,
            action=action,
            reason_code=body.reason_code,
            note=body.note,
        )
        return card_out(session, ctx, card)


# -- renderings -------------------------------------------------------------------------------

_FORMATS = {
    "qr.png": "image/png",
    "qr.svg": "image/svg+xml",
    "card.png": "image/png",
    "print.pdf": "application/pdf",
}


@router.get(
    "/v1/cards/{serial}/{rendering}",
    tags=["cards"],
    summary="Download the QR (PNG, SVG), the card image (PNG) or the print PDF",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media in sorted(set(_FORMATS.values()))},
            "description": "The rendering",
        },
        **problems("not-found", "forbidden"),
    },
)
def render_card(
    serial: SerialPath,
    rendering: Literal["qr.png", "qr.svg", "card.png", "print.pdf"],
    ctx: Ctx,
    principal: Reader,
) -> Response:
    """Rendered on demand from the stored token (nothing is cached on disk)."""
    from asxh_card.service import rendering as render  # noqa: PLC0415 - Pillow on demand

    with reading(ctx) as session:
        card = get_card(session, principal, serial)
        token, text = card.token, card.qr_text
        issuer = session.get(IssuerRow, card.issuer_id)
        authority = issuer.name if issuer is not None else None
    data = render.render(
        rendering, token=token, qr_text=text, registry=ctx.programmes, authority=authority
    )
    return Response(
        content=data,
        media_type=_FORMATS[rendering],
        headers={"Cache-Control": "private, no-store"},
    )
