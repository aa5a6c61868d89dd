"""What every web page uses: templates, the logged-in principal, role checks, CSRF, rendering.

A page handler in a router of this package looks like::

    @router.get("/persons", response_class=HTMLResponse)
    def persons(request: Request, principal: Annotated[Principal, Depends(page_roles(*READERS))]):
        ...
        return render(request, "persons.html", {"rows": rows})

    @router.post("/persons", response_class=HTMLResponse)
    def register(request: Request, form: CheckedForm, principal: PageWriter): ...

``page_roles`` reuses the API's role tuples (``deps.READERS``...) and the API enforces its own
rules again in the domain functions; ``render`` adds the language, the navigation for the
principal's role, the CSRF field helper and the security headers. Errors raised by a page (a
``ProblemError``, a domain error such as ``NotFoundError``) come back as an HTML page, not JSON
(:func:`problem_page`). See ``docs/web.md`` for the whole recipe.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from asxh_card import __version__
from asxh_card._core.timeutil import VN_TZ, as_aware
from asxh_card.errors import AsxhError, InvalidInputError
from asxh_card.provinces import current_province
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import single_read
from asxh_card.service.deps import ADMIN, ANY_ROLE, READERS, WRITERS
from asxh_card.service.operators import check_current
from asxh_card.service.problems import ProblemError
from asxh_card.service.security import Principal
from asxh_card.service.web.i18n import LANG_COOKIE, LANGS, Translator, request_lang
from asxh_card.service.web.sessions import (
    ANON_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    WebSession,
    WebSessions,
)

__all__ = [
    "ADMIN",
    "ANY_ROLE",
    "NAV",
    "READERS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "WRITERS",
    "CheckedForm",
    "LoginRequiredError",
    "NavItem",
    "PageAdmin",
    "PagePrincipal",
    "PageReader",
    "PageWriter",
    "check_csrf",
    "csrf_token",
    "is_web_request",
    "optional_principal",
    "page_principal",
    "page_roles",
    "problem_page",
    "render",
    "safe_next",
    "set_session_cookie",
    "templates",
    "web_ctx",
    "web_sessions",
]

HERE: Final = Path(__file__).parent
TEMPLATES_DIR: Final = HERE / "templates"
STATIC_DIR: Final = HERE / "static"

#: Paths that are the API or its documentation, never a web page (errors there stay JSON).
_API_PREFIXES: Final = ("/v1/", "/.well-known/", "/health/", "/openapi.json", "/docs", "/redoc")

#: Security headers of every page: no inline script or style, nothing from another origin
#: (the pages work on an offline provincial network), no framing (click-jacking).
PAGE_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages show personal data: never stored by the browser or a proxy.
    "Cache-Control": "no-store",
}


# -- templates ---------------------------------------------------------------------------------


def vn_date(value: date | datetime | None) -> str:
    """A calendar day as dd/mm/yyyy; a datetime is first put in Vietnam time (UTC+7)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = as_aware(value).astimezone(VN_TZ).date()
    return value.strftime("%d/%m/%Y")


def vn_datetime(value: datetime | int | None) -> str:
    """A moment as ``HH:MM dd/mm/yyyy`` in Vietnam time; an int is Unix seconds."""
    if value is None:
        return ""
    if isinstance(value, int):
        moment = datetime.fromtimestamp(value, VN_TZ)
    else:
        moment = as_aware(value).astimezone(VN_TZ)
    return moment.strftime("%H:%M %d/%m/%Y")


def province_name(code: str | None) -> str:
    """``Thành phố Hồ Chí Minh (79)`` for a current province code, else the code itself."""
    if not code:
        return ""
    try:
        return f"{current_province(code).name} ({code})"
    except InvalidInputError:
        return code


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # Every template is HTML: autoescape everything, whatever its file name.
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vn_date"] = vn_date
    env.filters["vn_datetime"] = vn_datetime
    env.filters["province_name"] = province_name
    env.globals["version"] = __version__
    return env


templates: Final = _build_env()


# -- navigation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NavItem:
    """A navigation entry: shown to ``roles`` (``None``: to everyone, logged in or not)."""

    key: str
    path: str
    roles: Sequence[str] | None = None

    def visible_to(self, principal: Principal | None) -> bool:
        """Whether the entry is shown to ``principal`` (``None``: not logged in)."""
        if self.roles is None:
            return True
        return principal is not None and principal.role in self.roles


