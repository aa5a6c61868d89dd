"""The README's "Operations" commands run as written on a fresh, production-shaped install."""

from __future__ import annotations

import base64
import json
import re
import secrets
import shlex
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from asxh_card._core.keys import PrivateKey
from asxh_card.cli import app as cli
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.models import CardRow, IssuerKeyRow
from asxh_card.service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _operations_commands() -> list[str]:
    """The lines of the sh block under "## Operations"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Operations\n") : text.index("## Development\n")]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_operations_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command exits as its comment says (0, or 3 where it "exits 3"), from an empty
    database to an import, statistics, a print file, a scheduled rotation and a compromise."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "people.csv", tmp_path / "examples" / "people.csv")
    (tmp_path / "chief.pw").write_text("a long chief passphrase\n", encoding="utf-8")
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(PrivateKey.generate().public_key.to_jwk()))
    env = {
        "ASXH_VAR_DIR": str(tmp_path / "var"),
        "ASXH_DATABASE_URL": f"sqlite:///{tmp_path / 'asxh.db'}",
        "ASXH_SECRET_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ASXH_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ASXH_KEY_PASSPHRASE": "the service key passphrase",
        "ASXH_PUBLIC_URL": "https://asxh.example",
        "ASXH_ROOT_PUBLIC_KEY_FILE": str(root),
        "ASXH_ROOT_KEY_FILE": "",
    }
    commands = _operations_commands()
    assert [c.split()[1] for c in commands][:5] == ["db", "admin", "admin", "keys", "import"]
    runner = CliRunner()
    for line in commands:
        words = shlex.split(line, comments=True)
        assert words[0] == "asxh", line
        if "KID" in words:
            words[words.index("KID")] = _first_kid(env)
        result = runner.invoke(cli, words[1:], env=env)
        expected = 3 if "exits 3" in line else 0
        assert result.exit_code == expected, f"{line}\n{result.output}"
    registry = json.loads((tmp_path / "issuers.json").read_text(encoding="utf-8"))
    assert [i["id"] for i in registry["issuers"]] == ["vn-79"]
    assert (tmp_path / "job-1.pdf").read_bytes().startswith(b"%PDF")
    assert "month" in (tmp_path / "stats.csv").read_text(encoding="utf-8").splitlines()[0]
    with session_scope(_context(env).sessions) as session:
        assert len(session.scalars(select(CardRow)).all()) == 3
        states = sorted(k.state for k in session.scalars(select(IssuerKeyRow)))
    # The compromised key is removed; its replacement signs now (the scheduled key gave way).
    assert states == ["active", "retired", "retired"]


def _context(env: dict[str, str]) -> ServiceContext:
    return ServiceContext.build(Settings.from_env({k: v for k, v in env.items() if v}))


def _first_kid(env: dict[str, str]) -> str:
    with session_scope(_context(env).sessions) as session:
        row = session.scalars(select(IssuerKeyRow).order_by(IssuerKeyRow.id)).first()
        assert row is not None
        return row.kid
