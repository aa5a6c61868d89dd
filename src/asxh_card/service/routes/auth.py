"""OAuth2 password flow: short-lived signed access tokens; failures rate-limited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from asxh_card.service.authn import log_in
from asxh_card.service.deps import Anyone, Ctx, request_id
from asxh_card.service.problems import ProblemError
from asxh_card.service.routes._common import problems
from asxh_card.service.schemas import TokenOut

router = APIRouter(tags=["auth"])


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
    principal = log_in(ctx, username, password, address=address, request_id=request_id(request))
    if principal is None:
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
