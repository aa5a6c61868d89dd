"""The web foundation without a browser: log-in, sessions, CSRF, escaping, language, errors."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from asxh_card.service.models import AuditEventRow
from asxh_card.service.security import Principal
from asxh_card.service.web.i18n import MESSAGES
from asxh_card.service.web.pages import TEMPLATES_DIR, page_principal, page_roles, render
from asxh_card.service.web.sessions import WebSessions

from .conftest import PASSWORD, Web, csrf_of


def _add_probe_pages(web: Web) -> None:
    """Two pages that exist only in these tests: any officer, and administrators only."""
    if any(getattr(r, "path", "") == "/test-only/mine" for r in web.app.routes):
        return

    def mine(
        request: Request, principal: Annotated[Principal, Depends(page_principal)]
    ) -> HTMLResponse:
        return render(request, "home.html", principal=principal)

    def admins(
        request: Request, principal: Annotated[Principal, Depends(page_roles("national_admin"))]
    ) -> HTMLResponse:
        return render(request, "home.html", principal=principal)

    web.app.add_api_route("/test-only/mine", mine, methods=["GET"])
    web.app.add_api_route("/test-only/admins", admins, methods=["GET"])


def _create_operator(web: Web, name: str, **spec: Any) -> None:
    body = {
        "username": name,
        "password": PASSWORD,
        "role": "issuer_officer",
        "province": "79",
        "programmes": ["BHYT"],
        **spec,
    }
    response = web.service.call("admin", "POST", "/v1/admin/operators", json=body)
    assert response.status_code == 201, response.text


def _audit(web: Web, action: str, name: str) -> int:
    with web.ctx.sessions() as session:
        rows = session.scalars(
            select(AuditEventRow).where(
                AuditEventRow.action == action, AuditEventRow.object_id == name
            )
        ).all()
    return len(rows)


def test_login_form_logs_in_with_a_strict_httponly_session_cookie(web: Web) -> None:
    """The form sets an HttpOnly, SameSite=Strict session cookie and audits the log-in."""
    before = _audit(web, "operator.login", "off79")
    browser = web.client()
    page = browser.get("/login")
    assert page.status_code == 200
    assert "Đăng nhập cán bộ" in page.text
    response = browser.post(
        "/login",
        data={
            "username": "off79",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/test-only/x",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/test-only/x"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("asxh_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    home = browser.get("/")
    assert "Xin chào, off79" in home.text
    assert "Cán bộ cấp thẻ" in home.text
    assert _audit(web, "operator.login", "off79") == before + 1


def test_session_cookie_is_secure_when_the_public_url_is_https(web: Web) -> None:
    """Behind https the cookie carries Secure, so it never travels in clear text."""
    original = web.ctx.settings
    web.ctx.settings = original.with_(public_url="https://asxh.example.vn")
    try:
        browser = web.client(https=True)
        token = csrf_of(browser.get("/login").text)
        response = browser.post(
            "/login", data={"username": "off79", "password": PASSWORD, "csrf_token": token}
        )
    finally:
        web.ctx.settings = original
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("asxh_session=")
    )
    assert "Secure" in cookie


def test_login_csrf_attack_without_token_is_refused(web: Web) -> None:
    """Login CSRF: a foreign site posting the form (no token) is refused, nothing is checked."""
    before = _audit(web, "operator.login", "off01")
    browser = web.client()
    response = browser.post("/login", data={"username": "off01", "password": PASSWORD})
    assert response.status_code == 403
    assert "Biểu mẫu đã hết hạn hoặc không hợp lệ" in response.text
    assert "asxh_session" not in response.headers.get("set-cookie", "")
    assert _audit(web, "operator.login", "off01") == before


def test_csrf_token_of_another_browser_is_refused(web: Web) -> None:
    """A token lifted from one browser's form does not work with another browser's cookie."""
    attacker = web.client()
    token = csrf_of(attacker.get("/login").text)
    victim = web.client()
    victim.get("/login")  # the victim has a binding cookie of their own
    response = victim.post(
        "/login", data={"username": "off79", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403


def test_cross_site_logout_is_refused(web: Web) -> None:
    """A logged-in officer is not logged out by a forged POST /logout (no token)."""
    browser = web.login("off79")
    response = browser.post("/logout", data={})
    assert response.status_code == 403
    assert "Xin chào, off79" in browser.get("/").text
    token = csrf_of(browser.get("/").text)
    done = browser.post("/logout", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/login?done=1"
    assert "Xin chào" not in browser.get("/").text
    assert "Bạn đã đăng xuất" in browser.get("/login?done=1").text


def test_web_form_post_without_a_session_is_refused_before_the_body(web: Web) -> None:
    """An anonymous POST to an officer form is answered 401 without reading the body."""
    browser = web.client()
    response = browser.post(
        "/logout",
        content=b"x" * 1000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")


def test_page_needing_a_login_redirects_to_the_login_form_and_back(web: Web) -> None:
    """No session: 303 to /login?next=...; after the log-in the officer lands on the page."""
    _add_probe_pages(web)
    browser = web.client()
    response = browser.get("/test-only/mine?q=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftest-only%2Fmine%3Fq%3D1"
    form = browser.get(response.headers["location"])
    assert "Hãy đăng nhập để xem trang này" in form.text
    assert 'value="/test-only/mine?q=1"' in form.text
    login = browser.post(
        "/login",
        data={
            "username": "auditor",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/test-only/mine?q=1",
        },
    )
    assert login.headers["location"] == "/test-only/mine?q=1"
    assert browser.get("/test-only/mine?q=1").status_code == 200


def test_role_check_answers_a_forbidden_page(web: Web) -> None:
    """A role the page does not admit gets a 403 page in Vietnamese, an admin gets the page."""
    _add_probe_pages(web)
    response = web.login("off79").get("/test-only/admins")
    assert response.status_code == 403
    assert "Vai trò của bạn không được phép dùng trang này" in response.text
    assert web.login("admin").get("/test-only/admins").status_code == 200


def test_forged_or_tampered_session_cookie_is_not_accepted(web: Web) -> None:
    """Changing the role in the cookie breaks its signature: the page asks for a log-in again."""
    _add_probe_pages(web)
    browser = web.login("off79")
    payload, stamp, signature = browser.cookies["asxh_session"].rsplit(".", 2)
    # The attacker reads and rewrites the (signed, not encrypted) payload with the library
    # itself; the key does not matter for (un)packing the payload, only for signing it.
    packer = URLSafeSerializer(b"attacker does not know the key")
    claims = packer.load_payload(payload.encode())
    assert claims["sub"] == "off79"
    claims["role"] = "national_admin"
    forged = packer.dump_payload(claims).decode()
    browser.cookies.set("asxh_session", f"{forged}.{stamp}.{signature}")
    response = browser.get("/test-only/admins")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    unsigned = web.client()
    unsigned.cookies.set("asxh_session", f"{forged}.{stamp}.")
    assert "Xin chào" not in unsigned.get("/").text


def test_session_cookie_past_its_lifetime_is_refused(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay of an old session cookie: a cookie with a valid signature whose signing time is
    older than ASXH_WEB_SESSION_MINUTES is refused (max_age on load), even if the browser
    kept it; one just inside the lifetime still works (the refusal is the age, nothing else)."""
    _add_probe_pages(web)
    sessions: WebSessions = web.app.state.web_sessions
    fresh = sessions.verify(web.login("off79").cookies["asxh_session"])
    assert fresh is not None

    def signed_ago(seconds: int) -> str:
        real = time.time()
        with monkeypatch.context() as clock:  # the signer's clock, only while signing
            clock.setattr(time, "time", lambda: real - seconds)
            value, _session = sessions.issue(fresh.principal)
        return value

    stale = web.client()
    stale.cookies.set("asxh_session", signed_ago(sessions.lifetime + 5))
    response = stale.get("/test-only/mine")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    alive = web.client()
    alive.cookies.set("asxh_session", signed_ago(sessions.lifetime - 60))
    assert alive.get("/test-only/mine").status_code == 200


