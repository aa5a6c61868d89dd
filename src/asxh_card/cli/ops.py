"""Running a province: ``asxh admin``, ``asxh import``, ``asxh stats``.

These commands work on the service's database directly, with the same ``ASXH_*`` settings as
``asxh serve`` (the database must be migrated: ``asxh db upgrade``). The service is imported
inside the commands, so ``asxh --help`` runs on the base install.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from asxh_card.cli._app import app, console, err_console

if TYPE_CHECKING:
    from asxh_card.service.audit import Actor
    from asxh_card.service.context import ServiceContext

__all__ = [
    "admin_app",
    "compromised_key",
    "create_operator",
    "import_people",
    "print_batch",
    "rotate_key",
    "show_stats",
]

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
                cli_actor(),
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


def cli_actor() -> Actor:
    """The actor of command-line work: whoever runs it at the server has full authority."""
    from asxh_card.service.audit import Actor  # noqa: PLC0415
    from asxh_card.service.security import Principal  # noqa: PLC0415

    principal = Principal(username=CLI_ACTOR, role="national_admin", province=None, programmes=())
    return Actor(principal)


@app.command("import")
def import_people(  # noqa: PLR0917 - typer maps options to parameters
    path: Annotated[Path, typer.Argument(help="Beneficiary list: .csv (UTF-8) or .xlsx.")],
    province: Annotated[str, typer.Option(help="2-digit code of the issuing province.")],
    errors: Annotated[
        Path | None,
        typer.Option(help="Error report (CSV) to write; default: PATH with .errors.csv."),
    ] = None,
    sheets: Annotated[
        Path | None, typer.Option(help="Also write the job's cards to this print-ready PDF.")
    ] = None,
    chunk: Annotated[int, typer.Option(help="Rows per transaction.", min=1, max=20_000)] = 2000,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per CPU; 0: none).", min=0)
    ] = None,
) -> None:
    """Register, grant and issue cards for every valid row of a beneficiary list (resumable).

    Running the same file again continues where a stopped run left off; a finished file
    issues nothing twice. Rejected rows go to the error report (row, field, reason in
    Vietnamese and English) and never stop the good rows.
    """
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from asxh_card.errors import AsxhError  # noqa: PLC0415
    from asxh_card.provinces import current_province  # noqa: PLC0415
    from asxh_card.service import importing  # noqa: PLC0415
    from asxh_card.service.db import session_scope  # noqa: PLC0415
    from asxh_card.service.problems import ProblemError  # noqa: PLC0415

    try:
        current_province(province)
    except AsxhError as exc:
        err_console.print(f"[red]--province: {escape(str(exc))}[/]")
        raise typer.Exit(code=2) from None
    if not path.is_file():
        err_console.print(f"[red]{escape(str(path))}: không có tệp / no such file[/]")
        raise typer.Exit(code=2)
    ctx = service_context()
    actor = cli_actor()
    report = errors or path.with_name(path.stem + ".errors.csv")
    try:
        with session_scope(ctx.sessions) as session:
            job, created = importing.open_job(
                session, actor, path=path, filename=path.name, province=province, options={}
            )
            job_id, done, total = job.id, job.next_row, job.total_rows
        if not created:
            err_console.print(
                f"Tiếp tục lần nhập #{job_id} / Resuming import #{job_id} at row {done} of {total}."
            )
        columns = (
            TextColumn("[bold]Nhập / Import"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        started, first = time.monotonic(), done
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task("import", total=total, completed=done, rate="-")

            def show(p: importing.Progress) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=p.done, rate=f"{(p.done - first) / elapsed:,.0f}")

            result = importing.run_job(
                ctx, actor, job_id, path, chunk_size=chunk, workers=workers, on_progress=show
            )
        with session_scope(ctx.sessions) as session:
            report.write_text(importing.rejections_csv(session, job_id), encoding="utf-8")
        if sheets is not None:
            _print(ctx, job_id, None, sheets, backs=False, workers=workers)
    except (AsxhError, ProblemError) as exc:
        err_console.print(f"[red]Nhập thất bại / Import failed:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    finally:
        ctx.engine.dispose()
    c = result.counts
    console.print(
        f"Lần nhập #{job_id} / Import #{job_id}: {result.done} rows; "
        f"people created {c.get('people_created', 0)}, existing {c.get('people_existing', 0)}, "
        f"reconciliations {c.get('reconciliations', 0)}; entitlements granted "
        f"{c.get('entitlements_granted', 0)}; cards issued {c.get('cards_issued', 0)}; "
        f"rows rejected {c.get('rows_rejected', 0)} (report: {escape(str(report))})."
    )


@app.command("stats")
def show_stats(
    province: Annotated[str | None, typer.Option(help="Only this province (2-digit code).")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="First month, YYYY-MM (Vietnam time).")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write the CSV export to this file.")
    ] = None,
) -> None:
    """People, active entitlements and cards by province and month (counts only)."""
    from datetime import date  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415

    from asxh_card.errors import AsxhError  # noqa: PLC0415
    from asxh_card.provinces import current_province  # noqa: PLC0415
    from asxh_card.service import stats  # noqa: PLC0415
    from asxh_card.service.db import session_scope  # noqa: PLC0415

    def month(text: str | None, what: str) -> date | None:
        if text is None:
            return None
        try:
            return date.fromisoformat(f"{text}-01")
        except ValueError:
            err_console.print(f"[red]{what} must be YYYY-MM[/]")
            raise typer.Exit(code=2) from None

    first, last = month(since, "--from"), month(until, "--to")
    if province is not None:
        try:
            current_province(province)
        except AsxhError as exc:
            err_console.print(f"[red]--province: {escape(str(exc))}[/]")
            raise typer.Exit(code=2) from None
    ctx = service_context()
    try:
        with session_scope(ctx.sessions) as session:
            result = stats.compute(
                session, [province] if province else None, since=first, until=last
            )
    finally:
        ctx.engine.dispose()
    if csv_out is not None:
        csv_out.write_text("\ufeff" + stats.to_csv(result), encoding="utf-8")
        err_console.print(f"CSV: {escape(str(csv_out))}")
    table = Table(title="Thống kê / Statistics")
    table.add_column("Tháng / Month")
    for metric in stats.METRICS:
        table.add_column(metric, justify="right")
    for key, cell in sorted(result.by_month.items()):
        table.add_row(key, *(f"{cell[m]:,}" for m in stats.METRICS))
    table.add_row("[bold]Σ[/]", *(f"{result.totals[m]:,}" for m in stats.METRICS))
    console.print(table)
    states = ", ".join(f"{k} {v:,}" for k, v in sorted(result.cards_by_state.items())) or "-"
    active = ", ".join(f"{k} {v:,}" for k, v in result.active_entitlements.items()) or "-"
    console.print(f"Thẻ theo trạng thái / Cards by state: {states}")
    console.print(f"Chế độ đang hưởng / Active entitlements: {active}")


def _print(
    ctx: ServiceContext,
    job: int | None,
    serials_file: Path | None,
    out: Path,
    *,
    backs: bool,
    workers: int | None,
) -> None:
    """Write one print-ready PDF with a progress bar (the cards of a job or of a list)."""
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from asxh_card.service.printing import print_cards, serials_of_job  # noqa: PLC0415

    if job is not None:
        serials = serials_of_job(ctx, job)
    else:
        assert serials_file is not None  # noqa: S101 - the caller checked
        serials = [s.strip() for s in serials_file.read_text(encoding="utf-8").split() if s]
    columns = (
        TextColumn("[bold]In / Print"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("print", total=len(serials))
        result = print_cards(
            ctx,
            serials,
            out,
            backs=backs,
            workers=workers,
            on_progress=lambda n: bar.update(task, completed=n),
        )
    mark = " (DEMO)" if result.demo else ""
    console.print(
        f"Tệp in / Print file {escape(str(out))}: {result.cards} cards, {result.pages} pages{mark}."
    )


@app.command("print")
def print_batch(
    out: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    job: Annotated[int | None, typer.Option(help="The cards of this import job.")] = None,
    serials: Annotated[
        Path | None, typer.Option(help="A file of card serials (one per line), in print order.")
    ] = None,
    backs: Annotated[bool, typer.Option("--backs", help="Add card backs (duplex).")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per CPU).", min=0)
    ] = None,
) -> None:
    """One print-ready PDF for a batch: A4, 10 cards a page at true size, crop marks."""
    from asxh_card.errors import AsxhError  # noqa: PLC0415

    if (job is None) == (serials is None):
        err_console.print("[red]Give exactly one of --job and --serials.[/]")
        raise typer.Exit(code=2)
    ctx = service_context()
    try:
        _print(ctx, job, serials, out, backs=backs, workers=workers)
    except (AsxhError, OSError, ValueError) as exc:
        err_console.print(f"[red]In thất bại / Printing failed:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    finally:
        ctx.engine.dispose()


def _keys_app() -> typer.Typer:
    from asxh_card.cli.keys import keys_app  # noqa: PLC0415 - registered there

    return keys_app


@_keys_app().command("rotate")
def rotate_key(
    issuer: Annotated[str, typer.Option(help="Issuer id, e.g. vn-79.")],
) -> None:
    """Give an issuer of the service a new signing key; the old one keeps verifying its cards.

    New cards are signed with the new key at once; the old key stays in the JWKS and the trust
    bundle (``retiring``) until it is retired.
    """
    ctx = service_context()
    from asxh_card.service.db import session_scope  # noqa: PLC0415
    from asxh_card.service.models import IssuerRow  # noqa: PLC0415

    try:
        with session_scope(ctx.sessions) as session:
            row = session.get(IssuerRow, issuer)
            if row is None:
                err_console.print(
                    f"[red]Không có cơ quan cấp / No such issuer: {escape(issuer)}[/]"
                )
                raise typer.Exit(code=1)
            key = ctx.keyring.create_issuer_key(session, row)
            kid = key.kid
            from asxh_card.service import audit  # noqa: PLC0415

            audit.record(session, cli_actor(), "issuer.key", "issuer", issuer, detail={"kid": kid})
    finally:
        ctx.engine.dispose()
    console.print(f"Khóa mới / New key for {escape(issuer)}: [bold]{kid}[/]")


@_keys_app().command("compromised")
def compromised_key(
    issuer: Annotated[str, typer.Option(help="Issuer id, e.g. vn-79.")],
    kid: Annotated[str, typer.Option(help="The compromised key's kid.")],
    listing: Annotated[
        Path | None, typer.Option("--list", help="Write 'old new' serial pairs to this file.")
    ] = None,
) -> None:
    """Retire a compromised key now and re-issue every current card it signed with a new key.

    The old cards are revoked on their status lists (so verifiers refuse them at their next
    list fetch); print the new ones from the serials in --list (``asxh print --serials``).
    """
    ctx = service_context()
    from asxh_card.errors import AsxhError  # noqa: PLC0415
    from asxh_card.service.db import session_scope  # noqa: PLC0415
    from asxh_card.service.rotation import compromise_key  # noqa: PLC0415

    try:
        with session_scope(ctx.sessions) as session:
            outcome = compromise_key(session, ctx, cli_actor(), issuer, kid)
    except AsxhError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None
    finally:
        ctx.engine.dispose()
    if listing is not None:
        listing.write_text("".join(f"{a} {b}\n" for a, b in outcome.reissued), encoding="utf-8")
    console.print(
        f"Khóa {escape(kid)} đã thu hồi / Key retired; {len(outcome.reissued)} cards re-issued "
        f"with key {outcome.new_kid}."
    )
