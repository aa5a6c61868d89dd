"""Card renderings through :mod:`asxh_card.issuing.render` (the ``render`` extra)."""

from __future__ import annotations

from asxh_card.card import CardClaims, parse_card_jws
from asxh_card.errors import InvalidInputError
from asxh_card.programmes import ProgrammeRegistry

__all__ = ["KINDS", "render"]

KINDS = ("qr.png", "qr.svg", "card.png", "print.pdf")


def render(
    kind: str,
    *,
    token: str,
    qr_text: str,
    registry: ProgrammeRegistry,
    authority: str | None = None,
) -> bytes:
    """``qr.png``, ``qr.svg``, ``card.png`` or ``print.pdf`` of a stored card.

    ``authority`` is the issuing body's name printed on the card face.
    """
    if kind not in KINDS:
        # Refused before the token is parsed or Pillow is imported.
        raise InvalidInputError(
            f"unknown rendering {kind[:20]!r}; one of {', '.join(KINDS)}",
            message_vi=f"Không có kiểu hiển thị {kind[:20]!r}; hãy chọn: {', '.join(KINDS)}.",
        )
    from asxh_card.issuing import render as r  # noqa: PLC0415 - heavy imports on demand

    if kind == "qr.png":
        return r.qr_png(qr_text, scale=8)
    if kind == "qr.svg":
        return r.qr_svg(qr_text).encode("utf-8")
    _header, payload = parse_card_jws(token)
    claims = CardClaims.from_claims(payload, registry=registry)
    matrix = r.qr_matrix(qr_text)
    if kind == "card.png":
        return r.card_png(claims, matrix, registry=registry, authority=authority)
    return r.print_sheet_pdf([r.card_image(claims, matrix, registry=registry, authority=authority)])
