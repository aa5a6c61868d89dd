"""Issuer and root keys: encrypted PKCS#8 files under ``<var>/keys``, decrypted once per process.

The database holds each issuer key's public JWK, state and signing window; the private key
stays in its encrypted file (:mod:`asxh_card.keystore`), decrypted with ``ASXH_KEY_PASSPHRASE``.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from asxh_card._core.keys import Algorithm, PrivateKey, PublicKey
from asxh_card._core.timeutil import utc_now
from asxh_card.keystore import generate_key_file, load_private_key
from asxh_card.service.models import Issuer, IssuerKey
from asxh_card.service.settings import Settings

__all__ = ["Keyring"]

#: ``session.info`` key: key files created in the session's open transaction.
_NEW_KEY_FILES = "asxh_new_key_files"


def _forget_new_key_files(session: Session) -> None:
    session.info.pop(_NEW_KEY_FILES, None)


def _remove_new_key_files(session: Session) -> None:
    # The key's row never reached the database: its files must not outlive it (an orphaned,
    # encrypted private key nobody knows about).
    for path in session.info.pop(_NEW_KEY_FILES, []):
        path.unlink(missing_ok=True)
        path.with_suffix(".jwk").unlink(missing_ok=True)


class Keyring:
    """Loads and caches private keys; creates new issuer keys."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[str, PrivateKey] = {}
        self._lock = threading.Lock()

    @property
    def keys_dir(self) -> Path:
        """Directory of the key files."""
        return self._settings.keys_dir

    def _load(self, path: Path) -> PrivateKey:
        with self._lock:
            cached = self._cache.get(str(path))
            if cached is None:
                cached = load_private_key(path, self._settings.key_passphrase)
                self._cache[str(path)] = cached
            return cached

    def signer(self, key: IssuerKey) -> PrivateKey:
        """The private key of ``key`` (raises :class:`~asxh_card.errors.KeyStoreError`)."""
        if key.key_file is None:
            from asxh_card.errors import KeyStoreError  # noqa: PLC0415

            raise KeyStoreError(f"key {key.kid} has no private key file on this server")
        return self._load(self.keys_dir / key.key_file)

    # -- root ----------------------------------------------------------------------------------

    def root_available(self) -> bool:
        """Whether a root key file is configured and present."""
        return self._settings.effective_root_key_file.exists()

    def root_signer(self) -> PrivateKey:
        """The national root key (signs trust bundles)."""
        return self._load(self._settings.effective_root_key_file)

    def ensure_root(self, alg: Algorithm = "ES256") -> PublicKey:
        """Create the root key file if missing (demo mode); return its public key."""
        path = self._settings.effective_root_key_file
        if not path.exists():
            generate_key_file(path, self._settings.key_passphrase, alg)
        return self.root_signer().public_key

    # -- issuer keys ---------------------------------------------------------------------------

    def create_issuer_key(
        self,
        session: Session,
        issuer: Issuer,
        *,
        alg: Algorithm = "ES256",
        not_before: datetime | None = None,
    ) -> IssuerKey:
        """Generate a key for ``issuer``; older active keys become ``retiring``."""
        now = utc_now()
        name = f"{issuer.id}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}.pem"
        path = self.keys_dir / name
        private = generate_key_file(path, self._settings.key_passphrase, alg)
        self._track_until_commit(session, path)
        with self._lock:
            self._cache[str(path)] = private
        for old in session.scalars(
            select(IssuerKey).where(IssuerKey.issuer_id == issuer.id, IssuerKey.state == "active")
        ):
            old.state = "retiring"
            old.not_after = now
        row = IssuerKey(
            issuer_id=issuer.id,
            kid=private.kid,
            alg=private.alg,
            public_jwk=private.public_key.to_jwk(),
            key_file=name,
            state="active",
            not_before=not_before or now,
            not_after=None,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def _track_until_commit(self, session: Session, path: Path) -> None:
        """Delete ``path`` (and its cache entry) if the session's transaction rolls back."""
        session.info.setdefault(_NEW_KEY_FILES, []).append(path)
        if not event.contains(session, "after_commit", _forget_new_key_files):
            event.listen(session, "after_commit", _forget_new_key_files)
            event.listen(session, "after_rollback", _remove_new_key_files)
            event.listen(session, "after_rollback", self._evict_removed)

    def _evict_removed(self, _session: Session) -> None:
        with self._lock:
            for cached in [p for p in self._cache if not Path(p).exists()]:
                del self._cache[cached]

    @staticmethod
    def active_key(session: Session, issuer_id: str) -> IssuerKey | None:
        """The newest active key of ``issuer_id``."""
        return session.scalars(
            select(IssuerKey)
            .where(IssuerKey.issuer_id == issuer_id, IssuerKey.state == "active")
            .order_by(IssuerKey.id.desc())
            .limit(1)
        ).first()
