"""Printable renderings of a card: QR code, Code 128 barcode, the ID-1 card and an A4 print sheet.

Needs the ``render`` extra (Pillow, numpy, zxing-cpp, qrcode, python-barcode); the base CLI
never imports this module.

**How the QR is made.** :func:`qr_matrix` asks the zxing-cpp encoder (libzint inside, 3.x) for
the symbol at error correction M. libzint optimises segmentation, and for an ``asxh:/`` text it
produces exactly the byte segment for the prefix plus the numeric segment for the digits that
DESIGN.md §3 requires: with the same mask its module matrix equals, bit for bit, the one
``qrcode`` builds from those two explicit segments (tested), and its version is the one
:func:`asxh_card.issuing.sizing.qr_version` computes. It is also about 20 times faster than
``qrcode`` with its automatic mask choice (1.4 ms against ~30 ms a symbol), which is what makes
bulk issuing reach the 400 QR PNG per second target. The matrix is computed once per card and
rasterised with numpy for the PNG, the SVG, the card and the print sheet, so all of them carry
the very same symbol. ``qrcode`` with explicit segments (:func:`_qr_matrix_qrcode`) is kept
only as the independent reference the tests and the benchmark compare against.

**Sizes.** A QR module is 4 px at 300 dpi in print (0.339 mm, above the 0.33 mm minimum) and
``scale`` px on screens; the quiet zone is always 4 modules. The card is ID-1, 85.6 x 54 mm,
1011 x 638 px at 300 dpi. The print sheet is A4 with 2 x 5 cards at true size and crop marks.

Nothing on the never-on-card list is ever drawn: the card shows only the holder's name, number,
date of birth and sex, the validity, the issuing province, one badge per programme (BHYT with
its benefit level and coverage), the guardian's name when there is one, and the codes.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import qrcode
import zxingcpp
from barcode import Code128
from barcode.writer import SVGWriter
from PIL import Image, ImageDraw, ImageFont
from qrcode.util import MODE_8BIT_BYTE, MODE_NUMBER, QRData

from asxh_card._core.qrtext import QR_PREFIX
from asxh_card._core.timeutil import VN_TZ
from asxh_card.ids import parse_asxh_number
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.provinces import CURRENT_PROVINCES

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from asxh_card.card import CardClaims
    from asxh_card.issuing.issuer import IssuedCard
    from asxh_card.programmes import Entitlement

__all__ = [
    "CARD_HEIGHT_PX",
    "CARD_WIDTH_PX",
    "PRINT_DPI",
    "PRINT_MODULE_PX",
    "QUIET_ZONE",
    "CardRenderings",
    "barcode_image",
    "barcode_modules",
    "barcode_png",
    "barcode_svg",
    "bilevel_png",
    "card_image",
    "card_png",
    "print_sheet_pdf",
    "qr_image",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "render_card",
    "sheet_layout",
]

PRINT_DPI: Final = 300
#: 4 px at 300 dpi = 0.339 mm per module, above the 0.33 mm print minimum.
PRINT_MODULE_PX: Final = 4
#: Quiet zone around the QR, in modules (ISO/IEC 18004 requires 4).
QUIET_ZONE: Final = 4
#: ID-1 (ISO/IEC 7810) at 300 dpi: 85.6 mm x 54 mm.
CARD_WIDTH_MM: Final = 85.6
CARD_HEIGHT_MM: Final = 54.0
CARD_WIDTH_PX: Final = round(CARD_WIDTH_MM / 25.4 * PRINT_DPI)  # 1011
CARD_HEIGHT_PX: Final = round(CARD_HEIGHT_MM / 25.4 * PRINT_DPI)  # 638
#: Code 128 quiet zone in modules on each side (the standard asks for at least 10).
BARCODE_QUIET: Final = 10

# ------------------------------------------------------------------------------------------
# QR code


def qr_matrix(text: str) -> NDArray[np.bool_]:
    """The QR symbol of ``text`` at ECC M as a boolean matrix (True = dark), no quiet zone.

    An ``asxh:/`` text is encoded as a byte segment plus a numeric segment (see the module
    docstring); any other text is encoded as libzint chooses.
    """
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))
    return image < 128


def _qr_matrix_qrcode(text: str, *, mask: int | None = None) -> NDArray[np.bool_]:
    """The same symbol with ``qrcode`` and explicit segments: the reference for tests and bench.

    About 20 times slower than :func:`qr_matrix` (~30 ms with the automatic mask choice).
    """
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=mask
    )
    if text.startswith(QR_PREFIX):
        code.add_data(QRData(QR_PREFIX.encode("ascii"), mode=MODE_8BIT_BYTE))
        digits = text[len(QR_PREFIX) :]
        if digits:
            code.add_data(QRData(digits.encode("ascii"), mode=MODE_NUMBER))
    else:
        code.add_data(QRData(text.encode("utf-8"), mode=MODE_8BIT_BYTE))
    code.make(fit=True)
    return np.array(code.get_matrix(), dtype=bool)


def _as_matrix(code: str | NDArray[np.bool_]) -> NDArray[np.bool_]:
    return qr_matrix(code) if isinstance(code, str) else code


def _rasterise(matrix: NDArray[np.bool_], scale: int, border: int) -> NDArray[np.bool_]:
    """Pad with ``border`` light modules and scale each module to ``scale`` x ``scale`` px."""
    if scale < 1:
        raise ValueError("scale must be at least 1 px per module")
    padded = np.pad(matrix, border)
    return padded.repeat(scale, axis=0).repeat(scale, axis=1)


def qr_image(
    code: str | NDArray[np.bool_], *, scale: int = PRINT_MODULE_PX, border: int = QUIET_ZONE
) -> Image.Image:
    """A 1-bit image of the QR (text or matrix) with ``scale`` px per module and a quiet zone."""
    dark = _rasterise(_as_matrix(code), scale, border)
    # Mode "1": 1 bit per pixel, white where the array is True, hence the inversion.
    return Image.fromarray(~dark)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bilevel_png(dark: NDArray[np.bool_], *, dpi: int = PRINT_DPI) -> bytes:
    """A 1-bit greyscale PNG of a boolean image (True = black), written directly.

    Pillow's PNG encoder costs ~0.3-0.5 ms a QR; packing the bits with numpy and deflating
    them takes under 0.1 ms, and the QR PNG is the one rendering issued at bulk rate.
    """
    height, width = dark.shape
    rows = np.packbits(~dark, axis=1)  # PNG greyscale 1-bit: 1 = white
    raw = np.concatenate((np.zeros((height, 1), dtype=np.uint8), rows), axis=1)  # filter 0
    ppm = round(dpi / 0.0254)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)),
            _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
            # Level 1: 0.05 ms against 0.5 ms at level 6 for a 20 % larger file (~2.4 KB).
            _chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)),
            _chunk(b"IEND", b""),
        )
    )


def qr_png(
    code: str | NDArray[np.bool_], *, scale: int = PRINT_MODULE_PX, dpi: int = PRINT_DPI
) -> bytes:
    """The QR as a 1-bit PNG; ``scale`` px per module (4 for 300 dpi print, 8+ for screens)."""
    return bilevel_png(_rasterise(_as_matrix(code), scale, QUIET_ZONE), dpi=dpi)


def qr_svg(code: str | NDArray[np.bool_], *, module_mm: float = 0.5) -> str:
    """The QR as SVG: one path of dark runs, ``module_mm`` per module, 4-module quiet zone.

    The viewBox is in modules, so the SVG scales cleanly to any size; ``width``/``height`` give
    its print size in millimetres.
    """
    matrix = _as_matrix(code)
    size = matrix.shape[0] + 2 * QUIET_ZONE
    parts: list[str] = []
    for y, row in enumerate(matrix):
        # Run-length encode each row: starts where a dark run begins, ends where it stops.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            parts.append(
                f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{stop - start}v1h-{stop - start}z"
            )
    side = f"{size * module_mm:.2f}mm"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}" height="{side}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    )


# ------------------------------------------------------------------------------------------
# Code 128


def barcode_modules(number: str) -> NDArray[np.bool_]:
    """The Code 128 modules of a mã số ASXH (True = bar), without quiet zones."""
    value = parse_asxh_number(number).value
    (pattern,) = Code128(value).build()
    bars: NDArray[np.bool_] = np.frombuffer(pattern.encode("ascii"), dtype=np.uint8) == ord("1")
    return bars


def barcode_image(
    number: str, *, module_px: int = 3, height_px: int = 90, quiet: int = BARCODE_QUIET
) -> Image.Image:
    """A 1-bit Code 128 image of the number, ``module_px`` per module, with quiet zones.

    ``Code128(x).build()`` plus numpy takes ~0.1 ms, against ~2.7 ms through python-barcode's
    ImageWriter (shared/reference/performance-notes.md).
    """
    return Image.fromarray(~_barcode_dark(number, module_px, height_px, quiet))


def _barcode_dark(number: str, module_px: int, height_px: int, quiet: int) -> NDArray[np.bool_]:
    bars = np.pad(barcode_modules(number), quiet).repeat(module_px)
    return np.broadcast_to(bars, (height_px, bars.size))


def barcode_png(number: str, *, module_px: int = 3, height_px: int = 90) -> bytes:
    """The Code 128 barcode as PNG (3 px = 0.254 mm per module at 300 dpi)."""
    return bilevel_png(_barcode_dark(number, module_px, height_px, BARCODE_QUIET))


def barcode_svg(number: str, *, module_mm: float = 0.254, height_mm: float = 8.0) -> str:
    """The Code 128 barcode as SVG, by python-barcode's SVGWriter, with the digits below."""
    value = parse_asxh_number(number).value
    buffer = io.BytesIO()
    Code128(value, writer=SVGWriter()).write(
        buffer,
        options={
            "module_width": module_mm,
            "module_height": height_mm,
            "quiet_zone": module_mm * BARCODE_QUIET,
            "font_size": 8,
            "text_distance": 3.5,
            "compress": False,
        },
    )
    return buffer.getvalue().decode("utf-8")


