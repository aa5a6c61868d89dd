"""The officer console's operations pages: bulk import, the statistics dashboard, the audit trail.

Same rule as :mod:`.console`: each page calls the function the API route calls
(:mod:`asxh_card.service.importjobs`, :func:`~asxh_card.service.usecases.stats_for`,
:func:`~asxh_card.service.usecases.audit_page`). Charts are inline SVG computed here, on the
server: no chart library, nothing from a CDN, no script (the pages work offline and under the
pages' Content-Security-Policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.service import importjobs, stats, usecases
from asxh_card.service.audit import Actor
from asxh_card.service.deps import province_for, request_id
from asxh_card.service.errors import NotFoundError
from asxh_card.service.problems import ProblemError
from asxh_card.service.security import Principal
from asxh_card.service.web.console import FORM_ERRORS, form_problem, may_write
from asxh_card.service.web.i18n import Translator, request_lang
from asxh_card.service.web.pages import (
    PageReader,
    PageWriter,
    check_csrf,
    page_roles,
    render,
    web_ctx,
)

__all__ = ["AUDIT_ROLES", "Bar", "Chart", "month_chart", "router"]


def _web_page(request: Request) -> None:
    request.state.web_page = True


router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(_web_page)])

#: Who reads the audit trail page (issue 12: "audit trail for auditors"; national admins too).
AUDIT_ROLES: Final = ("auditor", "national_admin")
PageAuditor = Annotated[Principal, Depends(page_roles(*AUDIT_ROLES))]
_AUDIT_PAGE: Final = 50
_IMPORT_FIELDS: Final = 3  # csrf_token, province, and nothing else but the file


# -- bulk import ------------------------------------------------------------------------------


def _imports_context(request: Request, principal: Principal, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "jobs": importjobs.list_imports(web_ctx(request), principal, limit=50),
        "may_write": may_write(principal),
        "needs_province": principal.province is None,
        "error": None,
    }
    context.update(extra)
    return context


@router.get("/imports", response_class=HTMLResponse)
def imports(request: Request, principal: PageReader) -> Response:
    """Upload a beneficiary list (writers) and the newest import jobs with their progress."""
    return render(request, "console/imports.html", _imports_context(request, principal))


@router.post("/imports", response_class=HTMLResponse)
async def upload(request: Request, principal: PageWriter) -> Response:
    """Save the CSV/XLSX, open (or resume) its job and start it; then its progress page.

    The form is parsed here (not by ``CheckedForm``) to stream the file with the API's limits;
    the CSRF token is checked before the file is kept.
    """
    ctx = web_ctx(request)
    form = await importjobs.read_form(request, max_fields=_IMPORT_FIELDS)
    try:
        await run_in_threadpool(check_csrf, request, form)
        raw = form.get("province")
        province = raw.strip() or None if isinstance(raw, str) else None
        actor = Actor(principal, request_id(request))

        async def act() -> tuple[dict[str, Any], int]:
            target = province_for(principal, province)  # permission before the file is kept
            path, name = await importjobs.save_upload(form.get("file"), importjobs.upload_dir(ctx))
            return await run_in_threadpool(importjobs.open_import, ctx, actor, path, name, target)

        try:
            body, _status = await act()
        except FORM_ERRORS as exc:
            if isinstance(exc, NotFoundError) or (
                isinstance(exc, ProblemError) and exc.status in (401, 403, 404)
            ):
                raise
            problem = form_problem(request, exc)
            context = await run_in_threadpool(
                lambda: _imports_context(request, principal, error=problem)
            )
            return render(request, "console/imports.html", context, status_code=problem.status)
    finally:
        await form.close()
    return RedirectResponse(f"/console/imports/{body['id']}", 303)


@router.get("/imports/{job_id}", response_class=HTMLResponse)
def import_page(request: Request, job_id: int, principal: PageReader) -> Response:
    """One job's progress; the page refreshes itself every 2 s until the job stops."""
    job = importjobs.import_job(web_ctx(request), principal, job_id)
    running = job["state"] in ("queued", "running")
    return render(request, "console/import.html", {"job": job, "running": running})


@router.get("/imports/{job_id}/errors.csv")
def import_errors(request: Request, job_id: int, principal: PageReader) -> Response:
    """The rejected rows with the reason in Vietnamese and English (never the row's data)."""
    text = importjobs.errors_csv(web_ctx(request), principal, job_id)
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"',
            "Cache-Control": "private, no-store",
        },
    )


