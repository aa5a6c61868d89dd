"""Running a province: ``asxh admin``, ``asxh import``, ``asxh stats``.

These commands work on the service's database directly, with the same ``ASXH_*`` settings as
``asxh serve`` (the database must be migrated: ``asxh db upgrade``). The service is imported
inside the commands, so ``asxh --help`` runs on the base install.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from asxh_card.cli._app import app, console, err_console

if TYPE_CHECKING:
    from asxh_card.service.context import ServiceContext

__all__ = ["admin_app", "create_operator"]

admin_app = typer.Typer(
    help="Operator accounts (first national administrator).", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")

#: The command-line actor in the audit log (``system`` role).
CLI_ACTOR = "cli"


def service_context() -> ServiceContext:
    """The service context from ``ASXH_*`` settings; exits 2 (settings) or 1 (not migrated)."""
    try:
        from asxh_card.service.app import NotMigratedError, check_schema  # noqa: PLC0415
        from asxh_card.service.context import ServiceContext  # noqa: PLC0415
        from asxh_card.service.settings import Settings, SettingsError  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        err_console.print(f"[red]This needs the 'service' extra ({exc.name} missing).[/]")
        raise typer.Exit(code=2) from None
    try:
        settings = Settings.from_env()
        ctx = ServiceContext.build(settings)
    except SettingsError as exc:
        err_console.print(f"[red]Settings: {escape(str(exc))}[/]")
        err_console.print("Set the ASXH_* variables (see docs/api.md).")
        raise typer.Exit(code=2) from None
    try:
        check_schema(ctx)
    except NotMigratedError as exc:
        ctx.engine.dispose()
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None
    return ctx


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(f"[red]Cannot read {escape(str(password_file))}: {exc}[/]")
            raise typer.Exit(code=2) from None
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        err_console.print(
            "[red]No password:[/] give --password-file or run on a terminal to be prompted."
        )
        raise typer.Exit(code=2)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@admin_app.command("create-operator")
def create_operator(
    username: Annotated[str, typer.Argument(help="User name (a-z, 0-9, '.', '_', '-').")],
    role: Annotated[
        str,
        typer.Option(help="national_admin, issuer_officer, auditor or service_point."),
    ] = "national_admin",
    province: Annotated[
        str | None, typer.Option(help="2-digit province code (officers, provincial auditors).")
    ] = None,
    programmes: Annotated[
        str | None, typer.Option(help="Comma-separated programme codes (officers).")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            help="Read the password from this file (first line); otherwise prompted.",
        ),
    ] = None,
) -> None:
    """Create an operator account, e.g. the first national administrator of a new install.

    The password is prompted (twice) or read from --password-file, never taken as an argument
    (it would show in ``ps`` and the shell history).
    """
    password = _read_password(password_file)
    ctx = service_context()
    from asxh_card.errors import AsxhError  # noqa: PLC0415
    from asxh_card.service.db import session_scope  # noqa: PLC0415
    from asxh_card.service.operators import create_operator as create  # noqa: PLC0415
    from asxh_card.service.problems import ProblemError  # noqa: PLC0415

    codes = [c.strip() for c in (programmes or "").split(",") if c.strip()]
    try:
        with session_scope(ctx.sessions) as session:
            row = create(
                session,
                ctx.passwords,
                ctx.programmes,
                CLI_ACTOR,
                username=username,
                password=password,
                role=role,
                province=province,
                programmes=codes,
            )
            name, row_role = row.username, row.role
    except (AsxhError, ProblemError) as exc:
        err_console.print(
            f"[red]Không tạo được tài khoản / Account not created:[/] {escape(str(exc))}"
        )
        raise typer.Exit(code=1) from None
    finally:
        ctx.engine.dispose()
    console.print(f"Đã tạo tài khoản / Created account [bold]{escape(name)}[/] ({row_role}).")
