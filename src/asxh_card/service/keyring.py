"""Issuer and root keys: encrypted PKCS#8 files under ``<var>/keys``, decrypted once per process.

The database holds each issuer key's public JWK, state and signing window; the private key
stays in its encrypted file (:mod:`asxh_card.keystore`), decrypted with ``ASXH_KEY_PASSPHRASE``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import BindParameter, ColumnElement, event, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from asxh_card._core.keys import Algorithm, PrivateKey, PublicKey
from asxh_card._core.timeutil import utc_now
from asxh_card.errors import KeyStoreError
from asxh_card.keystore import generate_key_file, load_private_key, load_public_key
from asxh_card.service.db import one_of
from asxh_card.service.models import IssuerKeyRow, IssuerRow
from asxh_card.service.settings import Settings

__all__ = ["NEWEST_SIGNING_KEY_FIRST", "KeyFileRef", "Keyring", "signing_window"]

#: ``session.info`` keys: the key files not committed yet, each with the transaction (the root
#: one or a savepoint) that created it; and whether the session's listeners are installed.
_NEW_KEY_FILES = "asxh_new_key_files"
_LISTENING = "asxh_key_file_listeners"
#: The names :meth:`Keyring.create_issuer_key` gives, and ``write_atomic``'s temporary files.
_ISSUER_KEY_FILE: Final = re.compile(r"[a-z0-9][a-z0-9-]*-\d{14}-[0-9a-f]{8}\.pem")
_TEMPORARY_FILE: Final = re.compile(r"\.asxh-[0-9a-f]{16}\.tmp")
#: A key file younger than this may belong to a transaction still running (another worker).
ORPHAN_AGE_SECONDS: Final = 15 * 60
ORPHANED_DIR: Final = "orphaned"

_log = logging.getLogger("asxh_card.service.keyring")


def _ending(session: Session) -> SessionTransaction | None:
    # SQLAlchemy fires after_commit and after_rollback for savepoints too, before closing them:
    # the transaction the event is about is the innermost savepoint, else the root.
    return session.get_nested_transaction() or session.get_transaction()


def _inside(owner: SessionTransaction, ending: SessionTransaction | None) -> bool:
    """Whether ``owner`` is ``ending`` or a savepoint within it (so it ends with it)."""
    current: SessionTransaction | None = owner
    while current is not None:
        if current is ending:
            return True
        current = current.parent
    return False


class KeyFileRef(Protocol):
    """A key with a private key file on this server (an ``IssuerKeyRow`` or a look-up of one)."""

    @property
    def kid(self) -> str:
        """The key id."""

    @property
    def key_file(self) -> str | None:
        """The private key file's name in the keys directory (None: not on this server)."""


