"""Officer sessions of the web pages, and the CSRF tokens of their forms.

Both are signed with ``itsdangerous`` (what Starlette's ``SessionMiddleware`` uses) under one
key derived from ``ASXH_SECRET_KEY`` (HKDF, its own ``info``, so a web value is never a valid
API token nor the other way round), HMAC-SHA256 with a key of its own per purpose (the
``salt``: session or CSRF), so a value signed for one purpose is never valid for the other.

* **Session cookie** ``asxh_session``: a ``URLSafeTimedSerializer`` value, JSON claims plus the
  signing time. It states what an access token states (user, role, province, programmes, the
  account's ``token_version``) plus a random session id; it is refused once older than
  ``ASXH_WEB_SESSION_MINUTES`` (``max_age`` on load). It is ``HttpOnly``,
  ``SameSite=Strict`` and ``Secure`` when the public URL is https. Every page request checks the
  account in the database as every API request does
  (:func:`~asxh_card.service.operators.check_current`): disabling an account, resetting its
  password or changing its role ends its web sessions at once.
* **CSRF** (OWASP "synchronizer token"): a form carries the CSRF-purpose signature of a binding:
  the session id when logged in, else a random ``asxh_csrf`` cookie of the browser (so the
  log-in form and the public check page are protected too). A POST whose token does not match
  its binding is refused (403) before anything is done. ``SameSite=Strict`` adds a second wall.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from itsdangerous import BadData, Signer, URLSafeTimedSerializer

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
_MAX_CSRF: Final = 100
# itsdangerous' defaults are SHA-1 and a "django-concat" key; HMAC-SHA256 with an HMAC-derived
# key per salt is what we want for both purposes.
_SIGNING: Final[dict[str, Any]] = {"key_derivation": "hmac", "digest_method": hashlib.sha256}
_SESSION_SALT: Final = b"asxh-service/web-session"
_CSRF_SALT: Final = b"asxh-service/web-csrf"


@dataclass(frozen=True, slots=True)
class WebSession:
    """A verified session cookie: the principal, the session id and when it ends."""

    principal: Principal
    sid: str
    expires_at: int


class WebSessions:
    """Sign and check session cookies; make and check CSRF tokens."""

    #: The session cookie's name (the admission middleware reads it without importing the web
    #: package).
    cookie_name: Final = SESSION_COOKIE

    def __init__(self, secret: bytes, *, minutes: int) -> None:
        key = derive_key(secret, b"asxh-service/web-signing/v2")
        self._sessions = URLSafeTimedSerializer(key, salt=_SESSION_SALT, signer_kwargs=_SIGNING)
        self._csrf = Signer(key, salt=_CSRF_SALT, **_SIGNING)
        self.lifetime = minutes * 60

    # -- sessions -------------------------------------------------------------------------------

    def issue(self, principal: Principal) -> tuple[str, WebSession]:
        """A new cookie value (a fresh session id) for ``principal``."""
        sid = secrets.token_urlsafe(18)
        claims = {
            "sub": principal.username,
            "role": principal.role,
            "prov": principal.province,
            "progs": list(principal.programmes),
            "ver": principal.version,
            "sid": sid,
        }
        issued = int(time.time())  # the signer's own clock reads this second or a later one
        return self._sessions.dumps(claims), WebSession(principal, sid, issued + self.lifetime)

    def verify(self, value: str | None) -> WebSession | None:
        """The session of a cookie value, or ``None`` when absent, forged, malformed or expired."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        try:
            claims, signed = self._sessions.loads(
                value, max_age=self.lifetime, return_timestamp=True
            )
        except BadData:  # forged, tampered, malformed, signed for another purpose or too old
            return None
        return _session_of(claims, int(signed.timestamp()) + self.lifetime)

    # -- CSRF -----------------------------------------------------------------------------------

    def csrf_token(self, binding: str) -> str:
        """The form token for ``binding`` (``s:<session id>`` or ``a:<browser cookie>``)."""
        return self._csrf.get_signature(binding).decode("ascii")

    def csrf_ok(self, binding: str | None, token: object) -> bool:
        """Whether ``token`` is the form token of ``binding`` (constant-time comparison)."""
        if not binding or not isinstance(token, str) or len(token) > _MAX_CSRF:
            return False
        return self._csrf.verify_signature(binding, token)


def _session_of(claims: Any, expires_at: int) -> WebSession | None:
    if not isinstance(claims, dict):  # pragma: no cover - signed by us
        return None
    role, sub, sid = claims.get("role"), claims.get("sub"), claims.get("sid")
    prov, progs, ver = claims.get("prov"), claims.get("progs"), claims.get("ver")
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
    return WebSession(principal, sid, expires_at)
