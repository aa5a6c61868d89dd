"""Runtime: settings, migrations, start-up checks, the CLI, demo seeding, admin endpoints."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from asxh_card.cli import app as cli_app
from asxh_card.service.app import NotMigratedError, create_app
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import make_engine
from asxh_card.service.demo import seed
from asxh_card.service.settings import Settings, SettingsError

KEY = base64.b64encode(b"k" * 32).decode()
ENV = {
    "ASXH_SECRET_KEY": "s" * 32,
    "ASXH_DATA_KEY": KEY,
    "ASXH_KEY_PASSPHRASE": "passphrase for tests",
}


def test_settings_from_env(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {**ENV, "ASXH_VAR_DIR": str(tmp_path), "ASXH_PUBLIC_URL": "https://asxh.example.vn/"}
    )
    assert settings.database_url == f"sqlite:///{tmp_path / 'asxh.db'}"
    assert settings.public_url == "https://asxh.example.vn"
    assert settings.access_token_minutes == 15
    assert settings.status_list_size == 131_072
    assert not settings.demo
    assert not settings.auto_migrate
    for missing in ENV:
        env = {k: v for k, v in ENV.items() if k != missing}
        with pytest.raises(SettingsError, match=missing):
            Settings.from_env(env)
    with pytest.raises(SettingsError, match="ASXH_DATA_KEY"):
        Settings.from_env({**ENV, "ASXH_DATA_KEY": "c2hvcnQ="})
    with pytest.raises(SettingsError, match="131072"):
        Settings.from_env({**ENV, "ASXH_STATUS_LIST_SIZE": "1024"})
    with pytest.raises(SettingsError, match="integer"):
        Settings.from_env({**ENV, "ASXH_ACCESS_TOKEN_MINUTES": "soon"})


def test_demo_settings_generate_secrets_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Settings.from_env({"ASXH_VAR_DIR": str(tmp_path)}, demo=True)
    assert "DEMO MODE" in capsys.readouterr().err
    second = Settings.from_env({"ASXH_VAR_DIR": str(tmp_path)}, demo=True)
    assert capsys.readouterr().err == ""
    assert first.secret_key == second.secret_key
    assert first.data_key == second.data_key
    assert first.auto_migrate
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["demo-secrets.json"]  # no temporary left


def test_secrets_file_half_written_is_a_named_settings_error(tmp_path: Path) -> None:
    """A file cut short (a start killed mid-write before the fix) gives a clear error."""
    (tmp_path / "demo-secrets.json").write_text('{"secret_key": "abc', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"demo-secrets\.json"):
        Settings.from_env({"ASXH_VAR_DIR": str(tmp_path)}, demo=True)


def test_secrets_file_race_uses_the_first_writers_values(tmp_path: Path) -> None:
    """Two starts at once: the one that links second reads the winner's values, not its own."""
    from asxh_card.service.settings import load_or_create_secrets

    path = tmp_path / "demo-operators.json"

    def make_while_another_process_wins() -> dict[str, str]:
        path.write_text(json.dumps({"admin": "winner"}), encoding="utf-8")
        return {"admin": "loser"}

    values, created = load_or_create_secrets(path, make_while_another_process_wins)
    assert (values, created) == ({"admin": "winner"}, False)
    assert json.loads(path.read_text(encoding="utf-8")) == {"admin": "winner"}
    assert [p.name for p in tmp_path.iterdir()] == ["demo-operators.json"]


