"""Issuer keys: ``asxh keys generate/show``, passphrase handling, rotation with a key set."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card.card import verify_card
from asxh_card.cli import app
from asxh_card.errors import KeyStoreError, UnknownKeyError
from asxh_card.issuing import Issuer
from asxh_card.issuing.keyset import KeySet
from asxh_card.keystore import load_private_key

PASS = "correct horse battery staple"
runner = CliRunner()


def test_keys_generate_with_env_passphrase(tmp_path: Path):
    """generate writes encrypted PKCS#8 (0600) and the JWK, and prints the public JWK and kid."""
    out = tmp_path / "k" / "issuer.pem"
    result = runner.invoke(
        app,
        ["keys", "generate", "--out", str(out), "--issuer", "vn-79"],
        env={"ASXH_KEY_PASSPHRASE": PASS},
    )
    assert result.exit_code == 0, result.output
    pem = out.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = load_private_key(out, PASS.encode())
    printed = json.loads(result.stdout)
    assert printed["kid"] == key.kid
    assert printed["issuer"] == "vn-79"
    assert PublicKey.from_jwk(printed["jwk"]) == key.public_key
    assert PASS not in result.output
    assert "PRIVATE" not in result.stdout
    assert json.loads(out.with_suffix(".jwk").read_text())["kid"] == key.kid


def test_keys_generate_eddsa(tmp_path: Path):
    """--alg EdDSA creates an Ed25519 key."""
    out = tmp_path / "ed.pem"
    result = runner.invoke(
        app,
        ["keys", "generate", "--alg", "EdDSA", "--out", str(out)],
        env={"ASXH_KEY_PASSPHRASE": PASS},
    )
    assert result.exit_code == 0, result.output
    assert load_private_key(out, PASS.encode()).alg == "EdDSA"


def test_keys_generate_refuses_without_passphrase(tmp_path: Path):
    """No variable and no terminal: exit 2 and no file; a passphrase is never an argument."""
    out = tmp_path / "issuer.pem"
    result = runner.invoke(
        app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": ""}
    )
    assert result.exit_code == 2
    assert not out.exists()
    help_text = runner.invoke(app, ["keys", "generate", "--help"]).output
    assert "--passphrase" not in help_text


def test_keys_generate_refuses_short_passphrase_bad_alg_and_overwrite(tmp_path: Path):
    """Short passphrases, unknown algorithms and existing files are refused."""
    out = tmp_path / "issuer.pem"
    short = runner.invoke(
        app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": "short"}
    )
    assert short.exit_code == 2
    assert not out.exists()
    bad = runner.invoke(
        app,
        ["keys", "generate", "--alg", "HS256", "--out", str(out)],
        env={"ASXH_KEY_PASSPHRASE": PASS},
    )
    assert bad.exit_code == 2
    out.write_bytes(b"existing")
    again = runner.invoke(
        app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": PASS}
    )
    assert again.exit_code == 1
    assert out.read_bytes() == b"existing"
    leftover = tmp_path / "other.jwk"
    leftover.write_text("{}")
    beside = runner.invoke(
        app,
        ["keys", "generate", "--out", str(tmp_path / "other.pem")],
        env={"ASXH_KEY_PASSPHRASE": PASS},
    )
    assert beside.exit_code == 1
    assert not (tmp_path / "other.pem").exists()


@pytest.mark.parametrize("name", ["issuer.jwk", "issuer.json"])
def test_keys_generate_refuses_a_public_key_name(tmp_path: Path, name: str):
    """--out naming a public JWK is refused (exit 2) before anything is written."""
    out = tmp_path / name
    result = runner.invoke(
        app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": PASS}
    )
    assert result.exit_code == 2
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_keys_generate_refuses_a_bad_issuer_id(tmp_path: Path):
    """--issuer must be an id a card can carry (card.ISSUER_ID_PATTERN): exit 2, no file."""
    for issuer in ("VN 79", "-vn", "vn/79", "a" * 41):
        result = runner.invoke(
            app,
            ["keys", "generate", "--out", str(tmp_path / "k.pem"), "--issuer", issuer],
            env={"ASXH_KEY_PASSPHRASE": PASS},
        )
        assert result.exit_code == 2, (issuer, result.output)
        assert "--issuer must be" in result.output
    assert not list(tmp_path.iterdir())


