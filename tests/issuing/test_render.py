"""Renderings read back with a real decoder (zxing-cpp): QR PNG/SVG, barcode, card, photo, PDF."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import qrcode
import zxingcpp
from PIL import Image, ImageFilter

from asxh_card._core.statuslist import StatusRef
from asxh_card.issuing import render
from asxh_card.issuing.render import face as render_face
from asxh_card.issuing.render import qr as render_qr
from asxh_card.issuing.sizing import DATA_CODEWORDS_M, qr_version

URI = "https://status.asxh.gov.vn/lists/79/1"


@pytest.fixture
def card(issuer, holder, guardian, largest_entitlements):
    """A version-20 card: three programmes, a guardian (the largest that fits today)."""
    ents = [e for e in largest_entitlements if e.programme in ("BHYT", "TGXH", "GN")]
    ents = [
        replace(e, attributes={"kind": "near_poor"}) if e.programme == "GN" else e for e in ents
    ]
    return issuer.issue(
        holder, ents, guardian=guardian, status=StatusRef(90121, URI), expires=date(2030, 12, 31)
    )


def decode(image: Image.Image, fmt: zxingcpp.BarcodeFormat) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=fmt)]


def test_qr_png_decodes_to_the_exact_qr_text(card):
    """The QR PNG decodes to exactly the issued QR text; 4 px/module and 4-module quiet zone."""
    png = render.qr_png(card.qr_text)
    image = Image.open(io.BytesIO(png))
    assert decode(image, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]
    modules = 17 + 4 * card.qr_version
    assert image.size == ((modules + 8) * 4,) * 2
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    pixels = np.asarray(image.convert("L"))
    assert (pixels[:16] == 255).all()
    assert (pixels[:, :16] == 255).all()


def test_qr_png_screen_scale(card):
    """A screen rendering at 10 px/module decodes too and has the expected size."""
    image = Image.open(io.BytesIO(render.qr_png(card.qr_text, scale=10)))
    assert image.width == (17 + 4 * card.qr_version + 8) * 10
    assert decode(image, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]


def test_qr_uses_byte_plus_numeric_segments_at_ecc_m(card):
    """The zxing-cpp symbol equals, module for module, qrcode's explicit byte+numeric segments.

    Same mask, same matrix: the segmentation and version are the optimal mixed ones, and the
    version is the one the issuer computed for the size budget.
    """
    matrix = render.qr_matrix(card.qr_text)
    assert matrix.shape == (17 + 4 * card.qr_version,) * 2
    assert qr_version(card.qr_text) == card.qr_version
    candidates = [render_qr._qr_matrix_qrcode(card.qr_text, mask=m) for m in range(8)]
    assert any(c.shape == matrix.shape and (c == matrix).all() for c in candidates)
    result = zxingcpp.read_barcode(Image.open(io.BytesIO(render.qr_png(matrix))))
    assert result.ec_level == "M"


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 40, 1000, 1577, 1580, 1581, 3000])
def test_sizing_matches_qrcode_and_zxing(digits):
    """qr_version agrees with qrcode (explicit segments) and with the symbol zxing-cpp makes."""
    text = "asxh:/" + ("0123456789" * 400)[:digits]
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(qrcode.util.QRData(b"asxh:/", mode=qrcode.util.MODE_8BIT_BYTE))
    if digits:
        code.add_data(qrcode.util.QRData(text[6:].encode(), mode=qrcode.util.MODE_NUMBER))
    code.make(fit=True)
    assert qr_version(text) == code.version
    assert render.qr_matrix(text).shape[0] == 17 + 4 * code.version


def test_capacity_table_matches_qrcode():
    """The ECC M data-codeword table equals the one qrcode derives from the RS block table."""
    from qrcode.base import rs_blocks

    for version in range(1, 41):
        blocks = rs_blocks(version, qrcode.constants.ERROR_CORRECT_M)
        assert DATA_CODEWORDS_M[version - 1] == sum(b.data_count for b in blocks)


def svg_to_matrix(svg: str) -> np.ndarray:
    """Rasterise our QR SVG by parsing it: viewBox size and the path's unit-height runs."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    size = int(root.get("viewBox").split()[2])
    path = root.find("{http://www.w3.org/2000/svg}path").get("d")
    matrix = np.zeros((size, size), dtype=bool)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in runs) == path
    for x, y, w, _ in runs:
        matrix[int(y), int(x) : int(x) + int(w)] = True
    return matrix


def test_qr_svg_rasterised_decodes(card):
    """The SVG, rasterised by parsing its path (cairosvg is not installed), decodes exactly."""
    svg = render.qr_svg(card.qr_text)
    matrix = svg_to_matrix(svg)
    assert not matrix[:4].any()
    assert not matrix[:, :4].any()
    image = Image.fromarray(~matrix.repeat(6, 0).repeat(6, 1))
    assert decode(image, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]
    assert (matrix[4:-4, 4:-4] == render.qr_matrix(card.qr_text)).all()


