"""Issuer key rotation, retirement and compromise under the root-signed bundle (DESIGN.md §4).

The service holds issuer private keys but **no root key**: which keys verifiers trust, and
when each may sign, is what the last bundle signed offline says. So every change here is made
in the database first and reaches verifiers through the next ceremony (``asxh keys registry``
writes the issuer registry that ``asxh bundle build`` signs; ``asxh bundle publish`` uploads the
bundle):

- **Rotation** (:func:`rotate_key`): the next key is made now with a *future* ``not_before``
  (``at``) and goes into the next bundle beside the current key, which gets ``not_after = at``.
  Until ``at`` the current key signs cards and status lists; from ``at`` the new key does, and
  no bundle needs to change at that moment. Cards signed before stay valid.
- **Retirement** (:func:`retire_key`): a cut-off time (the key's ``not_after``); cards signed
  before it stay valid, nothing signed after it is. The key stays in the registry until the
  last current card it signed has expired (:func:`registry_document` then leaves it out).
- **Compromise** (:func:`compromise_key`): the key is removed at once (``retired``: it signs
  nothing more and leaves the registry), a replacement key is made when none may sign now, and
  the cards it signed are listed (:func:`cards_signed_by`) and re-issued with the new key, each
  old card revoked (reason ``key_compromise``). Revoking needs a key of the *published* bundle to
  sign the status lists (fail closed), so until the emergency bundle naming the new key is
  published the re-issue waits (:attr:`CompromiseOutcome.waiting`); run it again after the
  upload. It works in batches, each committed on its own, so it resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from asxh_card._core.keys import Algorithm, PublicKey
from asxh_card._core.timeutil import VN_TZ, utc_now
from asxh_card.card import ISSUER_ID_PATTERN
from asxh_card.errors import InvalidInputError
from asxh_card.provinces import current_province
from asxh_card.service import audit, bundles, cards, statuslists
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.errors import ConflictError, NotFoundError
from asxh_card.service.models import CardRow, IssuerKeyRow, IssuerRow
from asxh_card.service.states import CURRENT

__all__ = [
    "REASON",
    "CompromiseOutcome",
    "cards_signed_by",
    "compromise_key",
    "create_issuer",
    "registry_document",
    "retire_key",
    "rotate_key",
]

#: The revocation reason of cards re-issued because their key was compromised.
REASON: str = "key_compromise"

#: A scheduled switch must leave the ceremony some time (the bundle must reach verifiers).
_MIN_LEAD = timedelta(seconds=1)


@dataclass(slots=True)
class CompromiseOutcome:
    """The removed key, the key that signs from now on and each ``(old, new)`` serial.

    ``waiting``: no key of the published bundle may sign the issuer's status lists yet, so no
    card was re-issued; publish a bundle naming ``new_kid`` and run again. ``remaining``: the
    current cards of ``kid`` still to re-issue after this batch.
    """

    kid: str
    new_kid: str
    waiting: bool = False
    remaining: int = 0
    reissued: list[tuple[str, str]] = field(default_factory=list)


def _issuer(session: Session, issuer_id: str) -> IssuerRow:
    issuer = session.get(IssuerRow, issuer_id)
    if issuer is None:
        raise NotFoundError("issuer")
    return issuer


def _key(session: Session, issuer_id: str, kid: str) -> IssuerKeyRow:
    key = session.scalars(
        select(IssuerKeyRow)
        .where(IssuerKeyRow.issuer_id == issuer_id, IssuerKeyRow.kid == kid)
        .with_for_update()
    ).first()
    if key is None:
        raise NotFoundError("key")
    return key


def _whole_second(moment: datetime) -> datetime:
    """Bundle windows are whole seconds: keep the database's the same."""
    return moment.replace(microsecond=0)


