"""Keys: ES256/EdDSA only, strict JWK import, RFC 7638 kid, raw signatures, encrypted PEM."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core.b64 import b64url_encode
from asxh_card._core.keys import (
    P256_ORDER,
    JWKError,
    PrivateKey,
    PublicKey,
    Signer,
    jwk_thumbprint,
)
from asxh_card.errors import BadSignatureError


def verifies(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``key.verify`` accepts (it raises BadSignatureError instead of returning False)."""
    try:
        key.verify(signature, data)
    except BadSignatureError:
        return False
    return True


# RFC 7638 §3.1 uses an RSA key; RFC 8037 Appendix A.3 gives an Ed25519 thumbprint we can check.
RFC8037_JWK = {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_thumbprint() -> None:
    """The Ed25519 thumbprint of RFC 8037 Appendix A.3 is reproduced and becomes the kid."""
    assert jwk_thumbprint(RFC8037_JWK) == RFC8037_THUMBPRINT
    assert PublicKey.from_jwk(RFC8037_JWK).kid == RFC8037_THUMBPRINT


def test_ec_thumbprint_uses_required_members_in_order(es256_key: PrivateKey) -> None:
    """RFC 7638: SHA-256 over {crv,kty,x,y} in lexicographic order, optional members ignored."""
    jwk = es256_key.public_key.to_jwk()
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    expected = b64url_encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == expected == es256_key.kid
    assert jwk_thumbprint({**jwk, "use": "enc", "kid": "other"}) == expected


@pytest.mark.parametrize(
    "jwk", [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}, {"kty": 1}, {}, {"kty": "EC", "crv": "P-256"}]
)
def test_thumbprint_of_unsupported_or_incomplete_jwk(jwk: dict[str, object]) -> None:
    """A thumbprint of a non-EC/OKP or incomplete JWK raises JWKError (not KeyError)."""
    with pytest.raises(JWKError):
        jwk_thumbprint(jwk)  # type: ignore[arg-type]


def test_generate_and_properties(any_key: PrivateKey) -> None:
    """Generated keys know their algorithm, kid and public key and satisfy Signer."""
    assert isinstance(any_key, Signer)
    assert any_key.alg in ("ES256", "EdDSA")
    assert any_key.kid == any_key.public_key.kid
    assert len(any_key.kid) == 43
    assert repr(any_key) == f"PrivateKey(alg={any_key.alg!r}, kid={any_key.kid!r})"
    assert repr(any_key.public_key) == f"PublicKey(alg={any_key.alg!r}, kid={any_key.kid!r})"


def test_generate_refuses_other_algorithms() -> None:
    """Only ES256 and EdDSA keys can be generated."""
    with pytest.raises(JWKError):
        PrivateKey.generate("RS256")  # type: ignore[arg-type]


def test_public_key_verify_raises_instead_of_returning_false(any_key: PrivateKey) -> None:
    """Issue 14 item 1: ``PublicKey.verify`` raises on a bad signature; no bool to forget."""
    signature = any_key.sign(b"message")
    assert any_key.public_key.verify(signature, b"message") is None
    with pytest.raises(BadSignatureError, match="signature check failed"):
        any_key.public_key.verify(signature, b"messagE")
    with pytest.raises(BadSignatureError):
        any_key.public_key.verify(b"", b"message")


def test_sign_verify_raw(any_key: PrivateKey) -> None:
    """Signatures are raw 64 bytes and verify; another message or key does not."""
    signature = any_key.sign(b"message")
    assert len(signature) == 64
    assert verifies(any_key.public_key, signature, b"message")
    assert not verifies(any_key.public_key, signature, b"messagE")
    other = PrivateKey.generate(any_key.alg)
    assert not verifies(other.public_key, signature, b"message")


@pytest.mark.parametrize("length", [0, 63, 65, 72, 128])
def test_wrong_signature_length_is_refused(any_key: PrivateKey, length: int) -> None:
    """Only 64-byte signatures are considered."""
    assert not verifies(any_key.public_key, bytes(length), b"m")


def test_der_signature_is_refused(es256_key: PrivateKey) -> None:
    """A DER-encoded ECDSA signature is not raw r||s and never verifies on the JWS path."""
    raw = es256_key._key  # the cryptography key, to make a genuine DER signature
    der = raw.sign(b"m", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]
    assert not verifies(es256_key.public_key, der, b"m")


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (0, 0), (P256_ORDER, 1), (1, P256_ORDER), (P256_ORDER, P256_ORDER)],
    ids=["r=0", "s=0", "r=s=0", "r=n", "s=n", "r=s=n"],
)
def test_r_or_s_zero_or_order_is_refused(es256_key: PrivateKey, r: int, s: int) -> None:
    """ECDSA range check: r or s equal to 0 or to the group order n never verifies."""
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert not verifies(es256_key.public_key, signature, b"m")


