"""The officer console's pages over HTTP (TestClient): what each role sees and may do.

The pages call the API's own functions (``service/usecases.py``), so these tests check what
the pages add: the forms, what is shown to whom, the messages, and that posting what the page
does not offer is refused all the same (the attack: a crafted POST from a lower role).
"""

from __future__ import annotations

import io
import logging
import random
import re
import time
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from asxh_card.service.db import read_scope
from asxh_card.service.demo import synthetic_pin
from asxh_card.service.models import AuditEventRow, CardRow

from .conftest import Web, csrf_of

_rng = random.Random()


def _pin(dob: date, sex: str, prefix: str = "079") -> str:
    return synthetic_pin(_rng, prefix, dob, sex)


def _dob() -> date:
    return date(1940 + _rng.randrange(40), 1 + _rng.randrange(12), 1 + _rng.randrange(28))


def _post(client: Any, page: str, action: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Submit a form of ``page`` as a browser does: the page's CSRF token included."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, **kwargs)


def _register(web: Web, client: Any, **fields: Any) -> str:
    dob = fields.pop("dob", _dob())
    sex = fields.pop("sex", "F")
    data = {
        "pin": _pin(dob, sex),
        "full_name": "Võ Thị Sáu",
        "date_of_birth": dob.isoformat(),
        "sex": sex,
        "permanent_address": "3 Lý Tự Trọng, Phường Sài Gòn",
        **fields,
    }
    response = _post(client, "/console/persons/new", "/console/persons/new", data)
    assert response.status_code == 303, response.text
    match = re.match(
        r"/console/persons/(\d{11})\?done=done\.registered", response.headers["location"]
    )
    assert match, response.headers["location"]
    return match.group(1)


# -- find and register ------------------------------------------------------------------------


def test_register_from_a_labelled_cccd_qr_text(web: Web) -> None:
    """A scanner's labelled output fills the form; registering lands on the person's page."""
    client = web.login("off79")
    dob = date(1985, 11, 2)
    pin = _pin(dob, "M")
    scanned = (
        f"Số CCCD: {pin}|Số CMND: 025123456|Họ và tên: Đỗ Văn Mười|Ngày sinh: 02/11/1985|"
        "Giới tính: Nam|Nơi thường trú: 9 Pasteur, Phường Bến Nghé|Ngày cấp: 10/05/2021"
    )
    page = _post(client, "/console/persons/new", "/console/persons/new/scan", {"qr_text": scanned})
    assert page.status_code == 200
    html = page.text
    assert f'value="{pin}"' in html
    assert 'value="Đỗ Văn Mười"' in html
    assert 'value="1985-11-02"' in html
    assert '<option value="M" selected>' in html
    assert 'value="9 Pasteur, Phường Bến Nghé"' in html
    data = {
        "pin": pin,
        "full_name": "Đỗ Văn Mười",
        "date_of_birth": "1985-11-02",
        "sex": "M",
        "permanent_address": "9 Pasteur, Phường Bến Nghé",
        "csrf_token": csrf_of(html),
    }
    response = client.post("/console/persons/new", data=data)
    assert response.status_code == 303
    person = client.get(response.headers["location"])
    assert person.status_code == 200
    assert "Đỗ Văn Mười" in person.text
    assert "Đã đăng ký." in person.text
    assert pin not in person.text  # masked: only the last three digits
    assert f"*********{pin[-3:]}" in person.text


def test_a_broken_qr_text_is_explained_in_vietnamese(web: Web) -> None:
    """A QR text with a wrong field says which field, in Vietnamese, and fills nothing."""
    client = web.login("off79")
    page = _post(
        client, "/console/persons/new", "/console/persons/new/scan", {"qr_text": "123|x|y"}
    )
    assert page.status_code == 422
    assert "Mã QR trên CCCD" in page.text
    assert 'role="alert"' in page.text


def test_find_by_number_pin_and_name_within_the_province(web: Web) -> None:
    """Three ways to find; an officer of another province finds nothing and gets 404."""
    client = web.login("off79")
    dob = _dob()
    pin = _pin(dob, "F")
    data = {
        "pin": pin,
        "full_name": "Hồ Thị Xuân Hương",
        "date_of_birth": dob.isoformat(),
        "sex": "F",
    }
    created = _post(client, "/console/persons/new", "/console/persons/new", data)
    number = created.headers["location"].split("/")[-1].split("?")[0]
    by_number = _post(
        client, "/console/persons", "/console/persons/find", {"kind": "number", "number": number}
    )
    assert by_number.headers["location"] == f"/console/persons/{number}"
    by_pin = _post(client, "/console/persons", "/console/persons/find", {"kind": "pin", "pin": pin})
    assert by_pin.status_code == 303
    assert by_pin.headers["location"] == f"/console/persons/{number}"
    assert pin not in by_pin.headers["location"]
    by_name = _post(
        client,
        "/console/persons",
        "/console/persons/find",
        {"kind": "name", "full_name": "ho thi xuan huong", "date_of_birth": dob.isoformat()},
    )
    assert by_name.headers["location"] == f"/console/persons/{number}"
    # Another province: every search finds nothing, the page itself is "not found".
    other = web.login("off01")
    for data in (
        {"kind": "number", "number": number},
        {"kind": "pin", "pin": pin},
        {"kind": "name", "full_name": "Hồ Thị Xuân Hương", "date_of_birth": dob.isoformat()},
    ):
        found = _post(other, "/console/persons", "/console/persons/find", data)
        assert found.status_code == 404, data["kind"]
        assert 'id="not-found"' in found.text
        assert f"/console/persons/{number}" not in found.text
    page = other.get(f"/console/persons/{number}")
    assert page.status_code == 404
    assert "Không tìm thấy" in page.text
    assert "Hồ Thị Xuân Hương" not in page.text


def test_pin_searches_never_reach_the_log(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    """A PIN typed into the search form is in no URL and no log line (Law 91/2025/QH15)."""
    client = web.login("off79")
    pin = _pin(_dob(), "M")
    with caplog.at_level(logging.DEBUG):
        response = _post(
            client, "/console/persons", "/console/persons/find", {"kind": "pin", "pin": pin}
        )
    assert response.status_code == 404
    assert pin not in caplog.text
    assert pin not in response.text


def test_different_data_open_a_reconciliation_resolved_on_its_page(web: Web) -> None:
    """Registering a PIN again with another address opens a reconciliation; accept applies it."""
    client = web.login("off79")
    dob = _dob()
    pin = _pin(dob, "F")
    data = {"pin": pin, "full_name": "Lý Thị Hoa", "date_of_birth": dob.isoformat(), "sex": "F"}
    first = _post(client, "/console/persons/new", "/console/persons/new", data)
    number = first.headers["location"].split("/")[-1].split("?")[0]
    again = _post(
        client,
        "/console/persons/new",
        "/console/persons/new",
        {**data, "permanent_address": "1 Đồng Khởi, Phường Sài Gòn"},
    )
    assert again.status_code == 303
    rec_url = again.headers["location"]
    assert rec_url.startswith("/console/reconciliations/")
    page = client.get(rec_url)
    assert "1 Đồng Khởi, Phường Sài Gòn" in page.text
    assert web.login("auditor79").get(rec_url).status_code == 200
    assert 'id="accept"' not in web.login("auditor79").get(rec_url).text
    assert web.login("off01").get(rec_url).status_code == 404
    listed = client.get("/console/reconciliations")
    assert rec_url in listed.text
    resolved = _post(client, rec_url, rec_url, {"action": "accept"})
    assert resolved.headers["location"] == f"/console/persons/{number}?done=done.resolved"
    person = client.get(f"/console/persons/{number}")
    assert "1 Đồng Khởi, Phường Sài Gòn" in person.text


# -- entitlements and cards -------------------------------------------------------------------


def _grant_bhyt(client: Any, number: str, **extra: str) -> Any:
    page = f"/console/persons/{number}"
    data = {
        "programme": "BHYT",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "bhyt_group": "HT",
        "attr_facility": "79 - 001",
        **extra,
    }
    return _post(client, page, f"{page}/entitlements", data)


class _FormReader(HTMLParser):
    """The fields one form of a page submits as a browser would (inputs, selected options)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.select = action, False, ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif self.inside and tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif self.inside and tag == "select":
            self.select = a.get("name", "")
            self.fields.setdefault(self.select, "")
        elif self.inside and tag == "option" and "selected" in a:
            self.fields[self.select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _form_fields(client: Any, page: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(client.get(page).text)
    assert reader.fields, f"no form {action} on {page}"
    return reader.fields


def test_grant_issue_download_and_revoke(web: Web) -> None:
    """Grant BHYT with its group, issue, the card picture's QR reads back, revoke with a reason."""
    client = web.login("off79")
    number = _register(web, client)
    granted = _grant_bhyt(client, number)
    assert granted.status_code == 303, granted.text
    page = client.get(f"/console/persons/{number}").text
    assert "Bảo hiểm y tế" in page
    assert "79-001" in page  # normalised by the programme registry, as over the API
    issued = _post(client, f"/console/persons/{number}", f"/console/persons/{number}/cards", {})
    assert issued.status_code == 303
    card_url = issued.headers["location"].split("?")[0]
    serial = card_url.rsplit("/", 1)[1]
    card_page = client.get(issued.headers["location"])
    assert "Đã cấp thẻ." in card_page.text
    picture = client.get(f"{card_url}/card.png?download=1")
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"
    assert "attachment" in picture.headers["content-disposition"]
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(picture.content)))
    with read_scope(web.ctx.sessions) as session:
        stored = session.scalars(select(CardRow).where(CardRow.serial == serial)).one()
        assert stored.qr_text in [d.text for d in decoded]  # beside the number's barcode
    assert client.get(f"{card_url}/print.pdf").content.startswith(b"%PDF")
    assert client.get(f"{card_url}/qr.png").content.startswith(b"\x89PNG")
    assert client.get(f"{card_url}/card.gif").status_code == 404
    revoked = _post(
        client, card_url, f"{card_url}/status", {"action": "revoke", "reason_code": "lost"}
    )
    assert revoked.status_code == 303
    after = client.get(card_url).text
    assert "Đã thu hồi" in after
    assert 'id="card-status-form"' not in after  # nothing left to do with a revoked card
    with read_scope(web.ctx.sessions) as session:
        entry = session.scalars(
            select(AuditEventRow).where(
                AuditEventRow.action == "card.revoke", AuditEventRow.object_id == serial
            )
        ).one()
        assert entry.actor == "off79"


