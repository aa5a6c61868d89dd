"""A service point's local copy of the trust bundle and its status lists (DESIGN.md §4).

Layout::

    DIR/bundle.jwt                 the current bundle token
    DIR/status/<sha256>.jwt        each status-list token, named by the SHA-256 the bundle pins

:meth:`BundleStore.install` verifies a new bundle and every list it names *before* writing
anything, refuses a lower ``version`` than the stored one (rollback) and an equal version with
different content (two bundles claiming the same version: one is forged or the root is
misused), writes each file atomically (temporary file, fsync, rename, fsync of the directory)
with the lists first and the bundle last, so a crash leaves the old bundle or the complete new
one, never a bundle naming a list that is not on disk. No network here: ``asxh bundle pull``
downloads, this module decides (:meth:`BundleStore.check` lets it refuse a rollback before it
downloads the lists).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from asxh_card._core.keys import PublicKey
from asxh_card.bundle import (
    TrustBundle,
    load_status_list,
    parse_bundle,
    pinned_bundle,
)
from asxh_card.errors import (
    BundleInvalidError,
    BundleRollbackError,
    BundleStaleError,
    StatusListInvalidError,
)
from asxh_card.verifier.verifier import BUNDLE_FILE, STATUS_DIR

__all__ = ["BundleStore"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk; without this a crash could
    # keep the new bundle.jwt but lose the status-list files written (and renamed) before it.
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows cannot open a directory
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` already holds exactly ``data`` (a damaged or edited file does not)."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False


class BundleStore:
    """The directory a :class:`~asxh_card.verifier.Verifier` loads with ``from_directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @property
    def bundle_path(self) -> Path:
        """Where the current bundle token lives."""
        return self.directory / BUNDLE_FILE

    def status_path(self, sha256: str) -> Path:
        """Where the status-list token with this SHA-256 lives."""
        return self.directory / STATUS_DIR / f"{sha256}.jwt"

    def current(self, *, roots: Iterable[PublicKey]) -> TrustBundle | None:
        """The stored bundle, verified against ``roots``; None when there is none yet.

        A stored file that no longer verifies raises :class:`BundleInvalidError`: someone
        tampered with the directory, and silently replacing the file would hide it.
        """
        try:
            data = self.bundle_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BundleInvalidError(f"cannot read {self.bundle_path}: {exc.strerror}") from None
        return parse_bundle(data, roots=list(roots))

    def check(self, bundle: TrustBundle, *, roots: Iterable[PublicKey], now: int) -> None:
        """Refuse ``bundle`` if it may not replace the stored one (nothing is written).

        Raises :class:`BundleStaleError` (past its ``exp``) or :class:`BundleRollbackError`
        (lower version than the stored bundle, or the same version with other content).
        """
        if now > bundle.expires_at:
            raise BundleStaleError(f"the bundle (version {bundle.version}) is past its exp")
        current = self.current(roots=roots)
        if current is None:
            return
        if bundle.version < current.version:
            raise BundleRollbackError(
                f"offered version {bundle.version}, installed version {current.version}"
            )
        if bundle.version == current.version and bundle.token != current.token:
            raise BundleRollbackError(
                f"version {bundle.version} is installed with different content"
            )

    def install(
        self,
        bundle: TrustBundle | str | bytes,
        status_tokens: Mapping[str, str],
        *,
        roots: Iterable[PublicKey],
        now: int,
    ) -> TrustBundle:
        """Verify and store a bundle with its status lists (``status_tokens``: URI to token).

        ``bundle`` is the token, or a :class:`TrustBundle` already verified with one of
        ``roots`` (its signature is not checked again). Raises :class:`BundleInvalidError`,
        the errors of :meth:`check`, or :class:`StatusListInvalidError` (a list missing, badly
        signed or not matching its hash). Returns the installed bundle; installing the stored
        bundle again rewrites the same files (and repairs a damaged status-list file).
        """
        pinned = list(roots)
        bundle = pinned_bundle(bundle, roots=pinned)
        # Checked here even when the caller already did: another pull may have installed a newer
        # bundle while this one's lists were downloading.
        self.check(bundle, roots=pinned, now=now)
        verified: dict[str, bytes] = {}
        for uri, entry in bundle.status_lists.items():
            token = entry.token or status_tokens.get(uri)
            if token is None:
                raise StatusListInvalidError(f"the status list {uri} was not provided")
            load_status_list(token, entry, bundle)  # signature, hash, structure, bit size
            if entry.token is None:
                verified[entry.sha256] = token.strip().encode("ascii")
        for sha256, data in verified.items():
            path = self.status_path(sha256)
            if not _holds(path, data):
                write_atomic(path, data)
        write_atomic(self.bundle_path, bundle.token.encode("ascii"))
        self._prune(set(verified))
        return bundle

    def _prune(self, keep: set[str]) -> None:
        status_dir = self.directory / STATUS_DIR
        if not status_dir.is_dir():
            return
        for path in status_dir.glob("*.jwt"):
            if path.stem not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
