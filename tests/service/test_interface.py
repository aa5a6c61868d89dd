"""Interface quality: problem+json, no 500 on any input, health, OpenAPI, rate limits, logs."""

from __future__ import annotations

import io
import logging
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select

from asxh_card.service.logs import JsonFormatter

PROBLEM_KEYS = {"type", "status", "title", "title_vi"}


def _assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("https://asxh.gov.vn/problems/")
    assert body["title"]
    assert body["title_vi"]
    assert body["title"] != body["title_vi"]
    if slug is not None:
        assert body["type"].endswith("/" + slug)
    return dict(body)


def test_problem_shapes(service: Any) -> None:
    _assert_problem(service.call("off79", "GET", "/v1/nothing-here"), 404, "not-found")
    _assert_problem(service.call("off79", "DELETE", "/v1/cards"), 405, "method-not-allowed")
    raw = service.call(
        "off79",
        "POST",
        "/v1/persons",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    _assert_problem(raw, 422, "validation-error")
    missing = _assert_problem(service.call("off79", "POST", "/v1/persons", json={}), 422)
    assert {tuple(e["loc"]) for e in missing["errors"]} >= {("body", "pin"), ("body", "sex")}
    bad_date = service.call(
        "off79", "POST", "/v1/persons", json=service.person() | {"date_of_birth": "17/05/1990"}
    )
    assert "YYYY-MM-DD" in _assert_problem(bad_date, 422)["detail"]
    number = service.register()
    unknown = service.call(
        "off79",
        "POST",
        f"/v1/persons/{number}/entitlements",
        json={"programme": "XYZ", "valid_from": "2026-01-01"},
    )
    _assert_problem(unknown, 422, "invalid-entitlement")
    _assert_problem(service.call("off79", "GET", "/v1/persons/79123"), 422, "invalid-identifier")
    _assert_problem(service.call(None, "GET", "/v1/me"), 401, "unauthenticated")
    _assert_problem(service.call("auditor", "POST", "/v1/cards", json={}), 403, "forbidden")


def test_non_standard_json_is_refused(service: Any) -> None:
    for raw in (b'{"pin": Infinity}', b'{"pin": NaN}', b"[1, 2]", b'"text"', b"\xff\xfe"):
        response = service.call(
            "off79",
            "POST",
            "/v1/persons",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        _assert_problem(response, 422)


def test_validation_errors_never_echo_input(service: Any) -> None:
    body = service.person()
    response = service.call(
        "off79", "POST", "/v1/persons", json=body | {"sex": "X", "date_of_birth": 12}
    )
    problem = _assert_problem(response, 422)
    assert body["pin"] not in response.text
    assert all("input" not in error for error in problem["errors"])


_text = st.one_of(st.text(max_size=40), st.text(alphabet=string.digits, min_size=9, max_size=13))
_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(_text, _text, max_size=2),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "pin",
                "full_name",
                "date_of_birth",
                "sex",
                "hometown",
                "permanent_address",
                "province",
                "x",
            ]
        ),
        _value,
        max_size=8,
    ),
    target=st.sampled_from(
        ["/v1/persons", "/v1/persons/provisional", "/v1/persons/lookup", "/v1/cards", "/v1/verify"]
    ),
)
def test_no_500_on_any_json(service: Any, body: dict[str, Any], target: str) -> None:
    response = service.call("admin", "POST", target, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        _assert_problem(response, response.status_code)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segment=st.text(min_size=1, max_size=30).filter(
        lambda s: "/" not in s and s not in {".", ".."}
    ),
    template=st.sampled_from(
        [
            "/v1/persons/{}",
            "/v1/persons/{}/entitlements",
            "/v1/persons/{}/cards",
            "/v1/entitlements/{}",
            "/v1/cards/{}",
            "/v1/cards/{}/qr.png",
            "/v1/status-lists/vn-79/{}",
            "/v1/reconciliations/{}",
            "/v1/audit?before_id={}",
            "/v1/audit?limit={}",
        ]
    ),
)
def test_no_500_on_any_path(service: Any, segment: str, template: str) -> None:
    for number in ("9223372036854775808", "-1", "0", "99999999999999999999999"):
        response = service.call("admin", "GET", template.format(number))
        assert response.status_code < 500, (template, number)
    from urllib.parse import quote

    response = service.call("admin", "GET", template.format(quote(segment, safe="")))
    assert response.status_code < 500, response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attributes=st.dictionaries(st.text(max_size=12), st.one_of(st.integers(), _text), max_size=4),
    programme=st.sampled_from(["BHYT", "TGXH", "GN", "bhyt", "", "NCC"]),
    valid_from=st.sampled_from(["2026-01-01", "2026-13-01", "2026-02-30", "", "20260101"]),
)
def test_no_500_on_any_entitlement(
    service: Any, attributes: dict[str, Any], programme: str, valid_from: str
) -> None:
    number = service.ctx.cache.setdefault("fuzz-person", service.register())
    response = service.call(
        "off79",
        "POST",
        f"/v1/persons/{number}/entitlements",
        json={"programme": programme, "valid_from": valid_from, "attributes": attributes},
    )
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        service.call(
            "off79",
            "POST",
            f"/v1/entitlements/{response.json()['id']}/revoke",
            json={"reason_code": "data_error"},
        )


