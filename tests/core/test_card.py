"""The signed card: claims model, signing, QR text and the core verification path."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from asxh_card import card as _card
from asxh_card._core import jws
from asxh_card._core.b64 import b64url_decode
from asxh_card._core.deflate import inflate_raw
from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card.errors import (
    EntitlementError,
    ExpiredError,
    InvalidInputError,
    MalformedError,
    NotYetValidError,
    PayloadTooLargeError,
    Reason,
    UnknownIssuerError,
    UnknownKeyError,
    VerificationError,
)
from asxh_card.programmes import ProgrammeRegistry

if TYPE_CHECKING:
    from conftest import Kit


def test_sign_and_verify_qr_text(any_key: PrivateKey, kit: Kit) -> None:
    """A signed card's QR text verifies back to the same claims."""
    claims = kit.claims()
    token = _card.sign_card(claims, any_key)
    text = _card.qr_text(token)
    assert text.startswith("asxh:/")
    assert _card.token_from_qr_text(text) == token
    verified = _card.verify_card(text, keys=kit.lookup(any_key), now=kit.now)
    assert verified == claims
    assert verified.to_claims() == claims.to_claims()


def test_bare_token_verifies_too(es256_key: PrivateKey, kit: Kit) -> None:
    """verify_card accepts the bare compact JWS as well as the QR text."""
    token = kit.card_token(es256_key)
    assert _card.verify_card(token, keys=kit.lookup(es256_key), now=kit.now).serial == "TEST0001"


def test_wire_format(es256_key: PrivateKey, kit: Kit) -> None:
    """Header exactly {alg, kid, typ, zip}; payload raw DEFLATE of compact UTF-8 JSON."""
    token = kit.card_token(es256_key)
    header, payload, signature = token.split(".")
    assert b64url_decode(header) == (
        f'{{"alg":"ES256","kid":"{es256_key.kid}","typ":"asxh-card+jwt","zip":"DEF"}}'.encode()
    )
    body = inflate_raw(b64url_decode(payload), limit=16_384)
    assert "Nguyễn Thị Minh Khai".encode() in body
    assert b": " not in body
    assert len(b64url_decode(signature)) == 64


def test_claims_member_order_and_optional_members(kit: Kit) -> None:
    """Claims come in a fixed order; gdn is left out when absent, status never is."""
    full = kit.claims().to_claims()
    assert list(full) == [
        "iss", "sub", "iat", "nbf", "exp", "jti", "v", "prov",
        "name", "dob", "sex", "ent", "status", "gdn",
    ]  # fmt: skip
    assert full["gdn"] == {"sub": kit.guardian_number, "name": "Trần Văn Bình", "rel": "guardian"}
    bare = kit.claims(guardian=None).to_claims()
    assert "status" in bare
    assert "gdn" not in bare
    assert _card.CardClaims.from_claims(bare) == kit.claims(guardian=None)


def test_from_claims_with_explicit_registry(kit: Kit) -> None:
    """A registry can be passed explicitly."""
    parsed = _card.CardClaims.from_claims(kit.claim_set(), registry=ProgrammeRegistry.default())
    assert parsed.entitlements[0].programme == "BHYT"


def test_normalise_name() -> None:
    """Names are NFC with single spaces."""
    decomposed = "Nguye\u0302\u0303n  Thi\u0323 "
    assert _card.normalise_name(decomposed) == "Nguyễn Thị"


def _refused(claim_set: Any) -> MalformedError:
    with pytest.raises(MalformedError) as info:
        _card.CardClaims.from_claims(claim_set)
    assert info.value.reason is Reason.MALFORMED
    return info.value


