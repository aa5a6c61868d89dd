"""The README's and docs/verifier.md's verifier snippets, followed literally (issue 14: "docs
are followed literally by a test"): only the directory /var/lib/asxh is swapped for a temporary
one, and ``qr_text`` is a card of the test world."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from vworld import URI_01, URI_79, World

from asxh_card.verifier import BundleStore

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "verifier.md"]


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python offline\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_verifier_snippet_runs_as_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: Path
) -> None:
    """The snippet runs with a str directory and a str root path (it crashed on the str root
    path). The world's bundle dates from 2026-03-01, so at today's clock the snippet takes the
    cannot-check branch and says to update the data (never THẺ KHÔNG HỢP LỆ)."""
    (block,) = _blocks(doc)
    assert '"/var/lib/asxh"' in block
    store = tmp_path / "asxh"
    tokens = {uri: world.status_token(uri) for uri in (URI_79, URI_01)}
    roots = [world.root.public_key]
    BundleStore(store).install(world.bundle(), tokens, roots=roots, now=0)
    (tmp_path / "root.jwk").write_text(json.dumps(world.root.public_key.to_jwk()))
    monkeypatch.chdir(tmp_path)
    code = block.replace('"/var/lib/asxh"', repr(str(store)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(doc), "exec"), {"qr_text": world.card()})  # noqa: S102
    printed = out.getvalue()
    assert "HÃY CẬP NHẬT DỮ LIỆU" in printed
    assert "bundle_stale" in printed
    assert "KHÔNG HỢP LỆ" not in printed