def test_keys_generate_into_an_unwritable_place_is_reported(tmp_path: Path):
    """--out below an existing file: a message naming the path (exit 1), no traceback."""
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "k.pem"
    result = runner.invoke(
        app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": PASS}
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "cannot write key file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_keys_messages_print_paths_verbatim(tmp_path: Path):
    """A "[/]" in a path is printed, not read as console markup (which crashed the command)."""
    missing = tmp_path / "a[/]b.pem"
    result = runner.invoke(app, ["keys", "show", str(missing)], env={"ASXH_KEY_PASSPHRASE": PASS})
    assert result.exit_code == 2, result.output
    # Rich wraps at the terminal width, at a space or inside the path: compare without blanks.
    assert "a[/]b.pemdoesnotexist" in "".join(result.output.split())


def test_keys_show_from_jwk_and_by_decrypting(tmp_path: Path):
    """show prints the public JWK from the .jwk beside the key, or by decrypting the key."""
    out = tmp_path / "issuer.pem"
    runner.invoke(app, ["keys", "generate", "--out", str(out)], env={"ASXH_KEY_PASSPHRASE": PASS})
    kid = load_private_key(out, PASS.encode()).kid
    shown = runner.invoke(app, ["keys", "show", str(out)], env={"ASXH_KEY_PASSPHRASE": ""})
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["kid"] == kid
    out.with_suffix(".jwk").unlink()
    decrypted = runner.invoke(app, ["keys", "show", str(out)], env={"ASXH_KEY_PASSPHRASE": PASS})
    assert decrypted.exit_code == 0
    assert json.loads(decrypted.stdout)["kid"] == kid
    wrong = runner.invoke(
        app, ["keys", "show", str(out)], env={"ASXH_KEY_PASSPHRASE": "wrong passphrase!"}
    )
    assert wrong.exit_code == 1


def test_rotation_new_kid_and_old_cards_still_verify(holder, bhyt_entitlement, statuses):
    """A new key has a new kid; a JWKS of old + new keys verifies cards signed by either."""
    t0 = datetime(2026, 1, 10, tzinfo=UTC)
    t1 = datetime(2026, 6, 1, tzinfo=UTC)
    old, new = PrivateKey.generate("ES256"), PrivateKey.generate("ES256")
    assert old.kid != new.kid
    keyset = KeySet("vn-79")
    keyset.add(old.public_key, not_before=int(t0.timestamp()))
    old_card = Issuer(issuer_id="vn-79", province="79", signer=old, clock=lambda: t0).issue(
        holder, [bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref()
    )
    keyset.rotate(new.public_key, at=int(t1.timestamp()))
    new_card = Issuer(issuer_id="vn-79", province="79", signer=new, clock=lambda: t1).issue(
        holder, [bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref()
    )
    published = KeySet.from_jwks("vn-79", json.loads(json.dumps(keyset.to_jwks())))
    now = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
    for card, key in ((old_card, old), (new_card, new)):
        verified = verify_card(card.qr_text, keys=published.lookup, now=now)
        assert verified.serial == card.serial
        assert published.signed_in_window(key.kid, verified.issued_at)
    # The old key may no longer sign: a card it signs after rotation falls outside its window.
    assert not published.signed_in_window(old.kid, int(t1.timestamp()) + 1)
    assert [w.not_after for w in published.windows] == [int(t1.timestamp()), None]
    # Every JWKS entry is a plain public JWK.
    assert all("d" not in k for k in keyset.to_jwks()["keys"])


def test_keyset_refuses_duplicates_and_unknown_keys(holder, bhyt_entitlement, statuses):
    """A kid is published once; lookups of another issuer or kid find nothing."""
    key = PrivateKey.generate("ES256")
    keyset = KeySet("vn-79")
    keyset.add(key.public_key, not_before=0)
    with pytest.raises(KeyStoreError):
        keyset.add(key.public_key, not_before=0)
    with pytest.raises(KeyStoreError):
        keyset.retire("nope", at=1)
    assert keyset.lookup("vn-01", key.kid) is None
    t0 = datetime(2026, 1, 10, tzinfo=UTC)
    other = Issuer(issuer_id="vn-79", province="79", signer=PrivateKey.generate(), clock=lambda: t0)
    card = other.issue(holder, [bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref())
    with pytest.raises(UnknownKeyError):
        verify_card(card.qr_text, keys=keyset.lookup, now=int(t0.timestamp()))
    keyset.retire(key.kid, at=100)
    assert keyset.drop_expired(now=10_000, max_card_validity=1_000) == [key.kid]
