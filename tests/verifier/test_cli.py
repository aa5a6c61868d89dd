"""``asxh root init``, ``asxh bundle build|pull`` and ``asxh verify``: exit codes and output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner
from vworld import AT, BASE_79, URI_01, URI_79, World

from asxh_card.cli import app
from asxh_card.trust import sign_bundle_payload

runner = CliRunner()
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def setup(world: World, tmp_path: Path) -> tuple[World, Path, Path]:
    """The world's bundle and lists synced into a directory, as ``asxh bundle pull`` leaves it."""
    from asxh_card.verifier import BundleStore

    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(world.root.public_key.to_jwk()))
    bundle = tmp_path / "sync"
    BundleStore(bundle).install(
        world.bundle(),
        world.status_tokens(),
        roots=[world.root.public_key],
        now=int(AT.timestamp()),
    )
    return world, root, bundle


def run(*args: str, input: str | None = None):  # noqa: A002
    return runner.invoke(app, list(args), input=input)


def test_verify_valid_card_in_vietnamese(setup) -> None:
    world, root, bundle = setup
    result = run(
        "verify", "--bundle", str(bundle), "--root", str(root), "--at", AT.isoformat(), world.card()
    )
    assert result.exit_code == 0, result.output
    assert "THẺ HỢP LỆ" in result.output
    assert "đang hưởng" in result.output
    assert "chưa có hiệu lực" in result.output
    assert "hết hạn" in result.output


def test_verify_json_is_stable(setup) -> None:
    world, root, bundle = setup
    result = run(
        "verify",
        "--json",
        "--bundle",
        str(bundle),
        "--root",
        str(root),
        "--at",
        AT.isoformat(),
        world.card(),
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["reason"] is None
    assert data["holder"]["asxh_number"] == world.holder
    assert {e["programme"]: e["state"] for e in data["entitlements"]}["TGXH"] == "active"


def test_verify_invalid_card_exit_1_with_reason(setup) -> None:
    world, root, bundle = setup
    card = world.card(province="01")
    result = run(
        "verify",
        "--json",
        "--lang",
        "en",
        "--bundle",
        str(bundle),
        "--root",
        str(root),
        "--at",
        AT.isoformat(),
        card,
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == {**data, "valid": False, "reason": "issuer_out_of_scope"}
    human = run(
        "verify", "--bundle", str(bundle), "--root", str(root), "--at", AT.isoformat(), card
    )
    assert human.exit_code == 1
    assert "THẺ KHÔNG HỢP LỆ" in human.output


def test_verify_from_stdin_and_image(setup, tmp_path: Path) -> None:
    from test_image import render

    world, root, bundle = setup
    card = world.card()
    result = run(
        "verify",
        "--bundle",
        str(bundle),
        "--root",
        str(root),
        "--at",
        AT.isoformat(),
        "-",
        input=card,
    )
    assert result.exit_code == 0
    image = tmp_path / "card.png"
    render(card).save(image)
    result = run(
        "verify",
        "--lang",
        "en",
        "--bundle",
        str(bundle),
        "--root",
        str(root),
        "--at",
        AT.isoformat(),
        str(image),
    )
    assert result.exit_code == 0, result.output
    assert "VALID CARD" in result.output


def test_verify_usage_errors_exit_2(setup, tmp_path: Path, monkeypatch) -> None:
    world, root, bundle = setup
    monkeypatch.delenv("ASXH_ROOT_KEYS", raising=False)
    monkeypatch.delenv("ASXH_BUNDLE", raising=False)
    card = world.card()
    assert run("verify", "--root", str(root), card).exit_code == 2  # no bundle
    assert run("verify", "--bundle", str(bundle), card).exit_code == 2  # no root
    assert (
        run("verify", "--bundle", str(tmp_path / "nope"), "--root", str(root), card).exit_code == 2
    )
    assert (
        run("verify", "--bundle", str(bundle), "--root", str(root), "--lang", "fr", card).exit_code
        == 2
    )
    assert run("verify", "--bundle", str(bundle), "--root", str(root), "missing.png").exit_code == 2
    assert run("verify", "--bogus").exit_code == 2
    monkeypatch.setenv("ASXH_ROOT_KEYS", str(root))
    monkeypatch.setenv("ASXH_BUNDLE", str(bundle))
    assert run("verify", "--at", AT.isoformat(), card).exit_code == 0


def test_verify_bare_token_argument_and_card_files(setup, tmp_path: Path) -> None:
    """A bare token is longer than a file name may be: it is text, never probed as a path."""
    from asxh_card.card import token_from_qr_text

    world, root, bundle = setup
    token = token_from_qr_text(world.card())
    assert len(token) > 255
    common = ["verify", "--bundle", str(bundle), "--root", str(root), "--at", AT.isoformat()]
    result = run(*common, token)
    assert result.exit_code == 0, result.output
    held = tmp_path / "card.txt"
    held.write_text(world.card() + "\n")
    assert run(*common, str(held)).exit_code == 0
    # Not a card: invalid (1), whether long text, a binary file or binary stdin.
    assert run(*common, "x" * 300).exit_code == 1
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)))
    assert run(*common, str(junk)).exit_code == 1
    piped = runner.invoke(app, [*common, "-"], input=b"\xff\xfe" + bytes(range(200)))
    assert piped.exit_code == 1, piped.output
    assert "malformed" in piped.output


