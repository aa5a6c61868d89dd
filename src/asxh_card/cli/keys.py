"""``asxh keys``: create and show issuer keys.

Private keys are only ever written as encrypted PKCS#8 (mode 0600, never overwritten); the
passphrase comes from ``ASXH_KEY_PASSPHRASE`` or an interactive prompt, never from a
command-line argument (which would show in ``ps`` and in shell history). Nothing here prints
or logs private key material.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from asxh_card._core.keys import PublicKey
from asxh_card._core.timeutil import utc_now
from asxh_card.card import ISSUER_ID_PATTERN
from asxh_card.cli._app import app, console, err_console
from asxh_card.errors import KeyStoreError
from asxh_card.keystore import (
    MIN_PASSPHRASE_LENGTH,
    generate_key_file,
    load_private_key,
    load_public_key,
    passphrase_from_env,
)

__all__ = ["PASSPHRASE_ENV", "keys_app", "read_passphrase"]

#: Environment variable holding the key passphrase (for scripts and CI).
PASSPHRASE_ENV = "ASXH_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret

#: Suffixes `keys show` reads as a public JWK.
_PUBLIC_SUFFIXES = (".jwk", ".json")

keys_app = typer.Typer(help="Create and show issuer signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def read_passphrase(
    *, confirm: bool, variable: str = PASSPHRASE_ENV, label: str = "Key passphrase"
) -> bytes:
    """The passphrase from environment ``variable``, else a hidden prompt on a terminal.

    Never a command-line argument (it would show in ``ps`` and shell history). Exits with code 2
    when neither is available (no terminal, variable unset).
    """
    from_env = passphrase_from_env(variable)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        err_console.print(
            f"[red]No passphrase:[/] set {variable} or run on a terminal to be prompted."
        )
        raise typer.Exit(code=2)
    value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return value.encode("utf-8")


def _print_public(key: PublicKey, *, issuer: str | None, path: Path | None) -> None:
    entry: dict[str, object] = {"kid": key.kid, "alg": key.alg, "jwk": key.to_jwk()}
    if issuer:
        entry["issuer"] = issuer
    if path is not None:
        entry["key_file"] = str(path)
    console.print_json(json.dumps(entry))


@keys_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Encrypted PKCS#8 key file to create.")],
    alg: Annotated[
        str, typer.Option("--alg", help="ES256 (P-256, default) or EdDSA (Ed25519).")
    ] = "ES256",
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Issuer id, shown with the public key.")
    ] = None,
) -> None:
    """Create an issuer key: encrypted PKCS#8 at OUT, public JWK beside it (OUT.jwk)."""
    if alg not in ("ES256", "EdDSA"):
        err_console.print("[red]--alg must be ES256 or EdDSA[/]")
        raise typer.Exit(code=2)
    if issuer is not None and not ISSUER_ID_PATTERN.fullmatch(issuer):
        # Printed into the entry the trust bundle is built from: an id no card could carry
        # would only fail later, when the bundle is loaded.
        err_console.print(
            "[red]--issuer must be 1-40 characters a-z, 0-9, '.', '-' starting with a letter "
            "or digit[/]"
        )
        raise typer.Exit(code=2)
    if out.suffix in _PUBLIC_SUFFIXES:
        # The public JWK goes to OUT.jwk: with such a name the private key would take its place
        # and `keys show` would read it as the public key.
        err_console.print(
            f"[red]--out must not end in {escape(out.suffix)}[/]: that names the public JWK."
        )
        raise typer.Exit(code=2)
    for existing in (out, out.with_suffix(".jwk")):
        if existing.exists():
            err_console.print(
                f"[red]{escape(str(existing))} already exists[/]; refusing to overwrite a key."
            )
            raise typer.Exit(code=1)
    passphrase = read_passphrase(confirm=True)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        err_console.print(
            f"[red]The passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters.[/]"
        )
        raise typer.Exit(code=2)
    algorithm: Literal["ES256", "EdDSA"] = "ES256" if alg == "ES256" else "EdDSA"
    try:
        key = generate_key_file(out, passphrase, algorithm)
    except KeyStoreError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None
    err_console.print(
        f"Created {algorithm} key [bold]{key.kid}[/] at {escape(str(out))} (encrypted); public "
        f"JWK at {escape(str(out.with_suffix('.jwk')))}. Publish it in the trust bundle"
        f"{' for ' + issuer if issuer else ''} with its signing window."
    )
    _print_public(key.public_key, issuer=issuer, path=out)
    generated_at = utc_now().isoformat(timespec="seconds")
    err_console.print(f"Signing window starts at {generated_at} (or when the bundle says).")


@keys_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="Key file (.pem) or its public JWK (.jwk).")],
) -> None:
    """Print the public JWK and kid of a key file (from the .jwk beside it, or by decrypting)."""
    try:
        jwk_path = path if path.suffix in _PUBLIC_SUFFIXES else path.with_suffix(".jwk")
        if jwk_path.exists():
            public = load_public_key(jwk_path)
        elif path.exists():
            public = load_private_key(path, read_passphrase(confirm=False)).public_key
        else:
            err_console.print(f"[red]{escape(str(path))} does not exist[/]")
            raise typer.Exit(code=2)
    except KeyStoreError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(code=1) from None
    _print_public(public, issuer=None, path=None)
