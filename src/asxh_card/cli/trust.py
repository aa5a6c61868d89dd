"""``asxh root init``, ``asxh bundle build|publish|pull``: the trust bundle (DESIGN.md §4).

* ``root init --out ROOT.pem`` creates the national root key, encrypted at rest (passphrase from
  ``ASXH_ROOT_PASSPHRASE`` or a prompt, never an argument), writes ``ROOT.jwk`` beside it and
  prints the public JWK and its ``kid``: that is what verifiers pin.
* ``bundle build`` is the offline ceremony: it signs a bundle from an issuer registry file (each
  issuer's keys with their windows, the next key published ahead, and its status base).
* ``bundle publish FILE --url SERVICE`` uploads a root-signed bundle to the service
  (``POST /v1/admin/trust-bundle``; access token from ``ASXH_ACCESS_TOKEN``): the service holds
  no root key.
* ``bundle pull URL --root ROOT.jwk --dir DIR`` downloads the bundle and, from each issuer's
  status index (its ``status_base``), the lists that changed (``If-None-Match``; stdlib urllib,
  here only: the verifier never opens a socket), verifies everything and installs it, refusing
  an older bundle or list (rollback) before anything is written.

Exit codes: 0 success, 1 the bundle or a list is invalid (reason printed) or a download or upload
failed, 2 usage error (missing input file, bad URL or directory, unreadable key).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import typer
from rich.markup import escape

from asxh_card._core import strictjson
from asxh_card._core.fileio import write_atomic
from asxh_card._core.timeutil import utc_now
from asxh_card.bundle import BUNDLE_LIMITS, TrustBundle, parse_bundle
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
from asxh_card.verifier.store import BundleStore

__all__ = ["ACCESS_TOKEN_ENV", "ROOT_PASSPHRASE_ENV", "bundle_app", "root_app"]

#: Environment variable holding the root key passphrase.
ROOT_PASSPHRASE_ENV = "ASXH_ROOT_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
#: Environment variable holding a national administrator's access token (``bundle publish``).
ACCESS_TOKEN_ENV = "ASXH_ACCESS_TOKEN"  # noqa: S105 - a variable name, not a secret
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
def bundle_build(
    root_key: Annotated[Path, typer.Option("--root-key", help="Encrypted root key file.")],
    issuers: Annotated[
        Path,
        typer.Option("--issuers", exists=True, dir_okay=False, help="Issuer registry JSON file."),
    ],
    version: Annotated[int, typer.Option("--version", min=1, help="Bundle version (monotonic).")],
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write.")],
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=366)] = 30,
) -> None:
    """Sign a trust bundle from an issuer registry (the offline ceremony)."""
    try:
        registry = load_issuer_registry(issuers)
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
            version=version,
            issued_at=now,
            expires_at=now + valid_days * 86_400,
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
    keys = sum(len(i.keys) for i in bundle.issuers.values())
    console.print(
        f"Bundle version {bundle.version}: {len(bundle.issuers)} issuer(s), {keys} key(s), "
        f"valid until {datetime.fromtimestamp(bundle.expires_at, UTC).isoformat()} "
        f"-> {escape(str(out))}"
    )


class _Fetched(msgspec.Struct):
    """A download: the body (None for 304 Not Modified) and the server's ETag."""

    body: bytes | None
    etag: str | None


def _get(url: str, limit: int = MAX_DOWNLOAD, etag: str | None = None) -> _Fetched:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url[:100]}")
    headers = {"User-Agent": "asxh-card"}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            data: bytes = response.read(limit + 1)
            new_etag = response.headers.get("ETag")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return _Fetched(None, etag)
        raise
    if len(data) > limit:
        raise ValueError(f"{url[:100]}: larger than {limit} bytes")
    return _Fetched(data, new_etag)


class _StatusIndex(msgspec.Struct, forbid_unknown_fields=False):
    """An issuer's status index (``GET {status_base}``): its current list URIs."""

    lists: list[str]


