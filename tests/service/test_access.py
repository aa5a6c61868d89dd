"""Access control: province isolation (404) on every object endpoint, roles, owned fields."""

from __future__ import annotations

from typing import Any

import pytest

from asxh_card.card import parse_card_jws


@pytest.fixture(scope="module")
def world(service: Any) -> dict[str, Any]:
    """A person of province 79 with an entitlement, a card and an open reconciliation."""
    body = service.person()
    number = service.call("off79", "POST", "/v1/persons", json=body).json()["asxh_number"]
    ent = service.grant("off79", number, service.BHYT)
    card = service.issue("off79", number)
    rec = service.call("off79", "POST", "/v1/persons", json={**body, "hometown": "Huế"}).json()
    prov = service.call(
        "off79",
        "POST",
        "/v1/persons/provisional",
        json={
            "full_name": "Lò Văn Páo",
            "date_of_birth": "2015-03-02",
            "sex": "M",
            "commune": "Xã Cần Giờ",
        },
    ).json()
    return {
        "pin": body["pin"],
        "number": number,
        "provisional": prov["asxh_number"],
        "ent": ent["id"],
        "serial": card["serial"],
        "rec": rec["reconciliation_id"],
        "status_path": card["status"]["uri"].removeprefix("http://testserver"),
        "qr_text": card["qr_text"],
    }


CHANGE = {"reason_code": "other"}


