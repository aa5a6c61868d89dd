"""The audit log: who did what to which object, and when. Never a PIN, never a name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now
from asxh_card.service.models import AuditEvent
from asxh_card.service.security import Principal

__all__ = ["record"]


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    object_type: str,
    object_id: str | int,
    *,
    province: str | None = None,
    detail: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Add an audit event to ``session`` (committed with the change it records)."""
    if isinstance(actor, Principal):
        name, role = actor.username, actor.role
    else:
        name, role = actor, "system"
    session.add(
        AuditEvent(
            at=utc_now(),
            actor=name,
            role=role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            province=province,
            detail=dict(detail or {}),
            request_id=request_id,
        )
    )