def test_verify_unreadable_card_or_missing_bundle_file_exit_2(setup, tmp_path: Path) -> None:
    world, root, bundle = setup
    common = ["--root", str(root), "--at", AT.isoformat()]
    # A directory given as CARD cannot be read.
    assert run("verify", "--bundle", str(bundle), *common, str(tmp_path)).exit_code == 2
    # A directory without bundle.jwt is no bundle.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("verify", "--bundle", str(empty), *common, world.card())
    assert result.exit_code == 2, result.output
    assert f"no trust bundle at {empty / 'bundle.jwt'}" in result.output


def test_root_init_and_bundle_build_bad_input_exit_2_write_nothing(
    world: World, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ASXH_ROOT_PASSPHRASE", PASSPHRASE)
    (tmp_path / "plain").write_text("")
    result = run("root", "init", "--out", str(tmp_path / "plain" / "root.pem"))
    assert result.exit_code == 2, result.output
    assert "cannot write" in result.output.lower()
    assert run("root", "init", "--out", str(tmp_path / "root.pem"), "--alg", "RS256").exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]
    result = run("root", "init", "--out", str(tmp_path / "root.pem"))
    assert result.exit_code == 0, result.output
    build = ["bundle", "build", "--root-key", str(tmp_path / "root.pem"), "--version", "1"]
    out = tmp_path / "bundle.jwt"
    for bad in (
        ["--issuers", str(tmp_path / "missing.json")],
        ["--issuers", str(tmp_path)],
        ["--issuers", str(tmp_path / "root.jwk"), "--status-list", str(tmp_path / "no.jwt")],
    ):
        result = run(*build, *bad, "--out", str(out))
        assert result.exit_code == 2, result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_root_init_and_bundle_build(world: World, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ASXH_ROOT_PASSPHRASE", PASSPHRASE)
    result = run("root", "init", "--out", str(tmp_path / "root.pem"))
    assert result.exit_code == 0, result.output
    assert "kid:" in result.output
    assert "ENCRYPTED PRIVATE KEY" in (tmp_path / "root.pem").read_text()
    registry = tmp_path / "issuers.json"
    (tmp_path / "vn-79.jwk").write_text(json.dumps(world.key_79.public_key.to_jwk()))
    registry.write_text(
        json.dumps(
            {
                "issuers": [
                    {
                        "id": "vn-79",
                        "name": "BHXH TP. Hồ Chí Minh",
                        "province": "79",
                        "programmes": ["BHYT", "TGXH", "BHXH", "NCC", "GN", "BHTN"],
                        "status_base": BASE_79,
                        "keys": [
                            {
                                "jwk_file": "vn-79.jwk",
                                "not_before": "2025-01-01T00:00:00+07:00",
                            }
                        ],
                    }
                ]
            },
            ensure_ascii=False,
        )
    )
    now = int(datetime.now(UTC).timestamp())
    out = tmp_path / "bundle.jwt"
    result_args = [
        "bundle",
        "build",
        "--root-key",
        str(tmp_path / "root.pem"),
        "--issuers",
        str(registry),
        "--version",
        "3",
        "--valid-days",
        "10",
        "--out",
        str(out),
    ]
    result = run(*result_args)
    assert result.exit_code == 0, result.output
    # An unwritable --out (here a directory) is a usage error and leaves nothing behind.
    (tmp_path / "out.d").mkdir()
    args = [a if a != str(out) else str(tmp_path / "out.d") for a in result_args]
    failed = run(*args)
    assert failed.exit_code == 2, failed.output
    assert list((tmp_path / "out.d").iterdir()) == []
    assert not list(tmp_path.glob(".*.tmp"))
    from asxh_card.keystore import load_public_key
    from asxh_card.verifier import Verifier, parse_bundle

    built = parse_bundle(out.read_text(), roots=[load_public_key(tmp_path / "root.jwk")])
    assert built.version == 3
    assert built.issuers["vn-79"].status_base == BASE_79
    card = world.card(entitlements=world.claims().entitlements[:2])
    verifier = Verifier.from_tokens(
        out.read_text(),
        roots=[load_public_key(tmp_path / "root.jwk")],
        status_tokens=[world.status_token(URI_79, issued_at=now - 60)],
    )
    assert verifier.verify(card).serial == "C0001"


def test_bundle_pull_installs_and_refuses_rollback(world: World, tmp_path: Path, http_dir) -> None:
    """pull reads each issuer's status index, downloads only changed lists (ETag), refuses a
    rolled-back bundle before downloading anything, and a rolled-back list too."""
    from asxh_card._core.statuslist import Status, sign_status_list

    served, base, requested = http_dir
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(world.root.public_key.to_jwk()))
    now = int(datetime.now(UTC).timestamp())
    issuers = world.issuers()
    for issuer in issuers:
        issuer["status_base"] = f"{base}/{issuer['id']}/"
        (served / issuer["id"]).mkdir()
    signers = {"vn-79": world.key_79, "vn-01": world.key_01}

    def publish_list(issuer: str, iat: int) -> None:
        uri = f"{base}/{issuer}/1"
        lst = world.lists[URI_79 if issuer == "vn-79" else URI_01]
        token = sign_status_list(lst, signers[issuer], uri=uri, issued_at=iat, ttl=86_400)
        (served / issuer / "1").write_text(token)
        (served / issuer / "index.json").write_text(json.dumps({"lists": [uri]}))

    def publish(version: int) -> None:
        payload = world.payload(version=version, iat=now - 60, exp=now + 86_400 * 30)
        payload["issuers"] = issuers
        (served / "bundle.jwt").write_text(sign_bundle_payload(payload, world.root))

    def pull() -> Result:
        requested.clear()
        return run("bundle", "pull", f"{base}/bundle.jwt", "--root", str(root), "--dir", str(store))

    def installed() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in store.rglob("*") if p.is_file()}

    store = tmp_path / "store"
    publish_list("vn-79", now - 60)
    publish_list("vn-01", now - 60)
    publish(2)
    result = pull()
    assert result.exit_code == 0, result.output
    assert requested == ["/bundle.jwt", "/vn-79/", "/vn-01/", "/vn-79/1", "/vn-01/1"]
    assert (store / "bundle.jwt").is_file()
    assert (store / "state.json").is_file()
    assert len(list((store / "status").glob("*.jwt"))) == 2
    # Nothing changed: conditional requests only, no list downloaded again.
    assert pull().exit_code == 0
    assert requested == ["/bundle.jwt 304", "/vn-79/", "/vn-01/", "/vn-79/1 304", "/vn-01/1 304"]
    # A revocation: only vn-79's list is downloaded again, and the verifier sees it.
    world.set_status(URI_79, 10, Status.REVOKED)
    publish_list("vn-79", now - 30)
    assert pull().exit_code == 0
    assert [r for r in requested if not r.endswith((" 304", "/"))] == ["/vn-79/1"]
    before = installed()
    publish(1)
    result = pull()
    assert result.exit_code == 1
    assert "bundle_rollback" in result.output
    # Refused on the bundle alone: no list downloaded, nothing in the store changed.
    assert requested == ["/bundle.jwt"]
    assert installed() == before
    publish(3)
    publish_list("vn-79", now - 45)  # an older copy of vn-79's list (iat before the held one)
    result = pull()
    assert result.exit_code == 1
    assert "status_list_rollback" in result.output
    assert installed() == before
    publish_list("vn-79", now - 10)
    assert pull().exit_code == 0
    from asxh_card.verifier import Verifier

    assert Verifier.from_directory(store, roots=[world.root.public_key]).bundle_version == 3


