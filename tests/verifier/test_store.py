"""The local directory of a service point (``BundleStore``): what someone with access to the
files can try (older files copied in, renamed lists, a damaged or deleted state), and the
repairs that must still work. Each test names the attack; nothing is mocked (real files, real
signatures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from vworld import AT, DAY, T0, URI_01, URI_79, World

from asxh_card._core.statuslist import Status
from asxh_card.errors import (
    BundleInvalidError,
    BundleStaleError,
    StatusListInvalidError,
    StatusListRollbackError,
)
from asxh_card.verifier import BundleStore, Verifier


@pytest.fixture
def install(world: World) -> Callable[..., None]:
    """Install the test's one bundle token (ECDSA is randomised: signing again gives another
    token, which the store rightly refuses as the same version with other content) with the
    given list tokens (default: the world's current lists)."""
    bundle = world.bundle()

    def run(store: BundleStore, *tokens: str) -> None:
        chosen = list(tokens) or [world.status_token(uri) for uri in (URI_79, URI_01)]
        store.install(bundle, chosen, roots=[world.root.public_key], now=T0)

    return run


def test_load_without_a_bundle_is_bundle_invalid(world: World, tmp_path: Path) -> None:
    """An empty directory (never pulled, or its bundle deleted) is a clear BundleInvalidError
    naming the file, so a clerk's device says "update the data" rather than crash."""
    with pytest.raises(BundleInvalidError, match=r"bundle\.jwt"):
        BundleStore(tmp_path).load(roots=[world.root.public_key])


def test_damaged_state_file_is_refused_not_reset(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Attack: overwrite state.json with garbage so the store forgets which versions it saw and
    accepts an older bundle. A damaged state is refused (BundleInvalidError) instead of being
    silently started afresh; only deleting it by hand resets the rollback memory."""
    store = BundleStore(tmp_path)
    install(store)
    store.state_path.write_text("{not json")
    with pytest.raises(BundleInvalidError, match="damaged"):
        store.state()
    store.state_path.write_text(json.dumps({"v": 1, "bundle_version": "high"}))
    with pytest.raises(BundleInvalidError, match="damaged"):
        store.install(world.bundle(), [], roots=[world.root.public_key], now=T0)


def test_unreadable_state_and_bundle_are_bundle_invalid(world: World, tmp_path: Path) -> None:
    """A state.json or bundle.jwt that is a directory (cannot be read) is BundleInvalidError
    naming the path, not an OSError escaping to the caller."""
    store = BundleStore(tmp_path / "a")
    store.directory.mkdir()
    store.state_path.mkdir()
    with pytest.raises(BundleInvalidError, match="cannot read"):
        store.state()
    other = BundleStore(tmp_path / "b")
    other.directory.mkdir()
    other.bundle_path.mkdir()
    with pytest.raises(BundleInvalidError, match="cannot read"):
        other.current(roots=[world.root.public_key])


def test_expired_bundle_is_not_installed(world: World, tmp_path: Path) -> None:
    """A bundle past its exp is refused at install (BundleStaleError) and nothing is written."""
    store = BundleStore(tmp_path)
    with pytest.raises(BundleStaleError):
        store.install(world.bundle(exp=T0 - 1), [], roots=[world.root.public_key], now=T0)
    assert not store.bundle_path.exists()


def test_older_list_file_copied_in_is_a_rollback(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Attack: keep yesterday's list (before a revocation) and copy it over today's file. The
    store remembers today's iat, so load() refuses the older file (StatusListRollbackError)."""
    store = BundleStore(tmp_path)
    yesterday = world.status_token(URI_79, issued_at=T0 - DAY)
    install(store, yesterday)
    install(store)
    store.status_path(URI_79).write_text(yesterday)
    with pytest.raises(StatusListRollbackError):
        store.load(roots=[world.root.public_key])
    with pytest.raises(StatusListRollbackError):
        install(store, yesterday)


def test_list_file_under_another_lists_name_is_refused(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Attack: copy Hà Nội's list over the file of Hồ Chí Minh City's list (both validly
    signed). The file name must be the one of the list it holds: StatusListInvalidError."""
    store = BundleStore(tmp_path)
    install(store)
    store.status_path(URI_79).write_text(store.status_path(URI_01).read_text())
    with pytest.raises(StatusListInvalidError, match="holds the list"):
        store.load(roots=[world.root.public_key])


def test_list_file_that_does_not_verify_is_refused(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Attack: edit a list file (one bit of a revoked card flipped back). The edited token does
    not verify, so load() refuses it (StatusListInvalidError), never uses it."""
    store = BundleStore(tmp_path)
    install(store)
    token = store.status_path(URI_79).read_text()
    store.status_path(URI_79).write_text(
        token[:-6] + ("AAAAAA" if token[-6:] != "AAAAAA" else "BBBBBB")
    )
    with pytest.raises(StatusListInvalidError):
        store.load(roots=[world.root.public_key])
    store.status_path(URI_79).write_bytes(b"\xff\xfe")
    with pytest.raises(StatusListInvalidError, match="cannot read"):
        store.load(roots=[world.root.public_key])


def test_same_iat_other_content_is_a_rollback(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Attack: a second list with the same iat as the held one but other entries (e.g. signed
    by a leaked key before the revocation it hides). It is refused, the held file stays."""
    store = BundleStore(tmp_path)
    install(store)
    held = store.status_path(URI_79).read_text()
    world.set_status(URI_79, 10, Status.REVOKED)
    with pytest.raises(StatusListRollbackError, match="different content"):
        install(store)
    assert store.status_path(URI_79).read_text() == held


def test_lost_or_damaged_list_file_is_repaired_by_the_same_list(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """Repairs still work: a deleted list file, or one damaged on disk, is written again when
    the same list (same iat, same content) is installed, and the verifier then loads."""
    store = BundleStore(tmp_path)
    install(store)
    store.status_path(URI_79).unlink()
    install(store)
    store.status_path(URI_01).write_text("damaged")
    install(store)
    verifier = Verifier.from_directory(tmp_path, roots=[world.root.public_key])
    assert verifier.verify(world.card(), at=AT).serial == "C0001"


def test_installing_the_same_lists_again_changes_nothing(
    world: World, tmp_path: Path, install: Callable[..., None]
) -> None:
    """A second pull of unchanged data rewrites no list file (their times stay)."""
    store = BundleStore(tmp_path)
    install(store)
    before = store.status_path(URI_79).stat().st_mtime_ns
    install(store)
    assert store.status_path(URI_79).stat().st_mtime_ns == before
