"""Bad input and trust attacks (issue §6): each test names the attack and the expected reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from vworld import AT, BASE_01, BASE_79, DAY, LIST_SIZE, T0, URI_01, URI_79, World

from asxh_card import card as _card
from asxh_card._core.b64 import b64url_decode, b64url_encode
from asxh_card._core.keys import P256_ORDER, PrivateKey
from asxh_card._core.statuslist import Status, StatusList, StatusRef, sign_status_list
from asxh_card.errors import StatusListInvalidError, VerificationError
from asxh_card.programmes import Entitlement
from asxh_card.trust import sign_bundle_payload
from asxh_card.verifier import Verifier


def reason_of(call) -> str:
    with pytest.raises(VerificationError) as info:
        call()
    return info.value.reason.value


# -- cards -------------------------------------------------------------------------------------


def test_unknown_issuer(world: World) -> None:
    """A card naming an issuer that is not in the bundle."""
    card = world.card(issuer="vn-48", province="48")
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "unknown_issuer"


def test_known_issuer_with_unknown_kid(world: World) -> None:
    """A card from a known issuer signed by a key the bundle does not list."""
    card = world.card(signer=PrivateKey.generate())
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "unknown_key"


def test_key_of_issuer_a_used_for_a_card_naming_issuer_b(world: World) -> None:
    """vn-01's (valid, listed) key signs a card that claims to come from vn-79."""
    card = world.card(signer=world.key_01)
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "unknown_key"


def test_key_used_before_its_window(world: World) -> None:
    """The card's iat is before the key's not_before."""
    card = world.card(issued_at=T0 - 400 * DAY, not_before=T0 - 400 * DAY)
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "key_outside_window"


def test_key_used_after_its_window(world: World) -> None:
    """A retired key (not_after in the past) signs a fresh card."""
    issuers = world.issuers()
    issuers[0]["keys"][0]["not_after"] = T0 - 2 * 3600
    world.list_claims[URI_79] = {"issued_at": T0 - 3 * 3600}
    verifier = world.verifier(bundle=world.bundle(issuers=issuers))
    card = world.card(issued_at=T0 - 1800, not_before=T0 - 1800)
    assert reason_of(lambda: verifier.verify(card, at=AT)) == "key_outside_window"


def test_programme_outside_the_issuers_scope(world: World) -> None:
    """vn-01 may sign BHYT only; it signs a TGXH entitlement."""
    card = world.card(
        signer=world.key_01,
        issuer="vn-01",
        province="01",
        status=StatusRef(10, URI_01),
        entitlements=(Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 500_000}),),
    )
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "issuer_out_of_scope"


def test_province_outside_the_issuers_scope(world: World) -> None:
    """vn-79 signs a card for province 01."""
    card = world.card(province="01")
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "issuer_out_of_scope"


def test_expired_card_beyond_leeway(world: World) -> None:
    card = world.card(expires_at=T0 - 301)
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "expired"


def test_expired_card_within_leeway_is_accepted(world: World) -> None:
    card = world.card(expires_at=T0 - 299)
    assert world.verifier().verify(card, at=AT).valid


def test_not_yet_valid_card_beyond_leeway(world: World) -> None:
    card = world.card(not_before=T0 + 301)
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "not_yet_valid"


def test_not_yet_valid_card_within_leeway_is_accepted(world: World) -> None:
    card = world.card(not_before=T0 + 299)
    assert world.verifier().verify(card, at=AT).valid


def test_leeway_is_configurable(world: World) -> None:
    card = world.card(not_before=T0 + 299)
    assert reason_of(lambda: world.verifier(leeway=0).verify(card, at=AT)) == "not_yet_valid"


