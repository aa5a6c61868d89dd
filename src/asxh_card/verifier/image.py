"""Reading a card's QR code from an image or a phone photo (the ``scan`` extra).

Pillow and zxing-cpp are imported inside :func:`read_card_qr` only, so ``pip install asxh-card``
without extras still verifies from text. zxing-cpp finds QR codes in any rotation, under
perspective, blur and JPEG artefacts (shared/reference/performance-notes.md: 100 % on such
photos where pyzbar and OpenCV fail); a second pass with a different binarizer and an upscaled
grey image catches small or low-contrast codes in large photos.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asxh_card._core.qrtext import QR_PREFIX
from asxh_card.errors import MalformedError, PayloadTooLargeError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "read_card_qr", "read_qr_texts"]

#: A phone photo is a few MB; anything far larger is not a card photo.
MAX_IMAGE_BYTES = 40 * 1024 * 1024
#: 50 megapixels: refused before decoding the pixels (decompression bombs).
MAX_IMAGE_PIXELS = 50_000_000

_NO_QR_VI = (
    "Không đọc được mã QR trên ảnh. Hãy chụp lại: đủ ánh sáng, ảnh rõ nét, "
    "mã QR nằm trọn trong khung hình."
)
_NO_QR_EN = (
    "No QR code could be read from the image. Take the photo again: good light, sharp, "
    "the whole QR code inside the frame."
)
_NOT_CARD_VI = "Mã QR trên ảnh không phải là thẻ ASXH."
_NOT_CARD_EN = "The QR code in the image is not an ASXH card."
_NOT_IMAGE_VI = "Tệp không phải là ảnh hoặc ảnh bị hỏng."
_NOT_IMAGE_EN = "The file is not an image, or the image is damaged."


def _open(image: str | os.PathLike[str] | bytes | Image) -> Image:
    try:
        from PIL import Image as PILImage  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "reading images needs the scan extra: pip install 'asxh-card[scan]'", name=exc.name
        ) from None
    if isinstance(image, PILImage.Image):
        return image
    if isinstance(image, bytes):
        data = image
    else:
        try:
            # Bounded read, not stat + read_bytes: a device or a pipe (/dev/zero) has size 0.
            with Path(image).open("rb") as handle:
                data = handle.read(MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            raise MalformedError(
                f"cannot read the image: {exc.strerror}",
                message_vi=_NOT_IMAGE_VI,
                message_en=_NOT_IMAGE_EN,
            ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLargeError(f"image larger than {MAX_IMAGE_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            # Pillow warns (DecompressionBombWarning) before it refuses; we refuse ourselves.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            opened = PILImage.open(io.BytesIO(data))  # reads the header only
            width, height = opened.size
            if width * height <= MAX_IMAGE_PIXELS:
                opened.load()
    except PILImage.DecompressionBombError:
        # Pillow's own limit, from the declared dimensions, before decoding: too large, not
        # malformed (a PNG declaring 100,000 x 100,000 pixels).
        raise PayloadTooLargeError(f"image larger than {MAX_IMAGE_PIXELS} pixels") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MalformedError(
            f"not a readable image: {type(exc).__name__}",
            message_vi=_NOT_IMAGE_VI,
            message_en=_NOT_IMAGE_EN,
        ) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise PayloadTooLargeError(f"image larger than {MAX_IMAGE_PIXELS} pixels")
    return opened


def _texts(image: Image, zxingcpp: Any) -> list[str]:
    results = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    return [r.text for r in results if r.valid and r.text]


def read_qr_texts(image: str | os.PathLike[str] | bytes | Image) -> list[str]:
    """The texts of every QR code in ``image`` (path, bytes or Pillow image), maybe none.

    The size caps apply before decoding (:class:`~asxh_card.errors.PayloadTooLargeError`); a
    file that is not an image raises :class:`~asxh_card.errors.MalformedError`. The service
    reads CCCD chip-card QR codes through this too, with the same caps and second pass.
    """
    try:
        import zxingcpp  # noqa: PLC0415 - optional extra
        from PIL import ImageOps  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "reading images needs the scan extra: pip install 'asxh-card[scan]'", name=exc.name
        ) from None
    picture = _open(image)
    if picture.mode not in ("L", "RGB"):
        picture = picture.convert("RGB")
    texts = _texts(picture, zxingcpp)
    if not texts:
        # Second pass for hard photos: grey, autocontrast, and upscaled if the photo is small.
        grey = ImageOps.autocontrast(ImageOps.exif_transpose(picture).convert("L"))
        if max(grey.size) < 1000:
            grey = grey.resize((grey.width * 2, grey.height * 2))
        results = zxingcpp.read_barcodes(
            grey,
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
            binarizer=zxingcpp.Binarizer.GlobalHistogram,
        )
        texts = [r.text for r in results if r.valid and r.text]
    return texts


def read_card_qr(image: str | os.PathLike[str] | bytes | Image) -> str:
    """The ``asxh:/`` text of the card QR in ``image`` (path, bytes or Pillow image).

    Raises :class:`~asxh_card.errors.MalformedError` (clerk-friendly Vietnamese message) when no
    QR can be read, or when the QR codes found are not ASXH cards.
    """
    texts = read_qr_texts(image)
    if not texts:
        raise MalformedError(
            "no QR code found in the image", message_vi=_NO_QR_VI, message_en=_NO_QR_EN
        )
    for text in texts:
        if text.startswith(QR_PREFIX):
            return text
    raise MalformedError(
        "the QR code in the image is not an asxh:/ card",
        message_vi=_NOT_CARD_VI,
        message_en=_NOT_CARD_EN,
    )
