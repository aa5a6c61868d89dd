"""Server-rendered web pages in Vietnamese (issue 12): Jinja2 templates, plain CSS, little JS.

:func:`install_web` adds the pages, the static files (served from this package, no CDN), the
session signer and the HTML error pages to an app. The pieces a page needs are in
:mod:`asxh_card.service.web.pages`; the words in :mod:`asxh_card.service.web.i18n`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from asxh_card.service.context import ServiceContext
from asxh_card.service.web import auth_pages, check_pages, console, console_ops
from asxh_card.service.web.pages import (
    STATIC_DIR,
    LoginRequiredError,
    login_redirect,
    problem_page,
)
from asxh_card.service.web.sessions import WebSessions

__all__ = ["install_web"]


def install_web(app: FastAPI, ctx: ServiceContext) -> None:
    """Add the web pages to ``app`` (after the API routers)."""
    app.state.web_sessions = WebSessions(
        ctx.settings.secret_key, minutes=ctx.settings.web_session_minutes
    )
    app.state.problem_page = problem_page
    app.add_exception_handler(LoginRequiredError, login_redirect)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth_pages, check_pages, console, console_ops):
        app.include_router(module.router)
