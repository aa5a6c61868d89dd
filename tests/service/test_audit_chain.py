"""Audit you can trust (issue 10 §4): hash chain, signed checkpoints, append-only triggers.

Tamper tests edit the database as its owner would: in one transaction they lift the
append-only triggers, tamper, check the chain, and roll everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from asxh_card.service import audit
from asxh_card.service.audit import AuditSigner, verify_chain
from asxh_card.service.db import session_scope
from asxh_card.service.models import AuditEventRow


def _activity(service: Any) -> None:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    service.issue("off79", number)


@contextmanager
def _as_owner(service: Any) -> Iterator[Session]:
    """A session without the append-only triggers, rolled back at the end."""
    with service.ctx.sessions() as session:
        session.begin()
        if service.backend == "postgresql":
            session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            session.execute(text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        else:
            for table in ("audit_events", "audit_checkpoints"):
                for event in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER {table}_no_{event}"))
        try:
            yield session
        finally:
            session.rollback()


def _check(service: Any, session: Session) -> audit.ChainReport:
    return verify_chain(session, AuditSigner(service.ctx.settings.secret_key))


def test_actions_are_chained_and_the_chain_verifies(service: Any) -> None:
    """Every mutating action appends a chained entry; the untouched chain verifies."""
    _activity(service)
    with session_scope(service.ctx.sessions) as session:
        report = _check(service, session)
    assert report.ok, report
    assert report.entries >= 3


def test_pin_lookups_and_failed_logins_are_audited(service: Any) -> None:
    """A PIN look-up (found or not) and a failed log-in each write an audit entry."""
    body = service.person()
    service.call("off79", "POST", "/v1/persons", json=body)
    found = service.call("off79", "POST", "/v1/persons/lookup", json={"pin": body["pin"]})
    assert found.status_code == 200
    missing = service.call("off01", "POST", "/v1/persons/lookup", json={"pin": body["pin"]})
    assert missing.status_code == 404
    service.client.post("/v1/auth/token", data={"username": "off01", "password": "nope"})
    log = service.call("admin", "GET", "/v1/audit?limit=10").json()
    actions = [entry["action"] for entry in log]
    assert actions.count("person.lookup") >= 2
    assert "operator.login_failed" in actions
    assert body["pin"] not in str(log)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"]
)
def test_database_refuses_changing_audit_entries(service: Any, statement: str) -> None:
    """Attack: the application's database role rewriting history; a trigger refuses it."""
    _activity(service)
    with pytest.raises(DBAPIError, match="append-only"), service.ctx.engine.begin() as conn:
        conn.execute(text(statement))


def _edit(session: Session, seq: int) -> None:
    session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": seq})


def _delete(session: Session, seq: int) -> None:
    session.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})


def _reorder(session: Session, seq: int) -> None:
    # Swap the positions of two entries (their hashes travel with them).
    session.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :s"), {"s": seq})
    session.execute(
        text("UPDATE audit_events SET seq = :s WHERE seq = :n"), {"s": seq, "n": seq + 1}
    )
    session.execute(text("UPDATE audit_events SET seq = :n WHERE seq = -1"), {"n": seq + 1})


def _truncate(session: Session, seq: int) -> None:
    session.execute(text("DELETE FROM audit_events WHERE seq >= :s"), {"s": seq})


@pytest.mark.parametrize(
    "tamper", [_edit, _delete, _reorder, _truncate], ids=["edit", "delete", "reorder", "truncate"]
)
def test_tampering_is_detected_at_the_first_bad_entry(
    service: Any, tamper: Callable[[Session, int], None]
) -> None:
    """Attack: an owner of the database edits, deletes, reorders or truncates the log."""
    _activity(service)
    _activity(service)
    with _as_owner(service) as session:
        last = session.scalar(text("SELECT max(seq) FROM audit_events"))
        target = last - 3
        tamper(session, target)
        report = _check(service, session)
    assert not report.ok
    assert report.bad_seq == target, report


def test_checkpoints_are_signed_and_checked(service: Any) -> None:
    """Every 100th entry gets a signed checkpoint; a forged one or a rewritten tail is caught."""
    actor = audit.Actor(service.ctx.tokens.verify(service.token("admin")))
    with session_scope(service.ctx.sessions) as session:
        for i in range(audit.CHECKPOINT_EVERY):
            audit.record(session, actor, "test.entry", "test", i)
    with session_scope(service.ctx.sessions) as session:
        report = _check(service, session)
    assert report.ok, report
    assert report.checkpoints >= 1
    with _as_owner(service) as session:
        seq = session.scalar(text("SELECT max(seq) FROM audit_checkpoints"))
        session.execute(
            text("UPDATE audit_checkpoints SET entry_hash = :h WHERE seq = :s"),
            {"h": "0" * 64, "s": seq},
        )
        report = _check(service, session)
    assert report.bad_seq == seq


def test_audit_verify_cli(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``asxh audit verify``: exit 0 on an intact chain, 1 naming the first bad entry."""
    import base64
    import secrets
    import sqlite3

    from typer.testing import CliRunner

    from asxh_card.cli import app as cli_app
    from asxh_card.service.context import ServiceContext
    from asxh_card.service.migrate import upgrade
    from asxh_card.service.security import Principal
    from asxh_card.service.settings import Settings

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {
        "ASXH_DATABASE_URL": url,
        "ASXH_SECRET_KEY": secrets.token_urlsafe(32),
        "ASXH_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ASXH_KEY_PASSPHRASE": secrets.token_urlsafe(16),
        "ASXH_VAR_DIR": str(tmp_path),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    upgrade(url)
    ctx = ServiceContext.build(Settings.from_env())
    actor = audit.Actor(Principal("admin", "national_admin", None, ()))
    with session_scope(ctx.sessions) as session:
        for i in range(5):
            audit.record(session, actor, "test.entry", "test", i)
    ctx.engine.dispose()
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET object_id = 'x' WHERE seq = 3")
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "First bad entry: 3" in result.output


def test_entries_hashed_by_the_database_verify_like_any_other(service: Any) -> None:
    """On PostgreSQL the database hashes each entry (one statement per append); its hash of
    Vietnamese text, quotes and a look-alike of the marks it fills in must be the one
    ``entry_hash`` computes, or ``asxh audit verify`` would call the chain tampered with."""
    from asxh_card.service.audit import Actor
    from asxh_card.service.security import Principal

    actor = Actor(
        Principal(username="kiểm-thử", role="national_admin", province=None, programmes=())
    )
    tricky = {
        "note": 'Nguyễn Thị Ánh "Tuyết" \\ đã chuyển đến Đà Nẵng',
        "mark": "asxh-mark-00000000000000000000000000000000",
        "nested": {"số": 1, "list": ["ư", None, 2.5]},
    }
    with session_scope(service.ctx.sessions) as session:
        for i in range(3):
            audit.record(
                session, actor, "test.note", "person", f"p{i}", province="79", detail=tricky
            )
    with session_scope(service.ctx.sessions) as session:
        report = _check(service, session)
        written = session.scalars(
            select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(3)
        ).all()
        stored = [
            (
                row.detail,
                row.prev_hash,
                row.entry_hash,
                audit.entry_hash(vars(row), row.prev_hash or ""),
            )
            for row in written
        ]
    assert report.ok, report
    assert report.entries >= 3
    for detail, _previous, stored_hash, python_hash in stored:
        assert detail == tricky
        assert stored_hash == python_hash
    assert [previous for _, previous, _, _ in stored[:-1]] == [h for _, _, h, _ in stored[1:]]
