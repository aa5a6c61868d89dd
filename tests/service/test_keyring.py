"""Issuer key files live and die with the transaction that records them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asxh_card.service.db import session_scope
from asxh_card.service.models import Issuer


class _AbortError(Exception):
    """Raised inside the transaction so that it rolls back."""


def _create_key_then_fail(service: Any, before: set[Path]) -> None:
    keyring = service.ctx.keyring
    with session_scope(service.ctx.sessions) as session:
        issuer = session.get(Issuer, "vn-79")
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
        issuer = session.get(Issuer, "vn-79")
        assert issuer is not None
        kept = keyring.create_issuer_key(session, issuer).key_file
    assert kept is not None
    assert (keyring.keys_dir / kept).exists()
    assert (keyring.keys_dir / kept).with_suffix(".jwk").exists()
