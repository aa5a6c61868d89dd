"""Bulk import throughput: N people with 3 entitlements each, numbers assigned, cards signed.

Run: ``.venv/bin/python bench/bench_import.py [--rows 1000000] [--postgres URL]``.
Target (issue 11): 1,000,000 people into SQLite in at most 5 minutes on the 2-core machine.
The CSV is generated first (not timed); the import runs through ``importing.run_job`` exactly
as ``asxh import`` does (worker processes for validation and signing, no images). With
``--postgres`` the database is a fresh schema of that PostgreSQL database (dropped after).
"""

from __future__ import annotations

import argparse
import csv
import random
import secrets
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from asxh_card.service import importing
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.demo import ensure_issuer, synthetic_pin
from asxh_card.service.migrate import upgrade
from asxh_card.service.models import CardRow, EntitlementRow, PersonRow
from asxh_card.service.security import Principal
from asxh_card.service.settings import Settings

ACTOR = Actor(Principal("bench", "national_admin", None, ()))
GIVEN = ("Lan", "Mai", "Hoa", "Đức", "Hùng", "Minh", "Thảo", "Yến", "Nam", "Bình")
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")


def write_people(path: Path, rows: int, seed: int = 11) -> None:
    """A CSV of ``rows`` valid people, each with TGXH, BHYT and NCC."""
    rng = random.Random(seed)
    header = list(importing.COLUMNS[:22])
    seen: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        written = 0
        while written < rows:
            sex = rng.choice("MF")
            dob = date(1930 + rng.randrange(70), 1 + rng.randrange(12), 1 + rng.randrange(28))
            pin = synthetic_pin(rng, "079", dob, sex)
            if pin in seen:
                continue
            seen.add(pin)
            name = f"{rng.choice(FAMILY)} Văn {rng.choice(GIVEN)}"
            writer.writerow(
                [
                    pin,
                    name,
                    dob.isoformat(),
                    sex,
                    "Xã Tân Phú, Tỉnh Đồng Nai",
                    "12 Lê Lợi, Phường Sài Gòn",
                    "Phường Sài Gòn",
                    "TGXH",
                    "2026-01-01",
                    "",
                    "amount=750000",
                    "",
                    "BHYT",
                    "2026-01-01",
                    "2030-12-31",
                    "level=2; coverage=100; facility=79-001",
                    "",
                    "NCC",
                    "2026-01-01",
                    "",
                    "amount=2000000",
                    "",
                ]
            )
            written += 1


def run(url: str, var: Path, source: Path, chunk: int, workers: int | None) -> None:
    """Migrate, create the issuer, import ``source`` and print the figures."""
    settings = Settings(
        database_url=url,
        var_dir=var,
        secret_key=secrets.token_bytes(32),
        data_key=secrets.token_bytes(32),
        key_passphrase=b"bench passphrase 123",
        public_url="https://asxh.example",
    )
    upgrade(url)
    ctx = ServiceContext.build(settings)
    with session_scope(ctx.sessions) as session:
        ensure_issuer(session, ctx, "vn-79", name="Bench", province="79")
    started = time.perf_counter()
    with session_scope(ctx.sessions) as session:
        job, _ = importing.open_job(
            session, ACTOR, path=source, filename=source.name, province="79", options={}
        )
        job_id = job.id
    opened = time.perf_counter()
    last = [opened]

    def show(progress: importing.Progress) -> None:
        now = time.perf_counter()
        if now - last[0] > 10:
            last[0] = now
            print(f"  {progress.done:>9,} rows  {progress.done / (now - opened):>8,.0f} rows/s")

    progress = importing.run_job(
        ctx, ACTOR, job_id, source, chunk_size=chunk, workers=workers, on_progress=show
    )
    elapsed = time.perf_counter() - started
    with session_scope(ctx.sessions) as session:
        people, ents, cards = (
            session.scalar(select(func.count()).select_from(m))
            for m in (PersonRow, EntitlementRow, CardRow)
        )
    ctx.engine.dispose()
    print(
        f"{make_url(url).get_backend_name()}: {progress.done:,} rows in {elapsed:,.1f} s "
        f"({progress.done / elapsed:,.0f} rows/s; header check and row count "
        f"{opened - started:.1f} s); people {people:,}, entitlements {ents:,}, cards {cards:,}"
    )


def main() -> None:
    """Generate the list, import it, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=importing.DEFAULT_CHUNK)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--postgres", default="", help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--dir", type=Path, default=None, help="Working directory (default tmp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        var = Path(tmp)
        source = var / "people.csv"
        began = time.perf_counter()
        write_people(source, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
        if not args.postgres:
            run(f"sqlite:///{var / 'asxh.db'}", var, source, args.chunk, args.workers)
            return
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        base = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
            run(url.render_as_string(hide_password=False), var, source, args.chunk, args.workers)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
