"""The card-check page in a real Chromium: upload, paste, revoked, stale, phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Live, issue_card, stale_issuer_card


@pytest.fixture(scope="module")
def card(live: Live) -> dict[str, Any]:
    return issue_card(live.api, full_name="Trần Văn Hùng", date_of_birth="1958-07-02", sex="M")


def _download(live: Live, serial: str, rendering: str, folder: Path) -> Path:
    response = live.api.call("off79", "GET", f"/v1/cards/{serial}/{rendering}")
    assert response.status_code == 200, response.text
    path = folder / rendering
    path.write_bytes(response.content)
    return path


def _banner(tab: Any) -> Any:
    banner = tab.locator("section.banner")
    banner.wait_for()
    return banner


def test_card_image_upload_checks_valid(
    page: Any, live: Live, card: dict[str, Any], tmp_path: Path
) -> None:
    """The card PNG the service renders, picked in the form, is sent at once and is valid."""
    image = _download(live, card["serial"], "card.png", tmp_path)
    page.goto("/check")
    page.set_input_files("#photo", str(image))  # check.js submits on change
    banner = _banner(page)
    assert banner.get_attribute("data-outcome") == "valid"
    assert "THẺ HỢP LỆ" in banner.inner_text()
    assert page.locator(".holder-name").inner_text() == "Trần Văn Hùng"
    assert page.locator("tr[data-programme=BHYT] .state").inner_text() == "Đang hưởng"
    assert "Mức 2 (100%)" in page.locator("tr[data-programme=BHYT]").inner_text()
    assert "02/07/1958" in page.content()


def test_pasted_text_checks_valid_in_english(page: Any, card: dict[str, Any]) -> None:
    """Pasted QR text with the English switch: the banner and states are in English."""
    page.goto("/check?lang=en")
    page.fill("#qr_text", card["qr_text"])
    page.click("#submit-text")
    banner = _banner(page)
    assert banner.get_attribute("data-outcome") == "valid"
    assert "VALID CARD" in banner.inner_text()
    assert page.locator("tr[data-programme=BHYT] .state").inner_text() == "Active"


def test_revoked_card_shows_revoked(page: Any, live: Live) -> None:
    """Revoke through the API, check again: not valid, the reason says revoked."""
    revoked = issue_card(live.api)
    answer = live.api.call(
        "off79",
        "POST",
        f"/v1/cards/{revoked['serial']}/revoke",
        json={"reason_code": "lost", "note": "mất thẻ"},
    )
    assert answer.status_code == 200, answer.text
    page.goto("/check")
    page.fill("#qr_text", revoked["qr_text"])
    page.click("#submit-text")
    banner = _banner(page)
    assert banner.get_attribute("data-outcome") == "invalid"
    assert banner.get_attribute("data-reason") == "revoked"
    assert "THẺ KHÔNG HỢP LỆ" in banner.inner_text()


def test_stale_status_list_shows_cannot_check(page: Any, live: Live) -> None:
    """Out-of-date revocation data: 'cannot check, update the data', never 'not valid'."""
    stale = stale_issuer_card(live.ctx, live.api)
    page.goto("/check")
    page.fill("#qr_text", stale["qr_text"])
    page.click("#submit-text")
    banner = _banner(page)
    assert banner.get_attribute("data-outcome") == "cannot_check"
    text = banner.inner_text()
    assert "HÃY CẬP NHẬT DỮ LIỆU" in text
    assert "KHÔNG HỢP LỆ" not in text


def test_check_page_on_a_phone(
    phone: Any, live: Live, card: dict[str, Any], tmp_path: Path
) -> None:
    """At 390 px: camera input offered, no sideways scrolling, the banner fills the width."""
    phone.goto("/check")
    assert phone.locator("#camera").get_attribute("capture") == "environment"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    image = _download(live, card["serial"], "qr.png", tmp_path)
    phone.set_input_files("#camera", str(image))
    banner = _banner(phone)
    assert banner.get_attribute("data-outcome") == "valid"
    box = banner.bounding_box()
    assert box is not None
    assert box["width"] >= 330
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