# ------------------------------------------------------------------------------------------
# Fonts


@functools.cache
def _font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans shipped as package data: no font is taken from the machine."""
    data = resources.files("asxh_card.issuing").joinpath("fonts", f"NotoSans-{weight}.ttf")
    # BASIC layout: names are NFC (precomposed letters), so no shaping engine is needed and the
    # output does not depend on whether Pillow was built with libraqm.
    return ImageFont.truetype(
        io.BytesIO(data.read_bytes()), size, layout_engine=ImageFont.Layout.BASIC
    )


def _fit_font(draw: ImageDraw.ImageDraw, text: str, weight: str, size: int, width: int) -> Any:
    """The largest font of at most ``size`` px (down to 60 %) in which ``text`` fits ``width``."""
    smallest = max(8, int(size * 0.6))
    for candidate in range(size, smallest - 1, -1):
        font = _font(weight, candidate)
        if draw.textlength(text, font=font) <= width:
            return font
    return _font(weight, smallest)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if not line or draw.textlength(trial, font=font) <= width:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


# ------------------------------------------------------------------------------------------
# The card

_INK: Final = (24, 32, 48)
_MUTED: Final = (96, 106, 124)
_HEADER: Final = (12, 63, 122)
_ACCENT: Final = (200, 32, 46)
_PAPER: Final = (255, 255, 255)
_SAFE_MARGIN_PX: Final = 35  # 3 mm at 300 dpi
_BADGE_COLOURS: Final[dict[str, tuple[int, int, int]]] = {
    "BHYT": (13, 110, 170),
    "BHXH": (26, 94, 160),
    "BHTN": (84, 84, 170),
    "TGXH": (196, 94, 20),
    "GN": (150, 110, 20),
    "NCC": (176, 30, 48),
}
_DEFAULT_BADGE: Final = (70, 90, 110)
_SHORT_NAMES: Final[dict[str, str]] = {
    "TGXH": "Trợ giúp xã hội",
    "NCC": "Người có công",
    "BHTN": "Trợ cấp thất nghiệp",
}
_KIND_NAMES: Final[dict[tuple[str, str], str]] = {
    ("GN", "poor"): "Hộ nghèo",
    ("GN", "near_poor"): "Hộ cận nghèo",
    ("BHXH", "pensioner"): "Hưởng lương hưu",
    ("BHXH", "participant"): "Người tham gia",
}


def _badge_label(entitlement: Entitlement, registry: ProgrammeRegistry | None) -> str:
    """The short Vietnamese line under a programme code (never a sensitive attribute)."""
    code = entitlement.programme
    attrs = entitlement.attributes
    if code == "BHYT" and "level" in attrs and "coverage" in attrs:
        # En dash on purpose: Vietnamese typography for "level 2 - 100 %".
        return f"Mức {attrs['level']} – {attrs['coverage']}%"  # noqa: RUF001
    kind = attrs.get("kind")
    if isinstance(kind, str) and (code, kind) in _KIND_NAMES:
        return _KIND_NAMES[code, kind]
    if code in _SHORT_NAMES:
        return _SHORT_NAMES[code]
    reg = registry or ProgrammeRegistry.default()
    return reg.get(code).name_vi if code in reg else code


def _vn_day(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, VN_TZ).date()


def _dmy(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def card_image(
    claims: CardClaims,
    qr: str | NDArray[np.bool_],
    *,
    registry: ProgrammeRegistry | None = None,
) -> Image.Image:
    """The card, ID-1 at 300 dpi (1011 x 638 px, RGB): text left, QR right, barcode bottom."""
    img = Image.new("RGB", (CARD_WIDTH_PX, CARD_HEIGHT_PX), _PAPER)
    draw = ImageDraw.Draw(img)
    w, h = img.size

    # Header band: title and the issuing province.
    header_h = 112
    draw.rectangle((0, 0, w, header_h), fill=_HEADER)
    draw.rectangle((0, header_h, w, header_h + 5), fill=_ACCENT)
    draw.text((40, 16), "THẺ AN SINH XÃ HỘI", font=_font("Bold", 42), fill="white")
    draw.text((42, 70), "Social Security Card", font=_font("Regular", 20), fill=(200, 218, 240))
    province = CURRENT_PROVINCES.get(claims.province, claims.province)
    right = w - 36
    font = _fit_font(draw, province, "Bold", 26, 430)
    draw.text((right, 26), province, font=font, fill="white", anchor="ra")
    draw.text(
        (right, 70),
        f"Số thẻ {claims.serial}",
        font=_font("Regular", 20),
        fill=(200, 218, 240),
        anchor="ra",
    )

    # QR on the right, on white with its 4-module quiet zone.
    matrix = _as_matrix(qr)
    qr_img = qr_image(matrix, scale=PRINT_MODULE_PX).convert("RGB")
    qr_x = w - 28 - qr_img.width
    qr_y = header_h + 14
    img.paste(qr_img, (qr_x, qr_y))
    draw.text(
        (qr_x + qr_img.width // 2, qr_y + qr_img.height + 2),
        "Quét mã QR để xác thực thẻ",
        font=_font("Regular", 17),
        fill=_MUTED,
        anchor="ma",
    )

    # Text on the left.
    left, col_w = 40, qr_x - 40 - 28
    label_font = _font("Regular", 18)

    def field(x: int, y: int, label: str, value: str, width: int) -> None:
        draw.text((x, y), label, font=label_font, fill=_MUTED)
        draw.text((x, y + 21), value, font=_fit_font(draw, value, "Bold", 28, width), fill=_INK)

    name = claims.holder.name.upper()
    y = header_h + 16
    draw.text((left, y), "Họ và tên", font=label_font, fill=_MUTED)
    name_font = _fit_font(draw, name, "Bold", 32, col_w)
    lines = _wrap(draw, name, name_font, col_w)[:2] if name_font.size < 24 else [name]
    if len(lines) > 1:
        name_font = _font("Bold", 26)
        lines = _wrap(draw, name, name_font, col_w)[:2]
    for i, line in enumerate(lines):
        draw.text((left, y + 21 + i * 32), line, font=name_font, fill=_INK)
    y += 21 + 32 * len(lines) + 14

    number = parse_asxh_number(claims.holder.asxh_number).formatted
    step = 60
    field(left, y, "Mã số ASXH", number, col_w)
    y += step
    half = col_w // 2
    field(left, y, "Ngày sinh", _dmy(claims.holder.date_of_birth), half - 10)
    field(left + half, y, "Giới tính", "Nam" if claims.holder.sex == "M" else "Nữ", half)
    y += step
    validity = f"{_dmy(_vn_day(claims.not_before))} – {_dmy(_vn_day(claims.expires_at))}"  # noqa: RUF001
    field(left, y, "Có giá trị", validity, col_w)
    y += step
    if claims.guardian is not None:
        role = "Người giám hộ" if claims.guardian.relation == "guardian" else "Người được ủy quyền"
        text = f"{role}: {claims.guardian.name}"
        draw.text((left, y), text, font=_fit_font(draw, text, "Regular", 19, col_w), fill=_INK)
        y += 28

    # Code 128 of the number along the bottom left, on white with its quiet zones.
    # Kept 3 mm (35 px) inside the cut edge: the safe area card printers keep clear, since a
    # cut can drift by a millimetre or more.
    bar = barcode_image(claims.holder.asxh_number, module_px=2, height_px=52).convert("RGB")
    bar_top = h - bar.height - _SAFE_MARGIN_PX
    img.paste(bar, (left - 2 * BARCODE_QUIET + 6, bar_top))

    # One badge per programme, three to a row, just above the barcode (or below the text when
    # the text runs long: the space between name and badges absorbs the difference).
    gap, per_row = 6, 3
    badges = claims.entitlements[: 2 * per_row]
    rows = (len(badges) + per_row - 1) // per_row
    badge_w, badge_h = (col_w - gap * (per_row - 1)) // per_row, 46
    y = max(y + 4, bar_top - 14 - rows * badge_h - (rows - 1) * gap)
    for i, ent in enumerate(badges):
        bx = left + (i % per_row) * (badge_w + gap)
        by = y + (i // per_row) * (badge_h + gap)
        colour = _BADGE_COLOURS.get(ent.programme, _DEFAULT_BADGE)
        draw.rounded_rectangle((bx, by, bx + badge_w, by + badge_h), radius=9, fill=colour)
        draw.text((bx + 10, by + 1), ent.programme, font=_font("Bold", 19), fill="white")
        label = _badge_label(ent, registry)
        draw.text(
            (bx + 10, by + 23),
            label,
            font=_fit_font(draw, label, "Regular", 15, badge_w - 16),
            fill="white",
        )
    return img


def card_png(claims: CardClaims, qr: str | NDArray[np.bool_], **kwargs: Any) -> bytes:
    """The card as PNG at 300 dpi."""
    return _png(card_image(claims, qr, **kwargs))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3, dpi=(PRINT_DPI, PRINT_DPI))
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------
# Print sheet (A4 PDF)

_MM: Final = 72 / 25.4  # PDF points per millimetre
A4_MM: Final = (210.0, 297.0)
SHEET_COLUMNS: Final = 2
SHEET_ROWS: Final = 5
CARDS_PER_PAGE: Final = SHEET_COLUMNS * SHEET_ROWS
_GAP_X_MM: Final = 8.0
_GAP_Y_MM: Final = 4.0


@dataclass(frozen=True, slots=True)
class SheetSlot:
    """Where a card sits on an A4 page: lower-left corner in mm from the page's lower left."""

    x_mm: float
    y_mm: float


