"""The officer console (issue 12 §1): find and register people, entitlements, cards.

Every page calls the function of :mod:`asxh_card.service.usecases` that the HTTP API route
calls, with the form turned into the same ``*In`` model the API validates its JSON with: the
role, the province scope (another province's person is "not found"), the programme limits,
validation and the audit entry are the API's own. The page only decides what to show: buttons
and forms appear only for what the operator's role and programmes allow, and posting anyway is
refused by the same functions (403 page).

PINs are typed into POST forms only (never in a URL, never logged). Errors in a form come back
on the same page, in the operator's language, with what was typed (never the PIN again).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.errors import InvalidInputError
from asxh_card.ids import CccdQrRecord, parse_asxh_number
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.programmes.bhyt import bhyt_groups
from asxh_card.programmes.display import describe_attributes, programme_name
from asxh_card.service import usecases
from asxh_card.service.audit import Actor
from asxh_card.service.cccd_scan import MAX_PHOTO_BYTES, parse_scanned, read_cccd_photo
from asxh_card.service.deps import WRITERS, request_id
from asxh_card.service.errors import BusyError, NotFoundError, ServiceError
from asxh_card.service.problems import PROBLEM_TYPES, ProblemError, clean_errors, domain_problem
from asxh_card.service.schemas import (
    CardIn,
    CardOut,
    EndIn,
    EntitlementIn,
    EntitlementOut,
    EntitlementPatch,
    LookupIn,
    PersonOut,
    ReasonCode,
    RegisterIn,
    ResolveIn,
    SearchIn,
    StatusChangeIn,
)
from asxh_card.service.security import Principal
from asxh_card.service.states import CURRENT
from asxh_card.service.web.i18n import Translator, request_lang
from asxh_card.service.web.pages import (
    CheckedForm,
    PageReader,
    PageWriter,
    check_csrf,
    render,
    web_ctx,
)

__all__ = ["FORM_ERRORS", "REASON_CODES", "FormProblem", "attempt", "form_problem", "router"]


def _web_page(request: Request) -> None:
    # Errors of these paths are pages, whatever the client's Accept header says.
    request.state.web_page = True


router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(_web_page)])

#: The reasons an officer picks from (the API's ``ReasonCode``), in the order shown.
REASON_CODES: Final[tuple[str, ...]] = ReasonCode.__args__  # type: ignore[attr-defined]
#: Reasons that make sense for each action (the API accepts any; the form offers these first).
_ACTIONS: Final = ("suspend", "revoke", "reinstate")
_Model = TypeVar("_Model", bound=BaseModel)


# -- helpers ----------------------------------------------------------------------------------


def _actor(request: Request, principal: Principal) -> Actor:
    return Actor(principal, request_id(request))


def _field(form: FormData | Mapping[str, Any], name: str) -> str | None:
    """A form field as text, trimmed; ``None`` when absent or empty."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _lang(request: Request) -> str:
    return request_lang(request)


@dataclass(frozen=True, slots=True)
class FormProblem:
    """What went wrong with a form, in the operator's language, and the HTTP status."""

    status: int
    messages: tuple[str, ...]


def form_problem(request: Request, exc: Exception) -> FormProblem:
    """The message and status of a refused form (as the API would answer it)."""
    vi = _lang(request) == "vi"
    t = Translator(_lang(request))
    if isinstance(exc, ValidationError):
        messages = []
        for error in clean_errors(exc.errors()):
            name = next((str(p) for p in reversed(error["loc"]) if not str(p).isdigit()), "")
            key = f"field.{name}"
            label = t(key) if key in _known_keys() else name
            text = error["msg_vi"] if vi else error["msg"]
            if vi and ": " in text:
                text = text.split(": ", 1)[1]
            messages.append(f"{label}: {text}" if label else text)
        return FormProblem(422, tuple(messages) or (t("console.form_invalid"),))
    if isinstance(exc, ProblemError):
        text = (exc.detail_vi or exc.kind.title_vi) if vi else (exc.detail or exc.kind.title)
        return FormProblem(exc.status, (text,))
    if isinstance(exc, ServiceError):
        slug, _headers = domain_problem(exc)
        return FormProblem(PROBLEM_TYPES[slug].status, (exc.message("vi" if vi else "en"),))
    assert isinstance(exc, InvalidInputError)  # noqa: S101 - the caller catches only these
    return FormProblem(422, (exc.message_vi if vi else str(exc),))