def test_tampered_card(world: World) -> None:
    """One digit of the signature changed."""
    token = _card.sign_card(world.claims(), world.key_79)
    head, _, sig = token.rpartition(".")
    raw = bytearray(b64url_decode(sig))
    raw[5] ^= 1
    forged = f"{head}.{b64url_encode(bytes(raw))}"
    assert reason_of(lambda: world.verifier().verify(forged, at=AT)) == "bad_signature"


def test_garbage_text_is_malformed(world: World) -> None:
    verifier = world.verifier()
    for text in ("", "hello", "asxh:/123", "asxh:/99", "asxh:/" + "1" * 8000, "a.b.c"):
        assert reason_of(lambda t=text: verifier.verify(t, at=AT)) in (
            "malformed",
            "payload_too_large",
        )


def test_same_card_in_both_ecdsa_signature_forms_gives_the_same_status(world: World) -> None:
    """ECDSA allows (r, n-s) too: both forms verify, and status comes from the claims.

    Replay and serial identity use ``jti``, never the signature bytes (docs/verifier.md).
    """
    world.set_status(URI_79, 12, Status.REVOKED)
    token = _card.sign_card(world.claims(), world.key_79)
    head, _, sig = token.rpartition(".")
    raw = b64url_decode(sig)
    s = int.from_bytes(raw[32:], "big")
    twin = f"{head}.{b64url_encode(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"
    assert twin != token
    verifier = world.verifier()
    one, two = verifier.verify(token, at=AT), verifier.verify(twin, at=AT)
    assert one.serial == two.serial
    assert [e.state for e in one.entitlements] == [e.state for e in two.entitlements]
    world.set_status(URI_79, 10, Status.REVOKED)
    verifier = world.verifier()
    assert reason_of(lambda: verifier.verify(token, at=AT)) == "revoked"
    assert reason_of(lambda: verifier.verify(twin, at=AT)) == "revoked"


def test_status_index_out_of_range(world: World) -> None:
    card = world.card(status=StatusRef(10**6, URI_79))
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "status_list_invalid"


def test_status_uri_not_in_the_bundle(world: World) -> None:
    card = world.card(status=StatusRef(10, "https://evil.example/status"))
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "status_list_invalid"


def test_status_list_of_another_issuer(world: World) -> None:
    """vn-79's card points at vn-01's list: vn-01 must not decide vn-79's revocations."""
    card = world.card(status=StatusRef(10, URI_01))
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "status_list_invalid"


# -- bundles -----------------------------------------------------------------------------------


def test_bundle_with_a_bad_signature(world: World) -> None:
    head, _, sig = world.bundle().rpartition(".")
    forged = f"{head}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
    assert reason_of(lambda: world.verifier(bundle=forged)) == "bundle_invalid"


def test_bundle_signed_by_an_unpinned_root(world: World) -> None:
    token = sign_bundle_payload(world.payload(), PrivateKey.generate())
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_past_its_expiry(world: World) -> None:
    verifier = world.verifier(
        bundle=world.bundle(iat=T0 - 10 * DAY, exp=T0 - DAY), freshness_max=timedelta(days=30)
    )
    assert reason_of(lambda: verifier.verify(world.card(), at=AT)) == "bundle_stale"


def test_bundle_with_an_older_version_is_a_rollback(world: World, tmp_path) -> None:
    from asxh_card.verifier import BundleStore

    store = BundleStore(tmp_path)
    roots = [world.root.public_key]
    store.install(world.bundle(version=5), {}, roots=roots, now=T0)
    assert (
        reason_of(lambda: store.install(world.bundle(version=4), {}, roots=roots, now=T0))
        == "bundle_rollback"
    )
    same_version_other_content = world.bundle(version=5, exp=T0 + 20 * DAY)
    assert (
        reason_of(lambda: store.install(same_version_other_content, {}, roots=roots, now=T0))
        == "bundle_rollback"
    )
    assert store.install(world.bundle(version=6), {}, roots=roots, now=T0).version == 6


