"""Encrypted key files: never in clear, never overwritten, never half-written."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from asxh_card._core.keys import PrivateKey
from asxh_card.errors import KeyStoreError
from asxh_card.keystore import (
    generate_key_file,
    load_private_key,
    load_public_key,
    passphrase_from_env,
    write_private_key,
)

PASSPHRASE = b"correct horse battery staple"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_generated_key_round_trips_encrypted(tmp_path: Path, alg: str) -> None:
    """A generated key is stored as encrypted PKCS#8 (0600) and loads back with the same kid."""
    path = tmp_path / "issuer.pem"
    key = generate_key_file(path, PASSPHRASE, alg)  # type: ignore[arg-type]
    data = path.read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path, PASSPHRASE).kid == key.kid
    public = load_public_key(path.with_suffix(".jwk"))
    assert public.kid == key.kid
    assert "d" not in json.loads(path.with_suffix(".jwk").read_text())


def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    """Loading with the wrong passphrase raises KeyStoreError, not a cryptography error."""
    path = tmp_path / "k.pem"
    generate_key_file(path, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        load_private_key(path, b"not the passphrase at all")


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    """Generating onto an existing path refuses and leaves the old key intact."""
    path = tmp_path / "k.pem"
    generate_key_file(path, PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(KeyStoreError, match="already exists"):
        generate_key_file(path, PASSPHRASE)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jwk", "k.pem"]


def test_short_passphrase_is_refused_and_nothing_written(tmp_path: Path) -> None:
    """A passphrase under 12 characters is refused before any file is created."""
    with pytest.raises(KeyStoreError, match="at least 12"):
        write_private_key(tmp_path / "k.pem", PrivateKey.generate(), b"short")
    assert list(tmp_path.iterdir()) == []


def test_unencrypted_key_file_is_refused(tmp_path: Path) -> None:
    """A private key stored in clear (PKCS#8 without encryption) is refused on load."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    clear = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "clear.pem"
    path.write_bytes(clear)
    with pytest.raises(KeyStoreError, match="not encrypted"):
        load_private_key(path, PASSPHRASE)


def test_missing_and_corrupt_files_give_keystore_errors(tmp_path: Path) -> None:
    """Unreadable or corrupt key files raise KeyStoreError naming the file."""
    with pytest.raises(KeyStoreError, match="cannot read"):
        load_private_key(tmp_path / "absent.pem", PASSPHRASE)
    with pytest.raises(KeyStoreError, match="cannot read"):
        load_public_key(tmp_path / "absent.jwk")
    bad = tmp_path / "bad.jwk"
    bad.write_text('{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}')
    with pytest.raises(KeyStoreError, match=r"bad\.jwk"):
        load_public_key(bad)


def test_public_key_loads_from_pem(tmp_path: Path) -> None:
    """A SubjectPublicKeyInfo PEM loads as a public key with the same kid."""
    key = PrivateKey.generate("EdDSA")
    path = tmp_path / "pub.pem"
    path.write_bytes(key.public_key.to_pem())
    assert load_public_key(path).kid == key.kid


def test_passphrase_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """passphrase_from_env reads the variable and treats empty as unset."""
    monkeypatch.setenv("ASXH_TEST_PASS", "from the environment")
    assert passphrase_from_env("ASXH_TEST_PASS") == b"from the environment"
    monkeypatch.setenv("ASXH_TEST_PASS", "")
    assert passphrase_from_env("ASXH_TEST_PASS") is None
    monkeypatch.delenv("ASXH_TEST_PASS")
    assert passphrase_from_env("ASXH_TEST_PASS") is None


def test_leftover_public_key_file_is_never_paired_with_a_new_key(tmp_path: Path) -> None:
    """A stale .jwk beside the target path refuses generation and nothing is written."""
    stale = tmp_path / "k.jwk"
    stale.write_text('{"stale": true}')
    with pytest.raises(KeyStoreError, match=r"k\.jwk already exists"):
        generate_key_file(tmp_path / "k.pem", PASSPHRASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jwk"]
    assert stale.read_text() == '{"stale": true}'


def test_private_key_path_ending_in_jwk_is_refused_before_writing(tmp_path: Path) -> None:
    """`--out root.jwk` would put the encrypted private key where its public JWK belongs."""
    with pytest.raises(KeyStoreError, match=r"must not end in \.jwk"):
        generate_key_file(tmp_path / "root.jwk", PASSPHRASE)
    assert list(tmp_path.iterdir()) == []


def test_dangling_symlink_at_the_public_path_is_refused_before_writing(tmp_path: Path) -> None:
    """A dangling k.jwk symlink passes Path.exists() but would break the pair half-way.

    Before: the private key was written, then linking the public JWK failed on the symlink and
    the private key stayed behind without its public half.
    """
    (tmp_path / "k.jwk").symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyStoreError, match=r"k\.jwk already exists"):
        generate_key_file(tmp_path / "k.pem", PASSPHRASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jwk"]


def test_public_jwk_that_cannot_be_written_takes_the_private_key_back(tmp_path: Path) -> None:
    """The private key is written first; when its public JWK then fails, nothing stays.

    A 255-character private-key name is accepted by the filesystem, the same name with
    ``.jwk`` (257 characters) is not: the second write of the pair fails for real.
    """
    path = tmp_path / ("k" * 253 + ".p")
    with pytest.raises(KeyStoreError, match="cannot write key file"):
        generate_key_file(path, PASSPHRASE)
    assert list(tmp_path.iterdir()) == []


def test_leftover_temporary_file_of_a_killed_run_does_not_block(tmp_path: Path) -> None:
    """A run killed mid-write leaves its temporary file; the next run (same pid in a container)
    still writes the key instead of failing with a raw FileExistsError."""
    for name in ("k.pem", "k.jwk"):
        (tmp_path / f".{name}.{os.getpid()}.tmp").write_bytes(b"partial")
    key = generate_key_file(tmp_path / "k.pem", PASSPHRASE)
    assert load_private_key(tmp_path / "k.pem", PASSPHRASE).kid == key.kid
    assert load_public_key(tmp_path / "k.jwk").kid == key.kid


def test_unwritable_directory_gives_a_keystore_error(tmp_path: Path) -> None:
    """A directory that cannot be created is a KeyStoreError naming the file, not an OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(KeyStoreError, match=r"cannot write key file .*k\.pem"):
        write_private_key(blocker / "k.pem", PrivateKey.generate(), PASSPHRASE)