def test_sqlite_pragmas(tmp_path: Path) -> None:
    """Pragmas, the busy timeout from the setting, and an owner-only database file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x' / 'a.db'}", timeout=7)
    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 7_000,
    }
    for name in ("a.db", "a.db-wal", "a.db-shm"):
        path = tmp_path / "x" / name
        assert not path.exists() or path.stat().st_mode & 0o777 == 0o600, name


def test_refuses_an_unmigrated_database_and_cli_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    settings = Settings.from_env({**ENV, "ASXH_DATABASE_URL": url, "ASXH_VAR_DIR": str(tmp_path)})
    with pytest.raises(NotMigratedError, match="asxh db upgrade"):
        create_app(settings)
    monkeypatch.setenv("ASXH_DATABASE_URL", url)
    result = CliRunner().invoke(cli_app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        version = conn.execute("select version_num from alembic_version").fetchone()
    from asxh_card.service.migrate import head_revision

    assert version == (head_revision(),)
    app = create_app(settings)
    app.state.ctx.engine.dispose()


def test_cli_upgrade_default_is_the_database_the_service_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ASXH_DATABASE_URL, ``db upgrade`` migrates ``<ASXH_VAR_DIR>/asxh.db``.

    It used to migrate ``./var/asxh.db`` whatever ASXH_VAR_DIR said, and the service then
    refused to start on its own, never-migrated file.
    """
    monkeypatch.delenv("ASXH_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASXH_VAR_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # a wrong default (./var/asxh.db) would land here, not in var
    result = CliRunner().invoke(cli_app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "var").exists()
    settings = Settings.from_env({**ENV, "ASXH_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'asxh.db'}"
    app = create_app(settings)  # raises NotMigratedError if the upgrade went elsewhere
    app.state.ctx.engine.dispose()


def test_serve_without_secrets_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASXH_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(cli_app, ["serve"])
    assert result.exit_code == 2
    assert "ASXH_" in result.output


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from asxh_card.service.migrate import upgrade
    from asxh_card.service.models import Base

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_demo_seed_is_fast_and_idempotent(tmp_path: Path) -> None:
    settings = Settings.from_env({"ASXH_VAR_DIR": str(tmp_path)}, demo=True).with_(
        argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1
    )
    from asxh_card.service.migrate import upgrade

    upgrade(settings.database_url)
    ctx = ServiceContext.build(settings)
    started = time.perf_counter()
    info = seed(ctx, people=20, seed_value=7)
    assert time.perf_counter() - started < 20
    assert info.people == 20
    assert set(info.passwords) == {"admin", "officer79", "officer01", "auditor", "servicepoint"}
    assert info.sample_serial
    assert info.sample_number
    again = seed(ctx, people=20)
    assert again.people == 20
    assert again.passwords == info.passwords
    assert (tmp_path / "keys" / "root.pem").exists()
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "keys" / "root.pem").read_bytes()
    assert json.loads((tmp_path / "demo-operators.json").read_text())["admin"].startswith("demo-")
    assert (tmp_path / "demo-operators.json").stat().st_mode & 0o777 == 0o600
    from fastapi.testclient import TestClient  # imported after conftest silenced its warning

    app = create_app(settings.with_(auto_migrate=False), context=ctx)
    client = TestClient(app)
    token = client.post(
        "/v1/auth/token", data={"username": "officer79", "password": info.passwords["officer79"]}
    )
    assert token.status_code == 200
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    card = client.get(f"/v1/cards/{info.sample_serial}", headers=headers).json()
    verified = client.post("/v1/verify", json={"qr_text": card["qr_text"]}, headers=headers)
    assert verified.json()["valid"] is True
    ctx.engine.dispose()


def test_admin_creates_issuers_and_operators(service: Any) -> None:
    issuer = {
        "id": "vn-48",
        "name": "Sở Y tế Đà Nẵng",
        "province": "48",
        "programmes": ["BHYT", "TGXH"],
    }
    created = service.call("admin", "POST", "/v1/admin/issuers", json=issuer)
    assert created.status_code == 201, created.text
    assert service.call("admin", "POST", "/v1/admin/issuers", json=issuer).status_code == 409
    bad = service.call(
        "admin", "POST", "/v1/admin/issuers", json=issuer | {"id": "vn-02", "province": "02"}
    )
    assert bad.status_code == 422
    key = service.call("admin", "POST", "/v1/admin/issuers/vn-48/keys", json={})
    assert key.status_code == 201
    assert key.json()["keys"][0]["state"] == "active"
    assert service.call("admin", "POST", "/v1/admin/issuers/vn-99/keys", json={}).status_code == 404
    operator = {
        "username": "canbo48",
        "password": "a long passphrase 48",
        "role": "issuer_officer",
        "province": "48",
        "programmes": ["BHYT"],
    }
    made = service.call("admin", "POST", "/v1/admin/operators", json=operator)
    assert made.status_code == 201, made.text
    assert "password" not in made.text
    assert "hash" not in made.text
    assert service.call("admin", "POST", "/v1/admin/operators", json=operator).status_code == 409
    no_province = service.call(
        "admin",
        "POST",
        "/v1/admin/operators",
        json=operator | {"username": "x48", "province": None},
    )
    assert no_province.status_code == 422
    token = service.client.post(
        "/v1/auth/token", data={"username": "canbo48", "password": "a long passphrase 48"}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    person = service.client.post("/v1/persons", json=service.person(), headers=headers)
    assert person.status_code == 201
    assert person.json()["province"] == "48"
    number = person.json()["asxh_number"]
    granted = service.client.post(
        f"/v1/persons/{number}/entitlements",
        headers=headers,
        json=service.BHYT | {"category": None},
    )
    assert granted.status_code == 201, granted.text
    card = service.client.post("/v1/cards", json={"asxh_number": number}, headers=headers)
    assert card.status_code == 201
    assert card.json()["issuer"] == "vn-48"
    actions = {e["action"] for e in service.call("admin", "GET", "/v1/audit?limit=500").json()}
    assert {
        "issuer.create",
        "issuer.key",
        "operator.create",
        "person.register",
        "entitlement.grant",
        "card.issue",
    } <= actions
    assert service.call("auditor", "GET", "/v1/audit?limit=0").status_code == 422


def test_serve_demo_prints_how_to_log_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kw: calls.append(kw))
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ASXH_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASXH_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(cli_app, ["serve", "--demo", "--people", "4", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "host": "127.0.0.1",
            "port": 8123,
            "access_log": False,
            "log_config": None,
            "server_header": False,
        }
    ]
    output = result.output
    assert "DEMO KEYS" in output
    assert "/docs" in output
    assert "curl" in output
    passwords = json.loads((tmp_path / "demo-operators.json").read_text())
    assert passwords["officer79"] in output
    assert (tmp_path / "asxh.db").exists()


def _serve_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, public_url: str | None = None
) -> tuple[Any, list[Any]]:
    import uvicorn

    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: apps.append(app))
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ASXH_DATABASE_URL", raising=False)
    monkeypatch.delenv("ASXH_PUBLIC_URL", raising=False)
    if public_url is not None:
        monkeypatch.setenv("ASXH_PUBLIC_URL", public_url)
    monkeypatch.setenv("ASXH_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(cli_app, ["serve", "--demo", "--people", "2", *args])
    return result, apps


def test_serve_public_url_follows_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 §3: `asxh serve --demo --port 8123` without ASXH_PUBLIC_URL publishes status
    lists under http://127.0.0.1:8123 (they named port 8000, where nothing listens)."""
    from fastapi.testclient import TestClient

    from asxh_card._core.b64 import b64url_decode

    result, apps = _serve_demo(tmp_path, monkeypatch, "--port", "8123")
    assert result.exit_code == 0, result.output
    assert "ASXH_PUBLIC_URL" not in result.output
    with TestClient(apps[0]) as client:
        token = client.get("/v1/trust-bundle").text
    payload = b64url_decode(token.split(".")[1]).decode()
    assert "http://127.0.0.1:8123/" in payload
    assert ":8000/" not in payload


def test_serve_reports_a_public_url_on_another_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit ASXH_PUBLIC_URL naming this machine on another port is reported at
    start-up; a public URL behind a proxy is not."""
    from asxh_card.cli.service import local_url, public_url_mismatch

    result, _ = _serve_demo(
        tmp_path, monkeypatch, "--port", "8123", public_url="http://127.0.0.1:8000"
    )
    assert result.exit_code == 0, result.output
    assert "names port 8000" in " ".join(result.output.split())
    assert public_url_mismatch("https://asxh.gov.vn", "0.0.0.0", 8000) is None  # noqa: S104
    assert public_url_mismatch("http://localhost:8123", "127.0.0.1", 8123) is None
    assert public_url_mismatch("http://localhost", "127.0.0.1", 8123) is not None
    assert local_url("0.0.0.0", 9000) == "http://127.0.0.1:9000"  # noqa: S104
    assert local_url("::1", 9000) == "http://[::1]:9000"
