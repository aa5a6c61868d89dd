"""Screenshots of the officer console for docs/ (``ASXH_SCREENSHOTS=1``; skipped otherwise).

``ASXH_SCREENSHOTS=1 .venv/bin/pytest tests/web/test_console_screenshots.py`` writes
``docs/web-console-*.png`` from the real pages in Chromium (desktop 1280 px, phone 390 px).
"""

from __future__ import annotations

import os
import random
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from asxh_card.service.demo import synthetic_pin

from .conftest import Live, issue_card, log_in, screenshot_contexts

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.skipif(
    os.environ.get("ASXH_SCREENSHOTS") != "1", reason="set ASXH_SCREENSHOTS=1 to write docs/*.png"
)


def _shot(tab: Any, name: str) -> None:
    tab.screenshot(path=DOCS / f"web-console-{name}.png", full_page=True)


def test_console_screenshots(browser: Any, live: Live, tmp_path: Path) -> None:
    """The main console pages as an officer, an auditor and on a phone."""
    for _ in range(3):
        issue_card(live.api)
    card = issue_card(
        live.api, full_name="Nguyễn Thị Minh Khai", date_of_birth="1990-03-15", sex="F"
    )
    live.api.call(
        "off79",
        "POST",
        "/v1/persons",
        json={
            "pin": _pin_of(live, card["asxh_number"]),
            "full_name": "Nguyễn Thị Minh Khai",
            "date_of_birth": "1990-03-15",
            "sex": "F",
            "hometown": "Xã Tân Phú, Tỉnh Đồng Nai",
            "permanent_address": "25 Võ Văn Tần, Phường Xuân Hòa, TP. Hồ Chí Minh",
        },
    )
    dob = date(1962, 4, 30)
    pin = synthetic_pin(random.Random(7), "079", dob, "F")
    qr_text = (
        f"Số CCCD: {pin}|Số CMND: 271234567|Họ và tên: Phan Thị Thu Trang|Ngày sinh: 30/04/1962|"
        "Giới tính: Nữ|Nơi thường trú: 18 Nguyễn Du, Phường Bến Thành, TP. Hồ Chí Minh|"
        "Ngày cấp: 15/08/2021"
    )
    with screenshot_contexts(browser, live.url) as (desktop, phone):
        tab = desktop.new_page()
        log_in(tab, "off79")
        tab.goto("/console/persons")
        _shot(tab, "search")
        tab.goto("/console/persons/new")
        tab.fill("#qr_text", qr_text)
        tab.click("#scan-form button[type=submit]")
        tab.locator("#scanned").wait_for()
        _shot(tab, "register")
        tab.click("#register-form button[type=submit]")
        tab.wait_for_url("**/console/persons/*")
        tab.click("#grant-BHYT summary")
        tab.select_option("#g-BHYT-group", "HT")
        tab.fill("#g-BHYT-to", "2026-12-31")
        tab.fill("#g-BHYT-facility", "79-001")
        tab.click("#grant-BHYT button[type=submit]")
        tab.wait_for_url("**done=done.granted")
        tab.click("#issue-button")
        tab.wait_for_url("**done=done.issued")
        tab.locator("img.card-preview").wait_for()
        tab.wait_for_function("document.querySelector('img.card-preview').complete")
        _shot(tab, "card")
        tab.goto(f"/console/persons/{card['asxh_number']}")
        _shot(tab, "person")
        tab.goto("/console/reconciliations")
        tab.click("#reconciliation-table a >> nth=0")
        tab.wait_for_url("**/console/reconciliations/*")
        _shot(tab, "reconciliation")
        upload = tmp_path / "danh-sach.csv"
        upload.write_text(_import_csv(), encoding="utf-8")
        tab.goto("/console/imports")
        tab.set_input_files("#file", str(upload))
        tab.click("#upload-button")
        tab.wait_for_url("**/console/imports/*")
        deadline = time.monotonic() + 60
        while tab.locator("#job").get_attribute("data-state") in ("queued", "running"):
            assert time.monotonic() < deadline
            tab.wait_for_timeout(500)
            tab.reload()
        _shot(tab, "import")
        tab.goto("/console/dashboard")
        _shot(tab, "dashboard")
        auditor = desktop.new_page()
        auditor.context.clear_cookies()
        log_in(auditor, "auditor79")
        auditor.goto("/console/audit")
        _shot(auditor, "audit")
        small = phone.new_page()
        log_in(small, "off79")
        small.goto(f"/console/persons/{card['asxh_number']}")
        _shot(small, "phone-person")


def _pin_of(live: Live, number: str) -> str:
    """The PIN registered for ``number`` (read back as the service stores it, for the demo)."""
    from sqlalchemy import select

    from asxh_card.service.db import read_scope
    from asxh_card.service.models import PersonRow

    with read_scope(live.ctx.sessions) as session:
        person = session.scalars(select(PersonRow).where(PersonRow.asxh_number == number)).one()
        assert person.pin_cipher is not None
        return live.ctx.protector.decrypt("pin", person.pin_cipher)


def _import_csv() -> str:
    rng = random.Random(11)
    lines = ["pin,full_name,date_of_birth,sex,programme_1,valid_from_1,valid_to_1,attributes_1"]
    for i in range(40):
        dob = date(1940 + i, 1 + i % 12, 1 + i % 28)
        sex = "MF"[i % 2]
        name = "Trần Văn Hùng" if sex == "M" else "Nguyễn Thị Mai"
        pin = synthetic_pin(rng, "079", dob, sex)
        lines.append(f"{pin},{name},{dob.isoformat()},{sex},TGXH,2026-01-01,,amount=750000")
    lines.append("123,Dòng Sai,1990-01-01,M,TGXH,2026-01-01,,amount=750000")
    return "\n".join(lines) + "\n"
