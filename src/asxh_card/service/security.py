"""Secrets at work: PIN protection, password hashing, access tokens (login limits: logins.py).

* **PINs**: HKDF-SHA256 derives two keys from ``ASXH_DATA_KEY``: one for a keyed look-up hash
  (HMAC-SHA256, unique in the database, so the same PIN always finds the same person) and one
  for AES-256-GCM encryption of the PIN itself. A database dump lists neither PINs nor anything
  from which a PIN can be recomputed without the key.
* **Passwords**: argon2id through the passlib API (the maintained ``libpass`` distribution).
* **Access tokens**: compact JWS signed with an Ed25519 key derived from ``ASXH_SECRET_KEY``
  (``typ: at+jwt``), verified with the project's hardened JWS codec; claims ``sub``, ``role``,
  ``prov``, ``progs``, ``ver`` (the account's token version, checked against the database on
  every request), ``iat``, ``exp``, ``jti``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from passlib.context import CryptContext

from asxh_card._core import jws as _jws
from asxh_card._core.keys import PrivateKey
from asxh_card.errors import AsxhError, VerificationError

__all__ = [
    "ROLES",
    "AccessTokens",
    "DataProtector",
    "PasswordHasher",
    "Principal",
    "TokenError",
    "derive_key",
]

ROLES: Final = ("national_admin", "issuer_officer", "auditor", "service_point")
ACCESS_TOKEN_TYP: Final = "at+jwt"  # noqa: S105 - a JWS typ, not a secret
_TOKEN_LIMITS = _jws.JWSLimits(max_token=2048, max_header=200, max_payload=1500, max_inflated=1500)


def derive_key(key: bytes, info: bytes) -> bytes:
    """A 32-byte key for ``info`` derived from ``key`` (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class DataProtector:
    """Keyed look-up hashes and AES-GCM encryption of identifiers."""

    __slots__ = ("_aead", "_lookup_key")

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._lookup_key = derive_key(data_key, b"asxh-service/lookup-hash/v1")
        self._aead = AESGCM(derive_key(data_key, b"asxh-service/pin-encryption/v1"))

    def lookup_hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of ``kind:value`` as hex (the database's unique look-up key)."""
        message = f"{kind}:{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def encrypt(self, kind: str, value: str) -> bytes:
        """``nonce || AES-256-GCM(value)`` with ``kind`` as associated data."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), kind.encode())

    def decrypt(self, kind: str, blob: bytes) -> str:
        """Inverse of :meth:`encrypt`; raises ``cryptography.exceptions.InvalidTag``."""
        return self._aead.decrypt(blob[:12], blob[12:], kind.encode()).decode()


class PasswordHasher:
    """argon2id via passlib's :class:`CryptContext`."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__rounds=time_cost,
            argon2__memory_cost=memory_cost,
            argon2__parallelism=parallelism,
        )
        # A hash to compare against for unknown users, so timing does not reveal them.
        self._dummy = self._context.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Hash ``password`` (argon2id, random salt)."""
        result: str = self._context.hash(password)
        return result

    def verify(self, password: str, hashed: str | None) -> bool:
        """Constant-effort check; ``hashed=None`` (unknown user) always fails."""
        try:
            ok: bool = self._context.verify(password, hashed or self._dummy)
        except ValueError:
            return False
        return ok and hashed is not None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated operator, as the access token states it."""

    username: str
    role: str
    province: str | None
    programmes: tuple[str, ...]
    #: The account's ``token_version`` when the token was issued (``ver``): a disabled
    #: account, a reset password or a changed role moves it on and the token stops working.
    version: int = 0

    @property
    def is_national(self) -> bool:
        """Whether the operator sees every province (national admin, national auditor)."""
        return self.role == "national_admin" or (self.role == "auditor" and self.province is None)

    def sees(self, province: str) -> bool:
        """Whether the operator may see objects of ``province`` (the one province rule)."""
        return self.is_national or self.province == province


class TokenError(AsxhError, ValueError):
    """An access token is malformed, badly signed or expired."""


#: Checked access tokens remembered per worker (then the memory starts afresh).
_MAX_CHECKED_TOKENS: Final = 4096


class AccessTokens:
    """Issue and check short-lived access tokens."""

    def __init__(self, secret: bytes, *, minutes: int) -> None:
        seed = derive_key(secret, b"asxh-service/access-token/ed25519/v1")
        self._key = PrivateKey(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        self.lifetime = minutes * 60
        # Tokens whose signature and claims were checked, until they expire: an Ed25519 check
        # per request costs more than the rest of a warm verification. Keyed by the exact
        # token text, so nothing unchecked is ever admitted; bounded, so memory is too.
        self._checked: dict[str, tuple[int, Principal]] = {}

    def issue(self, principal: Principal, *, now: int | None = None) -> str:
        """A signed token for ``principal`` valid for the configured lifetime."""
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "sub": principal.username,
            "role": principal.role,
            "prov": principal.province,
            "progs": list(principal.programmes),
            "ver": principal.version,
            "iat": issued,
            "exp": issued + self.lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        return _jws.sign_compact(claims, self._key, typ=ACCESS_TOKEN_TYP, compress=False)

    def verify(self, token: str, *, now: int | None = None) -> Principal:
        """Check signature, type and expiry; raise :class:`TokenError` otherwise."""
        current = int(time.time()) if now is None else now
        known = self._checked.get(token)
        if known is not None:
            if known[0] > current:
                return known[1]
            self._checked.pop(token, None)
        principal, exp = self._check(token, current)
        if len(self._checked) >= _MAX_CHECKED_TOKENS:
            self._checked.clear()
        self._checked[token] = (exp, principal)
        return principal

    def _check(self, token: str, current: int) -> tuple[Principal, int]:
        try:
            parsed = _jws.parse_compact(
                token,
                limits=_TOKEN_LIMITS,
                typ=ACCESS_TOKEN_TYP,
                header_names=frozenset({"alg", "kid", "typ"}),
                allowed_algs=frozenset({"EdDSA"}),
            )
            if parsed.kid != self._key.kid:
                raise TokenError("unknown key")
            _jws.verify_signature(parsed, self._key.public_key)
            claims = _jws.decode_payload(parsed, limits=_TOKEN_LIMITS)
        except VerificationError as exc:
            raise TokenError(exc.reason.value) from None
        if not isinstance(claims, dict):
            raise TokenError("malformed")
        exp, role, sub = claims.get("exp"), claims.get("role"), claims.get("sub")
        prov, progs, ver = claims.get("prov"), claims.get("progs"), claims.get("ver")
        if type(exp) is not int or exp <= current:
            raise TokenError("expired")
        if role not in ROLES or not isinstance(sub, str):
            raise TokenError("malformed")
        if prov is not None and not isinstance(prov, str):
            raise TokenError("malformed")
        if not isinstance(progs, list) or not all(isinstance(p, str) for p in progs):
            raise TokenError("malformed")
        if type(ver) is not int or ver < 0:
            raise TokenError("malformed")
        principal = Principal(
            username=sub, role=role, province=prov, programmes=tuple(progs), version=ver
        )
        return principal, exp