def test_csrf_signature_is_not_a_session_cookie_nor_the_reverse() -> None:
    """Cross-purpose token confusion: the CSRF signer signs a binding the browser partly
    chooses (its ``asxh_csrf`` cookie). Asked to sign the exact text a session cookie signs
    (payload and time), its signature must not complete a valid session cookie; and a session
    cookie's signature is not the CSRF token of that text (a salt, so a key, per purpose)."""
    sessions = WebSessions(b"k" * 32, minutes=480)
    cookie, _session = sessions.issue(Principal("off79", "issuer_officer", "79", ("BHYT",)))
    assert sessions.verify(cookie) is not None
    signed_text, session_signature = cookie.rsplit(".", 1)
    oracle = sessions.csrf_token(signed_text)
    assert sessions.verify(f"{signed_text}.{oracle}") is None
    assert not sessions.csrf_ok(signed_text, session_signature)
    assert sessions.csrf_ok(signed_text, oracle)  # the oracle itself is a real CSRF token


def test_csrf_token_is_bound_to_its_binding() -> None:
    """Token transplant: a CSRF token for one session (or browser) is refused for another, and
    junk (wrong type, over-long, empty binding) is refused rather than raising."""
    sessions = WebSessions(b"k" * 32, minutes=480)
    token = sessions.csrf_token("s:victim-session")
    assert sessions.csrf_ok("s:victim-session", token)
    assert not sessions.csrf_ok("s:attacker-session", token)
    assert not sessions.csrf_ok("a:victim-session", token)
    assert not sessions.csrf_ok(None, token)
    assert not sessions.csrf_ok("s:victim-session", None)
    assert not sessions.csrf_ok("s:victim-session", token + "A" * 100)
    assert not sessions.csrf_ok("s:victim-session", "%%%")
    other = WebSessions(b"j" * 32, minutes=480)  # another deployment's secret
    assert not other.csrf_ok("s:victim-session", token)


