"""OAuth2 password flow: short-lived signed access tokens; failures rate-limited."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy import select

from asxh_card.service import audit
from asxh_card.service.audit import Actor
from asxh_card.service.deps import Anyone, Ctx, request_id, transaction
from asxh_card.service.errors import RateLimitedError
from asxh_card.service.logins import normalise_username
from asxh_card.service.models import OperatorRow
from asxh_card.service.operators import principal_of
from asxh_card.service.problems import ProblemError
from asxh_card.service.routes._common import problems
from asxh_card.service.schemas import TokenOut
from asxh_card.service.security import Principal

router = APIRouter(tags=["auth"])
#: Who a failed log-in is recorded as: the name tried is the audited object, not the actor.
_LOGIN = Principal(username="anonymous", role="anonymous", province=None, programmes=())
_log = logging.getLogger("asxh_card.service.auth")


@router.post(
    "/v1/auth/token",
    response_model=TokenOut,
    summary="Log in (OAuth2 password flow)",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "access_token": "eyJhbGciOiJFZERTQSIs...",
                        "token_type": "bearer",
                        "expires_in": 900,
                    }
                }
            }
        },
        **problems("invalid-credentials", "too-many-requests", "not-ready"),
    },
)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")],
    password: Annotated[str, Form(max_length=200, pattern=r"^[^\x00]*$")],
) -> TokenOut:
    """Log in with the form fields ``username`` and ``password``.

    Five attempts in 5 minutes per account (20 per client address) are checked; further
    attempts get 429 with ``Retry-After`` (a success gives its attempt back). The limits are
    kept in the database, so every worker shares them. When more log-ins arrive than the
    password checks the worker runs at once, the surplus gets 503 ``not-ready`` with
    ``Retry-After`` rather than waiting.
    """
    address = request.client.host if request.client else "unknown"
    name = normalise_username(username)
    try:
        ctx.limiter.reserve(ctx.sessions, name, address)
    except RateLimitedError:
        _log.warning("login rate-limited", extra={"event": "login_limited"})
        raise
    # Read the account, then check the password outside any transaction: no database lock is
    # held while argon2 runs, and at most ctx.hashing's slots run at once.
    with transaction(ctx) as session:
        operator = session.scalars(select(OperatorRow).where(OperatorRow.username == name)).first()
    with ctx.hashing:
        ok = ctx.passwords.verify(password, operator.password_hash if operator else None)
    ok = ok and operator is not None and operator.active
    actor = Actor(_LOGIN, request_id(request))
    with transaction(ctx) as session:
        if ok and operator is not None:
            ctx.limiter.success(session, name, address)
            principal = principal_of(operator)
            actor = Actor(principal, actor.request_id)
        audit.record(
            session,
            actor,
            "operator.login" if ok else "operator.login_failed",
            "operator",
            name[:40],
            province=operator.province if operator else None,
        )
    if not ok:
        raise ProblemError(
            "invalid-credentials",
            detail_vi="Sai tên đăng nhập hoặc mật khẩu.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return TokenOut(
        access_token=ctx.tokens.issue(principal),
        token_type="bearer",  # noqa: S106 - the OAuth2 token type
        expires_in=ctx.tokens.lifetime,
    )


@router.get("/v1/me", summary="Who am I", responses=problems())
def me(principal: Anyone) -> dict[str, Any]:
    """The role, province and programmes of the access token."""
    return {
        "username": principal.username,
        "role": principal.role,
        "province": principal.province,
        "programmes": list(principal.programmes),
    }
