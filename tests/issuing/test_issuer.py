"""Issuance: the happy path and every refusal, the QR size budget, verification of issued cards."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.card import Guardian, verify_card
from asxh_card.errors import (
    CardTooLargeError,
    EntitlementError,
    IdentifierError,
    InvalidInputError,
)
from asxh_card.issuing import Issuer, new_serial, qr_version
from asxh_card.programmes import Entitlement

URI = "https://status.asxh.gov.vn/lists/79/1"
NOW_S = int(datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp())
LONG_NAME = "Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Ngọc Bảo Trâm"


def test_issue_happy_path_verifies(issuer, holder, guardian, bhyt_entitlement, lookup):
    """An issued card verifies with verify_card and carries exactly what was asked."""
    card = issuer.issue(
        holder,
        [bhyt_entitlement],
        guardian=guardian,
        status=StatusRef(90121, URI),
        not_before=date(2026, 1, 1),
        expires=date(2030, 12, 31),
    )
    assert card.qr_text.startswith("asxh:/")
    assert card.serial == "TEST00000000"
    assert card.qr_version == qr_version(card.qr_text) <= 20
    verified = verify_card(card.qr_text, keys=lookup, now=NOW_S)
    assert verified == card.claims
    assert verified.issuer == "vn-79"
    assert verified.province == "79"
    assert verified.guardian == guardian
    assert verified.issued_at == NOW_S
    # Dates are Vietnamese calendar days: start of 1 Jan, end of 31 Dec (UTC+07:00).
    assert verified.not_before == int(datetime(2025, 12, 31, 17, 0, tzinfo=UTC).timestamp())
    assert verified.expires_at == int(datetime(2030, 12, 31, 16, 59, 59, tzinfo=UTC).timestamp())


def test_names_are_nfc_normalised(issuer, holder, bhyt_entitlement, lookup, statuses):
    """A decomposed (NFD) name with stray spaces is signed as NFC with single spaces."""
    nfd = "  " + unicodedata.normalize("NFD", "Nguyễn  Thị Ngọc Hường") + " "
    card = issuer.issue(
        replace(holder, name=nfd),
        [bhyt_entitlement],
        expires=date(2030, 1, 1),
        status=statuses.ref(),
    )
    assert card.claims.holder.name == "Nguyễn Thị Ngọc Hường"
    assert verify_card(card.qr_text, keys=lookup, now=NOW_S).holder.name == "Nguyễn Thị Ngọc Hường"


def test_asxh_number_with_spaces_is_stored_compact(issuer, holder, bhyt_entitlement, statuses):
    """The display form PP NNNN NNNN C is accepted and signed as 11 digits."""
    card = issuer.issue(
        replace(holder, asxh_number="79 1598 8000 8"),
        [bhyt_entitlement],
        expires=date(2030, 1, 1),
        status=statuses.ref(),
    )
    assert card.claims.holder.asxh_number == "79159880008"


def test_refuses_never_on_card_attribute(issuer, holder, statuses):
    """A sensitive attribute (the reason for assistance) is refused with EntitlementError."""
    ent = Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000, "reason": "disability"})
    with pytest.raises(EntitlementError, match="may never appear on a card"):
        issuer.issue(holder, [ent], expires=date(2030, 1, 1), status=statuses.ref())


def test_refuses_never_on_card_attribute_in_any_spelling(issuer, holder, statuses):
    """Case and separators do not smuggle a never-on-card field through."""
    ent = Entitlement(
        "BHYT",
        date(2026, 1, 1),
        None,
        {"level": 2, "coverage": 100, "facility": "79-123", "BHYT-Group": "HN"},
    )
    with pytest.raises(EntitlementError, match="may never appear on a card"):
        issuer.issue(holder, [ent], expires=date(2030, 1, 1), status=statuses.ref())


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("79159880009", "check digit"),
        ("7915988000", "11 digits"),
        ("99159880008", "province"),
        ("79I59880008", "digits"),
    ],
)
def test_refuses_bad_asxh_number(issuer, holder, bhyt_entitlement, *, number, rule, statuses):
    """A bad mã số ASXH is refused with IdentifierError naming the rule, never echoing it."""
    with pytest.raises(IdentifierError, match=rule) as info:
        issuer.issue(
            replace(holder, asxh_number=number),
            [bhyt_entitlement],
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )
    assert number not in str(info.value)


def test_refuses_bad_guardian_number_and_self_guardian(issuer, holder, bhyt_entitlement, statuses):
    """The guardian's number is checked too, and a holder cannot be their own guardian."""
    with pytest.raises(IdentifierError):
        issuer.issue(
            holder,
            [bhyt_entitlement],
            guardian=Guardian("79428804830", "A B"),
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )
    with pytest.raises(InvalidInputError, match="another person"):
        issuer.issue(
            holder,
            [bhyt_entitlement],
            guardian=Guardian(holder.asxh_number, "A B"),
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"not_before": date(2027, 1, 1), "expires": date(2026, 12, 31)}, "after not_before"),
        ({"not_before": date(2025, 1, 1), "expires": date(2026, 1, 31)}, "in the past"),
        ({"not_before": date(2026, 1, 1), "expires": date(2037, 1, 1)}, "at most"),
        ({"not_before": date(2027, 6, 1), "expires": date(2030, 1, 1)}, "ahead"),
        ({"expires": datetime(2030, 1, 1)}, "timezone-aware"),  # noqa: DTZ001 - the point of the test
    ],
)
def test_refuses_bad_validity_window(issuer, holder, bhyt_entitlement, *, kwargs, rule, statuses):
    """Windows that make no sense are refused with InvalidInputError naming the rule."""
    with pytest.raises(InvalidInputError, match=rule):
        issuer.issue(holder, [bhyt_entitlement], **kwargs, status=statuses.ref())


