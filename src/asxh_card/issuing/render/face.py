"""The card face: ID-1 (85.6 x 54 mm), 1011 x 638 px at 300 dpi, drawn with Pillow.

Nothing on the never-on-card list is ever drawn: the card shows only the holder's name, number,
date of birth and sex, the card's validity, the issuing province and authority, one line per
programme with its own dates under a neutral programme name (BHYT with its benefit level,
coverage and registered primary-care facility), the guardian's name when there is one, and the
codes. No kind, amount or reason is printed: "Hộ nghèo" or "Người có công" in large letters
would stigmatise the holder at every counter, and the QR carries what service points need.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from PIL import Image, ImageDraw, ImageFont

from asxh_card._core.timeutil import vn_day
from asxh_card.ids import parse_asxh_number
from asxh_card.issuing.render.barcode import BARCODE_QUIET, barcode_image
from asxh_card.issuing.render.qr import PRINT_MODULE_PX, _as_matrix, qr_image
from asxh_card.issuing.render.raster import PRINT_DPI, image_png
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.programmes.display import format_day, format_period
from asxh_card.provinces import CURRENT_PROVINCES

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from asxh_card.card import CardClaims

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_HEIGHT_PX",
    "CARD_WIDTH_MM",
    "CARD_WIDTH_PX",
    "FaceLine",
    "card_image",
    "card_png",
    "face_lines",
    "font",
]

#: ID-1 (ISO/IEC 7810) at 300 dpi: 85.6 mm x 54 mm.
CARD_WIDTH_MM: Final = 85.6
CARD_HEIGHT_MM: Final = 54.0
CARD_WIDTH_PX: Final = round(CARD_WIDTH_MM / 25.4 * PRINT_DPI)  # 1011
CARD_HEIGHT_PX: Final = round(CARD_HEIGHT_MM / 25.4 * PRINT_DPI)  # 638


# ------------------------------------------------------------------------------------------
# Fonts


#: Memoised text masks per font object before the memo is emptied: labels, programme names and
#: dates repeat from card to card, names and numbers do not. 512 masks of a line of text are
#: at most a few MB per font size.
_MASK_MEMO_LIMIT: Final = 512
#: Memoised text lengths per font object (floats: cheap).
_LENGTH_MEMO_LIMIT: Final = 4096


def _hashable(key: tuple[Any, ...]) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


class _MemoFont(ImageFont.FreeTypeFont):
    """A FreeType font that memoises rendered text masks and text lengths.

    Every card face draws the same labels, programme names, dates and authority in the same
    fonts; FreeType rendering was about half of a card's drawing time. A memoised mask is the
    very mask FreeType gives for the same text, font, mode, anchor and sub-pixel start, so the
    picture is unchanged (``tests/issuing/test_render.py`` compares it with an unmemoised
    rendering). Masks drawn in colour mode (``embedded_color``) are modified by Pillow after
    rendering, so they are never memoised (the face does not use that mode).
    """

    def __init__(self, font: io.BytesIO, size: int) -> None:
        super().__init__(font, size, layout_engine=ImageFont.Layout.BASIC)
        self._masks: dict[tuple[Any, ...], Any] = {}
        self._lengths: dict[tuple[Any, ...], float] = {}

    def getmask2(
        self, text: str | bytes, mode: str = "", *args: Any, **kwargs: Any
    ) -> tuple[Any, tuple[int, int]]:
        """The mask and offset of ``text`` (FreeType's, memoised: see the class)."""
        key = (text, mode, *args, *sorted(kwargs.items()))
        if mode == "RGBA" or not _hashable(key):
            return super().getmask2(text, mode, *args, **kwargs)
        found = self._masks.get(key)
        if found is None:
            if len(self._masks) >= _MASK_MEMO_LIMIT:
                self._masks.clear()
            found = self._masks[key] = super().getmask2(text, mode, *args, **kwargs)
        return found

    def getlength(self, text: str | bytes, *args: Any, **kwargs: Any) -> float:
        """The advance length of ``text`` (FreeType's, memoised)."""
        key = (text, *args, *sorted(kwargs.items()))
        if not _hashable(key):  # e.g. a list of OpenType features
            return super().getlength(text, *args, **kwargs)
        found = self._lengths.get(key)
        if found is None:
            if len(self._lengths) >= _LENGTH_MEMO_LIMIT:
                self._lengths.clear()
            found = self._lengths[key] = super().getlength(text, *args, **kwargs)
        return found


@functools.cache
def _font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans shipped as package data: no font is taken from the machine."""
    data = resources.files("asxh_card.issuing").joinpath("fonts", f"NotoSans-{weight}.ttf")
    # BASIC layout: names are NFC (precomposed letters), so no shaping engine is needed and the
    # output does not depend on whether Pillow was built with libraqm.
    return _MemoFont(io.BytesIO(data.read_bytes()), size)


def font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    """The card face's font (``"Regular"`` or ``"Bold"``) at ``size`` px."""
    return _font(weight, size)


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


def _shorten(draw: ImageDraw.ImageDraw, lines: list[str], font: Any, width: int) -> list[str]:
    """At most two lines; a name that needs more ends its second line with an ellipsis.

    Only the printed face is shortened: the QR (the signed card) carries the full name.
    """
    if len(lines) <= 2:
        return lines
    rest = " ".join(lines[1:])
    while rest and draw.textlength(rest + "…", font=font) > width:
        rest = rest[:-1].rstrip()
    return [lines[0], rest + "…"]


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
    "HTXH": (120, 80, 150),
}
_DEFAULT_BADGE: Final = (70, 90, 110)
#: What the face calls each programme: neutral names, never the reason ("Hộ nghèo", "Người có
#: công" printed large would stigmatise the holder at every counter; the QR keeps the kind and
#: the amount for the service points that need them).
_FACE_NAMES: Final[dict[str, str]] = {
    "TGXH": "Trợ giúp xã hội",
    "GN": "Hỗ trợ giảm nghèo",
    "NCC": "Chế độ ưu đãi",
    "BHXH": "Bảo hiểm xã hội",
    "BHYT": "Bảo hiểm y tế",
    "BHTN": "Trợ cấp thất nghiệp",
    "HTXH": "Trợ cấp hưu trí xã hội",
}