def test_patch_null_for_a_field_that_cannot_be_cleared_is_a_422(service: Any) -> None:
    """``{"attributes": null}`` once reached the update as a value and answered 500."""
    number = service.register()
    ent = service.grant("off79", number, service.BHYT)
    path = f"/v1/entitlements/{ent['id']}"
    for field in ("attributes", "valid_from"):
        response = service.call("off79", "PATCH", path, json={field: None})
        problem = _assert_problem(response, 422, "validation-error")
        assert problem["errors"][0]["loc"] == ["body", field]
    unchanged = service.call("off79", "GET", path).json()
    assert unchanged["attributes"] == service.BHYT["attributes"]
    assert unchanged["valid_from"] == service.BHYT["valid_from"]
    # Null still clears what may be cleared.
    cleared = service.call("off79", "PATCH", path, json={"category": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["category"] is None


def test_racing_creations_of_one_issuer_are_one_201_and_409s(service: Any) -> None:
    """Checking for the id before inserting let racers reach the unique key: a 500.

    SQLite serialises writers, so only the PostgreSQL run can see the race; there the old
    check-then-insert failed this test in four runs out of five.
    """
    from concurrent.futures import ThreadPoolExecutor

    headers = service.auth("admin")
    body = {
        "id": f"vn-race-{service.backend}",
        "name": "x",
        "province": "48",
        "programmes": ["BHYT"],
    }

    def create(_: int) -> int:
        return int(service.client.post("/v1/admin/issuers", json=body, headers=headers).status_code)

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = sorted(pool.map(create, range(48)))
    assert statuses == [201] + [409] * 47


def test_health(service: Any) -> None:
    assert service.client.get("/health/live").json() == {"status": "ok"}
    ready = service.client.get("/health/ready")
    assert ready.status_code == 200
    from asxh_card.service.migrate import head_revision

    assert ready.json()["revision"] == head_revision()
    assert ready.json()["database"] == service.backend


def test_openapi_is_complete_with_examples(service: Any) -> None:
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/persons",
        "/v1/cards",
        "/v1/status-lists/{issuer_id}/{list_id}",
        "/v1/status-lists/{issuer_id}/",
        "/v1/status-lists",
        "/v1/admin/trust-bundle",
        "/v1/verify",
        "/.well-known/jwks.json",
        "/v1/trust-bundle",
        "/v1/auth/token",
        "/health/ready",
        "/v1/admin/issuers",
    ):
        assert path in paths, path
    missing = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                if media == "application/json":
                    schema = content.get("schema", {})
                    ref = schema.get("$ref", "")
                    name = ref.rsplit("/", 1)[-1]
                    component = spec["components"]["schemas"].get(name, schema)
                    if "examples" not in component and "example" not in content:
                        missing.append(f"{method} {path}")
            errors = [c for c, r in operation["responses"].items() if c[0] in "45"]
            public = {"/v1/status-lists/{issuer_id}/{list_id}", "/v1/status-lists"}
            if path.startswith("/v1/") and path not in public:
                assert errors, f"{method} {path} documents no error responses"
    assert not missing, missing
    problem = paths["/v1/persons"]["post"]["responses"]["409"]["content"]
    assert "application/problem+json" in problem
    assert spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["type"] == "oauth2"
    assert service.client.get("/docs").status_code == 200


def test_login_rate_limit_per_account(service: Any) -> None:
    for _ in range(5):
        response = service.client.post(
            "/v1/auth/token", data={"username": "off01", "password": "wrong password"}
        )
        _assert_problem(response, 401, "invalid-credentials")
    blocked = service.client.post(
        "/v1/auth/token", data={"username": "off01", "password": "wrong password"}
    )
    _assert_problem(blocked, 429, "too-many-requests")
    assert 0 < int(blocked.headers["retry-after"]) <= 300
    # Even the right password waits until the window has passed.
    right = service.client.post(
        "/v1/auth/token", data={"username": "off01", "password": "correct horse battery staple"}
    )
    assert right.status_code == 429
    # Tokens already issued keep working.
    assert service.call("off79", "GET", "/v1/me").json()["province"] == "79"


def test_login_rate_limit_per_address(service: Any) -> None:
    from fastapi.testclient import TestClient

    other = TestClient(service.app, client=("10.9.9.9", 1234))
    statuses = [
        other.post("/v1/auth/token", data={"username": f"nobody{i}", "password": "x"}).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    # Another address is not affected.
    assert (
        service.client.post(
            "/v1/auth/token", data={"username": "nobody", "password": "x"}
        ).status_code
        == 401
    )


def test_no_pin_in_logs_or_database(service: Any) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    loggers = [logging.getLogger("asxh_card.service"), root]
    for logger in loggers:
        logger.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        body = service.person()
        pin = body["pin"]
        created = service.call("off79", "POST", "/v1/persons", json=body)
        number = created.json()["asxh_number"]
        service.call("off79", "POST", "/v1/persons/lookup", json={"pin": pin})
        service.call(
            "off79", "POST", "/v1/persons", json=body | {"sex": "M" if body["sex"] == "F" else "F"}
        )
        service.call("off79", "POST", "/v1/persons", json=body | {"full_name": "Lê Văn Tám"})
        service.call("off79", "POST", f"/v1/persons/{number}/pin", json={"pin": pin})
        service.grant("off79", number, service.BHYT)
        service.issue("off79", number)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        root.setLevel(old_level)
    logs = stream.getvalue()
    assert '"route": "/v1/persons"' in logs
    assert pin not in logs
    assert pin[3:] not in logs
    assert body["full_name"] not in logs
    # A database dump shows neither the PIN nor its last nine digits.
    with service.ctx.engine.connect() as conn:
        metadata = MetaData()
        metadata.reflect(conn)
        dump = "\n".join(
            repr(row) for table in metadata.sorted_tables for row in conn.execute(select(table))
        )
    assert number in dump
    assert pin not in dump
    assert pin[3:] not in dump


def test_request_id_header(service: Any) -> None:
    response = service.client.get("/health/live", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    generated = service.client.get("/health/live", headers={"X-Request-ID": "bad id\n"})
    assert generated.headers["x-request-id"] != "bad id\n"
    problem = service.call("off79", "GET", "/v1/cards/NOPE", headers={"X-Request-ID": "r42"})
    assert problem.json()["request_id"] == "r42"


def test_nul_and_control_characters_are_refused_everywhere(service: Any) -> None:
    """PostgreSQL refuses NUL in text: every text input must be checked before the database."""
    number = service.register()
    ent = service.grant("off79", number, service.TGXH)
    serial = service.issue("off79", number)["serial"]
    bad = "a\x00b"
    cases = [
        ("POST", "/v1/persons", service.person() | {"full_name": bad}),
        ("POST", "/v1/persons", service.person() | {"hometown": bad}),
        ("POST", "/v1/persons", service.person() | {"pin": "0791\x0090001234"}),
        ("POST", "/v1/persons/lookup", {"cmnd": bad}),
        ("POST", f"/v1/persons/{number}/aliases", {"kind": "cmnd", "value": bad}),
        ("POST", f"/v1/persons/{number}/entitlements", service.TGXH | {"category": bad}),
        (
            "POST",
            f"/v1/persons/{number}/entitlements",
            service.BHYT | {"attributes": {"level": 2, "coverage": 100, "facility": bad}},
        ),
        ("PATCH", f"/v1/entitlements/{ent['id']}", {"category": bad}),
        ("POST", f"/v1/entitlements/{ent['id']}/suspend", {"reason_code": "other", "note": bad}),
        ("POST", f"/v1/cards/{serial}/suspend", {"reason_code": "other", "note": bad}),
        ("GET", "/v1/cards/%00", None),
        ("GET", f"/v1/persons/{number[:5]}%00", None),
    ]
    for method, path, body in cases:
        response = service.call("off79", method, path, json=body)
        assert response.status_code == 422, (path, body, response.text)
    login = service.client.post("/v1/auth/token", data={"username": bad, "password": "x"})
    assert login.status_code == 422
    bad_key = service.call(
        "off79",
        "POST",
        "/v1/cards",
        json={"asxh_number": number},
        headers={"Idempotency-Key": "a\tb"},
    )
    assert bad_key.status_code == 422
    admin = service.call("admin", "POST", "/v1/admin/issuers/vn-79/keys/%00/retire")
    assert admin.status_code == 422


def test_expired_and_forged_tokens(service: Any) -> None:
    from asxh_card.service.security import AccessTokens, Principal

    who = Principal("off79", "issuer_officer", "79", ("BHYT",))
    old = service.ctx.tokens.issue(who, now=1_000_000)
    response = service.call(None, "GET", "/v1/me", headers={"Authorization": f"Bearer {old}"})
    _assert_problem(response, 401, "unauthenticated")
    forged = AccessTokens(b"another secret key!!", minutes=15).issue(
        Principal("x", "national_admin", None, ())
    )
    response = service.call(None, "GET", "/v1/me", headers={"Authorization": f"Bearer {forged}"})
    _assert_problem(response, 401, "unauthenticated")
    token = service.token("off79")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    response = service.call(None, "GET", "/v1/me", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_a_remembered_token_still_expires() -> None:
    """Checked tokens are remembered (no signature check per request) only until ``exp``."""
    from asxh_card.service.security import AccessTokens, Principal, TokenError

    tokens = AccessTokens(b"a test secret for access tokens", minutes=15)
    token = tokens.issue(Principal("off79", "issuer_officer", "79", ("BHYT",)), now=1_000_000)
    assert tokens.verify(token, now=1_000_100).username == "off79"
    assert tokens.verify(token, now=1_000_100).username == "off79"  # from memory
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now=1_000_000 + 15 * 60)
    header, payload, signature = token.split(".")
    with pytest.raises(TokenError):
        tokens.verify(f"{header}.{payload}.{signature[:-4]}AAAA", now=1_000_100)


def test_unexpected_errors_become_a_500_problem_without_details(service: Any) -> None:
    secret = "Nguyễn Văn Bí Mật 079190001234"

    def boom() -> None:
        raise RuntimeError(secret)

    if not any(getattr(r, "path", "") == "/test-only/boom" for r in service.app.routes):
        service.app.add_api_route("/test-only/boom", boom, methods=["GET"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("asxh_card.service")
    logger.addHandler(handler)
    try:
        response = service.client.get("/test-only/boom")
    finally:
        logger.removeHandler(handler)
    problem = _assert_problem(response, 500, "internal-error")
    assert secret not in response.text
    assert problem["title_vi"]
    logs = stream.getvalue()
    assert '"error_type": "RuntimeError"' in logs
    assert secret not in logs
    assert "079190001234" not in logs


def test_large_bodies_are_refused_before_reading(service: Any) -> None:
    big = b'{"pin": "' + b"1" * 70_000 + b'"}'
    response = service.call(
        "off79", "POST", "/v1/persons", content=big, headers={"Content-Type": "application/json"}
    )
    _assert_problem(response, 413, "payload-too-large")
    photo = service.call(
        "sp",
        "POST",
        "/v1/verify",
        files={"photo": ("p.png", b"\0" * (10 * 1024 * 1024), "image/png")},
    )
    _assert_problem(photo, 413, "payload-too-large")
    for content_type, raw in (
        ("multipart/form-data; boundary=x", b"--x\r\nnot multipart"),
        ("multipart/form-data", b"no boundary"),
    ):
        broken = service.call(
            "sp", "POST", "/v1/verify", content=raw, headers={"Content-Type": content_type}
        )
        problem = _assert_problem(broken, 422, "validation-error")
        assert problem["detail"].startswith("the request body is malformed")
    login = service.client.post(
        "/v1/auth/token", content=b"x", headers={"Content-Type": "multipart/form-data"}
    )
    assert _assert_problem(login, 422, "validation-error")["detail"].endswith("multipart.")
