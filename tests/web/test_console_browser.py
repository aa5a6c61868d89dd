"""Issue 12 §3, the acceptance test: the officer console and the check page in real Chromium.

Log in, register a person from the CCCD chip-card QR text, grant BHYT, issue a card, download
the card picture, check it on the public check page by upload (valid), revoke it in the
console, check again ("revoked", đã thu hồi); an officer of another province cannot see the
person: the search finds nothing and the page's address gives "not found".
"""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path
from typing import Any

from asxh_card.service.demo import synthetic_pin

from .conftest import Live, log_in


def _banner(tab: Any) -> Any:
    banner = tab.locator("section.banner")
    banner.wait_for()
    return banner


def _check_upload(tab: Any, image: Path) -> Any:
    tab.goto("/check")
    tab.set_input_files("#photo", str(image))  # the check page sends it on change
    return _banner(tab)


def test_officer_flow_from_cccd_qr_to_revoked_card(
    browser: Any, page: Any, live: Live, tmp_path: Path
) -> None:
    """The whole §3 flow through the pages, as an officer and a clerk would click it."""
    dob = date(1962, 4, 30)
    pin = synthetic_pin(random.Random(), "079", dob, "F")
    qr_text = (
        f"{pin}|271234567|Phan Thị Thu Trang|30041962|Nữ|"
        "18 Nguyễn Du, Phường Bến Thành, Thành phố Hồ Chí Minh|15082021"
    )

    # Log in and register from the CCCD QR text (as a scanner types it into the box).
    log_in(page, "off79")
    page.click("nav >> text=Đăng ký")
    page.wait_for_url(re.compile(r".*/console/persons/new$"))
    page.fill("#qr_text", qr_text)
    page.click("#scan-form button[type=submit]")
    page.locator("#scanned").wait_for()
    assert page.locator("#full_name").input_value() == "Phan Thị Thu Trang"
    assert page.locator("#date_of_birth").input_value() == "1962-04-30"
    assert page.locator("#sex").input_value() == "F"
    assert page.locator("#pin").input_value() == pin
    page.click("#register-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/persons/\d{11}\?done=done\.registered$"))
    number = re.search(r"/persons/(\d{11})", page.url).group(1)  # type: ignore[union-attr]
    assert page.locator("#person-name").inner_text() == "Phan Thị Thu Trang"
    assert pin not in page.content()  # only masked

    # Grant BHYT with its beneficiary group: the level and coverage follow from it.
    page.click("#grant-BHYT summary")
    page.fill("#g-BHYT-from", "2026-01-01")
    page.fill("#g-BHYT-to", "2026-12-31")
    page.select_option("#g-BHYT-group", "HT")
    page.fill("#g-BHYT-facility", "79-001")
    page.click("#grant-BHYT button[type=submit]")
    page.wait_for_url(re.compile(r".*done=done\.granted$"))
    row = page.locator("#entitlement-table tr[data-programme=BHYT]")
    assert "Bảo hiểm y tế" in row.inner_text()
    assert "Đang hiệu lực" in row.inner_text()

    # Issue the card, see its picture, download it.
    page.click("#issue-button")
    page.wait_for_url(re.compile(r".*/console/cards/[0-9A-Z]+\?done=done\.issued$"))
    preview = page.locator("img.card-preview")
    preview.wait_for()
    assert page.evaluate("document.querySelector('img.card-preview').naturalWidth") > 500
    with page.expect_download() as download:
        page.click("#download-card")
    image = tmp_path / "card.png"
    download.value.save_as(image)
    assert image.read_bytes().startswith(b"\x89PNG")

    # A clerk at a service point checks the card by uploading the picture: valid.
    clerk = browser.new_context(base_url=live.url, locale="vi-VN")
    clerk.set_default_timeout(15_000)
    counter = clerk.new_page()
    banner = _check_upload(counter, image)
    assert banner.get_attribute("data-outcome") == "valid"
    assert "THẺ HỢP LỆ" in banner.inner_text()
    assert counter.locator(".holder-name").inner_text() == "Phan Thị Thu Trang"

    # The officer revokes the card with a reason.
    page.select_option("#card-action", "revoke")
    page.select_option("#card-reason", "lost")
    page.fill("#card-note", "Báo mất tại UBND phường")
    page.click("#card-status-submit")
    page.wait_for_url(re.compile(r".*done=done\.card_changed$"))
    assert "Đã thu hồi" in page.locator("#card-state").inner_text()

    # Checked again: not valid, because revoked ("đã thu hồi").
    banner = _check_upload(counter, image)
    assert banner.get_attribute("data-outcome") == "invalid"
    assert banner.get_attribute("data-reason") == "revoked"
    text = banner.inner_text()
    assert "THẺ KHÔNG HỢP LỆ" in text
    assert "thu hồi" in text.lower()
    clerk.close()

    # An officer of another province cannot see the person.
    other = browser.new_context(base_url=live.url, locale="vi-VN")
    other.set_default_timeout(15_000)
    tab = other.new_page()
    log_in(tab, "off01")
    tab.goto("/console/persons")
    tab.fill("#find-name #full_name", "Phan Thị Thu Trang")
    tab.fill("#find-name #date_of_birth", "1962-04-30")
    tab.click("#find-name button[type=submit]")
    tab.locator("#not-found").wait_for()
    assert number not in tab.content()
    tab.goto("/console/persons")
    tab.fill("#pin", pin)
    tab.click("#find-pin button[type=submit]")
    tab.locator("#not-found").wait_for()
    response = tab.goto(f"/console/persons/{number}")
    assert response is not None
    assert response.status == 404
    assert "Phan Thị Thu Trang" not in tab.content()
    other.close()


def test_console_fits_a_phone(phone: Any, live: Live) -> None:
    """On a 390 px phone the search and person pages need no sideways scrolling."""
    log_in(phone, "off79")
    for url in ("/console/persons", "/console/persons/new", "/console/dashboard"):
        phone.goto(url)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, url
