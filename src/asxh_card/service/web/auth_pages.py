"""The home page and the officer log-in and log-out pages.

Logging in goes through :func:`asxh_card.service.authn.log_in`, the very check of
``POST /v1/auth/token``: the same database-backed limits and lockout, the same bounded argon2
checks, the same audit entries (``operator.login`` / ``operator.login_failed``).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from asxh_card.service.authn import log_in
from asxh_card.service.deps import request_id
from asxh_card.service.errors import BusyError, RateLimitedError
from asxh_card.service.web.i18n import Translator, request_lang
from asxh_card.service.web.pages import (
    CheckedForm,
    optional_principal,
    render,
    safe_next,
    set_session_cookie,
    web_ctx,
    web_sessions,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_MAX_USERNAME: Final = 64
_MAX_PASSWORD: Final = 200


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Public landing page; a logged-in officer sees their role, scope and the navigation."""
    return render(request, "home.html")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", done: int = 0) -> Response:  # noqa: A002
    """The log-in form (an officer already logged in goes straight on)."""
    target = safe_next(next)
    if optional_principal(request) is not None:
        return RedirectResponse(target, 303)
    notice = "login.logged_out" if done == 1 else ("login.required" if target != "/" else None)
    return render(request, "login.html", {"next": target, "notice": notice, "error": None})


def _form_text(form: CheckedForm, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, form: CheckedForm) -> Response:
    """Check the form (CSRF first), log in through the API's own check, set the session."""
    t = Translator(request_lang(request))
    username = _form_text(form, "username")
    password = _form_text(form, "password")
    target = safe_next(_form_text(form, "next") or "/")
    ctx = web_ctx(request)

    def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        context = {"next": target, "notice": None, "error": error, "username": username[:64]}
        return render(
            request, "login.html", context, status_code=status, headers=headers, principal=None
        )

    shape_ok = (
        0 < len(username) <= _MAX_USERNAME
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in username)
        and len(password) <= _MAX_PASSWORD
        and "\x00" not in password
    )
    if not shape_ok:
        return again(t("login.failed"), 401)
    address = request.client.host if request.client else "unknown"
    try:
        principal = await run_in_threadpool(
            log_in, ctx, username, password, address=address, request_id=request_id(request)
        )
    except RateLimitedError as exc:
        wait = str(exc.retry_after)
        return again(t("login.limited", seconds=wait), 429, {"Retry-After": wait})
    except BusyError:
        return again(t("login.busy"), 503, {"Retry-After": "1"})
    if principal is None:
        return again(t("login.failed"), 401)
    value, _session = web_sessions(request).issue(principal)
    response = RedirectResponse(target, 303)
    set_session_cookie(request, response, value)
    return response


@router.post("/logout")
async def logout(request: Request, form: CheckedForm) -> Response:
    """End the session in this browser (CSRF-checked, so no other site can log you out)."""
    del form
    response = RedirectResponse("/login?done=1", 303)
    set_session_cookie(request, response, None)
    return response
