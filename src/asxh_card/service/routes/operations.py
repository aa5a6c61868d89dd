"""Running a province over HTTP: bulk import jobs and statistics."""

from __future__ import annotations

from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from asxh_card._core.timeutil import utc_now
from asxh_card.service import importjobs, stats, usecases
from asxh_card.service.deps import Ctx, Reader, WriterActor
from asxh_card.service.routes._common import problems, province_for

router = APIRouter(tags=["operations"])

JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _save_upload(request: Request, directory: FilePath) -> tuple[FilePath, str]:
    """Stream the multipart field ``file`` to ``directory``; returns the path and file name."""
    form = await importjobs.read_form(request, max_fields=2)
    try:
        return await importjobs.save_upload(form.get("file"), directory)
    finally:
        await form.close()


@router.post(
    "/v1/imports",
    status_code=202,
    summary="Upload a beneficiary list (CSV/XLSX) and import it in the background",
    responses=problems("forbidden", "conflict", "payload-too-large"),
)
async def create_import(
    request: Request,
    ctx: Ctx,
    actor: WriterActor,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
) -> JSONResponse:
    """Multipart field ``file``. Answers 202 with the job (poll ``GET /v1/imports/{id}``).

    The same file uploaded again resumes its job (200 when it already finished): nothing is
    issued twice. Rows are validated one by one; rejected rows are in
    ``GET /v1/imports/{id}/errors.csv``.
    """
    target_province = province_for(actor.principal, province)
    path, name = await _save_upload(request, importjobs.upload_dir(ctx))
    body, status = await run_in_threadpool(
        importjobs.open_import, ctx, actor, path, name, target_province
    )
    return JSONResponse(body, status_code=status, headers={"Location": f"/v1/imports/{body['id']}"})


@router.get("/v1/imports", summary="Import jobs (newest first)", responses=problems("forbidden"))
def list_imports(ctx: Ctx, principal: Reader) -> list[dict[str, Any]]:
    """The 100 newest jobs the caller may see."""
    return importjobs.list_imports(ctx, principal)


@router.get(
    "/v1/imports/{job_id}",
    summary="An import job's progress",
    responses=problems("forbidden", "not-found"),
)
def get_import(job_id: JobId, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """State (queued, running, done, failed), rows processed of total, counters, rate, ETA."""
    return importjobs.import_job(ctx, principal, job_id)


@router.get(
    "/v1/imports/{job_id}/errors.csv",
    summary="An import job's error report (CSV)",
    responses=problems("forbidden", "not-found"),
)
def import_errors(job_id: JobId, ctx: Ctx, principal: Reader) -> Response:
    """``row, field, reason_vi, reason_en`` for every rejected row (never the row's data)."""
    text = importjobs.errors_csv(ctx, principal, job_id)
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"'},
    )


@router.get(
    "/v1/stats",
    summary="Statistics: people, entitlements, cards by province and month (counts only)",
    responses=problems("forbidden"),
)
def get_stats(
    ctx: Ctx,
    principal: Reader,
    *,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> Any:
    """Province-scoped: officers and provincial auditors get their province only.

    ``from``/``to`` select whole months (Vietnam time); ``format=csv`` answers a CSV for the
    six-monthly and yearly reports.
    """
    result = usecases.stats_for(ctx, principal, province=province, since=since, until=until)
    if fmt == "csv":
        stamp = f"{utc_now():%Y%m%d}"
        return Response(
            "\ufeff" + stats.to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="asxh-stats-{stamp}.csv"'},
        )
    return result.as_json()
