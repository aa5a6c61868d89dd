"""The card-check page for service points (issue 12 §2): public, no log-in.

A clerk takes a photo of the card's QR code (``capture="environment"`` opens the phone's
camera), picks an image, or pastes the QR text; the server checks it with the very verifier
``POST /v1/verify`` uses (:mod:`asxh_card.service.verifying`: same cache, same photo limits, same
three outcomes) and answers with a large banner: **valid**, **not valid** (the reason in plain
Vietnamese) or **cannot check** (the data is out of date: never shown as "not valid"), then the
holder, each programme with its state and dates, the guardian and when the data was signed, all
in Vietnam time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from asxh_card.ids import parse_asxh_number
from asxh_card.programmes.display import describe_attributes, format_period, programme_name
from asxh_card.service import verifying
from asxh_card.service.errors import BusyError
from asxh_card.service.problems import ProblemError
from asxh_card.service.web.i18n import MESSAGES, Translator, request_lang
from asxh_card.service.web.pages import check_csrf, render, web_ctx

__all__ = ["MAX_TEXT_CHARS", "router"]

router = APIRouter(include_in_schema=False)

#: Pasted QR text longer than this is refused (a card's QR text is at most about 7,100
#: characters; the API's JSON body limit is 16 KiB).
MAX_TEXT_CHARS: Final = 16_384
_PHOTO_FIELDS: Final = ("camera", "photo")


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request) -> Response:
    """The empty form."""
    return render(request, "check.html", {"outcome": None, "error": None})


def _again(request: Request, error: str, status: int) -> Response:
    return render(request, "check.html", {"outcome": None, "error": error}, status_code=status)


async def _read_form(request: Request) -> FormData | None:
    try:
        # Two file inputs (camera, gallery), the text, the CSRF token: nothing else.
        return await request.form(max_files=2, max_fields=4, max_part_size=64 * 1024)
    except HTTPException as exc:
        if exc.status_code == 413:  # the body passed the route's limit while being read
            raise
        return None
    except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
        return None


@router.post("/check", response_class=HTMLResponse)
async def check_submit(request: Request) -> Response:
    """Check the photo or the pasted text (CSRF-checked; size limits as ``/v1/verify``)."""
    t = Translator(request_lang(request))
    form = await _read_form(request)
    if form is None:
        return _again(request, t("check.error.form"), 422)
    try:
        await run_in_threadpool(check_csrf, request, form)
        photo: UploadFile | None = None
        for name in _PHOTO_FIELDS:
            value = form.get(name)
            if isinstance(value, UploadFile) and (value.size or value.filename):
                photo = value
                break
        data = await photo.read(verifying.MAX_PHOTO_BYTES + 1) if photo is not None else b""
        text_value = form.get("qr_text")
        text = text_value.strip() if isinstance(text_value, str) else ""
    finally:
        await form.close()
    ctx = web_ctx(request)
    if len(data) > verifying.MAX_PHOTO_BYTES:
        return _again(request, t("check.error.photo_too_large"), 413)
    if len(text) > MAX_TEXT_CHARS:
        return _again(request, t("check.error.text_too_large"), 413)
    if not data and not text:
        return _again(request, t("check.error.empty"), 422)
    try:
        checker = await run_in_threadpool(verifying.cached_checker, ctx)
        if data:
            result = await run_in_threadpool(verifying.check_photo, ctx, data, checker)
        else:
            # A pasted text often carries a line break or spaces around it: the clerk meant
            # the card, so they are dropped here (the API takes the text exactly).
            result = await run_in_threadpool(verifying.check_text, ctx, text, checker)
    except (ProblemError, BusyError) as exc:
        # The service cannot check now (its trust data, too many photos at once): "cannot
        # check", never "not valid".
        if t.lang == "vi":
            detail = getattr(exc, "detail_vi", None) or getattr(exc, "message_vi", None)
        else:
            detail = getattr(exc, "detail", None) or str(exc)
        return render(
            request,
            "check.html",
            {"outcome": "cannot_check", "error": None, "failure": {"message": detail or ""}},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return render(request, "check.html", _view(result, checker, t))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _view(result: dict[str, Any], checker: verifying.Checker, t: Translator) -> dict[str, Any]:
    """What the template shows for a result of :func:`verifying.answer`."""
    lang = t.lang
    outcome = str(result.get("outcome"))
    view: dict[str, Any] = {
        "outcome": outcome,
        "error": None,
    }
    if outcome != "valid":
        view["failure"] = {
            "headline": result.get(f"headline_{lang}", ""),
            "message": result.get(f"message_{lang}", ""),
            "reason": result.get("reason", ""),
        }
        return view
    holder = result["holder"]
    guardian = result.get("guardian")
    # When the card's issuer last signed its status lists: how recent "not revoked" is.
    view["data_signed_at"] = checker.lists_signed_at.get(result["issuer"]["id"])
    view["card"] = {
        "holder_name": holder["name"],
        "date_of_birth": _day(holder["date_of_birth"]),
        "sex": holder.get("sex"),
        "asxh_number": parse_asxh_number(holder["asxh_number"]).formatted,
        "issuer": result["issuer"]["name"],
        "serial": result["serial"],
        "expires_at": _moment(result["validity"]["expires_at"]),
        "checked_at": _moment(result["checked_at"]),
        "guardian": None
        if guardian is None
        else {
            "name": guardian["name"],
            "asxh_number": parse_asxh_number(guardian["asxh_number"]).formatted,
            "relation": guardian["relation"],
        },
        "programmes": [
            {
                "code": e["programme"],
                "name": programme_name(e["programme"], lang),
                "state": e["state"],
                "period": format_period(
                    date.fromisoformat(e["valid_from"]), _day(e["valid_to"]), lang
                ),
                "details": describe_attributes(e["programme"], e["attributes"], lang),
            }
            for e in result["entitlements"]
        ],
        "warnings": [
            t(f"warning.{w['code']}") if f"warning.{w['code']}" in MESSAGES else w["message"]
            for w in result.get("warnings", [])
        ],
    }
    return view
