"""Administration: issuers and their keys, operator accounts, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from asxh_card._core.timeutil import utc_now
from asxh_card.provinces import current_province
from asxh_card.service import audit, operators, rotation, usecases
from asxh_card.service.deps import Admin, AdminActor, Ctx, Reader, reading, transaction
from asxh_card.service.errors import ConflictError
from asxh_card.service.models import IssuerRow, OperatorRow
from asxh_card.service.routes._common import IssuerIdPath, problems
from asxh_card.service.schemas import (
    IssuerIn,
    IssuerOut,
    KeyIn,
    KeyOut,
    KeyRetireIn,
    OperatorChangeIn,
    OperatorIn,
    OperatorOut,
    PasswordResetIn,
)

router = APIRouter(tags=["admin"])

KidPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _insert_or_conflict(session: Session, row: IssuerRow, detail: str) -> None:
    # Only issuers are inserted here (the Vietnamese message names them).
    """Insert ``row`` or answer 409: the unique key decides, so concurrent requests do too."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise ConflictError(detail, message_vi="Đã có đơn vị cấp thẻ với mã này.") from None


def issuer_out(issuer: IssuerRow) -> IssuerOut:
    """Response body of an issuer."""
    return IssuerOut(
        id=issuer.id,
        name=issuer.name,
        province=issuer.province,
        programmes=list(issuer.programmes),
        keys=[
            KeyOut(
                kid=k.kid,
                alg=k.alg,
                state=k.state,
                not_before=k.not_before,
                not_after=k.not_after,
                jwk=dict(k.public_jwk),
            )
            for k in issuer.keys
        ],
    )


@router.get(
    "/v1/admin/issuers",
    response_model=list[IssuerOut],
    summary="List issuers",
    responses=problems("forbidden"),
)
def list_issuers(ctx: Ctx, _admin: Admin) -> list[IssuerOut]:
    """Every issuer with its keys."""
    with reading(ctx) as session:
        rows = session.scalars(
            select(IssuerRow).options(selectinload(IssuerRow.keys)).order_by(IssuerRow.id)
        )
        return [issuer_out(r) for r in rows]


@router.post(
    "/v1/admin/issuers",
    response_model=IssuerOut,
    status_code=201,
    summary="Register an issuer",
    responses=problems("forbidden", "conflict"),
)
def create_issuer(body: IssuerIn, ctx: Ctx, actor: AdminActor) -> IssuerOut:
    """Register an issuing authority; then generate its first key."""
    current_province(body.province)
    for code in body.programmes:
        ctx.programmes.get(code)
    with transaction(ctx) as session:
        issuer = IssuerRow(
            id=body.id,
            name=body.name,
            province=body.province,
            programmes=sorted(set(body.programmes)),
            created_at=utc_now(),
        )
        _insert_or_conflict(session, issuer, "an issuer with this id exists")
        audit.record(
            session,
            actor,
            "issuer.create",
            "issuer",
            issuer.id,
            province=issuer.province,
        )
        return issuer_out(issuer)


@router.post(
    "/v1/admin/issuers/{issuer_id}/keys",
    response_model=IssuerOut,
    status_code=201,
    summary="Generate a new signing key, now or pre-published with a future not_before",
    responses=problems("forbidden", "not-found", "conflict", "validation-error"),
)
def create_key(issuer_id: IssuerIdPath, body: KeyIn, ctx: Ctx, actor: AdminActor) -> IssuerOut:
    """Generate a key that signs from ``not_before`` (default now); older keys stop then.

    The private key is written encrypted under the var directory. Verifiers trust it once a
    root-signed bundle lists it (``GET /v1/admin/registry`` for the ceremony): with a future
    ``not_before`` that bundle can be published before the switch.
    """
    with transaction(ctx) as session:
        rotation.rotate_key(session, ctx, actor, issuer_id, at=body.not_before, alg=body.alg)
        issuer = session.get(IssuerRow, issuer_id)
        assert issuer is not None  # noqa: S101 - rotate_key found it
        session.refresh(issuer)
        return issuer_out(issuer)


#: No body: the cut-off is now.
_NOW = KeyRetireIn()


@router.post(
    "/v1/admin/issuers/{issuer_id}/keys/{kid}/retire",
    response_model=IssuerOut,
    summary="Retire a key at a cut-off time (cards signed before it stay valid)",
    responses=problems("forbidden", "not-found", "conflict", "validation-error"),
)
def retire_key(
    issuer_id: IssuerIdPath,
    kid: KidPath,
    ctx: Ctx,
    actor: AdminActor,
    body: KeyRetireIn = _NOW,
) -> IssuerOut:
    """The key signs nothing after ``at`` (default now).

    It stays in the registry until the last card it signed has expired.
    """
    with transaction(ctx) as session:
        rotation.retire_key(session, ctx, actor, issuer_id, kid, at=body.at)
        issuer = session.get(IssuerRow, issuer_id)
        assert issuer is not None  # noqa: S101 - retire_key found it
        session.refresh(issuer)
        return issuer_out(issuer)


