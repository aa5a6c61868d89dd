"""The typer application every ``asxh`` sub-command module registers on."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="asxh",
    help="Vietnam's electronic social-security (ASXH) card: issue, verify and serve.",
    no_args_is_help=True,
    add_completion=False,
)
#: Human output goes to stdout; diagnostics to stderr.
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Vietnam's electronic social-security (ASXH) card: issue, verify and serve."""