def test_bundle_pull_usage_errors_exit_2(world: World, tmp_path: Path) -> None:
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(world.root.public_key.to_jwk()))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    for url, directory in (
        ("ftp://example.vn/bundle.jwt", tmp_path / "store"),
        ("bundle.jwt", tmp_path / "store"),
        ("http://127.0.0.1:9/bundle.jwt", not_a_dir),
    ):
        result = run("bundle", "pull", url, "--root", str(root), "--dir", str(directory))
        assert result.exit_code == 2, result.output
    assert not (tmp_path / "store").exists()
    assert not_a_dir.read_text() == ""


def test_example_verify_offline_runs(world: World, tmp_path: Path) -> None:
    """examples/verify_offline.py, as a service point would run it (clock = now)."""
    import subprocess
    import sys

    from asxh_card.verifier import BundleStore

    now = int(datetime.now(UTC).timestamp())
    tokens = [world.status_token(uri, issued_at=now - 60) for uri in (URI_79, URI_01)]
    payload = world.payload(iat=now - 60, exp=now + 86_400)
    store = tmp_path / "store"
    BundleStore(store).install(
        sign_bundle_payload(payload, world.root), tokens, roots=[world.root.public_key], now=now
    )
    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(world.root.public_key.to_jwk()))
    card = world.card(issued_at=now - 3600, not_before=now - 3600, expires_at=now + 86_400)
    example = Path(__file__).resolve().parents[2] / "examples" / "verify_offline.py"

    def example_run(directory: Path, text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(example), str(directory), str(root), text],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    from asxh_card.card import token_from_qr_text

    for text in (card, token_from_qr_text(card)):  # QR text, and a bare token
        out = example_run(store, text)
        assert out.returncode == 0, out.stderr
        assert "Nguyễn Thị Minh Khai" in out.stdout
    # A directory without a bundle: the reason, not a traceback.
    out = example_run(tmp_path, card)
    assert out.returncode == 3, out.stderr  # cannot check: update the data
    assert "bundle_invalid" in out.stdout
    assert "CẬP NHẬT DỮ LIỆU" in out.stdout