def test_form_errors_come_back_in_the_operators_language(web: Web) -> None:
    """A refused grant stays on the page with the API's message, Vietnamese or English."""
    client = web.login("off79")
    number = _register(web, client)
    bad = _grant_bhyt(client, number, attr_facility="not a facility")
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    assert "BHYT" in bad.text
    client.get("/?lang=en")
    english = _grant_bhyt(client, number, valid_from="31/12/2026")
    assert english.status_code == 422
    assert "Valid from" in english.text
    client.get("/?lang=vi")
    twice = _grant_bhyt(client, number)
    assert twice.status_code == 303
    conflict = _grant_bhyt(client, number)
    assert conflict.status_code == 409
    assert "đang hưởng chế độ BHYT" in conflict.text


def test_a_lower_role_sees_no_buttons_and_is_refused_anyway(web: Web) -> None:
    """The auditor reads but sees no form; posting anyway gets 403 and changes nothing.

    Attack: a crafted POST (with a valid CSRF token of the auditor's own session) to the
    grant, issue and revoke endpoints the page does not offer.
    """
    officer = web.login("off79")
    number = _register(web, officer)
    assert _grant_bhyt(officer, number).status_code == 303
    issued = _post(officer, f"/console/persons/{number}", f"/console/persons/{number}/cards", {})
    card_url = issued.headers["location"].split("?")[0]
    auditor = web.login("auditor79")
    page = auditor.get(f"/console/persons/{number}").text
    for marker in ('id="grant"', 'id="issue-form"', '/entitlements"', '/status"'):
        assert marker not in page, marker
    assert 'id="card-status-form"' not in auditor.get(card_url).text
    token = csrf_of(auditor.get("/console/persons").text)
    for url, data in (
        (
            f"/console/persons/{number}/entitlements",
            {"programme": "TGXH", "valid_from": "2026-01-01", "attr_amount": "500000"},
        ),
        (f"/console/persons/{number}/cards", {}),
        (f"{card_url}/status", {"action": "revoke", "reason_code": "fraud"}),
        ("/console/persons/new", {"pin": "079190001234"}),
    ):
        refused = auditor.post(url, data={**data, "csrf_token": token})
        assert refused.status_code == 403, url
    assert "Đang hiệu lực" in officer.get(card_url).text
    # A service point has no console at all.
    assert web.login("sp").get("/console/persons").status_code == 403