def test_disabling_an_operator_ends_their_web_session(web: Web) -> None:
    """Token revocation on disable also ends the web session at the next page."""
    _add_probe_pages(web)
    _create_operator(web, "web.disable.me")
    browser = web.login("web.disable.me")
    assert browser.get("/test-only/mine").status_code == 200
    changed = web.service.call(
        "admin", "PATCH", "/v1/admin/operators/web.disable.me", json={"active": False}
    )
    assert changed.status_code == 200, changed.text
    response = browser.get("/test-only/mine")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert "Xin chào" not in browser.get("/").text


def test_web_login_lockout_is_the_api_lockout(web: Web) -> None:
    """Brute force through the form: the sixth try is 429 even with the right password, and
    the API's token endpoint is locked for the same account (one shared limiter)."""
    _create_operator(web, "web.lock.me")
    browser = web.client(address="10.9.9.9")
    before = _audit(web, "operator.login_failed", "web.lock.me")
    for _ in range(5):
        page = browser.get("/login")
        wrong = browser.post(
            "/login",
            data={
                "username": "web.lock.me",
                "password": "wrong password!",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert wrong.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.text
    assert _audit(web, "operator.login_failed", "web.lock.me") == before + 5
    page = browser.get("/login")
    locked = browser.post(
        "/login",
        data={"username": "web.lock.me  ", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Quá nhiều lần thử" in locked.text
    api = web.service.client.post(
        "/v1/auth/token", data={"username": "web.lock.me", "password": PASSWORD}
    )
    assert api.status_code == 429


def test_reflected_input_is_escaped(web: Web) -> None:
    """XSS: a user name with markup comes back escaped on the failed log-in page."""
    browser = web.client()
    page = browser.get("/login")
    attack = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
    response = browser.post(
        "/login",
        data={"username": attack[:60], "password": "nope", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_open_redirect_after_login_is_refused(web: Web) -> None:
    """``next`` pointing to another site (//evil.example) lands on / instead."""
    browser = web.client()
    page = browser.get("/login?next=//evil.example/x")
    response = browser.post(
        "/login",
        data={
            "username": "off79",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/"


def test_language_switch_is_remembered(web: Web) -> None:
    """?lang=en switches to English and sets a cookie; later pages stay English."""
    browser = web.client()
    assert 'lang="vi"' in browser.get("/").text
    english = browser.get("/login?lang=en")
    assert "Officer log-in" in english.text
    assert 'html lang="en"' in english.text
    assert "asxh_lang=en" in english.headers["set-cookie"]
    assert "Officer log-in" in browser.get("/login").text
    back = browser.get("/login?lang=vi")
    assert "Đăng nhập cán bộ" in back.text
    assert "Đăng nhập cán bộ" in browser.get("/login").text
    assert "Đăng nhập cán bộ" in browser.get("/login?lang=xx").text


def test_errors_are_pages_for_browsers_and_problems_for_the_api(web: Web) -> None:
    """A browser gets an HTML 404 page; an API client still gets application/problem+json."""
    browser = web.client()
    page = browser.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in page.text
    api = browser.get("/v1/persons/00000000000")
    assert api.headers["content-type"] == "application/problem+json"
    plain = web.service.client.get("/no-such-page")
    assert plain.headers["content-type"] == "application/problem+json"


def test_navigation_shows_only_what_the_role_may_use(web: Web) -> None:
    """Anonymous visitors see no officer entries; officers see the API documentation entry."""
    anonymous = web.client().get("/").text
    assert 'href="/docs"' not in anonymous
    assert 'href="/check"' in anonymous
    officer = web.login("off79").get("/").text
    assert 'href="/docs"' in officer


def test_static_files_are_served_from_the_package(web: Web) -> None:
    """CSS and icon come from the service itself (no CDN on an offline network)."""
    browser = web.client()
    html = browser.get("/").text
    assert "http://" not in html.replace('xmlns="http://www.w3.org', "")
    assert "https://" not in html
    css = browser.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_]+\.[a-z0-9_.]*[a-z0-9_])["']""")


def test_every_template_key_is_in_the_catalogue() -> None:
    """No page shows a raw key: every literal t("...") in templates and handlers is known."""
    used: set[str] = set()
    for template in Path(TEMPLATES_DIR).rglob("*.html"):
        used |= set(_KEY.findall(template.read_text(encoding="utf-8")))
    for module in Path(TEMPLATES_DIR).parent.glob("*.py"):  # t("...") in the page handlers
        used |= set(_KEY.findall(module.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in MESSAGES)
    assert not missing, missing
    for key, (vi, en) in MESSAGES.items():
        assert vi.strip(), key
        assert en.strip(), key


def test_vietnamese_messages_carry_diacritics() -> None:
    """Vietnamese is written with its diacritics (not 'Dang nhap')."""
    assert MESSAGES["login.title"][0] == "Đăng nhập cán bộ"
    plain = [k for k, (vi, en) in MESSAGES.items() if vi == en and not k.startswith("lang.")]
    assert len(plain) < 3, plain


@pytest.mark.parametrize("field", ["username", "password"])
def test_oversized_login_fields_are_refused_as_a_failed_login(web: Web, field: str) -> None:
    """A 100 KB password or a control character in the name never reaches argon2."""
    browser = web.client()
    page = browser.get("/login")
    data = {"username": "off79", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    data[field] = "a" * 300 if field == "username" else "a\x00b"
    response = browser.post("/login", data=data)
    assert response.status_code == 401


def test_logged_in_officer_skips_the_login_form(web: Web) -> None:
    """GET /login with a live session goes straight to the page asked for."""
    browser = web.login("auditor79")
    response = browser.get("/login?next=/check")
    assert response.status_code == 303
    assert response.headers["location"] == "/check"


def test_session_cookie_is_not_an_api_token_nor_the_reverse(web: Web) -> None:
    """Token confusion: the web cookie is refused as a bearer token, and a bearer token
    planted as the session cookie does not log a browser in (separate keys and formats)."""
    browser = web.login("off79")
    cookie = browser.cookies["asxh_session"]
    api = web.service.client.get("/v1/me", headers={"Authorization": f"Bearer {cookie}"})
    assert api.status_code == 401
    planted = web.client()
    planted.cookies.set("asxh_session", web.service.token("off79"))
    assert "Xin chào" not in planted.get("/").text