def test_parsed_bundle_of_an_unpinned_root_is_refused(world: World, tmp_path) -> None:
    """A TrustBundle verified with another root is handed to a verifier and to the store."""
    from asxh_card.verifier import BundleStore, parse_bundle

    other = PrivateKey.generate()
    foreign = parse_bundle(sign_bundle_payload(world.payload(), other), roots=[other.public_key])
    assert reason_of(lambda: world.verifier(bundle=foreign)) == "bundle_invalid"
    store = BundleStore(tmp_path)
    assert (
        reason_of(lambda: store.install(foreign, {}, roots=[world.root.public_key], now=T0))
        == "bundle_invalid"
    )
    assert list(tmp_path.iterdir()) == []


def test_bundle_with_a_duplicate_kid(world: World) -> None:
    issuers = world.issuers()
    issuers[1]["keys"] = issuers[0]["keys"]
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_with_a_duplicate_issuer(world: World) -> None:
    issuers = world.issuers()
    issuers[1]["id"] = "vn-79"
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_with_a_private_key_inside(world: World) -> None:
    issuers = world.issuers()
    private = world.key_79._key  # the private scalar, as a careless exporter would add it
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    d = private.private_numbers().private_value.to_bytes(32, "big")
    issuers[0]["keys"][0]["jwk"] = {**issuers[0]["keys"][0]["jwk"], "d": b64url_encode(d)}
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_with_a_key_of_the_wrong_curve(world: World) -> None:
    issuers = world.issuers()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    issuers[0]["keys"][0]["jwk"] = {
        "kty": "EC",
        "crv": "P-384",
        "x": b64url_encode(p384.x.to_bytes(48, "big")),
        "y": b64url_encode(p384.y.to_bytes(48, "big")),
    }
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_with_a_key_of_the_wrong_type(world: World) -> None:
    issuers = world.issuers()
    issuers[0]["keys"][0]["jwk"] = {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_with_an_unknown_member(world: World) -> None:
    payload = world.payload()
    payload["issuers"][0]["admin"] = True
    token = sign_bundle_payload(payload, world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_bundle_using_the_root_key_as_an_issuer_key(world: World) -> None:
    issuers = world.issuers()
    issuers[0]["keys"][0]["jwk"] = world.root.public_key.to_jwk()
    token = sign_bundle_payload(world.payload(issuers=issuers), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


def test_a_card_is_not_a_bundle(world: World) -> None:
    token = _card.sign_card(world.claims(), world.root)
    assert reason_of(lambda: world.verifier(bundle=token)) == "bundle_invalid"


# -- status lists ------------------------------------------------------------------------------


def _with_list(world: World, token: str, **options: Any) -> Verifier:
    """A verifier over the world's bundle holding ``token`` as vn-79's only list."""
    return world.verifier(status_tokens=[token, world.status_token(URI_01)], **options)


def test_status_list_signed_by_another_issuers_key(world: World) -> None:
    """Issuer vn-01 must not decide whether vn-79's cards are revoked (list under vn-79's base)."""
    token = sign_status_list(
        StatusList.empty(LIST_SIZE), world.key_01, uri=URI_79, issued_at=T0, ttl=DAY
    )
    assert reason_of(lambda: _with_list(world, token)) == "status_list_invalid"
    head, _, sig = world.status_token(URI_79).rpartition(".")
    forged = f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    assert reason_of(lambda: _with_list(world, forged)) == "status_list_invalid"


def test_status_list_signed_by_a_key_outside_any_bundle(world: World) -> None:
    """A list signed by a key the bundle does not name is refused."""
    token = sign_status_list(
        StatusList.empty(LIST_SIZE), PrivateKey.generate(), uri=URI_79, issued_at=T0, ttl=DAY
    )
    assert reason_of(lambda: _with_list(world, token)) == "status_list_invalid"


def test_status_list_outside_its_issuers_base(world: World) -> None:
    """vn-79's key may publish lists only under vn-79's status_base."""
    for uri in (BASE_01 + "7", "https://evil.example/v1/status/vn-79/1", BASE_79):
        token = sign_status_list(
            StatusList.empty(LIST_SIZE), world.key_79, uri=uri, issued_at=T0, ttl=DAY
        )
        assert reason_of(lambda t=token: _with_list(world, t)) == "status_list_invalid", uri


def test_status_list_signed_outside_its_keys_window(world: World) -> None:
    """A list whose iat is before the key's not_before (or after not_after) is refused."""
    token = sign_status_list(
        StatusList.empty(LIST_SIZE), world.key_79, uri=URI_79, issued_at=T0 - 400 * DAY, ttl=DAY
    )
    assert reason_of(lambda: _with_list(world, token)) == "status_list_invalid"


def test_status_list_smaller_than_131072_entries_is_refused(world: World) -> None:
    """A small list lets an index single a card holder out (DESIGN.md §4)."""
    token = sign_status_list(
        StatusList.empty(LIST_SIZE - 4), world.key_79, uri=URI_79, issued_at=T0, ttl=DAY
    )
    with pytest.raises(StatusListInvalidError, match="fewer than 131072"):
        _with_list(world, token)


def test_status_list_without_exp_or_ttl_is_refused(world: World) -> None:
    """A list that never goes stale would let an old copy hide a revocation for ever."""
    token = sign_status_list(StatusList.empty(LIST_SIZE), world.key_79, uri=URI_79, issued_at=T0)
    with pytest.raises(StatusListInvalidError, match="neither exp nor ttl"):
        _with_list(world, token)


def test_status_list_past_its_ttl(world: World) -> None:
    token = sign_status_list(
        StatusList.empty(131_072),
        world.key_79,
        uri=URI_79,
        issued_at=T0 - 3 * 3600,
        ttl=3600,
    )
    verifier = _with_list(world, token)
    assert reason_of(lambda: verifier.verify(world.card(), at=AT)) == "status_list_stale"
    lenient = _with_list(world, token, status_stale="warn")
    assert [w.code for w in lenient.verify(world.card(), at=AT).warnings] == ["status_list_stale"]


def test_status_list_past_its_exp(world: World) -> None:
    token = sign_status_list(
        StatusList.empty(131_072),
        world.key_79,
        uri=URI_79,
        issued_at=T0 - 3 * 3600,
        expires_at=T0 - 3600,
    )
    verifier = _with_list(world, token)
    assert reason_of(lambda: verifier.verify(world.card(), at=AT)) == "status_list_stale"


def test_status_list_malformed(world: World) -> None:
    from asxh_card._core import jws as _jws

    token = _jws.sign_compact(
        {"sub": URI_79, "iat": T0, "ttl": DAY, "status_list": {"bits": 2, "lst": "!!"}},
        world.key_79,
        typ="statuslist+jwt",
        compress=False,
    )
    assert reason_of(lambda: _with_list(world, token)) == "status_list_invalid"


def test_status_list_of_the_wrong_bit_size(world: World) -> None:
    token = sign_status_list(
        StatusList.empty(2 * LIST_SIZE, bits=1), world.key_79, uri=URI_79, issued_at=T0, ttl=DAY
    )
    assert reason_of(lambda: _with_list(world, token)) == "status_list_invalid"


def test_the_newer_of_two_lists_for_one_uri_is_used(world: World) -> None:
    """Of two lists for one URI the verifier keeps the newer (iat), whatever their order."""
    old = world.status_token(URI_79)
    world.set_status(URI_79, 10, Status.REVOKED)
    new = world.status_token(URI_79, issued_at=T0 - 60)
    for tokens in ([old, new], [new, old]):
        verifier = world.verifier(status_tokens=[*tokens, world.status_token(URI_01)])
        assert reason_of(lambda v=verifier: v.verify(world.card(), at=AT)) == "revoked"


def test_card_status_outside_its_issuers_base_is_invalid(world: World) -> None:
    """A vn-79 card pointing into vn-01's lists: vn-01 would decide its revocation."""
    card = world.card(status=StatusRef(10, URI_01))
    assert reason_of(lambda: world.verifier().verify(card, at=AT)) == "status_list_invalid"


def test_status_list_missing_cannot_check(world: World) -> None:
    """A card whose list is not held: cannot check (status_list_missing), not invalid."""
    verifier = world.verifier(status_tokens=[world.status_token(URI_01)])
    assert reason_of(lambda: verifier.verify(world.card(), at=AT)) == "status_list_missing"
    # The verifier starts without any list at all; only cards that need one are affected.
    assert reason_of(lambda: world.verifier(status_tokens=[]).verify(world.card(), at=AT)) == (
        "status_list_missing"
    )


def test_card_lifetime_beyond_the_maximum_is_refused(world: World) -> None:
    """A leaked key signs a backdated card valid until 2199: refused by the lifetime limit."""
    from datetime import timedelta

    backdated = world.card(
        issued_at=T0 - 30 * DAY, not_before=T0 - 30 * DAY, expires_at=7_258_118_400 - 1
    )
    assert reason_of(lambda: world.verifier().verify(backdated, at=AT)) == "lifetime_too_long"
    ten_years = world.card(expires_at=T0 - 30 * DAY + 3653 * DAY)
    assert world.verifier().verify(ten_years, at=AT).serial == "C0001"
    strict = world.verifier(max_card_lifetime=timedelta(days=300))
    assert reason_of(lambda: strict.verify(world.card(), at=AT)) == "lifetime_too_long"


def test_card_signed_after_its_keys_not_after_is_refused(world: World) -> None:
    """A retired key (not_after) must not sign new cards; its successor signs the lists."""
    successor = PrivateKey.generate()
    issuers = world.issuers()
    issuers[0]["keys"][0]["not_after"] = T0 - 20 * DAY
    issuers[0]["keys"].append({"jwk": successor.public_key.to_jwk(), "not_before": T0 - 20 * DAY})
    lists = [
        sign_status_list(world.lists[URI_79], successor, uri=URI_79, issued_at=T0 - 60, ttl=DAY),
        world.status_token(URI_01),
    ]
    verifier = world.verifier(bundle=world.bundle(issuers=issuers), status_tokens=lists)
    assert verifier.verify(world.card(), at=AT).serial == "C0001"  # iat T0 - 30 days
    late = world.card(issued_at=T0 - 10 * DAY, not_before=T0 - 10 * DAY)
    assert reason_of(lambda: verifier.verify(late, at=AT)) == "key_outside_window"
    # The retired key cannot sign a list any more either.
    stale_signer = world.status_token(URI_79)  # iat T0 - 3600, after not_after
    assert (
        reason_of(
            lambda: world.verifier(
                bundle=world.bundle(issuers=issuers), status_tokens=[stale_signer]
            )
        )
        == "status_list_invalid"
    )


def test_nothing_but_verification_errors_escape(world: World) -> None:
    verifier = world.verifier()
    for bad in (None, 42, b"asxh:/00", "asxh:/" + "00" * 3000):
        with pytest.raises(VerificationError):
            verifier.verify(bad, at=AT)  # type: ignore[arg-type]


def test_bundle_build_refuses_what_every_verifier_would_refuse(world: World) -> None:
    """build_bundle parses its bundle back, so a bundle verifiers refuse is never returned."""
    from asxh_card.trust import build_bundle

    issuers = world.issuers()
    issuers[1]["status_base"] = BASE_79 + "vn-01/"  # inside vn-79's base
    assert (
        reason_of(
            lambda: build_bundle(
                root=world.root, issuers=issuers, version=1, issued_at=T0, expires_at=T0 + DAY
            )
        )
        == "bundle_invalid"
    )
