"""Log-in, language switch and log-out in a real Chromium against a real server."""

from __future__ import annotations

import re
from typing import Any

from .conftest import log_in


def test_officer_logs_in_switches_language_and_logs_out(page: Any) -> None:
    """The whole session cycle through the real form, cookies and redirects in Chromium."""
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "vi"
    log_in(page, "off79")
    assert page.locator("h1").inner_text() == "Xin chào, off79"
    assert page.locator("nav a[href='/docs']").count() == 1
    page.click("a[hreflang=en]")
    page.wait_for_url(re.compile(r".*lang=en"))
    assert page.locator("h1").inner_text() == "Welcome, off79"
    page.goto("/")  # the choice is remembered
    assert page.locator("h1").inner_text() == "Welcome, off79"
    page.click("text=Log out")
    page.wait_for_url(re.compile(r".*/login\?done=1"))
    assert "You have logged out." in page.content()
    page.goto("/")
    assert page.locator("nav a[href='/docs']").count() == 0


def test_wrong_password_shows_the_reason_in_vietnamese(page: Any) -> None:
    """A wrong password stays on the form with a Vietnamese message, nothing logged in."""
    page.goto("/login")
    page.fill("#username", "off01")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."
    assert page.locator("#username").input_value() == "off01"


def test_login_page_fits_a_phone(phone: Any) -> None:
    """On a 390 px phone the form needs no sideways scrolling and the button is reachable."""
    phone.goto("/login")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    box = phone.locator("button[type=submit]").bounding_box()
    assert box is not None
    assert box["height"] >= 40
    log_in(phone, "off79")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
