"""Signing keys: ES256 (P-256) and EdDSA (Ed25519) only.

* :class:`PublicKey` wraps a `cryptography` public key with its JWS algorithm and its ``kid``,
  the RFC 7638 JWK thumbprint (SHA-256, base64url). The algorithm follows from the key type, never
  from a token header (DESIGN.md §5).
* :class:`Signer` is the interface every issuing key implements, so a key in a file and (later) a
  key in an HSM are used the same way. :class:`PrivateKey` is the file-backed implementation; it
  is written only as encrypted PKCS#8.
* JWK import is strict: only ``EC``/``P-256`` and ``OKP``/``Ed25519`` public keys, canonical
  base64url coordinates of the exact length, points on the curve, no private member (``d``), and
  ``alg``/``use``/``key_ops`` consistent with signature verification when present.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)

from asxh_card._core.b64 import B64Error, b64url_decode, b64url_encode
from asxh_card.errors import BadSignatureError, InvalidInputError

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "JWKError",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "jwk_thumbprint",
]

Algorithm = Literal["ES256", "EdDSA"]
ALGORITHMS: frozenset[str] = frozenset({"ES256", "EdDSA"})

#: Order n of the P-256 group (SEC 2 §2.4.2); r and s must lie in [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SIGNATURE_LENGTH = 64  # raw r||s for ES256 (RFC 7518 §3.4) and Ed25519 (RFC 8037 §3.1)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_JWK_PUBLIC_MEMBERS = {
    "EC": frozenset({"kty", "crv", "x", "y"}),
    "OKP": frozenset({"kty", "crv", "x"}),
}
_JWK_OPTIONAL_MEMBERS = frozenset({"kid", "alg", "use", "key_ops"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_PublicKeyType = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_PrivateKeyType = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class JWKError(InvalidInputError):
    """A JWK or key file is unusable. Private: callers translate it to their own error."""


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) over the required public members only."""
    kty = jwk.get("kty")
    required = _JWK_PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
    if required is None:
        raise JWKError("thumbprint needs an EC or OKP key")
    if not required <= jwk.keys():
        raise JWKError(f"thumbprint needs the members {', '.join(sorted(required))}")
    # RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    canonical = json.dumps({k: jwk[k] for k in sorted(required)}, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


_ORDER_BYTES = P256_ORDER.to_bytes(32, "big")
_ZERO_32 = bytes(32)


def _der_integer(value: bytes) -> bytes:
    """DER INTEGER of a positive big-endian value (X.690 §8.3: minimal, sign bit clear)."""
    value = value.lstrip(b"\0")
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + len(value).to_bytes(1, "big") + value


def _raw_to_der(signature: bytes) -> bytes | None:
    """Raw r||s to DER, or None when r or s is outside [1, n-1] (never a valid signature).

    Equal-length big-endian byte strings compare like the integers they encode, so the range
    check needs no int conversion; the DER is assembled directly (this runs for every card).
    """
    r, s = signature[:32], signature[32:]
    if not (_ZERO_32 < r < _ORDER_BYTES and _ZERO_32 < s < _ORDER_BYTES):
        return None
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + len(body).to_bytes(1, "big") + body


