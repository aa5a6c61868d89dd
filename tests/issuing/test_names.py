"""The one name rule (asxh_card.names): ethnic-minority spellings accepted and normalised.

Issue 13 item 8. Names of the Central Highlands peoples (Ê Đê, Jarai, Bahnar, M'Nông) are
written with an apostrophe after a gender prefix (H'Hen, Y'Bih, K'Sor), which phones and word
processors type as the typographic U+2019; their alphabets have letters such as ŏ, ĕ, ŭ and ư̆,
the last of which has no precomposed form and keeps a combining breve after NFC.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from asxh_card.card import verify_card
from asxh_card.errors import InvalidInputError
from asxh_card.names import MAX_NAME_LENGTH, clean_person_name, normalise_name

NOW_S = int(datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp())

TYPOGRAPHIC = "H\u2019Hen Niê"  # as typed on a phone: RIGHT SINGLE QUOTATION MARK


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (TYPOGRAPHIC, "H'Hen Niê"),
        ("H\u02bcHen Niê", "H'Hen Niê"),  # MODIFIER LETTER APOSTROPHE
        ("H\u2018Hen  Niê ", "H'Hen Niê"),
        ("Y\u2011Ngông Niê Kdăm", "Y-Ngông Niê Kdăm"),  # NON-BREAKING HYPHEN
        ("Ksor H'Bơ Khăp", "Ksor H'Bơ Khăp"),
        ("Y Ŏn Niê Kdăm", "Y Ŏn Niê Kdăm"),
        ("Rơ Mah H\u2019Lư\u0306", "Rơ Mah H'Lư\u0306"),  # ư̆: ư + COMBINING BREVE
        ("Sùng A Páo", "Sùng A Páo"),
        ("Lò Văn Pâng", "Lò Văn Pâng"),
        (unicodedata.normalize("NFD", "Điểu K\u2019Lơi"), "Điểu K'Lơi"),
    ],
)
def test_real_spellings_are_accepted_and_normalised(typed: str, stored: str) -> None:
    """Typographic apostrophes and hyphens fold to ASCII; letters with breves and horns stay."""
    assert clean_person_name(typed, "holder name") == stored
    assert normalise_name(stored) == stored  # what the card format requires


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("  ", "must not be empty"),
        ("Nguyễn <script>", "only letters"),
        ("Lê 3", "only letters"),
        ("- .", "must contain a letter"),
        ("Nguyễn\u200bAn", "only letters"),  # zero-width space: invisible, refused
        ("\u0306An", "only letters"),  # a combining mark with no letter to sit on
        ("A" * (MAX_NAME_LENGTH + 1), "longer than"),
        (42, "must be text"),
    ],
)
def test_names_breaking_the_rule_are_refused(bad: object, rule: str) -> None:
    """Each refusal names the rule and not the name (personal data)."""
    with pytest.raises(InvalidInputError, match=rule) as caught:
        clean_person_name(bad, "holder name")
    assert "holder name" in str(caught.value)
    if isinstance(bad, str) and len(bad) > 3:
        assert bad not in str(caught.value)


def test_issuer_signs_the_typographic_name_in_ascii(
    issuer, holder, bhyt_entitlement, lookup, statuses
):
    """H(U+2019)Hen Niê is issued (old main refused it) and verifies as H'Hen Niê."""
    card = issuer.issue(
        replace(holder, name=TYPOGRAPHIC),
        [bhyt_entitlement],
        expires=date(2030, 1, 1),
        status=statuses.ref(),
    )
    assert card.claims.holder.name == "H'Hen Niê"
    assert verify_card(card.qr_text, keys=lookup, now=NOW_S).holder.name == "H'Hen Niê"
