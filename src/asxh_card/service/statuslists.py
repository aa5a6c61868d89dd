"""Status lists in the database: random index allocation, status changes, signed tokens.

Each list has at least 131,072 two-bit entries (DESIGN.md §4). An index is drawn with
``secrets.randbelow`` within the issuer's open list and made unique by a database constraint;
when a list is full a new one opens. A status change rewrites the list's bytes and bumps its
``version``; the signed token is re-made lazily (on the next read) when the version changed or
the token is half-way through its ``ttl``, and stored, so every process serves the same token.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from asxh_card._core.b64 import B64Error, b64url_decode
from asxh_card._core.statuslist import Status, StatusList, sign_status_list
from asxh_card._core.timeutil import utc_now
from asxh_card.service.db import bulk_insert
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import IssuerKeyRow, StatusAllocationRow, StatusListRow
from asxh_card.service.settings import Settings

__all__ = [
    "ListSpace",
    "allocate",
    "allocate_many",
    "current_token",
    "etag_of",
    "list_uri",
    "refresh_token",
    "set_status",
    "set_statuses",
]

_RANDOM_TRIES = 16


def list_uri(settings: Settings, list_id: int) -> str:
    """The public URI of a list (the ``uri`` in cards and the token's ``sub``)."""
    return f"{settings.public_url}/v1/status-lists/{list_id}"


def etag_of(token: str) -> str:
    """A strong ETag for a token."""
    return '"' + hashlib.sha256(token.encode("ascii")).hexdigest()[:32] + '"'


def _open_list(session: Session, issuer_id: str, size: int) -> StatusListRow:
    row = session.scalars(
        select(StatusListRow)
        .where(StatusListRow.issuer_id == issuer_id, StatusListRow.full.is_(False))
        .order_by(StatusListRow.id)
        .limit(1)
        .with_for_update()
    ).first()
    if row is not None:
        return row
    now = utc_now()
    row = StatusListRow(
        issuer_id=issuer_id,
        size=size,
        bits=2,
        data=StatusList.empty(size, 2).to_bytes(),
        version=1,
        allocated=0,
        full=False,
        token=None,
        token_version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def allocate(
    session: Session, settings: Settings, issuer_id: str, purpose: str, count: int = 1
) -> tuple[StatusListRow, int]:
    """Allocate ``count`` consecutive unused entries at a random place in the open list.

    Returns the list and the first index. A card takes a block: its own entry followed by one
    per entitlement (card.py, status block). A list that has no free run of ``count`` entries
    left is marked full and a new one opens.
    """
    if not 1 <= count <= 64:
        raise ValueError("count must be 1-64")
    while True:
        row = _open_list(session, issuer_id, settings.status_list_size)
        start = None if row.allocated + count > row.size else _draw(session, row, purpose, count)
        if start is None:
            row.full = True
            session.flush()
            continue
        row.allocated += count
        if row.allocated >= row.size:
            row.full = True
        session.flush()
        return row, start


class ListSpace:
    """A list's taken entries in memory, for bulk allocation (:func:`allocate_many`)."""

    __slots__ = ("allocated", "list_id", "taken")

    def __init__(self, list_id: int, size: int, taken: Sequence[int]) -> None:
        self.list_id = list_id
        self.taken = bytearray(size)
        for idx in taken:
            self.taken[idx] = 1
        self.allocated = len(taken)

    def draw(self, count: int) -> int | None:
        """A random free run of ``count`` entries (marked taken), None when crowded."""
        size = len(self.taken)
        for _ in range(_BULK_TRIES):
            start = secrets.randbelow(size - count + 1)
            if not any(self.taken[start : start + count]):
                self.taken[start : start + count] = b"\x01" * count
                self.allocated += count
                return start
        return None


#: Random tries before a bulk allocation calls a list full (it is then ~95 % or more taken).
_BULK_TRIES = 64


def allocate_many(
    session: Session,
    settings: Settings,
    wanted: Sequence[tuple[str, int]],
    spaces: dict[int, ListSpace],
) -> list[tuple[int, int]]:
    """Allocate a block of entries for each ``(issuer id, count)``: ``(list id, first index)``.

    The bulk form of :func:`allocate` (one card at a time costs a savepoint per try): each
    issuer's open list is locked, its taken entries are read once into ``spaces`` (kept by the
    caller from one transaction to the next and re-read when another writer allocated in
    between), the runs are drawn at random in memory and inserted with one executemany. A list
    where 64 random tries find no free run is marked full and the next one opens.
    """
    now = utc_now()
    result: list[tuple[int, int]] = []
    rows: list[dict[str, object]] = []
    lists: dict[str, tuple[StatusListRow, ListSpace]] = {}
    for issuer_id, count in wanted:
        if not 1 <= count <= 64:
            raise ValueError("count must be 1-64")
        while True:
            if issuer_id not in lists:
                row = _open_list(session, issuer_id, settings.status_list_size)
                space = spaces.get(row.id)
                if space is None or space.allocated != row.allocated:
                    taken = session.scalars(
                        select(StatusAllocationRow.idx).where(StatusAllocationRow.list_id == row.id)
                    ).all()
                    space = spaces[row.id] = ListSpace(row.id, row.size, taken)
                lists[issuer_id] = (row, space)
            row, space = lists[issuer_id]
            start = space.draw(count) if space.allocated + count <= row.size else None
            if start is not None:
                break
            row.full = True
            row.allocated = space.allocated
            session.flush()
            del lists[issuer_id]
        rows.extend(
            {"list_id": row.id, "idx": start + i, "purpose": "card", "created_at": now}
            for i in range(count)
        )
        result.append((row.id, start))
    for row, space in lists.values():
        row.allocated = space.allocated
        row.full = row.full or space.allocated >= row.size
    if rows:
        table = StatusAllocationRow.__table__
        assert isinstance(table, Table)  # noqa: S101 - a mapped table
        bulk_insert(session, table, rows)
    session.flush()
    return result


def _claim(session: Session, row: StatusListRow, start: int, count: int, purpose: str) -> bool:
    """Insert allocations ``start .. start + count - 1``; False if any is taken."""
    now = utc_now()
    try:
        with session.begin_nested():
            session.add_all(
                StatusAllocationRow(list_id=row.id, idx=start + i, purpose=purpose, created_at=now)
                for i in range(count)
            )
    except IntegrityError:
        return False
    return True


def _draw(session: Session, row: StatusListRow, purpose: str, count: int) -> int | None:
    """A random free run of ``count`` entries in ``row``; None when there is none."""
    for _ in range(_RANDOM_TRIES):
        start = secrets.randbelow(row.size - count + 1)
        if _claim(session, row, start, count, purpose):
            return start
    # The list is crowded: choose uniformly among the free runs.
    taken = set(
        session.scalars(
            select(StatusAllocationRow.idx).where(StatusAllocationRow.list_id == row.id)
        )
    )
    runs = [
        start
        for start in range(row.size - count + 1)
        if not any(start + i in taken for i in range(count))
    ]
    while runs:
        start = runs.pop(secrets.randbelow(len(runs)))
        if _claim(session, row, start, count, purpose):
            return start
    return None


def set_status(session: Session, list_id: int, idx: int, status: Status) -> None:
    """Set entry ``idx`` of list ``list_id`` and bump the list's version."""
    set_statuses(session, list_id, [(idx, status)])


def set_statuses(session: Session, list_id: int, changes: Sequence[tuple[int, Status]]) -> None:
    """Set several entries of one list in one write; bump the version if anything changed."""
    row = session.scalars(
        select(StatusListRow).where(StatusListRow.id == list_id).with_for_update()
    ).one()
    entries = StatusList(row.data, row.bits)
    changed = False
    for idx, status in changes:
        if entries[idx] != int(status):
            entries[idx] = int(status)
            changed = True
    if not changed:
        return
    row.data = entries.to_bytes()
    row.version += 1
    row.updated_at = utc_now()
    session.flush()


def current_token(
    session: Session, settings: Settings, keyring: Keyring, list_id: int
) -> StatusListRow | None:
    """The list row with an up-to-date signed token (re-signing it when needed)."""
    row = session.get(StatusListRow, list_id, options=[defer(StatusListRow.data)])
    if row is None:
        return None
    token = refresh_token(
        session, settings, keyring, row, Keyring.active_key(session, row.issuer_id)
    )
    return row if token else None


def refresh_token(
    session: Session,
    settings: Settings,
    keyring: Keyring,
    row: StatusListRow,
    key: IssuerKeyRow | None,
) -> str | None:
    """``row``'s token, re-signed first if it is stale; ``key`` is the issuer's active key.

    A fresh token costs no database work; the list's bits are read only to re-sign it.
    Without an active key the stored token (possibly none) stays.
    """
    now = utc_now()
    kid = key.kid if key is not None else None
    if _fresh(row, settings, now, kid):
        return row.token
    session.refresh(row, with_for_update=True)
    if key is None or _fresh(row, settings, now, kid):
        return row.token
    issued = int(now.timestamp())
    row.token = sign_status_list(
        StatusList(row.data, row.bits),
        keyring.signer(key),
        uri=list_uri(settings, row.id),
        issued_at=issued,
        expires_at=issued + 2 * settings.status_list_ttl,
        ttl=settings.status_list_ttl,
    )
    row.token_version = row.version
    row.token_signed_at = now
    session.flush()
    return row.token


def _token_kid(token: str) -> str | None:
    try:
        header = json.loads(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, B64Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _fresh(row: StatusListRow, settings: Settings, now: datetime, kid: str | None) -> bool:
    """Whether the stored token is current: same version, same key, young enough."""
    if row.token is None or row.token_version != row.version or row.token_signed_at is None:
        return False
    if kid is not None and _token_kid(row.token) != kid:
        return False  # the issuer rotated its key: sign with the new one
    age = now - row.token_signed_at
    return bool(age < timedelta(seconds=settings.status_list_ttl // 2))
