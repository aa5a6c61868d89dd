"""Attack "unrevocable card" at issuance: ``Issuer`` and ``asxh issue`` refuse a card without a
status reference (issue 9 §2). Such a card could never be revoked; now nothing signs one."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asxh_card.cli import app
from asxh_card.errors import InvalidInputError
from asxh_card.issuing import CardRequest
from asxh_card.keystore import generate_key_file

PASS = "correct horse battery staple"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "card.json"


def test_issuer_refuses_card_without_status(issuer, holder, bhyt_entitlement):
    """Attack "unrevocable card": ``Issuer.issue(status=None)`` is refused before signing, with
    a Vietnamese and an English message saying why (it could never be revoked)."""
    with pytest.raises(InvalidInputError) as info:
        issuer.issue(holder, [bhyt_entitlement], status=None, expires=date(2030, 1, 1))  # type: ignore[arg-type]
    assert "status reference" in info.value.message("en")
    assert "thu hồi" in info.value.message("vi")


def test_issuer_issue_without_status_argument_is_refused(issuer, holder, bhyt_entitlement):
    """Leaving ``status`` out is not a default to an unrevocable card: it is a required
    keyword (a :class:`TypeError` before anything is signed)."""
    with pytest.raises(TypeError, match="status"):
        issuer.issue(holder, [bhyt_entitlement], expires=date(2030, 1, 1))  # type: ignore[call-arg]


def test_card_request_needs_a_status(holder, bhyt_entitlement):
    """``CardRequest`` (batches, ``asxh issue``) has no unrevocable default either."""
    with pytest.raises(TypeError, match="status"):
        CardRequest(holder=holder, entitlements=(bhyt_entitlement,), expires=date(2030, 1, 1))  # type: ignore[call-arg]


def test_asxh_issue_refuses_card_file_without_status(tmp_path: Path):
    """``asxh issue`` with a card file that has no ``status``: exit 2, the message names the
    field and tells how to get a list index (``asxh status new``); nothing is written."""
    key = tmp_path / "issuer.pem"
    generate_key_file(key, PASS.encode())
    card = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    del card["status"]
    src = tmp_path / "card.json"
    src.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["issue", str(src), "--key", str(key), "--out", str(out)],
        env={"ASXH_KEY_PASSPHRASE": PASS},
    )
    assert result.exit_code == 2, result.output
    assert "card.json: status" in result.output
    assert "asxh status new" in result.output
    assert not out.exists()
