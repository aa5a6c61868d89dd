"""Log-in checks that hold under load and across workers.

* **Names**: a user name is normalised once (NFKC, trimmed, lower case) for the look-up *and*
  the rate limit, so ``"officer79   "`` is the same account as ``"officer79"``.
* **Limits**: attempts per account and per client address are counted in the database
  (:class:`~asxh_card.service.models.LoginAttemptRow`), so every worker shares them. An attempt
  is *reserved* before the password is checked, by one conditional ``UPDATE`` per counter
  (``count < limit``) in one short transaction: twelve parallel guesses against a limit of five
  get five checks and seven 429s. A success gives the reservation back.
* **Hashing**: the argon2 check runs outside any database transaction (no lock is held while
  hashing) and at most ``password_concurrency`` at a time; a login that finds no free slot
  within a second is answered 503 ``not-ready`` with ``Retry-After`` instead of queueing.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from asxh_card._core.timeutil import utc_now
from asxh_card.service.db import UTCDateTime, session_scope
from asxh_card.service.errors import BusyError, RateLimitedError
from asxh_card.service.models import LoginAttemptRow

__all__ = ["HashingGate", "LoginLimiter", "normalise_username"]

_WAIT_FOR_SLOT: Final = 1.0


def normalise_username(value: str) -> str:
    """The one form of a user name: NFKC, no surrounding spaces, lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


@dataclass(frozen=True, slots=True)
class _Limit:
    kind: str
    subject: str
    limit: int


class LoginLimiter:
    """Attempt counters per account and per address, in the database (see the module)."""

    def __init__(self, *, window: int, per_account: int, per_address: int) -> None:
        self.window = window
        self.per_account = per_account
        self.per_address = per_address

    def _limits(self, account: str, address: str) -> tuple[_Limit, _Limit]:
        return (
            _Limit("account", account[:100], self.per_account),
            _Limit("address", address[:100], self.per_address),
        )

    def reserve(
        self,
        sessions: sessionmaker[Session],
        account: str,
        address: str,
        *,
        now: datetime | None = None,
    ) -> None:
        """Count one attempt; raise :class:`RateLimitedError` (nothing counted) over a limit."""
        current = now or utc_now()
        with session_scope(sessions) as session:
            for item in self._limits(account, address):
                wait = self._take(session, item, current)
                if wait:
                    session.rollback()  # neither counter moves
                    raise RateLimitedError(f"try again in {wait} seconds", retry_after=wait)

    def _take(self, session: Session, item: _Limit, now: datetime) -> int:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(LoginAttemptRow)
            .values(kind=item.kind, subject=item.subject, window_start=now, count=0)
            .on_conflict_do_nothing()
        )
        row = LoginAttemptRow
        stale = row.window_start <= now - timedelta(seconds=self.window)
        moved = session.execute(
            update(row)
            .where(row.kind == item.kind, row.subject == item.subject)
            .where(stale | (row.count < item.limit))
            .values(
                count=case((stale, 1), else_=row.count + 1),
                window_start=case((stale, literal(now, UTCDateTime())), else_=row.window_start),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) == 1:
            return 0
        start = session.scalar(
            select(row.window_start).where(row.kind == item.kind, row.subject == item.subject)
        )
        left = (start or now) + timedelta(seconds=self.window) - now
        return max(1, math.ceil(left.total_seconds()))

    def success(self, session: Session, account: str, address: str) -> None:
        """A successful log-in clears the account's count and gives the address's try back."""
        account_limit, address_limit = self._limits(account, address)
        row = LoginAttemptRow
        session.execute(
            delete(row).where(row.kind == "account", row.subject == account_limit.subject)
        )
        session.execute(
            update(row)
            .where(row.kind == "address", row.subject == address_limit.subject, row.count > 0)
            .values(count=row.count - 1)
            .execution_options(synchronize_session=False)
        )


class HashingGate:
    """At most ``slots`` costly jobs at a time; others wait briefly, then are refused.

    Password checks (argon2) and photo decoding (``POST /v1/verify``) each have one: the
    surplus gets :class:`BusyError` (503 with ``Retry-After``) within a second instead of
    queueing without bound.
    """

    def __init__(
        self,
        slots: int,
        *,
        busy: str = "too many log-ins at once",
        busy_vi: str = "Có quá nhiều lượt đăng nhập cùng lúc; hãy thử lại sau ít giây.",
    ) -> None:
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._busy, self._busy_vi = busy, busy_vi

    def __enter__(self) -> None:
        if not self._slots.acquire(timeout=_WAIT_FOR_SLOT):
            raise BusyError(
                f"{self._busy}; try again shortly", retry_after=1, message_vi=self._busy_vi
            )

    def __exit__(self, *_exc: object) -> None:
        self._slots.release()
