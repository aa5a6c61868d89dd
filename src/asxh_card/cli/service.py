"""``asxh serve`` (the HTTP service with uvicorn) and ``asxh db upgrade`` (migrations).

Settings come from ``ASXH_*`` environment variables (``asxh_card.service.settings``). The
service and its dependencies are imported inside the commands, so ``asxh --help`` runs on the
base install.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from asxh_card.cli._app import app, console, err_console

__all__ = ["audit_verify", "db_upgrade", "serve"]

db_app = typer.Typer(
    help="Database maintenance (Alembic migrations shipped in the package).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(
    help="The audit log (hash chain, signed checkpoints).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


def local_url(host: str, port: int) -> str:
    """The URL of ``asxh serve --host H --port N`` on this machine (the default public URL)."""
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def public_url_mismatch(public_url: str, host: str, port: int) -> str | None:
    """Why ``public_url`` (``ASXH_PUBLIC_URL``) cannot reach this server, or None.

    Only a URL naming this machine (localhost, 127.0.0.1, the listening host) on another port
    is reported: behind a proxy the public URL legitimately differs from the listening port.
    """
    parts = urlsplit(public_url)
    local = {"localhost", "127.0.0.1", "::1", host.strip("[]")}
    if parts.hostname not in local:
        return None
    named = parts.port or (443 if parts.scheme == "https" else 80)
    if named == port:
        return None
    return (
        f"ASXH_PUBLIC_URL={public_url} names port {named}, but the service listens on port "
        f"{port}: status-list URIs on new cards and in the trust bundle will point to port "
        f"{named} / URL công khai trỏ tới cổng {named} nhưng dịch vụ nghe ở cổng {port}."
    )


def _settings(*, demo: bool, default_public_url: str = "http://127.0.0.1:8000") -> object:
    from asxh_card.service.settings import Settings, SettingsError  # noqa: PLC0415

    try:
        return Settings.from_env(demo=demo, default_public_url=default_public_url)
    except SettingsError as exc:
        err_console.print(f"[red]Settings: {escape(str(exc))}[/]")
        err_console.print("Set the ASXH_* variables (see docs/api.md) or use --demo.")
        raise typer.Exit(code=2) from None


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Migrate the database at ASXH_DATABASE_URL (default: <ASXH_VAR_DIR>/asxh.db)."""
    from asxh_card.service.migrate import upgrade  # noqa: PLC0415
    from asxh_card.service.settings import database_url_from_env  # noqa: PLC0415

    upgrade(database_url_from_env(), revision)
    console.print(f"Database migrated to {revision}.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain at ASXH_DATABASE_URL; exit 1 naming the first bad entry."""
    from asxh_card.service.audit import AuditSigner, verify_chain  # noqa: PLC0415
    from asxh_card.service.db import make_engine, make_sessionmaker  # noqa: PLC0415
    from asxh_card.service.settings import Settings  # noqa: PLC0415

    settings = _settings(demo=False)
    assert isinstance(settings, Settings)  # noqa: S101 - narrowing
    engine = make_engine(settings.database_url, timeout=300)
    try:
        with make_sessionmaker(engine)() as session:
            report = verify_chain(session, AuditSigner(settings.secret_key))
    finally:
        engine.dispose()
    if not report.ok:
        err_console.print(f"[red]Audit chain broken: {escape(report.problem)}[/]")
        err_console.print(f"First bad entry: {report.bad_seq}")
        raise typer.Exit(code=1)
    console.print(
        f"Audit chain intact: {report.entries} entries, {report.checkpoints} signed checkpoints."
    )


_BANNER = "!" * 78


def _print_demo(info: object, host: str, port: int, var_dir: Path) -> None:
    from asxh_card.service.demo import DemoInfo  # noqa: PLC0415

    assert isinstance(info, DemoInfo)  # noqa: S101 - narrowing
    base = f"http://{host}:{port}"
    pw = info.passwords
    lines = [
        _BANNER,
        f"!! DEMO MODE: the national root key, the issuer keys ({var_dir / 'keys'}) and the",
        f"!! secrets ({var_dir / 'demo-secrets.json'}) are DEMO KEYS generated on this machine.",
        "!! The people are synthetic. Never use demo mode with real personal data.",
        _BANNER,
        "",
        (
            f"ASXH service with {info.people} synthetic people, issuers vn-79 (Hồ Chí Minh) "
            "and vn-01 (Hà Nội)."
        ),
        f"Web pages (Vietnamese, English switch): officers log in at {base}/login;",
        f"  card check for service points (no log-in): {base}/check",
        f"OpenAPI (try it out): {base}/docs",
        "",
        "Operators (user / password / role):",
        f"  admin         {pw['admin']:<22} national_admin (all provinces)",
        f"  officer79     {pw['officer79']:<22} issuer_officer (province 79)",
        f"  officer01     {pw['officer01']:<22} issuer_officer (province 01)",
        f"  auditor       {pw['auditor']:<22} auditor (read-only)",
        f"  servicepoint  {pw['servicepoint']:<22} service_point (bundles, status lists)",
        "",
        "Try:",
        (
            f"  TOKEN=$(curl -s -d username=officer79 -d 'password={pw['officer79']}' "
            f"{base}/v1/auth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)"
            '["access_token"])\')'
        ),
    ]
    if info.sample_number and info.sample_serial:
        lines += [
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/persons/{info.sample_number}',
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/cards/{info.sample_serial}',
            (
                f'  curl -s -o qr.png -H "Authorization: Bearer $TOKEN" '
                f"{base}/v1/cards/{info.sample_serial}/qr.png"
            ),
        ]
    lines += [
        f"  curl -s {base}/v1/trust-bundle",
        f"  curl -s {base}/.well-known/jwks.json",
        f"  curl -s {base}/health/ready",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed DEMO keys, issuers, operators and synthetic people")
    ] = False,
    people: Annotated[
        int, typer.Option(help="Synthetic people in demo mode", min=0, max=10_000)
    ] = 100,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes (uvicorn); more than one needs PostgreSQL", min=1, max=64
        ),
    ] = 1,
) -> None:
    """Run the HTTP service with uvicorn (settings from ASXH_* variables)."""
    try:
        import uvicorn  # noqa: PLC0415

        from asxh_card.service.app import (  # noqa: PLC0415
            DEMO_WORKER_ENV,
            NotMigratedError,
            create_app,
        )
        from asxh_card.service.context import ServiceContext  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        err_console.print(f"[red]The service needs the 'service' extra ({exc.name} missing).[/]")
        raise typer.Exit(code=2) from None
    from asxh_card.service.settings import Settings  # noqa: PLC0415

    settings = _settings(demo=demo, default_public_url=local_url(host, port))
    assert isinstance(settings, Settings)  # noqa: S101 - narrowing
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        err_console.print(
            "[red]--workers needs PostgreSQL (ASXH_DATABASE_URL=postgresql+psycopg://...): "
            "SQLite has one writer.[/]"
        )
        raise typer.Exit(code=2)
    mismatch = public_url_mismatch(settings.public_url, host, port)
    if mismatch is not None:
        err_console.print(f"[yellow]⚠ {escape(mismatch)}[/]", highlight=False, soft_wrap=True)
    started = time.perf_counter()
    try:
        if demo:
            from asxh_card.service.demo import seed  # noqa: PLC0415
            from asxh_card.service.migrate import upgrade  # noqa: PLC0415

            upgrade(settings.database_url)
            ctx = ServiceContext.build(settings)
            info = seed(ctx, people=people)
            application = create_app(settings.with_(auto_migrate=False), context=ctx)
            _print_demo(info, host, port, settings.var_dir)
            err_console.print(f"Demo ready in {time.perf_counter() - started:.1f} s.")
        else:
            application = create_app(settings)
    except NotMigratedError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": None,
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(application, **options)
        return
    # Each worker process builds its own app from the same environment (the demo was seeded
    # above, once); they share the database, so log-in limits, idempotency keys, status
    # allocations and the audit chain stay consistent across them.
    application.state.ctx.engine.dispose()
    os.environ[DEMO_WORKER_ENV] = "1" if demo else "0"
    # The workers read the environment: give them the public URL resolved here (it follows
    # --port when ASXH_PUBLIC_URL is unset), or their cards would name port 8000's lists.
    os.environ["ASXH_PUBLIC_URL"] = settings.public_url
    uvicorn.run("asxh_card.service.app:app_from_env", factory=True, workers=workers, **options)
