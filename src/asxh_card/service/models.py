"""Database models (SQLAlchemy 2 typed ORM). The schema is created by Alembic migrations.

Personal data minimisation: a PIN is stored only as a keyed look-up hash (HMAC-SHA256) and an
AES-GCM ciphertext, never in clear (:mod:`asxh_card.service.security`); legacy aliases only as
keyed hashes. Sensitive reasons (``EntitlementRow.category``) stay here and never go on a card.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from asxh_card.service.db import UTCDateTime
from asxh_card.service.states import State

__all__ = [
    "AuditCheckpointRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "CardEntitlementRow",
    "CardRow",
    "EntitlementRow",
    "IdempotencyKeyRow",
    "ImportJobRow",
    "ImportRejectionRow",
    "IssuerKeyRow",
    "IssuerRow",
    "LoginAttemptRow",
    "OperatorRow",
    "PersonAliasRow",
    "PersonRow",
    "ReconciliationRow",
    "StatusAllocationRow",
    "StatusListRow",
    "TrustBundleRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migration names)."""

    metadata = MetaData(naming_convention=NAMING)


class IssuerRow(Base):
    """A provincial (or national) issuing authority."""

    __tablename__ = "issuers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(2), index=True)
    programmes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    keys: Mapped[list[IssuerKeyRow]] = relationship(
        back_populates="issuer", order_by="IssuerKeyRow.id"
    )


class IssuerKeyRow(Base):
    """An issuer signing key: public JWK here, private key in an encrypted file under var."""

    __tablename__ = "issuer_keys"
    __table_args__ = (UniqueConstraint("issuer_id", "kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    alg: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    key_file: Mapped[str | None] = mapped_column(String(300))
    # active: signs new cards; retiring: verifies old cards only; retired: gone from JWKS.
    state: Mapped[str] = mapped_column(String(10), default="active")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    issuer: Mapped[IssuerRow] = relationship(back_populates="keys")


class OperatorRow(Base):
    """A person who uses the service, with one role."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    province: Mapped[str | None] = mapped_column(String(2))
    programmes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the account is disabled, its password reset or its role, province or
    # programmes change: access tokens carry the version they were issued under (``ver``) and
    # stop working at once when it moves on.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonRow(Base):
    """A registered person: one mã số ASXH, at most one PIN."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asxh_number: Mapped[str] = mapped_column(String(11), unique=True)
    province: Mapped[str] = mapped_column(String(2), index=True)
    pin_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    full_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    hometown: Mapped[str | None] = mapped_column(String(300))
    permanent_address: Mapped[str | None] = mapped_column(String(300))
    commune: Mapped[str | None] = mapped_column(String(200))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonAliasRow(Base):
    """A legacy identifier (CMND, BHXH number, BHYT card code) as a keyed hash."""

    __tablename__ = "person_aliases"
    __table_args__ = (UniqueConstraint("kind", "lookup_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    lookup_hash: Mapped[str] = mapped_column(String(64))
    last3: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReconciliationRow(Base):
    """A registration whose data differ from the registry's: an officer resolves it."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    province: Mapped[str] = mapped_column(String(2), index=True)
    submitted: Mapped[dict[str, Any]] = mapped_column(JSON)
    differing: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="open")
    resolution: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatusListRow(Base):
    """One IETF token status list: 2-bit entries, at least 131,072 of them."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[int] = mapped_column(Integer, default=2)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The bulk writers' count (statuslists.allocate_many, the import): it changes whenever one
    # of them claims entries, so another can tell its picture of the list is stale. Single
    # issuances claim without counting (statuslists.allocate: no lock on this row); the
    # entries taken are the rows of status_allocations.
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    # The signed token of ``token_version`` (re-signed when the list changes or ages).
    token: Mapped[str | None] = mapped_column(Text)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    token_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatusAllocationRow(Base):
    """An allocated index: random within its list, never reused."""

    __tablename__ = "status_allocations"
    __table_args__ = (UniqueConstraint("list_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    idx: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntitlementRow(Base):
    """A person's entitlement to one programme, with its own status-list entry."""

    __tablename__ = "entitlements"
    __table_args__ = (Index("ix_entitlements_province_bhyt_group", "province", "bhyt_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    province: Mapped[str] = mapped_column(String(2), index=True)
    programme: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    category: Mapped[str | None] = mapped_column(String(200))
    #: BHYT beneficiary group (mã đối tượng, asxh_card/data/bhyt_groups.json): sensitive, never
    #: on a card; the level on the card follows from it and the date.
    bhyt_group: Mapped[str | None] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(10), default=State.ACTIVE)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    person: Mapped[PersonRow] = relationship()


class CardRow(Base):
    """An issued card: the signed token, its QR text and its card-level status entry."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    province: Mapped[str] = mapped_column(String(2), index=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"))
    kid: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    qr_text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=State.ACTIVE)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_idx: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaces_serial: Mapped[str | None] = mapped_column(String(40))
    replaced_by_serial: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(64))
    #: The bulk import that issued the card (print sheets of a job), None otherwise.
    import_job_id: Mapped[int | None] = mapped_column(Integer, index=True)

    person: Mapped[PersonRow] = relationship()


class CardEntitlementRow(Base):
    """Which entitlements a card carries, and each one's entry in the card's status block.

    A card's entitlement ``position`` (0-based, in the card's ``ent`` order) has the status
    entry ``card.status_idx + 1 + position`` in the card's list (card.py, status block).
    Revoking an entitlement flips that entry on every card that carries it.
    """

    __tablename__ = "card_entitlements"
    __table_args__ = (Index("ix_card_entitlements_entitlement", "entitlement_id"),)

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlements.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status_idx: Mapped[int] = mapped_column(Integer)


class IdempotencyKeyRow(Base):
    """``Idempotency-Key`` of a card issuance, per operator: a retry returns the same card."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("operator", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrustBundleRow(Base):
    """A signed trust bundle; the one with the highest version is served."""

    __tablename__ = "trust_bundles"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEventRow(Base):
    """Who did what to which object, and when. Never a PIN, never a name."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(2), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(40))
    # The hash chain (service/audit.py): position, the previous entry's hash, this entry's hash.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's last position and hash (one row): a truncated chain no longer reaches it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed statement "entry ``seq`` of the audit chain has hash ``entry_hash``"."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[str] = mapped_column(String(200))


class ImportJobRow(Base):
    """A bulk import of a beneficiary list: progress, counters and its resume key.

    ``resume_key`` is the SHA-256 of the file's bytes and the import options: running the same
    file again continues at ``next_row`` (rows before it were committed chunk by chunk, each
    chunk in the transaction that wrote its people, entitlements and cards).
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resume_key: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(2), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    next_row: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportRejectionRow(Base):
    """A rejected row of an import: row number, field and reason (never the row's data)."""

    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))
    reason_vi: Mapped[str] = mapped_column(String(300))
    reason_en: Mapped[str] = mapped_column(String(300))


class LoginAttemptRow(Base):
    """Login attempts in the current window per account or client address (all workers)."""

    __tablename__ = "login_attempts"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)
