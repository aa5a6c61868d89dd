"""BHYT levels that follow the beneficiary group: list outdated cards, re-issue them in bulk."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.service import bhyt
from asxh_card.service.audit import Actor
from asxh_card.service.deps import Ctx, Writer, WriterActor, reading
from asxh_card.service.errors import NotPermittedError
from asxh_card.service.routes._common import problems, province_for
from asxh_card.service.schemas import Day
from asxh_card.service.security import Principal

router = APIRouter(tags=["entitlements"])

OnQuery = Annotated[
    date | None,
    Query(description="The day the levels apply (YYYY-MM-DD, Vietnam); today by default"),
]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^\d{2}$")]


class OutdatedCardOut(BaseModel):
    """A current card whose BHYT level is not its beneficiary group's level on the day."""

    asxh_number: str
    serial: str
    entitlement_id: int
    bhyt_group: str
    card_level: int | None
    expected_level: int


class ReissueIn(BaseModel):
    """Which outdated cards to re-issue: all of the province (up to ``limit``) or ``serials``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"on": "2026-01-01", "limit": 500}]}
    )

    on: Day | None = None
    serials: (
        Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=1000)] | None
    ) = None
    limit: Annotated[int, Field(ge=1, le=5000)] = 1000


class ReissueOut(BaseModel):
    """New serial by old serial; the cards that could not be re-issued, with the reason."""

    reissued: dict[str, str]
    failed: dict[str, str]
    failed_vi: dict[str, str]


def _today() -> date:
    return vn_date(utc_now())


def _check_bhyt(principal: Principal) -> None:
    # The group reveals poverty or NCC status: only who manages BHYT sees or acts on it.
    if principal.role == "issuer_officer" and "BHYT" not in principal.programmes:
        raise NotPermittedError(
            "your account may not manage programme BHYT",
            message_vi="Tài khoản của bạn không được quản lý chế độ BHYT.",
        )


async def _bhyt_reader(principal: Writer) -> Principal:
    _check_bhyt(principal)  # a dependency: refused before the query or body is judged
    return principal


async def _bhyt_actor(actor: WriterActor) -> Actor:
    _check_bhyt(actor.principal)
    return actor


BhytManager = Annotated[Principal, Depends(_bhyt_reader)]
BhytActor = Annotated[Actor, Depends(_bhyt_actor)]


@router.get(
    "/v1/bhyt/outdated-levels",
    response_model=list[OutdatedCardOut],
    summary="Cards whose BHYT level is out of date for their beneficiary group",
    responses=problems("forbidden"),
)
def list_outdated(
    ctx: Ctx,
    principal: BhytManager,
    province: ProvinceQuery = None,
    on: OnQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[OutdatedCardOut]:
    """The province's current cards whose BHYT level differs from the group's level on ``on``.

    E.g. near-poor (CN) and social-pension (LH) holders printed at level 3 or 4 before
    1 Jan 2026, when both moved to level 2 (Resolution 261/2025/QH15). At most ``limit`` (1,000
    by default): re-issue them and ask again for the next ones. For a national administrator or
    an officer who manages BHYT (the group is sensitive).
    """
    target = province_for(principal, province)
    with reading(ctx) as session:
        rows = bhyt.outdated_cards(session, ctx.programmes, target, on or _today(), limit=limit)
    return [
        OutdatedCardOut(
            asxh_number=r.asxh_number,
            serial=r.serial,
            entitlement_id=r.entitlement_id,
            bhyt_group=r.group,
            card_level=r.card_level,
            expected_level=r.expected_level,
        )
        for r in rows
    ]


@router.post(
    "/v1/bhyt/outdated-levels/reissue",
    response_model=ReissueOut,
    summary="Re-issue the cards whose BHYT level is out of date",
    responses=problems("forbidden"),
)
async def reissue_outdated(
    ctx: Ctx, actor: BhytActor, body: ReissueIn, province: ProvinceQuery = None
) -> Any:
    """Update each entitlement's level and coverage and replace its card (old one superseded).

    One person per transaction; running it again re-issues nothing. An officer needs the BHYT
    programme, and a card that also carries programmes the officer may not manage is reported
    in ``failed`` (an officer who manages them re-issues it).
    """
    target = province_for(actor.principal, province)
    report = await run_in_threadpool(
        bhyt.reissue_outdated,
        ctx,
        actor,
        target,
        body.on or _today(),
        serials=body.serials,
        limit=body.limit,
    )
    return ReissueOut(reissued=report.reissued, failed=report.failed, failed_vi=report.failed_vi)
