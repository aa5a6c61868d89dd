"""RFC 9457 problem details (``application/problem+json``) with bilingual titles.

Every error response of the service has this shape::

    {"type": "https://asxh.gov.vn/problems/validation-error", "status": 422,
     "title": "The request is not valid.", "title_vi": "Yêu cầu không hợp lệ.",
     "detail": "...", "detail_vi": "...", "instance": "/v1/persons", "request_id": "...",
     "errors": [{"loc": [...], "msg": "...", "msg_vi": "...", "type": "..."}]}

``type`` URIs are stable (part of the API contract, listed in :data:`PROBLEM_TYPES`).
Every problem carries ``detail_vi``, natural Vietnamese for the officer: the raise site's own
sentence (``message_vi`` of the library's and the service's errors, ``detail_vi`` of a
:class:`ProblemError`, a translation of each pydantic error) or, failing that, the title.
Messages never echo the submitted values: a PIN or a name could be among them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from asxh_card.errors import AsxhError, InvalidInputError, VerificationError
from asxh_card.service.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    NotFoundError,
    NotPermittedError,
    NotReadyError,
    RateLimitedError,
    ServiceError,
)

__all__ = [
    "DOMAIN_PROBLEMS",
    "PROBLEM_BASE",
    "PROBLEM_TYPES",
    "ProblemError",
    "clean_errors",
    "install_problem_handlers",
    "message_vi",
    "problem_response",
]

PROBLEM_BASE: Final = "https://asxh.gov.vn/problems/"
MEDIA_TYPE: Final = "application/problem+json"

_log = logging.getLogger("asxh_card.service")


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A stable problem type: slug, HTTP status and titles."""

    slug: str
    status: int
    title: str
    title_vi: str


PROBLEM_TYPES: Final[Mapping[str, ProblemType]] = {
    p.slug: p
    for p in (
        ProblemType("validation-error", 422, "The request is not valid.", "Yêu cầu không hợp lệ."),
        ProblemType(
            "invalid-identifier", 422, "An identifier is not valid.", "Mã định danh không hợp lệ."
        ),
        ProblemType(
            "invalid-entitlement", 422, "The entitlement is not valid.", "Quyền hưởng không hợp lệ."
        ),
        ProblemType(
            "server-owned-field",
            422,
            "The request sets a field the server owns.",
            "Yêu cầu đặt một trường do hệ thống quản lý.",
        ),
        ProblemType("unauthenticated", 401, "Authentication is required.", "Cần đăng nhập."),
        ProblemType(
            "invalid-credentials",
            401,
            "Wrong user name or password.",
            "Sai tên đăng nhập hoặc mật khẩu.",
        ),
        ProblemType(
            "forbidden", 403, "Your role may not do this.", "Vai trò của bạn không được phép."
        ),
        ProblemType("not-found", 404, "Not found.", "Không tìm thấy."),
        ProblemType(
            "method-not-allowed", 405, "Method not allowed.", "Phương thức không được phép."
        ),
        ProblemType(
            "reconciliation-required",
            409,
            "The registry holds different data for this person.",
            "Dữ liệu đăng ký khác với dữ liệu đang lưu: cần đối chiếu.",
        ),
        ProblemType(
            "conflict",
            409,
            "The request conflicts with the current state.",
            "Yêu cầu mâu thuẫn với trạng thái hiện tại.",
        ),
        ProblemType(
            "idempotency-key-reused",
            409,
            "This Idempotency-Key was used for another request.",
            "Khóa Idempotency-Key đã được dùng cho yêu cầu khác.",
        ),
        ProblemType("payload-too-large", 413, "The request is too large.", "Yêu cầu quá lớn."),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type.",
            "Kiểu dữ liệu không được hỗ trợ.",
        ),
        ProblemType(
            "too-many-requests",
            429,
            "Too many attempts; try again later.",
            "Quá nhiều lần thử; vui lòng thử lại sau.",
        ),
        ProblemType("not-ready", 503, "The service is not ready.", "Dịch vụ chưa sẵn sàng."),
        ProblemType(
            "internal-error",
            500,
            "Internal error; it has been logged.",
            "Lỗi hệ thống; sự cố đã được ghi lại.",
        ),
        ProblemType("http-error", 400, "The request failed.", "Yêu cầu không thực hiện được."),
    )
}