@dataclass(frozen=True, slots=True)
class FaceLine:
    """One programme line of the card face: its code, what is said about it, and its dates."""

    programme: str
    text: str
    dates: str
    extra: str = ""


def face_lines(claims: CardClaims, registry: ProgrammeRegistry | None = None) -> list[FaceLine]:
    """The programme lines of the face: each programme with its own dates.

    BHYT adds its benefit level and coverage and its registered primary-care facility (nơi
    đăng ký khám chữa bệnh ban đầu), which a clinic reads first. Only the programme name and
    the BHYT level are said: never a kind, an amount or a reason.
    """
    reg = registry or ProgrammeRegistry.default()
    lines = []
    for ent in claims.entitlements:
        code = ent.programme
        name = _FACE_NAMES.get(code) or (reg.get(code).name_vi if code in reg else code)
        text, extra = name, ""
        attrs = ent.attributes
        if code == "BHYT":
            if "level" in attrs and "coverage" in attrs:
                text = f"{name} · Mức {attrs['level']} ({attrs['coverage']}%)"
            if "facility" in attrs:
                extra = f"Nơi KCB ban đầu: {attrs['facility']}"
        lines.append(FaceLine(code, text, format_period(ent.valid_from, ent.valid_to), extra))
    return lines


def _authority_text(claims: CardClaims, authority: str | None) -> str:
    return f"Cơ quan cấp: {authority or claims.issuer}"


_HEADER_H: Final = 104


@functools.cache
def _blank_face() -> Image.Image:
    """What every card face has before its own data: paper, header band, title (copied per card)."""
    img = Image.new("RGB", (CARD_WIDTH_PX, CARD_HEIGHT_PX), _PAPER)
    draw = ImageDraw.Draw(img)
    w = img.width
    draw.rectangle((0, 0, w, _HEADER_H), fill=_HEADER)
    draw.rectangle((0, _HEADER_H, w, _HEADER_H + 4), fill=_ACCENT)
    draw.text((40, 12), "THẺ AN SINH XÃ HỘI", font=_font("Bold", 40), fill="white")
    draw.text((42, 62), "Social Security Card", font=_font("Regular", 19), fill=(200, 218, 240))
    return img


