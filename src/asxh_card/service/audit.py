"""The audit log: who did what to which object, and when. Never a PIN, never a name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now
from asxh_card.service.models import AuditEventRow
from asxh_card.service.security import Principal

__all__ = ["Actor", "record"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and in which request: what every audited domain function is handed.

    ``principal`` is the authenticated operator (a job of the service itself, such as the
    demo seed, acts through a principal of its own); ``request_id`` ties the audit entries to
    the request's log lines.
    """

    principal: Principal
    request_id: str | None = None

    @property
    def username(self) -> str:
        """The operator's user name."""
        return self.principal.username


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    *,
    province: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add an audit event to ``session`` (committed with the change it records)."""
    session.add(
        AuditEventRow(
            at=utc_now(),
            actor=actor.principal.username,
            role=actor.principal.role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            province=province,
            detail=dict(detail or {}),
            request_id=actor.request_id,
        )
    )