_STATUS_SLUGS: Final = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    503: "not-ready",
}


#: The one place where domain errors become problems: the most specific class listed wins.
DOMAIN_PROBLEMS: Final[Mapping[type[ServiceError], str]] = {
    NotFoundError: "not-found",
    NotPermittedError: "forbidden",
    IdempotencyKeyReusedError: "idempotency-key-reused",
    ConflictError: "conflict",
    RateLimitedError: "too-many-requests",
    NotReadyError: "not-ready",
}


def domain_problem(exc: ServiceError) -> tuple[str, dict[str, str]]:
    """The problem slug and headers (``Retry-After``) for a domain error."""
    slug = next(
        (DOMAIN_PROBLEMS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_PROBLEMS),
        "conflict",
    )
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else {}
    return slug, headers


class ProblemError(AsxhError):
    """Raise to answer with a problem: ``ProblemError("not-found", detail="...", detail_vi="...")``.

    ``detail_vi`` is the officer's sentence; left out, the problem's ``title_vi`` stands in.
    """

    def __init__(
        self,
        slug: str,
        *,
        detail: str | None = None,
        detail_vi: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.kind = PROBLEM_TYPES[slug]
        self.status = status or self.kind.status
        self.detail = detail
        self.detail_vi = detail_vi
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(detail or self.kind.title)


def message_vi(exc: BaseException) -> str | None:
    """The Vietnamese message of a library or service error, if it has one."""
    text = getattr(exc, "message_vi", None)
    return text if isinstance(text, str) else None


def problem_body(
    slug: str,
    *,
    request: Request | None = None,
    detail: str | None = None,
    detail_vi: str | None = None,
    status: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON body of a problem; ``detail_vi`` defaults to the title in Vietnamese."""
    kind = PROBLEM_TYPES[slug]
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind.slug,
        "status": status or kind.status,
        "title": kind.title,
        "title_vi": kind.title_vi,
    }
    if detail:
        body["detail"] = detail
    body["detail_vi"] = detail_vi or kind.title_vi
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(
    slug: str,
    *,
    request: Request | None = None,
    detail: str | None = None,
    detail_vi: str | None = None,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A ``application/problem+json`` response (an HTML page for a browser on a web page).

    The web pages install ``app.state.problem_page``; it answers the problems of web requests
    (a browser asking for HTML, outside the API paths) with a page and returns ``None`` for
    everything else, which keeps its JSON problem.
    """
    body = problem_body(
        slug, request=request, detail=detail, detail_vi=detail_vi, status=status, **extra
    )
    app = request.scope.get("app") if request is not None else None
    page = getattr(getattr(app, "state", None), "problem_page", None)
    if page is not None and request is not None:
        html: Response | None = page(request, body, dict(headers or {}))
        if html is not None:
            return html
    return JSONResponse(body, status_code=body["status"], media_type=MEDIA_TYPE, headers=headers)


#: Pydantic error types in Vietnamese; ``{name}`` fields come from the error's ``ctx`` (limits
#: of the schema, never the submitted value).
_PYDANTIC_VI: Final[Mapping[str, str]] = {
    "missing": "bắt buộc nhưng chưa có",
    "extra_forbidden": "không có trong biểu mẫu hoặc do hệ thống quản lý: không được gửi",
    "string_type": "phải là chuỗi ký tự",
    "string_too_short": "phải có ít nhất {min_length} ký tự",
    "string_too_long": "không được dài quá {max_length} ký tự",
    "string_pattern_mismatch": "không đúng định dạng",
    "int_type": "phải là số nguyên",
    "int_parsing": "phải là số nguyên",
    "int_from_float": "phải là số nguyên, không có phần thập phân",
    "float_type": "phải là số",
    "float_parsing": "phải là số",
    "bool_type": "phải là true hoặc false",
    "bool_parsing": "phải là true hoặc false",
    "date_type": "phải là ngày dạng YYYY-MM-DD",
    "date_parsing": "phải là ngày dạng YYYY-MM-DD",
    "date_from_datetime_parsing": "phải là ngày dạng YYYY-MM-DD",
    "datetime_type": "phải là thời điểm theo ISO 8601",
    "datetime_parsing": "phải là thời điểm theo ISO 8601",
    "literal_error": "phải là một trong các giá trị: {expected}",
    "enum": "phải là một trong các giá trị: {expected}",
    "greater_than": "phải lớn hơn {gt}",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than": "phải nhỏ hơn {lt}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "too_short": "phải có ít nhất {min_length} phần tử",
    "too_long": "không được có quá {max_length} phần tử",
    "list_type": "phải là một danh sách",
    "dict_type": "phải là một đối tượng JSON",
    "model_type": "phải là một đối tượng JSON",
    "model_attributes_type": "phải là một đối tượng JSON",
    "json_invalid": "không phải JSON hợp lệ",
    "json_type": "không phải JSON hợp lệ",
    "uuid_parsing": "phải là UUID",
    "uuid_type": "phải là UUID",
    "none_required": "phải để trống",
}

#: The Vietnamese sentences of the schema's own validators (``ValueError`` texts).
_VALUE_ERRORS_VI: Final[Mapping[str, str]] = {
    "must not contain control characters": "không được chứa ký tự điều khiển",
    "must not contain control characters other than line breaks": (
        "không được chứa ký tự điều khiển (trừ xuống dòng)"
    ),
    "may be left out, but not set to null": "có thể bỏ trống, nhưng không được đặt là null",
}


def _message_vi(error: Mapping[str, Any]) -> str:
    """One pydantic error in Vietnamese, from its type and its schema limits."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error") if isinstance(ctx, Mapping) else None
        if isinstance(cause, InvalidInputError):
            return cause.message_vi.rstrip(".")
        text = str(cause) if cause is not None else ""
        return _VALUE_ERRORS_VI.get(text, "không hợp lệ")
    template = _PYDANTIC_VI.get(kind)
    if template is None:
        return "không hợp lệ"
    try:
        return template.format(**{str(k): v for k, v in dict(ctx).items()})
    except (KeyError, IndexError, ValueError):
        return template.split(":")[0].split("{")[0].strip() or "không hợp lệ"


def _where_vi(loc: Sequence[str]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    if not parts:
        return "Nội dung yêu cầu"
    return f"Trường {'.'.join(parts)}"


def clean_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the submitted input (which may hold a PIN or a name).

    Each carries ``msg_vi``, the same error in Vietnamese (:data:`_PYDANTIC_VI`).
    """
    cleaned: list[dict[str, Any]] = []
    for error in errors[:50]:
        if not isinstance(error, Mapping):
            continue
        loc = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "invalid"))
        kind = str(error.get("type", ""))
        if kind == "extra_forbidden":
            message = "unknown or server-owned field: it may not be set by the client"
        message_vi = f"{_where_vi(loc)}: {_message_vi(error)}."
        cleaned.append({"loc": loc, "msg": message[:300], "msg_vi": message_vi[:300], "type": kind})
    return cleaned