def _known_keys() -> Mapping[str, object]:
    from asxh_card.service.web.i18n import MESSAGES  # noqa: PLC0415 - the one catalogue

    return MESSAGES


#: Errors a form shows on its own page; anything else (not found, a forbidden role, a bug)
#: becomes the error page.
FORM_ERRORS: Final = (ValidationError, InvalidInputError, ServiceError, ProblemError)


def attempt(request: Request, action: Callable[[], Any]) -> tuple[Any, FormProblem | None]:
    """Run ``action``; a refused form gives its problem (not found and 403 roles propagate)."""
    try:
        return action(), None
    except NotFoundError:
        raise
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return None, form_problem(request, exc)
    except FORM_ERRORS as exc:
        return None, form_problem(request, exc)


def _validated(model: type[_Model], data: Mapping[str, Any]) -> _Model:
    """The API's input model from form values (``None`` fields left out, as JSON omits them)."""
    return model.model_validate({k: v for k, v in data.items() if v is not None})


def _redirect(path: str, done: str | None = None) -> RedirectResponse:
    """POST-redirect-GET; ``done`` names the message shown on arrival (a catalogue key)."""
    return RedirectResponse(f"{path}?done={quote(done)}" if done else path, 303)


def _done(request: Request) -> str | None:
    """The arrival message key of a redirect, if it is one of ours."""
    done = request.query_params.get("done")
    return done if done in _DONE_KEYS else None


_DONE_KEYS: Final = frozenset(
    {
        "done.registered",
        "done.existing",
        "done.granted",
        "done.updated",
        "done.ended",
        "done.entitlement_changed",
        "done.issued",
        "done.replaced",
        "done.card_changed",
        "done.resolved",
    }
)


def may_write(principal: Principal | None) -> bool:
    """Whether the operator's role may change anything (officers and national admins)."""
    return principal is not None and principal.role in WRITERS


def manages(principal: Principal | None, programme: str) -> bool:
    """Whether the operator may grant or change ``programme`` (the API's programme limit)."""
    if principal is None or principal.role not in WRITERS:
        return False
    return principal.role == "national_admin" or programme in principal.programmes


def may_change_card(principal: Principal | None, card: CardOut) -> bool:
    """Whether the operator may revoke, suspend, reinstate or replace ``card`` as a whole."""
    return all(manages(principal, e.programme) for e in card.entitlements) and may_write(principal)


# -- find a person ----------------------------------------------------------------------------


@router.get("/persons", response_class=HTMLResponse)
def persons(request: Request, principal: PageReader) -> Response:
    """Find a person: by mã số ASXH, by PIN (a POST form) or by name and date of birth."""
    del principal  # the dependency admits readers only
    return render(request, "console/persons.html", _find_context())


def _find_context(**extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "kind": "number",
        "error": None,
        "results": None,
        "values": {},
        "not_found": False,
    }
    context.update(extra)
    return context


@router.post("/persons/find", response_class=HTMLResponse)
def find_person(request: Request, form: CheckedForm, principal: PageReader) -> Response:
    """One of three searches; a single match goes straight to the person's page."""
    ctx = web_ctx(request)
    kind = _field(form, "kind") or "number"
    actor = _actor(request, principal)
    values: dict[str, Any] = {}
    if kind == "pin":
        body: Callable[[], Any] = lambda: usecases.lookup_person(  # noqa: E731
            ctx, actor, _validated(LookupIn, {"pin": _field(form, "pin") or ""})
        )
    elif kind == "name":
        values = {
            "full_name": _field(form, "full_name") or "",
            "date_of_birth": _field(form, "date_of_birth") or "",
        }
        body = lambda: usecases.search_persons(ctx, actor, _validated(SearchIn, values))  # noqa: E731
    else:
        kind = "number"
        values = {"number": _field(form, "number") or ""}
        body = lambda: usecases.read_person(ctx, principal, values["number"])  # noqa: E731
    try:
        found, problem = attempt(request, body)
    except NotFoundError:
        context = _find_context(kind=kind, values=values, not_found=True)
        return render(request, "console/persons.html", context, status_code=404)
    if problem is not None:
        context = _find_context(kind=kind, values=values, error=problem)
        return render(request, "console/persons.html", context, status_code=problem.status)
    if isinstance(found, PersonOut):
        return _redirect(f"/console/persons/{found.asxh_number}")
    if len(found) == 1:
        return _redirect(f"/console/persons/{found[0].asxh_number}")
    context = _find_context(kind=kind, values=values, results=found, not_found=not found)
    return render(request, "console/persons.html", context, status_code=200 if found else 404)