def test_programme_limits_show_only_the_officers_programmes(web: Web) -> None:
    """A BHYT-only officer is offered BHYT only and cannot change a card that carries TGXH."""
    officer = web.login("off79")
    number = _register(web, officer)
    assert _grant_bhyt(officer, number).status_code == 303
    tgxh = {"programme": "TGXH", "valid_from": "2026-01-01", "attr_amount": "750000"}
    page = f"/console/persons/{number}"
    assert _post(officer, page, f"{page}/entitlements", tgxh).status_code == 303
    issued = _post(officer, page, f"{page}/cards", {})
    card_url = issued.headers["location"].split("?")[0]
    bhyt_only = web.login("off79bhyt")
    html = bhyt_only.get(page).text
    assert 'id="grant-BHYT"' in html
    assert 'id="grant-TGXH"' not in html
    assert 'id="card-status-form"' not in bhyt_only.get(card_url).text
    refused = _post(
        bhyt_only, card_url, f"{card_url}/status", {"action": "revoke", "reason_code": "lost"}
    )
    assert refused.status_code == 403
    assert "TGXH" in refused.text


def test_forms_without_the_csrf_token_are_refused(web: Web) -> None:
    """Attack: a cross-site form post riding the officer's cookie; no token, no action."""
    client = web.login("off79")
    number = _register(web, client)
    response = client.post(
        f"/console/persons/{number}/entitlements",
        data={"programme": "BHYT", "valid_from": "2026-01-01", "bhyt_group": "HT"},
    )
    assert response.status_code == 403
    assert 'id="entitlement-table"' not in client.get(f"/console/persons/{number}").text


