"""The real service under concurrent load: ``asxh serve`` (uvicorn, one worker) over loopback.

Starts ``asxh serve --demo --people 0`` in a subprocess on a free loopback port, logs in as the
demo officer, registers people and grants them BHYT (set-up, not timed), then measures, with
``--connections`` keep-alive HTTP/1.1 connections at once:

* issuance: ``POST /v1/cards`` for ``--cards`` registered people (cards/s, p50, p99);
* online verification: ``POST /v1/verify`` with the issued cards' QR texts for
  ``--seconds`` (req/s, p50, p99);
* the ceiling: ``GET /health/live`` (no work at all) with the same client, for as long: what
  the HTTP stack allows on this machine at that moment.

Every answer must be the expected status (201, 200 with ``valid: true``): one error stops the
bench. SQLite always; PostgreSQL too when ``ASXH_TEST_POSTGRES_URL`` is set (a fresh schema,
dropped afterwards). Targets on one worker: verify >= 1,000 req/s, issuance >= 250 cards/s.
The client runs on the same machine and takes CPU from the server: the figures are a floor.
Run: ``.venv/bin/python bench/bench_service_load.py [--cards N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from asxh_card.service.demo import synthetic_pin

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema on ``base`` (dropped at the end); yields the URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def live_service(
    database_url: str, var_dir: Path, workers: int = 1
) -> Iterator[tuple[int, dict[str, str], subprocess.Popen[bytes]]]:
    """``asxh serve --demo`` on a free port; yields the port, the demo passwords and the process."""
    port = _free_port()
    env = {
        **os.environ,
        "ASXH_VAR_DIR": str(var_dir),
        "ASXH_DATABASE_URL": database_url,
        "ASXH_PUBLIC_URL": f"http://{HOST}:{port}",
        "ASXH_LOG_LEVEL": "WARNING",
    }
    asxh = Path(sys.executable).with_name("asxh")
    command = [str(asxh), "serve", "--demo", "--people", "0", "--host", HOST, "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = (var_dir / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"asxh serve exited: {(var_dir / 'serve.log').read_text()[-2000:]}"
                )
            url = f"http://{HOST}:{port}/health/ready"
            with suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("asxh serve did not become ready within 120 s")
            time.sleep(0.2)
        passwords = json.loads((var_dir / "demo-operators.json").read_text(encoding="utf-8"))
        yield port, passwords, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class Connection:
    """One keep-alive HTTP/1.1 connection (a minimal client: the load, not the client, counts)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


Call = tuple[str, str, bytes, dict[str, str]]


async def _run(
    port: int,
    calls: Callable[[int], Call | None],
    connections: int,
    expect: int,
    check: Callable[[bytes], str | None] | None,
) -> tuple[list[float], list[bytes], float]:
    """Send ``calls(0), calls(1), ...`` (until None) over ``connections`` connections."""
    latencies: list[float] = []
    bodies: list[bytes] = []
    counter = iter(range(10**9))

    async def worker() -> None:
        conn = await Connection.open(port)
        try:
            while (call := calls(next(counter))) is not None:
                started = time.perf_counter()
                status, body = await conn.request(*call)
                latencies.append(time.perf_counter() - started)
                if status != expect or (check is not None and (problem := check(body))):
                    detail = problem if status == expect else body[:300].decode(errors="replace")
                    raise SystemExit(f"{call[0]} {call[1]}: {status}, not {expect}: {detail}")
                bodies.append(body)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, bodies, time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process and its worker processes have used so far (Linux).

    With ``--workers N`` the requests are served by the children of ``asxh serve``.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            rest = stat.read_text().rpartition(")")[2]
            fields = rest.split()
            if stat.parent.name == str(pid) or fields[1] == str(pid):  # itself, or a child
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _report(label: str, latencies: list[float], elapsed: float, target: float, cpu: float) -> float:
    """Print rate, p50, p99 and the server's CPU time per request (``cpu`` seconds in all).

    On a shared machine the rate follows the other load; the server's CPU time per request
    does much less, and ``1 / cpu`` is the rate one free core would give.
    """
    ordered = sorted(latencies)
    rate = len(ordered) / elapsed
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    per_request = cpu / len(ordered) * 1000
    mark = "meets" if rate >= target else "BELOW"
    print(
        f"  {label:<26} {rate:7.1f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
        f"server CPU {per_request:5.2f} ms/req ({len(ordered)} requests, 0 errors; "
        f"{mark} the {target:.0f}/s target)"
    )
    return rate


def _json(body: dict[str, Any], token: str, **extra: str) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", **extra}
    return json.dumps(body).encode(), headers


