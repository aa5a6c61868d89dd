"""Interop with independent JOSE libraries: PyJWT and joserfc (test-only peers).

Neither library implements ``zip: DEF`` for JWS (it is a JWE header in RFC 7516), so:

* our tokens: the peer checks the signature over the compact token as it is and hands back the
  payload bytes, which we inflate ourselves (raw DEFLATE) and compare with the claims;
* PyJWT-made tokens: we build the header with ``zip: DEF``, ``typ`` and ``kid``, deflate the
  claims ourselves and let PyJWT sign; our codec must verify them as cards.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import jwt  # noqa: TID251 - PyJWT is the interop peer under test, never used by the codec
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws as jose_jws
from joserfc.errors import SecurityWarning, UnsupportedHeaderError
from joserfc.jwk import ECKey, OKPKey

from asxh_card import card as _card
from asxh_card._core import jws
from asxh_card._core.deflate import deflate_raw, inflate_raw
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusList, sign_status_list

if TYPE_CHECKING:
    from conftest import Kit


def _private_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 of a throw-away test key, for the peers' signing APIs."""
    return key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_pyjwt_verifies_our_cards(any_key: PrivateKey, kit: Kit) -> None:
    """PyJWT accepts our card signature; the payload it returns inflates to our claims."""
    token = kit.card_token(any_key)
    decoded = jwt.api_jws.PyJWS().decode_complete(
        token, any_key.public_key.to_pem(), algorithms=[any_key.alg]
    )
    assert decoded["header"] == {
        "alg": any_key.alg,
        "kid": any_key.kid,
        "typ": "asxh-card+jwt",
        "zip": "DEF",
    }
    claims = json.loads(inflate_raw(decoded["payload"], limit=16_384))
    assert claims == kit.claims().to_claims()


def test_pyjwt_rejects_a_tampered_card(es256_key: PrivateKey, kit: Kit) -> None:
    """PyJWT agrees a card with another signature is invalid."""
    header, payload, _ = kit.card_token(es256_key).split(".")
    other = kit.card_token(PrivateKey.generate("ES256")).split(".")[2]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.PyJWS().decode_complete(
            f"{header}.{payload}.{other}", es256_key.public_key.to_pem(), algorithms=["ES256"]
        )


def test_pyjwt_reads_our_jwk(any_key: PrivateKey) -> None:
    """PyJWT imports our public JWK (with kid, alg and use) and verifies with it."""
    jwk = jwt.PyJWK(any_key.public_key.to_jwk())
    assert jwk.key_id == any_key.kid
    token = jws.sign_compact({"a": 1}, any_key, typ="JWT", compress=False)
    assert jwt.decode(token, jwk, algorithms=[any_key.alg]) == {"a": 1}


def test_pyjwt_verifies_our_status_list_token(es256_key: PrivateKey) -> None:
    """A status-list token (no zip) is a plain JWT for PyJWT, claims included."""
    token = sign_status_list(
        StatusList.empty(64), es256_key, uri="https://x.example/1", issued_at=1_780_000_000
    )
    claims = jwt.decode(
        token,
        es256_key.public_key.to_pem(),
        algorithms=["ES256"],
        options={"verify_iat": False, "verify_sub": False},
    )
    assert StatusList.decode(claims["status_list"]).to_bytes() == bytes(16)


def _pyjwt_card(key: PrivateKey, claims: dict[str, Any], *, kid: str | None = None) -> str:
    """A card made by PyJWT: our header members, our deflated payload, PyJWT's signature."""
    headers = {"kid": kid or key.kid, "typ": "asxh-card+jwt", "zip": "DEF"}
    body = deflate_raw(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    pem = _private_pem(key)
    return jwt.api_jws.PyJWS().encode(body, pem, algorithm=key.alg, headers=headers)


def test_pyjwt_made_cards_verify_with_our_codec(any_key: PrivateKey, kit: Kit) -> None:
    """A card signed by PyJWT (zip added by us) passes parse, signature, payload and verify_card."""
    token = _pyjwt_card(any_key, kit.claim_set())
    parsed = jws.parse_compact(
        token, limits=jws.CARD_LIMITS, typ=_card.CARD_TYP, header_names=_card.CARD_HEADER
    )
    jws.verify_signature(parsed, any_key.public_key)
    assert jws.decode_payload(parsed, limits=jws.CARD_LIMITS) == kit.claim_set()
    verified = _card.verify_card(_card.qr_text(token), keys=kit.lookup(any_key), now=kit.now)
    assert verified == kit.claims()


def _joserfc_key(key: PrivateKey) -> ECKey | OKPKey:
    jwk = key.public_key.to_jwk()
    return ECKey.import_key(jwk) if key.alg == "ES256" else OKPKey.import_key(jwk)


def _joserfc_verify(token: str, key: PrivateKey, *, strict: bool) -> Any:
    registry = jose_jws.JWSRegistry(algorithms=[key.alg], strict_check_header=strict)
    with warnings.catch_warnings():
        # joserfc warns that "EdDSA" is deprecated in favour of "Ed25519" (RFC 9864).
        warnings.simplefilter("ignore", SecurityWarning)
        return jose_jws.deserialize_compact(
            token, _joserfc_key(key), algorithms=[key.alg], registry=registry
        )


def test_joserfc_verifies_our_cards(any_key: PrivateKey, kit: Kit) -> None:
    """joserfc verifies our card (header registry not strict); the payload inflates to our claims.

    Pitfall: joserfc's default registry is strict and refuses ``zip`` in a JWS header
    (UnsupportedHeaderError), so a verifier built on it must pass ``strict_check_header=False``.
    """
    token = kit.card_token(any_key)
    with pytest.raises(UnsupportedHeaderError):
        _joserfc_verify(token, any_key, strict=True)
    obj = _joserfc_verify(token, any_key, strict=False)
    assert obj.headers()["zip"] == "DEF"
    assert json.loads(inflate_raw(obj.payload, limit=16_384)) == kit.claims().to_claims()


def test_joserfc_thumbprint_is_our_kid(any_key: PrivateKey) -> None:
    """joserfc's RFC 7638 thumbprint equals our kid."""
    assert _joserfc_key(any_key).thumbprint() == any_key.kid


def test_joserfc_made_tokens_verify_with_our_codec(any_key: PrivateKey) -> None:
    """A JWS signed by joserfc (raw signature, our header) verifies with our parser."""
    pem = _private_pem(any_key)
    private = (ECKey if any_key.alg == "ES256" else OKPKey).import_key(pem)
    header = {"alg": any_key.alg, "kid": any_key.kid, "typ": "test+jwt"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        token = jose_jws.serialize_compact(header, b'{"a":1}', private, algorithms=[any_key.alg])
    parsed = jws.parse_compact(token, limits=jws.CARD_LIMITS, typ="test+jwt")
    jws.verify_signature(parsed, any_key.public_key)
    assert jws.decode_payload(parsed, limits=jws.CARD_LIMITS) == {"a": 1}