def sheet_layout() -> list[SheetSlot]:
    """The 10 card positions of a page, row by row from the top, centred on A4."""
    grid_w = SHEET_COLUMNS * CARD_WIDTH_MM + (SHEET_COLUMNS - 1) * _GAP_X_MM
    grid_h = SHEET_ROWS * CARD_HEIGHT_MM + (SHEET_ROWS - 1) * _GAP_Y_MM
    x0 = (A4_MM[0] - grid_w) / 2
    top = A4_MM[1] - (A4_MM[1] - grid_h) / 2
    return [
        SheetSlot(
            x0 + col * (CARD_WIDTH_MM + _GAP_X_MM),
            top - (row + 1) * CARD_HEIGHT_MM - row * _GAP_Y_MM,
        )
        for row in range(SHEET_ROWS)
        for col in range(SHEET_COLUMNS)
    ]


def _crop_marks(slot: SheetSlot) -> str:
    """Crop marks at the four corners, outside the card, that never reach a neighbour."""
    offset = 0.6  # mm between the card edge and the mark
    length_x = min(3.0, _GAP_X_MM / 2 - offset - 0.3)
    length_y = min(3.0, _GAP_Y_MM / 2 - offset - 0.3)
    ops: list[str] = []
    for cx in (slot.x_mm, slot.x_mm + CARD_WIDTH_MM):
        sx = -1 if cx == slot.x_mm else 1
        for cy in (slot.y_mm, slot.y_mm + CARD_HEIGHT_MM):
            sy = -1 if cy == slot.y_mm else 1
            # Horizontal mark on the card's edge line, beside the corner.
            x1, x2 = cx + sx * offset, cx + sx * (offset + length_x)
            ops.append(f"{x1 * _MM:.2f} {cy * _MM:.2f} m {x2 * _MM:.2f} {cy * _MM:.2f} l S")
            # Vertical mark, above or below the corner.
            y1, y2 = cy + sy * offset, cy + sy * (offset + length_y)
            ops.append(f"{cx * _MM:.2f} {y1 * _MM:.2f} m {cx * _MM:.2f} {y2 * _MM:.2f} l S")
    return "\n".join(ops)