def object_endpoints(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every endpoint that touches one object: (method, path, JSON body)."""
    n, e, s, r = w["number"], w["ent"], w["serial"], w["rec"]
    return [
        ("GET", f"/v1/persons/{n}", None),
        ("POST", "/v1/persons/lookup", {"pin": w["pin"]}),
        ("POST", f"/v1/persons/{w['provisional']}/pin", {"pin": w["pin"]}),
        ("POST", f"/v1/persons/{n}/aliases", {"kind": "cmnd", "value": "111222333"}),
        ("GET", f"/v1/persons/{n}/entitlements", None),
        ("POST", f"/v1/persons/{n}/entitlements", {**_TGXH}),
        ("GET", f"/v1/persons/{n}/cards", None),
        ("GET", f"/v1/entitlements/{e}", None),
        ("PATCH", f"/v1/entitlements/{e}", {"valid_to": "2026-12-30"}),
        ("POST", f"/v1/entitlements/{e}/end", {"end_date": "2026-01-02", **CHANGE}),
        ("POST", f"/v1/entitlements/{e}/revoke", CHANGE),
        ("POST", f"/v1/entitlements/{e}/suspend", CHANGE),
        ("POST", f"/v1/entitlements/{e}/reinstate", CHANGE),
        ("POST", "/v1/cards", {"asxh_number": n}),
        ("GET", f"/v1/cards/{s}", None),
        ("GET", f"/v1/cards/{s}/qr.png", None),
        ("GET", f"/v1/cards/{s}/qr.svg", None),
        ("GET", f"/v1/cards/{s}/card.png", None),
        ("GET", f"/v1/cards/{s}/print.pdf", None),
        ("POST", f"/v1/cards/{s}/replace", CHANGE),
        ("POST", f"/v1/cards/{s}/revoke", CHANGE),
        ("POST", f"/v1/cards/{s}/suspend", CHANGE),
        ("POST", f"/v1/cards/{s}/reinstate", CHANGE),
        ("GET", f"/v1/reconciliations/{r}", None),
        ("POST", f"/v1/reconciliations/{r}/resolve", {"action": "accept"}),
    ]


_TGXH = {"programme": "TGXH", "valid_from": "2026-01-01", "attributes": {"amount": 500_000}}
ENDPOINT_IDS = [
    f"{m} {p}"
    for m, p, _ in object_endpoints(
        {
            "number": "{n}",
            "ent": "{e}",
            "serial": "{s}",
            "rec": "{r}",
            "pin": "",
            "provisional": "{p}",
        }
    )
]


_READS = {i for i, name in enumerate(ENDPOINT_IDS) if name.startswith("GET") or "lookup" in name}
ISOLATION_CASES = [
    pytest.param(user, index, id=f"{user}-{name}")
    for user in ("off01", "auditor01")
    for index, name in enumerate(ENDPOINT_IDS)
    if user == "off01" or index in _READS
]


@pytest.mark.parametrize(("user", "index"), ISOLATION_CASES)
def test_other_province_gets_404(
    service: Any, world: dict[str, Any], user: str, index: int
) -> None:
    method, path, body = object_endpoints(world)[index]
    response = service.call(user, method, path, json=body)
    assert response.status_code == 404, (method, path, response.text)
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "https://asxh.gov.vn/problems/not-found"
    assert world["pin"] not in response.text
    assert "instance" in problem
    assert "Nguyễn" not in response.text
    assert "Trần" not in response.text


def test_isolation_left_everything_untouched(service: Any, world: dict[str, Any]) -> None:
    card = service.call("off79", "GET", f"/v1/cards/{world['serial']}").json()
    assert card["state"] == "active"
    ent = service.call("off79", "GET", f"/v1/entitlements/{world['ent']}").json()
    assert ent["state"] == "active"
    assert ent["valid_to"] == "2026-12-31"
    rec = service.call("off79", "GET", f"/v1/reconciliations/{world['rec']}").json()
    assert rec["state"] == "open"
    assert world["rec"] not in [
        r["id"] for r in service.call("off01", "GET", "/v1/reconciliations").json()
    ]
    events = service.call("off01", "GET", "/v1/audit").json()
    assert all(e["province"] in (None, "01") for e in events)


@pytest.mark.parametrize("user", ["admin", "off79", "off01", "auditor", "auditor79", "auditor01"])
def test_lists_show_exactly_what_the_object_endpoints_show(
    service: Any, world: dict[str, Any], user: str
) -> None:
    """The list endpoints and the per-object look-ups apply one province rule."""
    listed = {r["id"] for r in service.call(user, "GET", "/v1/reconciliations").json()}
    opened = {r["id"] for r in service.call("admin", "GET", "/v1/reconciliations").json()}
    assert world["rec"] in opened
    readable = {
        rid
        for rid in opened
        if service.call(user, "GET", f"/v1/reconciliations/{rid}").status_code == 200
    }
    assert listed == readable
    events = service.call(user, "GET", "/v1/audit?limit=500").json()
    provinces = {e["province"] for e in events}
    if user in ("admin", "auditor"):
        assert {"79", None} <= provinces  # events of a province and the national ones
    else:
        assert provinces == {user[-2:]}


def test_a_provincial_token_without_a_province_sees_nothing(
    service: Any, world: dict[str, Any]
) -> None:
    """A signed officer token with no province names no account: refused outright (401).

    The province rule for such a principal (it sees nothing) is Principal.sees's, tested in
    test_registry; the account check (asxh_card.service.operators) refuses the token first.
    """
    from asxh_card.service.security import Principal

    token = service.ctx.tokens.issue(Principal("ghost", "issuer_officer", None, ("BHYT",)))
    headers = {"Authorization": f"Bearer {token}"}
    assert service.call(None, "GET", "/v1/reconciliations", headers=headers).status_code == 401
    assert service.call(None, "GET", "/v1/audit", headers=headers).status_code == 401
    rec = service.call(None, "GET", f"/v1/reconciliations/{world['rec']}", headers=headers)
    assert rec.status_code == 401


def test_foreign_and_missing_look_the_same(service: Any, world: dict[str, Any]) -> None:
    foreign = service.call("off01", "GET", f"/v1/cards/{world['serial']}").json()
    missing = service.call("off01", "GET", "/v1/cards/NOSUCHSERIAL").json()
    assert {k: foreign[k] for k in ("type", "title", "detail")} == {
        k: missing[k] for k in ("type", "title", "detail")
    }


def test_auditor_is_read_only(service: Any, world: dict[str, Any]) -> None:
    for method, path, body in object_endpoints(world):
        response = service.call("auditor", method, path, json=body)
        if method == "GET" or path == "/v1/persons/lookup":
            assert response.status_code == 200, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"].endswith("/forbidden")
    assert service.call("auditor", "POST", "/v1/persons", json=service.person()).status_code == 403
    assert service.call("auditor", "GET", "/v1/audit").status_code == 200


def test_service_point_only_pulls_trust_material(service: Any, world: dict[str, Any]) -> None:
    for method, path, body in object_endpoints(world):
        response = service.call("sp", method, path, json=body)
        assert response.status_code == 403, (method, path)
    for path in (world["status_path"], "/v1/trust-bundle", "/.well-known/jwks.json"):
        assert service.call("sp", "GET", path).status_code == 200
    verify = service.call("sp", "POST", "/v1/verify", json={"qr_text": world["qr_text"]})
    assert verify.status_code == 200
    for path in ("/v1/audit", "/v1/reconciliations", "/v1/admin/issuers"):
        assert service.call("sp", "GET", path).status_code == 403


def test_unauthenticated(service: Any, world: dict[str, Any]) -> None:
    for method, path, body in object_endpoints(world):
        response = service.call(None, method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
    bad = service.call(
        None,
        "GET",
        f"/v1/persons/{world['number']}",
        headers={"Authorization": "Bearer not.a.token"},
    )
    assert bad.status_code == 401
    # Public trust material needs no token.
    for path in (world["status_path"], "/v1/trust-bundle", "/.well-known/jwks.json"):
        assert service.call(None, "GET", path).status_code == 200
    assert service.call(None, "POST", "/v1/verify", json={"qr_text": "x"}).status_code == 401


def test_admin_endpoints_need_a_national_admin(service: Any) -> None:
    for user in ("off79", "auditor", "sp"):
        assert service.call(user, "GET", "/v1/admin/operators").status_code == 403
        response = service.call(
            user,
            "POST",
            "/v1/admin/issuers",
            json={"id": "vn-48", "name": "x", "province": "48", "programmes": ["BHYT"]},
        )
        assert response.status_code == 403


def test_officer_programmes(service: Any) -> None:
    number = service.register()
    tgxh = service.call("off79bhyt", "POST", f"/v1/persons/{number}/entitlements", json=_TGXH)
    assert tgxh.status_code == 403
    ent = service.grant("off79", number, {**_TGXH, "category": "sensitive reason"})
    bhyt = service.grant(
        "off79bhyt",
        number,
        {
            "programme": "BHYT",
            "valid_from": "2026-01-01",
            "attributes": {"level": 1, "coverage": 100, "facility": "79-002"},
            "category": "HN",
        },
    )
    assert (
        service.call(
            "off79bhyt", "POST", f"/v1/entitlements/{ent['id']}/revoke", json=CHANGE
        ).status_code
        == 403
    )
    # Category: visible to who manages the programme, hidden from others.
    listed = {
        e["programme"]: e["category"]
        for e in service.call("off79bhyt", "GET", f"/v1/persons/{number}/entitlements").json()
    }
    assert listed == {"TGXH": None, "BHYT": "HN"}
    assert (
        service.call("auditor", "GET", f"/v1/entitlements/{bhyt['id']}").json()["category"] is None
    )
    assert (
        service.call("admin", "GET", f"/v1/entitlements/{ent['id']}").json()["category"]
        == "sensitive reason"
    )
    card = service.issue("off79", number)
    assert "sensitive reason" not in str(parse_card_jws(card["token"])[1])


@pytest.mark.parametrize(
    ("path_kind", "extra"),
    [
        ("register", {"asxh_number": "79123456784"}),
        ("register", {"province": "79"}),
        ("register", {"status": "active"}),
        ("register", {"provisional": False}),
        ("grant", {"state": "active"}),
        ("grant", {"province": "01"}),
        ("grant", {"status_idx": 5}),
        ("grant", {"id": 1}),
        ("card", {"serial": "MYSERIAL"}),
        ("card", {"state": "active"}),
        ("card", {"province": "79"}),
        ("patch", {"state": "active"}),
        ("patch", {"programme": "TGXH"}),
        ("operator", {"id": 5}),
    ],
)
def test_server_owned_fields_are_refused(
    service: Any, world: dict[str, Any], path_kind: str, extra: dict[str, Any]
) -> None:
    number = world["number"]
    requests = {
        "register": ("off79", "POST", "/v1/persons", service.person()),
        "grant": ("off79", "POST", f"/v1/persons/{number}/entitlements", dict(_TGXH)),
        "card": ("off79", "POST", "/v1/cards", {"asxh_number": number}),
        "patch": ("off79", "PATCH", f"/v1/entitlements/{world['ent']}", {}),
        "operator": (
            "admin",
            "POST",
            "/v1/admin/operators",
            {"username": "someone", "password": "x" * 16, "role": "auditor"},
        ),
    }
    user, method, path, body = requests[path_kind]
    response = service.call(user, method, path, json={**body, **extra})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "https://asxh.gov.vn/problems/server-owned-field"
    assert problem["title_vi"]
    assert next(iter(extra)) in problem["detail"]
