"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from asxh_card.service.deps import Ctx
from asxh_card.service.migrate import current_revision, head_revision
from asxh_card.service.problems import DATABASE_RETRY_AFTER, ProblemError

router = APIRouter(tags=["health"])


@router.get(
    "/health/live",
    summary="Liveness",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def live() -> dict[str, str]:
    """The process answers (on the event loop: no thread hand-off)."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="Readiness: database reachable and migrated",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"status": "ready", "database": "sqlite", "revision": "0001"}
                }
            }
        },
        503: {"description": "Not ready"},
    },
)
def ready(ctx: Ctx) -> dict[str, Any]:
    """The database answers and its schema is at the head revision."""
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = current_revision(conn)
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        raise ProblemError(
            "not-ready",
            detail="the database is not reachable",
            detail_vi="Không kết nối được cơ sở dữ liệu.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        ) from None
    if revision != head_revision():
        raise ProblemError(
            "not-ready",
            detail="the database schema is not migrated",
            detail_vi="Cơ sở dữ liệu chưa được nâng cấp lên lược đồ mới nhất.",
        )
    return {"status": "ready", "database": ctx.engine.dialect.name, "revision": revision}