class PublicKey:
    """A signature-verification key with its algorithm and RFC 7638 ``kid``."""

    __slots__ = ("_jwk", "_key", "alg", "kid")

    def __init__(self, key: _PublicKeyType) -> None:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise JWKError(f"EC keys must be on P-256, not {key.curve.name}")
            numbers = key.public_numbers()
            self.alg: Algorithm = "ES256"
            self._jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(numbers.x.to_bytes(32, "big")),
                "y": b64url_encode(numbers.y.to_bytes(32, "big")),
            }
        elif isinstance(key, ed25519.Ed25519PublicKey):
            self.alg = "EdDSA"
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self._jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        else:
            raise JWKError("only P-256 (ES256) and Ed25519 (EdDSA) keys are supported")
        self._key = key
        self.kid = jwk_thumbprint(self._jwk)

    def __repr__(self) -> str:
        return f"PublicKey(alg={self.alg!r}, kid={self.kid!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._jwk == self._jwk

    def __hash__(self) -> int:
        return hash(self.kid)

    @property
    def raw(self) -> _PublicKeyType:
        """The underlying `cryptography` key (hazardous: no algorithm pinning)."""
        return self._key

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check ``signature`` (raw r‖s or Ed25519, 64 bytes) over ``data``; raise if it fails.

        Raises :class:`~asxh_card.errors.BadSignatureError` (never returns a bool that a caller
        could forget to test). The algorithm is the key's own (ES256 or EdDSA).
        """
        if not self._valid(signature, data):
            raise BadSignatureError("signature check failed")

    def _valid(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != SIGNATURE_LENGTH:
            return False
        try:
            if self.alg == "ES256":
                der = _raw_to_der(signature)
                if der is None:
                    return False
                self._key.verify(der, data, _ECDSA_SHA256)  # type: ignore[call-arg]
            else:
                self._key.verify(signature, data)  # type: ignore[call-arg]
        except InvalidSignature:
            return False
        return True

    def to_jwk(self) -> dict[str, str]:
        """The public JWK with ``kid``, ``alg`` and ``use``."""
        return {**self._jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_pem(cls, data: bytes) -> PublicKey:
        """Load a SubjectPublicKeyInfo PEM."""
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise JWKError(f"not a public key PEM: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            raise JWKError("only P-256 and Ed25519 public keys are supported")
        return cls(key)

    @classmethod
    def from_jwk(cls, jwk: object) -> PublicKey:
        """Import a public JWK strictly (see the module docstring)."""
        if not isinstance(jwk, Mapping):
            raise JWKError("a JWK must be a JSON object")
        if _PRIVATE_MEMBERS & jwk.keys():
            raise JWKError("the JWK carries private key material")
        kty = jwk.get("kty")
        required = _JWK_PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
        if required is None:
            raise JWKError(f"unsupported kty {kty!r}")
        unknown = jwk.keys() - required - _JWK_OPTIONAL_MEMBERS
        if unknown:
            raise JWKError(f"unexpected JWK member(s): {', '.join(sorted(map(str, unknown)))}")
        missing = required - jwk.keys()
        if missing:
            raise JWKError(f"missing JWK member(s): {', '.join(sorted(missing))}")
        if any(not isinstance(jwk[k], str) for k in required):
            raise JWKError("JWK members must be strings")
        if "use" in jwk and jwk["use"] != "sig":
            raise JWKError("the JWK is not for signatures (use)")
        if "key_ops" in jwk:
            ops = jwk["key_ops"]
            if (
                not isinstance(ops, list)
                or "verify" not in ops
                or any(op not in ("verify", "sign") for op in ops)
            ):
                raise JWKError("the JWK's key_ops do not allow verification")
        try:
            key = _public_key_from_members(jwk)
        except (B64Error, ValueError, UnsupportedAlgorithm) as exc:
            raise JWKError(f"invalid public key: {exc}") from None
        public = cls(key)
        if "alg" in jwk and jwk["alg"] != public.alg:
            raise JWKError(f"the JWK's alg {jwk['alg']!r} does not fit a {jwk['kty']} key")
        if "kid" in jwk and jwk["kid"] != public.kid:
            raise JWKError("the JWK's kid is not its RFC 7638 thumbprint")
        return public


def _coordinate(text: object, name: str) -> bytes:
    if not isinstance(text, str):
        raise JWKError(f"JWK member {name} must be a string")
    value = b64url_decode(text)
    if len(value) != 32:
        raise JWKError(f"JWK member {name} must encode exactly 32 bytes")
    return value


def _public_key_from_members(jwk: Mapping[str, Any]) -> _PublicKeyType:
    if jwk["kty"] == "EC":
        if jwk["crv"] != "P-256":
            raise JWKError(f"unsupported EC curve {jwk['crv']!r}")
        x = _coordinate(jwk["x"], "x")
        y = _coordinate(jwk["y"], "y")
        # from_encoded_point checks that the point is on the curve (invalid-curve attacks).
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    if jwk["crv"] != "Ed25519":
        raise JWKError(f"unsupported OKP curve {jwk['crv']!r}")
    return ed25519.Ed25519PublicKey.from_public_bytes(_coordinate(jwk["x"], "x"))


@runtime_checkable
class Signer(Protocol):
    """What an issuing key offers: its algorithm, its ``kid``, its public key, raw signatures."""

    @property
    def alg(self) -> Algorithm:
        """The JWS algorithm, fixed by the key type."""
        ...

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public key."""
        ...

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        ...

    def sign(self, data: bytes) -> bytes:
        """A raw signature (r||s for ES256, 64 bytes for Ed25519) over ``data``."""
        ...


class PrivateKey:
    """A file-backed :class:`Signer`. Keep it encrypted at rest (:meth:`to_encrypted_pem`)."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: _PrivateKeyType) -> None:
        self._key = key
        self.public_key = PublicKey(key.public_key())

    def __repr__(self) -> str:  # never show key material
        return f"PrivateKey(alg={self.alg!r}, kid={self.kid!r})"

    @property
    def alg(self) -> Algorithm:
        """The JWS algorithm of this key."""
        return self.public_key.alg

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public key."""
        return self.public_key.kid

    @classmethod
    def generate(cls, alg: Algorithm = "ES256") -> PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        if alg == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if alg == "EdDSA":
            return cls(ed25519.Ed25519PrivateKey.generate())
        raise JWKError(f"unsupported algorithm {alg!r}")

    def sign(self, data: bytes) -> bytes:
        """Raw signature over ``data``."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(data, _ECDSA_SHA256))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._key.sign(data)

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        """Encrypted PKCS#8 PEM. An empty passphrase is refused: keys never sit in clear."""
        if not passphrase:
            raise JWKError("an empty passphrase would store the key in clear")
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @classmethod
    def from_encrypted_pem(cls, data: bytes, passphrase: bytes) -> PrivateKey:
        """Load an encrypted PKCS#8 PEM; unencrypted key files are refused."""
        if b"ENCRYPTED PRIVATE KEY" not in data:
            raise JWKError("the key file is not encrypted PKCS#8")
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise JWKError("wrong passphrase or corrupt key file") from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls(key)
        raise JWKError("only P-256 and Ed25519 private keys are supported")
