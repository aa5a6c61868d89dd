"""The FastAPI application factory: ``create_app(settings) -> FastAPI``.

Startup checks that the database schema is at the head revision and refuses to start otherwise
(run ``asxh db upgrade``); with ``auto_migrate`` (demo mode, or ``ASXH_AUTO_MIGRATE=1``) it
migrates first.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from asxh_card import __version__
from asxh_card.errors import AsxhError
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import read_scope
from asxh_card.service.limits import AdmissionMiddleware
from asxh_card.service.logs import RequestLogMiddleware, configure_logging
from asxh_card.service.migrate import current_revision, head_revision, upgrade
from asxh_card.service.problems import install_problem_handlers
from asxh_card.service.routes import admin, auth, bhyt, cards, health, operations, persons, trust
from asxh_card.service.settings import Settings
from asxh_card.service.web import install_web

__all__ = ["DEMO_WORKER_ENV", "NotMigratedError", "app_from_env", "check_schema", "create_app"]

#: Set by ``asxh serve --workers N`` for its worker processes: "1" when serving the demo.
DEMO_WORKER_ENV = "ASXH_SERVE_DEMO"

DESCRIPTION = """
The provincial issuers' service for Vietnam's electronic social-security (ASXH) card:
the registry (PIN → **mã số ASXH**), entitlements, card issuance, revocation, status lists
and the trust bundle.

* Log in with `POST /v1/auth/token` (OAuth2 password flow, the **Authorize** button above).
* Every error is `application/problem+json` (RFC 9457) with a stable `type` and a title in
  English (`title`) and Vietnamese (`title_vi`).
* Objects belong to a province: an officer of another province gets 404.
* PINs travel only in request bodies and are never logged or returned (only masked).
"""


class NotMigratedError(AsxhError, RuntimeError):
    """The database schema is not at the head revision."""


def check_schema(ctx: ServiceContext) -> None:
    """Raise :class:`NotMigratedError` unless the database is at the head revision."""
    with ctx.engine.connect() as conn:
        revision = current_revision(conn)
    if revision != head_revision():
        raise NotMigratedError(
            f"the database is at revision {revision!r}, not {head_revision()!r}: "
            "run `asxh db upgrade` first"
        )


def create_app(settings: Settings, *, context: ServiceContext | None = None) -> FastAPI:
    """Build the app for ``settings`` (migrating first when ``settings.auto_migrate``)."""
    configure_logging(settings.log_level)
    if settings.auto_migrate:
        upgrade(settings.database_url)
    ctx = context or ServiceContext.build(settings)
    check_schema(ctx)
    with read_scope(ctx.sessions) as session:
        # Key files left by a process killed while creating a key (no row names them).
        ctx.keyring.set_aside_orphans(session)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Made in the event loop that serves the app (an anyio limiter belongs to one).
        app.state.issuance_slots = anyio.CapacityLimiter(settings.issuance_concurrency)
        yield
        ctx.engine.dispose()

    # The OpenAPI pages (/docs, /redoc) load Swagger UI and ReDoc from this service itself
    # (fastapi-offline ships the assets): a provincial network has no route to a CDN.
    app = FastAPIOffline(
        title="ASXH card service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # No "validator" badge fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
        openapi_tags=[
            {"name": "auth", "description": "Log in; who am I"},
            {"name": "registry", "description": "Persons, mã số ASXH, aliases, reconciliation"},
            {"name": "entitlements", "description": "Grant, update, end, revoke, suspend"},
            {"name": "cards", "description": "Issue, render, replace, revoke, suspend"},
            {"name": "trust", "description": "Status lists, JWKS, trust bundle, verification"},
            {"name": "admin", "description": "Issuers, keys, operators, audit log"},
            {"name": "operations", "description": "Bulk import jobs, statistics"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    app.state.ctx = ctx
    app.state.issuance_slots = None  # until the lifespan starts: anyio's default threads
    install_problem_handlers(app)
    # Added first, so it runs inside the logging middleware (whose request id it reports).
    app.add_middleware(AdmissionMiddleware)
    app.add_middleware(RequestLogMiddleware)
    for module in (auth, persons, cards, bhyt, trust, admin, operations, health):
        app.include_router(module.router)
    install_web(app, ctx)
    return app


def app_from_env() -> FastAPI:
    """The app of one ``asxh serve --workers N`` worker process, from the ``ASXH_*`` variables.

    The parent process has migrated (and, in demo mode, seeded) the database already.
    """
    demo = os.environ.get(DEMO_WORKER_ENV) == "1"
    settings = Settings.from_env(demo=demo).with_(auto_migrate=False)
    return create_app(settings)
