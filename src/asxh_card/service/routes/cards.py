"""Entitlement and card routes: grant, update, end, issue, render, replace, revoke."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Request, Response

from asxh_card.service import usecases
from asxh_card.service.deps import Ctx, Reader, WriterActor
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
    return usecases.grant_entitlement(ctx, actor, number, body)


@router.get(
    "/v1/persons/{number}/entitlements",
    response_model=list[EntitlementOut],
    tags=["entitlements"],
    summary="List a person's entitlements",
    responses=problems("not-found", "forbidden"),
)
def list_entitlements(number: NumberPath, ctx: Ctx, principal: Reader) -> list[EntitlementOut]:
    """All entitlements, current and past."""
    return usecases.list_entitlements(ctx, principal, number)


@router.get(
    "/v1/entitlements/{entitlement_id}",
    response_model=EntitlementOut,
    tags=["entitlements"],
    summary="Get an entitlement",
    responses=problems("not-found", "forbidden"),
)
def read_entitlement(entitlement_id: IdPath, ctx: Ctx, principal: Reader) -> EntitlementOut:
    """One entitlement of your province."""
    return usecases.read_entitlement(ctx, principal, entitlement_id)


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
    return usecases.update_entitlement(ctx, actor, entitlement_id, body)


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
    return usecases.end_entitlement(ctx, actor, entitlement_id, body)


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
    return usecases.change_entitlement(ctx, actor, entitlement_id, action, body)


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
async def issue_card(
    *,
    request: Request,
    body: CardIn,
    ctx: Ctx,
    actor: WriterActor,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Sign a card with the province issuer's active key.

    Send an ``Idempotency-Key`` header: a retry with the same key returns the same card.
    """
    # The hot write path (issue 10, >= 250 cards/s): one hop to a worker thread for the
    # transaction, at most ASXH_ISSUANCE_CONCURRENCY at once (the app's limiter; the rest
    # wait here without a thread), and the answer encoded once (a plain ``def`` route hops
    # twice, the second time to validate the response model again).
    card, created = await anyio.to_thread.run_sync(
        partial(usecases.issue_card, ctx, actor, body, idempotency_key=idempotency_key),
        limiter=request.app.state.issuance_slots,
    )
    return Response(
        content=card.model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get(
    "/v1/persons/{number}/cards",
    response_model=list[CardOut],
    tags=["cards"],
    summary="List a person's cards",
    responses=problems("not-found", "forbidden"),
)
def list_cards(number: NumberPath, ctx: Ctx, principal: Reader) -> list[CardOut]:
    """Every card issued to the person, newest first."""
    return usecases.list_cards(ctx, principal, number)


@router.get(
    "/v1/cards/{serial}",
    response_model=CardOut,
    tags=["cards"],
    summary="Get a card",
    responses=problems("not-found", "forbidden"),
)
def read_card(serial: SerialPath, ctx: Ctx, principal: Reader) -> CardOut:
    """A card of your province (404 for any other)."""
    return usecases.read_card(ctx, principal, serial)


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
    return usecases.replace_card(ctx, actor, serial, body)


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
    return usecases.change_card(ctx, actor, serial, action, body)


# -- renderings -------------------------------------------------------------------------------

_FORMATS = usecases.RENDERINGS


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
    data, media_type = usecases.render_card(ctx, principal, serial, rendering)
    return Response(
        content=data, media_type=media_type, headers={"Cache-Control": "private, no-store"}
    )
