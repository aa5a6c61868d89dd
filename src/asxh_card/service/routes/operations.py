"""Running a province over HTTP: bulk import jobs and statistics."""

from __future__ import annotations

import secrets
import threading
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO, Final

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from asxh_card._core.timeutil import utc_now
from asxh_card.errors import AsxhError
from asxh_card.service import importing, stats, usecases
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.deps import Ctx, Reader, WriterActor, scoped, transaction
from asxh_card.service.models import ImportJobRow
from asxh_card.service.problems import ProblemError, message_vi
from asxh_card.service.routes._common import problems, province_for
from asxh_card.service.security import Principal

router = APIRouter(tags=["operations"])

#: Largest accepted upload (a 1,000,000-row CSV is about 250 MB).
MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024
_RUNNING = "import_threads"

JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def job_out(job: ImportJobRow) -> dict[str, Any]:
    """An import job's progress: rows done of total, counters, rate and ETA."""
    elapsed = max((job.updated_at - job.created_at).total_seconds(), 0.0)
    rate = job.next_row / elapsed if elapsed > 0 and job.next_row else None
    left = job.total_rows - job.next_row
    return {
        "id": job.id,
        "filename": job.filename,
        "province": job.province,
        "state": job.state,
        "total_rows": job.total_rows,
        "processed_rows": job.next_row,
        "percent": round(100 * job.next_row / job.total_rows, 1) if job.total_rows else 100.0,
        "rows_per_second": round(rate, 1) if rate else None,
        "eta_seconds": round(left / rate) if rate and job.state == "running" else None,
        "counts": dict(job.counts),
        "error": job.error,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _start(ctx: ServiceContext, actor: Actor, job_id: int, path: FilePath) -> None:
    """Run the job in a background thread of this process (one thread per job)."""
    with ctx.lock:
        running: set[int] = ctx.cache.setdefault(_RUNNING, set())
        if job_id in running:
            return
        running.add(job_id)

    def work() -> None:
        try:
            importing.run_job(ctx, actor, job_id, path)
        except Exception:  # noqa: BLE001, S110 - run_job marked the job failed with the reason
            pass
        finally:
            with ctx.lock:
                running.discard(job_id)

    threading.Thread(target=work, name=f"import-{job_id}", daemon=True).start()


def _create(path: FilePath) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


async def _save_upload(request: Request, directory: FilePath) -> tuple[FilePath, str]:
    """Stream the multipart field ``file`` to ``directory``; returns the path and file name."""
    try:
        form = await request.form(max_files=1, max_fields=2, max_part_size=MAX_UPLOAD_BYTES)
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
        raise ProblemError(
            "validation-error",
            detail="the request body is malformed",
            detail_vi="Nội dung yêu cầu bị hỏng hoặc sai định dạng.",
        ) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ProblemError(
                "validation-error",
                detail="send the list in the field 'file'",
                detail_vi="Hãy gửi danh sách trong trường 'file'.",
            )
        name = FilePath(upload.filename.replace("\\", "/")).name[:200]
        suffix = FilePath(name).suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            raise ProblemError(
                "validation-error",
                detail="the file must be .csv or .xlsx",
                detail_vi="Tệp phải có đuôi .csv hoặc .xlsx.",
            )
        target = directory / f"upload-{secrets.token_hex(8)}{suffix}"
        handle = await run_in_threadpool(_create, target)
        size, too_big = 0, False
        try:
            while block := await upload.read(1 << 20):
                size += len(block)
                too_big = size > MAX_UPLOAD_BYTES
                if too_big:
                    break
                await run_in_threadpool(handle.write, block)
        finally:
            handle.close()
        if too_big:
            await run_in_threadpool(target.unlink)
            raise ProblemError(
                "payload-too-large",
                detail="the file is over 512 MiB",
                detail_vi="Tệp lớn hơn 512 MiB.",
            )
    finally:
        await form.close()
    return target, name


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
    directory = ctx.settings.var_dir / "imports"
    path, name = await _save_upload(request, directory)

    def open_it() -> tuple[dict[str, Any], FilePath, int]:
        try:
            with transaction(ctx) as session:
                job, created = importing.open_job(
                    session,
                    actor,
                    path=path,
                    filename=name,
                    province=target_province,
                    options={},
                )
                body = job_out(job)
        except AsxhError as exc:
            path.unlink(missing_ok=True)
            raise ProblemError(
                "validation-error", detail=str(exc), detail_vi=message_vi(exc)
            ) from None
        final = directory / f"job-{body['id']}{path.suffix}"
        if created or not final.exists():
            path.replace(final)
        else:
            path.unlink(missing_ok=True)
        return body, final, 202 if body["state"] != "done" else 200

    body, final, status = await run_in_threadpool(open_it)
    if status == 202:
        _start(ctx, actor, body["id"], final)
    return JSONResponse(body, status_code=status, headers={"Location": f"/v1/imports/{body['id']}"})


@router.get("/v1/imports", summary="Import jobs (newest first)", responses=problems("forbidden"))
def list_imports(ctx: Ctx, principal: Reader) -> list[dict[str, Any]]:
    """The 100 newest jobs the caller may see."""
    with transaction(ctx) as session:
        query = scoped(select(ImportJobRow), principal, ImportJobRow.province)
        rows = session.scalars(query.order_by(ImportJobRow.id.desc()).limit(100))
        return [job_out(j) for j in rows]


def _job(ctx: ServiceContext, principal: Principal, job_id: int) -> dict[str, Any]:
    with transaction(ctx) as session:
        job = session.get(ImportJobRow, job_id)
        if job is None or not principal.sees(job.province):
            raise ProblemError(
                "not-found",
                detail="no such import job",
                detail_vi="Không tìm thấy lượt nhập danh sách.",
            )
        return job_out(job)


@router.get(
    "/v1/imports/{job_id}",
    summary="An import job's progress",
    responses=problems("forbidden", "not-found"),
)
def get_import(job_id: JobId, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """State (queued, running, done, failed), rows processed of total, counters, rate, ETA."""
    return _job(ctx, principal, job_id)


@router.get(
    "/v1/imports/{job_id}/errors.csv",
    summary="An import job's error report (CSV)",
    responses=problems("forbidden", "not-found"),
)
def import_errors(job_id: JobId, ctx: Ctx, principal: Reader) -> Response:
    """``row, field, reason_vi, reason_en`` for every rejected row (never the row's data)."""
    _job(ctx, principal, job_id)
    with transaction(ctx) as session:
        text = importing.rejections_csv(session, job_id)
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
