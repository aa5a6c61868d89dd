"""Operator accounts: the first administrator from the CLI, disable/reset/re-role over HTTP."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from asxh_card.cli import app as cli
from asxh_card.service.app import create_app
from asxh_card.service.migrate import upgrade
from asxh_card.service.settings import Settings

from .conftest import PASSWORD, data_key_b64

NEW_PASSWORD = "another long passphrase 2026"


def _create(service: Any, role: str = "issuer_officer", **extra: Any) -> str:
    name = f"op-{uuid.uuid4().hex[:10]}"
    body: dict[str, Any] = {"username": name, "password": PASSWORD, "role": role, **extra}
    if role == "issuer_officer":
        body.setdefault("province", "79")
        body.setdefault("programmes", ["BHYT"])
    response = service.call("admin", "POST", "/v1/admin/operators", json=body)
    assert response.status_code == 201, response.text
    return name


def _login(service: Any, name: str, password: str = PASSWORD) -> Any:
    return service.client.post("/v1/auth/token", data={"username": name, "password": password})


def _me(service: Any, token: str) -> Any:
    return service.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_disabling_an_operator_ends_its_tokens_at_once(service: Any) -> None:
    """Attack: a dismissed officer keeps using a still-unexpired access token."""
    name = _create(service)
    token = _login(service, name).json()["access_token"]
    assert _me(service, token).status_code == 200
    response = service.call("admin", "PATCH", f"/v1/admin/operators/{name}", json={"active": False})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert _me(service, token).status_code == 401
    assert _login(service, name).status_code == 401
    # Enabling again needs a new login: the old token stays dead.
    service.call("admin", "PATCH", f"/v1/admin/operators/{name}", json={"active": True})
    assert _me(service, token).status_code == 401
    assert _me(service, _login(service, name).json()["access_token"]).status_code == 200


def test_a_disabled_operators_token_is_refused_on_post_routes_too(service: Any) -> None:
    """Attack: a dismissed officer keeps writing with a still-unexpired access token.

    The admission middleware checks a token's signature before any body is read; the routes
    then trusted it without looking at the account, so a disabled account kept every ``POST``.
    """
    name = _create(service)
    headers = {"Authorization": f"Bearer {_login(service, name).json()['access_token']}"}
    check = {"qr_text": "asxh:/not-a-card"}
    assert service.client.post("/v1/verify", json=check, headers=headers).status_code == 200
    response = service.call("admin", "PATCH", f"/v1/admin/operators/{name}", json={"active": False})
    assert response.status_code == 200, response.text
    assert service.client.post("/v1/verify", json=check, headers=headers).status_code == 401
    person = service.client.post("/v1/persons", json=service.person(), headers=headers)
    assert person.status_code == 401, person.text


def test_an_account_disabled_on_another_worker_is_refused_within_the_cache_bound(
    service: Any,
) -> None:
    """Attack window: worker B keeps admitting a token whose account worker A disabled.

    B does not see A's commits: it reads the account again once its cached state is older
    than ``ASXH_CACHE_MS`` (here 300 ms).
    """
    import time

    from asxh_card.service.context import ServiceContext

    from .conftest import TestClient

    name = _create(service)
    token = _login(service, name).json()["access_token"]
    other = ServiceContext.build(service.ctx.settings.with_(cache_ms=300))
    try:
        with TestClient(create_app(other.settings, context=other)) as worker_b:
            headers = {"Authorization": f"Bearer {token}"}
            assert worker_b.get("/v1/me", headers=headers).status_code == 200
            response = service.call(
                "admin", "PATCH", f"/v1/admin/operators/{name}", json={"active": False}
            )
            assert response.status_code == 200, response.text
            assert _me(service, token).status_code == 401  # worker A: at once
            time.sleep(0.35)
            assert worker_b.get("/v1/me", headers=headers).status_code == 401
    finally:
        other.engine.dispose()


def test_password_reset_ends_old_tokens_and_old_password(service: Any) -> None:
    """Attack: whoever learnt the old password (or holds a token) keeps access after a reset."""
    name = _create(service)
    token = _login(service, name).json()["access_token"]
    response = service.call(
        "admin", "POST", f"/v1/admin/operators/{name}/password", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert _me(service, token).status_code == 401
    assert _login(service, name).status_code == 401
    assert _login(service, name, NEW_PASSWORD).status_code == 200
    short = service.call(
        "admin", "POST", f"/v1/admin/operators/{name}/password", json={"password": "short"}
    )
    assert short.status_code == 422


def test_changing_role_and_province_takes_effect_on_the_next_login(service: Any) -> None:
    """A token states role and province: after a change the old token no longer works."""
    name = _create(service)
    token = _login(service, name).json()["access_token"]
    response = service.call(
        "admin",
        "PATCH",
        f"/v1/admin/operators/{name}",
        json={"role": "auditor", "province": "01"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["role"], body["province"], body["programmes"]) == ("auditor", "01", [])
    assert _me(service, token).status_code == 401
    me = _me(service, _login(service, name).json()["access_token"]).json()
    assert (me["role"], me["province"]) == ("auditor", "01")
    # An officer needs a province and programmes; a national admin has no province.
    bad = service.call(
        "admin", "PATCH", f"/v1/admin/operators/{name}", json={"role": "issuer_officer"}
    )
    assert bad.status_code == 422
    national = service.call(
        "admin", "PATCH", f"/v1/admin/operators/{name}", json={"role": "national_admin"}
    )
    assert national.status_code == 200
    assert national.json()["province"] is None


def test_operator_changes_are_for_national_admins_and_guarded(service: Any) -> None:
    """Officers cannot manage accounts; nobody disables themselves or the last admin."""
    name = _create(service)
    forbidden = service.call(
        "off79", "PATCH", f"/v1/admin/operators/{name}", json={"active": False}
    )
    assert forbidden.status_code == 403
    itself = service.call("admin", "PATCH", "/v1/admin/operators/admin", json={"active": False})
    assert itself.status_code == 409
    missing = service.call(
        "admin", "PATCH", "/v1/admin/operators/nobody-here", json={"active": False}
    )
    assert missing.status_code == 404
    unknown = service.call("admin", "PATCH", f"/v1/admin/operators/{name}", json={"colour": 1})
    assert unknown.status_code == 422
    actions = {e["action"] for e in service.call("admin", "GET", "/v1/audit?limit=50").json()}
    assert {"operator.change", "operator.create"} <= actions


def test_token_of_an_unknown_account_is_refused(service: Any) -> None:
    """Attack: a correctly signed token naming an account that does not exist (or no longer)."""
    from asxh_card.service.security import Principal

    token = service.ctx.tokens.issue(Principal("ghost", "national_admin", None, ()))
    assert _me(service, token).status_code == 401


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "ASXH_VAR_DIR": str(tmp_path),
        "ASXH_DATABASE_URL": f"sqlite:///{tmp_path / 'asxh.db'}",
        "ASXH_SECRET_KEY": secrets.token_urlsafe(32),
        "ASXH_DATA_KEY": data_key_b64(),
        "ASXH_KEY_PASSPHRASE": "a passphrase for tests",
    }


def test_cli_creates_the_first_national_admin_who_can_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh production install: migrate, create the first admin, log in over HTTP."""
    env = _env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    password_file = tmp_path / "pw.txt"
    password_file.write_text("a first admin passphrase\n", encoding="utf-8")
    not_migrated = runner.invoke(
        cli, ["admin", "create-operator", "chief", "--password-file", str(password_file)]
    )
    assert not_migrated.exit_code == 1
    upgrade(env["ASXH_DATABASE_URL"])
    result = runner.invoke(
        cli, ["admin", "create-operator", "chief", "--password-file", str(password_file)]
    )
    assert result.exit_code == 0, result.output
    assert "chief" in result.output
    again = runner.invoke(
        cli, ["admin", "create-operator", "chief", "--password-file", str(password_file)]
    )
    assert again.exit_code == 1
    assert "taken" in again.output
    weak = tmp_path / "weak.txt"
    weak.write_text("short", encoding="utf-8")
    refused = runner.invoke(
        cli, ["admin", "create-operator", "x-admin", "--password-file", str(weak)]
    )
    assert refused.exit_code == 1
    from fastapi.testclient import TestClient

    application = create_app(Settings.from_env())
    with TestClient(application) as client:
        login = client.post(
            "/v1/auth/token", data={"username": "chief", "password": "a first admin passphrase"}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.get("/v1/me", headers=headers).json()["role"] == "national_admin"
        assert client.get("/v1/admin/operators", headers=headers).status_code == 200


def test_cli_without_password_source_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No terminal and no --password-file: exit 2, nothing created."""
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["admin", "create-operator", "chief"], input="")
    assert result.exit_code == 2


def test_admin_api_compromise_reissues_the_keys_cards(service: Any) -> None:
    """POST .../keys/{kid}/compromise: the key is retired, its current cards re-issued."""
    admin_issuers = service.call("admin", "GET", "/v1/admin/issuers").json()
    issuer = next(i for i in admin_issuers if i["id"] == "vn-01")
    number = service.register("off01", province="01")
    service.grant("off01", number, service.TGXH)
    card = service.issue("off01", number)
    kid = next(k["kid"] for k in issuer["keys"] if k["state"] == "active")
    assert (
        service.call("off01", "POST", f"/v1/admin/issuers/vn-01/keys/{kid}/compromise").status_code
        == 403
    )
    response = service.call("admin", "POST", f"/v1/admin/issuers/vn-01/keys/{kid}/compromise")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kid"] == kid
    assert body["new_kid"] != kid
    assert {"old": card["serial"], "new": body["reissued"][0]["new"]} in body["reissued"]
    old = service.call("off01", "GET", f"/v1/cards/{card['serial']}").json()
    assert old["state"] == "revoked"
    issuers = service.call("admin", "GET", "/v1/admin/issuers").json()
    keys = {k["kid"]: k["state"] for k in next(i for i in issuers if i["id"] == "vn-01")["keys"]}
    assert keys[kid] == "retired"
    missing = service.call("admin", "POST", "/v1/admin/issuers/vn-01/keys/nokey/compromise")
    assert missing.status_code == 404
