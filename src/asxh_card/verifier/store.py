"""A service point's local copy of the trust bundle and status lists, with rollback state.

Layout (docs/trust-bundle.md "Local directory")::

    DIR/bundle.jwt                 the current bundle token
    DIR/status/<sha256(uri)>.jwt   the newest token of each status list, named by its URI
    DIR/state.json                 the newest bundle version and list iat seen, and ETags

:meth:`BundleStore.install` verifies a bundle and lists *before* writing anything. It refuses a
bundle with a lower ``version`` than the stored one or the one remembered in ``state.json``, or
the same version with other content (:class:`~asxh_card.errors.BundleRollbackError`), and a list
older by ``iat`` than the one held for its URI, or with the same ``iat`` and other content
(:class:`~asxh_card.errors.StatusListRollbackError`). :meth:`BundleStore.load` applies the same
checks to what is on disk, so an older ``bundle.jwt`` or list file copied into the directory by
hand is refused too (the state only moves forward). Every file is written whole or not at all
(:func:`asxh_card._core.fileio.write_atomic`). No network here: ``asxh bundle pull`` downloads,
this module decides.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from asxh_card._core import strictjson
from asxh_card._core.fileio import write_atomic
from asxh_card._core.keys import PublicKey
from asxh_card.bundle import LoadedStatusList, TrustBundle, load_status_list, pinned_bundle
from asxh_card.errors import (
    BundleInvalidError,
    BundleRollbackError,
    BundleStaleError,
    StatusListInvalidError,
    StatusListRollbackError,
    VerificationError,
)

__all__ = [
    "BUNDLE_FILE",
    "STATE_FILE",
    "STATUS_DIR",
    "BundleStore",
    "ListState",
    "StoreState",
    "status_file_name",
]

BUNDLE_FILE = "bundle.jwt"
STATUS_DIR = "status"
STATE_FILE = "state.json"
_STATE_MAX_BYTES = 16 * 1024 * 1024


class ListState(msgspec.Struct, forbid_unknown_fields=True):
    """What the store remembers of one list: its newest ``iat`` and the server's ETag."""

    iat: int
    etag: str | None = None


class StoreState(msgspec.Struct, forbid_unknown_fields=True):
    """``state.json``: only ever moves forward (newest bundle version, newest list iat)."""

    v: int = 1
    bundle_version: int = 0
    bundle_etag: str | None = None
    lists: dict[str, ListState] = msgspec.field(default_factory=dict)


def status_file_name(uri: str) -> str:
    """The file name of ``uri``'s list in ``DIR/status`` (a URI is no safe file name)."""
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:40] + ".jwt"


def _tokens(status_tokens: Mapping[str, str] | Iterable[str]) -> list[str]:
    values = status_tokens.values() if isinstance(status_tokens, Mapping) else status_tokens
    return [t.strip() for t in values]


