"""Service throughput over HTTP (in-process TestClient, SQLite or PostgreSQL), one run.

Measures requests/s for: register by PIN, grant an entitlement, issue a card, get a status
list (304 and 200), verify online, revoke. Uses fast argon2 parameters for the log-in only.
Run: ``.venv/bin/python bench/bench_service.py [--people N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from asxh_card.service.app import create_app
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.demo import ALL_PROGRAMMES, ensure_issuer, ensure_operator, synthetic_pin
from asxh_card.service.migrate import upgrade
from asxh_card.service.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def timed(label: str, n: int, fn: Callable[[int], Any], expect: int = 200) -> list[Any]:
    """Time ``n`` requests; every answer must have status ``expect`` (errors are not timed)."""
    start = time.perf_counter()
    out = [fn(i) for i in range(n)]
    elapsed = time.perf_counter() - start
    wrong = [r for r in out if r.status_code != expect]
    if wrong:
        raise SystemExit(
            f"{label}: {len(wrong)} of {n} answered {wrong[0].status_code}, "
            f"not {expect}: {wrong[0].text[:300]}"
        )
    print(f"{label:<28} {n / elapsed:8.1f} req/s  ({elapsed * 1000 / n:6.2f} ms each)")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="asxh-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    settings = Settings(
        database_url=url,
        var_dir=tmp,
        secret_key=secrets.token_bytes(32),
        data_key=secrets.token_bytes(32),
        key_passphrase=b"bench passphrase",
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        argon2_parallelism=1,
        log_level="WARNING",
    )
    upgrade(url)
    ctx = ServiceContext.build(settings)
    ctx.keyring.ensure_root()
    with session_scope(ctx.sessions) as session:
        ensure_issuer(session, ctx, "vn-79", name="Bench", province="79")
        ensure_operator(
            session,
            ctx,
            "bench",
            password="bench password",  # noqa: S106 - throw-away bench account
            role="issuer_officer",
            province="79",
            programmes=ALL_PROGRAMMES,
        )
    client = TestClient(create_app(settings, context=ctx))
    token = client.post(
        "/v1/auth/token", data={"username": "bench", "password": "bench password"}
    ).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    rng = random.Random(1)

    def register(_: int) -> Any:
        dob = date(1950 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28))
        sex = rng.choice(("M", "F"))
        body = {
            "pin": synthetic_pin(rng, "079", dob, sex),
            "full_name": "Nguyễn Văn An",
            "date_of_birth": dob.isoformat(),
            "sex": sex,
        }
        return client.post("/v1/persons", json=body, headers=h)

    n = args.people
    numbers = [r.json()["asxh_number"] for r in timed("register by PIN", n, register, 201)]
    bhyt = {
        "programme": "BHYT",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "attributes": {"level": 2, "coverage": 100, "facility": "79-001"},
    }
    timed(
        "grant entitlement",
        n,
        lambda i: client.post(f"/v1/persons/{numbers[i]}/entitlements", json=bhyt, headers=h),
        201,
    )
    issued = timed(
        "issue card",
        n,
        lambda i: client.post("/v1/cards", json={"asxh_number": numbers[i]}, headers=h),
        201,
    )
    cards = [r.json() for r in issued]
    path = cards[0]["status"]["uri"].removeprefix(settings.public_url)
    etag = client.get(path).headers["etag"]
    timed("status list (304)", n, lambda _: client.get(path, headers={"If-None-Match": etag}), 304)
    verified = timed(
        "verify online",
        n,
        lambda i: client.post("/v1/verify", json={"qr_text": cards[i]["qr_text"]}, headers=h),
    )
    invalid = [r.json() for r in verified if not r.json()["valid"]]
    if invalid:
        raise SystemExit(f"verify online: {len(invalid)} fresh cards did not verify: {invalid[0]}")
    timed(
        "revoke card",
        n,
        lambda i: client.post(
            f"/v1/cards/{cards[i]['serial']}/revoke", json={"reason_code": "other"}, headers=h
        ),
    )
    timed("status list (200)", min(n, 50), lambda _: client.get(path))
    ctx.engine.dispose()


if __name__ == "__main__":
    main()
