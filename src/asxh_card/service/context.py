"""Everything a request needs, built once per app from the settings (no module globals)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from asxh_card.programmes import ProgrammeRegistry
from asxh_card.service import statuslists
from asxh_card.service.audit import AuditSigner
from asxh_card.service.caches import TOUCHED_OPERATORS, AccountCache, WriteClock
from asxh_card.service.db import make_engine, make_sessionmaker
from asxh_card.service.keyring import Keyring
from asxh_card.service.logins import HashingGate, LoginLimiter
from asxh_card.service.models import OperatorRow
from asxh_card.service.security import (
    AccessTokens,
    DataProtector,
    PasswordHasher,
)
from asxh_card.service.settings import Settings

__all__ = ["ServiceContext"]


@dataclass
class ServiceContext:
    """Settings, database, crypto helpers and caches of one app instance."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    protector: DataProtector
    passwords: PasswordHasher
    tokens: AccessTokens
    limiter: LoginLimiter
    hashing: HashingGate
    images: HashingGate
    keyring: Keyring
    programmes: ProgrammeRegistry
    clock: WriteClock
    accounts: AccountCache
    cache: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    verifier_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings, *, engine: Engine | None = None) -> ServiceContext:
        """Create the engine and helpers for ``settings``."""
        settings.check_secrets()
        engine = engine or make_engine(settings.database_url, timeout=settings.db_timeout_seconds)
        sessions = make_sessionmaker(
            engine, info={"audit_signer": AuditSigner(settings.secret_key)}
        )
        keyring = Keyring(settings)

        def publish(session: Session) -> None:
            # A status change commits only with its list re-signed (fail closed).
            if session.info.get(statuslists.CHANGED_LISTS):
                statuslists.publish_changed(session, settings, keyring)

        event.listen(sessions, "before_commit", publish)
        clock = WriteClock()

        def note_operators(session: Session, *_args: Any) -> None:
            changed = (*session.new, *session.dirty, *session.deleted)
            if any(isinstance(obj, OperatorRow) for obj in changed):
                session.info[TOUCHED_OPERATORS] = True

        def committed(session: Session) -> None:
            # The caches of this process read the database again (caches.py): a revocation,
            # a disabled account or a new bundle is seen by the next request at once.
            clock.committed(accounts=bool(session.info.pop(TOUCHED_OPERATORS, False)))

        event.listen(sessions, "before_flush", note_operators)
        event.listen(sessions, "after_commit", committed)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            protector=DataProtector(settings.data_key),
            passwords=PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost,
                parallelism=settings.argon2_parallelism,
            ),
            tokens=AccessTokens(settings.secret_key, minutes=settings.access_token_minutes),
            limiter=LoginLimiter(
                window=settings.login_window_seconds,
                per_account=settings.login_max_failures_account,
                per_address=settings.login_max_failures_address,
            ),
            hashing=HashingGate(settings.password_concurrency),
            images=HashingGate(
                settings.image_concurrency,
                busy="too many photos at once",
                busy_vi="Có quá nhiều ảnh đang được đọc cùng lúc; hãy thử lại sau ít giây.",
            ),
            keyring=keyring,
            programmes=ProgrammeRegistry.default(),
            clock=clock,
            accounts=AccountCache(clock, ttl=settings.cache_ms / 1000),
        )