class BundleStore:
    """The directory a :class:`~asxh_card.verifier.Verifier` loads with ``from_directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @property
    def bundle_path(self) -> Path:
        """Where the current bundle token lives."""
        return self.directory / BUNDLE_FILE

    @property
    def state_path(self) -> Path:
        """Where the rollback state lives."""
        return self.directory / STATE_FILE

    def status_path(self, uri: str) -> Path:
        """Where the newest token of the list ``uri`` lives."""
        return self.directory / STATUS_DIR / status_file_name(uri)

    # -- state -------------------------------------------------------------------------------

    def state(self) -> StoreState:
        """The rollback state (empty when there is none yet).

        A damaged state file raises :class:`BundleInvalidError`: deleting it by hand is a
        deliberate act; silently starting afresh would reopen the door to a rollback.
        """
        try:
            data = self.state_path.read_bytes()
        except FileNotFoundError:
            return StoreState()
        except OSError as exc:
            raise BundleInvalidError(f"cannot read {self.state_path}: {exc.strerror}") from None
        try:
            return msgspec.convert(
                strictjson.loads(data, max_size=_STATE_MAX_BYTES), StoreState, strict=True
            )
        except (strictjson.StrictJSONError, msgspec.ValidationError) as exc:
            raise BundleInvalidError(f"{self.state_path} is damaged: {exc}") from None

    def _write_state(self, state: StoreState) -> None:
        write_atomic(self.state_path, msgspec.json.encode(state))

    # -- checks ------------------------------------------------------------------------------

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
        return pinned_bundle(data, roots=list(roots))

    def check(self, bundle: TrustBundle, *, roots: Iterable[PublicKey], now: int) -> None:
        """Refuse ``bundle`` if it may not replace the stored one (nothing is written).

        Raises :class:`BundleStaleError` (past its ``exp``) or :class:`BundleRollbackError`
        (lower version than the stored or remembered bundle, or the same version with other
        content).
        """
        if now > bundle.expires_at:
            raise BundleStaleError(f"the bundle (version {bundle.version}) is past its exp")
        _check_bundle_state(bundle, self.state())
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

    def _check_list(self, loaded: LoadedStatusList, state: StoreState, bundle: TrustBundle) -> bool:
        """Refuse a list older than the one held; False when it is the one held already."""
        held = state.lists.get(loaded.uri)
        if held is None or loaded.issued_at > held.iat:
            return True
        if loaded.issued_at < held.iat:
            raise StatusListRollbackError(
                f"{loaded.uri[:200]}: offered iat {loaded.issued_at}, held iat {held.iat}"
            )
        try:
            on_disk = self.status_path(loaded.uri).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return True  # lost or damaged: the same list again repairs it
        if on_disk == loaded.token:
            return False
        try:
            load_status_list(on_disk, bundle)
        except VerificationError:
            return True
        raise StatusListRollbackError(
            f"{loaded.uri[:200]}: iat {held.iat} is held with different content"
        )

    # -- writing -----------------------------------------------------------------------------

    def install(
        self,
        bundle: TrustBundle | str | bytes,
        status_tokens: Mapping[str, str] | Iterable[str] = (),
        *,
        roots: Iterable[PublicKey],
        now: int,
        etags: Mapping[str, str] | None = None,
        bundle_etag: str | None = None,
    ) -> TrustBundle:
        """Verify and store a bundle with status-list tokens (any order; a mapping's values).

        ``bundle`` is the token, or a :class:`TrustBundle` already verified with one of
        ``roots`` (its signature is not checked again). Every list must be acceptable under the
        bundle (:func:`~asxh_card.bundle.load_status_list`) and not older than the one held.
        Raises :class:`BundleInvalidError`, the errors of :meth:`check`,
        :class:`StatusListInvalidError` or :class:`StatusListRollbackError`; nothing is written
        then. Lists held before stay unless the new bundle no longer accepts them. ``etags``
        (URI to ETag) and ``bundle_etag`` are remembered for the next conditional download.
        """
        pinned = list(roots)
        bundle = pinned_bundle(bundle, roots=pinned)
        # Checked here even when the caller already did: another pull may have installed a
        # newer bundle while this one's lists were downloading.
        self.check(bundle, roots=pinned, now=now)
        state = self.state()
        newest: dict[str, LoadedStatusList] = {}
        for token in _tokens(status_tokens):
            loaded = load_status_list(token, bundle)
            seen = newest.get(loaded.uri)
            if seen is None or loaded.issued_at > seen.issued_at:
                newest[loaded.uri] = loaded
        fresh = [loaded for loaded in newest.values() if self._check_list(loaded, state, bundle)]
        current = self.current(roots=pinned)
        if current is None or current.token != bundle.token:
            write_atomic(self.bundle_path, bundle.token.encode("ascii"))
        for loaded in fresh:
            write_atomic(self.status_path(loaded.uri), loaded.token.encode("ascii"))
        state.bundle_version = max(state.bundle_version, bundle.version)
        if bundle_etag is not None:
            state.bundle_etag = bundle_etag
        for loaded in fresh:
            state.lists[loaded.uri] = ListState(loaded.issued_at)
        for uri, etag in (etags or {}).items():
            if uri in state.lists:
                state.lists[uri].etag = etag
        self._prune(bundle, state)
        self._write_state(state)
        return bundle

    def _prune(self, bundle: TrustBundle, state: StoreState) -> None:
        """Forget the lists of issuers (or bases) the bundle no longer names."""
        for uri in list(state.lists):
            if bundle.issuer_of_status_uri(uri) is None:
                with contextlib.suppress(OSError):
                    self.status_path(uri).unlink()
                # The iat stays remembered: a base that comes back must not roll back.
                state.lists[uri].etag = None

    # -- reading -----------------------------------------------------------------------------

    def load(self, *, roots: Iterable[PublicKey]) -> tuple[TrustBundle, list[str]]:
        """The stored bundle and list tokens, refused if older than the state remembers.

        Raises :class:`BundleInvalidError` (no or a bad bundle), :class:`BundleRollbackError`,
        :class:`StatusListInvalidError` (a list file the bundle does not accept) or
        :class:`StatusListRollbackError`. What is newer than the state moves the state forward
        (best effort: a read-only directory still verifies).
        """
        pinned = list(roots)
        bundle = self.current(roots=pinned)
        if bundle is None:
            raise BundleInvalidError(f"no {BUNDLE_FILE} in {self.directory}")
        state = self.state()
        _check_bundle_state(bundle, state)
        tokens: list[str] = []
        moved = bundle.version > state.bundle_version
        status_dir = self.directory / STATUS_DIR
        paths = sorted(status_dir.glob("*.jwt")) if status_dir.is_dir() else []
        for path in paths:
            try:
                token = path.read_text("ascii").strip()
            except (OSError, UnicodeDecodeError):
                raise StatusListInvalidError(f"cannot read the status list {path}") from None
            try:
                loaded = load_status_list(token, bundle)
            except VerificationError as exc:
                raise StatusListInvalidError(f"{path.name}: {exc.detail}") from None
            if path.name != status_file_name(loaded.uri):
                raise StatusListInvalidError(f"{path.name} holds the list {loaded.uri[:200]}")
            held = state.lists.get(loaded.uri)
            if held is not None and loaded.issued_at < held.iat:
                raise StatusListRollbackError(
                    f"{path.name}: iat {loaded.issued_at}, but iat {held.iat} was held before"
                )
            if held is None or loaded.issued_at > held.iat:
                state.lists[loaded.uri] = ListState(loaded.issued_at)
                moved = True
            tokens.append(token)
        if moved:
            state.bundle_version = max(state.bundle_version, bundle.version)
            with contextlib.suppress(OSError):
                self._write_state(state)
        return bundle, tokens


def _check_bundle_state(bundle: TrustBundle, state: StoreState) -> None:
    if bundle.version < state.bundle_version:
        raise BundleRollbackError(
            f"bundle version {bundle.version}, but version {state.bundle_version} was held before"
        )