def test_pages_need_a_log_in(web: Web) -> None:
    """Without a session every console page sends the browser to the log-in form."""
    anonymous = web.client()
    for url in ("/console/persons", "/console/dashboard", "/console/audit", "/console/imports"):
        response = anonymous.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


# -- import, dashboard, audit -----------------------------------------------------------------


def test_bulk_import_with_progress_and_error_report(web: Web) -> None:
    """Upload a CSV, follow its progress page to the end, download the error report."""
    client = web.login("off79")
    dob = _dob()
    header = "pin,full_name,date_of_birth,sex,programme_1,valid_from_1,valid_to_1,attributes_1"
    good = f"{_pin(dob, 'M')},Trương Văn Lâm,{dob.isoformat()},M,TGXH,2026-01-01,,amount=600000"
    bad = "123,Người Sai,1990-01-01,M,TGXH,2026-01-01,,amount=600000"
    content = f"{header}\n{good}\n{bad}\n".encode()
    token = csrf_of(client.get("/console/imports").text)
    response = client.post(
        "/console/imports",
        data={"csrf_token": token},
        files={"file": ("list.csv", content, "text/csv")},
    )
    assert response.status_code == 303, response.text
    job_url = response.headers["location"]
    deadline = time.monotonic() + 60
    while True:
        page = client.get(job_url)
        assert page.status_code == 200
        if 'data-state="done"' in page.text or 'data-state="failed"' in page.text:
            break
        assert 'http-equiv="refresh"' in page.text
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert 'data-state="done"' in page.text
    report = client.get(f"{job_url}/errors.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "3," in report.text  # the bad row, by its line number
    assert "Người Sai" not in report.text  # never the row's data
    assert web.login("off01").get(job_url).status_code == 404
    wrong = client.post(
        "/console/imports",
        data={"csrf_token": csrf_of(client.get("/console/imports").text)},
        files={"file": ("list.txt", b"x", "text/plain")},
    )
    assert wrong.status_code == 422
    assert ".csv" in wrong.text


def test_dashboard_draws_charts_for_the_province(web: Web) -> None:
    """Counts as inline SVG bars (no script), the officer's province only."""
    client = web.login("off79")
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    assert '<svg class="chart" id="chart-months"' in page.text
    assert "<script" not in page.text
    assert "Tỉnh/thành phố: Thành phố Hồ Chí Minh (79)." in page.text
    national = web.login("admin").get("/console/dashboard?province=01")
    assert "Tỉnh/thành phố: Thành phố Hà Nội (01)." in national.text
    assert web.login("off79").get("/console/dashboard?province=01").status_code == 403


def test_audit_trail_is_for_auditors_and_paged(web: Web) -> None:
    """Auditors page back through their province's entries; officers do not get the page."""
    auditor = web.login("auditor79")
    first = auditor.get("/console/audit")
    assert first.status_code == 200
    assert "person.register" in first.text
    older = re.search(r'href="/console/audit\?before=(\d+)"', first.text)
    if older is not None:
        second = auditor.get(f"/console/audit?before={older.group(1)}")
        assert second.status_code == 200
    assert web.login("off79").get("/console/audit").status_code == 403
    assert web.login("admin").get("/console/audit").status_code == 200


def test_every_word_the_console_builds_is_in_the_catalogue() -> None:
    """Keys built from data (reasons, states, counters, fields, attributes) all have words."""
    from asxh_card.programmes import ProgrammeRegistry
    from asxh_card.service import importing, stats
    from asxh_card.service.registry import RECONCILED_FIELDS
    from asxh_card.service.security import ROLES
    from asxh_card.service.states import State
    from asxh_card.service.web.console import REASON_CODES
    from asxh_card.service.web.i18n import MESSAGES

    wanted = [f"reason.{code}" for code in REASON_CODES]
    wanted += [f"console.state.{state.value}" for state in State]
    wanted += [f"imports.count.{name}" for name in importing._COUNT_NAMES]
    wanted += [f"imports.state.{s}" for s in ("queued", "running", "done", "failed")]
    wanted += [f"dash.metric.{metric}" for metric in stats.METRICS]
    wanted += [f"field.{name}" for name in RECONCILED_FIELDS]
    wanted += [f"role.{role}" for role in ROLES]
    wanted += [f"action.{a}" for a in ("suspend", "revoke", "reinstate")]
    for programme in ProgrammeRegistry.default():
        for spec in programme.attributes.values():
            wanted.append(f"attr.{spec.name}")
            wanted += [f"attrval.{value}" for value in spec.values]
    missing = sorted({key for key in wanted if key not in MESSAGES})
    assert missing == []
    for key in wanted:
        vi, en = MESSAGES[key]
        assert vi, key
        assert en, key


def test_a_national_administrator_names_the_province(web: Web) -> None:
    """The admin's form asks for the province; the person is registered there."""
    admin = web.login("admin")
    form = admin.get("/console/persons/new").text
    assert 'id="province"' in form
    assert 'id="province"' not in web.login("off79").get("/console/persons/new").text
    dob = _dob()
    data = {
        "pin": _pin(dob, "M", "001"),
        "full_name": "Ngô Văn Bình",
        "date_of_birth": dob.isoformat(),
        "sex": "M",
        "province": "01",
    }
    response = _post(admin, "/console/persons/new", "/console/persons/new", data)
    assert response.status_code == 303, response.text
    number = response.headers["location"].split("/")[-1].split("?")[0]
    assert number.startswith("01")
    assert web.login("off01").get(f"/console/persons/{number}").status_code == 200
    assert web.login("off79").get(f"/console/persons/{number}").status_code == 404
    missing = _post(admin, "/console/persons/new", "/console/persons/new", {**data, "province": ""})
    assert missing.status_code == 422
    assert "tỉnh" in missing.text


def test_every_console_page_renders_in_english(web: Web) -> None:
    """The English switch reaches every console page (no Vietnamese-only words left)."""
    client = web.login("admin")
    client.get("/?lang=en")
    for url in (
        "/console/persons",
        "/console/persons/new",
        "/console/reconciliations",
        "/console/imports",
        "/console/dashboard",
        "/console/audit",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<html lang="en">' in page.text, url


def test_register_from_a_photo_of_the_cccd_qr(web: Web) -> None:
    """A phone photo of the CCCD QR is read on the server and fills the form."""
    import qrcode

    client = web.login("off79")
    dob = date(1977, 6, 9)
    pin = _pin(dob, "F")
    text = f"{pin}||Đinh Thị Lan|09061977|Nữ|4 Trần Phú, Phường Chợ Quán|"
    picture = io.BytesIO()
    qrcode.make(text, border=4, box_size=6).save(picture, format="PNG")
    token = csrf_of(client.get("/console/persons/new").text)
    page = client.post(
        "/console/persons/new/scan",
        data={"csrf_token": token, "qr_text": ""},
        files={"photo": ("cccd.png", picture.getvalue(), "image/png")},
    )
    assert page.status_code == 200, page.text
    assert 'id="scanned"' in page.text
    assert f'value="{pin}"' in page.text
    assert 'value="Đinh Thị Lan"' in page.text
    not_image = client.post(
        "/console/persons/new/scan",
        data={"csrf_token": token},
        files={"photo": ("cccd.png", b"not a picture", "image/png")},
    )
    assert not_image.status_code == 422
    assert "Tệp không phải là ảnh" in not_image.text
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, format="PNG")
    nothing = client.post(
        "/console/persons/new/scan",
        data={"csrf_token": token},
        files={"photo": ("blank.png", blank.getvalue(), "image/png")},
    )
    assert nothing.status_code == 422
    assert "Không đọc được mã QR của CCCD" in nothing.text
    forged = client.post(
        "/console/persons/new/scan",
        files={"photo": ("cccd.png", picture.getvalue(), "image/png")},
    )
    assert forged.status_code == 403  # no CSRF token: the photo is not even read


@pytest.mark.parametrize("via", ["page", "api"])
def test_bhyt_group_change_settles_level_alike_on_the_page_and_over_the_api(
    web: Web, via: str
) -> None:
    """One rule for a new BHYT group, whether the officer uses the update form (as shown,
    changed as typed) or PATCH /v1/entitlements/{id}: no level typed -> the new group's level
    and coverage; a typed level is kept if the group allows it; a group whose level the
    reference does not settle (PV) needs a typed level, never the old group's; the stored
    level of such a group stays when only the dates change."""
    client = web.login("off79")
    number = _register(web, client)
    assert _grant_bhyt(client, number).status_code == 303  # HT: level 3, 95 %
    page = f"/console/persons/{number}"
    found = re.search(r'action="/console/entitlements/(\d+)/update"', client.get(page).text)
    assert found is not None
    ent_id = found.group(1)
    action = f"/console/entitlements/{ent_id}/update"

    def change(
        group: str | None = None, level: int | None = None, valid_to: str | None = None
    ) -> tuple[bool, str]:
        if via == "page":
            data = _form_fields(client, page, action)
            data.pop("csrf_token")
            data.update(
                {
                    k: str(v)
                    for k, v in (
                        ("bhyt_group", group),
                        ("valid_to", valid_to),
                        ("attr_level", level),
                    )
                    if v is not None
                }
            )
            response = _post(client, page, action, data)
            return response.status_code == 303, response.text
        body: dict[str, Any] = {}
        if group is not None:
            body["bhyt_group"] = group
        if valid_to is not None:
            body["valid_to"] = valid_to
        if level is not None:
            body["attributes"] = {"facility": "79-001", "level": level}
        response = web.service.call("off79", "PATCH", f"/v1/entitlements/{ent_id}", json=body)
        return response.status_code == 200, response.text

    def stored() -> tuple[str, int, int]:
        ent = web.service.call("off79", "GET", f"/v1/entitlements/{ent_id}").json()
        return ent["bhyt_group"], ent["attributes"]["level"], ent["attributes"]["coverage"]

    assert change(group="CN")[0]  # no level typed: CN's own
    assert stored() == ("CN", 2, 100)
    assert change(group="TE", level=1)[0]  # typed and right for TE
    assert stored() == ("TE", 1, 100)
    ok, text = change(group="HT", level=1)  # typed, but HT is at level 3
    assert not ok
    assert "nhóm đối tượng HT có mức hưởng 3" in text
    assert stored() == ("TE", 1, 100)
    ok, text = change(group="PV")  # PV's level is VSS's to give: TE's level 1 is not carried
    assert not ok
    assert "chưa được xác định" in text
    assert stored() == ("TE", 1, 100)
    assert change(group="PV", level=4)[0]
    assert stored() == ("PV", 4, 80)
    assert change(valid_to="2026-11-30")[0]  # only the dates: PV's typed level stays
    assert stored() == ("PV", 4, 80)


def test_updating_a_bhyt_entitlement_keeps_the_group_level(web: Web) -> None:
    """Changing only the end date of a grouped BHYT entitlement leaves level and coverage to
    the group (the form does not send the stored level back as if typed)."""
    client = web.login("off79")
    number = _register(web, client)
    assert _grant_bhyt(client, number).status_code == 303
    page = client.get(f"/console/persons/{number}").text
    entitlement = re.search(r'action="/console/entitlements/(\d+)/update"', page)
    assert entitlement is not None
    ent_id = entitlement.group(1)
    assert f'id="u{ent_id}-level" name="attr_level" type="number"' in page
    level_input = re.search(rf'id="u{ent_id}-level"[^>]*>', page)
    assert level_input is not None
    assert 'value=""' in level_input.group(0)
    response = _post(
        client,
        f"/console/persons/{number}",
        f"/console/entitlements/{ent_id}/update",
        {
            "valid_from": "2026-01-01",
            "valid_to": "2026-10-31",
            "bhyt_group": "HT",
            "attr_facility": "79-001",
        },
    )
    assert response.status_code == 303, response.text
    after = client.get(f"/console/persons/{number}").text
    assert "31/10/2026" in after
    assert "Mức 3 (95%)" in after
