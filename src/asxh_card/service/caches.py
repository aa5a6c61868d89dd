"""In-memory caches of the request hot path, and how they stay fresh (issue 10 §5).

A warm ``POST /v1/verify`` needs no SQL: the operator's account state and the verifier (bundle,
pinned roots, parsed status lists) are held in memory. Two rules keep them honest:

* **In this process, at once.** :class:`WriteClock` counts the write transactions this process
  committed (a session ``after_commit`` hook, see ``context.py``), and separately those that
  changed an operator account. A cache entry remembers the count it was read under; any commit
  since makes it stale. So after a revocation, a disabled account or an imported bundle has
  answered 2xx, the next request on the same worker reads the database again: it is never
  answered from the old state (fail closed).
* **Across processes, within a bound.** Another worker's (or the CLI's) commit is not seen by
  this process's clock: an entry is also stale once it is older than ``ASXH_CACHE_MS``
  (default 1,000 ms; 0 re-reads on every request). A revocation made on another worker shows
  up here within that bound, well inside the 5 s in which a published status list shows it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

from asxh_card.service.security import Principal

__all__ = ["TOUCHED_OPERATORS", "AccountCache", "AccountState", "WriteClock"]

#: ``Session.info`` flag: this transaction changed an operator account (set before flushing).
TOUCHED_OPERATORS: Final = "asxh_touched_operators"
#: More remembered accounts than this and the cache starts afresh (memory stays bounded).
MAX_ACCOUNTS: Final = 10_000


class WriteClock:
    """Counts of the write transactions this process committed (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.writes = 0
        self.accounts = 0

    def committed(self, *, accounts: bool) -> None:
        """A write transaction committed; ``accounts`` when it changed an operator account."""
        with self._lock:
            self.writes += 1
            if accounts:
                self.accounts += 1


@dataclass(frozen=True, slots=True)
class AccountState:
    """An operator account as the database held it, and when (clock count, monotonic time)."""

    active: bool
    version: int
    generation: int
    read_at: float


class AccountCache:
    """The operator accounts' ``active`` flag and ``token_version``, fresh per the module."""

    def __init__(self, clock: WriteClock, *, ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self._entries: dict[str, AccountState] = {}

    def current(self, principal: Principal) -> bool | None:
        """Whether ``principal``'s account is active at its version; None: ask the database."""
        entry = self._entries.get(principal.username)
        if (
            entry is None
            or entry.generation != self.clock.accounts
            or time.monotonic() - entry.read_at >= self.ttl
        ):
            return None
        return entry.active and entry.version == principal.version

    def generation(self) -> int:
        """The clock count to read the database under (taken *before* reading it)."""
        return self.clock.accounts

    def store(self, username: str, state: tuple[bool, int] | None, generation: int) -> None:
        """Remember what the database said (``None``: no such account, not remembered)."""
        if state is None:
            self._entries.pop(username, None)
            return
        if len(self._entries) >= MAX_ACCOUNTS:
            self._entries.clear()
        self._entries[username] = AccountState(state[0], state[1], generation, time.monotonic())
