"""The card's QR code: the symbol matrix (zxing-cpp / libzint) and its PNG, SVG and image forms.

:func:`qr_matrix` asks the zxing-cpp encoder (libzint inside, 3.x) for
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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
import qrcode
import zxingcpp
from PIL import Image
from qrcode.util import MODE_8BIT_BYTE, MODE_NUMBER, QRData

from asxh_card._core.qrtext import QR_PREFIX
from asxh_card.issuing.render.raster import PRINT_DPI, bilevel_png

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["PRINT_MODULE_PX", "QUIET_ZONE", "qr_image", "qr_matrix", "qr_png", "qr_svg"]

#: 4 px at 300 dpi = 0.339 mm per module, above the 0.33 mm print minimum.
PRINT_MODULE_PX: Final = 4
#: Quiet zone around the QR, in modules (ISO/IEC 18004 requires 4).
QUIET_ZONE: Final = 4


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
