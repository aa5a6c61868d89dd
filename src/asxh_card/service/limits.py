"""Request admission before any body is read: body size counted on the wire, token checked first.

:class:`AdmissionMiddleware` is a pure ASGI middleware, so it sees the body as the server
receives it:

* **Size**: the declared ``Content-Length`` is refused above the route's limit before reading,
  and the bytes actually received are counted, so a chunked body (no ``Content-Length``) is
  cut off at the limit too (413) instead of being read whole into memory.
* **Authentication first**: a request with a body to an authenticated ``/v1/`` route must carry
  a valid bearer token; without one it is answered 401 before a byte of the body is read. The
  principal is handed on in the request state so the route does not verify the token twice.
  A web form posted anywhere else (outside :data:`PUBLIC_WEB_BODY_ROUTES`) needs a session
  cookie with a good signature the same way; the page then checks the account and CSRF token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asxh_card.errors import AsxhError
from asxh_card.service.problems import problem_response
from asxh_card.service.security import TokenError

__all__ = [
    "BODY_LIMITS",
    "MAX_BODY_BYTES",
    "PUBLIC_BODY_ROUTES",
    "PUBLIC_WEB_BODY_ROUTES",
    "AdmissionMiddleware",
    "BodyTooLargeError",
    "body_limit",
]

#: Largest request body by default (JSON documents).
MAX_BODY_BYTES: Final = 64 * 1024
#: Routes with a larger limit (exact path): photos for ``/v1/verify``, beneficiary lists for
#: ``/v1/imports`` (512 MiB of file and the multipart framing; the route checks the file).
BODY_LIMITS: Final[Mapping[str, int]] = {
    "/v1/verify": 9 * 1024 * 1024,
    "/v1/imports": 513 * 1024 * 1024,
    "/check": 9 * 1024 * 1024,  # the card-check page's photo upload, as /v1/verify
    "/console/imports": 513 * 1024 * 1024,  # the console's list upload, as /v1/imports
    "/console/persons/new/scan": 9 * 1024 * 1024,  # a photo of the CCCD QR (8 MB)
}
#: ``/v1/`` routes that take a body without a token (the login form).
PUBLIC_BODY_ROUTES: Final = frozenset({"/v1/auth/token"})
#: Web forms anyone may post (log-in, the public card check); other web forms need a session.
PUBLIC_WEB_BODY_ROUTES: Final = frozenset({"/login", "/check"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def body_limit(path: str) -> int:
    """The body limit of ``path`` in bytes."""
    return BODY_LIMITS.get(path, MAX_BODY_BYTES)


class BodyTooLargeError(HTTPException, AsxhError):
    """More body bytes arrived than the route allows.

    An ``HTTPException``, so FastAPI's body parsing re-raises it unchanged and the problem
    handlers answer 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class AdmissionMiddleware:
    """Refuse oversized and unauthenticated bodies before reading them (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit or refuse ``scope``; count the body bytes of admitted requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = body_limit(path)
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, BodyTooLargeError(limit))
            return
        if scope["method"] in _BODY_METHODS:
            if path.startswith("/v1/"):
                refused = None if path in PUBLIC_BODY_ROUTES else self._authenticate(scope, headers)
            else:
                refused = None if path in PUBLIC_WEB_BODY_ROUTES else self._web_session(scope)
            if refused is not None:
                await self._refuse(scope, receive, send, refused)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counting_receive, send)

    @staticmethod
    def _authenticate(scope: Scope, headers: Headers) -> HTTPException | None:
        token = _bearer(headers)
        if token is None:
            return HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
        ctx: Any = scope["app"].state.ctx
        try:
            principal = ctx.tokens.verify(token)
        except TokenError:
            return HTTPException(
                401,
                "the access token is invalid or expired",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        scope.setdefault("state", {})["principal"] = principal
        return None

    @staticmethod
    def _web_session(scope: Scope) -> HTTPException | None:
        sessions: Any = getattr(scope["app"].state, "web_sessions", None)
        if sessions is None:
            return None
        request = Request(scope)
        if sessions.verify(request.cookies.get(sessions.cookie_name)) is None:
            return HTTPException(401, "log in first: the session is missing or expired")
        return None

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: HTTPException) -> None:
        request = Request(scope)
        slug = "payload-too-large" if exc.status_code == 413 else "unauthenticated"
        detail = exc.detail if exc.detail != "Unauthorized" else None
        if exc.status_code == 413:
            detail_vi = "Nội dung yêu cầu vượt quá kích thước cho phép."
        elif detail is not None:
            detail_vi = "Phiên đăng nhập không hợp lệ hoặc đã hết hạn: hãy đăng nhập lại."
        else:
            detail_vi = "Cần đăng nhập để thực hiện thao tác này."
        response = problem_response(
            slug, request=request, detail=detail, detail_vi=detail_vi, headers=exc.headers
        )
        # The body is not read; the connection is closed after the answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