def card_image(
    claims: CardClaims,
    qr: str | NDArray[np.bool_],
    *,
    registry: ProgrammeRegistry | None = None,
    authority: str | None = None,
) -> Image.Image:
    """The card, ID-1 at 300 dpi (1011 x 638 px, RGB): text left, QR right, barcode bottom.

    ``authority`` is the issuing body's name (the service passes its issuer's name); without
    it the face names the issuer by its id, the one a verifier resolves.
    """
    img = _blank_face().copy()
    draw = ImageDraw.Draw(img)
    w, h = img.size
    header_h = _HEADER_H

    # Header band (title drawn once in _blank_face): the province, serial and authority.
    right = w - 36
    province = CURRENT_PROVINCES.get(claims.province, claims.province)
    draw.text(
        (right, 12),
        province,
        font=_fit_font(draw, province, "Bold", 24, 460),
        fill="white",
        anchor="ra",
    )
    light = (200, 218, 240)
    draw.text(
        (right, 44), f"Số thẻ {claims.serial}", font=_font("Regular", 18), fill=light, anchor="ra"
    )
    authority_text = _authority_text(claims, authority)
    draw.text(
        (right, 70),
        authority_text,
        font=_fit_font(draw, authority_text, "Regular", 18, 470),
        fill=light,
        anchor="ra",
    )

    # QR on the right, on white with its 4-module quiet zone.
    matrix = _as_matrix(qr)
    qr_img = qr_image(matrix, scale=PRINT_MODULE_PX).convert("RGB")
    qr_x = w - 28 - qr_img.width
    qr_y = header_h + 12
    img.paste(qr_img, (qr_x, qr_y))
    draw.text(
        (qr_x + qr_img.width // 2, qr_y + qr_img.height + 2),
        "Quét mã QR để xác thực thẻ",
        font=_font("Regular", 17),
        fill=_MUTED,
        anchor="ma",
    )

    # Identity on the left.
    left, col_w = 40, qr_x - 40 - 24
    label_font = _font("Regular", 17)
    y = header_h + 10
    draw.text((left, y), "Họ và tên", font=label_font, fill=_MUTED)
    name = claims.holder.name.upper()
    name_font = _fit_font(draw, name, "Bold", 30, col_w)
    name_lines = [name]
    if draw.textlength(name, font=name_font) > col_w:
        # Even 60 % does not fit: two lines at a readable size (never into the QR's quiet zone).
        name_font = _font("Bold", 24)
        name_lines = _shorten(draw, _wrap(draw, name, name_font, col_w), name_font, col_w)
    step = name_font.size + 4
    for i, text in enumerate(name_lines):
        draw.text((left, y + 19 + i * step), text, font=name_font, fill=_INK)
    y += 19 + step * len(name_lines) + 2

    number = parse_asxh_number(claims.holder.asxh_number).formatted
    cells = (
        ("Mã số ASXH", number, 0.44),
        ("Ngày sinh", format_day(claims.holder.date_of_birth), 0.34),
        ("Giới tính", "Nam" if claims.holder.sex == "M" else "Nữ", 0.22),
    )
    x = left
    for label, value, share in cells:
        width = int(col_w * share) - 8
        draw.text((x, y), label, font=label_font, fill=_MUTED)
        draw.text((x, y + 19), value, font=_fit_font(draw, value, "Bold", 24, width), fill=_INK)
        x += int(col_w * share)
    y += 19 + 30

    card_from, card_to = (
        format_day(vn_day(claims.not_before)),
        format_day(vn_day(claims.expires_at)),
    )
    validity = f"Thẻ có giá trị: {card_from} – {card_to}"  # noqa: RUF001
    draw.text((left, y), validity, font=_fit_font(draw, validity, "Regular", 19, col_w), fill=_INK)
    y += 25
    if claims.guardian is not None:
        role = "Người giám hộ" if claims.guardian.relation == "guardian" else "Người được ủy quyền"
        text = f"{role}: {claims.guardian.name}"
        draw.text((left, y), text, font=_fit_font(draw, text, "Regular", 19, col_w), fill=_INK)
        y += 25

    # Code 128 of the number along the bottom left, on white with its quiet zones.
    # Kept 3 mm (35 px) inside the cut edge: the safe area card printers keep clear, since a
    # cut can drift by a millimetre or more.
    bar = barcode_image(claims.holder.asxh_number, module_px=2, height_px=48).convert("RGB")
    bar_top = h - bar.height - _SAFE_MARGIN_PX
    img.paste(bar, (left - 2 * BARCODE_QUIET + 6, bar_top))

    # The programmes, one line each with their own dates (BHYT adds its facility line).
    y += 4
    draw.line((left, y, left + col_w, y), fill=(210, 216, 226), width=2)
    y += 6
    draw.text((left, y), "Chế độ được hưởng", font=label_font, fill=_MUTED)
    y += 21
    row_h, chip_w = 24, 64
    bottom = bar_top - 6
    lines = face_lines(claims, registry)
    for i, line in enumerate(lines):
        rows_needed = 2 if line.extra else 1
        if y + rows_needed * row_h > bottom and i < len(lines):
            more = f"… và {len(lines) - i} chế độ khác: quét mã QR"
            draw.text((left, y), more, font=_font("Regular", 17), fill=_MUTED)
            break
        colour = _BADGE_COLOURS.get(line.programme, _DEFAULT_BADGE)
        draw.rounded_rectangle((left, y + 1, left + chip_w, y + row_h - 2), radius=5, fill=colour)
        draw.text(
            (left + chip_w // 2, y + row_h // 2),
            line.programme,
            font=_fit_font(draw, line.programme, "Bold", 15, chip_w - 6),
            fill="white",
            anchor="mm",
        )
        dates_font = _font("Regular", 17)
        dates_w = int(draw.textlength(line.dates, font=dates_font))
        draw.text((left + col_w, y + 2), line.dates, font=dates_font, fill=_INK, anchor="ra")
        text_w = col_w - chip_w - 10 - dates_w - 10
        draw.text(
            (left + chip_w + 10, y + 1),
            line.text,
            font=_fit_font(draw, line.text, "Bold", 18, text_w),
            fill=_INK,
        )
        y += row_h
        if line.extra:
            draw.text(
                (left + chip_w + 10, y),
                line.extra,
                font=_fit_font(draw, line.extra, "Regular", 17, col_w - chip_w - 10),
                fill=_INK,
            )
            y += row_h
    return img


def card_png(claims: CardClaims, qr: str | NDArray[np.bool_], **kwargs: Any) -> bytes:
    """The card as PNG at 300 dpi."""
    return image_png(card_image(claims, qr, **kwargs))
