"""``pip install asxh-card`` without extras verifies a card from text (issue §4)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
from vworld import World

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    from datetime import datetime
    from asxh_card import Verifier, load_public_key

    data = json.load(open(sys.argv[1]))
    # As the README says: str paths, the top-level Verifier.
    verifier = Verifier.from_directory(data["dir"], roots=[load_public_key(data["root"])])
    result = verifier.verify(data["card"], at=datetime.fromisoformat(data["at"]))
    for extra in ("PIL", "zxingcpp", "typer", "rich", "click", "fastapi", "sqlalchemy"):
        assert importlib.util.find_spec(extra) is None, f"{extra} must not be installed"
        assert extra not in sys.modules
    print(json.dumps(result.to_json(), ensure_ascii=False))
    """
)


@pytest.mark.slow
def test_wheel_without_extras_verifies_from_text(world: World, tmp_path: Path) -> None:
    """A built wheel installed without extras verifies as the README says (str paths, the
    top-level Verifier) and pulls no CLI, image, web or database stack."""
    from vworld import AT, URI_01, URI_79

    from asxh_card.verifier import BundleStore

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=120,
    )
    (wheel,) = dist.glob("asxh_card-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=180,
    )
    store = tmp_path / "store"
    tokens = {uri: world.status_token(uri) for uri in (URI_79, URI_01)}
    BundleStore(store).install(
        world.bundle(), tokens, roots=[world.root.public_key], now=int(AT.timestamp())
    )
    root_file = tmp_path / "root.jwk"
    root_file.write_text(json.dumps(world.root.public_key.to_jwk()))
    data = tmp_path / "data.json"
    data.write_text(
        json.dumps(
            {
                "dir": str(store),
                "root": str(root_file),
                "card": world.card(),
                "at": AT.isoformat(),
            }
        )
    )
    script = tmp_path / "check.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [str(python), str(script), str(data)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(out.stdout)
    assert result["valid"] is True
    assert result["holder"]["asxh_number"] == world.holder
    # Issue 14 item 8: the base install has no CLI stack; `asxh` says which extra to install.
    cli = subprocess.run(
        [str(env_dir / "bin" / "asxh"), "verify", "-"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2
    assert "pip install 'asxh-card[cli]'" in cli.stderr
    assert "Traceback" not in cli.stderr