# -- register ---------------------------------------------------------------------------------


def _register_context(principal: Principal, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "values": {},
        "error": None,
        "scan_error": None,
        "scanned": False,
        "needs_province": principal.role == "national_admin",
    }
    context.update(extra)
    return context


@router.get("/persons/new", response_class=HTMLResponse)
def register_form(request: Request, principal: PageWriter) -> Response:
    """The registration form, with a box for the CCCD QR text (scanned or pasted)."""
    return render(request, "console/register.html", _register_context(principal))


@router.post("/persons/new/scan", response_class=HTMLResponse)
async def register_scan(request: Request, principal: PageWriter) -> Response:
    """Pre-fill the form from the CCCD QR: its text (scanned or pasted) or a photo of it.

    The text goes through the library's parser (labels tolerated, ``cccd_scan``); a photo is
    read on the server with zxing-cpp, at most ``ctx.images`` at once, as on the check page.
    """
    form = await _scan_form(request)
    try:
        await run_in_threadpool(check_csrf, request, form)
        photo = form.get("photo")
        data = b""
        if isinstance(photo, UploadFile) and (photo.size or photo.filename):
            data = await photo.read(MAX_PHOTO_BYTES + 1)
        text = form.get("qr_text")
        text = text if isinstance(text, str) else ""
    finally:
        await form.close()
    ctx = web_ctx(request)

    def read() -> CccdQrRecord:
        if not data:
            return parse_scanned(text)
        with ctx.images:
            return parse_scanned(read_cccd_photo(data))

    try:
        record = await run_in_threadpool(read)
    except (InvalidInputError, BusyError) as exc:
        problem = form_problem(request, exc)
        context = _register_context(principal, scan_error=problem)
        return render(request, "console/register.html", context, status_code=problem.status)
    values = {
        "pin": record.pin.number,
        "full_name": record.full_name,
        "date_of_birth": record.date_of_birth.isoformat(),
        "sex": record.sex,
        "permanent_address": record.address,
        "cmnd": record.cmnd or "",
    }
    context = _register_context(principal, values=values, scanned=True)
    return render(request, "console/register.html", context)


async def _scan_form(request: Request) -> FormData:
    """The scan form: a photo (at most 8 MB), the QR text and the CSRF token."""
    try:
        return await request.form(max_files=1, max_fields=2, max_part_size=16 * 1024)
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
        raise ProblemError(
            "validation-error",
            detail="the form is malformed",
            detail_vi="Biểu mẫu gửi lên bị hỏng hoặc sai định dạng.",
        ) from None


@router.post("/persons/new", response_class=HTMLResponse)
def register_submit(request: Request, form: CheckedForm, principal: PageWriter) -> Response:
    """Register (``usecases.register_person``); different data open a reconciliation."""
    ctx = web_ctx(request)
    data = {
        name: _field(form, name)
        for name in ("pin", "full_name", "date_of_birth", "sex", "hometown", "permanent_address")
    }
    if principal.role == "national_admin":
        data["province"] = _field(form, "province")
    outcome, problem = attempt(
        request,
        lambda: usecases.register_person(
            ctx, _actor(request, principal), _validated(RegisterIn, data)
        ),
    )
    if problem is not None:
        # Everything typed comes back except the PIN (it is not echoed into a page again).
        values = {k: v or "" for k, v in data.items() if k != "pin"}
        context = _register_context(principal, values=values, error=problem)
        return render(request, "console/register.html", context, status_code=problem.status)
    assert isinstance(outcome, usecases.Registration)  # noqa: S101 - the function's type
    if outcome.reconciliation_id is not None:
        return _redirect(f"/console/reconciliations/{outcome.reconciliation_id}")
    done = "done.registered" if outcome.created else "done.existing"
    return _redirect(f"/console/persons/{outcome.asxh_number}", done)