# -- dashboard --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart, in the SVG's user units."""

    x: float
    y: float
    width: float
    height: float
    value: int
    css: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG bar chart laid out on the server: bars, axis labels, size."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[float, float, str], ...]
    baseline: float
    series: tuple[tuple[str, str], ...]


def _months(until: date, count: int) -> list[str]:
    months, year, month = [], until.year, until.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def month_chart(
    by_month: dict[str, dict[str, int]], metrics: tuple[str, ...], until: date, *, months: int = 12
) -> Chart:
    """Grouped vertical bars: ``metrics`` for each of the last ``months`` months to ``until``."""
    keys = _months(until, months)
    width, height, top, bottom, left = 720, 260, 24, 40, 8
    values = [by_month.get(m, {}).get(k, 0) for m in keys for k in metrics]
    peak = max([*values, 1])
    slot = (width - 2 * left) / len(keys)
    bar_w = max(2.0, (slot - 8) / len(metrics))
    plot = height - top - bottom
    bars, labels = [], []
    for i, month in enumerate(keys):
        for j, metric in enumerate(metrics):
            value = by_month.get(month, {}).get(metric, 0)
            h = plot * value / peak
            x = left + i * slot + 4 + j * bar_w
            bars.append(
                Bar(x, top + plot - h, bar_w - 1, h, value, _SERIES[j], f"{metric} {month}")
            )
        labels.append(
            (left + i * slot + slot / 2, height - bottom + 16, f"{month[5:]}/{month[2:4]}")
        )
    series = tuple((_SERIES[j], metric) for j, metric in enumerate(metrics))
    return Chart(width, height, tuple(bars), tuple(labels), top + plot, series)


def bar_list(values: dict[str, int], label: Callable[[str], str] = str) -> Chart:
    """Horizontal bars, one per key (programmes, card states), longest scale = the largest."""
    items = sorted(values.items())
    row, width, label_w = 30, 420, 130
    height = max(row * len(items) + 10, 40)
    peak = max([v for _, v in items] + [1])
    bars, labels = [], []
    for i, (key, value) in enumerate(items):
        w = (width - label_w - 50) * value / peak
        y = 5 + i * row
        bars.append(Bar(label_w, y + 4, w, row - 10, value, _SERIES[0], key))
        labels.append((label_w - 8, y + row / 2 + 4, label(key)))
    return Chart(width, height, tuple(bars), tuple(labels), 0, ())


_SERIES: Final = ("bar", "bar-2", "bar-3", "bar-4")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, principal: PageReader) -> Response:
    """Counts of the operator's province (national operators: all, or ``?province=NN``)."""
    raw = request.query_params.get("province") or None
    province = raw if raw is not None and raw.isdigit() and len(raw) == 2 else None
    result = usecases.stats_for(web_ctx(request), principal, province=province)
    t = Translator(request_lang(request))
    today = vn_date(utc_now())
    context = {
        "result": result,
        "metrics": stats.METRICS,
        "months": month_chart(result.by_month, ("people_registered", "cards_issued"), today),
        "changes": month_chart(
            result.by_month, ("cards_replaced", "cards_revoked", "cards_suspended"), today
        ),
        "programmes": bar_list(result.active_entitlements),
        "states": bar_list(result.cards_by_state, lambda state: t(f"console.state.{state}")),
        "province": province,
        "national": principal.is_national,
        "by_province": sorted(result.by_province.items()),
    }
    return render(request, "console/dashboard.html", context)


# -- audit trail ------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_trail(request: Request, principal: PageAuditor) -> Response:
    """The audit log newest first, 50 a page (``?before=<id>`` pages back), province-scoped."""
    raw = request.query_params.get("before")
    before = int(raw) if raw and raw.isdigit() and 0 < int(raw) < 2**31 else None
    rows = usecases.audit_page(
        web_ctx(request), principal, limit=_AUDIT_PAGE + 1, before_id=before, roles=AUDIT_ROLES
    )
    more = len(rows) > _AUDIT_PAGE
    rows = rows[:_AUDIT_PAGE]
    for row in rows:
        row["at_dt"] = datetime.fromisoformat(row["at"])
    context = {
        "rows": rows,
        "older": rows[-1]["id"] if more and rows else None,
        "first_page": before is None,
    }
    return render(request, "console/audit.html", context)