def _vn(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds")


def create_issuer(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    issuer_id: str,
    *,
    name: str,
    province: str,
    programmes: list[str],
) -> IssuerKeyRow:
    """Register an issuing authority with its first signing key (signing from now); the key.

    Verifiers trust it once a root-signed bundle lists it (:func:`registry_document`).
    """
    if not ISSUER_ID_PATTERN.fullmatch(issuer_id):
        raise InvalidInputError(
            "the issuer id must be 1-40 characters a-z, 0-9, '.', '-'",
            message_vi="Mã cơ quan cấp gồm 1-40 ký tự a-z, 0-9, '.', '-'.",
        )
    current_province(province)
    for code in programmes:
        ctx.programmes.get(code)
    if not programmes:
        raise InvalidInputError(
            "give at least one programme", message_vi="Cần ít nhất một chương trình."
        )
    if session.get(IssuerRow, issuer_id) is not None:
        raise ConflictError("an issuer with this id exists")
    issuer = IssuerRow(
        id=issuer_id,
        name=name,
        province=province,
        programmes=sorted(set(programmes)),
        created_at=utc_now(),
    )
    session.add(issuer)
    session.flush()
    audit.record(session, actor, "issuer.create", "issuer", issuer_id, province=province)
    return rotate_key(session, ctx, actor, issuer_id)


def rotate_key(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    issuer_id: str,
    *,
    at: datetime | None = None,
    alg: Algorithm = "ES256",
) -> IssuerKeyRow:
    """A new key for ``issuer_id`` that signs from ``at`` (a future moment; None: now).

    The issuer's current keys get ``at`` as their cut-off. With ``at`` in the future the new
    key is pre-published: put it in the next bundle before ``at`` (``asxh keys registry``) and
    the switch needs no ceremony. Refused: ``at`` in the past, a second scheduled key.
    """
    issuer = _issuer(session, issuer_id)
    now = utc_now()
    if at is not None:
        at = _whole_second(at)
        if at < now + _MIN_LEAD:
            raise InvalidInputError(
                f"the new key's start {at.isoformat()} is not in the future",
                message_vi=f"Thời điểm khóa mới bắt đầu ký ({_vn(at)}) phải ở tương lai.",
            )
        scheduled = session.scalars(
            select(IssuerKeyRow).where(
                IssuerKeyRow.issuer_id == issuer_id,
                IssuerKeyRow.state == "active",
                IssuerKeyRow.not_before > now,
            )
        ).first()
        if scheduled is not None:
            raise ConflictError(
                f"key {scheduled.kid} is already scheduled to sign from "
                f"{_vn(scheduled.not_before)}; rotate after it starts"
            )
    key = ctx.keyring.create_issuer_key(session, issuer, alg=alg, not_before=at)
    audit.record(
        session,
        actor,
        "issuer.key",
        "issuer",
        issuer_id,
        province=issuer.province,
        detail={"kid": key.kid, "not_before": key.not_before.isoformat()},
    )
    return key


def retire_key(
    session: Session,
    ctx: ServiceContext,  # noqa: ARG001 - same shape as the other operations
    actor: Actor,
    issuer_id: str,
    kid: str,
    *,
    at: datetime | None = None,
) -> IssuerKeyRow:
    """Give ``kid`` a cut-off (``not_after``, default now): it signs nothing after it.

    Cards it signed before the cut-off stay valid; the key stays published until the last of
    them has expired. Refused: a cut-off before the key's window opens, a cut-off in the past
    that would strand current cards signed after it (re-issue those: ``compromise_key``), and
    leaving the issuer no key that signs after the cut-off (its status lists need one).
    """
    issuer = _issuer(session, issuer_id)
    key = _key(session, issuer_id, kid)
    if key.state == "retired":
        raise ConflictError(f"key {kid} is already removed")
    now = utc_now()
    cut = _whole_second(at) if at is not None else _whole_second(now)
    if cut < key.not_before:
        raise InvalidInputError(
            f"the cut-off {cut.isoformat()} is before the key's window opens",
            message_vi=(
                f"Thời điểm ngừng ký ({_vn(cut)}) sớm hơn lúc khóa bắt đầu ký "
                f"({_vn(key.not_before)})."
            ),
        )
    stranded = session.scalar(
        select(func.count())
        .select_from(CardRow)
        .where(
            CardRow.issuer_id == issuer_id,
            CardRow.kid == kid,
            CardRow.state.in_(CURRENT),
            CardRow.issued_at > cut + timedelta(seconds=1),
        )
    )
    if stranded:
        raise ConflictError(
            f"{stranded} current cards of key {kid} were signed after the cut-off; "
            "re-issue them first (the compromise procedure) or choose a later cut-off"
        )
    successor = session.scalars(
        select(IssuerKeyRow.kid).where(
            IssuerKeyRow.issuer_id == issuer_id,
            IssuerKeyRow.id != key.id,
            IssuerKeyRow.state.in_(("active", "retiring")),
            IssuerKeyRow.key_file.is_not(None),
            IssuerKeyRow.not_before <= cut,
            (IssuerKeyRow.not_after.is_(None)) | (IssuerKeyRow.not_after > cut),
        )
    ).first()
    if successor is None:
        # Status lists are signed only inside a key's window: with no key after the cut-off,
        # the issuer's lists would go stale and every card of it become "cannot check".
        raise ConflictError(
            f"no other key of {issuer_id} signs after the cut-off; rotate first "
            "(asxh keys rotate), then retire"
        )
    if key.not_after is None or key.not_after > cut:
        key.not_after = cut
    key.state = "retiring"
    session.flush()
    audit.record(
        session,
        actor,
        "issuer.key_retire",
        "issuer",
        issuer_id,
        province=issuer.province,
        detail={"kid": kid, "not_after": cut.isoformat()},
    )
    return key


def cards_signed_by(
    session: Session, issuer_id: str, kid: str, *, limit: int | None = None
) -> list[CardRow]:
    """The current (active or suspended) cards ``kid`` of ``issuer_id`` signed, oldest first."""
    query = (
        select(CardRow)
        .where(
            CardRow.issuer_id == issuer_id,
            CardRow.kid == kid,
            CardRow.state.in_(CURRENT),
        )
        .order_by(CardRow.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _current_count(session: Session, issuer_id: str, kid: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CardRow)
            .where(CardRow.issuer_id == issuer_id, CardRow.kid == kid, CardRow.state.in_(CURRENT))
        )
        or 0
    )


def compromise_key(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    issuer_id: str,
    kid: str,
    *,
    batch: int | None = None,
) -> CompromiseOutcome:
    """Remove ``kid`` now and re-issue (up to ``batch``) current cards it signed.

    Idempotent: the key is removed on the first call (and a replacement made if no other key
    may sign cards now); each call then re-issues what is left, once the published bundle lets
    the status lists be signed without ``kid``. Call it again until ``remaining`` is 0.
    """
    issuer = _issuer(session, issuer_id)
    key = _key(session, issuer_id, kid)
    first = key.state != "retired"
    now = utc_now()
    if first:
        key.state = "retired"
        if key.not_after is None or key.not_after > now:
            key.not_after = _whole_second(now)
        session.flush()
    new_key = ctx.keyring.active_key(session, issuer_id)
    if new_key is None:
        new_key = ctx.keyring.create_issuer_key(session, issuer, alg=key.alg)  # type: ignore[arg-type]
    outcome = CompromiseOutcome(kid=kid, new_kid=new_key.kid)
    signer = statuslists.signing_key(session, ctx.settings, ctx.keyring, issuer_id)
    if signer is None:
        outcome.waiting = True
    else:
        for card in cards_signed_by(session, issuer_id, kid, limit=batch):
            if card.state not in CURRENT:  # superseded by an earlier re-issue in this batch
                continue
            new = cards.replace_card(
                session, ctx, actor, card, reason_code=REASON, note=f"key {kid} compromised"
            )
            outcome.reissued.append((card.serial, new.serial))
    outcome.remaining = _current_count(session, issuer_id, kid)
    if first or outcome.reissued:
        audit.record(
            session,
            actor,
            "issuer.key_compromise",
            "issuer",
            issuer_id,
            province=issuer.province,
            detail={
                "kid": kid,
                "new_kid": new_key.kid,
                "reissued": len(outcome.reissued),
                "remaining": outcome.remaining,
            },
        )
    return outcome


def _in_use(session: Session, key: IssuerKeyRow, now: datetime) -> bool:
    """Whether ``key`` still belongs in the bundle: it may sign, or a card it signed is alive."""
    if key.not_after is None or key.not_after >= now:
        return True
    alive = session.scalars(
        select(CardRow.id)
        .where(
            CardRow.issuer_id == key.issuer_id,
            CardRow.kid == key.kid,
            CardRow.state.in_(CURRENT),
            CardRow.expires_at >= now,
        )
        .limit(1)
    ).first()
    return alive is not None


def registry_document(session: Session, ctx: ServiceContext) -> dict[str, Any]:
    """The issuer registry (``asxh bundle build --issuers``) for the next ceremony.

    Every issuer with its status base and the keys verifiers need: those that sign now or
    later, and retired-by-cut-off keys whose cards have not all expired. Removed (compromised)
    keys and keys whose last card expired are left out. Windows are ISO 8601 in Vietnam time.
    """
    now = utc_now()
    keep = {
        k.kid
        for k in session.scalars(
            select(IssuerKeyRow).where(IssuerKeyRow.state.in_(("active", "retiring")))
        )
        if _in_use(session, k, now)
    }
    issuers = []
    for entry in bundles.bundle_issuers(session, ctx.settings):
        keys = []
        for item in entry["keys"]:
            if PublicKey.from_jwk(item["jwk"]).kid not in keep:
                continue
            out: dict[str, Any] = {"jwk": item["jwk"]}
            for bound in ("not_before", "not_after"):
                if item.get(bound) is not None:
                    out[bound] = datetime.fromtimestamp(item[bound], VN_TZ).isoformat()
            keys.append(out)
        if keys:
            issuers.append({**entry, "keys": keys})
    return {"issuers": issuers}