def test_ecdsa_malleability(es256_key: PrivateKey) -> None:
    """ECDSA malleability: (r, n - s) still verifies (documented); r + n never does."""
    signature = es256_key.sign(b"m")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    assert verifies(es256_key.public_key, signature, b"m")
    # s -> n - s is the other valid ECDSA signature; it is still accepted (ES256 is malleable),
    # which is why the codec never uses a token's bytes as an identity: jti is signed.
    assert verifies(
        es256_key.public_key, r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big"), b"m"
    )
    if r + P256_ORDER < 2**256:  # pragma: no cover - about 1 run in 2**32
        assert not verifies(
            es256_key.public_key, (r + P256_ORDER).to_bytes(32, "big") + signature[32:], b"m"
        )


def test_public_jwk_round_trip(any_key: PrivateKey) -> None:
    """to_jwk gives kid, alg and use; from_jwk reads it back to an equal key."""
    jwk = any_key.public_key.to_jwk()
    assert jwk["kid"] == any_key.kid
    assert jwk["alg"] == any_key.alg
    assert jwk["use"] == "sig"
    assert "d" not in jwk
    imported = PublicKey.from_jwk(jwk)
    assert imported == any_key.public_key
    assert hash(imported) == hash(any_key.public_key)
    assert imported != object()
    assert PublicKey.from_jwk({**jwk, "key_ops": ["verify"]}) == imported


def test_public_key_raw_is_the_cryptography_key(any_key: PrivateKey) -> None:
    """``raw`` exposes the underlying cryptography key."""
    assert isinstance(any_key.public_key.raw, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)


def _ec_jwk(key: PrivateKey) -> dict[str, object]:
    return {k: v for k, v in key.public_key.to_jwk().items() if k in ("kty", "crv", "x", "y")}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d": "AAAA"}, "private"),
        ({"k": "AAAA"}, "private"),
        ({"kty": "RSA"}, "kty"),
        ({"kty": "oct"}, "kty"),
        ({"kty": None}, "kty"),
        ({"crv": "P-384"}, "curve"),
        ({"crv": "secp256k1"}, "curve"),
        ({"x5c": ["AAAA"]}, "unexpected"),
        ({"ext": True}, "unexpected"),
        ({"use": "enc"}, "use"),
        ({"key_ops": ["encrypt"]}, "key_ops"),
        ({"key_ops": []}, "key_ops"),
        ({"key_ops": ["sign"]}, "key_ops"),
        ({"key_ops": "verify"}, "key_ops"),
        ({"alg": "ES384"}, "alg"),
        ({"alg": "EdDSA"}, "alg"),
        ({"alg": "none"}, "alg"),
        ({"kid": "kid-ec-sign"}, "thumbprint"),
        ({"x": 5}, "strings"),
        ({"x": "AAAA"}, "32 bytes"),
        ({"x": "A" * 44}, "32 bytes"),
        ({"y": "bad+"}, "invalid public key"),
    ],
)
def test_strict_ec_jwk_import(
    es256_key: PrivateKey, change: dict[str, object], message: str
) -> None:
    """Broken or unusual EC JWKs are refused with JWKError naming the problem."""
    jwk = _ec_jwk(es256_key) | change
    with pytest.raises(JWKError, match=message):
        PublicKey.from_jwk(jwk)


def test_missing_member_is_refused(es256_key: PrivateKey) -> None:
    """An EC JWK without y is refused."""
    jwk = _ec_jwk(es256_key)
    del jwk["y"]
    with pytest.raises(JWKError, match="missing"):
        PublicKey.from_jwk(jwk)


def test_point_not_on_curve_is_refused(es256_key: PrivateKey) -> None:
    """Invalid-curve attack: a point off P-256 is refused."""
    jwk = _ec_jwk(es256_key)
    y = bytearray(32)
    y[-1] = 1
    jwk["y"] = b64url_encode(bytes(y))
    with pytest.raises(JWKError, match="invalid public key"):
        PublicKey.from_jwk(jwk)


def test_okp_jwk_checks(eddsa_key: PrivateKey) -> None:
    """OKP JWKs must be Ed25519 with a 32-byte x and no y."""
    jwk = {k: v for k, v in eddsa_key.public_key.to_jwk().items() if k in ("kty", "crv", "x")}
    assert PublicKey.from_jwk(jwk) == eddsa_key.public_key
    with pytest.raises(JWKError, match="curve"):
        PublicKey.from_jwk({**jwk, "crv": "X25519"})
    with pytest.raises(JWKError, match="unexpected"):
        PublicKey.from_jwk({**jwk, "y": jwk["x"]})
    with pytest.raises(JWKError, match="32 bytes"):
        PublicKey.from_jwk({**jwk, "x": "AAAA"})


