"""Printable renderings of a card: QR code, Code 128 barcode, the ID-1 card and an A4 print sheet.

Needs the ``render`` extra (Pillow, numpy, zxing-cpp, qrcode, python-barcode); the base CLI
never imports this module.

The package is split by topic: :mod:`.qr` (the QR symbol and its files), :mod:`.barcode`
(Code 128), :mod:`.face` (the ID-1 card), :mod:`.sheet` (the A4 print sheet) and :mod:`.raster`
(PNG writing); every public name is importable from here, and :func:`render_card` makes all the
files of one issued card.

**Sizes.** A QR module is 4 px at 300 dpi in print (0.339 mm, above the 0.33 mm minimum) and
``scale`` px on screens; the quiet zone is always 4 modules. The card is ID-1, 85.6 x 54 mm,
1011 x 638 px at 300 dpi. The print sheet is A4 with 2 x 5 cards at true size and crop marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from asxh_card.issuing.render.barcode import (
    BARCODE_QUIET,
    barcode_image,
    barcode_modules,
    barcode_png,
    barcode_svg,
)
from asxh_card.issuing.render.face import (
    CARD_HEIGHT_MM,
    CARD_HEIGHT_PX,
    CARD_WIDTH_MM,
    CARD_WIDTH_PX,
    card_image,
    card_png,
)
from asxh_card.issuing.render.qr import (
    PRINT_MODULE_PX,
    QUIET_ZONE,
    qr_image,
    qr_matrix,
    qr_png,
    qr_svg,
)
from asxh_card.issuing.render.raster import PRINT_DPI, bilevel_png, image_png
from asxh_card.issuing.render.sheet import (
    A4_MM,
    CARDS_PER_PAGE,
    SHEET_COLUMNS,
    SHEET_ROWS,
    SheetSlot,
    print_sheet_pdf,
    sheet_layout,
)

if TYPE_CHECKING:
    from PIL import Image

    from asxh_card.issuing.issuer import IssuedCard
    from asxh_card.programmes import ProgrammeRegistry

__all__ = [
    "A4_MM",
    "BARCODE_QUIET",
    "CARDS_PER_PAGE",
    "CARD_HEIGHT_MM",
    "CARD_HEIGHT_PX",
    "CARD_WIDTH_MM",
    "CARD_WIDTH_PX",
    "OUTPUT_SUFFIXES",
    "PRINT_DPI",
    "PRINT_MODULE_PX",
    "QUIET_ZONE",
    "SHEET_COLUMNS",
    "SHEET_ROWS",
    "CardRenderings",
    "SheetSlot",
    "barcode_image",
    "barcode_modules",
    "barcode_png",
    "barcode_svg",
    "bilevel_png",
    "card_image",
    "card_png",
    "image_png",
    "print_sheet_pdf",
    "qr_image",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "render_card",
    "sheet_layout",
]


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
        "-card.png": image_png(card),
    }
    if print_sheet:
        files["-print.pdf"] = print_sheet_pdf([card])
    return CardRenderings(files=files, card=card)
