"""Issue 9 §3-§4: what a clerk sees (three outcomes, Vietnam dates) and the CLI's size caps."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vworld import AT, T0, World

from asxh_card.cli import app
from asxh_card.errors import Outcome, PayloadTooLargeError, VerificationError
from asxh_card.verifier import BundleStore

VN = timezone(timedelta(hours=7))
runner = CliRunner()


@pytest.fixture
def files(world: World, tmp_path: Path) -> tuple[Path, Path]:
    """The pinned root and a directory synced as ``asxh bundle pull`` leaves it (bundle and the
    issuers' status lists: every card has one)."""
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(world.root.public_key.to_jwk()))
    bundle = tmp_path / "sync"
    BundleStore(bundle).install(
        world.bundle(), world.status_tokens(), roots=[world.root.public_key], now=T0
    )
    return root, bundle


def _verify(files: tuple[Path, Path], *args: str) -> object:
    root, bundle = files
    return runner.invoke(app, ["verify", "--bundle", str(bundle), "--root", str(root), *args])


@pytest.mark.parametrize(
    ("at", "reason"),
    [(AT + timedelta(days=30), "bundle_stale"), (AT - timedelta(days=3), "clock_before_bundle")],
)
def test_cannot_check_says_update_the_data_never_invalid(
    world: World, files: tuple[Path, Path], at: datetime, reason: str
) -> None:
    """A stale bundle or a clock before it is "cannot check": the CLI says to update the data
    (Vietnamese first), exits 3 and never prints THẺ KHÔNG HỢP LỆ; the JSON and the Python
    error carry outcome cannot_check."""
    card = world.card(not_before=int((AT - timedelta(days=5)).timestamp()))
    human = _verify(files, "--at", at.isoformat(), card)
    assert human.exit_code == 3, human.output  # type: ignore[attr-defined]
    output = human.output  # type: ignore[attr-defined]
    assert "HÃY CẬP NHẬT DỮ LIỆU" in output
    assert "KHÔNG HỢP LỆ" not in output
    english = _verify(files, "--lang", "en", "--at", at.isoformat(), card)
    assert "UPDATE THE DATA" in english.output  # type: ignore[attr-defined]
    machine = _verify(files, "--json", "--at", at.isoformat(), card)
    data = json.loads(machine.stdout)  # type: ignore[attr-defined]
    assert (data["valid"], data["outcome"], data["reason"]) == (False, "cannot_check", reason)
    with pytest.raises(VerificationError) as caught:
        world.verifier().verify(card, at=at)
    assert caught.value.outcome is Outcome.CANNOT_CHECK
    assert caught.value.cannot_check


def test_valid_and_invalid_outcomes(world: World, files: tuple[Path, Path]) -> None:
    """The other two outcomes: valid (exit 0, "outcome": "valid" in JSON and on the result)
    and invalid (exit 1, THẺ KHÔNG HỢP LỆ)."""
    result = world.verifier().verify(world.card(), at=AT)
    assert result.outcome is Outcome.VALID
    assert result.to_json()["outcome"] == "valid"
    machine = _verify(files, "--json", "--at", AT.isoformat(), world.card())
    assert json.loads(machine.stdout)["outcome"] == "valid"  # type: ignore[attr-defined]
    invalid = _verify(files, "--at", AT.isoformat(), world.card(province="01"))
    assert invalid.exit_code == 1  # type: ignore[attr-defined]
    assert "THẺ KHÔNG HỢP LỆ" in invalid.output  # type: ignore[attr-defined]


def test_dates_are_shown_in_vietnam_time(world: World, files: tuple[Path, Path]) -> None:
    """A card valid from 01/01/2026 00:00 in Vietnam (31/12/2025 17:00 UTC) shows 01/01/2026,
    not 31/12/2025; its end, 31/12/2026 00:00 Vietnam time, shows 31/12/2026."""
    start = int(datetime(2026, 1, 1, tzinfo=VN).timestamp())
    end = int(datetime(2026, 12, 31, tzinfo=VN).timestamp())
    card = world.card(issued_at=start, not_before=start, expires_at=end)
    result = _verify(files, "--at", AT.isoformat(), card)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    lines = result.output.splitlines()  # type: ignore[attr-defined]
    assert "Hiệu lực thẻ: 01/01/2026 đến 31/12/2026" in lines


def _asxh(files: tuple[Path, Path], card: str, **kwargs: object) -> subprocess.CompletedProcess:
    root, bundle = files
    command = [sys.executable, "-m", "asxh_card", "verify", "--bundle", str(bundle)]
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [*command, "--root", str(root), card],
        check=False,
        capture_output=True,
        timeout=120,
        **kwargs,
    )


def test_dev_zero_stops_at_the_size_cap(files: tuple[Path, Path]) -> None:
    """`asxh verify /dev/zero` (a device of size 0 that never ends) stops at the cap, exit 2;
    it read without end before (stat said 0 bytes)."""
    done = _asxh(files, "/dev/zero")
    assert done.returncode == 2, done.stderr
    assert b"larger than" in done.stderr


def test_endless_stdin_stops_at_the_size_cap(files: tuple[Path, Path]) -> None:
    """`asxh verify -` with an endless stdin stops at 64 KiB, exit 2."""
    with Path("/dev/zero").open("rb") as endless:
        done = _asxh(files, "-", stdin=endless)
    assert done.returncode == 2, done.stderr
    assert b"larger than" in done.stderr


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [8_000, 100_000])
def test_png_with_huge_declared_dimensions_is_payload_too_large(world: World, side: int) -> None:
    """A 100 kB-free PNG declaring 100,000 x 100,000 pixels is payload_too_large, refused from
    the header before any pixel is decoded (it was reported as malformed)."""
    pytest.importorskip("PIL")
    with pytest.raises(PayloadTooLargeError) as caught:
        world.verifier().verify_image(_png_header(side, side), at=AT)
    assert caught.value.reason == "payload_too_large"
