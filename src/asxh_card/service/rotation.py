"""Key compromise: the key leaves the JWKS and the next bundle, its cards are re-issued.

A compromised issuer key cannot keep any card valid: every card it signed is revoked on its
status-list entry (which a verifier checks even before it loads the next bundle) and re-issued
with the issuer's new active key (:func:`asxh_card.service.cards.replace_card`, which signs the
person's current entitlements and revokes the card it supersedes). A key that is still the
issuer's only active key is first succeeded by a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now
from asxh_card.service import audit, cards
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.errors import NotFoundError
from asxh_card.service.models import CardRow, IssuerKeyRow, IssuerRow
from asxh_card.service.states import CURRENT

__all__ = ["CompromiseOutcome", "cards_signed_by", "compromise_key"]

#: The revocation reason of cards re-issued because their key was compromised.
REASON: str = "key_compromise"


@dataclass(slots=True)
class CompromiseOutcome:
    """The retired key, the key that signs from now on and each ``(old, new)`` serial."""

    kid: str
    new_kid: str
    reissued: list[tuple[str, str]] = field(default_factory=list)


def cards_signed_by(session: Session, issuer_id: str, kid: str) -> list[CardRow]:
    """The current (active or suspended) cards ``kid`` of ``issuer_id`` signed, oldest first."""
    return list(
        session.scalars(
            select(CardRow)
            .where(
                CardRow.issuer_id == issuer_id,
                CardRow.kid == kid,
                CardRow.state.in_(CURRENT),
            )
            .order_by(CardRow.id)
        )
    )


def compromise_key(
    session: Session, ctx: ServiceContext, actor: Actor, issuer_id: str, kid: str
) -> CompromiseOutcome:
    """Retire ``kid`` at once and re-issue every current card it signed with the new key."""
    key = session.scalars(
        select(IssuerKeyRow)
        .where(IssuerKeyRow.issuer_id == issuer_id, IssuerKeyRow.kid == kid)
        .with_for_update()
    ).first()
    if key is None:
        raise NotFoundError("key")
    issuer = session.get(IssuerRow, issuer_id)
    assert issuer is not None  # noqa: S101 - foreign key
    others = session.scalars(
        select(IssuerKeyRow.id).where(
            IssuerKeyRow.issuer_id == issuer_id,
            IssuerKeyRow.state == "active",
            IssuerKeyRow.kid != kid,
        )
    ).first()
    if others is None:
        ctx.keyring.create_issuer_key(session, issuer, alg=key.alg)  # type: ignore[arg-type]
    key.state = "retired"
    key.not_after = min(key.not_after or utc_now(), utc_now())
    session.flush()
    new_key = ctx.keyring.active_key(session, issuer_id)
    assert new_key is not None  # noqa: S101 - made above when missing
    outcome = CompromiseOutcome(kid=kid, new_kid=new_key.kid)
    for card in cards_signed_by(session, issuer_id, kid):
        if card.state not in CURRENT:  # superseded by an earlier re-issue in this loop
            continue
        new = cards.replace_card(
            session, ctx, actor, card, reason_code=REASON, note=f"key {kid} compromised"
        )
        outcome.reissued.append((card.serial, new.serial))
    audit.record(
        session,
        actor,
        "issuer.key_compromise",
        "issuer",
        issuer_id,
        province=issuer.province,
        detail={"kid": kid, "new_kid": new_key.kid, "reissued": len(outcome.reissued)},
    )
    return outcome
