"""Registry routes: register by PIN, provisional persons, PIN linking, aliases, look-ups.

Also the reconciliation of differing data. PINs travel only in request bodies, never in URLs.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from asxh_card.errors import InvalidInputError
from asxh_card.service import audit, registry
from asxh_card.service.deps import (
    Ctx,
    Reader,
    ReaderActor,
    WriterActor,
    in_scope,
    reading,
    scoped,
    transaction,
)
from asxh_card.service.errors import NotFoundError
from asxh_card.service.models import ReconciliationRow
from asxh_card.service.problems import ProblemError
from asxh_card.service.registry import PersonData, clean_name, clean_text
from asxh_card.service.routes._common import IdPath, NumberPath, problems
from asxh_card.service.schemas import (
    AliasIn,
    LinkPinIn,
    LookupIn,
    PersonOut,
    ProvisionalIn,
    ReconciliationOut,
    RegisterIn,
    ResolveIn,
)
from asxh_card.service.security import Principal
from asxh_card.service.views import get_person, get_reconciliation, person_out, reconciliation_out

router = APIRouter(tags=["registry"])


def _province_for(principal: Principal, requested: str | None) -> str:
    """The province a new person is registered in: the officer's own, or the admin's choice."""
    if principal.role == "national_admin":
        if requested is None:
            raise InvalidInputError(
                "province is required for a national administrator",
                message_vi="Quản trị viên cấp quốc gia cần ghi rõ tỉnh (province).",
            )
        from asxh_card.provinces import current_province  # noqa: PLC0415

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


@router.post(
    "/v1/persons",
    response_model=PersonOut,
    status_code=201,
    summary="Register a person by PIN → mã số ASXH",
    responses={
        200: {"description": "Already registered with the same data: the same mã số ASXH"},
        **problems(
            "invalid-identifier",
            "reconciliation-required",
            "forbidden",
            "conflict",
            "server-owned-field",
        ),
    },
)
def register_person(
    body: RegisterIn, ctx: Ctx, actor: WriterActor, response: Response
) -> PersonOut:
    """Register a person. The same PIN always gets the same mã số ASXH.

    When the PIN is already registered with a different name, date of birth, hometown or
    permanent address nothing is overwritten: the answer is a ``reconciliation-required``
    problem (409) listing the differing fields and the reconciliation to resolve.
    """
    province = _province_for(actor.principal, body.province)
    data = _data(body)
    with transaction(ctx) as session:
        outcome = registry.register(
            session,
            ctx.protector,
            actor,
            province=province,
            pin=body.pin,
            data=data,
        )
        if outcome.reconciliation is not None:
            rec = outcome.reconciliation
            raise_after = ProblemError(
                "reconciliation-required",
                detail="the registry holds different data for this PIN; an officer must resolve "
                f"reconciliation {rec.id}",
                detail_vi="Dữ liệu đã lưu cho số định danh này khác với dữ liệu vừa gửi; "
                f"cán bộ cần xử lý yêu cầu đối chiếu số {rec.id}.",
                asxh_number=outcome.person.asxh_number,
                reconciliation_id=rec.id,
                differing_fields=list(rec.differing),
            )
        else:
            raise_after = None
            body_out = person_out(session, ctx, outcome.person)
    if raise_after is not None:
        raise raise_after  # after the commit: the reconciliation is stored
    if not outcome.created:
        response.status_code = 200
    return body_out


@router.post(
    "/v1/persons/provisional",
    response_model=PersonOut,
    status_code=201,
    summary="Register a person without a PIN (provisional)",
    responses=problems("forbidden", "server-owned-field"),
)
def register_provisional(body: ProvisionalIn, ctx: Ctx, actor: WriterActor) -> PersonOut:
    """Register a person without a PIN (name, date of birth, sex, commune).

    The mã số ASXH given now stays the same when the PIN is linked later.
    """
    province = _province_for(actor.principal, body.province)
    data = _data(body, commune=clean_text(body.commune, "commune"))
    with transaction(ctx) as session:
        person = registry.create_provisional(session, actor, province=province, data=data)
        return person_out(session, ctx, person)


@router.post(
    "/v1/persons/lookup",
    response_model=PersonOut,
    summary="Find a person by PIN or a legacy alias (in the body)",
    responses=problems("not-found", "forbidden", "invalid-identifier"),
)
def lookup_person(body: LookupIn, ctx: Ctx, actor: ReaderActor) -> PersonOut:
    """Exactly one of ``pin``, ``cmnd``, ``bhxh_number``, ``bhyt_code``.

    Every look-up, found or not, is audited (``person.lookup``, never the value looked up).
    """
    given = {k: v for k, v in body.model_dump().items() if v is not None}
    if len(given) != 1:
        raise InvalidInputError(
            "give exactly one of pin, cmnd, bhxh_number, bhyt_code",
            message_vi="Hãy nhập đúng một trong các mã: số định danh, số CMND, mã số BHXH, "
            "mã thẻ BHYT.",
        )
    ((kind, value),) = given.items()
    out = None
    with transaction(ctx) as session:
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


@router.get(
    "/v1/persons/{number}",
    response_model=PersonOut,
    summary="Get a person by mã số ASXH",
    responses=problems("not-found", "forbidden"),
)
def read_person(number: NumberPath, ctx: Ctx, principal: Reader) -> PersonOut:
    """A person of your province (404 for any other)."""
    with reading(ctx) as session:
        return person_out(session, ctx, get_person(session, principal, number))


@router.post(
    "/v1/persons/{number}/pin",
    response_model=PersonOut,
    summary="Link a PIN to a provisional person",
    responses=problems("not-found", "forbidden", "conflict", "invalid-identifier"),
)
def link_pin(number: NumberPath, body: LinkPinIn, ctx: Ctx, actor: WriterActor) -> PersonOut:
    """The PIN is checked against the person's date of birth and sex; the number stays."""
    with transaction(ctx) as session:
        person = get_person(session, actor.principal, number)
        registry.link_pin(session, ctx.protector, actor, person, body.pin)
        return person_out(session, ctx, person)