@router.post(
    "/v1/admin/issuers/{issuer_id}/keys/{kid}/compromise",
    summary="A compromised key: remove it now and re-issue the current cards it signed",
    responses=problems("forbidden", "not-found"),
)
def compromise_key(
    issuer_id: IssuerIdPath,
    kid: KidPath,
    ctx: Ctx,
    actor: AdminActor,
    batch: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    """Remove ``kid`` and re-issue up to ``batch`` of its current cards with the new key.

    ``waiting: true``: no key of the published bundle may sign the status lists without
    ``kid``, so nothing was re-issued yet; publish a bundle naming ``new_kid`` and call again.
    Call again while ``remaining`` is above 0. The answer pairs old and new serials.
    """
    with transaction(ctx) as session:
        outcome = rotation.compromise_key(session, ctx, actor, issuer_id, kid, batch=batch)
        return {
            "kid": outcome.kid,
            "new_kid": outcome.new_kid,
            "waiting": outcome.waiting,
            "remaining": outcome.remaining,
            "reissued": [{"old": a, "new": b} for a, b in outcome.reissued],
        }


@router.get(
    "/v1/admin/registry",
    summary="The issuer registry for the next bundle ceremony (asxh bundle build --issuers)",
    responses=problems("forbidden"),
)
def issuer_registry(ctx: Ctx, _admin: Admin) -> dict[str, Any]:
    """Issuers, status bases and the public keys verifiers need, with their signing windows."""
    with reading(ctx) as session:
        return rotation.registry_document(session, ctx)


def operator_out(row: OperatorRow) -> OperatorOut:
    """Response body of an operator."""
    return OperatorOut(
        username=row.username,
        role=row.role,
        province=row.province,
        programmes=list(row.programmes),
        active=row.active,
        created_at=row.created_at,
    )


@router.get(
    "/v1/admin/operators",
    response_model=list[OperatorOut],
    summary="List operator accounts",
    responses=problems("forbidden"),
)
def list_operators(ctx: Ctx, _admin: Admin) -> list[OperatorOut]:
    """Every account (never the password hashes)."""
    with reading(ctx) as session:
        return [
            operator_out(r) for r in session.scalars(select(OperatorRow).order_by(OperatorRow.id))
        ]


@router.post(
    "/v1/admin/operators",
    response_model=OperatorOut,
    status_code=201,
    summary="Create an operator account",
    responses=problems("forbidden", "conflict"),
)
def create_operator(body: OperatorIn, ctx: Ctx, actor: AdminActor) -> OperatorOut:
    """Officers need a province and programmes; auditors may have a province."""
    with transaction(ctx) as session:
        row = operators.create_operator(
            session,
            ctx.passwords,
            ctx.programmes,
            actor,
            username=body.username,
            password=body.password,
            role=body.role,
            province=body.province,
            programmes=body.programmes,
        )
        return operator_out(row)


UsernamePath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]


@router.patch(
    "/v1/admin/operators/{username}",
    response_model=OperatorOut,
    summary="Disable or enable an account, or change its role, province or programmes",
    responses=problems("forbidden", "not-found", "conflict"),
)
def change_operator(
    username: UsernamePath, body: OperatorChangeIn, ctx: Ctx, actor: AdminActor
) -> OperatorOut:
    """Any change ends the account's current access tokens at once (they must log in again).

    ``province: null`` removes the province; a field left out stays as it is. Nobody disables
    or re-roles their own account, and the last active national administrator stays one.
    """
    change = operators.OperatorChange(
        active=body.active,
        role=body.role,
        province=body.province,
        set_province="province" in body.model_fields_set,
        programmes=body.programmes,
    )
    with transaction(ctx) as session:
        row = operators.change_operator(session, ctx.programmes, actor, username, change)
        return operator_out(row)


@router.post(
    "/v1/admin/operators/{username}/password",
    response_model=OperatorOut,
    summary="Reset an account's password (its access tokens stop working)",
    responses=problems("forbidden", "not-found"),
)
def reset_password(
    username: UsernamePath, body: PasswordResetIn, ctx: Ctx, actor: AdminActor
) -> OperatorOut:
    """Set a new password chosen by the administrator; tell it to the person out of band."""
    with transaction(ctx) as session:
        row = operators.reset_password(session, ctx.passwords, actor, username, body.password)
        return operator_out(row)


@router.get("/v1/audit", summary="The audit log (newest first)", responses=problems("forbidden"))
def audit_log(
    ctx: Ctx,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[dict[str, Any]]:
    """Who did what to which object, and when. Officers see their province only."""
    return usecases.audit_page(ctx, principal, limit=limit, before_id=before_id)
