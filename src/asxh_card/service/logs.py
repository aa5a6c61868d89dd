"""Structured JSON logs without personal data, and the request-logging middleware.

A log line carries the request id, method, route *template* (``/v1/persons/{number}``, never
the concrete path), status and duration. Bodies, query strings and headers are never logged,
so neither PINs nor names reach the logs.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["JsonFormatter", "RequestLogMiddleware", "configure_logging"]

_STANDARD: Final = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_log = logging.getLogger("asxh_card.service.access")
_error_log = logging.getLogger("asxh_card.service")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record``; exceptions are reduced to their type (messages may hold data)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        )
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON logs on stderr for the service's loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("asxh_card.service")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


class RequestLogMiddleware:
    """Give each request an id (``X-Request-ID``) and log one line when it completes.

    A pure ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``app.middleware("http")``)
    runs the app in a task behind memory streams, which cost a warm ``POST /v1/verify`` more
    than the verification itself (issue 10 §5).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``scope`` with an id; answer 500 (a problem) for anything left unhandled."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        ok = incoming.isascii() and incoming.isalnum() and len(incoming) <= 40
        rid = incoming if ok else _next_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        sent = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                sent = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, see below
            # Answer here instead of letting the server log a traceback: exception messages
            # (a database error quotes the statement's parameters) can hold personal data.
            from asxh_card.service.problems import problem_response  # noqa: PLC0415

            route = scope.get("route")
            _error_log.error(
                "unhandled error",
                extra={
                    "event": "unhandled_error",
                    "error_type": type(exc).__name__,
                    "route": getattr(route, "path", None),
                    "request_id": rid,
                },
            )
            if not sent:
                response = problem_response("internal-error", request=Request(scope))
                await response(scope, receive, send_with_id)
        finally:
            if _log.isEnabledFor(logging.INFO):
                route = scope.get("route")
                _log.info(
                    "request",
                    extra={
                        "event": "request",
                        "request_id": rid,
                        "method": scope["method"],
                        "route": getattr(route, "path", None),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )


def _next_request_id() -> str:
    """A request id unique in this process: a random prefix and a counter (16 hex digits).

    Unique, not secret: one ``secrets.token_hex`` (a system call) per request cost more.
    """
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


_ID_PREFIX: Final = secrets.token_hex(4)
_ID_COUNTER: Final = itertools.count(1)