#: The navigation bar in order. A page that only some roles may use lists those roles here
#: (the handler checks them again with ``page_roles``).
NAV: Final[list[NavItem]] = [
    NavItem("nav.home", "/"),
    NavItem("nav.check", "/check"),
    # The officer console (console.py, console_ops.py); each page checks the roles again.
    NavItem("nav.persons", "/console/persons", READERS),
    NavItem("nav.register", "/console/persons/new", WRITERS),
    NavItem("nav.reconciliations", "/console/reconciliations", READERS),
    NavItem("nav.imports", "/console/imports", READERS),
    NavItem("nav.dashboard", "/console/dashboard", READERS),
    NavItem("nav.audit", "/console/audit", ("auditor", "national_admin")),
    NavItem("nav.api_docs", "/docs", ANY_ROLE),
]


# -- the service context and sessions ----------------------------------------------------------


def web_ctx(request: Request) -> ServiceContext:
    """The app's service context."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def web_sessions(request: Request) -> WebSessions:
    """The app's session signer."""
    sessions: WebSessions = request.app.state.web_sessions
    return sessions


_UNSET: Final = object()


def current_session(request: Request) -> WebSession | None:
    """The request's valid session (cookie signature, expiry and the account's current state).

    Cached per request. The account check is the API's own (``check_current``): a disabled,
    re-roled or reset account's sessions end at once.
    """
    cached = getattr(request.state, "web_session", _UNSET)
    if cached is None or isinstance(cached, WebSession):
        return cached
    session = web_sessions(request).verify(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        with single_read(web_ctx(request).engine) as connection:
            if not check_current(connection, session.principal):
                session = None
    request.state.web_session = session
    return session


def optional_principal(request: Request) -> Principal | None:
    """The logged-in officer, or ``None`` (public pages)."""
    session = current_session(request)
    return session.principal if session is not None else None


class LoginRequiredError(AsxhError):
    """The page needs a log-in: answered by a redirect to ``/login?next=...``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def page_principal(request: Request) -> Principal:
    """The logged-in officer; without a valid session, a redirect to the log-in page."""
    principal = optional_principal(request)
    if principal is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequiredError(target if request.method == "GET" else "/")
    return principal


def page_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting only ``roles`` (the API's tuples); others get a 403 page."""

    def dependency(principal: Annotated[Principal, Depends(page_principal)]) -> Principal:
        if principal.role not in roles:
            raise ProblemError(
                "forbidden",
                detail=f"the {principal.role} role may not use this page",
                detail_vi="Vai trò của bạn không được phép dùng trang này.",
            )
        return principal

    return dependency


PagePrincipal = Annotated[Principal, Depends(page_principal)]
PageReader = Annotated[Principal, Depends(page_roles(*READERS))]
PageWriter = Annotated[Principal, Depends(page_roles(*WRITERS))]
PageAdmin = Annotated[Principal, Depends(page_roles(*ADMIN))]


def set_session_cookie(request: Request, response: Response, value: str | None) -> None:
    """Set (or, with ``None``, delete) the session cookie with the right attributes."""
    secure = web_ctx(request).settings.public_url.startswith("https://")
    if value is None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
        )
        return
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=web_sessions(request).lifetime,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


# -- CSRF --------------------------------------------------------------------------------------


def _binding(request: Request) -> str | None:
    session = current_session(request)
    if session is not None:
        return f"s:{session.sid}"
    anon = getattr(request.state, "new_anon", None) or request.cookies.get(ANON_COOKIE)
    if isinstance(anon, str) and 16 <= len(anon) <= 64:
        return f"a:{anon}"
    return None


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser's forms (creates the browser's binding cookie if needed)."""
    binding = _binding(request)
    if binding is None:
        request.state.new_anon = secrets.token_urlsafe(24)
        binding = f"a:{request.state.new_anon}"
    return web_sessions(request).csrf_token(binding)


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse (403 page) a form whose CSRF token does not match this browser's binding."""
    if not web_sessions(request).csrf_ok(_binding(request), form.get(CSRF_FIELD)):
        raise ProblemError(
            "forbidden",
            detail="the form's CSRF token is missing or does not match: reload the page",
            detail_vi="Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và gửi lại.",
        )


