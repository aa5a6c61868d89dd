"""The one rule for a person's name on a card: how it is normalised and what it may contain.

Two levels, used everywhere a name enters the system (the issuer, the service's registration and
guardian routes, the card parser):

* :func:`normalise_name`: NFC with single spaces, so the same name always encodes to the same
  bytes. A card's name must already be in this form (``asxh_card.card`` refuses it otherwise).
* :func:`clean_person_name`: what an issuer accepts as a name: typographic apostrophes and
  hyphens folded to ASCII (``H\u2019Hen Niê`` becomes ``H'Hen Niê``), then normalised, at most
  :data:`MAX_NAME_LENGTH` characters, letters (with their combining marks), spaces and
  ``' - .`` only, and at least one letter.

Vietnamese and ethnic-minority names are written in Latin letters with diacritics; some letters
of the Ê Đê, Jarai and Bahnar alphabets (``ŏ``, ``ĕ``, ``ư̆``) have no precomposed form and keep
a combining breve after NFC, which is why a combining mark after a letter is allowed.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from asxh_card.errors import InvalidInputError

__all__ = ["MAX_NAME_LENGTH", "clean_person_name", "normalise_name"]

#: The longest name a card carries, in characters after normalisation.
MAX_NAME_LENGTH: Final = 100

# Apostrophes and hyphens as word processors, phones and the CCCD database type them. The
# apostrophe of Ê Đê and Jarai names (H'Hen, Y'Bih, K'Sor) is the ASCII one on the card.
_FOLD: Final = str.maketrans(
    {
        "\u2019": "'",  # right single quotation mark, as in a typed H'Hen
        "\u2018": "'",  # left single quotation mark
        "\u02bc": "'",  # modifier letter apostrophe
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent typed as an apostrophe
        "`": "'",
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2013": "-",  # en dash
    }
)
_PUNCTUATION: Final = frozenset(" '-.")


def normalise_name(name: str) -> str:
    """NFC with collapsed whitespace: the same name always encodes to the same bytes."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def clean_person_name(value: object, what: str = "name") -> str:
    """Return ``value`` as a card can carry it, or raise :class:`InvalidInputError`.

    ``what`` names the field in the message (``"holder name"``, ``"full_name"``). The message
    never repeats the name: it is personal data and messages end in logs.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text", message_vi="Họ tên phải là văn bản.")
    name = normalise_name(value.translate(_FOLD))
    if not name:
        raise InvalidInputError(f"{what} must not be empty", message_vi="Chưa nhập họ tên.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"{what} is longer than {MAX_NAME_LENGTH} characters",
            message_vi=f"Họ tên dài quá {MAX_NAME_LENGTH} ký tự.",
        )
    has_letter = False
    previous = " "
    for ch in name:
        if ch.isalpha():
            has_letter = True
        elif ch not in _PUNCTUATION and not (
            unicodedata.category(ch).startswith("M") and previous.isalpha()
        ):
            raise InvalidInputError(
                f"{what} may contain only letters, spaces, ' - and .",
                message_vi="Họ tên chỉ được có chữ cái, dấu cách và các dấu ' - .",
            )
        if not unicodedata.category(ch).startswith("M"):
            previous = ch
    if not has_letter:
        raise InvalidInputError(
            f"{what} must contain a letter", message_vi="Họ tên phải có ít nhất một chữ cái."
        )
    return name
