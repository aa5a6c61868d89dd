"""The audit log: who did what to which object, and when. Never a PIN, never a name.

**A hash chain.** Entry ``n`` stores ``seq = n``, the hash of entry ``n - 1`` and its own hash,
SHA-256 over a canonical JSON of its fields and that previous hash. The one-row
``audit_head`` holds the last position and hash. Every ``CHECKPOINT_EVERY``-th entry the
service signs a checkpoint (Ed25519, a key derived from ``ASXH_SECRET_KEY``). Entries are
appended under the head's row lock (PostgreSQL; SQLite's writes already take turns) in the
same transaction as the change they record. The database refuses UPDATE and DELETE of entries
and checkpoints with a trigger (migration 0004).

:func:`verify_chain` (``asxh audit verify``) walks the chain and reports the first bad entry:
an edited entry no longer has its hash, a deleted or reordered one breaks the links or the
positions, and a truncated chain no longer reaches the head or a signed checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now
from asxh_card.service.db import mapped_table
from asxh_card.service.models import AuditCheckpointRow, AuditEventRow, AuditHeadRow
from asxh_card.service.security import Principal, derive_key

__all__ = [
    "CHECKPOINT_EVERY",
    "GENESIS",
    "Actor",
    "AuditSigner",
    "ChainReport",
    "entry_hash",
    "record",
    "verify_chain",
]

#: The "previous hash" of the first entry.
GENESIS: Final = "0" * 64
#: A signed checkpoint every this many entries.
CHECKPOINT_EVERY: Final = 100
_FIELDS: Final = (
    "seq",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "province",
    "detail",
    "request_id",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and in which request: what every audited domain function is handed.

    ``principal`` is the authenticated operator (a job of the service itself, such as the
    demo seed, acts through a principal of its own); ``request_id`` ties the audit entries to
    the request's log lines.
    """

    principal: Principal
    request_id: str | None = None

    @property
    def username(self) -> str:
        """The operator's user name."""
        return self.principal.username


class AuditSigner:
    """Signs and checks checkpoints with an Ed25519 key derived from the service secret."""

    def __init__(self, secret: bytes) -> None:
        seed = derive_key(secret, b"asxh-service/audit-checkpoint/ed25519/v1")
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key()

    @staticmethod
    def _message(seq: int, digest: str) -> bytes:
        return f"asxh-audit-checkpoint/v1|{seq}|{digest}".encode()

    def sign(self, seq: int, digest: str) -> str:
        """The base64 signature of checkpoint (``seq``, ``digest``)."""
        return base64.b64encode(self._key.sign(self._message(seq, digest))).decode()

    def check(self, seq: int, digest: str, signature: str) -> bool:
        """Whether ``signature`` is this service's over (``seq``, ``digest``)."""
        try:
            self.public_key.verify(base64.b64decode(signature), self._message(seq, digest))
        except (InvalidSignature, ValueError):
            return False
        return True


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: Mapping[str, Any], previous: str) -> str:
    """SHA-256 (hex) of an entry's fields in canonical JSON and the previous entry's hash."""
    return hashlib.sha256(_canonical(fields, previous).encode()).hexdigest()