async def csrf_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF check (a dependency: ``form: CheckedForm``)."""
    form = await request.form()
    # The binding may need the session's account check (a database read): off the event loop.
    await run_in_threadpool(check_csrf, request, form)
    return form


CheckedForm = Annotated[FormData, Depends(csrf_form)]


# -- rendering ---------------------------------------------------------------------------------


def safe_next(value: object) -> str:
    """A local path to go back to after log-in (anything else, e.g. ``//evil``, is ``/``)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 for c in value) or len(value) > 500:
        return "/"
    return value


def _lang_url(request: Request, lang: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    query["lang"] = lang
    return f"{quote(request.url.path)}?{urlencode(query)}"


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    principal: Principal | object | None = _UNSET,
) -> HTMLResponse:
    """Render template ``name`` as a page for ``request`` (language, navigation, CSRF, headers).

    The template gets ``t`` (translate), ``lang``, ``principal`` (or ``None``), ``nav`` (the
    entries the role may see), ``csrf_field()`` (the hidden input every POST form includes),
    ``lang_url(code)``, ``demo`` and ``current_path``, plus ``context``.
    """
    lang = request_lang(request)
    who = optional_principal(request) if principal is _UNSET else principal
    assert who is None or isinstance(who, Principal)  # noqa: S101 - typed by the caller

    def csrf_field() -> Markup:
        token = csrf_token(request)
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)

    page: dict[str, Any] = {
        "request": request,
        "t": Translator(lang),
        "lang": lang,
        "langs": LANGS,
        "principal": who,
        "nav": [item for item in NAV if item.visible_to(who)],
        "csrf_field": csrf_field,
        "lang_url": lambda code: _lang_url(request, code),
        "demo": web_ctx(request).settings.demo,
        "current_path": request.url.path,
    }
    page.update(context or {})
    html = templates.get_template(name).render(page)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    for key, value in PAGE_HEADERS.items():
        response.headers.setdefault(key, value)
    secure = web_ctx(request).settings.public_url.startswith("https://")
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, path="/", secure=secure, samesite="lax"
        )
    new_anon = getattr(request.state, "new_anon", None)
    if isinstance(new_anon, str):
        response.set_cookie(
            ANON_COOKIE, new_anon, path="/", secure=secure, httponly=True, samesite="strict"
        )
    return response


def is_web_request(request: Request) -> bool:
    """Whether an error of ``request`` is shown as a page (a browser asking for HTML)."""
    if getattr(request.state, "web_page", False):
        return True
    path = request.url.path
    if path.startswith(_API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem_page(
    request: Request, body: Mapping[str, Any], headers: Mapping[str, str]
) -> Response | None:
    """The HTML form of a problem for a web request (``None``: answer JSON as usual).

    Installed as ``app.state.problem_page``; ``problems.problem_response`` asks it first.
    """
    if not is_web_request(request):
        return None
    status = int(body.get("status", 500))
    if status == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(safe_next(request.url.path))}", 303)
    # Only what is known already: an error page must not fail on the database again.
    cached = getattr(request.state, "web_session", None)
    principal = cached.principal if isinstance(cached, WebSession) else None
    lang = request_lang(request)
    context = {
        "status": status,
        "title": body.get("title_vi" if lang == "vi" else "title", ""),
        "detail": body.get("detail_vi") if lang == "vi" else body.get("detail") or "",
        "request_id": body.get("request_id"),
    }
    extra = {k: v for k, v in headers.items() if k.lower() == "retry-after"}
    return render(
        request, "error.html", context, status_code=status, headers=extra, principal=principal
    )


def login_redirect(request: Request, exc: Exception) -> Response:
    """Exception handler of :class:`LoginRequiredError`: to the log-in page, then back."""
    assert isinstance(exc, LoginRequiredError)  # noqa: S101 - registered for this type
    response = RedirectResponse(f"/login?{urlencode({'next': safe_next(exc.next_path)})}", 303)
    if request.cookies.get(SESSION_COOKIE):
        set_session_cookie(request, response, None)  # forged, expired or ended: drop it
    return response
