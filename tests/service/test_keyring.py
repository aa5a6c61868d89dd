"""Issuer key files live and die with the transaction that records them."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from asxh_card.service.app import create_app
from asxh_card.service.db import session_scope
from asxh_card.service.keyring import ORPHAN_AGE_SECONDS, ORPHANED_DIR
from asxh_card.service.models import IssuerKeyRow, IssuerRow


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


_KILLED_WHILE_CREATING = """
import os, signal, sys
from pathlib import Path
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.models import IssuerRow
from asxh_card.service.settings import Settings

settings = Settings(
    database_url=os.environ["URL"],
    var_dir=Path(os.environ["VAR"]),
    secret_key=bytes.fromhex(os.environ["SECRET"]),
    data_key=bytes.fromhex(os.environ["DATA"]),
    key_passphrase=bytes.fromhex(os.environ["PASS"]),
)
ctx = ServiceContext.build(settings)
with session_scope(ctx.sessions) as session:
    issuer = session.get(IssuerRow, "vn-79")
    row = ctx.keyring.create_issuer_key(session, issuer)
    print(row.key_file, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # before the commit: the row never exists
"""


def test_key_file_orphaned_by_kill_9_is_set_aside_at_start(service: Any) -> None:
    """``kill -9`` between writing a new issuer key and committing its row left an encrypted
    private key in the key directory that no row names, for ever."""
    settings = service.ctx.settings
    env = {
        **os.environ,
        "URL": settings.database_url,
        "VAR": str(settings.var_dir),
        "SECRET": settings.secret_key.hex(),
        "DATA": settings.data_key.hex(),
        "PASS": settings.key_passphrase.hex(),
    }
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_CREATING],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    keys = service.ctx.keyring.keys_dir
    orphan = keys / killed.stdout.strip()
    assert orphan.exists()
    assert stat.S_IMODE(orphan.stat().st_mode) == 0o600  # owner-only, even orphaned
    long_ago = time.time() - ORPHAN_AGE_SECONDS - 60
    os.utime(orphan, (long_ago, long_ago))
    fresh = keys / "vn-79-20990101000000-0123abcd.pem"  # another worker's key, not committed yet
    fresh.write_bytes(b"in flight")
    with session_scope(service.ctx.sessions) as session:
        known = [k.key_file for k in session.scalars(select(IssuerKeyRow)) if k.key_file]
    for name in known:  # old files that rows name are never touched
        os.utime(keys / name, (long_ago, long_ago))
    try:
        create_app(settings, context=service.ctx)  # a start
        assert not orphan.exists()
        assert not orphan.with_suffix(".jwk").exists()
        assert (keys / ORPHANED_DIR / orphan.name).exists()
        assert stat.S_IMODE((keys / ORPHANED_DIR).stat().st_mode) == 0o700
        assert fresh.exists()
        assert all((keys / name).exists() for name in known)
    finally:
        fresh.unlink()
    # The service still signs with its keys after the start.
    number = service.register()
    service.grant("off79", number, service.BHYT)
    assert service.issue("off79", number)["serial"]


def test_service_key_files_are_owner_only(service: Any) -> None:
    """Issuer private keys (and the demo root key) are created 0600, readable by no one else."""
    keys = service.ctx.keyring.keys_dir
    private = [p for p in keys.iterdir() if p.suffix == ".pem"]
    assert private
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
