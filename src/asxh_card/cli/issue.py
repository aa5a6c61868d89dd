"""``asxh issue``: issue one card from a JSON description, or a batch from JSON Lines.

Exit codes: 0 issued; 1 refused (a rule of issuance: bad mã số ASXH, never-on-card field,
validity window, card too large for QR version 20; or the key could not be loaded);
2 bad input (unreadable or empty file, malformed JSON description, bad options, a batch-only
option for one card, an output path that is not a directory, cannot be created or, for a batch,
already holds a batch).

Nothing is left behind by a refused or failed run: files are staged and moved into place all
together (:mod:`asxh_card.issuing.staging`).

Rendering needs the ``render`` extra; it is imported inside the command so that
``asxh --help`` and ``asxh verify`` run on the base install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from asxh_card._core.keys import PrivateKey
from asxh_card.cli._app import app, console, err_console
from asxh_card.cli.keys import read_passphrase
from asxh_card.errors import InvalidInputError, KeyStoreError
from asxh_card.issuing.cardfile import CardFileError, parse_card_json
from asxh_card.issuing.issuer import Issuer
from asxh_card.issuing.staging import publish, staging_directory
from asxh_card.keystore import load_private_key

__all__ = ["issue"]


def _load_key(path: Path) -> PrivateKey:
    try:
        return load_private_key(path, read_passphrase(confirm=False))
    except KeyStoreError as exc:
        err_console.print(f"[red]Key: {escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None


def _need_render() -> None:
    try:
        import PIL  # noqa: F401, PLC0415 - only probing for the render extra
        import zxingcpp  # noqa: F401, PLC0415
    except ImportError:
        err_console.print(
            "[red]Rendering needs the render extra:[/] pip install 'asxh-card[render]'"
        )
        raise typer.Exit(code=2) from None


def _usage_error(message: str) -> typer.Exit:
    # Escaped: messages quote file names and JSON member names, and a "[/]" in them would be
    # read as console markup and crash the command with a traceback.
    err_console.print(f"[red]{escape(message)}[/]", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


@app.command("issue")
def issue(  # noqa: PLR0917 - typer maps parameters to options
    source: Annotated[
        Path, typer.Argument(help="CARD.json (one card) or CARDS.jsonl (one card per line).")
    ],
    key: Annotated[Path, typer.Option("--key", help="Encrypted PKCS#8 issuer key file.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (created if needed).")],
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Batch: skip bad lines (listed in the manifest)."),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Batch: render processes (default: CPUs)."),
    ] = None,
    screen_scale: Annotated[
        int | None,
        typer.Option(
            "--screen-scale", min=1, help="QR PNG px per module for screens (default 4 = 300 dpi)."
        ),
    ] = None,
) -> None:
    """Issue signed cards and write the QR text, token, QR/barcode PNG+SVG, card PNG and PDF."""
    _need_render()
    if not source.is_file():
        raise _usage_error(f"{source}: no such file")
    if out.exists() and not out.is_dir():
        raise _usage_error(f"{out}: exists and is not a directory")
    batch = source.suffix == ".jsonl"
    if not batch and (skip_invalid or workers is not None):
        # Accepting them silently would let a typo in the file name (cards.json for
        # cards.jsonl) issue one card where a batch was meant.
        raise _usage_error("--skip-invalid and --workers apply to a .jsonl batch only")
    signer = _load_key(key)
    if batch:
        _issue_batch(
            source,
            signer,
            out,
            skip_invalid=skip_invalid,
            workers=workers,
            screen_scale=screen_scale,
        )
        return
    # Imported here: the render extra (Pillow, zxing-cpp) is not part of the base install.
    from asxh_card.issuing.render import OUTPUT_SUFFIXES, render_card  # noqa: PLC0415

    try:
        description = parse_card_json(source.read_bytes(), source=source.name)
    except OSError as exc:
        raise _usage_error(f"{source}: cannot read ({exc.strerror or exc})") from None
    except CardFileError as exc:
        raise _usage_error(str(exc)) from None
    try:
        issuer = Issuer(
            issuer_id=description.issuer,
            province=description.province,
            signer=signer,
        )
        issued = issuer.issue_request(description.request)
    except InvalidInputError as exc:
        err_console.print(f"[red]Refused:[/] {escape(source.name)}: {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    rendered = render_card(issued, screen_scale=screen_scale)
    names = [f"{issued.serial}{suffix}" for suffix in OUTPUT_SUFFIXES]
    try:
        with staging_directory(out) as staging:
            for name, suffix in zip(names, OUTPUT_SUFFIXES, strict=True):
                (staging / name).write_bytes(rendered.files[suffix])
            publish(staging, out, names)
    except OSError as exc:
        raise _usage_error(f"{out}: cannot write the card ({exc.strerror or exc})") from None
    console.print(
        f"Issued card [bold]{issued.serial}[/] (QR version {issued.qr_version}, "
        f"key {issued.kid}) into {escape(str(out))}"
    )


def _issue_batch(
    source: Path,
    signer: PrivateKey,
    out: Path,
    *,
    skip_invalid: bool,
    workers: int | None,
    screen_scale: int | None,
) -> None:
    from asxh_card.issuing.bulk import (  # noqa: PLC0415
        BatchRefusedError,
        BatchSourceError,
        OutputDirectoryError,
        issue_batch,
    )

    try:
        result = issue_batch(
            source,
            signer=signer,
            out_dir=out,
            skip_invalid=skip_invalid,
            workers=workers,
            screen_scale=screen_scale,
        )
    except BatchRefusedError as exc:
        for error in exc.errors:
            err_console.print(
                f"[red]line {error.line}:[/] {escape(error.message)}", highlight=False
            )
        err_console.print(f"[red]{len(exc.errors)} bad line(s): nothing issued.[/]")
        raise typer.Exit(code=1) from None
    except (BatchSourceError, OutputDirectoryError) as exc:
        raise _usage_error(str(exc)) from None
    except OSError as exc:
        raise _usage_error(f"{out}: cannot write the batch ({exc.strerror or exc})") from None
    for error in result.errors:
        err_console.print(
            f"[yellow]skipped line {error.line}:[/] {escape(error.message)}", highlight=False
        )
    console.print(
        f"Issued {len(result.issued)} card(s) into {escape(str(out))}"
        + (f"; skipped {len(result.errors)} line(s)" if result.errors else "")
    )