# -- the person page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributeField:
    """One input of a programme's attributes in a grant or update form."""

    name: str
    type: str
    required: bool
    values: tuple[str, ...]
    minimum: int | None
    maximum: int | None
    max_length: int | None
    description: str


@dataclass(frozen=True, slots=True)
class ProgrammeForm:
    """A programme the operator may grant, with its attribute inputs."""

    code: str
    name: str
    fields: tuple[AttributeField, ...]


def _programme_forms(registry: ProgrammeRegistry, principal: Principal, lang: str) -> list[Any]:
    forms = []
    for programme in registry:
        if not manages(principal, programme.code):
            continue
        fields = tuple(
            AttributeField(
                name=spec.name,
                type=spec.type.value,
                required=spec.required,
                values=spec.values,
                minimum=spec.minimum,
                maximum=spec.maximum,
                max_length=spec.max_length,
                description=spec.description,
            )
            for spec in programme.attributes.values()
        )
        forms.append(ProgrammeForm(programme.code, programme_name(programme.code, lang), fields))
    return forms


def _attributes(registry: ProgrammeRegistry, programme: str, form: FormData) -> dict[str, Any]:
    """The attribute inputs of ``programme`` as the API's JSON would carry them.

    Integers are sent as integers when they look like one (else as text, which the API's
    model refuses with its own message). Empty inputs are left out (with a BHYT group, an
    empty level and coverage are the group's).
    """
    if programme not in registry:
        return {}
    out: dict[str, Any] = {}
    for spec in registry.get(programme).attributes.values():
        value = _field(form, f"attr_{spec.name}")
        if value is None:
            continue
        if spec.type.value == "int":
            digits = value.replace(".", "").replace(",", "").replace(" ", "")
            out[spec.name] = int(digits) if digits.isdigit() and len(digits) < 16 else value
        else:
            out[spec.name] = value
    return out


def _form_values(entitlement: EntitlementOut) -> dict[str, Any]:
    """The attributes the update form shows filled in.

    All but a grouped BHYT entitlement's level and coverage, shown empty: left empty, the
    group settles them (``cards.update_entitlement``).
    """
    return {
        k: v
        for k, v in entitlement.attributes.items()
        if not (entitlement.bhyt_group and k in ("level", "coverage"))
    }


def _attribute_text(entitlement: EntitlementOut, lang: str) -> str:
    return describe_attributes(entitlement.programme, entitlement.attributes, lang)


def _person_context(
    request: Request, principal: Principal, number: str, **extra: Any
) -> dict[str, Any]:
    ctx = web_ctx(request)
    lang = _lang(request)
    detail = usecases.person_detail(ctx, principal, number)
    context: dict[str, Any] = {
        "person": detail.person,
        "entitlements": detail.entitlements,
        "cards": detail.cards,
        "reconciliations": detail.reconciliations,
        "programme_forms": _programme_forms(ctx.programmes, principal, lang),
        "programme_name": lambda code: programme_name(code, lang, ctx.programmes),
        "attribute_text": lambda e: _attribute_text(e, lang),
        "may_write": may_write(principal),
        "manages": lambda code: manages(principal, code),
        "may_change_card": lambda card: may_change_card(principal, card),
        "is_current": lambda state: state in CURRENT,
        # With a BHYT group the level and coverage follow from it (and may have moved since,
        # as CN and LH did on 1 Jan 2026): the update form leaves them empty unless typed.
        "update_values": _form_values,
        "reason_codes": REASON_CODES,
        "bhyt_groups": sorted(bhyt_groups().values(), key=lambda g: g.code),
        "today": vn_date(utc_now()).isoformat(),
        "error": None,
        "error_form": None,
        "done": _done(request),
        "values": {},
        # The issue form's Idempotency-Key: a double click or a resent form gives one card.
        "issue_key": secrets.token_urlsafe(18),
    }
    context.update(extra)
    return context