@pytest.mark.parametrize("value", [None, [], "jwk", 5])
def test_jwk_must_be_an_object(value: object) -> None:
    """A JWK that is not a JSON object is refused."""
    with pytest.raises(JWKError, match="object"):
        PublicKey.from_jwk(value)


def test_public_key_refuses_other_curves_and_types() -> None:
    """PublicKey wraps only P-256 and Ed25519 keys."""
    with pytest.raises(JWKError, match="P-256"):
        PublicKey(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(JWKError, match="only"):
        PublicKey(ed448.Ed448PrivateKey.generate().public_key())  # type: ignore[arg-type]


def test_public_pem_round_trip(any_key: PrivateKey) -> None:
    """SubjectPublicKeyInfo PEM round-trips."""
    pem = any_key.public_key.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert PublicKey.from_pem(pem) == any_key.public_key


def test_public_pem_refusals() -> None:
    """Garbage, RSA and P-384 public key PEMs are refused with JWKError."""
    with pytest.raises(JWKError, match="not a public key"):
        PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused anyway
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(JWKError, match="only"):
        PublicKey.from_pem(rsa_pem)
    p384_pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(JWKError, match="P-256"):
        PublicKey.from_pem(p384_pem)


def test_encrypted_pem_round_trip(any_key: PrivateKey) -> None:
    """Private keys are written as encrypted PKCS#8 and load back with the passphrase."""
    pem = any_key.to_encrypted_pem(b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = PrivateKey.from_encrypted_pem(pem, b"correct horse")
    assert loaded.kid == any_key.kid
    assert verifies(loaded.public_key, loaded.sign(b"x"), b"x")


def test_empty_passphrase_is_refused(es256_key: PrivateKey) -> None:
    """Keys never sit in clear: an empty passphrase is refused."""
    with pytest.raises(JWKError, match="empty passphrase"):
        es256_key.to_encrypted_pem(b"")


def test_wrong_passphrase_is_refused(es256_key: PrivateKey) -> None:
    """A wrong passphrase raises JWKError."""
    pem = es256_key.to_encrypted_pem(b"right")
    with pytest.raises(JWKError, match="wrong passphrase"):
        PrivateKey.from_encrypted_pem(pem, b"wrong")


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_unencrypted_pem_is_refused(fmt: serialization.PrivateFormat) -> None:
    """Unencrypted private key files are refused even with a passphrase."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    )
    with pytest.raises(JWKError, match="not encrypted"):
        PrivateKey.from_encrypted_pem(pem, b"pass")


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        ed448.Ed448PrivateKey.generate,
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505
    ],
    ids=["P-384", "Ed448", "RSA"],
)
def test_encrypted_pem_of_other_key_types_is_refused(make: object) -> None:
    """Encrypted PKCS#8 files of other key types are refused."""
    key = make()  # type: ignore[operator]
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    )
    with pytest.raises(JWKError, match="only"):
        PrivateKey.from_encrypted_pem(pem, b"pass")


def test_ecdsa_signature_matches_cryptography(es256_key: PrivateKey) -> None:
    """Raw r||s converts to the DER cryptography verifies (sanity of the conversion)."""
    signature = es256_key.sign(b"payload")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    es256_key.public_key.raw.verify(der, b"payload", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]


def test_coordinate_must_be_text() -> None:
    """The coordinate decoder refuses non-text on its own (defence in depth behind from_jwk)."""
    from asxh_card._core.keys import _coordinate

    with pytest.raises(JWKError, match="string"):
        _coordinate(5, "x")


_SCALAR_EDGES = [0, 1, 0x7F, 0x80, 0xFF, 2**255 - 1, 2**255, P256_ORDER - 1, P256_ORDER, 2**256 - 1]


@given(
    r=st.one_of(st.sampled_from(_SCALAR_EDGES), st.integers(0, 2**256 - 1)),
    s=st.one_of(st.sampled_from(_SCALAR_EDGES), st.integers(0, 2**256 - 1)),
)
def test_raw_to_der_matches_cryptography(r: int, s: int) -> None:
    """The hand-assembled DER equals cryptography's encoding; r or s outside [1, n-1] is None."""
    from asxh_card._core.keys import _raw_to_der

    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    in_range = 0 < r < P256_ORDER and 0 < s < P256_ORDER
    assert _raw_to_der(raw) == (encode_dss_signature(r, s) if in_range else None)