def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    errors = clean_errors(exc.errors())
    if errors and all(e["type"] == "extra_forbidden" for e in errors):
        fields = ", ".join(e["loc"][-1] for e in errors if e["loc"])
        return problem_response(
            "server-owned-field",
            request=request,
            detail=f"these fields may not be set by the client: {fields}",
            detail_vi=f"Các trường sau do hệ thống quản lý, không được gửi lên: {fields}.",
            errors=errors,
        )
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    return problem_response(
        "validation-error",
        request=request,
        detail=f"{where}: {first['msg']}" if where else str(first["msg"]),
        detail_vi=str(first.get("msg_vi") or "") or None,
        errors=errors,
    )


def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)  # noqa: S101 - registered for this type
    return problem_response(
        exc.kind.slug,
        request=request,
        detail=exc.detail,
        detail_vi=exc.detail_vi,
        status=exc.status,
        headers=exc.headers,
        **exc.extra,
    )


def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    if exc.status_code == 400:
        # FastAPI and Starlette answer a body they cannot parse (multipart, forms) with a bare
        # 400; a body that is not JSON is already a validation error, so these are too. Their
        # messages are fixed texts ("Missing boundary in multipart."), never the body.
        return problem_response(
            "validation-error",
            request=request,
            detail=f"the request body is malformed: {exc.detail}",
            detail_vi="Nội dung yêu cầu bị hỏng hoặc sai định dạng.",
        )
    slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
    detail: str | None = exc.detail
    return problem_response(
        slug,
        request=request,
        detail=detail,
        status=exc.status_code,
        headers=dict(exc.headers or {}),
    )


