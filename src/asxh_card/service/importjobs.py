"""Bulk import jobs as the API and the web console both run them: upload, open, run, progress.

The import itself is :mod:`asxh_card.service.importing`; here is what surrounds it for a
request: the uploaded file streamed to ``var/imports`` (size and type checked), the job opened
(or resumed: the same file again is the same job, so nothing is issued twice), run in a
background thread of this process, and its progress and error report read back within the
operator's province.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, BinaryIO, Final

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from asxh_card.errors import AsxhError
from asxh_card.service import importing
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.deps import READERS, WRITERS, check_role, province_for, scoped, transaction
from asxh_card.service.models import ImportJobRow
from asxh_card.service.problems import ProblemError, message_vi
from asxh_card.service.security import Principal

__all__ = [
    "MAX_UPLOAD_BYTES",
    "errors_csv",
    "import_job",
    "job_out",
    "list_imports",
    "open_import",
    "read_form",
    "save_upload",
    "start",
    "upload_dir",
]

#: Largest accepted upload (a 1,000,000-row CSV is about 250 MB).
MAX_UPLOAD_BYTES: Final = 512 * 1024 * 1024
_RUNNING: Final = "import_threads"


def upload_dir(ctx: ServiceContext) -> Path:
    """Where uploaded lists are kept (``var/imports``): a job resumes from its file."""
    return ctx.settings.var_dir / "imports"


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


def start(ctx: ServiceContext, actor: Actor, job_id: int, path: Path) -> None:
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


async def read_form(request: Request, *, max_fields: int) -> FormData:
    """The multipart form of an upload (one file of at most 512 MiB, ``max_fields`` fields).

    A broken body is the client's error (422), told in both languages.
    """
    try:
        return await request.form(
            max_files=1, max_fields=max_fields, max_part_size=MAX_UPLOAD_BYTES
        )
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
        raise ProblemError(
            "validation-error",
            detail="the request body is malformed",
            detail_vi="Nội dung yêu cầu bị hỏng hoặc sai định dạng.",
        ) from None


def _create(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


async def save_upload(upload: object, directory: Path) -> tuple[Path, str]:
    """Stream an uploaded ``.csv``/``.xlsx`` file to ``directory``; its path and file name.

    ``upload`` is the form's ``file`` field (anything else is a clear error). Over 512 MiB the
    partial file is removed and the upload refused.
    """
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ProblemError(
            "validation-error",
            detail="send the list in the field 'file'",
            detail_vi="Hãy gửi danh sách trong trường 'file'.",
        )
    name = Path(upload.filename.replace("\\", "/")).name[:200]
    suffix = Path(name).suffix.lower()
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
    return target, name


def open_import(
    ctx: ServiceContext, actor: Actor, path: Path, filename: str, province: str | None
) -> tuple[dict[str, Any], int]:
    """Open (or resume) the job of a saved upload and start it; the job and 202, or 200 if done.

    ``province``: the officer's own when None. A file that is not a readable list is refused
    and removed (nothing written).
    """
    check_role(actor.principal, WRITERS)
    target = province_for(actor.principal, province)
    try:
        with transaction(ctx) as session:
            job, created = importing.open_job(
                session, actor, path=path, filename=filename, province=target, options={}
            )
            body = job_out(job)
    except AsxhError as exc:
        path.unlink(missing_ok=True)
        raise ProblemError("validation-error", detail=str(exc), detail_vi=message_vi(exc)) from None
    final = path.parent / f"job-{body['id']}{path.suffix}"
    if created or not final.exists():
        path.replace(final)
    else:
        path.unlink(missing_ok=True)
    if body["state"] == "done":
        return body, 200
    start(ctx, actor, body["id"], final)
    return body, 202


def list_imports(
    ctx: ServiceContext, principal: Principal, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest jobs the operator may see."""
    check_role(principal, READERS)
    with transaction(ctx) as session:
        query = scoped(select(ImportJobRow), principal, ImportJobRow.province)
        rows = session.scalars(query.order_by(ImportJobRow.id.desc()).limit(limit))
        return [job_out(j) for j in rows]


def import_job(ctx: ServiceContext, principal: Principal, job_id: int) -> dict[str, Any]:
    """One job's progress (not found for a job of another province)."""
    check_role(principal, READERS)
    with transaction(ctx) as session:
        job = session.get(ImportJobRow, job_id)
        if job is None or not principal.sees(job.province):
            raise ProblemError(
                "not-found",
                detail="no such import job",
                detail_vi="Không tìm thấy lượt nhập danh sách.",
            )
        return job_out(job)


def errors_csv(ctx: ServiceContext, principal: Principal, job_id: int) -> str:
    """The job's error report: ``row, field, reason_vi, reason_en`` (never the row's data)."""
    import_job(ctx, principal, job_id)
    with transaction(ctx) as session:
        return importing.rejections_csv(session, job_id)
