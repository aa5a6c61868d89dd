"""``asxh issue``: one card from examples/card.json, refusals, JSON Lines batches."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from asxh_card.card import token_from_qr_text, verify_card
from asxh_card.cli import app
from asxh_card.issuing.cardfile import CardFileError, parse_card_json
from asxh_card.keystore import generate_key_file, load_private_key

PASS = "correct horse battery staple"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUFFIXES = {
    ".txt",
    ".jwt",
    "-qr.png",
    "-qr.svg",
    "-barcode.png",
    "-barcode.svg",
    "-card.png",
    "-print.pdf",
}
runner = CliRunner()


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "issuer.pem"
    generate_key_file(path, PASS.encode())
    return path


def run(*args: str, passphrase: str = PASS):
    return runner.invoke(app, ["issue", *args], env={"ASXH_KEY_PASSPHRASE": passphrase})


def test_issue_example_card(key_file: Path, tmp_path: Path):
    """examples/card.json issues; every output is there, and the QR text verifies."""
    out = tmp_path / "out"
    result = run(str(EXAMPLES / "card.json"), "--key", str(key_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    serial = files[0].split("-")[0].split(".")[0]
    assert {name[len(serial) :] for name in files} == SUFFIXES
    text = (out / f"{serial}.txt").read_text().strip()
    key = load_private_key(key_file, PASS.encode())
    claims = verify_card(text, keys=lambda _i, k: key.public_key if k == key.kid else None)
    assert claims.serial == serial
    assert claims.holder.name == "Nguyễn Thị Ngọc Hường"
    card = Image.open(out / f"{serial}-card.png")
    assert [
        r.text for r in zxingcpp.read_barcodes(card, formats=zxingcpp.BarcodeFormat.QRCode)
    ] == [text]
    assert (out / f"{serial}.jwt").read_text().strip() == token_from_qr_text(text)
    assert (out / f"{serial}-print.pdf").read_bytes().startswith(b"%PDF")


def test_bad_description_exits_2_and_writes_nothing(key_file: Path, tmp_path: Path):
    """Malformed JSON or a bad field: exit 2, the message names file, field and rule."""
    bad = json.loads((EXAMPLES / "card.json").read_text())
    bad["holder"]["date_of_birth"] = "02/03/1958"
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(bad))
    result = run(str(src), "--key", str(key_file), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "bad.json: holder.date_of_birth: must be a date YYYY-MM-DD" in result.output
    assert not (tmp_path / "out").exists()


def test_refused_card_exits_1_and_writes_nothing(key_file: Path, tmp_path: Path):
    """A never-on-card attribute: the card is refused (exit 1), nothing is written."""
    bad = json.loads((EXAMPLES / "card.json").read_text())
    bad["entitlements"][1]["attributes"]["reason"] = "disability"
    src = tmp_path / "refused.json"
    src.write_text(json.dumps(bad))
    out = tmp_path / "out"
    result = run(str(src), "--key", str(key_file), "--out", str(out))
    assert result.exit_code == 1
    assert "may never appear on a card" in result.output
    assert not out.exists()


def test_wrong_passphrase_exits_1(key_file: Path, tmp_path: Path):
    """A key that does not decrypt is reported without a traceback."""
    result = run(
        str(EXAMPLES / "card.json"),
        "--key",
        str(key_file),
        "--out",
        str(tmp_path),
        passphrase="not the passphrase",
    )
    assert result.exit_code == 1
    assert "Key:" in result.output


def test_card_description_errors_name_the_field():
    """Unknown members, duplicates and wrong types are refused with file: field: rule."""
    good = json.loads((EXAMPLES / "card.json").read_text())
    cases = [
        ({**good, "address": "x"}, "card: unknown member 'address'"),
        ({**good, "holder": {**good["holder"], "sex": "X"}}, "holder.sex: must be 'M' or 'F'"),
        ({**good, "entitlements": []}, "entitlements: must be a non-empty list"),
        ({**good, "validity": {"expires": "2030-12-31T00:00:00"}}, "needs a UTC offset"),
        ({**good, "status": {"idx": -1, "uri": "https://x"}}, "status.idx: must be a non-negative"),
    ]
    for value, message in cases:
        with pytest.raises(CardFileError, match=message.replace("(", r"\(")):
            parse_card_json(json.dumps(value), source="c.json")
    with pytest.raises(CardFileError, match="duplicate member"):
        parse_card_json('{"issuer": "a", "issuer": "b"}', source="c.json")


def test_batch_issues_every_line_in_parallel(key_file: Path, tmp_path: Path):
    """examples/cards.jsonl: 12 cards, one print PDF of 2 pages, a manifest; 2 processes."""
    out = tmp_path / "bulk"
    result = run(
        str(EXAMPLES / "cards.jsonl"), "--key", str(key_file), "--out", str(out), "--workers", "2"
    )
    assert result.exit_code == 0, result.output
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["line"] for m in manifest] == list(range(1, 13))
    sheets = (out / "sheets.pdf").read_bytes()  # one file per batch, not one per page
    assert sheets.count(b"/Type /Page ") == 2
    assert not (out / "sheets").exists()
    for row in manifest:
        png = (out / f"{row['serial']}-qr.png").read_bytes()
        text = (out / f"{row['serial']}.txt").read_text().strip()
        assert zxingcpp.read_barcode(Image.open(io.BytesIO(png))).text == text
    assert not [p for p in out.iterdir() if p.name.startswith(".asxh-staging")]


def test_batch_with_a_bad_line_is_refused_whole(key_file: Path, tmp_path: Path):
    """One bad line: exit 1, its line number reported, nothing written."""
    lines = (EXAMPLES / "cards.jsonl").read_text().splitlines()
    lines[3] = lines[3].replace('"sex": "M"', '"sex": "?"').replace('"sex": "F"', '"sex": "?"')
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bulk"
    result = run(str(src), "--key", str(key_file), "--out", str(out))
    assert result.exit_code == 1
    assert "line 4:" in result.output
    assert "nothing issued" in result.output
    assert not out.exists()


def test_batch_skip_invalid_reports_and_skips(key_file: Path, tmp_path: Path):
    """--skip-invalid: good lines issued, the bad one listed in the manifest with its error."""
    lines = (EXAMPLES / "cards.jsonl").read_text().splitlines()[:3]
    lines[1] = "{not json"
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bulk"
    result = run(
        str(src), "--key", str(key_file), "--out", str(out), "--skip-invalid", "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [("serial" in m, m["line"]) for m in manifest] == [(True, 1), (False, 2), (True, 3)]
    assert "not valid JSON" in manifest[1]["error"]


def test_batch_render_failure_leaves_output_untouched(key_file: Path, tmp_path: Path, monkeypatch):
    """If rendering fails midway, the staging directory is removed and nothing is published."""
    from asxh_card.issuing import bulk

    calls = {"n": 0}
    real = bulk._render_page

    def flaky(job):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(job)

    monkeypatch.setattr(bulk, "_render_page", flaky)
    signer = load_private_key(key_file, PASS.encode())
    out = tmp_path / "bulk"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(RuntimeError):
        bulk.issue_batch(EXAMPLES / "cards.jsonl", signer=signer, out_dir=out, workers=1)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # An output directory the batch created is removed again, not left behind empty.
    calls["n"] = 0
    new = tmp_path / "new" / "bulk"
    with pytest.raises(RuntimeError):
        bulk.issue_batch(EXAMPLES / "cards.jsonl", signer=signer, out_dir=new, workers=1)
    assert not new.exists()


def test_batch_into_a_directory_holding_a_batch_is_refused(key_file: Path, tmp_path: Path):
    """A second batch into the same directory: exit 2, the first batch's files untouched."""
    lines = (EXAMPLES / "cards.jsonl").read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines) + "\n")
    second.write_text("\n".join(lines[:3]) + "\n")
    out = tmp_path / "bulk"
    assert run(str(first), "--key", str(key_file), "--out", str(out)).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run(str(second), "--key", str(key_file), "--out", str(out))
    assert result.exit_code == 2
    assert "already holds a batch" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_out_that_is_a_file_exits_2(key_file: Path, tmp_path: Path):
    """--out naming an existing file: a clear message and exit 2, for one card and a batch."""
    out = tmp_path / "afile"
    out.write_text("x")
    for source in ("card.json", "cards.jsonl"):
        result = run(str(EXAMPLES / source), "--key", str(key_file), "--out", str(out))
        assert result.exit_code == 2, result.output
        assert "not a directory" in result.output
    assert out.read_text() == "x"


