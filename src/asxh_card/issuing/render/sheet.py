"""The A4 print sheet: 2 x 5 cards at true size with crop marks, as a lossless PDF."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from PIL import Image

from asxh_card.issuing.render.face import CARD_HEIGHT_MM, CARD_WIDTH_MM

__all__ = [
    "A4_MM",
    "CARDS_PER_PAGE",
    "SHEET_COLUMNS",
    "SHEET_ROWS",
    "SheetSlot",
    "crop_mark_ops",
    "print_sheet_pdf",
    "sheet_layout",
]

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


def crop_mark_ops(slot: SheetSlot) -> str:
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
                content.append(f"q 0.4 w 0 G\n{crop_mark_ops(slot)}\nQ")
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
