"""Web-page fixtures: a TestClient service, a real server on loopback, and real Chromium.

* ``web`` is the service test world of ``tests/service`` (SQLite, seeded operators, one app per
  module) with helpers for the web pages: ``web.login(user)`` logs a *browser-like* client in
  through the form (CSRF token included) and returns that client.
* ``live`` runs the same kind of service under uvicorn on a free 127.0.0.1 port in a thread
  (public URL = that address, so the cards it issues name lists it serves).
* ``browser`` is Debian's Chromium driven by Playwright (``/usr/bin/chromium``; Playwright's own
  browser download is not used). Without Chromium the browser tests are skipped, unless
  ``ASXH_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail instead.
  ``page`` is a fresh context and tab per test; ``phone`` the same at a phone's size.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from asxh_card.service.app import create_app
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.demo import ensure_issuer
from asxh_card.service.migrate import upgrade

# The service world of tests/service (importlib mode: relative to this test package).
from ..service.conftest import (  # noqa: TID252
    PASSWORD,
    Service,
    _settings,
    build_service,
    new_person,
    seed_world,
)

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CHROMIUM = Path(os.environ.get("ASXH_CHROMIUM", "/usr/bin/chromium"))
#: Flags for a root user on a machine with no network: the sandbox needs a non-root user, and
#: without the background-networking flags Chromium keeps dialling Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

__all__ = ["PASSWORD", "Web", "csrf_of"]


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@dataclass
class Web:
    """The service world plus web helpers."""

    service: Service

    @property
    def app(self) -> Any:
        return self.service.app

    @property
    def ctx(self) -> ServiceContext:
        return self.service.ctx

    def client(self, address: str = "10.0.0.2", *, https: bool = False) -> TestClient:
        """A new browser-like client (own cookies) asking for HTML."""
        client = TestClient(
            self.app,
            base_url="https://testserver" if https else "http://testserver",
            client=(address, 5000),
            follow_redirects=False,
        )
        client.headers["Accept"] = "text/html,application/xhtml+xml"
        return client

    def login(
        self, user: str, password: str = PASSWORD, *, client: TestClient | None = None
    ) -> TestClient:
        """A client logged in as ``user`` through the web form."""
        browser = client or self.client()
        token = csrf_of(browser.get("/login").text)
        response = browser.post(
            "/login", data={"username": user, "password": password, "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        return browser


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tmp = tmp_path_factory.mktemp("web")
    for service in build_service(tmp, f"sqlite:///{tmp / 'asxh.db'}", "sqlite"):
        yield Web(service)


# -- a real server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    """A service under uvicorn on loopback; ``url`` is its base, ``api`` a TestClient-free
    ``Service`` for API calls over HTTP (tokens, registration, issuance)."""

    url: str
    ctx: ServiceContext
    api: Service


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import httpx

    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = _settings(tmp, f"sqlite:///{tmp / 'asxh.db'}").with_(public_url=url)
    upgrade(settings.database_url)
    ctx = ServiceContext.build(settings)
    seed_world(ctx)
    app = create_app(settings, context=ctx)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="asxh-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live service did not start")
        time.sleep(0.05)
    with httpx.Client(base_url=url, timeout=30) as client:
        yield Live(url=url, ctx=ctx, api=Service(app, ctx, client, "sqlite", {}))  # type: ignore[arg-type]
    server.should_exit = True
    thread.join(timeout=20)


# -- real Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("ASXH_REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"ASXH_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)"
            )
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(base_url=live.url, locale="vi-VN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN"
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@contextmanager
def screenshot_contexts(browser: Any, url: str) -> Iterator[tuple[Any, Any]]:
    """A desktop and a phone (2x pixels) browser context for the docs/ screenshots."""
    desktop = browser.new_context(
        base_url=url, viewport={"width": 1280, "height": 900}, locale="vi-VN"
    )
    phone = browser.new_context(
        base_url=url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        yield desktop, phone
    finally:
        desktop.close()
        phone.close()


def log_in(tab: Any, user: str, password: str = PASSWORD) -> None:
    """Log in through the form in a real browser tab."""
    tab.goto("/login")
    tab.fill("#username", user)
    tab.fill("#password", password)
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(r".*/$"))


# -- cards to check ---------------------------------------------------------------------------


def issue_card(
    api: Service, user: str = "off79", province: str = "79", **person: Any
) -> dict[str, Any]:
    """Register a person, grant BHYT and TGXH, issue a card: the card (with ``qr_text``)."""
    body = new_person(province, **person)
    if user == "admin":  # a national administrator names the province
        body["province"] = province
    response = api.call(user, "POST", "/v1/persons", json=body)
    assert response.status_code == 201, response.text
    number = str(response.json()["asxh_number"])
    bhyt = dict(Service.BHYT)
    if province != "79":
        bhyt["attributes"] = {**bhyt["attributes"], "facility": f"{province}-001"}
    api.grant(user, number, bhyt)
    api.grant(user, number, Service.TGXH)
    card = api.issue(user, number)
    card["asxh_number"] = number
    return card


def stale_issuer_card(ctx: ServiceContext, api: Service) -> dict[str, Any]:
    """A card of a new issuer (province 48) whose status list the service can no longer re-sign.

    The issuer's key is backdated (so a list signed two hours ago is inside its window), a card
    is issued, then its list is replaced by one signed two hours ago that expired an hour ago,
    and the key file is dropped from the key row, as when the published bundle no longer lets
    this server sign: every check of that card is then "cannot check" (``status_list_stale``).
    """
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from asxh_card._core.statuslist import StatusList, sign_status_list
    from asxh_card.service import statuslists
    from asxh_card.service.models import IssuerKeyRow, StatusListRow

    with session_scope(ctx.sessions) as session:
        ensure_issuer(session, ctx, "vn-48", name="Sở Y tế Đà Nẵng (test)", province="48")
        for key in session.scalars(select(IssuerKeyRow).where(IssuerKeyRow.issuer_id == "vn-48")):
            key.not_before = datetime.now(UTC) - timedelta(days=2)
    card = issue_card(api, "admin", "48")
    now = int(time.time())
    with session_scope(ctx.sessions) as session:
        key = session.scalars(
            select(IssuerKeyRow).where(
                IssuerKeyRow.issuer_id == "vn-48", IssuerKeyRow.state == "active"
            )
        ).one()
        for row in session.scalars(select(StatusListRow).where(StatusListRow.issuer_id == "vn-48")):
            issued = now - 7200
            row.token = sign_status_list(
                StatusList(row.data, row.bits),
                ctx.keyring.signer(key),
                uri=statuslists.list_uri(ctx.settings, row.issuer_id, row.id),
                issued_at=issued,
                expires_at=issued + 3600,
                ttl=3600,
            )
            row.token_version = row.version
            row.token_signed_at = datetime.fromtimestamp(issued, UTC)
        key.key_file = None
    return card
