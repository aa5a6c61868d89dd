"""Hostile input and load (issue 10 §1): bodies, logins, concurrency. Each test names the attack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

CHUNK = b"x" * 65_536


async def _asgi(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Call ``app`` over ASGI with a lazily produced body: (status, JSON body, bytes pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal pulled, done
        if done:
            await anyio.sleep(3600)  # a client that keeps the connection open
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.9.9.9", 1234),
        "server": ("testserver", 80),
        "app": app,
    }
    with anyio.fail_after(30):
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def _endless() -> Iterator[bytes]:
    for _ in range(2048):  # 128 MiB if read to the end
        yield CHUNK


def test_chunked_body_without_credentials_is_refused_before_it_is_read(service: Any) -> None:
    """Attack: a 128 MiB chunked body to POST /v1/persons with no token (memory exhaustion).

    The 401 comes before the body is read: not one chunk is pulled from the client.
    """
    status, body, pulled = anyio.run(
        _asgi,
        service.app,
        "POST",
        "/v1/persons",
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        _endless(),
    )
    assert status == 401
    assert body["type"].endswith("/unauthenticated")
    assert pulled == 0


def test_chunked_body_is_cut_off_at_the_limit(service: Any) -> None:
    """Attack: an authenticated officer streams a chunked body without Content-Length.

    The bytes are counted as they arrive: 413 after the first 64 KiB, not after 128 MiB.
    """
    headers = {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        "authorization": f"Bearer {service.token('off79')}",
    }
    status, body, pulled = anyio.run(_asgi, service.app, "POST", "/v1/persons", headers, _endless())
    assert status == 413
    assert body["type"].endswith("/payload-too-large")
    assert pulled <= 2 * len(CHUNK)


def test_forged_token_is_refused_before_the_body_is_read(service: Any) -> None:
    """Attack: a made-up bearer token does not buy the right to upload a body either."""
    headers = {"content-type": "application/json", "authorization": "Bearer abc.def.ghi"}
    status, body, pulled = anyio.run(_asgi, service.app, "POST", "/v1/cards", headers, _endless())
    assert (status, pulled) == (401, 0)
    assert "invalid or expired" in body["detail"]


@pytest.mark.parametrize("path", ["/v1/persons", "/v1/verify"])
def test_declared_oversize_is_refused_unread(service: Any, path: str) -> None:
    """A Content-Length over the route's limit is 413 before reading, with or without a token."""
    headers = {"content-type": "application/json", "content-length": str(64 * 1024 * 1024)}
    status, _, pulled = anyio.run(_asgi, service.app, "POST", path, headers, _endless())
    assert (status, pulled) == (413, 0)


# -- log-in floods and lockout bypasses ------------------------------------------------------


def _operator(service: Any, name: str) -> None:
    from asxh_card.service.db import session_scope
    from asxh_card.service.demo import ensure_operator

    from .conftest import PASSWORD

    with session_scope(service.ctx.sessions) as session:
        ensure_operator(
            session,
            service.ctx,
            name,
            password=PASSWORD,
            role="issuer_officer",
            province="79",
            programmes=("BHYT",),
        )


def _client(app: Any, address: str) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app, client=(address, 5000))  # no lifespan: the service's stays open


def _login(client: Any, user: str, password: str) -> Any:
    return client.post("/v1/auth/token", data={"username": user, "password": password})


def test_trailing_spaces_do_not_reset_the_lockout(service: Any) -> None:
    """Attack: "lock79   " and "LOCK79" as fresh accounts for five more guesses each.

    The name is normalised for the limit as for the look-up: after five wrong passwords the
    account is locked whatever spelling is tried, even with the right password.
    """
    from .conftest import PASSWORD

    _operator(service, "lock79")
    client = _client(service.app, "10.2.0.1")
    for _ in range(5):
        assert _login(client, "lock79", "wrong").status_code == 401
    for variant in ("lock79   ", "  LOCK79", "lock79\u00a0"):
        response = _login(client, variant, PASSWORD)
        assert response.status_code == 429, (variant, response.text)
        assert int(response.headers["Retry-After"]) >= 1


def test_parallel_guesses_are_counted_atomically(service: Any) -> None:
    """Attack: 12 wrong passwords at once against a limit of 5; only 5 are checked."""
    from concurrent.futures import ThreadPoolExecutor

    _operator(service, "race79")
    client = _client(service.app, "10.2.0.2")
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda _: _login(client, "race79", "wrong").status_code, range(12)))
    assert codes.count(401) == 5, codes
    assert codes.count(429) == 7, codes


def test_workers_share_the_login_limits(service: Any) -> None:
    """Attack: spreading guesses over the workers; the counts live in the shared database."""
    from asxh_card.service.app import create_app
    from asxh_card.service.context import ServiceContext

    _operator(service, "spread79")
    other = ServiceContext.build(service.ctx.settings)
    try:
        worker_a = _client(service.app, "10.2.0.3")
        worker_b = _client(create_app(service.ctx.settings, context=other), "10.2.0.3")
        for i in range(5):
            assert _login((worker_a, worker_b)[i % 2], "spread79", "wrong").status_code == 401
        assert _login(worker_b, "spread79", "wrong").status_code == 429
        assert _login(worker_a, "spread79", "wrong").status_code == 429
    finally:
        other.engine.dispose()


def test_login_flood_is_answered_503_not_queued(service: Any) -> None:
    """Attack: more log-ins than password checks can run; the surplus gets 503 at once."""
    import time

    from asxh_card.service.logins import HashingGate

    client = _client(service.app, "10.2.0.4")
    gate = service.ctx.hashing
    service.ctx.hashing = HashingGate(1)
    try:
        with service.ctx.hashing:  # every slot busy (a flood in progress)
            started = time.monotonic()
            response = _login(client, "off79", "wrong")
            took = time.monotonic() - started
    finally:
        service.ctx.hashing = gate
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"].endswith("/not-ready")
    assert took < 5


def test_password_check_holds_no_database_lock(service: Any) -> None:
    """Attack: failing log-ins stalling issuance. While argon2 runs, another writer can write.

    On SQLite the log-in used to hash inside ``BEGIN IMMEDIATE``, so every other writer waited
    (2.8 s median issuance under 40 threads of failed log-ins, and 500s).
    """
    import sqlite3

    if service.backend != "sqlite":
        pytest.skip("the write lock is SQLite's; PostgreSQL reads take no lock")
    database = service.ctx.settings.database_url.removeprefix("sqlite:///")
    results: list[str] = []
    real = service.ctx.passwords.verify

    def verify_and_probe(password: str, hashed: str | None) -> bool:
        probe = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            results.append("free")
        except sqlite3.OperationalError as exc:
            results.append(str(exc))
        finally:
            probe.close()
        return real(password, hashed)

    service.ctx.passwords.verify = verify_and_probe
    try:
        _login(_client(service.app, "10.2.0.5"), "off79", "wrong")
    finally:
        del service.ctx.passwords.verify
    assert results == ["free"]
