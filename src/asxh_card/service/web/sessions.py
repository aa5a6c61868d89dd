"""Officer sessions of the web pages, and the CSRF tokens of their forms.

* **Session cookie** ``asxh_session``: ``base64url(JSON) "." base64url(HMAC-SHA256)`` under a key
  derived from ``ASXH_SECRET_KEY`` (HKDF, its own ``info``, so it is never a valid API token
  nor the other way round). It states what an access token states (user, role, province,
  programmes, the account's ``token_version``) plus a random session id and an expiry. It is
  ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` when the public URL is https. Every page
  request checks the account in the database as every API request does
  (:func:`~asxh_card.service.operators.check_current`): disabling an account, resetting its
  password or changing its role ends its web sessions at once.
* **CSRF** (OWASP "synchronizer token"): a form carries ``HMAC(key, binding)`` where the binding
  is the session id when logged in, else a random ``asxh_csrf`` cookie of the browser (so the
  log-in form and the public check page are protected too). A POST whose token does not match
  its binding is refused (403) before anything is done. ``SameSite=Strict`` adds a second wall.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from asxh_card.service.security import ROLES, Principal, derive_key

__all__ = [
    "ANON_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "WebSession",
    "WebSessions",
]

SESSION_COOKIE: Final = "asxh_session"
ANON_COOKIE: Final = "asxh_csrf"
CSRF_FIELD: Final = "csrf_token"
_MAX_COOKIE: Final = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class WebSession:
    """A verified session cookie: the principal, the session id and when it ends."""

    principal: Principal
    sid: str
    expires_at: int


class WebSessions:
    """Sign and check session cookies; make and check CSRF tokens."""

    def __init__(self, secret: bytes, *, minutes: int) -> None:
        self._session_key = derive_key(secret, b"asxh-service/web-session/v1")
        self._csrf_key = derive_key(secret, b"asxh-service/web-csrf/v1")
        self.lifetime = minutes * 60

    # -- sessions -------------------------------------------------------------------------------

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._session_key, body, hashlib.sha256).digest()

    def issue(self, principal: Principal, *, now: int | None = None) -> tuple[str, WebSession]:
        """A new cookie value (a fresh session id) for ``principal``."""
        issued = int(time.time()) if now is None else now
        sid = secrets.token_urlsafe(18)
        claims = {
            "sub": principal.username,
            "role": principal.role,
            "prov": principal.province,
            "progs": list(principal.programmes),
            "ver": principal.version,
            "sid": sid,
            "iat": issued,
            "exp": issued + self.lifetime,
        }
        body = json.dumps(claims, separators=(",", ":"), ensure_ascii=True).encode()
        value = f"{_b64(body)}.{_b64(self._mac(body))}"
        return value, WebSession(principal, sid, issued + self.lifetime)

    def verify(self, value: str | None, *, now: int | None = None) -> WebSession | None:
        """The session of a cookie value, or ``None`` when absent, forged, malformed or expired."""
        if not value or len(value) > _MAX_COOKIE or value.count(".") != 1:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            claims: Any = json.loads(body)
        except ValueError:  # pragma: no cover - we signed it, so it is our JSON
            return None
        return _session_of(claims, int(time.time()) if now is None else now)

    # -- CSRF -----------------------------------------------------------------------------------

    def csrf_token(self, binding: str) -> str:
        """The form token for ``binding`` (``s:<session id>`` or ``a:<browser cookie>``)."""
        return _b64(hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).digest())

    def csrf_ok(self, binding: str | None, token: object) -> bool:
        """Whether ``token`` is the form token of ``binding`` (constant-time comparison)."""
        if not binding or not isinstance(token, str) or len(token) > 100:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(binding).encode())


def _session_of(claims: Any, now: int) -> WebSession | None:
    if not isinstance(claims, dict):  # pragma: no cover - signed by us
        return None
    exp, role, sub, sid = (
        claims.get("exp"),
        claims.get("role"),
        claims.get("sub"),
        claims.get("sid"),
    )
    prov, progs, ver = claims.get("prov"), claims.get("progs"), claims.get("ver")
    if type(exp) is not int or exp <= now:
        return None
    if not (
        isinstance(role, str)
        and role in ROLES
        and isinstance(sub, str)
        and isinstance(sid, str)
        and (prov is None or isinstance(prov, str))
        and isinstance(progs, list)
        and all(isinstance(p, str) for p in progs)
        and isinstance(ver, int)
    ):  # pragma: no cover - signed by us
        return None
    principal = Principal(
        username=sub, role=role, province=prov, programmes=tuple(progs), version=ver
    )
    return WebSession(principal, sid, exp)
