"""Issue 13: the programme registry against the Vietnamese reference (domain-vn.md).

Every figure here is taken from the reference, not from the code: §4.1 (TGXH base level 360,000
from 2021-07-01 and 500,000 from 2024-07-01, monthly allowance = base x coefficient), §4.2 (social
pension, trợ cấp hưu trí xã hội, 500,000 VND/month from 2025-07-01 under Decree 176/2025/ND-CP)
and §2.4 (the BHYT card prints the primary-care facility as "PP - NNN").
"""

from __future__ import annotations

from datetime import date

import pytest

from asxh_card.errors import EntitlementError
from asxh_card.programmes import (
    Entitlement,
    Programme,
    ProgrammeRegistry,
    normalise_facility_code,
)


def _social_pension() -> Programme:
    registry = ProgrammeRegistry.default()
    matches = [p for p in registry if "hưu trí xã hội" in p.name_vi.casefold()]
    assert len(matches) == 1, "the registry has exactly one social-pension programme"
    return matches[0]


def test_social_pension_is_a_programme_of_the_registry() -> None:
    """§4.2: trợ cấp hưu trí xã hội, Decree 176/2025/ND-CP, from 2025-07-01, 500,000 đ/month."""
    programme = _social_pension()
    code = programme.code
    assert "176/2025" in programme.legal_basis
    assert "75" in programme.notes  # the age condition
    ok = Entitlement(code, date(2025, 7, 1), None, {"amount": 500_000})
    ok.validate_for_issuing()
    with pytest.raises(EntitlementError, match="starts on 2025-07-01"):
        Entitlement(code, date(2025, 6, 30), None, {"amount": 500_000}).validate_for_issuing()
    with pytest.raises(EntitlementError, match="500,000"):
        Entitlement(code, date(2026, 1, 1), None, {"amount": 400_000}).validate_for_issuing()
    # Provinces may add to it (§4.2): more than the floor is accepted.
    Entitlement(code, date(2026, 1, 1), None, {"amount": 650_000}).validate_for_issuing()


@pytest.mark.parametrize(
    ("start", "amount", "accepted"),
    [
        (date(2024, 7, 1), 500_000, True),  # 500,000 x 1.0
        (date(2026, 1, 1), 750_000, True),  # x 1.5 (severe disability, Art. 5(6))
        (date(2026, 1, 1), 1_250_000, True),  # x 2.5, the highest disability amount
        (date(2024, 6, 30), 360_000, True),  # before Decree 76/2024: base 360,000
        (date(2024, 7, 1), 360_000, False),  # the old base after the 2024 rise
        (date(2026, 1, 1), 750, False),  # typed in thousands
    ],
)
def test_tgxh_amounts_follow_the_base_level_in_force(
    start: date, amount: int, accepted: bool
) -> None:
    """§4.1: the monthly TGXH allowance is at least the base level in force on its start date."""
    entitlement = Entitlement("TGXH", start, None, {"amount": amount})
    if accepted:
        entitlement.validate_for_issuing()
    else:
        with pytest.raises(EntitlementError, match="below the legal minimum"):
            entitlement.validate_for_issuing()


def test_amount_in_thousands_is_refused_with_a_clear_message() -> None:
    """750 for 750,000 đ: the message says amounts are in đồng, not thousands, and not the value."""
    with pytest.raises(EntitlementError) as caught:
        Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750}).validate_for_issuing()
    message = str(caught.value)
    assert "not thousands" in message
    assert "500,000" in message
    assert "750" not in message.replace("750,000", "")


def test_verifier_reads_cards_whatever_the_amount_floor() -> None:
    """The floor is an issuing rule: validate() (what a verifier runs) does not apply it."""
    Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750}).validate()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("79 - 024", "79-024"),
        ("79-024", "79-024"),
        ("79024", "79-024"),
        (" 01 \u2013 001 ", "01-001"),
    ],
)
def test_facility_codes_as_printed_on_bhyt_cards_are_normalised(typed: str, stored: str) -> None:
    """§2.4: the facility is printed "PP - NNN"; it is accepted and stored as PP-NNN."""
    assert normalise_facility_code(typed) == stored
    bhyt = ProgrammeRegistry.default().get("BHYT")
    attributes = bhyt.normalise_attributes({"level": 2, "coverage": 100, "facility": typed})
    assert attributes["facility"] == stored
    Entitlement("BHYT", date(2026, 1, 1), None, attributes).validate_for_issuing()


@pytest.mark.parametrize("typed", ["79 - 24", "7 - 024", "79 / 024", "٧٩-٠٢٤"])
def test_other_facility_shapes_are_still_refused(typed: str) -> None:
    """Only the printed shape is folded; anything else reaches the schema and is refused."""
    bhyt = ProgrammeRegistry.default().get("BHYT")
    attributes = bhyt.normalise_attributes({"level": 2, "coverage": 100, "facility": typed})
    with pytest.raises(EntitlementError, match="facility"):
        Entitlement("BHYT", date(2026, 1, 1), None, attributes).validate_for_issuing()
