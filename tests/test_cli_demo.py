"""``asxh demo``: signs a synthetic card with a throw-away key and verifies it."""

from __future__ import annotations

from typer.testing import CliRunner

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.cli import app


def test_demo_signs_and_verifies_a_current_card() -> None:
    """The demo prints an asxh:/ QR text, verifies it, and its BHYT covers the current year."""
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "asxh:/" in result.output
    assert "Verified" in result.output
    year = vn_date(utc_now()).year
    assert f'"{year}-01-01"' in result.output
    assert f'"{year}-12-31"' in result.output
