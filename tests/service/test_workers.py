"""Several real service processes against one PostgreSQL database (issue 10: many workers).

Process A is ``asxh serve --demo``; process B is ``asxh serve --demo --workers 2`` (uvicorn
worker processes) on another port, both on the same database and secrets, as behind a load
balancer. Requests alternate between them. PostgreSQL only (SQLite has one writer and
``--workers`` refuses it); skipped without ``ASXH_TEST_POSTGRES_URL`` unless
``ASXH_REQUIRE_POSTGRES=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from .conftest import new_person, postgres_schema

ASXH = str(Path(sys.executable).with_name("asxh"))
BHYT = {
    "programme": "BHYT",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "attributes": {"level": 2, "coverage": 100, "facility": "79-001"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL database (dropped afterwards)."""
    with postgres_schema("w") as url:
        yield url


@contextmanager
def _serve(env: dict[str, str], port: int, log: Path, *extra: str) -> Iterator[str]:
    """``asxh serve --demo --people 0 *extra`` on ``port`` until ready; yields its base URL."""
    command = [ASXH, "serve", "--demo", "--people", "0", "--port", str(port), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()[-3000:]
                with suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
            yield base
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)  # the parent and its uvicorn workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.postgres
def test_two_service_processes_share_limits_keys_statuses_and_audit(
    postgres_url: str, tmp_path: Path
) -> None:
    """Across processes: the log-in lockout, one card per Idempotency-Key, distinct status
    entries and one unbroken audit chain.

    Each of these is kept in the database (not in a process), so a second process must see
    the first one's failures, keys, allocations and audit head.
    """
    port_a, port_b = _free_port(), _free_port()
    env = {
        **os.environ,
        "ASXH_DATABASE_URL": postgres_url,
        "ASXH_VAR_DIR": str(tmp_path / "var"),
        "ASXH_SECRET_KEY": secrets.token_urlsafe(32),
        "ASXH_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ASXH_KEY_PASSPHRASE": "two workers passphrase",
        "ASXH_PUBLIC_URL": f"http://127.0.0.1:{port_a}",  # one public name for both
        "ASXH_LOG_LEVEL": "WARNING",
    }
    with ExitStack() as stack:
        a = stack.enter_context(_serve(env, port_a, tmp_path / "a.log"))
        b = stack.enter_context(_serve(env, port_b, tmp_path / "b.log", "--workers", "2"))
        bases = (a, b)
        passwords = json.loads((tmp_path / "var" / "demo-operators.json").read_text())
        client = stack.enter_context(httpx.Client(timeout=60))

        # Log-in limit (5 failures per account) counted across processes.
        answers = [
            client.post(
                f"{bases[i % 2]}/v1/auth/token",
                data={"username": "auditor", "password": f"wrong guess {i}"},
            ).status_code
            for i in range(7)
        ]
        assert answers == [401] * 5 + [429] * 2, answers

        login = client.post(
            f"{b}/v1/auth/token",
            data={"username": "officer79", "password": passwords["officer79"]},
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        numbers = []
        for i in range(9):
            made = client.post(f"{bases[i % 2]}/v1/persons", json=new_person(), headers=auth)
            assert made.status_code == 201, made.text
            numbers.append(made.json()["asxh_number"])
            granted = client.post(
                f"{bases[(i + 1) % 2]}/v1/persons/{numbers[-1]}/entitlements",
                json=BHYT,
                headers=auth,
            )
            assert granted.status_code == 201, granted.text

        def issue(base: str, number: str, key: str | None = None) -> httpx.Response:
            headers = dict(auth, **({"Idempotency-Key": key} if key else {}))
            return client.post(f"{base}/v1/cards", json={"asxh_number": number}, headers=headers)

        with ThreadPoolExecutor(max_workers=8) as pool:
            # The same Idempotency-Key sent to both processes at once: one card.
            same = list(pool.map(lambda base: issue(base, numbers[0], "retry-1"), bases * 2))
            # Eight people issued at once across the processes: eight distinct status entries.
            cards = list(pool.map(lambda i: issue(bases[i % 2], numbers[i]), range(1, 9)))
        assert all(r.status_code in (200, 201) for r in same), [r.text for r in same]
        assert sorted(r.status_code for r in same) == [200, 200, 200, 201]
        assert len({r.json()["serial"] for r in same}) == 1
        listed = client.get(f"{a}/v1/persons/{numbers[0]}/cards", headers=auth)
        assert len(listed.json()) == 1
        assert all(r.status_code == 201 for r in cards), [r.text for r in cards]
        entries = [
            (ref["uri"], ref["idx"])
            for r in [*cards, same[0]]
            for ref in [r.json()["status"], *(e["status"] for e in r.json()["entitlements"])]
        ]
        assert len(entries) == len(set(entries))
        for r in cards:  # each process verifies the other's cards
            for base in bases:
                verified = client.post(
                    f"{base}/v1/verify", json={"qr_text": r.json()["qr_text"]}, headers=auth
                )
                assert verified.json()["valid"] is True, verified.text

    # The audit chain written by three processes is one unbroken chain.
    checked = subprocess.run(
        [ASXH, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Audit chain intact" in checked.stdout


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    """SQLite has one writer: ``--workers 2`` on it stops at once with a clear message."""
    env = {**os.environ, "ASXH_VAR_DIR": str(tmp_path), "ASXH_DATABASE_URL": ""}
    started = subprocess.run(
        [ASXH, "serve", "--demo", "--workers", "2", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert started.returncode == 2, started.stdout + started.stderr
    assert "--workers needs PostgreSQL" in started.stderr


@pytest.mark.postgres
def test_workers_follow_the_port_when_public_url_is_unset(
    postgres_url: str, tmp_path: Path
) -> None:
    """Issue 9 §3 with ``--workers 2``: without ASXH_PUBLIC_URL the public URL follows --port
    in the worker processes too (they read the environment, and fell back to port 8000, so
    their status index and new cards named another server's lists)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "ASXH_PUBLIC_URL"} | {
        "ASXH_DATABASE_URL": postgres_url,
        "ASXH_VAR_DIR": str(tmp_path / "var"),
        "ASXH_SECRET_KEY": secrets.token_urlsafe(32),
        "ASXH_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ASXH_KEY_PASSPHRASE": "workers follow the port",
        "ASXH_LOG_LEVEL": "WARNING",
    }
    with _serve(env, port, tmp_path / "w.log", "--workers", "2") as base:
        for _ in range(4):  # whichever worker answers
            index = httpx.get(f"{base}/v1/status-lists", timeout=30).json()
            bases = {issuer["status_base"] for issuer in index["issuers"]}
            assert bases
            assert all(b.startswith(f"{base}/") for b in bases), bases
