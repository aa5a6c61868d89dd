"""Issuer key files live and die with the transaction that records them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asxh_card.service.db import session_scope
from asxh_card.service.models import IssuerRow


class _AbortError(Exception):
    """Raised inside the transaction so that it rolls back."""


def _create_key_then_fail(service: Any, before: set[Path]) -> None:
    keyring = service.ctx.keyring
    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(IssuerRow, "vn-79")
        assert issuer is not None
        row = keyring.create_issuer_key(session, issuer)
        written = set(keyring.keys_dir.iterdir()) - before
        assert {p.name for p in written} == {row.key_file, row.key_file.replace(".pem", ".jwk")}
        raise _AbortError


def test_rolled_back_key_leaves_no_file_and_committed_key_stays(service: Any) -> None:
    """A key created in a transaction that rolls back has its .pem and .jwk removed."""
    keyring = service.ctx.keyring
    before = set(keyring.keys_dir.iterdir())
    with pytest.raises(_AbortError):
        _create_key_then_fail(service, before)
    assert set(keyring.keys_dir.iterdir()) == before

    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(IssuerRow, "vn-79")
        assert issuer is not None
        kept = keyring.create_issuer_key(session, issuer).key_file
    assert kept is not None
    assert (keyring.keys_dir / kept).exists()
    assert (keyring.keys_dir / kept).with_suffix(".jwk").exists()


def _key_files(keyring: Any) -> set[Path]:
    return set(keyring.keys_dir.iterdir())


def _fail_in_savepoint(session: Any, before_abort: Any = None) -> None:
    with session.begin_nested():
        if before_abort is not None:
            before_abort()
        raise _AbortError


def test_savepoint_rolled_back_after_the_key_keeps_its_files(service: Any) -> None:
    """A later savepoint that rolls back (a lost insert race) must not delete a kept key's files.

    Before the fix any savepoint rollback in the transaction deleted the new key's files while
    its row committed: an active key with no private key, so every card issue failed.
    """
    keyring = service.ctx.keyring
    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(IssuerRow, "vn-79")
        assert issuer is not None
        kept = keyring.create_issuer_key(session, issuer).key_file
        with pytest.raises(_AbortError):
            _fail_in_savepoint(session)
    assert kept is not None
    assert (keyring.keys_dir / kept).exists()
    assert (keyring.keys_dir / kept).with_suffix(".jwk").exists()


def _create_key_release_savepoint_then_fail(service: Any, before: set[Path]) -> None:
    keyring = service.ctx.keyring
    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(IssuerRow, "vn-79")
        assert issuer is not None
        keyring.create_issuer_key(session, issuer)
        with session.begin_nested():
            session.flush()
        assert len(_key_files(keyring) - before) == 2
        raise _AbortError


def test_released_savepoint_does_not_keep_files_of_a_rolled_back_key(service: Any) -> None:
    """A savepoint released after the key is created must not make its files outlive a rollback.

    Before the fix the savepoint's release counted as the commit: the files were forgotten and
    stayed behind, orphaned, when the whole transaction then rolled back.
    """
    keyring = service.ctx.keyring
    before = _key_files(keyring)
    with pytest.raises(_AbortError):
        _create_key_release_savepoint_then_fail(service, before)
    assert _key_files(keyring) == before


def test_key_made_in_a_rolled_back_savepoint_leaves_no_file(service: Any) -> None:
    """A key created inside a savepoint that rolls back goes with it, though the rest commits."""
    keyring = service.ctx.keyring
    before = _key_files(keyring)
    made: list[set[Path]] = []
    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(IssuerRow, "vn-79")
        assert issuer is not None
        active = keyring.active_key(session, "vn-79").kid

        def create() -> None:
            keyring.create_issuer_key(session, issuer)
            made.append(_key_files(keyring) - before)

        with pytest.raises(_AbortError):
            _fail_in_savepoint(session, create)
        assert keyring.active_key(session, "vn-79").kid == active
    assert len(made[0]) == 2
    assert _key_files(keyring) == before
