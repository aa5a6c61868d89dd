"""docs/trust-bundle.md "Commands", followed literally: every command of the block is run in order.

The documented ``https://asxh.gov.vn`` becomes a local static server holding what the service
would serve (the bundle, each issuer's status index, the signed list), ``/var/lib/asxh`` a
temporary directory. ``asxh bundle publish`` needs a live service with the root pinned: it runs
in tests/service/test_trust_world.py, and here it is the one line not run.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from docblocks import block_under, shell_commands
from typer.testing import CliRunner

from asxh_card import card as _card
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.cli import app
from asxh_card.ids import damm_check_digit
from asxh_card.keystore import load_private_key
from asxh_card.programmes import Entitlement

DOC = Path(__file__).resolve().parents[2] / "docs" / "trust-bundle.md"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSPHRASE = "correct horse battery staple"


def documented_commands() -> list[str]:
    """The commands of the ``sh`` block under "## Commands", continuation lines joined."""
    return shell_commands(block_under(DOC, "Commands", "sh").body)


def _card_text(key: PrivateKey, uri: str) -> str:
    holder = "7900000001"
    now = int(datetime.now(UTC).timestamp())
    claims = _card.CardClaims(
        issuer="vn-79",
        province="79",
        serial="DOC0001",
        issued_at=now - 60,
        not_before=now - 60,
        expires_at=now + 365 * 86_400,
        holder=_card.Holder(
            holder + str(damm_check_digit(holder)), "Nguyễn Thị Hoa", date(1960, 1, 2), "F"
        ),
        entitlements=(Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}),),
        status=StatusRef(4711, uri),
    )
    return _card.qr_text(_card.sign_card(claims, key))


def test_trust_bundle_commands_run_as_documented(
    served: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root, issuer key, ceremony, status list new/set/sign, pull, verify: each exits as said."""
    www, base = served
    work = tmp_path / "work"
    (work / "keys").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("ASXH_ROOT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ASXH_KEY_PASSPHRASE", PASSPHRASE)
    sync = tmp_path / "var-lib-asxh"
    runner = CliRunner()
    commands = documented_commands()
    assert [c.split()[1:3] for c in commands if c.startswith("asxh")] == [
        ["root", "init"],
        ["keys", "generate"],
        ["bundle", "build"],
        ["status", "new"],
        ["status", "set"],
        ["status", "sign"],
        ["bundle", "pull"],
        ["verify", "--bundle"],
    ]
    ran = []
    for command in commands:
        if command.startswith("ASXH_ACCESS_TOKEN="):
            assert "asxh bundle publish bundle.jwt --url https://asxh.gov.vn" in command
            continue
        args = shlex.split(command.replace("https://asxh.gov.vn", base))
        args = [str(sync) if a == "/var/lib/asxh" else a for a in args]
        assert args[0] == "asxh"
        verb = args[1:3]
        if verb == ["bundle", "build"]:
            # The registry: examples/issuers.json with this server's bases and the other keys'
            # public JWKs (the issuers hand them to the root).
            registry = (EXAMPLES / "issuers.json").read_text(encoding="utf-8")
            (work / "issuers.json").write_text(
                registry.replace("https://asxh.gov.vn", base), encoding="utf-8"
            )
            for name in ("vn-79-2028", "vn-01-2026"):
                jwk = PrivateKey.generate().public_key.to_jwk()
                (work / "keys" / f"{name}.jwk").write_text(json.dumps(jwk))
        if verb == ["bundle", "pull"]:
            # What the service would serve: the bundle, each issuer's index, the signed list.
            (www / "v1" / "status-lists" / "vn-79").mkdir(parents=True)
            (www / "v1" / "status-lists" / "vn-01").mkdir(parents=True)
            (www / "v1" / "trust-bundle").write_text((work / "bundle.jwt").read_text())
            uri = f"{base}/v1/status-lists/vn-79/1"
            (www / "v1" / "status-lists" / "vn-79" / "1").write_text(
                (work / "79-1.jwt").read_text()
            )
            (www / "v1" / "status-lists" / "vn-79" / "index.json").write_text(
                json.dumps({"lists": [uri]})
            )
            (www / "v1" / "status-lists" / "vn-01" / "index.json").write_text('{"lists": []}')
        if verb[0] == "verify":
            key = load_private_key(work / "keys" / "vn-79-2026.pem", PASSPHRASE.encode())
            (work / "card.txt").write_text(_card_text(key, f"{base}/v1/status-lists/vn-79/1"))
        result = runner.invoke(app, args[1:])
        ran.append(verb)
        if verb[0] == "verify":
            # The card's entries 4711..4713 were revoked with asxh status set: refused offline.
            assert result.exit_code == 1, result.output
            assert re.search(r"thu hồi|revoked", result.output), result.output
        else:
            assert result.exit_code == 0, (command, result.output)
    assert len(ran) == 8
    assert (sync / "state.json").is_file()
