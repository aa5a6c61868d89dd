"""Issuing cards: the :class:`Issuer`, key sets for rotation, renderings and bulk issuing.

The :class:`Issuer` builds and checks claims, signs them and enforces the size budget; with the
``render`` extra, :mod:`asxh_card.issuing.render` draws the QR, barcode, card and print sheet
and :mod:`asxh_card.issuing.bulk` issues batches in parallel.

Importing this package pulls in neither Pillow nor zxing-cpp: signing runs on the base install.
"""

from __future__ import annotations

from asxh_card.issuing.issuer import CardRequest, IssuedCard, Issuer, Moment, new_serial
from asxh_card.issuing.sizing import MAX_CARD_QR_VERSION, qr_version

__all__ = [
    "MAX_CARD_QR_VERSION",
    "CardRequest",
    "IssuedCard",
    "Issuer",
    "Moment",
    "new_serial",
    "qr_version",
]
