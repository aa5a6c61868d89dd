"""The card face: ID-1 (85.6 x 54 mm), 1011 x 638 px at 300 dpi, drawn with Pillow.

Nothing on the never-on-card list is ever drawn: the card shows only the holder's name, number,
date of birth and sex, the validity, the issuing province, one badge per programme (BHYT with
its benefit level and coverage), the guardian's name when there is one, and the codes.
"""

from __future__ import annotations

import functools
import io
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from PIL import Image, ImageDraw, ImageFont

from asxh_card._core.timeutil import vn_day
from asxh_card.ids import parse_asxh_number
from asxh_card.issuing.render.barcode import BARCODE_QUIET, barcode_image
from asxh_card.issuing.render.qr import PRINT_MODULE_PX, _as_matrix, qr_image
from asxh_card.issuing.render.raster import PRINT_DPI, image_png
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.provinces import CURRENT_PROVINCES

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from asxh_card.card import CardClaims
    from asxh_card.programmes import Entitlement

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_HEIGHT_PX",
    "CARD_WIDTH_MM",
    "CARD_WIDTH_PX",
    "card_image",
    "card_png",
    "font",
]

#: ID-1 (ISO/IEC 7810) at 300 dpi: 85.6 mm x 54 mm.
CARD_WIDTH_MM: Final = 85.6
CARD_HEIGHT_MM: Final = 54.0
CARD_WIDTH_PX: Final = round(CARD_WIDTH_MM / 25.4 * PRINT_DPI)  # 1011
CARD_HEIGHT_PX: Final = round(CARD_HEIGHT_MM / 25.4 * PRINT_DPI)  # 638


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
    lines = _wrap(draw, name, name_font, col_w) if name_font.size < 24 else [name]
    if len(lines) > 1:
        name_font = _font("Bold", 26)
        lines = _shorten(draw, _wrap(draw, name, name_font, col_w), name_font, col_w)
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
    validity = f"{_dmy(vn_day(claims.not_before))} – {_dmy(vn_day(claims.expires_at))}"  # noqa: RUF001
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
    return image_png(card_image(claims, qr, **kwargs))