def signing_window(moment: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """Criteria of a key that may sign at ``moment`` (a value or a bound parameter).

    A published key (``active`` or ``retiring``) with a private key file here whose signing
    window covers the moment. Of two (the inclusive second a scheduled rotation switches),
    :data:`NEWEST_SIGNING_KEY_FIRST` puts the newer first.
    """
    return (
        one_of(IssuerKeyRow.state, ("active", "retiring")),
        IssuerKeyRow.key_file.is_not(None),
        IssuerKeyRow.not_before <= moment,
        or_(IssuerKeyRow.not_after.is_(None), IssuerKeyRow.not_after >= moment),
    )


#: The order that puts the key that signs now first (see :func:`signing_window`).
NEWEST_SIGNING_KEY_FIRST: Final = (IssuerKeyRow.not_before.desc(), IssuerKeyRow.id.desc())


class Keyring:
    """Loads and caches private keys; creates new issuer keys."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[str, PrivateKey] = {}
        self._public: dict[str, PublicKey] = {}
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

    def signer(self, key: KeyFileRef) -> PrivateKey:
        """The private key of ``key`` (raises :class:`~asxh_card.errors.KeyStoreError`)."""
        if key.key_file is None:
            raise KeyStoreError(f"key {key.kid} has no private key file on this server")
        return self._load(self.keys_dir / key.key_file)

    # -- root ----------------------------------------------------------------------------------

    def root_available(self) -> bool:
        """Whether this (demo) service keeps a root key and signs its own bundles.

        Only with ``Settings.self_signed_bundles`` (demo mode): a production service holds no
        root key and imports bundles signed offline.
        """
        return (
            self._settings.self_signed_bundles and self._settings.effective_root_key_file.exists()
        )

    def pinned_roots(self) -> list[PublicKey]:
        """The root public keys bundles must be signed by (cached after the first read).

        ``ASXH_ROOT_PUBLIC_KEY_FILE`` (a public JWK), and the demo root key's public half.
        Raises :class:`~asxh_card.errors.KeyStoreError` if the configured file is unreadable.
        """
        roots: list[PublicKey] = []
        path = self._settings.root_public_key_file
        if path is not None:
            with self._lock:
                cached = self._public.get(str(path))
            if cached is None:
                cached = load_public_key(path)
                with self._lock:
                    self._public[str(path)] = cached
            roots.append(cached)
        if self.root_available():
            demo = self.root_signer().public_key
            if all(r.kid != demo.kid for r in roots):
                roots.append(demo)
        return roots

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
        issuer: IssuerRow,
        *,
        alg: Algorithm = "ES256",
        not_before: datetime | None = None,
    ) -> IssuerKeyRow:
        """Generate a key for ``issuer`` whose signing window opens at ``not_before`` (now).

        The issuer's older keys get that moment as their cut-off (``not_after``) and become
        ``retiring``: they sign until then and keep verifying the cards they signed. An older
        key whose window had not opened yet (an earlier scheduled key) is dropped (``retired``).
        The key files are removed again if the transaction (or the savepoint) that records the
        key rolls back, so no private key outlives its row.
        """
        now = utc_now()
        # Whole seconds, as the bundle's windows are.
        start = (max(not_before, now) if not_before is not None else now).replace(microsecond=0)
        # Querying first also begins the transaction that the new files are tied to; the old
        # keys change only once the new one exists.
        older = session.scalars(
            select(IssuerKeyRow).where(
                IssuerKeyRow.issuer_id == issuer.id,
                IssuerKeyRow.state.in_(("active", "retiring")),
            )
        ).all()
        name = f"{issuer.id}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}.pem"
        path = self.keys_dir / name
        private = generate_key_file(path, self._settings.key_passphrase, alg)
        self._track_until_commit(session, path)
        with self._lock:
            self._cache[str(path)] = private
        for old in older:
            if old.not_before > start:
                old.state = "retired"  # scheduled, never signed: superseded by this key
            elif old.not_after is None or old.not_after > start:
                old.state, old.not_after = "retiring", start
        row = IssuerKeyRow(
            issuer_id=issuer.id,
            kid=private.kid,
            alg=private.alg,
            public_jwk=private.public_key.to_jwk(),
            key_file=name,
            state="active",
            not_before=start,
            not_after=None,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row

    def _track_until_commit(self, session: Session, path: Path) -> None:
        """Delete ``path`` (and its cache entry) if the transaction creating it rolls back."""
        owner = _ending(session)
        assert owner is not None  # noqa: S101 - create_issuer_key queried first
        session.info.setdefault(_NEW_KEY_FILES, []).append((path, owner))
        if not session.info.get(_LISTENING):
            session.info[_LISTENING] = True
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", self._after_rollback)

    @staticmethod
    def _after_commit(session: Session) -> None:
        # A released savepoint keeps its files tied to the enclosing transaction (they go if
        # that rolls back); only the root commit makes them permanent.
        if session.get_nested_transaction() is None:
            session.info.pop(_NEW_KEY_FILES, None)

    def _after_rollback(self, session: Session) -> None:
        # The keys' rows never reached the database: their files must not outlive them (an
        # orphaned, encrypted private key nobody knows about). Files of the enclosing
        # transaction stay: a savepoint rolled back after them (a lost insert race) is no
        # reason to lose a key whose row will commit.
        ending = _ending(session)
        tracked: list[tuple[Path, SessionTransaction]] = session.info.get(_NEW_KEY_FILES, [])
        gone = [path for path, owner in tracked if _inside(owner, ending)]
        session.info[_NEW_KEY_FILES] = [(p, o) for p, o in tracked if p not in gone]
        for path in gone:
            path.unlink(missing_ok=True)
            path.with_suffix(".jwk").unlink(missing_ok=True)
        with self._lock:
            for path in gone:
                self._cache.pop(str(path), None)

    def set_aside_orphans(self, session: Session) -> list[str]:
        """Move key files no key row names out of the key directory (run at start).

        A process killed (``kill -9``, power loss) between writing a new issuer key's file
        and committing its row leaves an encrypted private key nobody knows about; one killed
        mid-write leaves a temporary file. Files older than :data:`ORPHAN_AGE_SECONDS` (younger
        ones may belong to another worker's transaction still running) are moved to
        ``<keys>/orphaned/`` (owner-only), not deleted: a key directory shared by mistake with
        another database must not lose that database's keys. Returns the names moved.
        """
        if not self.keys_dir.is_dir():
            return []
        known = {name for name in session.scalars(select(IssuerKeyRow.key_file)) if name}
        cutoff = time.time() - ORPHAN_AGE_SECONDS
        moved: list[str] = []
        for path in sorted(self.keys_dir.iterdir()):
            name = path.name
            orphan = (_ISSUER_KEY_FILE.fullmatch(name) and name not in known) or (
                _TEMPORARY_FILE.fullmatch(name)
            )
            if not orphan or not path.is_file() or path.stat().st_mtime > cutoff:
                continue
            target = self.keys_dir / ORPHANED_DIR
            target.mkdir(mode=0o700, exist_ok=True)
            for item in (path, path.with_suffix(".jwk")):
                if item.exists():
                    item.replace(target / item.name)
            moved.append(name)
        if moved:
            _log.warning(
                "key files without a key row moved aside",
                extra={"event": "orphan_key_files", "files": moved, "to": str(target)},
            )
        return moved

    @staticmethod
    def active_key(
        session: Session, issuer_id: str, at: datetime | None = None
    ) -> IssuerKeyRow | None:
        """The key that signs ``issuer_id``'s cards at ``at`` (now).

        A published key (``active`` or ``retiring``) whose signing window covers the moment;
        of two (the inclusive second a scheduled rotation switches), the newer. A key scheduled
        ahead (``not_before`` in the future) does not sign before its window opens, and a key
        past its cut-off (``not_after``) signs nothing more.
        """
        return session.scalars(
            select(IssuerKeyRow)
            .where(IssuerKeyRow.issuer_id == issuer_id, *signing_window(at or utc_now()))
            .order_by(*NEWEST_SIGNING_KEY_FIRST)
            .limit(1)
        ).first()
