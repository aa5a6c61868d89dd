"""``asxh bhyt-levels``: cards whose BHYT level no longer follows the beneficiary group.

Works on the service's database directly, like ``asxh import`` (same ``ASXH_*`` settings).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from asxh_card.cli._app import app, console, err_console

__all__ = ["bhyt_levels"]


@app.command("bhyt-levels")
def bhyt_levels(
    province: Annotated[str, typer.Option(help="2-digit code of the province.")],
    on: Annotated[
        str | None,
        typer.Option(help="Day the levels apply, YYYY-MM-DD (default: today, Vietnam time)."),
    ] = None,
    reissue: Annotated[
        bool, typer.Option("--reissue", help="Re-issue the outdated cards (old ones superseded).")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many cards.", min=1)] = 100_000,
) -> None:
    """List the province's cards whose BHYT level is out of date; ``--reissue`` fixes them.

    The level follows from the beneficiary group and the date (near-poor CN and social-pension
    LH holders moved to level 2 on 1 Jan 2026). Exit code 1 when cards are still outdated
    (listed, or a re-issue failed).
    """
    from rich.table import Table  # noqa: PLC0415

    from asxh_card._core.timeutil import parse_iso_date, utc_now, vn_date  # noqa: PLC0415
    from asxh_card.cli.ops import cli_actor, service_context  # noqa: PLC0415
    from asxh_card.errors import AsxhError  # noqa: PLC0415
    from asxh_card.provinces import current_province  # noqa: PLC0415
    from asxh_card.service import bhyt  # noqa: PLC0415
    from asxh_card.service.db import session_scope  # noqa: PLC0415

    try:
        current_province(province)
        day = vn_date(utc_now()) if on is None else parse_iso_date(on)
    except (AsxhError, ValueError) as exc:
        err_console.print(f"[red]{escape(str(getattr(exc, 'message_vi', exc)))} ({exc})[/]")
        raise typer.Exit(code=2) from None
    ctx = service_context()
    try:
        if reissue:
            report = bhyt.reissue_outdated(ctx, cli_actor(), province, day, limit=limit)
            for old, new in report.reissued.items():
                console.print(f"{old} -> {new}")
            for old, reason in report.failed_vi.items():
                err_console.print(f"[red]{old}: {escape(reason)}[/]")
            console.print(
                f"Đã cấp lại {len(report.reissued)} thẻ, lỗi {len(report.failed)} / "
                f"Re-issued {len(report.reissued)} cards, {len(report.failed)} failed."
            )
            if report.failed:
                raise typer.Exit(code=1)
            return
        with session_scope(ctx.sessions) as session:
            rows = bhyt.outdated_cards(session, ctx.programmes, province, day, limit=limit)
    finally:
        ctx.engine.dispose()
    table = Table(title=f"Thẻ có mức hưởng BHYT cũ / Outdated BHYT levels ({day:%d/%m/%Y})")
    for column in (
        "Mã số ASXH",
        "Số thẻ / Serial",
        "Nhóm / Group",
        "Trên thẻ / Card",
        "Đúng / Due",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.asxh_number,
            row.serial,
            row.group,
            "-" if row.card_level is None else str(row.card_level),
            str(row.expected_level),
        )
    console.print(table)
    console.print(f"{len(rows)} thẻ / cards.")
    if rows:
        raise typer.Exit(code=1)