def _list_uris(bundle: TrustBundle) -> list[str]:
    """Every current list URI, from each issuer's status index (only URIs under its base)."""
    uris: list[str] = []
    for issuer in bundle.issuers.values():
        body = _get(issuer.status_base, 4 * 1024 * 1024).body or b""
        try:
            index = msgspec.convert(
                strictjson.loads(body, max_size=4 * 1024 * 1024), _StatusIndex, strict=True
            )
        except (strictjson.StrictJSONError, msgspec.ValidationError) as exc:
            raise ValueError(f"the status index {issuer.status_base}: {exc}") from None
        uris.extend(uri for uri in index.lists if issuer.owns_status_uri(uri))
    return uris


def _download_lists(
    uris: list[str], known: Mapping[str, str | None]
) -> tuple[list[str], dict[str, str]]:
    """The lists that changed since their known ETag, and the ETags to remember."""
    tokens: list[str] = []
    etags: dict[str, str] = {}
    for uri in uris:
        fetched = _get(uri, etag=known.get(uri))
        if fetched.etag:
            etags[uri] = fetched.etag
        if fetched.body is not None:
            tokens.append(fetched.body.decode("ascii").strip())
    return tokens, etags


@bundle_app.command("pull")
def bundle_pull(
    url: Annotated[str, typer.Argument(help="URL of the bundle (e.g. .../v1/trust-bundle).")],
    root: Annotated[
        list[Path], typer.Option("--root", help="Pinned root public key (repeatable).")
    ],
    directory: Annotated[Path, typer.Option("--dir", help="Local bundle directory.")],
) -> None:
    """Download the bundle and the changed status lists, verify them, install them."""
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
        state = store.state()
        held = store.current(roots=roots)
        fetched = _get(url, BUNDLE_LIMITS.max_token, state.bundle_etag if held else None)
        if fetched.body is None and held is not None:
            bundle = held
        else:
            # Verified once here; install takes the parsed bundle and does not check it again.
            bundle = parse_bundle(fetched.body or b"", roots=roots)
            store.check(bundle, roots=roots, now=now)  # a rollback is refused before downloads
        known = {uri: entry.etag for uri, entry in state.lists.items()}
        tokens, etags = _download_lists(_list_uris(bundle), known)
        installed = store.install(
            bundle, tokens, roots=roots, now=now, etags=etags, bundle_etag=fetched.etag
        )
    except VerificationError as exc:
        raise _fail(exc) from None
    except (OSError, ValueError, urllib.error.URLError) as exc:
        err_console.print(f"[red]Sync failed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from None
    age = timedelta(seconds=int(utc_now().timestamp()) - installed.issued_at)
    console.print(
        f"Installed bundle version {installed.version} and {len(tokens)} changed status "
        f"list(s) of {len(etags)} (issued {age} ago) in {directory}"
    )


@bundle_app.command("publish")
def bundle_publish(
    bundle_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Root-signed bundle file.")
    ],
    url: Annotated[str, typer.Option("--url", help="Base URL of the service.")],
) -> None:
    """Upload a root-signed bundle to the service (national administrator's access token)."""
    token = os.environ.get(ACCESS_TOKEN_ENV, "").strip()
    if not url.startswith(("https://", "http://")):
        err_console.print(f"[red]Not an http(s) URL: {escape(url[:100])}[/]", highlight=False)
        raise typer.Exit(code=2)
    if not token:
        err_console.print(f"[red]Set {ACCESS_TOKEN_ENV} to an administrator's access token.[/]")
        raise typer.Exit(code=2)
    try:
        body = bundle_file.read_bytes().strip()
    except OSError as exc:
        err_console.print(f"[red]Cannot read {escape(str(bundle_file))}: {exc.strerror}[/]")
        raise typer.Exit(code=2) from None
    request = urllib.request.Request(  # noqa: S310 - checked http(s) above
        url.rstrip("/") + "/v1/admin/trust-bundle",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/jwt",
            "User-Agent": "asxh-card",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read(65_536))
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace")
        err_console.print(f"[red]Refused ({exc.code}):[/] {escape(detail)}", highlight=False)
        raise typer.Exit(code=1) from None
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]Upload failed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(f"Published bundle version {answer.get('version')} to {escape(url)}")
