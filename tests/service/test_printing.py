"""Print-shop batches: one PDF per batch, backs, DEMO mark, long names shortened on the face."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from asxh_card.cli import app as cli
from asxh_card.issuing.render.batch import BatchPdf, demo_mark
from asxh_card.service.context import ServiceContext
from asxh_card.service.printing import print_cards, serials_of_job
from asxh_card.verifier.image import read_card_qr

from .test_import import _env, fresh, people_rows, run_import, write_csv

__all__ = ["fresh"]


def _images(pdf: bytes) -> list[Image.Image]:
    """The card images of a BatchPdf file (indexed Flate images), in file order."""
    streams: dict[int, tuple[bytes, bytes]] = {}
    for m in re.finditer(rb"(\d+) 0 obj\n<<([^>]*?)/Length (\d+) >>\nstream\n", pdf):
        start = m.end()
        streams[int(m.group(1))] = (m.group(2), pdf[start : start + int(m.group(3))])
    images = []
    for header, data in streams.values():
        image = re.search(
            rb"/Width (\d+) /Height (\d+) /ColorSpace \[/Indexed /DeviceRGB \d+ (\d+) 0 R\]",
            header,
        )
        if image is None:
            continue
        width, height, lookup = (int(g) for g in image.groups())
        picture = Image.frombytes("P", (width, height), zlib.decompress(data))
        picture.putpalette(streams[lookup][1])
        images.append(picture.convert("RGB"))
    return images


def test_a_job_prints_as_one_pdf_whose_qr_codes_read(fresh: ServiceContext, tmp_path: Path) -> None:
    """25 cards: one file, three pages of fronts, every QR readable from the PDF's images."""
    rows = people_rows(25, seed=31)
    run_import(fresh, write_csv(tmp_path / "p.csv", rows))
    serials = serials_of_job(fresh, 1)
    assert len(serials) == 25
    out = tmp_path / "batch.pdf"
    seen: list[int] = []
    result = print_cards(fresh, serials, out, workers=0, on_progress=seen.append)
    assert (result.cards, result.pages, result.demo) == (25, 3, False)
    assert seen[-1] == 25
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.4")
    assert data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page ") == 3
    assert len(data) < 25 * 40_000  # palette images: about 20 KB a card
    images = _images(data)
    assert len(images) == 25
    with_tokens = {}
    from sqlalchemy import select

    from asxh_card.service.db import session_scope
    from asxh_card.service.models import CardRow

    with session_scope(fresh.sessions) as session:
        with_tokens = dict(session.execute(select(CardRow.serial, CardRow.qr_text)).all())
    assert read_card_qr(images[0]) == with_tokens[serials[0]]
    assert read_card_qr(images[24]) == with_tokens[serials[24]]


def test_backs_and_demo_mark(fresh: ServiceContext, tmp_path: Path) -> None:
    """Backs double the pages (fronts, then backs); a demo service marks every front."""
    run_import(fresh, write_csv(tmp_path / "p.csv", people_rows(3, seed=32)))
    serials = serials_of_job(fresh, 1)
    demo_ctx = ServiceContext(**{**fresh.__dict__, "settings": fresh.settings.with_(demo=True)})
    out = tmp_path / "demo.pdf"
    result = print_cards(demo_ctx, serials, out, backs=True, workers=0)
    assert (result.pages, result.demo) == (2, True)
    demo_front = _images(out.read_bytes())[0]
    plain = print_cards(fresh, serials, tmp_path / "plain.pdf", workers=0)
    assert not plain.demo
    plain_front = _images((tmp_path / "plain.pdf").read_bytes())[0]
    changed = np.abs(np.asarray(demo_front, int) - np.asarray(plain_front, int)).sum(axis=2) > 60
    assert changed.sum() > 20_000  # a large stamp over the same card


def test_demo_mark_keeps_the_qr_readable(fresh: ServiceContext, tmp_path: Path) -> None:
    """The stamp is translucent: a demo card still scans (it verifies only with demo keys)."""
    run_import(fresh, write_csv(tmp_path / "p.csv", people_rows(1, seed=33)))
    out = tmp_path / "one.pdf"
    print_cards(fresh, serials_of_job(fresh, 1), out, workers=0)
    face = _images(out.read_bytes())[0]
    assert read_card_qr(demo_mark(face)).startswith("asxh:/")


def test_long_name_ends_with_an_ellipsis_on_the_face_only(
    fresh: ServiceContext, tmp_path: Path
) -> None:
    """A 100-character name: the face shortens it, the signed QR keeps all of it."""
    from asxh_card.card import CardClaims, parse_card_jws
    from asxh_card.issuing.render import face

    rows = people_rows(1, seed=34)
    rows[0]["full_name"] = " ".join(["Nguyễn Thị Bích Phượng"] * 4)[:100].strip()
    run_import(fresh, write_csv(tmp_path / "p.csv", rows))
    from sqlalchemy import select

    from asxh_card.service.db import session_scope
    from asxh_card.service.models import CardRow

    with session_scope(fresh.sessions) as session:
        token = session.scalars(select(CardRow.token)).one()
    _, payload = parse_card_jws(token)
    assert CardClaims.from_claims(payload).holder.name == rows[0]["full_name"]  # QR: in full
    drawn: list[str] = []
    original = face.ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(str(text))
        return original(self, xy, text, *args, **kwargs)

    pytest.MonkeyPatch().setattr(face.ImageDraw.ImageDraw, "text", spy)
    try:
        print_cards(fresh, serials_of_job(fresh, 1), tmp_path / "n.pdf", workers=0)
    finally:
        pytest.MonkeyPatch().undo()
        face.ImageDraw.ImageDraw.text = original  # type: ignore[method-assign]
    name_lines = [t for t in drawn if t.startswith(("NGUYỄN", "BÍCH", "THỊ", "PHƯỢNG"))]
    assert len(name_lines) == 2
    assert name_lines[1].endswith("…")


def test_cli_print_and_import_sheets(fresh: ServiceContext, tmp_path: Path) -> None:
    """``asxh import --sheets`` and ``asxh print --job``: one PDF each, progress on stderr."""
    path = write_csv(tmp_path / "p.csv", people_rows(12, seed=35))
    env = _env(fresh)
    runner = CliRunner()
    sheets = tmp_path / "sheets.pdf"
    result = runner.invoke(
        cli,
        ["import", str(path), "--province", "79", "--workers", "0", "--sheets", str(sheets)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert sheets.read_bytes().count(b"/Type /Page ") == 2
    again = runner.invoke(
        cli, ["print", "--job", "1", "--out", str(tmp_path / "b.pdf"), "--backs"], env=env
    )
    assert again.exit_code == 0, again.output
    assert "12 cards, 4 pages" in " ".join(again.output.split())
    both = runner.invoke(cli, ["print", "--out", str(tmp_path / "x.pdf")], env=env)
    assert both.exit_code == 2


def test_empty_batch_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    """Nothing to print: an error, no half-written PDF."""
    pdf = BatchPdf(tmp_path / "e.pdf")
    with pytest.raises(ValueError, match="at least one card"):
        pdf.close()
    assert not (tmp_path / "e.pdf").exists()
