"""``asxh status new|set|sign``: make and update status lists without the service (DESIGN.md §4).

An unsigned list is a small JSON file ``{"uri": "...", "bits": 2, "lst": "<base64url zlib>"}``
(the IETF ``status_list`` object plus the list's URI, which must lie under the issuer's
``status_base`` in the bundle)::

    asxh status new --uri https://asxh.gov.vn/v1/status-lists/vn-79/1 --out 79-1.json
    asxh status set 79-1.json 4711 revoked          # valid | revoked | suspended
    asxh status sign 79-1.json --key vn-79.pem --out 79-1.jwt --ttl 3600 --valid-hours 48

``sign`` takes the issuer's encrypted key (passphrase from ``ASXH_KEY_PASSPHRASE`` or a prompt)
and writes a ``statuslist+jwt`` token with ``iat`` now, ``ttl`` and ``exp``; serve it at its URI
for ``asxh bundle pull``, or hand it to ``Verifier(status_tokens=...)``.
Exit codes: 0 success, 1 the list file is invalid, 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.markup import escape

from asxh_card._core import strictjson
from asxh_card._core.fileio import write_atomic
from asxh_card._core.statuslist import (
    MAX_STATUS_URI_LENGTH,
    MIN_STATUS_LIST_SIZE,
    Status,
    StatusList,
    sign_status_list,
)
from asxh_card._core.timeutil import utc_now
from asxh_card.cli._app import app, console, err_console
from asxh_card.cli.keys import read_passphrase
from asxh_card.errors import KeyStoreError, VerificationError
from asxh_card.keystore import load_private_key

__all__ = ["ListFile", "status_app"]

status_app = typer.Typer(
    help="Make, update and sign status lists (no service needed).", no_args_is_help=True
)
app.add_typer(status_app, name="status")

_MAX_FILE = 48 * 1024 * 1024


class ListFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The unsigned list file: its URI and the IETF ``status_list`` members."""

    uri: Annotated[
        str, msgspec.Meta(max_length=MAX_STATUS_URI_LENGTH, pattern=r"^https?://[\x21-\x7e]+$")
    ]
    bits: int
    lst: str


def _usage(message: str) -> typer.Exit:
    err_console.print(f"[red]{escape(message)}[/]", highlight=False)
    return typer.Exit(code=2)


def _read(path: Path) -> tuple[str, StatusList]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = msgspec.convert(strictjson.loads(raw, max_size=_MAX_FILE), ListFile, strict=True)
        entries = StatusList.decode({"bits": doc.bits, "lst": doc.lst})
    except (strictjson.StrictJSONError, msgspec.ValidationError, VerificationError) as exc:
        err_console.print(
            f"[red]{escape(str(path))} is not a status list file:[/] {escape(str(exc))}"
        )
        raise typer.Exit(code=1) from None
    return doc.uri, entries


def _write(path: Path, uri: str, entries: StatusList) -> None:
    encoded = entries.encode()
    doc = ListFile(uri=uri, bits=encoded["bits"], lst=encoded["lst"])
    try:
        write_atomic(path, msgspec.json.encode(doc) + b"\n")
    except OSError as exc:
        raise _usage(f"cannot write {path}: {exc.strerror}") from None


@status_app.command("new")
def status_new(
    uri: Annotated[str, typer.Option("--uri", help="The list's URI, under the status base.")],
    out: Annotated[Path, typer.Option("--out", help="List file to create.")],
    size: Annotated[
        int, typer.Option("--size", min=MIN_STATUS_LIST_SIZE, help="Entries (2 bits each).")
    ] = MIN_STATUS_LIST_SIZE,
) -> None:
    """Create an unsigned list of ``--size`` entries, all valid."""
    try:
        msgspec.convert({"uri": uri, "bits": 2, "lst": ""}, ListFile, strict=True)
    except msgspec.ValidationError:
        raise _usage(
            f"--uri must be an http(s) URL of at most {MAX_STATUS_URI_LENGTH} characters"
        ) from None
    if size % 4:
        raise _usage("--size must be a multiple of 4")
    if out.exists():
        raise _usage(f"{out} exists; refusing to overwrite a list")
    _write(out, uri, StatusList.empty(size, 2))
    console.print(f"New status list of {size} entries for {escape(uri)} -> {escape(str(out))}")


@status_app.command("set")
def status_set(
    path: Annotated[Path, typer.Argument(help="List file.")],
    idx: Annotated[int, typer.Argument(min=0, help="Entry index.")],
    status: Annotated[str, typer.Argument(help="valid, revoked or suspended.")],
    count: Annotated[int, typer.Option("--count", min=1, max=64, help="Consecutive entries.")] = 1,
) -> None:
    """Set entries ``idx .. idx + count - 1`` (a card and its entitlements: its status block)."""
    try:
        value = Status[status.upper()]
    except KeyError:
        raise _usage("the status must be valid, revoked or suspended") from None
    uri, entries = _read(path)
    if idx + count > entries.size:
        raise _usage(f"entries {idx}..{idx + count - 1} are outside the list (size {entries.size})")
    for i in range(idx, idx + count):
        entries[i] = int(value)
    _write(path, uri, entries)
    console.print(f"{escape(uri)}: entries {idx}..{idx + count - 1} -> {value.name.lower()}")


@status_app.command("sign")
def status_sign(
    path: Annotated[Path, typer.Argument(help="List file.")],
    key: Annotated[Path, typer.Option("--key", help="The issuer's encrypted key file.")],
    out: Annotated[Path, typer.Option("--out", help="Token file to write (statuslist+jwt).")],
    ttl: Annotated[int, typer.Option("--ttl", min=60, help="Seconds a copy stays fresh.")] = 3600,
    valid_hours: Annotated[
        int, typer.Option("--valid-hours", min=1, max=24 * 31, help="exp: hours after iat.")
    ] = 48,
) -> None:
    """Sign the list with the issuer's key (iat now, ttl and exp)."""
    uri, entries = _read(path)
    try:
        signer = load_private_key(key, read_passphrase(confirm=False))
    except KeyStoreError as exc:
        raise _usage(str(exc)) from None
    now = int(utc_now().timestamp())
    token = sign_status_list(
        entries, signer, uri=uri, issued_at=now, expires_at=now + valid_hours * 3600, ttl=ttl
    )
    try:
        write_atomic(out, (token + "\n").encode("ascii"))
    except OSError as exc:
        raise _usage(f"cannot write {out}: {exc.strerror}") from None
    console.print(f"Signed {escape(uri)} (kid {signer.kid}, iat {now}) -> {escape(str(out))}")