@router.get("/persons/{number}", response_class=HTMLResponse)
def person_page(request: Request, number: str, principal: PageReader) -> Response:
    """A person of the operator's province: data, entitlements, cards, open reconciliations."""
    context = _person_context(request, principal, _person_number(number))
    return render(request, "console/person.html", context)


def _person_number(number: str) -> str:
    """The path's mã số ASXH, checked (a malformed one is not found, as a missing one)."""
    try:
        return parse_asxh_number(number).value
    except InvalidInputError:
        raise NotFoundError("person") from None


def _person_result(
    request: Request,
    principal: Principal,
    number: str,
    action: Callable[[], Any],
    *,
    done: str,
    form_name: str,
    values: Mapping[str, Any] | None = None,
) -> Response:
    """Run a person-page form; back to the page with the message, or with the error."""
    _result, problem = attempt(request, action)
    if problem is None:
        return _redirect(f"/console/persons/{number}", done)
    context = _person_context(
        request, principal, number, error=problem, error_form=form_name, values=values or {}
    )
    return render(request, "console/person.html", context, status_code=problem.status)


@router.post("/persons/{number}/entitlements", response_class=HTMLResponse)
def grant(request: Request, number: str, form: CheckedForm, principal: PageWriter) -> Response:
    """Grant a programme (``usecases.grant_entitlement``)."""
    ctx = web_ctx(request)
    number = _person_number(number)
    programme = _field(form, "programme") or ""
    group = _field(form, "bhyt_group")
    data = {
        "programme": programme,
        "valid_from": _field(form, "valid_from"),
        "valid_to": _field(form, "valid_to"),
        "attributes": _attributes(ctx.programmes, programme, form),
        "category": _field(form, "category"),
        "bhyt_group": group,
    }
    return _person_result(
        request,
        principal,
        number,
        lambda: usecases.grant_entitlement(
            ctx, _actor(request, principal), number, _validated(EntitlementIn, data)
        ),
        done="done.granted",
        form_name=f"grant-{programme}",
        values={k: v for k, v in data.items() if k != "attributes"},
    )


def _entitlement_person(request: Request, principal: Principal, entitlement_id: int) -> str:
    """The mã số ASXH of an entitlement in scope (not found otherwise)."""
    return usecases.read_entitlement(web_ctx(request), principal, entitlement_id).asxh_number


@router.post("/entitlements/{entitlement_id}/update", response_class=HTMLResponse)
def update(
    request: Request, entitlement_id: int, form: CheckedForm, principal: PageWriter
) -> Response:
    """Change the window, attributes, category or BHYT group (fields left empty stay)."""
    ctx = web_ctx(request)
    current = usecases.read_entitlement(ctx, principal, entitlement_id)
    group = _field(form, "bhyt_group")
    data: dict[str, Any] = {
        "valid_from": _field(form, "valid_from"),
        "valid_to": _field(form, "valid_to"),
        "category": _field(form, "category"),
        "bhyt_group": group,
    }
    attributes = _attributes(ctx.programmes, current.programme, form)
    if attributes:
        # A field left empty keeps what the form showed; what the group settles (level and
        # coverage) is cards.update_entitlement's rule, as for PATCH /v1/entitlements/{id}.
        data["attributes"] = {**_form_values(current), **attributes}
    return _person_result(
        request,
        principal,
        current.asxh_number,
        lambda: usecases.update_entitlement(
            ctx, _actor(request, principal), entitlement_id, _validated(EntitlementPatch, data)
        ),
        done="done.updated",
        form_name=f"entitlement-{entitlement_id}",
    )


