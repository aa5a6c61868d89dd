"""Statistics for the provincial plans' six-monthly and yearly reports: counts only.

Never a person, a name or a number: people registered, active entitlements by programme, and
cards issued, replaced, revoked and suspended, by province and by month (Vietnam time). Months
come from the rows' own times (``persons.created_at``, ``cards.issued_at``) and, for revocations
and suspensions, from the audit log's ``card.revoke`` / ``card.suspend`` events; the current
state counts (``cards.state``) are given beside them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session

from asxh_card.service.models import AuditEventRow, CardRow, EntitlementRow, PersonRow

__all__ = ["METRICS", "Stats", "compute", "to_csv"]

#: The monthly counters, in CSV column order.
METRICS: Final = (
    "people_registered",
    "cards_issued",
    "cards_replaced",
    "cards_revoked",
    "cards_suspended",
)


@dataclass(slots=True)
class Stats:
    """Counts for the provinces in scope (``provinces``: None = all)."""

    provinces: list[str] | None
    since: date | None
    until: date | None
    totals: dict[str, int] = field(default_factory=dict)
    cards_by_state: dict[str, int] = field(default_factory=dict)
    active_entitlements: dict[str, int] = field(default_factory=dict)
    by_province: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_month: dict[str, dict[str, int]] = field(default_factory=dict)
    by_province_month: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The response body of ``GET /v1/stats``."""
        return {
            "provinces": self.provinces,
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
            "totals": self.totals,
            "cards_by_state": self.cards_by_state,
            "active_entitlements": self.active_entitlements,
            "by_province": [{"province": p, **v} for p, v in sorted(self.by_province.items())],
            "by_month": [{"month": m, **v} for m, v in sorted(self.by_month.items())],
        }


def _month(session: Session, column: Any) -> ColumnElement[str]:
    """``YYYY-MM`` of a UTC timestamp column, in Vietnam time, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Ho_Chi_Minh", column), "YYYY-MM")
    return cast(func.strftime("%Y-%m", column, "+7 hours"), String)


def _window(
    session: Session, query: Any, column: Any, since: date | None, until: date | None
) -> Any:
    month = _month(session, column)
    if since is not None:
        query = query.where(month >= f"{since:%Y-%m}")
    if until is not None:
        query = query.where(month <= f"{until:%Y-%m}")
    return query


def compute(
    session: Session,
    provinces: Sequence[str] | None,
    *,
    since: date | None = None,
    until: date | None = None,
) -> Stats:
    """Count everything for ``provinces`` (None: every province), months ``since``..``until``.

    ``since`` and ``until`` select whole months (their day is ignored); the entitlement and
    card-state snapshots are as of now.
    """
    stats = Stats(sorted(provinces) if provinces is not None else None, since, until)
    stats.totals = dict.fromkeys(METRICS, 0)

    def scoped(query: Any, column: Any) -> Any:
        return query if provinces is None else query.where(column.in_(list(provinces)))

    def add(metric: str, rows: Any) -> None:
        for province, month, count in rows:
            cell = stats.by_province_month.setdefault((province, month), dict.fromkeys(METRICS, 0))
            cell[metric] += int(count)

    month = _month(session, PersonRow.created_at)
    query = scoped(select(PersonRow.province, month, func.count()), PersonRow.province)
    query = _window(session, query, PersonRow.created_at, since, until)
    add("people_registered", session.execute(query.group_by(PersonRow.province, month)))
    month = _month(session, CardRow.issued_at)
    query = scoped(select(CardRow.province, month, func.count()), CardRow.province)
    query = _window(session, query, CardRow.issued_at, since, until)
    add("cards_issued", session.execute(query.group_by(CardRow.province, month)))
    replaced = query.where(CardRow.replaces_serial.is_not(None))
    add("cards_replaced", session.execute(replaced.group_by(CardRow.province, month)))
    month = _month(session, AuditEventRow.at)
    for action, metric in (("card.revoke", "cards_revoked"), ("card.suspend", "cards_suspended")):
        query = scoped(select(AuditEventRow.province, month, func.count()), AuditEventRow.province)
        query = query.where(AuditEventRow.action == action)
        query = _window(session, query, AuditEventRow.at, since, until)
        add(metric, session.execute(query.group_by(AuditEventRow.province, month)))
    for (province, month_key), cell in stats.by_province_month.items():
        for target in (
            stats.by_month.setdefault(month_key, dict.fromkeys(METRICS, 0)),
            stats.by_province.setdefault(province, dict.fromkeys(METRICS, 0)),
            stats.totals,
        ):
            for metric, value in cell.items():
                target[metric] += value
    query = scoped(select(CardRow.state, func.count()), CardRow.province).group_by(CardRow.state)
    stats.cards_by_state = {state: int(n) for state, n in session.execute(query)}
    query = scoped(
        select(EntitlementRow.province, EntitlementRow.programme, func.count()),
        EntitlementRow.province,
    ).where(EntitlementRow.state == "active")
    by_programme: dict[str, int] = defaultdict(int)
    for province, programme, count in session.execute(
        query.group_by(EntitlementRow.province, EntitlementRow.programme)
    ):
        by_programme[programme] += int(count)
        entry = stats.by_province.setdefault(province, dict.fromkeys(METRICS, 0))
        entry.setdefault("active_entitlements", {})[programme] = int(count)
    stats.active_entitlements = dict(sorted(by_programme.items()))
    for entry in stats.by_province.values():
        entry.setdefault("active_entitlements", {})
    return stats


def to_csv(stats: Stats) -> str:
    """One row per province and month (counts), then one per province with the entitlements.

    Columns: ``province, month, <METRICS...>, active_<PROGRAMME>...``; the per-month rows leave
    the entitlement columns empty, the per-province snapshot rows leave ``month`` empty.
    """
    programmes = sorted(stats.active_entitlements)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["province", "month", *METRICS, *(f"active_{p}" for p in programmes)])
    for (province, month), cell in sorted(stats.by_province_month.items()):
        writer.writerow([province, month, *(cell[m] for m in METRICS), *([""] * len(programmes))])
    for province, entry in sorted(stats.by_province.items()):
        active = entry.get("active_entitlements", {})
        writer.writerow(
            [
                province,
                "",
                *(entry.get(m, 0) for m in METRICS),
                *(active.get(p, 0) for p in programmes),
            ]
        )
    return out.getvalue()
