"""BHYT benefit levels that follow the beneficiary group: find outdated cards, re-issue them.

A BHYT entitlement may name its beneficiary group (``bhyt_group``, one of the codes of
``asxh_card/data/bhyt_groups.json``). The level follows from the group and the date, so a
card printed before a change (CN and LH moved to level 2 on 1 Jan 2026) carries a level that is
out of date. :func:`outdated_cards` lists a province's current cards whose BHYT level differs
from the group's level on a day; :func:`reissue_outdated` updates each entitlement's level and
coverage and replaces the card through the ordinary replace path (one current card per person,
the old one revoked as ``superseded``), one person per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from asxh_card.card import parse_card_jws
from asxh_card.errors import AsxhError
from asxh_card.programmes import Entitlement, ProgrammeRegistry
from asxh_card.programmes.bhyt import bhyt_group
from asxh_card.programmes.registry import bhyt_coverage_for_level
from asxh_card.service import cards as card_service
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.errors import TransitionError
from asxh_card.service.models import CardEntitlementRow, CardRow, EntitlementRow, PersonRow
from asxh_card.service.states import CURRENT

__all__ = ["OutdatedCard", "ReissueReport", "outdated_cards", "reissue_outdated"]

#: The note on every card revoked by a bulk re-issue (the audit log says who and when).
REISSUE_NOTE: Final = "BHYT benefit level follows the beneficiary group (bulk re-issue)"


@dataclass(frozen=True, slots=True)
class OutdatedCard:
    """A current card whose BHYT level is not the group's level on the day asked."""

    asxh_number: str
    serial: str
    entitlement_id: int
    group: str
    card_level: int | None
    expected_level: int


def _card_level(registry: ProgrammeRegistry, card: CardRow, position: int) -> int | None:
    """The BHYT level the card itself carries (its signed claim at ``position``)."""
    try:
        _jws, payload = parse_card_jws(card.token)
        claim = payload["ent"][position]
        level = Entitlement.from_claim(claim, registry=registry).attributes.get("level")
    except (AsxhError, KeyError, IndexError, TypeError):
        return None  # unreadable: reported as outdated, a re-issue fixes it
    return level if isinstance(level, int) else None


def outdated_cards(
    session: Session,
    registry: ProgrammeRegistry,
    province: str,
    day: date,
    *,
    limit: int | None = None,
) -> list[OutdatedCard]:
    """The province's current cards whose BHYT level differs from their group's level on ``day``.

    Only entitlements that name a group whose level the data settles on ``day`` are considered
    (PV, CT and the unverified codes are entered by hand). Ordered by mã số ASXH; at most
    ``limit`` cards. Each candidate card's signed payload is read (the level on the card, not
    the one stored since), so a large province takes a while.
    """
    rows = session.execute(
        select(CardRow, EntitlementRow, CardEntitlementRow.position, PersonRow.asxh_number)
        .join(CardEntitlementRow, CardEntitlementRow.card_id == CardRow.id)
        .join(EntitlementRow, EntitlementRow.id == CardEntitlementRow.entitlement_id)
        .join(PersonRow, PersonRow.id == CardRow.person_id)
        .where(
            CardRow.province == province,
            CardRow.state.in_(CURRENT),
            EntitlementRow.programme == "BHYT",
            EntitlementRow.state.in_(CURRENT),
            EntitlementRow.bhyt_group.is_not(None),
        )
        .order_by(PersonRow.asxh_number, CardRow.id)
    ).all()
    out: list[OutdatedCard] = []
    for card, entitlement, position, number in rows:
        assert entitlement.bhyt_group is not None  # noqa: S101 - filtered above
        expected = bhyt_group(entitlement.bhyt_group).level_on(day)
        if expected is None:
            continue
        level = _card_level(registry, card, position)
        if level != expected:
            out.append(
                OutdatedCard(
                    number, card.serial, entitlement.id, entitlement.bhyt_group, level, expected
                )
            )
            if limit is not None and len(out) >= limit:
                break
    return out


@dataclass(slots=True)
class ReissueReport:
    """What a bulk re-issue did: new serials by old serial, and the cards it could not redo."""

    reissued: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Old serial -> the reason (English; ``failed_vi`` has the Vietnamese)."""
    failed_vi: dict[str, str] = field(default_factory=dict)


def _relevel_one(session: Session, ctx: ServiceContext, actor: Actor, item: OutdatedCard) -> str:
    entitlement = session.get(EntitlementRow, item.entitlement_id)
    card = session.scalars(select(CardRow).where(CardRow.serial == item.serial)).one()
    if entitlement is None or card.state not in CURRENT:
        raise TransitionError(
            "the card or entitlement changed meanwhile",
            message_vi="Thẻ hoặc chế độ vừa được thay đổi trong lúc xử lý.",
        )
    attributes = dict(entitlement.attributes)
    if attributes.get("level") != item.expected_level:
        attributes["level"] = item.expected_level
        attributes["coverage"] = bhyt_coverage_for_level(item.expected_level)
        card_service.update_entitlement(
            session, ctx.programmes, actor, entitlement, {"attributes": attributes}
        )
    new = card_service.replace_card(
        session, ctx, actor, card, reason_code="superseded", note=REISSUE_NOTE
    )
    return new.serial


def reissue_outdated(
    ctx: ServiceContext,
    actor: Actor,
    province: str,
    day: date,
    *,
    serials: Sequence[str] | None = None,
    limit: int = 1000,
) -> ReissueReport:
    """Re-issue up to ``limit`` outdated cards of ``province`` (only ``serials`` when given).

    Each person is one transaction: a refusal (a card changed meanwhile, no signing key) is
    reported and the others go on. Running it again finds nothing left to do.
    """
    with session_scope(ctx.sessions) as session:
        items = outdated_cards(
            session, ctx.programmes, province, day, limit=None if serials else limit
        )
    if serials is not None:
        wanted = set(serials)
        items = [i for i in items if i.serial in wanted]
    report = ReissueReport()
    for item in items[:limit]:
        try:
            with session_scope(ctx.sessions) as session:
                report.reissued[item.serial] = _relevel_one(session, ctx, actor, item)
        except AsxhError as exc:
            report.failed[item.serial] = str(exc)[:300]
            report.failed_vi[item.serial] = str(getattr(exc, "message_vi", exc))[:300]
    return report