def test_batch_with_a_data_only_programme_renders(
    key_file: Path, tmp_path: Path, child_benefit_registry
):
    """issue_batch with a registry that adds a programme signs and renders it (workers=2)."""
    from asxh_card.issuing import bulk

    registry = child_benefit_registry
    line = json.loads((EXAMPLES / "cards.jsonl").read_text().splitlines()[0])
    line["entitlements"] = [{"programme": "TE", "from": "2026-01-01", "attributes": {"amount": 1}}]
    src = tmp_path / "te.jsonl"
    src.write_text((json.dumps(line, ensure_ascii=False) + "\n") * 11)
    result = bulk.issue_batch(
        src,
        signer=load_private_key(key_file, PASS.encode()),
        out_dir=tmp_path / "bulk",
        workers=2,
        registry=registry,
    )
    assert len(result.issued) == 11
    assert not result.errors
    assert (tmp_path / "bulk" / "sheets.pdf").read_bytes().count(b"/Type /Page ") == 2


def test_markup_in_a_message_is_printed_not_interpreted(key_file: Path, tmp_path: Path):
    """A member named "[/]" is quoted in the error (exit 2), not read as console markup."""
    bad = json.loads((EXAMPLES / "card.json").read_text())
    bad["[/]"] = 1
    src = tmp_path / "markup.json"
    src.write_text(json.dumps(bad))
    result = run(str(src), "--key", str(key_file), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "unknown member '[/]'" in result.output
    assert not (tmp_path / "out").exists()


def test_batch_options_for_one_card_exit_2(key_file: Path, tmp_path: Path):
    """--workers or --skip-invalid with a .json file: a batch was probably meant; exit 2."""
    out = tmp_path / "out"
    for option in (["--workers", "2"], ["--skip-invalid"]):
        result = run(
            str(EXAMPLES / "card.json"), "--key", str(key_file), "--out", str(out), *option
        )
        assert result.exit_code == 2, result.output
        assert ".jsonl batch only" in result.output
    assert not out.exists()


def test_empty_batch_exits_2(key_file: Path, tmp_path: Path):
    """A .jsonl file without a description is refused (exit 2), no directory or manifest."""
    src = tmp_path / "empty.jsonl"
    src.write_text("\n  \n")
    out = tmp_path / "bulk"
    result = run(str(src), "--key", str(key_file), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "no card description" in result.output
    assert not out.exists()


def test_out_under_a_file_exits_2(key_file: Path, tmp_path: Path):
    """--out below an existing file cannot be created: exit 2 and a message, no traceback."""
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "out"
    for source in ("card.json", "cards.jsonl"):
        result = run(str(EXAMPLES / source), "--key", str(key_file), "--out", str(out))
        assert result.exit_code == 2, result.output
        assert "cannot write" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (tmp_path / "afile").read_text() == "x"


def test_batch_screen_scale_applies_to_every_qr_png(key_file: Path, tmp_path: Path):
    """--screen-scale is honoured for a batch as for one card (it used to be ignored)."""
    src = tmp_path / "two.jsonl"
    src.write_text("\n".join((EXAMPLES / "cards.jsonl").read_text().splitlines()[:2]) + "\n")
    out = tmp_path / "bulk"
    result = run(str(src), "--key", str(key_file), "--out", str(out), "--screen-scale", "10")
    assert result.exit_code == 0, result.output
    for row in (json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()):
        image = Image.open(out / f"{row['serial']}-qr.png")
        assert image.width == (17 + 4 * row["qr_version"] + 8) * 10
        assert (
            zxingcpp.read_barcode(image).text == (out / f"{row['serial']}.txt").read_text().strip()
        )
