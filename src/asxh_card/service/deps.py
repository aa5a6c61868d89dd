"""Request dependencies: the service context, a transaction, the authenticated principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Select, false
from sqlalchemy.orm import QueryableAttribute, Session
from starlette.concurrency import run_in_threadpool

from asxh_card.provinces import current_province
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import read_scope, session_scope, single_read
from asxh_card.service.operators import account_state
from asxh_card.service.problems import ProblemError
from asxh_card.service.security import Principal, TokenError

__all__ = [
    "ADMIN",
    "READERS",
    "WRITERS",
    "AdminActor",
    "Ctx",
    "ReaderActor",
    "WriterActor",
    "acting",
    "check_role",
    "get_ctx",
    "in_scope",
    "province_for",
    "reading",
    "request_id",
    "require",
    "scoped",
    "transaction",
]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)

ADMIN = ("national_admin",)
WRITERS = ("national_admin", "issuer_officer")
READERS = ("national_admin", "issuer_officer", "auditor")
ANY_ROLE = ("national_admin", "issuer_officer", "auditor", "service_point")

_Select = TypeVar("_Select", bound=Select[Any])


# The dependencies below are ``async def``: FastAPI runs a plain ``def`` dependency in the
# thread pool, and those hand-offs cost more than the work itself on every request.


async def get_ctx(request: Request) -> ServiceContext:
    """The app's service context."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


@contextmanager
def transaction(ctx: ServiceContext) -> Iterator[Session]:
    """A session in one transaction, committed before the response is built."""
    with session_scope(ctx.sessions) as session:
        yield session


@contextmanager
def reading(ctx: ServiceContext) -> Iterator[Session]:
    """A read-only session (GET routes): on SQLite it takes no write lock."""
    with read_scope(ctx.sessions) as session:
        yield session


def request_id(request: Request) -> str | None:
    """The request id set by the logging middleware."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def _account_is_current(ctx: ServiceContext, principal: Principal) -> bool:
    """Read the account (one statement, no lock) and remember it in ``ctx.accounts``."""
    generation = ctx.accounts.generation()  # before the read: a commit meanwhile ends it
    with single_read(ctx.engine) as connection:
        state = account_state(connection, principal.username)
    ctx.accounts.store(principal.username, state, generation)
    return state is not None and state[0] and state[1] == principal.version


async def _authenticated(request: Request, token: str | None, roles: Collection[str]) -> Principal:
    """The operator of the request's token, whose account is current and has one of ``roles``.

    One function, not a chain of dependencies: FastAPI resolves each dependency of every
    request anew; folding the chain (context, token, principal, role, actor) into one cut the
    event-loop thread's CPU per card issuance by about a tenth (a yappi profile).
    """
    principal = await _principal(request, request.app.state.ctx, token)
    check_role(principal, roles)
    return principal


async def _principal(request: Request, ctx: ServiceContext, token: str | None) -> Principal:
    admitted = getattr(request.state, "principal", None)
    principal: Principal | None
    if isinstance(admitted, Principal):  # signature checked by the admission middleware
        principal = admitted
    elif not token:
        raise ProblemError(
            "unauthenticated",
            detail_vi="Cần đăng nhập để thực hiện thao tác này.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        try:
            principal = ctx.tokens.verify(token)
        except TokenError:
            principal = None
    if principal is not None:
        # Stateless signature first (cheap refusal of garbage), then the account itself: a
        # disabled, re-roled or reset account's tokens stop working at once on this worker
        # and within ASXH_CACHE_MS on the others (caches.py).
        current = ctx.accounts.current(principal)
        if current is None:
            current = await run_in_threadpool(_account_is_current, ctx, principal)
        if current:
            return principal
    raise ProblemError(
        "unauthenticated",
        detail="the access token is invalid or expired",
        detail_vi="Phiên đăng nhập không hợp lệ hoặc đã hết hạn: hãy đăng nhập lại.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def check_role(principal: Principal, roles: Collection[str]) -> None:
    """Refuse (403 problem) an operator whose role is not one of ``roles``."""
    if principal.role not in roles:
        raise ProblemError(
            "forbidden",
            detail=f"the {principal.role} role may not do this",
            detail_vi=f"Vai trò {principal.role} không được phép thực hiện thao tác này.",
        )


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only ``roles`` (403 problem otherwise)."""

    async def dependency(
        request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Principal:
        return await _authenticated(request, token, roles)

    return dependency


def province_for(principal: Principal, province: str | None) -> str:
    """The province a write or a filter applies to: an officer's own, or the one named."""
    if province is not None:
        # Permission first: a forbidden officer is told 403 whatever code they typed.
        if not principal.sees(province):
            raise ProblemError(
                "forbidden",
                detail="your account may not act for this province",
                detail_vi="Tài khoản của bạn không được thao tác cho tỉnh này.",
            )
        current_province(province)
        return province
    if principal.province is None:
        raise ProblemError(
            "validation-error",
            detail="name the province (?province=NN)",
            detail_vi="Hãy ghi rõ tỉnh (?province=NN).",
        )
    return principal.province


def in_scope(principal: Principal, province: str) -> bool:
    """Whether ``principal`` may see objects of ``province`` (others are answered 404)."""
    return principal.sees(province)


def scoped(query: _Select, principal: Principal, province: QueryableAttribute[Any]) -> _Select:
    """``query`` narrowed to the rows :func:`in_scope` admits, for list endpoints."""
    if principal.is_national:
        return query
    if principal.province is None:  # a provincial role without a province sees nothing
        return query.where(false())
    return query.where(province == principal.province)


Reader = Annotated[Principal, Depends(require(*READERS))]
Writer = Annotated[Principal, Depends(require(*WRITERS))]
Admin = Annotated[Principal, Depends(require(*ADMIN))]
Anyone = Annotated[Principal, Depends(require(*ANY_ROLE))]


def acting(*roles: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency that admits only ``roles`` and hands the handler an :class:`Actor`."""

    async def dependency(
        request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Actor:
        return Actor(await _authenticated(request, token, roles), request_id(request))

    return dependency


#: The operator and request of a mutating request, as the audited domain functions take them.
WriterActor = Annotated[Actor, Depends(acting(*WRITERS))]
AdminActor = Annotated[Actor, Depends(acting(*ADMIN))]
ReaderActor = Annotated[Actor, Depends(acting(*READERS))]