def test_refuses_entitlement_outside_card_window(issuer, holder, statuses):
    """An entitlement that ended before the card starts, or starts after it ends, is refused."""
    ended = Entitlement("BHXH", date(2020, 1, 1), date(2025, 12, 31), {"kind": "pensioner"})
    with pytest.raises(EntitlementError, match="ends before"):
        issuer.issue(
            holder,
            [ended],
            not_before=date(2026, 3, 1),
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )
    late = Entitlement("BHXH", date(2031, 1, 1), None, {"kind": "pensioner"})
    with pytest.raises(EntitlementError, match="starts after"):
        issuer.issue(holder, [late], expires=date(2030, 1, 1), status=statuses.ref())


def test_refuses_bad_entitlements(issuer, holder, bhyt_entitlement, statuses):
    """Invalid attributes, duplicates, an empty list and unknown programmes are refused."""
    wrong = Entitlement(
        "BHYT", date(2026, 1, 1), None, {"level": 4, "coverage": 100, "facility": "79-123"}
    )
    with pytest.raises(EntitlementError, match="coverage"):
        issuer.issue(holder, [wrong], expires=date(2030, 1, 1), status=statuses.ref())
    with pytest.raises(EntitlementError, match="twice"):
        issuer.issue(
            holder,
            [bhyt_entitlement, bhyt_entitlement],
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )
    with pytest.raises(EntitlementError, match="1-16"):
        issuer.issue(holder, [], expires=date(2030, 1, 1), status=statuses.ref())
    with pytest.raises(EntitlementError, match="unknown programme"):
        issuer.issue(
            holder,
            [Entitlement("XYZ", date(2026, 1, 1))],
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )


def test_refuses_bad_holder_fields(issuer, holder, bhyt_entitlement, statuses):
    """Empty or non-letter names, a future birth date and a bad status URI are refused."""
    for name in ("  ", "Nguyễn <script>", "Lê 3", "- .", "Nguyễn\u200bAn"):
        bad = replace(holder, name=name)
        with pytest.raises(InvalidInputError, match="name"):
            issuer.issue(bad, [bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref())
    with pytest.raises(InvalidInputError, match="future"):
        issuer.issue(
            replace(holder, date_of_birth=date(2027, 1, 1)),
            [bhyt_entitlement],
            expires=date(2030, 1, 1),
            status=statuses.ref(),
        )
    with pytest.raises(EntitlementError, match="uri"):
        issuer.issue(
            holder, [bhyt_entitlement], status=StatusRef(1, "ftp://x"), expires=date(2030, 1, 1)
        )


@pytest.mark.parametrize(
    ("status", "rule"),
    [
        (StatusRef(-1, URI), "must not be negative"),
        (StatusRef(True, URI), "'idx' must be an integer"),  # type: ignore[arg-type]
        (StatusRef(1, 42), "'uri' must be a string"),  # type: ignore[arg-type]
        (StatusRef(1, "https://x/" + "a" * 200), "longer than"),
        ({"status_list": {"idx": 1, "uri": URI}}, "must be a StatusRef"),
    ],
)
def test_refuses_bad_card_status(issuer, holder, bhyt_entitlement, status, rule):
    """The card's status entry gets the verifier's rules before signing, each named."""
    with pytest.raises(InvalidInputError, match=rule):
        issuer.issue(holder, [bhyt_entitlement], status=status, expires=date(2030, 1, 1))


def test_issuer_construction_is_checked(key):
    """The issuer id, province and signer are checked when the Issuer is built."""
    with pytest.raises(InvalidInputError, match="issuer_id"):
        Issuer(issuer_id="VN 79", province="79", signer=key)
    with pytest.raises(InvalidInputError, match="province"):
        Issuer(issuer_id="vn-79", province="99", signer=key)
    with pytest.raises(InvalidInputError, match="Signer"):
        Issuer(issuer_id="vn-79", province="79", signer=object())  # type: ignore[arg-type]


def test_serials_are_random_short_and_url_safe():
    """Default serials: 12 base32 characters, all different."""
    serials = {new_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(re.fullmatch(r"[A-Z2-7]{12}", s) for s in serials)


def test_too_large_card_is_refused_with_specific_error(
    issuer, holder, guardian, largest_entitlements
):
    """A card over QR version 20 raises CardTooLargeError (before any rendering can happen).

    Six programmes with 100-character names and a 200-character status URI: within every
    per-field limit, but beyond the QR budget as a whole.
    """
    rng = random.Random(20)
    letters = (
        "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
    )

    def long_name() -> str:
        words = ["".join(rng.choice(letters) for _ in range(6)).title() for _ in range(14)]
        return " ".join(words)[:100].strip()

    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    uri = "https://" + "".join(rng.choice(alphabet) for _ in range(190))
    with pytest.raises(CardTooLargeError, match=r"QR version 2[1-9]"):
        issuer.issue(
            replace(holder, name=long_name()),
            largest_entitlements,
            guardian=replace(guardian, name=long_name()),
            status=StatusRef(99999, uri),
            expires=date(2030, 12, 31),
        )


def test_largest_realistic_card_fits_version_20(issuer, holder, guardian, largest_entitlements):
    """DESIGN §3: all six programmes, a guardian and a long name fit QR version 20 at ECC M."""
    card = issuer.issue(
        replace(holder, name=LONG_NAME),
        largest_entitlements,
        guardian=replace(guardian, name="Nguyễn Thị Ngọc Hường"),
        status=StatusRef(99999, URI),
        expires=date(2030, 12, 31),
    )
    assert card.qr_version <= 20


def test_typical_card_fits_version_17(issuer, holder, bhyt_entitlement):
    """DESIGN §3: a typical card (BHYT, card status) fits QR version 17."""
    card = issuer.issue(
        holder, [bhyt_entitlement], status=StatusRef(99999, URI), expires=date(2030, 12, 31)
    )
    assert card.qr_version <= 17


def test_example_sized_card_fits_version_20(issuer, holder, guardian, largest_entitlements):
    """Three programmes with a guardian (the examples/card.json shape) fit version 20."""
    ents = [e for e in largest_entitlements if e.programme in ("BHYT", "TGXH", "GN")]
    ents = [
        replace(e, attributes={"kind": "near_poor"}) if e.programme == "GN" else e for e in ents
    ]
    card = issuer.issue(
        holder, ents, guardian=guardian, status=StatusRef(90121, URI), expires=date(2030, 12, 31)
    )
    assert card.qr_version <= 20


def test_issue_many_is_lazy_and_stops_at_first_refusal(issuer, holder, bhyt_entitlement, statuses):
    """issue_many yields cards in order; a refused request raises when reached."""
    from asxh_card.issuing import CardRequest

    good = CardRequest(
        holder=holder,
        entitlements=(bhyt_entitlement,),
        expires=date(2030, 1, 1),
        status=statuses.ref(),
    )
    bad = replace(good, holder=replace(holder, asxh_number="79159880009"))
    cards = issuer.issue_many([good, good, bad, good])
    assert next(cards).serial != next(cards).serial
    with pytest.raises(IdentifierError):
        next(cards)


def test_eddsa_keys_issue_verifiable_cards(holder, bhyt_entitlement, statuses):
    """An Ed25519 signer is used exactly like an ES256 one (Signer interface)."""
    key = PrivateKey.generate("EdDSA")
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    card = Issuer(issuer_id="vn-79", province="79", signer=key, clock=lambda: now).issue(
        holder, [bhyt_entitlement], expires=date(2030, 1, 1), status=statuses.ref()
    )
    assert card.token.startswith("eyJhbGciOiJFZERTQSI")
    verified = verify_card(card.qr_text, keys=lambda _i, _k: key.public_key, now=NOW_S)
    assert verified.serial == card.serial


def test_issuer_imports_no_rendering_library():
    """Signing must not pull in Pillow or zxing-cpp (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys, asxh_card.issuing, asxh_card.cli;"
        "heavy={'PIL','zxingcpp','qrcode','barcode','numpy'};"
        "bad=[m for m in sys.modules if m.split('.')[0] in heavy];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_issuer_signs_with_its_own_registry(key, holder, lookup, child_benefit_registry, statuses):
    """A programme added by data only is issued with the Issuer's registry, and verifies."""
    registry = child_benefit_registry
    issuer = Issuer(
        issuer_id="vn-79",
        province="79",
        signer=key,
        registry=registry,
        clock=lambda: datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    )
    child = Entitlement("TE", date(2026, 1, 1), None, {"amount": 500_000})
    card = issuer.issue(holder, [child], expires=date(2030, 1, 1), status=statuses.ref())
    verified = verify_card(card.qr_text, keys=lookup, now=NOW_S, registry=registry)
    assert verified.entitlements[0].attributes == {"amount": 500_000}


def test_claim_names_are_checked_against_the_never_on_card_list(key):
    """Every claim name a card can carry, optional ones included, is checked once per Issuer."""
    import json
    from importlib import resources

    from asxh_card.programmes import ProgrammeRegistry

    data = json.loads(resources.files("asxh_card.data").joinpath("programmes.json").read_text())
    data["never_on_card"].append("rel")
    registry = ProgrammeRegistry.from_mapping(data)
    with pytest.raises(EntitlementError, match=r"claims\.gdn\.rel"):
        Issuer(issuer_id="vn-79", province="79", signer=key, registry=registry)