def bench_one(label: str, database_url: str, args: argparse.Namespace) -> None:
    """Run the whole scenario against one database."""
    var_dir = Path(tempfile.mkdtemp(prefix="asxh-load-"))
    try:
        with live_service(database_url, var_dir, args.workers) as (port, passwords, process):
            asyncio.run(_scenario(label, port, passwords, args, process.pid))
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def _profiled(args: argparse.Namespace, pid: int, name: str) -> Iterator[None]:
    """``py-spy record`` of the server process meanwhile, when ``--profile DIR`` is given.

    Writes collapsed stacks (``DIR/name.txt``, for flame graphs or ``grep -c``); py-spy is not
    a dependency of the project: ``pip install py-spy``.
    """
    if not args.profile:
        yield
        return
    out = Path(args.profile) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
    recorder = subprocess.Popen(  # noqa: S603 - our own tool on our own child
        [*command, "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)


async def _scenario(
    label: str, port: int, passwords: dict[str, str], args: argparse.Namespace, pid: int
) -> None:
    conn = await Connection.open(port)
    form = urlencode({"username": "officer79", "password": passwords["officer79"]}).encode()
    status, body = await conn.request(
        "POST", "/v1/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    conn.close()
    if status != 200:
        raise SystemExit(f"log-in failed: {status} {body[:200]!r}")
    token = json.loads(body)["access_token"]
    rng = random.Random(7)
    n = args.cards

    def register(i: int) -> Call | None:
        if i >= n:
            return None
        dob = date(1950 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28))
        sex = rng.choice(("M", "F"))
        person = {
            "pin": synthetic_pin(rng, "079", dob, sex),
            "full_name": "Nguyễn Văn An" if sex == "M" else "Trần Thị Mai",
            "date_of_birth": dob.isoformat(),
            "sex": sex,
        }
        return ("POST", "/v1/persons", *_json(person, token))

    _, made, _ = await _run(port, register, args.connections, 201, None)
    numbers = [json.loads(b)["asxh_number"] for b in made]
    bhyt = {
        "programme": "BHYT",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "attributes": {"level": 2, "coverage": 100, "facility": "79-001"},
    }

    def grant(i: int) -> Call | None:
        if i >= n:
            return None
        return ("POST", f"/v1/persons/{numbers[i]}/entitlements", *_json(bhyt, token))

    await _run(port, grant, args.connections, 201, None)
    print(f"{label}:")

    def issue(i: int) -> Call | None:
        if i >= n:
            return None
        return ("POST", "/v1/cards", *_json({"asxh_number": numbers[i]}, token))

    cpu = _cpu_seconds(pid)
    with _profiled(args, pid, f"{label}-issue"):
        latencies, issued, elapsed = await _run(port, issue, args.connections, 201, None)
    cpu = _cpu_seconds(pid) - cpu
    issue_rate = _report("issue (POST /v1/cards)", latencies, elapsed, 250, cpu)
    qr_texts = [json.loads(b)["qr_text"] for b in issued]
    stop_at = time.perf_counter() + args.seconds

    def verify(i: int) -> Call | None:
        if time.perf_counter() > stop_at:
            return None
        return ("POST", "/v1/verify", *_json({"qr_text": qr_texts[i % len(qr_texts)]}, token))

    def valid(body: bytes) -> str | None:
        answer = json.loads(body)
        return None if answer.get("valid") is True else f"not valid: {answer}"

    # Warm-up (the first verification builds the verifier), then the measured run.
    warm_stop = time.perf_counter() + 1
    await _run(
        port,
        lambda i: verify(i) if time.perf_counter() < warm_stop else None,
        args.connections,
        200,
        valid,
    )
    stop_at = time.perf_counter() + args.seconds
    cpu = _cpu_seconds(pid)
    with _profiled(args, pid, f"{label}-verify"):
        latencies, _, elapsed = await _run(port, verify, args.connections, 200, valid)
    cpu = _cpu_seconds(pid) - cpu
    verify_rate = _report("verify (POST /v1/verify)", latencies, elapsed, 1000, cpu)
    # The same client and connections on the cheapest route: what the HTTP stack alone allows
    # on this machine now (the ceiling the verify figure is to be read against).
    stop_at = time.perf_counter() + args.seconds

    def live(_i: int) -> Call | None:
        return None if time.perf_counter() > stop_at else ("GET", "/health/live", b"", {})

    cpu = _cpu_seconds(pid)
    latencies, _, elapsed = await _run(port, live, args.connections, 200, None)
    cpu = _cpu_seconds(pid) - cpu
    _report("ceiling (GET /health/live)", latencies, elapsed, 1000, cpu)
    if args.json:
        print(json.dumps({"db": label, "issue_per_s": issue_rate, "verify_per_s": verify_rate}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000, help="cards issued (and people made)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the verify run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--json", action="store_true", help="also print a JSON line per database")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="asxh serve --workers N (PostgreSQL only; the targets are for one worker)",
    )
    parser.add_argument(
        "--only", choices=("sqlite", "postgresql"), help="one database only (default: both)"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy record the server into DIR (collapsed stacks)"
    )
    args = parser.parse_args(argv)
    if args.workers > 1 and args.only != "postgresql":
        parser.error("--workers needs --only postgresql (SQLite serves one worker)")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory(prefix="asxh-load-db-") as tmp:
            bench_one("SQLite", f"sqlite:///{Path(tmp) / 'asxh.db'}", args)
    postgres = os.environ.get("ASXH_TEST_POSTGRES_URL", "")
    if args.only == "sqlite":
        return
    if postgres:
        with _postgres_schema(postgres) as url:
            bench_one("PostgreSQL", url, args)
    else:
        print("PostgreSQL: skipped (set ASXH_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
