"""Key files: private keys only ever as encrypted PKCS#8, public keys as JWK.

DESIGN.md §5: issuer private keys never sit in settings in clear. A key file is written
atomically (temporary file, fsync, hard link) with mode 0600 and never overwrites an existing
file, and a private key whose public JWK cannot be written is removed again, so a failed
``keys generate`` leaves either nothing or a complete key pair. Passphrases come
from an environment variable or a prompt, never from a command-line argument (which would show
in ``ps`` and shell history).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asxh_card._core.fileio import write_atomic
from asxh_card._core.keys import Algorithm, JWKError, PrivateKey, PublicKey
from asxh_card.errors import InputTypeError, KeyStoreError

__all__ = [
    "MIN_PASSPHRASE_LENGTH",
    "generate_key_file",
    "load_private_key",
    "load_public_key",
    "passphrase_from_env",
    "write_private_key",
]

MIN_PASSPHRASE_LENGTH = 12


def _taken(path: Path) -> bool:
    # lexists, not Path.exists: a dangling symlink "does not exist" but still makes the final
    # os.link fail, after the private key of a pair has been written.
    return os.path.lexists(path)


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    if _taken(path):
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError too: a file where the directory should be
        raise KeyStoreError(f"cannot write key file {path}: {exc.strerror}") from None
    try:
        # exclusive: a hard link fails if the target appeared meanwhile, so no race can
        # overwrite a key.
        write_atomic(path, data, mode=mode, exclusive=True)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyStoreError(f"cannot write key file {path}: {exc.strerror}") from None


PathLike = str | os.PathLike[str]
#: A passphrase as text (encoded as UTF-8) or bytes.
Passphrase = str | bytes


def _path(path: PathLike) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise InputTypeError(f"a key file path must be a str or a path, not {type(path).__name__}")
    return Path(path)


def _passphrase(passphrase: Passphrase) -> bytes:
    if isinstance(passphrase, str):
        return passphrase.encode("utf-8")
    if isinstance(passphrase, bytes | bytearray):
        return bytes(passphrase)
    raise InputTypeError(f"a passphrase must be str or bytes, not {type(passphrase).__name__}")


def passphrase_from_env(variable: str) -> bytes | None:
    """The passphrase in environment variable ``variable``, or None when unset."""
    value = os.environ.get(variable)
    return value.encode("utf-8") if value else None


def write_private_key(path: PathLike, key: PrivateKey, passphrase: Passphrase) -> None:
    """Write ``key`` as encrypted PKCS#8 to a new file ``path`` (mode 0600).

    ``passphrase`` is text (encoded as UTF-8) or bytes, at least 12 bytes long.
    """
    path = _path(path)
    passphrase = _passphrase(passphrase)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise KeyStoreError(f"the passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters")
    try:
        pem = key.to_encrypted_pem(passphrase)
    except JWKError as exc:
        raise KeyStoreError(str(exc)) from None
    _write_new_file(path, pem, 0o600)


def generate_key_file(
    path: PathLike, passphrase: Passphrase, alg: Algorithm = "ES256"
) -> PrivateKey:
    """Generate a key, write it encrypted to ``path`` and its public JWK beside it (``.jwk``)."""
    path = _path(path)
    public_path = path.with_suffix(".jwk")
    if public_path == path:
        raise KeyStoreError(
            f"{path}: a private key file must not end in .jwk (its public JWK is written there)"
        )
    # Both paths are checked before anything is written: a leftover .jwk of another key beside a
    # new private key would publish the wrong public key.
    for existing in (path, public_path):
        if _taken(existing):
            raise KeyStoreError(f"{existing} already exists; refusing to overwrite a key")
    key = PrivateKey.generate(alg)
    write_private_key(path, key, passphrase)
    try:
        _write_new_file(public_path, json.dumps(key.public_key.to_jwk(), indent=2).encode(), 0o644)
    except KeyStoreError:
        # A private key without its public JWK is half a key pair: take it back.
        path.unlink()
        raise
    return key


def load_private_key(path: PathLike, passphrase: Passphrase) -> PrivateKey:
    """Load an encrypted PKCS#8 key file; unencrypted files are refused.

    ``path`` is a ``str`` or a path object; ``passphrase`` text (UTF-8) or bytes.
    """
    path = _path(path)
    passphrase = _passphrase(passphrase)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        return PrivateKey.from_encrypted_pem(data, passphrase)
    except JWKError as exc:
        raise KeyStoreError(f"{path}: {exc}") from None


def load_public_key(path: PathLike) -> PublicKey:
    """Load a public key from a JWK (``.jwk``/``.json``) or SubjectPublicKeyInfo PEM file.

    ``path`` is a ``str`` or a path object.
    """
    path = _path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        if data.lstrip().startswith(b"{"):
            return PublicKey.from_jwk(json.loads(data))
        return PublicKey.from_pem(data)
    except (JWKError, ValueError) as exc:
        raise KeyStoreError(f"{path}: {exc}") from None