@router.post("/entitlements/{entitlement_id}/end", response_class=HTMLResponse)
def end(
    request: Request, entitlement_id: int, form: CheckedForm, principal: PageWriter
) -> Response:
    """End an entitlement on a day (today or earlier revokes its status entry at once)."""
    ctx = web_ctx(request)
    number = _entitlement_person(request, principal, entitlement_id)
    data = {
        "end_date": _field(form, "end_date"),
        "reason_code": _field(form, "reason_code"),
        "note": _field(form, "note"),
    }
    return _person_result(
        request,
        principal,
        number,
        lambda: usecases.end_entitlement(
            ctx, _actor(request, principal), entitlement_id, _validated(EndIn, data)
        ),
        done="done.ended",
        form_name=f"entitlement-{entitlement_id}",
    )


def _status_change(form: FormData) -> StatusChangeIn:
    return _validated(
        StatusChangeIn, {"reason_code": _field(form, "reason_code"), "note": _field(form, "note")}
    )


@router.post("/entitlements/{entitlement_id}/status", response_class=HTMLResponse)
def change_entitlement(
    request: Request, entitlement_id: int, form: CheckedForm, principal: PageWriter
) -> Response:
    """Suspend, revoke or reinstate one entitlement (every card carrying it shows it)."""
    ctx = web_ctx(request)
    number = _entitlement_person(request, principal, entitlement_id)
    action = _field(form, "action") or ""
    if action not in _ACTIONS:
        raise NotFoundError("entitlement")
    return _person_result(
        request,
        principal,
        number,
        lambda: usecases.change_entitlement(
            ctx, _actor(request, principal), entitlement_id, action, _status_change(form)
        ),
        done="done.entitlement_changed",
        form_name=f"entitlement-{entitlement_id}",
    )


@router.post("/persons/{number}/cards", response_class=HTMLResponse)
def issue(request: Request, number: str, form: CheckedForm, principal: PageWriter) -> Response:
    """Issue a card from the current entitlements, with a guardian if one is named."""
    ctx = web_ctx(request)
    number = _person_number(number)
    guardian = None
    if _field(form, "guardian_number") or _field(form, "guardian_name"):
        guardian = {
            "asxh_number": _field(form, "guardian_number") or "",
            "name": _field(form, "guardian_name") or "",
            "relation": _field(form, "guardian_relation") or "guardian",
        }
    data = {"asxh_number": number, "guardian": guardian}
    # The form's one-time key: a double click or a resent form returns the same card.
    key = _field(form, "idempotency_key")
    if key is not None and (len(key) > 100 or not key.isascii() or not key.isprintable()):
        key = None

    def act() -> tuple[CardOut, bool]:
        return usecases.issue_card(
            ctx, _actor(request, principal), _validated(CardIn, data), idempotency_key=key
        )

    result, problem = attempt(request, act)
    if problem is not None:
        context = _person_context(
            request,
            principal,
            number,
            error=problem,
            error_form="issue",
            values={f"guardian_{k}": v for k, v in (guardian or {}).items()},
        )
        return render(request, "console/person.html", context, status_code=problem.status)
    card, _created = result
    return _redirect(f"/console/cards/{card.serial}", "done.issued")


# -- cards ------------------------------------------------------------------------------------


def _card_context(
    request: Request, principal: Principal, serial: str, **extra: Any
) -> dict[str, Any]:
    ctx = web_ctx(request)
    lang = _lang(request)
    card = usecases.read_card(ctx, principal, serial)
    person = usecases.read_person(ctx, principal, card.asxh_number)
    context: dict[str, Any] = {
        "card": card,
        "person": person,
        "programme_name": lambda code: programme_name(code, lang, ctx.programmes),
        "may_change": may_change_card(principal, card),
        "is_current": card.state in CURRENT,
        "reason_codes": REASON_CODES,
        "error": None,
        "done": _done(request),
    }
    context.update(extra)
    return context


@router.get("/cards/{serial}", response_class=HTMLResponse)
def card_page(request: Request, serial: str, principal: PageReader) -> Response:
    """A card: its picture, downloads, state and the actions the operator may take."""
    return render(request, "console/card.html", _card_context(request, principal, serial))


