"""``asxh root init``, ``asxh bundle build``, ``asxh bundle pull``: the trust bundle (DESIGN.md §4).

* ``root init --out ROOT.pem`` creates the national root key, encrypted at rest (passphrase from
  ``ASXH_ROOT_PASSPHRASE`` or a prompt, never an argument), writes ``ROOT.jwk`` beside it and
  prints the public JWK and its ``kid``: that is what verifiers pin.
* ``bundle build`` signs a bundle from an issuer registry file and status-list tokens.
* ``bundle pull URL --root ROOT.jwk --dir DIR`` downloads a bundle and the status lists it names
  (stdlib urllib, here only: the verifier never opens a socket), verifies everything and installs
  it atomically, refusing an older version (rollback) before it downloads the lists.

Exit codes: 0 success, 1 the bundle or a list is invalid (reason printed) or a download failed,
2 usage error (missing input file, bad URL or directory, unreadable key).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from asxh_card._core.timeutil import utc_now
from asxh_card.bundle import BUNDLE_LIMITS, parse_bundle
from asxh_card.cli._app import app, console, err_console
from asxh_card.cli.keys import read_passphrase
from asxh_card.errors import KeyStoreError, VerificationError
from asxh_card.keystore import (
    MIN_PASSPHRASE_LENGTH,
    generate_key_file,
    load_private_key,
    load_public_key,
)
from asxh_card.trust import build_bundle, load_issuer_registry
from asxh_card.verifier.store import BundleStore, write_atomic

__all__ = ["ROOT_PASSPHRASE_ENV", "bundle_app", "root_app"]

#: Environment variable holding the root key passphrase.
ROOT_PASSPHRASE_ENV = "ASXH_ROOT_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
#: A status list of 100 M entries is ~1.5 MB compressed; leave room, but bound the download.
MAX_DOWNLOAD = 64 * 1024 * 1024
HTTP_TIMEOUT = 30

root_app = typer.Typer(help="The national root key that signs trust bundles.", no_args_is_help=True)
bundle_app = typer.Typer(help="Build and sync signed trust bundles.", no_args_is_help=True)
app.add_typer(root_app, name="root")
app.add_typer(bundle_app, name="bundle")


def _passphrase(*, confirm: bool) -> bytes:
    return read_passphrase(
        confirm=confirm, variable=ROOT_PASSPHRASE_ENV, label="Root key passphrase"
    )


def _fail(exc: VerificationError) -> typer.Exit:
    err_console.print(f"[red]{exc.reason.value}[/]: {escape(str(exc))}", highlight=False)
    return typer.Exit(code=1)


@root_app.command("init")
def root_init(
    out: Annotated[Path, typer.Option("--out", help="Encrypted PKCS#8 file to create.")],
    alg: Annotated[str, typer.Option(help="ES256 (default) or EdDSA.")] = "ES256",
) -> None:
    """Create the national root key (encrypted at rest) and print its public JWK and kid."""
    if alg not in ("ES256", "EdDSA"):
        err_console.print("[red]--alg must be ES256 or EdDSA[/]")
        raise typer.Exit(code=2)
    algorithm: Literal["ES256", "EdDSA"] = "ES256" if alg == "ES256" else "EdDSA"
    passphrase = _passphrase(confirm=True)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        err_console.print(
            f"[red]The passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters.[/]"
        )
        raise typer.Exit(code=2)
    try:
        key = generate_key_file(out, passphrase, algorithm)
    except KeyStoreError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=2) from None
    public = key.public_key.to_jwk()
    console.print(
        f"Root key written to {escape(str(out))} "
        f"(public JWK: {escape(str(out.with_suffix('.jwk')))})"
    )
    console.print(f"kid: {key.kid}", highlight=False)
    console.print_json(json.dumps(public))


@bundle_app.command("build")
def bundle_build(  # noqa: PLR0917 - typer maps options to parameters
    root_key: Annotated[Path, typer.Option("--root-key", help="Encrypted root key file.")],
    issuers: Annotated[
        Path,
        typer.Option("--issuers", exists=True, dir_okay=False, help="Issuer registry JSON file."),
    ],
    version: Annotated[int, typer.Option("--version", min=1, help="Bundle version (monotonic).")],
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write.")],
    status_list: Annotated[
        list[Path] | None,
        typer.Option(
            "--status-list",
            exists=True,
            dir_okay=False,
            help="A statuslist+jwt token file (repeatable).",
        ),
    ] = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=366)] = 30,
    embed: Annotated[
        bool, typer.Option("--embed/--no-embed", help="Embed the status-list tokens.")
    ] = False,
) -> None:
    """Sign a trust bundle from an issuer registry and status-list tokens."""
    try:
        tokens = [p.read_text("ascii").strip() for p in status_list or []]
        registry = load_issuer_registry(issuers)
    except (OSError, UnicodeDecodeError) as exc:
        err_console.print(f"[red]Cannot read a status list: {escape(str(exc))}[/]")
        raise typer.Exit(code=2) from None
    except VerificationError as exc:
        raise _fail(exc) from None
    try:
        signer = load_private_key(root_key, _passphrase(confirm=False))
    except KeyStoreError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=2) from None
    now = int(utc_now().timestamp())
    try:
        token, bundle = build_bundle(
            root=signer,
            issuers=registry,
            status_tokens=tokens,
            version=version,
            issued_at=now,
            expires_at=now + valid_days * 86_400,
            embed_status=embed,
        )
    except VerificationError as exc:
        raise _fail(exc) from None
    try:
        write_atomic(out, (token + "\n").encode("ascii"))
    except OSError as exc:
        err_console.print(
            f"[red]Cannot write {escape(str(out))}: {escape(str(exc))}[/]", highlight=False
        )
        raise typer.Exit(code=2) from None
    console.print(
        f"Bundle version {bundle.version}: {len(bundle.issuers)} issuer(s), "
        f"{len(bundle.status_lists)} status list(s), valid until "
        f"{datetime.fromtimestamp(bundle.expires_at, UTC).isoformat()} -> {escape(str(out))}"
    )


def _get(url: str, limit: int = MAX_DOWNLOAD) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url[:100]}")
    request = urllib.request.Request(url, headers={"User-Agent": "asxh-card"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
        data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{url[:100]}: larger than {limit} bytes")
    return data


@bundle_app.command("pull")
def bundle_pull(
    url: Annotated[str, typer.Argument(help="URL of the bundle (bundle.jwt).")],
    root: Annotated[
        list[Path], typer.Option("--root", help="Pinned root public key (repeatable).")
    ],
    directory: Annotated[Path, typer.Option("--dir", help="Local bundle directory.")],
) -> None:
    """Download a bundle and its status lists, verify them and install them (no rollback)."""
    if not url.startswith(("https://", "http://")):
        err_console.print(f"[red]Not an http(s) URL: {escape(url[:100])}[/]", highlight=False)
        raise typer.Exit(code=2)
    try:
        roots = [load_public_key(p) for p in root]
    except KeyStoreError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=2) from None
    if directory.exists() and not directory.is_dir():
        err_console.print(
            f"[red]--dir {escape(str(directory))} is not a directory[/]", highlight=False
        )
        raise typer.Exit(code=2)
    store = BundleStore(directory)
    now = int(utc_now().timestamp())
    try:
        # Verified once here; install takes the parsed bundle and does not check it again.
        bundle = parse_bundle(_get(url, BUNDLE_LIMITS.max_token), roots=roots)
        store.check(bundle, roots=roots, now=now)  # a rollback is refused before any download
        tokens = {
            uri: _get(uri).decode("ascii").strip()
            for uri, entry in bundle.status_lists.items()
            if entry.token is None
        }
        installed = store.install(bundle, tokens, roots=roots, now=now)
    except VerificationError as exc:
        raise _fail(exc) from None
    except (OSError, ValueError, urllib.error.URLError) as exc:
        err_console.print(f"[red]Sync failed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from None
    age = timedelta(seconds=int(utc_now().timestamp()) - installed.issued_at)
    console.print(
        f"Installed bundle version {installed.version} ({len(installed.status_lists)} status "
        f"list(s), issued {age} ago) in {directory}"
    )
