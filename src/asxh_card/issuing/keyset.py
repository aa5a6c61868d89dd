"""An issuer's public keys with their signing windows: key rotation without breaking old cards.

Rotation (DESIGN.md §4): a new key gets a new ``kid`` (its RFC 7638 thumbprint, so two keys never
share one). The old key stops signing, but its public key stays published, with the window in
which it signed, for as long as cards it signed are valid. A verifier looks a card's key up by
(issuer, kid) and checks that the card's ``iat`` lies in that key's window.

:meth:`KeySet.to_jwks` gives a plain JWKS (every entry loads with
:meth:`~asxh_card._core.keys.PublicKey.from_jwk`); the windows travel beside it (``windows``), as
the trust bundle's issuer entry carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asxh_card._core.keys import PublicKey
from asxh_card.errors import KeyStoreError

__all__ = ["KeySet", "SigningWindow"]


@dataclass(frozen=True, slots=True)
class SigningWindow:
    """A public key and the NumericDate window (``not_after`` None = still signing)."""

    key: PublicKey
    not_before: int
    not_after: int | None = None

    def covers(self, moment: int) -> bool:
        """Whether a card issued at ``moment`` falls inside this key's signing window."""
        return self.not_before <= moment and (self.not_after is None or moment <= self.not_after)


class KeySet:
    """The public keys of one issuer, current and retired, each with its signing window."""

    __slots__ = ("_windows", "issuer")

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._windows: dict[str, SigningWindow] = {}

    def add(self, key: PublicKey, *, not_before: int, not_after: int | None = None) -> None:
        """Publish ``key``; a ``kid`` already present is refused (keys are never replaced)."""
        if key.kid in self._windows:
            raise KeyStoreError(f"key {key.kid} is already in the key set of {self.issuer}")
        if not_after is not None and not_after < not_before:
            raise KeyStoreError("a signing window must not end before it starts")
        self._windows[key.kid] = SigningWindow(key, not_before, not_after)

    def retire(self, kid: str, *, at: int) -> None:
        """Close the signing window of ``kid`` at ``at``; the public key stays published."""
        window = self._windows.get(kid)
        if window is None:
            raise KeyStoreError(f"no key {kid} in the key set of {self.issuer}")
        if at < window.not_before:
            raise KeyStoreError("a key cannot be retired before its window starts")
        self._windows[kid] = SigningWindow(window.key, window.not_before, at)

    def rotate(self, new_key: PublicKey, *, at: int) -> None:
        """Retire every open key at ``at`` and publish ``new_key`` from ``at`` on."""
        for kid, window in list(self._windows.items()):
            if window.not_after is None:
                self.retire(kid, at=at)
        self.add(new_key, not_before=at)

    def drop_expired(self, *, now: int, max_card_validity: int) -> list[str]:
        """Unpublish keys whose last card has expired (retired before ``now - validity``)."""
        dropped = [
            kid
            for kid, w in self._windows.items()
            if w.not_after is not None and w.not_after + max_card_validity < now
        ]
        for kid in dropped:
            del self._windows[kid]
        return dropped

    @property
    def windows(self) -> tuple[SigningWindow, ...]:
        """All published keys with their windows, oldest first."""
        return tuple(sorted(self._windows.values(), key=lambda w: w.not_before))

    def lookup(self, issuer: str, kid: str) -> PublicKey | None:
        """A :data:`~asxh_card.card.KeyLookup`: the key for (issuer, kid), or None."""
        if issuer != self.issuer:
            return None
        window = self._windows.get(kid)
        return window.key if window is not None else None

    def signed_in_window(self, kid: str, issued_at: int) -> bool:
        """Whether ``kid`` was allowed to sign a card issued at ``issued_at``."""
        window = self._windows.get(kid)
        return window is not None and window.covers(issued_at)

    def to_jwks(self) -> dict[str, Any]:
        """``{"keys": [...], "windows": {kid: {"not_before", "not_after"}}}``."""
        return {
            "keys": [w.key.to_jwk() for w in self.windows],
            "windows": {
                w.key.kid: {"not_before": w.not_before, "not_after": w.not_after}
                for w in self.windows
            },
        }

    @classmethod
    def from_jwks(cls, issuer: str, document: object) -> KeySet:
        """Load what :meth:`to_jwks` wrote; raises :class:`KeyStoreError`."""
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise KeyStoreError("a JWKS must be an object with a 'keys' list")
        windows = document.get("windows", {})
        if not isinstance(windows, dict):
            raise KeyStoreError("'windows' must be an object")
        keyset = cls(issuer)
        for jwk in document["keys"]:
            try:
                key = PublicKey.from_jwk(jwk)
            except ValueError as exc:
                raise KeyStoreError(f"JWKS: {exc}") from None
            window = windows.get(key.kid, {})
            not_before = window.get("not_before", 0) if isinstance(window, dict) else 0
            not_after = window.get("not_after") if isinstance(window, dict) else None
            if type(not_before) is not int or not (not_after is None or type(not_after) is int):
                raise KeyStoreError(f"JWKS: window of {key.kid} must be integer seconds")
            keyset.add(key, not_before=not_before, not_after=not_after)
        return keyset
