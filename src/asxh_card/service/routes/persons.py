"""Registry routes: register by PIN, provisional persons, PIN linking, aliases, look-ups.

Also the reconciliation of differing data. PINs travel only in request bodies, never in URLs.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from asxh_card.service import registry, usecases
from asxh_card.service.deps import (
    Ctx,
    Reader,
    ReaderActor,
    WriterActor,
    transaction,
)
from asxh_card.service.problems import ProblemError
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
    SearchIn,
)
from asxh_card.service.views import get_person, person_out

router = APIRouter(tags=["registry"])


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
    outcome = usecases.register_person(ctx, actor, body)
    if outcome.reconciliation_id is not None:  # stored: the officer resolves it
        raise ProblemError(
            "reconciliation-required",
            detail="the registry holds different data for this PIN; an officer must resolve "
            f"reconciliation {outcome.reconciliation_id}",
            detail_vi="Dữ liệu đã lưu cho số định danh này khác với dữ liệu vừa gửi; "
            f"cán bộ cần xử lý yêu cầu đối chiếu số {outcome.reconciliation_id}.",
            asxh_number=outcome.asxh_number,
            reconciliation_id=outcome.reconciliation_id,
            differing_fields=list(outcome.differing),
        )
    assert outcome.person is not None  # noqa: S101 - no reconciliation: the person
    if not outcome.created:
        response.status_code = 200
    return outcome.person


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
    return usecases.register_provisional(ctx, actor, body)


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
    return usecases.lookup_person(ctx, actor, body)


@router.post(
    "/v1/persons/search",
    response_model=list[PersonOut],
    summary="Find people of your province by name and date of birth (in the body)",
    responses=problems("forbidden"),
)
def search_persons(body: SearchIn, ctx: Ctx, actor: ReaderActor) -> list[PersonOut]:
    """At most 50 people of your province with this name and date of birth.

    Case and spacing do not matter; a name typed without diacritics matches every spelling
    with them. Audited (``person.search``, the number found, never the name).
    """
    return usecases.search_persons(ctx, actor, body)


@router.get(
    "/v1/persons/{number}",
    response_model=PersonOut,
    summary="Get a person by mã số ASXH",
    responses=problems("not-found", "forbidden"),
)
def read_person(number: NumberPath, ctx: Ctx, principal: Reader) -> PersonOut:
    """A person of your province (404 for any other)."""
    return usecases.read_person(ctx, principal, number)


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
    return usecases.list_reconciliations(ctx, principal)


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
    return usecases.read_reconciliation(ctx, principal, reconciliation_id)


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
    return usecases.resolve_reconciliation(ctx, actor, reconciliation_id, body)


__all__ = ["router"]