def _canonical(fields: Mapping[str, Any], previous: str) -> str:
    """The text :func:`entry_hash` hashes (UTF-8)."""
    document = {name: fields[name] for name in _FIELDS}
    document["at"] = _at(fields["at"])
    document["prev"] = previous
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_HEAD: Final = mapped_table(AuditHeadRow)
_EVENTS: Final = mapped_table(AuditEventRow)
_CHECKPOINTS: Final = mapped_table(AuditCheckpointRow)
# Core statements, built once: an audited write appends an entry in every transaction, and
# the ORM unit of work cost more than the rest of the entry (bench_service_load.py).
# Moving the head locks its row (PostgreSQL; SQLite's writes already take turns) until the
# transaction ends, so appends take turns and the chain never forks; it answers the new
# position and the previous entry's hash.
_ADVANCE_HEAD: Final = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.entry_hash)
)
_START_HEAD: Final = insert(_HEAD)
_SET_HEAD_HASH: Final = (
    update(_HEAD).where(_HEAD.c.id == 1).values(entry_hash=bindparam("new_hash"))
)
_APPEND: Final = insert(_EVENTS).values(
    {
        column.name: bindparam(f"e_{column.name}", type_=column.type)
        for column in _EVENTS.c
        if column.name != "id"
    }
)
_SIGN: Final = insert(_CHECKPOINTS)
# PostgreSQL: the whole append in one statement, so the head's row lock is held for the
# shortest time (every audited write takes it; issue 10 §5). The entry's canonical text is
# built here with two marks, and the database puts in the next position and the previous
# hash and hashes it (sha256 of the UTF-8 text, as entry_hash does); verify_chain checks
# it like any other entry.
_APPEND_IN_DATABASE: Final = text(
    """
    WITH old AS (
        SELECT seq, entry_hash FROM audit_head WHERE id = 1 FOR UPDATE
    ), moved AS (
        UPDATE audit_head
        SET seq = old.seq + 1,
            entry_hash = encode(sha256(convert_to(
                replace(replace(:document, :seq_mark, (old.seq + 1)::text),
                        :prev_mark, old.entry_hash),
                'UTF8')), 'hex')
        FROM old
        WHERE audit_head.id = 1
        RETURNING audit_head.seq, audit_head.entry_hash, old.entry_hash AS prev_hash
    )
    INSERT INTO audit_events (at, actor, role, action, object_type, object_id, province,
                              detail, request_id, seq, prev_hash, entry_hash)
    SELECT :at, :actor, :role, :action, :object_type, :object_id, :province,
           :detail, :request_id, moved.seq, moved.prev_hash, moved.entry_hash
    FROM moved
    RETURNING seq, entry_hash
    """
).bindparams(
    *(
        bindparam(column.name, type_=column.type)
        for column in _EVENTS.c
        if column.name in ("at", "detail")
    )
)


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    *,
    province: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append an audit entry to the chain (committed with the change it records)."""
    session.flush()  # the entry goes after the change it records, in the same transaction
    connection = session.connection()
    fields: dict[str, Any] = {
        "at": utc_now(),
        "actor": actor.principal.username,
        "role": actor.principal.role,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "province": province,
        "detail": json.loads(json.dumps(dict(detail or {}), default=str)),
        "request_id": actor.request_id,
    }
    appended = None
    if connection.dialect.name == "postgresql":
        appended = _append_in_database(connection, fields)
    seq, digest = appended or _append(connection, fields)
    signer = session.info.get("audit_signer")
    if isinstance(signer, AuditSigner) and seq % CHECKPOINT_EVERY == 0:
        connection.execute(
            _SIGN,
            {
                "seq": seq,
                "entry_hash": digest,
                "signed_at": fields["at"],
                "signature": signer.sign(seq, digest),
            },
        )


def _append(connection: Connection, fields: dict[str, Any]) -> tuple[int, str]:
    """Append the entry in three statements (any database); its position and hash."""
    head = connection.execute(_ADVANCE_HEAD).first()
    if head is None:  # a database older than the chain's migration seeded no head
        connection.execute(_START_HEAD, {"id": 1, "seq": 1, "entry_hash": GENESIS})
        seq, previous = 1, GENESIS
    else:
        seq, previous = head
    fields = {**fields, "seq": seq, "prev_hash": previous}
    digest = entry_hash(fields, previous)
    entry = {f"e_{name}": value for name, value in fields.items()}
    entry["e_entry_hash"] = digest
    connection.execute(_APPEND, entry)
    connection.execute(_SET_HEAD_HASH, {"new_hash": digest})
    return seq, digest


def _append_in_database(connection: Connection, fields: dict[str, Any]) -> tuple[int, str] | None:
    """Append the entry in one statement (PostgreSQL); None when there is no head yet."""
    # Marks nobody can put into an entry: fresh random ones each time.
    seq_mark, prev_mark = (f"asxh-mark-{secrets.token_hex(16)}" for _ in range(2))
    document = _canonical({**fields, "seq": seq_mark}, prev_mark)
    document = document.replace(f'"{seq_mark}"', seq_mark)  # the position is a JSON number
    row = connection.execute(
        _APPEND_IN_DATABASE,
        {**fields, "document": document, "seq_mark": seq_mark, "prev_mark": prev_mark},
    ).first()
    return None if row is None else (row.seq, row.entry_hash)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of :func:`verify_chain`: ``bad_seq`` is the first bad position, if any."""

    entries: int
    checkpoints: int
    ok: bool
    bad_seq: int | None = None
    problem: str = ""


def verify_chain(session: Session, signer: AuditSigner) -> ChainReport:
    """Walk the whole chain; report the first entry that is not as it was written."""
    previous, expected, count = GENESIS, 1, 0
    hashes: dict[int, str] = {}

    def bad(seq: int | None, problem: str) -> ChainReport:
        checkpoints = session.scalar(select(AuditCheckpointRow.seq).limit(1)) is not None
        return ChainReport(count, int(checkpoints), ok=False, bad_seq=seq, problem=problem)

    rows = session.execute(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars()
    for row in rows:
        if row.seq is None:
            return bad(None, f"entry id {row.id} is outside the chain")
        if row.seq != expected:
            return bad(expected, f"entry {expected} is missing (next is {row.seq})")
        if row.prev_hash != previous:
            return bad(row.seq, f"entry {row.seq} does not link to entry {row.seq - 1}")
        if entry_hash(vars(row), previous) != row.entry_hash:
            return bad(row.seq, f"entry {row.seq} was changed after it was written")
        previous = row.entry_hash
        hashes[row.seq] = previous
        expected += 1
        count += 1
    last = expected - 1
    head = session.get(AuditHeadRow, 1)
    if head is not None and (head.seq, head.entry_hash) != (last, previous):
        return bad(last + 1, f"the chain ends at entry {last} but its head is entry {head.seq}")
    checkpoints = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))
    signed = 0
    for checkpoint in checkpoints:
        if not signer.check(checkpoint.seq, checkpoint.entry_hash, checkpoint.signature):
            return bad(checkpoint.seq, f"checkpoint {checkpoint.seq} has a bad signature")
        if hashes.get(checkpoint.seq) != checkpoint.entry_hash:
            return bad(checkpoint.seq, f"entry {checkpoint.seq} differs from its checkpoint")
        signed += 1
    return ChainReport(count, signed, ok=True)