def _invalid_input_handler(request: Request, exc: Exception) -> Response:
    from asxh_card.errors import EntitlementError, IdentifierError  # noqa: PLC0415

    slug = "validation-error"
    if isinstance(exc, IdentifierError):
        slug = "invalid-identifier"
    elif isinstance(exc, EntitlementError):
        slug = "invalid-entitlement"
    assert isinstance(exc, InvalidInputError)  # noqa: S101 - registered for this type
    return problem_response(
        slug, request=request, detail=str(exc)[:500], detail_vi=exc.message_vi[:500]
    )


def _domain_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for this type
    slug, headers = domain_problem(exc)
    return problem_response(
        slug,
        request=request,
        detail=str(exc)[:500],
        detail_vi=exc.message_vi[:500],
        headers=headers,
    )


#: Seconds a client is asked to wait when the database is unreachable, hung or busy.
DATABASE_RETRY_AFTER: Final = 5


def _database_handler(request: Request, exc: Exception) -> Response:
    # The database is down, hung (a statement or lock wait hit its timeout) or busy: the
    # request may succeed later, so 503 with Retry-After rather than a 500. The exception's
    # text can quote parameters, so only its type is logged.
    _log.warning(
        "database unavailable",
        extra={
            "event": "database_unavailable",
            "error_type": type(getattr(exc, "orig", None) or exc).__name__,
            "request_id": getattr(request.state, "request_id", None),
        },
    )
    return problem_response(
        "not-ready",
        request=request,
        detail="the database is unavailable or busy; try again shortly",
        detail_vi="Cơ sở dữ liệu đang bận hoặc không truy cập được; hãy thử lại sau ít giây.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def _verification_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VerificationError)  # noqa: S101 - registered for this type
    return problem_response(
        "validation-error",
        request=request,
        detail=exc.message_en,
        detail_vi=exc.message_vi,
        reason=exc.reason.value,
    )


def _internal_handler(request: Request, exc: Exception) -> Response:
    # The exception type and the route only: a message could contain personal data.
    _log.error(
        "unhandled error",
        extra={
            "event": "unhandled_error",
            "error_type": type(exc).__name__,
            "route": getattr(request.scope.get("route"), "path", None),
            "request_id": getattr(request.state, "request_id", None),
        },
    )
    return problem_response("internal-error", request=request)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(InvalidInputError, _invalid_input_handler)
    app.add_exception_handler(ServiceError, _domain_handler)
    app.add_exception_handler(OperationalError, _database_handler)
    app.add_exception_handler(SQLAlchemyTimeoutError, _database_handler)
    app.add_exception_handler(VerificationError, _verification_handler)
    app.add_exception_handler(Exception, _internal_handler)