@router.post(
    "/v1/persons/{number}/aliases",
    response_model=PersonOut,
    summary="Add a legacy alias (CMND, BHXH number, BHYT card code)",
    responses=problems("not-found", "forbidden", "conflict", "invalid-identifier"),
)
def add_alias(number: NumberPath, body: AliasIn, ctx: Ctx, actor: WriterActor) -> PersonOut:
    """Aliases are stored as keyed hashes and resolve to the person in look-ups."""
    with transaction(ctx) as session:
        person = get_person(session, actor.principal, number)
        registry.add_alias(
            session,
            ctx.protector,
            actor,
            person,
            kind=body.kind,
            value=body.value,
        )
        return person_out(session, ctx, person)


@router.get(
    "/v1/reconciliations",
    response_model=list[ReconciliationOut],
    summary="Open reconciliations of your province",
    responses=problems("forbidden"),
)
def list_reconciliations(ctx: Ctx, principal: Reader) -> list[ReconciliationOut]:
    """Registrations whose data differ from the registry, waiting for a decision."""
    with reading(ctx) as session:
        query = scoped(
            select(ReconciliationRow).where(ReconciliationRow.state == "open"),
            principal,
            ReconciliationRow.province,
        )
        rows = session.scalars(query.order_by(ReconciliationRow.id).limit(500)).all()
        return [reconciliation_out(session, row) for row in rows]


@router.get(
    "/v1/reconciliations/{reconciliation_id}",
    response_model=ReconciliationOut,
    summary="Get a reconciliation",
    responses=problems("not-found", "forbidden"),
)
def read_reconciliation(
    reconciliation_id: IdPath, ctx: Ctx, principal: Reader
) -> ReconciliationOut:
    """Submitted and current values of the differing fields."""
    with reading(ctx) as session:
        return reconciliation_out(
            session, get_reconciliation(session, principal, reconciliation_id)
        )


@router.post(
    "/v1/reconciliations/{reconciliation_id}/resolve",
    response_model=ReconciliationOut,
    summary="Resolve a reconciliation (accept or reject the submitted values)",
    responses=problems("not-found", "forbidden", "conflict"),
)
def resolve_reconciliation(
    reconciliation_id: IdPath, body: ResolveIn, ctx: Ctx, actor: WriterActor
) -> ReconciliationOut:
    """Accept or reject the submitted values.

    ``accept`` applies them (all differing fields, or ``fields``); ``reject`` keeps the
    registry's.
    """
    with transaction(ctx) as session:
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


__all__ = ["router"]
