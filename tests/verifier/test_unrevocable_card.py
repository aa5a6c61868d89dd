"""Attack "unrevocable card": a card that carries no status reference (issue 9 §2).

Such a card verified until its ``exp`` and could never be revoked: no status list names it, so a
stolen or wrongly issued card stayed valid for up to ten years. Every card must carry a status
reference (DESIGN.md §4): the codec refuses to sign or parse one without it, and the verifier
refuses it as ``invalid`` with its own stable reason, ``status_reference_missing``. The card is
validly signed by a key of the bundle, so only this rule stops it.
"""

from __future__ import annotations

import json

import pytest
from vworld import AT, World

from asxh_card import card as _card
from asxh_card._core.b64 import b64url_encode
from asxh_card._core.deflate import deflate_raw
from asxh_card._core.keys import PrivateKey
from asxh_card.errors import (
    InvalidInputError,
    MalformedError,
    Outcome,
    Reason,
    StatusReferenceMissingError,
    VerificationError,
)
from asxh_card.hazmat import verify_card


def _signed_without_status(
    world: World, signer: PrivateKey | None = None, *, kid: str | None = None
) -> str:
    """A card as an attacker holding an issuer key (or a buggy issuer) would sign it: the same
    claims as a valid card, minus ``status``, validly signed. The codec refuses to make one, so
    the JWS is assembled by hand."""
    signer = signer or world.key_79
    claims = world.claims().to_claims()
    del claims["status"]
    header = {"alg": signer.alg, "kid": kid or signer.kid, "typ": _card.CARD_TYP, "zip": "DEF"}
    body = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
    head = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{head}.{b64url_encode(deflate_raw(body))}"
    token = f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"
    return _card.qr_text(token)


def test_verifier_refuses_unrevocable_card_as_invalid(world: World) -> None:
    """Attack "unrevocable card": a validly signed card without a status reference is invalid
    (reason ``status_reference_missing``, not "cannot check"), with a Vietnamese message."""
    text = _signed_without_status(world)
    with pytest.raises(StatusReferenceMissingError) as info:
        world.verifier().verify(text, at=AT)
    err = info.value
    assert err.reason == Reason.STATUS_REFERENCE_MISSING == "status_reference_missing"
    assert err.outcome is Outcome.INVALID
    assert not err.cannot_check
    assert "thu hồi" in err.message("vi")
    assert "status reference" in err.message("en")
    # Still a malformed card by the wire format: callers catching MalformedError refuse it too.
    assert isinstance(err, MalformedError)


def test_same_card_with_status_reference_verifies(world: World) -> None:
    """Control: the same claims with their status reference verify, so the refusal above is
    the missing reference and nothing else."""
    result = world.verifier().verify(world.card(), at=AT)
    assert result.serial == "C0001"


def test_forged_unrevocable_card_is_still_bad_signature(world: World) -> None:
    """The signature is checked before the claims: an unrevocable card signed by a key the
    bundle does not hold under that kid reports ``bad_signature``, not the missing status."""
    forger = PrivateKey.generate()
    text = _signed_without_status(world, forger, kid=world.key_79.kid)
    with pytest.raises(VerificationError) as info:
        world.verifier().verify(text, at=AT)
    assert info.value.reason == Reason.BAD_SIGNATURE


def test_core_verify_card_refuses_unrevocable_card(world: World) -> None:
    """Attack "unrevocable card" against the low-level codec (``hazmat.verify_card``)."""
    text = _signed_without_status(world)
    key = world.key_79.public_key
    with pytest.raises(StatusReferenceMissingError):
        verify_card(text, keys=lambda _iss, _kid: key, now=world.claims().issued_at)


def test_codec_refuses_to_sign_a_card_without_status(world: World) -> None:
    """The codec will not build claims without a status reference: ``CardClaims(status=None)``
    raises :class:`InvalidInputError` in Vietnamese and English, so nothing can be signed."""
    with pytest.raises(InvalidInputError) as info:
        world.claims(status=None)
    assert "thu hồi" in info.value.message("vi")
    assert "status reference" in info.value.message("en")


def test_claims_parser_refuses_claims_without_status(world: World) -> None:
    """``CardClaims.from_claims`` (strict parsing) refuses a claim set without ``status``."""
    claims = world.claims().to_claims()
    del claims["status"]
    with pytest.raises(StatusReferenceMissingError):
        _card.CardClaims.from_claims(claims)
