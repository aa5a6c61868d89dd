"""One print-ready PDF for a whole batch, written as it goes (constant memory).

A4 pages of 2 x 5 cards at true size with crop marks (:mod:`.sheet`'s layout). Each card is
stored once as a lossless Flate image in a 64-colour palette (the faces are flat colours, black
text and a black-and-white QR: about 20 KB a card instead of 52 KB as RGB, and no JPEG edge
softening of QR modules). With ``backs=True`` every page of fronts is followed by its page of
backs, mirrored left-right for long-edge duplex printing. ``demo=True`` stamps every front with
a large diagonal DEMO mark: cards signed with demo keys must never pass for real ones.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import BinaryIO, Final

from PIL import Image, ImageDraw

from asxh_card.issuing.render.face import (
    CARD_HEIGHT_MM,
    CARD_HEIGHT_PX,
    CARD_WIDTH_MM,
    CARD_WIDTH_PX,
    font,
)
from asxh_card.issuing.render.sheet import (
    A4_MM,
    CARDS_PER_PAGE,
    SHEET_COLUMNS,
    crop_mark_ops,
    sheet_layout,
)

__all__ = ["BatchPdf", "card_back", "demo_mark"]

_MM: Final = 72 / 25.4
_PALETTE_COLOURS: Final = 64


def demo_mark(card: Image.Image) -> Image.Image:
    """``card`` with a diagonal red "DEMO - KHÔNG CÓ GIÁ TRỊ" across it (a new image)."""
    mark = Image.new("RGBA", card.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(mark)
    width, height = card.size
    draw.text(
        (width // 2, height // 2 - 40),
        "DEMO",
        font=font("Bold", 190),
        fill=(200, 0, 0, 150),
        anchor="mm",
    )
    draw.text(
        (width // 2, height // 2 + 95),
        "KHÔNG CÓ GIÁ TRỊ · NOT VALID",
        font=font("Bold", 40),
        fill=(200, 0, 0, 170),
        anchor="mm",
    )
    rotated = mark.rotate(18, resample=Image.Resampling.BICUBIC, center=(width // 2, height // 2))
    out = card.convert("RGBA")
    out.alpha_composite(rotated)
    return out.convert("RGB")


def card_back(issuer_name: str, verify_url: str | None = None) -> Image.Image:
    """The back of a card: who issued it, what to do with a found card, how to check it."""
    img = Image.new("RGB", (CARD_WIDTH_PX, CARD_HEIGHT_PX), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, CARD_WIDTH_PX, 70), fill=(14, 59, 112))
    draw.text((40, 16), "THẺ AN SINH XÃ HỘI", font=font("Bold", 32), fill="white")
    lines = [
        ("Bold", f"Cơ quan cấp: {issuer_name}"),
        ("Regular", "Thẻ chỉ có giá trị khi mã QR được xác thực."),
        ("Regular", "Nhặt được thẻ, xin gửi về cơ quan cấp thẻ hoặc UBND xã, phường gần nhất."),
        (
            "Regular",
            "Found this card? Please return it to the issuer or the nearest commune office.",
        ),
    ]
    if verify_url:
        lines.append(("Regular", f"Kiểm tra thẻ / Check the card: {verify_url}"))
    y = 100
    for weight, text in lines:
        size = 26 if weight == "Bold" else 22
        face = font(weight, size)
        while draw.textlength(text, font=face) > CARD_WIDTH_PX - 80 and size > 12:
            size -= 1
            face = font(weight, size)
        draw.text((40, y), text, font=face, fill=(30, 30, 30))
        y += size + 22
    return img


class BatchPdf:
    """Append cards (and optionally their backs) to one PDF file; :meth:`close` finishes it.

    Objects are written to the file as soon as a page is complete; only the byte offsets and
    the page ids stay in memory.
    """

    def __init__(self, path: Path, *, backs: bool = False, demo: bool = False) -> None:
        self.path = path
        self.backs = backs
        self.demo = demo
        self.cards = 0
        self._handle: BinaryIO = path.open("wb")
        self._offsets: list[int] = []
        self._position = 0
        self._pages: list[int] = []
        self._fronts: list[Image.Image] = []
        self._back_images: list[Image.Image | None] = []
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._catalog = self._reserve()
        self._pages_obj = self._reserve()

    # -- low level -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._handle.write(data)
        self._position += len(data)

    def _reserve(self) -> int:
        self._offsets.append(-1)
        return len(self._offsets)

    def _object(self, body: bytes, number: int | None = None) -> int:
        if number is None:
            number = self._reserve()
        self._offsets[number - 1] = self._position
        self._write(f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n")
        return number

    def _stream(self, header: str, data: bytes) -> int:
        return self._object(
            f"<< {header} /Length {len(data)} >>\nstream\n".encode("ascii") + data + b"\nendstream"
        )

    def _image(self, card: Image.Image) -> int:
        indexed = card.convert("RGB").quantize(
            colors=_PALETTE_COLOURS, method=Image.Quantize.MAXCOVERAGE
        )
        palette = (indexed.getpalette() or [])[: 3 * _PALETTE_COLOURS]
        palette += [0] * (3 * _PALETTE_COLOURS - len(palette))
        lookup = self._stream("", bytes(palette))
        return self._stream(
            f"/Type /XObject /Subtype /Image /Width {indexed.width} /Height {indexed.height} "
            f"/ColorSpace [/Indexed /DeviceRGB {_PALETTE_COLOURS - 1} {lookup} 0 R] "
            "/BitsPerComponent 8 /Filter /FlateDecode",
            zlib.compress(indexed.tobytes(), 6),
        )

    def _page(self, images: list[Image.Image | None], *, mirrored: bool, marks: bool) -> None:
        slots = sheet_layout()
        xobjects: list[str] = []
        content: list[str] = []
        for i, card in enumerate(images):
            if card is None:
                continue
            position = i
            if mirrored:  # the back of column 0 is printed in column 1 and vice versa
                row, col = divmod(i, SHEET_COLUMNS)
                position = row * SHEET_COLUMNS + (SHEET_COLUMNS - 1 - col)
            slot = slots[position]
            xobjects.append(f"/C{i} {self._image(card)} 0 R")
            content.append(
                f"q {CARD_WIDTH_MM * _MM:.3f} 0 0 {CARD_HEIGHT_MM * _MM:.3f} "
                f"{slot.x_mm * _MM:.3f} {slot.y_mm * _MM:.3f} cm /C{i} Do Q"
            )
            if marks:
                content.append(f"q 0.4 w 0 G\n{crop_mark_ops(slot)}\nQ")
        contents = self._stream("", "\n".join(content).encode("ascii"))
        self._pages.append(
            self._object(
                (
                    f"<< /Type /Page /Parent {self._pages_obj} 0 R "
                    f"/MediaBox [0 0 {A4_MM[0] * _MM:.3f} {A4_MM[1] * _MM:.3f}] "
                    f"/Resources << /XObject << {' '.join(xobjects)} >> >> "
                    f"/Contents {contents} 0 R >>"
                ).encode("ascii")
            )
        )

    def _flush(self) -> None:
        if not self._fronts:
            return
        self._page(list(self._fronts), mirrored=False, marks=True)
        if self.backs:
            self._page(list(self._back_images), mirrored=True, marks=False)
        self._fronts.clear()
        self._back_images.clear()

    # -- public ----------------------------------------------------------------------------

    def add(self, front: Image.Image, back: Image.Image | None = None) -> None:
        """Add one card (its back is used when the batch prints backs)."""
        self._fronts.append(demo_mark(front) if self.demo else front)
        self._back_images.append(back)
        self.cards += 1
        if len(self._fronts) == CARDS_PER_PAGE:
            self._flush()

    def close(self) -> int:
        """Finish the file; returns the number of pages. A batch needs at least one card."""
        self._flush()
        if not self._pages:
            self._handle.close()
            self.path.unlink(missing_ok=True)
            raise ValueError("a print batch needs at least one card")
        kids = " ".join(f"{p} 0 R" for p in self._pages)
        self._object(
            f"<< /Type /Pages /Kids [{kids}] /Count {len(self._pages)} >>".encode("ascii"),
            self._pages_obj,
        )
        self._object(
            f"<< /Type /Catalog /Pages {self._pages_obj} 0 R >>".encode("ascii"), self._catalog
        )
        xref = self._position
        self._write(f"xref\n0 {len(self._offsets) + 1}\n0000000000 65535 f \n".encode("ascii"))
        for offset in self._offsets:
            self._write(f"{offset:010d} 00000 n \n".encode("ascii"))
        self._write(
            (
                f"trailer\n<< /Size {len(self._offsets) + 1} /Root {self._catalog} 0 R >>\n"
                f"startxref\n{xref}\n%%EOF\n"
            ).encode("ascii")
        )
        self._handle.close()
        return len(self._pages)

    def abort(self) -> None:
        """Close and delete a half-written file."""
        self._handle.close()
        self.path.unlink(missing_ok=True)