BAD_CLAIMS: list[tuple[str, Any, str]] = [
    ("v", 2, "version"),
    ("v", True, "version"),
    ("v", "1", "version"),
    ("iss", "VN-79", "iss"),
    ("iss", "", "iss"),
    ("iss", 79, "iss"),
    ("iss", "a" * 41, "iss"),
    ("jti", "", "jti"),
    ("jti", "a b", "jti"),
    ("jti", "x" * 41, "jti"),
    ("prov", "7", "prov"),
    ("prov", 79, "prov"),
    ("prov", "٧٩", "prov"),
    ("sex", "X", "sex"),
    ("sex", ["M"], "sex"),
    ("ent", [], "ent"),
    ("ent", {}, "ent"),
    ("ent", [{"p": "BHYT"}] * 17, "ent"),
    ("ent", [["NOPE", "2026-01-01", None]], "NOPE"),
    ("ent", [["TGXH", "2026-01-01", None, 1]] * 2, "twice"),
    ("ent", [["TGXH", "2026-01-01", None, 1, "x"]], "attribute values for"),
    ("ent", [{"p": "TGXH", "from": "2026-01-01", "a": {"amount": 1}}], "JSON array"),
    ("status", {"status_list": {"idx": -1, "uri": "https://x"}}, "idx"),
    ("status", {"idx": 1, "uri": "https://x"}, "status"),
    ("sub", "123", "sub"),
    ("sub", 12345678901, "sub"),
    ("sub", "79123456780", "sub"),
    ("name", "", "name"),
    ("name", "  ", "name"),
    ("name", 5, "name"),
    ("name", "A" * 101, "longer"),
    ("name", "Nguye\u0302\u0303n", "NFC"),
    ("name", "An  Bình", "NFC"),
    ("name", "An\u200bBình", "control"),
    ("dob", "15/03/1990", "dob"),
    ("dob", "1990-02-30", "calendar"),
    ("dob", 19900315, "dob"),
    ("gdn", {"sub": "x"}, "gdn"),
    ("gdn", [], "gdn"),
    ("gdn", {"sub": "79123456780", "name": "A", "rel": "guardian"}, "gdn.sub"),
    ("iat", "1780000000", "iat"),
    ("nbf", 1.78e9, "nbf"),
    ("exp", True, "exp"),
    ("exp", 1_780_000_000_000, "exp"),
]


@pytest.mark.parametrize(
    ("claim", "value", "match"),
    BAD_CLAIMS,
    ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(BAD_CLAIMS)],
)
def test_from_claims_refusals(kit: Kit, claim: str, value: Any, match: str) -> None:
    """Each claim is checked strictly and a bad one is malformed with the claim named."""
    err = _refused(kit.claim_set(**{claim: value}))
    assert match.lower() in str(err).lower()


def test_guardian_relation_and_name(kit: Kit) -> None:
    """gdn.rel must be guardian or authorised; gdn.name follows the name rules."""
    good = kit.claim_set()["gdn"]
    assert _card.CardClaims.from_claims(
        kit.claim_set(gdn={**good, "rel": "authorised"})
    ).guardian == _card.Guardian(kit.guardian_number, "Trần Văn Bình", "authorised")
    _refused(kit.claim_set(gdn={**good, "rel": "parent"}))
    _refused(kit.claim_set(gdn={**good, "name": " x"}))


@pytest.mark.parametrize(
    "claim", ["iss", "sub", "iat", "nbf", "exp", "jti", "v", "prov", "name", "dob", "sex", "ent"]
)
def test_missing_required_claim(kit: Kit, claim: str) -> None:
    """Every claim but status and gdn is required."""
    err = _refused(kit.claim_set(**{claim: None}))
    assert claim in str(err)


def test_unknown_claim_and_non_object(kit: Kit) -> None:
    """Unknown claims and non-object claim sets are malformed."""
    assert "unknown" in str(_refused({**kit.claim_set(), "pin": "001090012345"}))
    assert "object" in str(_refused([kit.claim_set()]))


def test_verify_unknown_kid(es256_key: PrivateKey, kit: Kit) -> None:
    """Keys are looked up by (issuer, kid): a kid the lookup does not know is unknown_key."""
    token = kit.card_token(es256_key)
    other = PrivateKey.generate("ES256")
    with pytest.raises(UnknownKeyError) as info:
        _card.verify_card(token, keys=kit.lookup(other), now=kit.now)
    assert info.value.reason is Reason.UNKNOWN_KEY


def test_verify_key_of_another_issuer(es256_key: PrivateKey, kit: Kit) -> None:
    """Cross-issuer key use: a key registered for another issuer is not found for this one."""
    token = kit.card_token(es256_key)
    with pytest.raises(UnknownKeyError):
        _card.verify_card(token, keys=kit.lookup(es256_key, issuer="vn-01"), now=kit.now)


def test_lookup_receives_issuer_and_kid(es256_key: PrivateKey, kit: Kit) -> None:
    """The lookup is asked exactly once for the token's (iss, kid)."""
    calls: list[tuple[str, str]] = []

    def lookup(issuer: str, kid: str) -> PublicKey | None:
        calls.append((issuer, kid))
        return es256_key.public_key

    _card.verify_card(kit.card_token(es256_key), keys=lookup, now=kit.now)
    assert calls == [(kit.issuer, es256_key.kid)]


