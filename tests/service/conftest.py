"""Service test fixtures: one app per test module and database (SQLite file, PostgreSQL).

PostgreSQL runs when ``ASXH_TEST_POSTGRES_URL`` is set (a fresh schema per module); otherwise
those parameters are skipped with the reason, or fail when ``ASXH_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from asxh_card.service.app import create_app

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns (once, at import) when it falls
    # back to httpx; the fallback works the same. Targeted here rather than in pyproject.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.demo import ALL_PROGRAMMES, ensure_issuer, ensure_operator, synthetic_pin
from asxh_card.service.migrate import upgrade
from asxh_card.service.settings import Settings

POSTGRES_URL = os.environ.get("ASXH_TEST_POSTGRES_URL", "")
PASSWORD = "correct horse battery staple"
OPERATORS: dict[str, dict[str, Any]] = {
    "admin": {"role": "national_admin"},
    "off79": {"role": "issuer_officer", "province": "79", "programmes": ALL_PROGRAMMES},
    "off79bhyt": {"role": "issuer_officer", "province": "79", "programmes": ("BHYT",)},
    "off01": {"role": "issuer_officer", "province": "01", "programmes": ALL_PROGRAMMES},
    "auditor": {"role": "auditor"},
    "auditor79": {"role": "auditor", "province": "79"},
    "auditor01": {"role": "auditor", "province": "01"},
    "sp": {"role": "service_point"},
}


def _settings(tmp: Path, url: str) -> Settings:
    return Settings(
        database_url=url,
        var_dir=tmp,
        secret_key=secrets.token_bytes(32),
        data_key=secrets.token_bytes(32),
        key_passphrase=b"test passphrase 123",
        public_url="http://testserver",
        # These worlds sign their own bundles as the demo does; test_trust_world.py runs the
        # production shape (no root key on the service host).
        self_signed_bundles=True,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        argon2_parallelism=1,
        log_level="INFO",
    )


def _postgres_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@dataclass
class Service:
    """An app, its context and a client; ``token(user)`` logs in."""

    app: Any
    ctx: ServiceContext
    client: TestClient
    backend: str
    _tokens: dict[str, str]

    def token(self, user: str) -> str:
        if user not in self._tokens:
            response = self.client.post(
                "/v1/auth/token", data={"username": user, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            self._tokens[user] = response.json()["access_token"]
        return self._tokens[user]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    BHYT: ClassVar[dict[str, Any]]
    TGXH: ClassVar[dict[str, Any]]

    @staticmethod
    def person(province: str = "79", **overrides: Any) -> dict[str, Any]:
        return new_person(province, **overrides)

    def register(self, user: str = "off79", province: str = "79", **overrides: Any) -> str:
        response = self.call(user, "POST", "/v1/persons", json=new_person(province, **overrides))
        assert response.status_code == 201, response.text
        return str(response.json()["asxh_number"])

    def grant(self, user: str, number: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call(user, "POST", f"/v1/persons/{number}/entitlements", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def issue(self, user: str, number: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(user, "POST", "/v1/cards", json={"asxh_number": number}, **kwargs)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def call(self, user: str | None, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user is not None:
            headers.update(self.auth(user))
        return self.client.request(method, url, headers=headers, **kwargs)


def seed_world(ctx: ServiceContext) -> None:
    """The test world: issuers vn-79 and vn-01 and the operators of ``OPERATORS``."""
    if ctx.settings.self_signed_bundles:
        ctx.keyring.ensure_root()
    with session_scope(ctx.sessions) as session:
        ensure_issuer(session, ctx, "vn-79", name="Sở Y tế TP.HCM (test)", province="79")
        ensure_issuer(session, ctx, "vn-01", name="Sở Y tế Hà Nội (test)", province="01")
        for name, spec in OPERATORS.items():
            ensure_operator(
                session,
                ctx,
                name,
                password=PASSWORD,
                role=spec["role"],
                province=spec.get("province"),
                programmes=tuple(spec.get("programmes", ())),
            )


def build_service(tmp: Path, url: str, backend: str, **overrides: Any) -> Iterator[Service]:
    settings = _settings(tmp, url).with_(**overrides)
    upgrade(settings.database_url)
    ctx = ServiceContext.build(settings)
    seed_world(ctx)
    app = create_app(settings, context=ctx)
    with TestClient(app, client=("10.0.0.1", 5000)) as client:
        yield Service(app=app, ctx=ctx, client=client, backend=backend, _tokens={})


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ],
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("svc")
    if request.param == "sqlite":
        yield from build_service(tmp, f"sqlite:///{tmp / 'asxh.db'}", "sqlite")
        return
    with postgres_schema() as url:
        yield from build_service(tmp, url, "postgresql")


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A fresh schema on the test PostgreSQL database, dropped afterwards; yields its URL.

    Skips without ``ASXH_TEST_POSTGRES_URL``, or fails when ``ASXH_REQUIRE_POSTGRES=1`` (CI).
    """
    if not POSTGRES_URL:
        if os.environ.get("ASXH_REQUIRE_POSTGRES") == "1":
            pytest.fail("ASXH_REQUIRE_POSTGRES=1 but ASXH_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need ASXH_TEST_POSTGRES_URL")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(POSTGRES_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_rng = random.Random()


def new_person(province: str = "79", **overrides: Any) -> dict[str, Any]:
    """A synthetic registration body (random PIN with a valid shape)."""
    sex = overrides.pop("sex", _rng.choice(("M", "F")))
    given = overrides.pop("date_of_birth", None)
    if isinstance(given, str):
        dob = date.fromisoformat(given)
    else:
        dob = date(1950 + _rng.randrange(60), 1 + _rng.randrange(12), 1 + _rng.randrange(28))
    prefix = {"79": "079", "01": "001"}.get(province, "079")
    body = {
        "pin": synthetic_pin(_rng, prefix, dob, sex),
        "full_name": "Nguyễn Thị Mai" if sex == "F" else "Trần Văn Hùng",
        "date_of_birth": dob.isoformat(),
        "sex": sex,
        "hometown": "Xã Tân Phú, Tỉnh Đồng Nai",
        "permanent_address": "12 Lê Lợi, Phường Sài Gòn",
    }
    body.update(overrides)
    return body


BHYT = {
    "programme": "BHYT",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "attributes": {"level": 2, "coverage": 100, "facility": "79-001"},
    "category": "HN",
}
TGXH = {
    "programme": "TGXH",
    "valid_from": "2026-01-01",
    "attributes": {"amount": 750000},
    "category": "Art. 5(6) disability",
}


def data_key_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


Service.BHYT = BHYT
Service.TGXH = TGXH


def cli_env(ctx: ServiceContext) -> dict[str, str]:
    """The ``ASXH_*`` environment under which ``asxh`` commands open ``ctx``'s database."""
    settings = ctx.settings
    return {
        **os.environ,
        "ASXH_VAR_DIR": str(settings.var_dir),
        "ASXH_DATABASE_URL": settings.database_url,
        "ASXH_SECRET_KEY": base64.b64encode(settings.secret_key).decode(),
        "ASXH_DATA_KEY": base64.b64encode(settings.data_key).decode(),
        "ASXH_KEY_PASSPHRASE": settings.key_passphrase.decode(),
        "ASXH_PUBLIC_URL": settings.public_url,
    }