def test_barcode_png_and_svg_decode_to_the_number(card):
    """Code 128 PNG decodes to the mã số ASXH; the python-barcode SVG's bars decode too."""
    number = card.claims.holder.asxh_number
    image = Image.open(io.BytesIO(render.barcode_png(number)))
    assert decode(image, zxingcpp.BarcodeFormat.Code128) == [number]
    svg = render.barcode_svg(number)
    bars = re.findall(r'<rect x="([\d.]+)mm" y="[\d.]+mm" width="([\d.]+)mm"', svg)
    row = np.zeros(round(float(re.search(r'width="([\d.]+)mm"', svg).group(1)) / 0.254), bool)
    for x, w in bars:
        start = round(float(x) / 0.254)
        row[start : start + round(float(w) / 0.254)] = True
    raster = Image.fromarray(~np.broadcast_to(row.repeat(3), (80, row.size * 3)))
    assert decode(raster, zxingcpp.BarcodeFormat.Code128) == [number]
    assert number in svg  # human-readable digits under the bars


def test_card_image_decodes_qr_and_barcode(card):
    """The card PNG is ID-1 at 300 dpi and both codes on it decode exactly."""
    png = render.card_png(card.claims, card.qr_text)
    image = Image.open(io.BytesIO(png))
    assert image.size == (1011, 638)
    assert decode(image, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]
    assert decode(image, zxingcpp.BarcodeFormat.Code128) == [card.claims.holder.asxh_number]


def test_photo_like_card_decodes(card):
    """Rotated 9°, scaled to 60 %, slightly blurred and saved as JPEG q=35: the QR still reads."""
    image = render.card_image(card.claims, card.qr_text)
    photo = Image.new("RGB", (1400, 1100), (120, 110, 100))
    photo.paste(image, (180, 200))
    photo = photo.rotate(9, resample=Image.Resampling.BICUBIC, fillcolor=(120, 110, 100))
    photo = photo.resize((840, 660), Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=35)
    jpeg = Image.open(io.BytesIO(buffer.getvalue()))
    assert decode(jpeg, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]


def test_card_never_prints_what_it_must_not(card, issuer, holder, bhyt_entitlement, statuses):
    """Only chosen fields are drawn: programme lines come from code, never from free attributes."""
    from asxh_card.programmes import Entitlement

    gn = Entitlement("GN", date(2026, 1, 1), None, {"kind": "poor", "household": "HN-SECRET"})
    issued = issuer.issue(
        holder, [gn, bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref()
    )
    text = " ".join(f"{x.text} {x.dates} {x.extra}" for x in render_face.face_lines(issued.claims))
    assert "HN-SECRET" not in text
    assert "poor" not in text


def test_card_face_shows_each_programme_with_its_own_dates(issuer, holder, statuses):
    """Issue 13.1, from domain-vn §2.4/§3.2: a clinic reads BHYT's own end, level and facility.

    The card is valid to 2030 but BHYT ends 31/12/2027: the face must say so, with the benefit
    level and the share paid (level 2 = 100 %), the registered primary-care facility, and the
    issuing authority; no stigmatising "Hộ nghèo" / "Hộ cận nghèo" / "Người có công" label.
    """
    from asxh_card.programmes import Entitlement

    start = date(2026, 1, 1)
    ents = [
        Entitlement(
            "BHYT", start, date(2027, 12, 31), {"level": 2, "coverage": 100, "facility": "79-024"}
        ),
        Entitlement("GN", start, date(2026, 12, 31), {"kind": "near_poor"}),
        Entitlement("NCC", start, None, {"amount": 2_789_000}),
        Entitlement("TGXH", start, None, {"amount": 750_000}),
    ]
    issued = issuer.issue(holder, ents, expires=date(2030, 12, 31), status=statuses.ref())
    lines = {x.programme: x for x in render_face.face_lines(issued.claims)}
    assert lines["BHYT"].dates == "01/01/2026 – 31/12/2027"  # noqa: RUF001
    assert "Mức 2" in lines["BHYT"].text
    assert "100%" in lines["BHYT"].text
    assert "79-024" in lines["BHYT"].extra
    assert lines["GN"].dates == "01/01/2026 – 31/12/2026"  # noqa: RUF001
    assert lines["NCC"].dates == "từ 01/01/2026"  # open-ended: no "đến không thời hạn"
    everything = " ".join(f"{x.text} {x.dates} {x.extra}" for x in lines.values()).casefold()
    for label in ("hộ nghèo", "hộ cận nghèo", "người có công", "750", "2.789"):
        assert label not in everything
    # The issuing authority is named on the face (the service passes its issuer's name).
    plain = render.card_image(issued.claims, issued.qr_text)
    named = render.card_image(issued.claims, issued.qr_text, authority="Sở Y tế TP. Hồ Chí Minh")
    assert plain.tobytes() != named.tobytes()
    assert render_face._authority_text(issued.claims, None) == "Cơ quan cấp: vn-79"


def pdf_images(pdf: bytes) -> list[Image.Image]:
    """Extract the Flate RGB image XObjects of our PDF (an independent minimal reader)."""
    images = []
    pattern = (
        rb"/Width (\d+) /Height (\d+) /ColorSpace /DeviceRGB /BitsPerComponent 8 "
        rb"/Filter /FlateDecode /Length (\d+) >>\nstream\n"
    )
    for match in re.finditer(pattern, pdf):
        width, height, length = (int(g) for g in match.groups())
        raw = zlib.decompress(pdf[match.end() : match.end() + length])
        images.append(Image.frombytes("RGB", (width, height), raw))
    return images


def test_print_sheet_pdf_structure_and_content(card):
    """12 cards: 2 A4 pages (10 + 2), true-size placement, crop marks, QR decodes from the PDF."""
    image = render.card_image(card.claims, card.qr_text)
    pdf = render.print_sheet_pdf([image] * 12)
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/Type /Pages /Kids [" in pdf
    assert b"/Count 2 >>" in pdf
    assert pdf.count(b"/MediaBox [0 0 595.276 841.890]") == 2  # A4 in points
    # Each card drawn at 85.6 x 54 mm = 242.646 x 153.071 pt.
    assert pdf.count(b"242.646 0 0 153.071") == 12
    assert pdf.count(b" l S") == 12 * 8  # 8 crop-mark strokes per card
    images = pdf_images(pdf)
    assert len(images) == 12
    assert decode(images[11], zxingcpp.BarcodeFormat.QRCode) == [card.qr_text]
    # xref offsets point at the objects they name.
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split()[0])
    entries = pdf[start:].split(b"\n")[3:]
    for number, entry in enumerate(entries[: pdf.count(b" 0 obj\n")], start=1):
        offset = int(entry.split()[0])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())