def test_lookup_may_raise_a_verification_error(es256_key: PrivateKey, kit: Kit) -> None:
    """A lookup that raises UnknownIssuerError is passed through unchanged."""

    def lookup(issuer: str, kid: str) -> PublicKey | None:
        raise UnknownIssuerError(issuer)

    with pytest.raises(UnknownIssuerError) as info:
        _card.verify_card(kit.card_token(es256_key), keys=lookup, now=kit.now)
    assert info.value.reason is Reason.UNKNOWN_ISSUER


def test_missing_iss_is_malformed_before_lookup(es256_key: PrivateKey, kit: Kit) -> None:
    """Without a text iss there is nothing to look a key up by."""
    token = kit.token(kit.card_header(es256_key), kit.claim_set(iss=None), es256_key)
    with pytest.raises(MalformedError, match="iss"):
        _card.verify_card(token, keys=kit.lookup(es256_key), now=kit.now)


def test_expired_and_not_yet_valid(es256_key: PrivateKey, kit: Kit) -> None:
    """The injected clock decides expiry and not-before, with five minutes of leeway."""
    token = kit.card_token(es256_key)
    claims = kit.claims()
    lookup = kit.lookup(es256_key)
    _card.verify_card(token, keys=lookup, now=claims.expires_at + 300)
    with pytest.raises(ExpiredError) as expired:
        _card.verify_card(token, keys=lookup, now=claims.expires_at + 301)
    assert expired.value.reason is Reason.EXPIRED
    _card.verify_card(token, keys=lookup, now=claims.not_before - 300)
    with pytest.raises(NotYetValidError) as early:
        _card.verify_card(token, keys=lookup, now=claims.not_before - 301)
    assert early.value.reason is Reason.NOT_YET_VALID
    with pytest.raises(ExpiredError):
        _card.verify_card(token, keys=lookup, now=claims.expires_at + 1, leeway=0)


def test_default_clock_is_now(es256_key: PrivateKey, kit: Kit) -> None:
    """Without ``now`` the system clock is used (a card issued in 2020 is expired today)."""
    token = kit.card_token(
        es256_key, issued_at=1_577_836_800, not_before=1_577_836_800, expires_at=1_609_459_200
    )
    with pytest.raises(ExpiredError):
        _card.verify_card(token, keys=kit.lookup(es256_key))


def test_exp_before_nbf_is_malformed(es256_key: PrivateKey, kit: Kit) -> None:
    """A card whose exp precedes its nbf is malformed."""
    token = kit.card_token(es256_key, expires_at=kit.now - 2 * kit.day)
    with pytest.raises(MalformedError, match="before"):
        _card.verify_card(token, keys=kit.lookup(es256_key), now=kit.now)


def test_parse_card_jws_refuses_non_object_payload(es256_key: PrivateKey, kit: Kit) -> None:
    """A card payload must be a JSON object."""
    token = kit.token(kit.card_header(es256_key), b"[1,2]", es256_key)
    with pytest.raises(MalformedError, match="object"):
        _card.parse_card_jws(token)


def test_parse_card_jws_structure(es256_key: PrivateKey, kit: Kit) -> None:
    """parse_card_jws returns the parsed JWS and the payload before any key is involved."""
    parsed, payload = _card.parse_card_jws(kit.card_token(es256_key))
    assert isinstance(parsed, jws.CompactJWS)
    assert parsed.kid == es256_key.kid
    assert payload["sub"] == kit.holder_number


@pytest.mark.parametrize("value", [b"asxh:/00", None, 12, ["asxh:/"]])
def test_non_text_input_is_malformed(kit: Kit, es256_key: PrivateKey, value: Any) -> None:
    """Input that is not text is malformed, never a TypeError or AttributeError."""
    with pytest.raises(MalformedError):
        _card.verify_card(value, keys=kit.lookup(es256_key), now=kit.now)


def test_token_from_qr_text_checks() -> None:
    """token_from_qr_text refuses non-text, over-long text and bad digits."""
    with pytest.raises(MalformedError):
        _card.token_from_qr_text(None)  # type: ignore[arg-type]
    with pytest.raises(PayloadTooLargeError) as info:
        _card.token_from_qr_text("asxh:/" + "00" * 4000)
    assert info.value.reason is Reason.PAYLOAD_TOO_LARGE
    with pytest.raises(MalformedError, match="QR text"):
        _card.token_from_qr_text("asxh:/999")