@router.get("/cards/{serial}/{rendering}")
def card_rendering(
    request: Request, serial: str, rendering: str, principal: PageReader
) -> Response:
    """The card's QR (PNG, SVG), card picture (PNG) or print PDF, rendered on demand."""
    if rendering not in usecases.RENDERINGS:
        raise NotFoundError("card")
    data, media_type = usecases.render_card(web_ctx(request), principal, serial, rendering)
    download = request.query_params.get("download") == "1"
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{serial}-{rendering}"'
    return Response(data, media_type=media_type, headers=headers)


def _card_result(
    request: Request, principal: Principal, serial: str, action: Callable[[], Any], done: str
) -> Response:
    result, problem = attempt(request, action)
    if problem is None:
        target = result.serial if isinstance(result, CardOut) else serial
        return _redirect(f"/console/cards/{target}", done)
    context = _card_context(request, principal, serial, error=problem)
    return render(request, "console/card.html", context, status_code=problem.status)


@router.post("/cards/{serial}/replace", response_class=HTMLResponse)
def replace(request: Request, serial: str, form: CheckedForm, principal: PageWriter) -> Response:
    """A new card (new serial) from the current entitlements; the old one is revoked."""
    ctx = web_ctx(request)
    return _card_result(
        request,
        principal,
        serial,
        lambda: usecases.replace_card(
            ctx, _actor(request, principal), serial, _status_change(form)
        ),
        "done.replaced",
    )


@router.post("/cards/{serial}/status", response_class=HTMLResponse)
def change_card(
    request: Request, serial: str, form: CheckedForm, principal: PageWriter
) -> Response:
    """Suspend, revoke or reinstate the whole card (its status list changes at once)."""
    ctx = web_ctx(request)
    action = _field(form, "action") or ""
    if action not in _ACTIONS:
        raise NotFoundError("card")
    return _card_result(
        request,
        principal,
        serial,
        lambda: usecases.change_card(
            ctx, _actor(request, principal), serial, action, _status_change(form)
        ),
        "done.card_changed",
    )


# -- reconciliations --------------------------------------------------------------------------


@router.get("/reconciliations", response_class=HTMLResponse)
def reconciliations(request: Request, principal: PageReader) -> Response:
    """Registrations whose data differ from the registry, waiting for a decision."""
    rows = usecases.list_reconciliations(web_ctx(request), principal)
    return render(request, "console/reconciliations.html", {"rows": rows, "done": _done(request)})


def _reconciliation_context(
    request: Request, principal: Principal, reconciliation_id: int, **extra: Any
) -> dict[str, Any]:
    row = usecases.read_reconciliation(web_ctx(request), principal, reconciliation_id)
    context: dict[str, Any] = {
        "row": row,
        "may_write": may_write(principal),
        "error": None,
        "done": _done(request),
    }
    context.update(extra)
    return context


@router.get("/reconciliations/{reconciliation_id}", response_class=HTMLResponse)
def reconciliation_page(
    request: Request, reconciliation_id: int, principal: PageReader
) -> Response:
    """Stored and submitted values side by side; accept all or some fields, or reject."""
    context = _reconciliation_context(request, principal, reconciliation_id)
    return render(request, "console/reconciliation.html", context)


@router.post("/reconciliations/{reconciliation_id}", response_class=HTMLResponse)
def resolve(
    request: Request, reconciliation_id: int, form: CheckedForm, principal: PageWriter
) -> Response:
    """Accept the chosen fields (all differing ones if none is ticked) or reject."""
    ctx = web_ctx(request)
    fields: Sequence[str] | None = [f for f in form.getlist("fields") if isinstance(f, str)]
    action = _field(form, "action")
    data = {
        "action": action,
        "fields": (fields or None) if action == "accept" else None,
        "note": _field(form, "note"),
    }
    result, problem = attempt(
        request,
        lambda: usecases.resolve_reconciliation(
            ctx, _actor(request, principal), reconciliation_id, _validated(ResolveIn, data)
        ),
    )
    if problem is not None:
        context = _reconciliation_context(request, principal, reconciliation_id, error=problem)
        return render(request, "console/reconciliation.html", context, status_code=problem.status)
    return _redirect(f"/console/persons/{result.asxh_number}", "done.resolved")
