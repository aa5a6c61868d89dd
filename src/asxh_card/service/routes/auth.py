"""OAuth2 password flow: short-lived signed access tokens; failures rate-limited."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy import select

from asxh_card.service import audit
from asxh_card.service.audit import Actor
from asxh_card.service.deps import Anyone, Ctx, request_id, transaction
from asxh_card.service.models import OperatorRow
from asxh_card.service.problems import ProblemError
from asxh_card.service.routes._common import problems
from asxh_card.service.schemas import TokenOut
from asxh_card.service.security import Principal

router = APIRouter(tags=["auth"])
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
        **problems("invalid-credentials", "too-many-requests"),
    },
)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")],
    password: Annotated[str, Form(max_length=200, pattern=r"^[^\x00]*$")],
) -> TokenOut:
    """Log in with the form fields ``username`` and ``password``.

    After 5 failures in 5 minutes for an account (20 for a client address) further attempts
    get 429 with ``Retry-After``.
    """
    address = request.client.host if request.client else "unknown"
    wait = ctx.limiter.retry_after(username, address)
    if wait:
        _log.warning("login rate-limited", extra={"event": "login_limited"})
        raise ProblemError(
            "too-many-requests",
            headers={"Retry-After": str(wait)},
            detail=f"try again in {wait} seconds",
        )
    with transaction(ctx) as session:
        operator = session.scalars(
            select(OperatorRow).where(OperatorRow.username == username.strip().lower())
        ).first()
        ok = ctx.passwords.verify(password, operator.password_hash if operator else None)
        if not ok or operator is None or not operator.active:
            ctx.limiter.failure(username, address)
            ok = False
        else:
            ctx.limiter.success(username)
            principal = Principal(
                username=operator.username,
                role=operator.role,
                province=operator.province,
                programmes=tuple(operator.programmes),
            )
            audit.record(
                session,
                Actor(principal, request_id(request)),
                "operator.login",
                "operator",
                operator.username,
                province=operator.province,
            )
    if not ok:
        raise ProblemError("invalid-credentials", headers={"WWW-Authenticate": "Bearer"})
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