class _PdfWriter:
    """A minimal PDF 1.4 writer: pages with lossless (Flate) RGB images and vector lines.

    Pillow's PDF writer stores RGB pages as JPEG, which softens QR module edges; print shops
    get lossless images at true size here, with crop marks as vector strokes.
    """

    def __init__(self) -> None:
        self._objects: list[bytes] = []

    def add(self, body: bytes) -> int:
        self._objects.append(body)
        return len(self._objects)

    def reserve(self) -> int:
        return self.add(b"")

    def set(self, number: int, body: bytes) -> None:
        self._objects[number - 1] = body

    def stream(self, header: str, data: bytes) -> int:
        return self.add(
            f"<< {header} /Length {len(data)} >>\nstream\n".encode("ascii") + data + b"\nendstream"
        )

    def finish(self, root: int) -> bytes:
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(self._objects) + 1}\n0000000000 65535 f \n".encode("ascii")
        for offset in offsets:
            out += f"{offset:010d} 00000 n \n".encode("ascii")
        out += (
            f"trailer\n<< /Size {len(self._objects) + 1} /Root {root} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode("ascii")
        return bytes(out)


def print_sheet_pdf(cards: Iterable[Image.Image], *, crop_marks: bool = True) -> bytes:
    """A4 PDF pages with up to 10 cards each at true size (85.6 x 54 mm) and crop marks."""
    images = list(cards)
    if not images:
        raise ValueError("a print sheet needs at least one card")
    pdf = _PdfWriter()
    catalog = pdf.reserve()
    pages_obj = pdf.reserve()
    page_ids: list[int] = []
    slots = sheet_layout()
    for start in range(0, len(images), CARDS_PER_PAGE):
        chunk = images[start : start + CARDS_PER_PAGE]
        xobjects: list[str] = []
        content: list[str] = []
        for i, card in enumerate(chunk):
            rgb = card.convert("RGB")
            image_id = pdf.stream(
                f"/Type /XObject /Subtype /Image /Width {rgb.width} /Height {rgb.height} "
                "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode",
                zlib.compress(rgb.tobytes(), 6),
            )
            xobjects.append(f"/C{i} {image_id} 0 R")
            slot = slots[i]
            content.append(
                f"q {CARD_WIDTH_MM * _MM:.3f} 0 0 {CARD_HEIGHT_MM * _MM:.3f} "
                f"{slot.x_mm * _MM:.3f} {slot.y_mm * _MM:.3f} cm /C{i} Do Q"
            )
            if crop_marks:
                content.append(f"q 0.4 w 0 G\n{_crop_marks(slot)}\nQ")
        contents = pdf.stream("", "\n".join(content).encode("ascii"))
        page_ids.append(
            pdf.add(
                (
                    f"<< /Type /Page /Parent {pages_obj} 0 R "
                    f"/MediaBox [0 0 {A4_MM[0] * _MM:.3f} {A4_MM[1] * _MM:.3f}] "
                    f"/Resources << /XObject << {' '.join(xobjects)} >> >> "
                    f"/Contents {contents} 0 R >>"
                ).encode("ascii")
            )
        )
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    pdf.set(pages_obj, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode())
    pdf.set(catalog, f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode())
    return pdf.finish(catalog)


# ------------------------------------------------------------------------------------------
# Everything for one card


@dataclass(frozen=True, slots=True)
class CardRenderings:
    """All files of one issued card, keyed by file-name suffix (``-qr.png`` ...)."""

    files: dict[str, bytes]
    card: Image.Image


#: File-name suffixes of :func:`render_card`, after the serial.
OUTPUT_SUFFIXES: Final = (
    ".txt",
    ".jwt",
    "-qr.png",
    "-qr.svg",
    "-barcode.png",
    "-barcode.svg",
    "-card.png",
    "-print.pdf",
)


def render_card(
    issued: IssuedCard,
    *,
    registry: ProgrammeRegistry | None = None,
    screen_scale: int | None = None,
    print_sheet: bool = True,
) -> CardRenderings:
    """QR text, token, QR PNG/SVG, barcode PNG/SVG, card PNG and (optionally) a one-card sheet.

    The QR matrix is computed once and shared by every rendering. ``screen_scale`` renders the
    QR PNG at that many px per module instead of the 300 dpi print size.
    """
    matrix = qr_matrix(issued.qr_text)
    number = issued.claims.holder.asxh_number
    card = card_image(issued.claims, matrix, registry=registry)
    files = {
        ".txt": issued.qr_text.encode("ascii") + b"\n",
        ".jwt": issued.token.encode("ascii") + b"\n",
        "-qr.png": qr_png(matrix, scale=screen_scale or PRINT_MODULE_PX),
        "-qr.svg": qr_svg(matrix).encode("utf-8"),
        "-barcode.png": barcode_png(number),
        "-barcode.svg": barcode_svg(number).encode("utf-8"),
        "-card.png": _png(card),
    }
    if print_sheet:
        files["-print.pdf"] = print_sheet_pdf([card])
    return CardRenderings(files=files, card=card)