def test_largest_realistic_card_fits_the_limits(es256_key: PrivateKey, kit: Kit) -> None:
    """Six programmes, a guardian and a long name stay inside CARD_LIMITS and the QR text cap."""
    from asxh_card.programmes import Entitlement

    ents = (
        Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 1_500_000}),
        Entitlement(
            "GN",
            date(2026, 1, 1),
            date(2026, 12, 31),
            {"kind": "near_poor", "household": "HH-0001-2026"},
        ),
        Entitlement("NCC", date(2026, 1, 1), None, {"amount": 2_789_000}),
        Entitlement(
            "BHYT",
            date(2026, 1, 1),
            date(2026, 12, 31),
            {"level": 2, "coverage": 100, "facility": "79-001"},
        ),
    )
    claims = kit.claims(
        entitlements=ents,
        holder=replace(kit.claims().holder, name="Tôn Nữ Thị " + "Hoàng " * 12 + "Anh"),
    )
    text = _card.qr_text(_card.sign_card(claims, es256_key))
    assert len(text) <= _card.MAX_QR_TEXT_LENGTH
    assert _card.verify_card(text, keys=kit.lookup(es256_key), now=kit.now) == claims


def test_verify_raises_only_verification_errors_for_lookup_type_errors(
    es256_key: PrivateKey, kit: Kit
) -> None:
    """A lookup returning a non-key ends as a verification error, not AttributeError."""

    def lookup(issuer: str, kid: str) -> Any:
        return "not a key"

    with pytest.raises(VerificationError):
        _card.verify_card(kit.card_token(es256_key), keys=lookup, now=kit.now)


def test_entitlements_take_the_entries_after_the_card(kit: Kit) -> None:
    """Status block: entitlement i gets entry card.idx + 1 + i of the card's list."""
    claims = kit.claims()
    assert claims.status is not None
    assert [e.status for e in claims.entitlements] == _card.status_block(
        claims.status, len(claims.entitlements)
    )
    assert [e.status.idx for e in claims.entitlements if e.status] == [31_338, 31_339]


def test_entitlement_status_outside_the_block_is_refused(kit: Kit) -> None:
    """An entitlement status that is not the card's entry + 1 + i cannot be encoded."""
    from asxh_card._core.statuslist import StatusRef

    ents = list(kit.claims().entitlements)
    ents[1] = replace(ents[1], status=StatusRef(5, kit.status_uri))
    with pytest.raises(InvalidInputError, match=r"entitlement 1 \(TGXH\) must use status entry"):
        kit.claims(entitlements=tuple(ents))


def test_card_without_status_is_refused_even_with_entitlement_entries(kit: Kit) -> None:
    """Attack "unrevocable card": entitlement entries follow the card's entry; a card without
    its own status reference is refused (not signed with only its entitlements' entries)."""
    with_entries = kit.claims().entitlements
    with pytest.raises(InvalidInputError, match="status reference"):
        kit.claims(entitlements=with_entries, status=None)
    with pytest.raises(InvalidInputError, match="status reference"):
        kit.claims(status={"idx": 1, "uri": kit.status_uri})


def test_block_survives_the_wire(es256_key: PrivateKey, kit: Kit) -> None:
    """Signed and verified, each entitlement keeps its own entry of the block."""
    claims = kit.claims()
    text = _card.qr_text(_card.sign_card(claims, es256_key))
    card = _card.verify_card(text, keys=kit.lookup(es256_key), now=kit.now)
    assert [e.status for e in card.entitlements] == [e.status for e in claims.entitlements]
    assert "status" not in str(card.to_claims()["ent"])


def test_programme_added_by_data_only_signs_and_verifies(
    es256_key: PrivateKey, kit: Kit, child_benefit_registry: ProgrammeRegistry
) -> None:
    """A registry with a seventh programme signs and verifies a card with it (issue 2 §3)."""
    from asxh_card.programmes import Entitlement

    registry = child_benefit_registry
    child = Entitlement("TE", date(2026, 1, 1), None, {"amount": 500_000})
    claims = kit.claims(entitlements=(child,))
    with pytest.raises(EntitlementError, match="unknown programme 'TE'"):
        _card.sign_card(claims, es256_key)  # the bundled registry does not know TE
    text = _card.qr_text(_card.sign_card(claims, es256_key, registry=registry))
    card = _card.verify_card(text, keys=kit.lookup(es256_key), now=kit.now, registry=registry)
    assert card.entitlements[0].attributes == {"amount": 500_000}
    assert card.to_claims(registry)["ent"] == [["TE", "2026-01-01", None, 500_000]]
