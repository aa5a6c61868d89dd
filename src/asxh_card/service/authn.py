"""One log-in check for every way in: the API's ``POST /v1/auth/token`` and the web form.

Both call :func:`log_in`, so both share the rate limits and lockout (database-backed, per account
and per address, :mod:`~asxh_card.service.logins`), the bounded argon2 checks and the audit of
every success and failure (issue 10 §1 and §4); the web pages add no second password path.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import select

from asxh_card.service import audit
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.errors import RateLimitedError
from asxh_card.service.logins import normalise_username
from asxh_card.service.models import OperatorRow
from asxh_card.service.operators import principal_of
from asxh_card.service.security import Principal

__all__ = ["ANONYMOUS", "log_in"]

#: Who a failed log-in is recorded as: the name tried is the audited object, not the actor.
ANONYMOUS: Final = Principal(username="anonymous", role="anonymous", province=None, programmes=())
_log = logging.getLogger("asxh_card.service.auth")


def log_in(
    ctx: ServiceContext,
    username: str,
    password: str,
    *,
    address: str,
    request_id: str | None,
) -> Principal | None:
    """The operator's principal, or ``None`` for a wrong name or password (audited either way).

    Raises :class:`~asxh_card.service.errors.RateLimitedError` over the log-in limits (nothing
    is checked then) and :class:`~asxh_card.service.errors.BusyError` when no password-check
    slot frees within a second.
    """
    name = normalise_username(username)
    try:
        ctx.limiter.reserve(ctx.sessions, name, address)
    except RateLimitedError:
        _log.warning("login rate-limited", extra={"event": "login_limited"})
        raise
    # Read the account, then check the password outside any transaction: no database lock is
    # held while argon2 runs, and at most ctx.hashing's slots run at once.
    with session_scope(ctx.sessions) as session:
        operator = session.scalars(select(OperatorRow).where(OperatorRow.username == name)).first()
    with ctx.hashing:
        ok = ctx.passwords.verify(password, operator.password_hash if operator else None)
    ok = ok and operator is not None and operator.active
    principal: Principal | None = None
    actor = Actor(ANONYMOUS, request_id)
    with session_scope(ctx.sessions) as session:
        if ok and operator is not None:
            ctx.limiter.success(session, name, address)
            principal = principal_of(operator)
            actor = Actor(principal, request_id)
        audit.record(
            session,
            actor,
            "operator.login" if ok else "operator.login_failed",
            "operator",
            name[:40],
            province=operator.province if operator else None,
        )
    return principal
