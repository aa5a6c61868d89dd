"""The card-check page without a browser: outcomes, limits, CSRF, language."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from .conftest import Web, csrf_of, issue_card, stale_issuer_card


@pytest.fixture(scope="module")
def card(web: Web) -> dict[str, Any]:
    return issue_card(
        web.service, full_name="Nguyễn Thị Minh Khai", date_of_birth="1990-03-15", sex="F"
    )


def _post(
    web: Web,
    *,
    text: str | None = None,
    photo: bytes | None = None,
    field: str = "photo",
    lang: str = "vi",
    token: str | None = None,
) -> Any:
    browser = web.client()
    page = browser.get(f"/check?lang={lang}")
    data = {"csrf_token": csrf_of(page.text) if token is None else token}
    files = None
    if text is not None:
        data["qr_text"] = text
    if photo is not None:
        files = {field: ("card.png", photo, "image/png")}
    else:
        files = {"photo": ("", b"", "application/octet-stream")}
    return browser.post("/check", data=data, files=files)


def test_valid_card_from_pasted_text_shows_holder_and_programmes(
    web: Web, card: dict[str, Any]
) -> None:
    """Pasted QR text (with the line break a paste brings) → the valid banner and the facts."""
    response = _post(web, text=card["qr_text"] + "\r\n")
    assert response.status_code == 200
    html = response.text
    assert 'data-outcome="valid"' in html
    assert "THẺ HỢP LỆ" in html
    assert "NGUYỄN THỊ MINH KHAI" in html.upper()
    assert "15/03/1990" in html
    number = card["asxh_number"]
    assert f"{number[:2]} {number[2:6]} {number[6:10]} {number[10]}" in html
    assert 'data-programme="BHYT"' in html
    assert "Mức 2 (100%)" in html
    assert "Nơi KCB ban đầu: 79-001" in html
    assert "01/01/2026 \u2013 31/12/2026" in html  # en dash
    assert "750.000 đ/tháng" in html
    assert "Dữ liệu trạng thái thẻ cập nhật lúc" in html
    assert "giờ Việt Nam" in html


def test_valid_card_from_a_png_upload(web: Web, card: dict[str, Any]) -> None:
    """The card's own QR PNG, uploaded, is decoded on the server and checks valid."""
    png = web.service.call("off79", "GET", f"/v1/cards/{card['serial']}/qr.png")
    assert png.status_code == 200
    for field in ("photo", "camera"):
        response = _post(web, photo=png.content, field=field)
        assert 'data-outcome="valid"' in response.text, field


def test_revoked_card_shows_not_valid_with_the_reason(web: Web) -> None:
    """After revocation the page says THẺ KHÔNG HỢP LỆ and why, in plain Vietnamese."""
    revoked = issue_card(web.service)
    answer = web.service.call(
        "off79",
        "POST",
        f"/v1/cards/{revoked['serial']}/revoke",
        json={"reason_code": "lost", "note": "mất thẻ"},
    )
    assert answer.status_code == 200, answer.text
    response = _post(web, text=revoked["qr_text"])
    assert 'data-outcome="invalid"' in response.text
    assert 'data-reason="revoked"' in response.text
    assert "THẺ KHÔNG HỢP LỆ" in response.text
    assert "thu hồi" in response.text


def test_stale_status_list_shows_cannot_check_never_invalid(web: Web) -> None:
    """A card whose status list is out of date is 'cannot check: update the data'."""
    stale = stale_issuer_card(web.ctx, web.service)
    response = _post(web, text=stale["qr_text"])
    assert 'data-outcome="cannot_check"' in response.text
    assert 'data-reason="status_list_stale"' in response.text
    assert "HÃY CẬP NHẬT DỮ LIỆU" in response.text
    assert "KHÔNG HỢP LỆ" not in response.text
    english = _post(web, text=stale["qr_text"], lang="en")
    assert "UPDATE THE DATA" in english.text
    assert "INVALID" not in english.text


def test_garbage_text_is_not_valid_and_escaped(web: Web) -> None:
    """XSS through the pasted text: nothing of it is echoed unescaped; the card is malformed."""
    response = _post(web, text="<script>alert(1)</script>")
    assert 'data-outcome="invalid"' in response.text
    assert "<script>alert(1)" not in response.text


def test_check_form_without_csrf_token_is_refused(web: Web, card: dict[str, Any]) -> None:
    """CSRF: a foreign page posting to /check is refused (403) before anything is decoded."""
    response = _post(web, text=card["qr_text"], token="forged")
    assert response.status_code == 403
    assert "THẺ HỢP LỆ" not in response.text


def test_empty_form_asks_for_a_photo_or_text(web: Web) -> None:
    """Nothing sent: 422 with what to do."""
    response = _post(web, text="")
    assert response.status_code == 422
    assert "Hãy chụp ảnh, chọn ảnh hoặc dán nội dung mã QR." in response.text


def test_photo_over_8_mib_is_413_with_a_clear_message(web: Web) -> None:
    """The API's limit (8 MiB): the page answers 413 and says so."""
    response = _post(web, photo=b"\x89PNG" + b"0" * (8 * 1024 * 1024 + 10))
    assert response.status_code == 413
    assert "Ảnh lớn hơn 8 MB." in response.text


def test_body_over_the_route_limit_is_refused_before_reading(web: Web) -> None:
    """A body larger than the route's 9 MiB limit is refused by the middleware (413)."""
    browser = web.client()
    response = browser.post(
        "/check",
        content=b"0" * 100,
        headers={
            "Content-Length": str(20 * 1024 * 1024),
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    assert response.status_code == 413


def test_decompression_bomb_png_is_refused_before_decoding(web: Web) -> None:
    """A small PNG declaring 8000 x 8000 px (64 megapixels) is refused before decoding."""
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, format="PNG")
    response = _post(web, photo=buffer.getvalue())
    assert 'data-outcome="invalid"' in response.text
    assert 'data-reason="payload_too_large"' in response.text


def test_check_page_is_public_and_english_on_request(web: Web) -> None:
    """No log-in needed; ?lang=en gives the English page."""
    page = web.client().get("/check?lang=en")
    assert page.status_code == 200
    assert "Check an ASXH card" in page.text
    assert 'capture="environment"' in page.text
    assert 'accept="image/*"' in page.text


def test_busy_photo_decoding_is_cannot_check_not_invalid(web: Web, card: dict[str, Any]) -> None:
    """All photo slots taken (a flood of photos): 503 'cannot check', never 'not valid'."""
    png = web.service.call("off79", "GET", f"/v1/cards/{card['serial']}/qr.png").content
    gate = web.ctx.images
    slots = web.ctx.settings.image_concurrency
    for _ in range(slots):
        gate.__enter__()
    try:
        response = _post(web, photo=png)
    finally:
        for _ in range(slots):
            gate.__exit__(None, None, None)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert 'data-outcome="cannot_check"' in response.text
    assert "KHÔNG HỢP LỆ" not in response.text
    assert "quá nhiều ảnh" in response.text.lower()


def test_pasted_text_over_the_limit_is_413(web: Web) -> None:
    """More than 16,384 characters of pasted text: 413 and the limit in words."""
    response = _post(web, text="asxh:/" + "1" * 20_000)
    assert response.status_code == 413
    assert "tối đa 16.384 ký tự" in response.text


def test_broken_multipart_body_is_422(web: Web) -> None:
    """A body that is not the form it claims to be: 422 with a plain message."""
    browser = web.client()
    browser.get("/check")
    response = browser.post(
        "/check",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 422
    assert "Không đọc được biểu mẫu gửi lên" in response.text