def test_sheet_layout_fits_a4_without_overlap():
    """Ten slots on the page, inside A4, crop marks never reaching a neighbouring card."""
    slots = render.sheet_layout()
    assert len(slots) == 10
    for slot in slots:
        assert slot.x_mm >= 3
        assert slot.x_mm + 85.6 <= 207
        assert slot.y_mm >= 3
        assert slot.y_mm + 54 <= 294
    xs = sorted({s.x_mm for s in slots})
    assert xs[1] - (xs[0] + 85.6) == pytest.approx(8.0)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_print_sheet_rasterised_by_poppler_decodes(card, tmp_path: Path):
    """When pdftoppm is available, the rasterised page yields every QR and barcode."""
    image = render.card_image(card.claims, card.qr_text)
    (tmp_path / "s.pdf").write_bytes(render.print_sheet_pdf([image] * 3))
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", str(tmp_path / "s.pdf"), str(tmp_path / "p")], check=True
    )
    page = Image.open(next(tmp_path.glob("p*.png")))
    assert page.size == (2480, 3508) or abs(page.size[0] - 2480) <= 1
    assert decode(page, zxingcpp.BarcodeFormat.QRCode) == [card.qr_text] * 3


def test_memoised_face_and_direct_png_keep_the_picture(card, monkeypatch):
    """Speed (issue 14, bench within noise): the face drawn with memoised FreeType masks and a
    cached header, written by the direct PNG writer, has exactly the pixels (and the 300 dpi)
    of the face drawn with plain fonts from scratch and written by Pillow. Drawn twice, so the
    second rendering comes from the memo."""
    from importlib import resources

    from PIL import ImageFont

    fast = [render.card_png(card.claims, card.qr_text, authority="Sở Y tế") for _ in range(2)]
    assert fast[0] == fast[1]

    def plain_font(weight: str, size: int) -> ImageFont.FreeTypeFont:
        data = resources.files("asxh_card.issuing").joinpath("fonts", f"NotoSans-{weight}.ttf")
        return ImageFont.truetype(
            io.BytesIO(data.read_bytes()), size, layout_engine=ImageFont.Layout.BASIC
        )

    monkeypatch.setattr(render_face, "_font", plain_font)
    monkeypatch.setattr(render_face, "_blank_face", render_face._blank_face.__wrapped__)
    reference = render_face.card_image(card.claims, card.qr_text, authority="Sở Y tế")
    buffer = io.BytesIO()
    reference.save(buffer, "PNG", dpi=(300, 300))
    for png in fast:
        decoded = Image.open(io.BytesIO(png))
        assert decoded.mode == "RGB"
        assert decoded.info["dpi"] == Image.open(buffer).info["dpi"]
        assert np.array_equal(np.asarray(decoded), np.asarray(reference))
    # The direct writer for RGB, Pillow for other modes: both decode to the same pixels.
    grey = reference.convert("L")
    grey_png = Image.open(io.BytesIO(render.image_png(grey)))
    assert np.array_equal(np.asarray(grey_png), np.asarray(grey))
