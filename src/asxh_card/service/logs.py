"""Structured JSON logs without personal data, and the request-logging middleware.

A log line carries the request id, method, route *template* (``/v1/persons/{number}``, never
the concrete path), status and duration. Bodies, query strings and headers are never logged,
so neither PINs nor names reach the logs.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["JsonFormatter", "configure_logging", "request_logging_middleware"]

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


async def request_logging_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Give each request an id (``X-Request-ID``) and log one line when it completes."""
    incoming = request.headers.get("x-request-id", "")
    rid = incoming if incoming.isascii() and incoming.isalnum() and len(incoming) <= 40 else ""
    rid = rid or secrets.token_hex(8)
    request.state.request_id = rid
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, see below
            # Answer here instead of letting the server log a traceback: exception messages
            # (a database error quotes the statement's parameters) can hold personal data.
            from asxh_card.service.problems import problem_response  # noqa: PLC0415

            route = request.scope.get("route")
            _error_log.error(
                "unhandled error",
                extra={
                    "event": "unhandled_error",
                    "error_type": type(exc).__name__,
                    "route": getattr(route, "path", None),
                    "request_id": rid,
                },
            )
            response = problem_response("internal-error", request=request)
        status = response.status_code
    finally:
        route = request.scope.get("route")
        _log.info(
            "request",
            extra={
                "event": "request",
                "request_id": rid,
                "method": request.method,
                "route": getattr(route, "path", None),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
    response.headers["X-Request-ID"] = rid
    return response
