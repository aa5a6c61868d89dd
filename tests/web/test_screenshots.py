"""Screenshots of the pages for docs/ (``ASXH_SCREENSHOTS=1``; skipped otherwise).

``ASXH_SCREENSHOTS=1 .venv/bin/pytest tests/web/test_screenshots.py`` writes
``docs/web-*.png`` from the real pages in Chromium (desktop 1280 px and phone 390 px).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import Live, issue_card, log_in, screenshot_contexts, stale_issuer_card

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.skipif(
    os.environ.get("ASXH_SCREENSHOTS") != "1", reason="set ASXH_SCREENSHOTS=1 to write docs/*.png"
)


def _check(tab: Any, text: str) -> None:
    tab.goto("/check")
    tab.fill("#qr_text", text)
    tab.click("#submit-text")
    tab.locator("section.banner").wait_for()


def test_screenshots(browser: Any, live: Live) -> None:
    """One picture per page and outcome, desktop and phone."""
    card = issue_card(
        live.api, full_name="Nguyễn Thị Minh Khai", date_of_birth="1990-03-15", sex="F"
    )
    revoked = issue_card(live.api)
    live.api.call(
        "off79",
        "POST",
        f"/v1/cards/{revoked['serial']}/revoke",
        json={"reason_code": "lost", "note": "mất thẻ"},
    )
    stale = stale_issuer_card(live.ctx, live.api)
    with screenshot_contexts(browser, live.url) as (desktop, phone):
        tab = desktop.new_page()
        tab.goto("/login")
        tab.screenshot(path=DOCS / "web-login.png", full_page=True)
        tab.goto("/check")
        tab.screenshot(path=DOCS / "web-check-form.png", full_page=True)
        _check(tab, card["qr_text"])
        tab.screenshot(path=DOCS / "web-check-valid.png", full_page=True)
        _check(tab, revoked["qr_text"])
        tab.screenshot(path=DOCS / "web-check-revoked.png", full_page=True)
        _check(tab, stale["qr_text"])
        tab.screenshot(path=DOCS / "web-check-cannot-check.png", full_page=True)
        log_in(tab, "off79")
        tab.screenshot(path=DOCS / "web-home-officer.png", full_page=True)
        small = phone.new_page()
        small.goto("/check")
        small.screenshot(path=DOCS / "web-check-phone-form.png", full_page=True)
        _check(small, card["qr_text"])
        small.screenshot(path=DOCS / "web-check-phone-valid.png", full_page=True)