def test_card_text_is_printed_not_interpreted_as_markup(setup, tmp_path: Path) -> None:
    """Console-markup injection: text from a signed card or a path is printed as it stands.

    A holder name (any printable text) or a path containing "[/]" or "[red]" used to be read as
    rich markup: "[/]" crashed the command with a traceback, other tags restyled the output.
    """
    world, root, bundle = setup
    holder = world.claims().holder
    from dataclasses import replace

    name = "Nguyễn [/]Thị [red]Minh Khai"
    card = world.card(holder=replace(holder, name=name))
    result = run(
        "verify", "--bundle", str(bundle), "--root", str(root), "--at", AT.isoformat(), card
    )
    assert result.exit_code == 0, result.output
    assert name in result.output
    odd = tmp_path / "[red]odd"
    odd.mkdir()
    missing = run("verify", "--bundle", str(odd), "--root", str(root), card)
    assert missing.exit_code == 2, missing.output
    assert "[red]odd" in missing.output


def test_verify_speaks_vietnamese_words_not_raw_fields(setup) -> None:
    """Issue 13.3: "Hộ cận nghèo", "750.000 đ/tháng", "từ 01/01/2026"; no kind=, no amount=.

    Words and number format from domain-vn (GN: hộ nghèo / hộ cận nghèo; amounts in đồng per
    month, Vietnamese thousands separated by dots); an open-ended entitlement is "from" a day.
    """
    from datetime import date

    from asxh_card.programmes import Entitlement

    world, root, bundle = setup
    card = world.card(
        entitlements=(
            Entitlement(
                "BHYT",
                date(2026, 1, 1),
                date(2026, 12, 31),
                {"level": 2, "coverage": 100, "facility": "79-001"},
            ),
            Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}),
            Entitlement("GN", date(2026, 1, 1), date(2026, 12, 31), {"kind": "near_poor"}),
        )
    )
    args = ("verify", "--bundle", str(bundle), "--root", str(root), "--at", AT.isoformat(), card)
    out = run(*args).output
    assert "Hộ cận nghèo" in out
    assert "750.000 đ/tháng" in out
    assert "Mức 2 (100%)" in out
    assert "Nơi KCB ban đầu: 79-001" in out
    assert "từ 01/01/2026" in out
    for raw in ("kind=", "near_poor", "amount=", "750000", "không thời hạn", "level="):
        assert raw not in out
    english = run(*args[:-1], "--lang", "en", card).output
    assert "near-poor household" in english
    assert "750,000 VND/month" in english
