"""Status lists in the database: random index allocation, status changes, signed tokens.

Each list has at least 131,072 two-bit entries (DESIGN.md §4) and lives under its issuer's
status base ``{public_url}/v1/status-lists/{issuer}/`` (named in the trust bundle). An index is
drawn with ``secrets.randbelow`` within the issuer's open list and made unique by a database
constraint; when a list is full a new one opens.

Lists are signed by the **issuer's** key, one that the published bundle names for that issuer
with a window covering now (:func:`signing_key`); the service needs no root key for them. A
status change is published before its transaction commits (:func:`publish_changed`, run by the
session's ``before_commit``): the list is re-signed at once, and if no key can sign it the
whole change rolls back (:class:`StatusPublishError`), so a revocation answers 2xx only once the
published list shows it. Otherwise a token is re-signed lazily when it is half-way through its
``ttl``; each new token's ``iat`` is later than the previous one's (verifiers refuse older).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Integer, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from asxh_card._core.b64 import B64Error, b64url_decode
from asxh_card._core.statuslist import Status, StatusList, sign_status_list
from asxh_card._core.timeutil import utc_now
from asxh_card.service import bundles
from asxh_card.service.bundles import status_base
from asxh_card.service.db import mapped_table
from asxh_card.service.errors import NotReadyError
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import IssuerKeyRow, StatusAllocationRow, StatusListRow
from asxh_card.service.settings import Settings

__all__ = [
    "ListSpace",
    "StatusPublishError",
    "allocate",
    "allocate_many",
    "current_token",
    "etag_of",
    "list_uri",
    "open_next",
    "publish_changed",
    "refresh_token",
    "set_status",
    "set_statuses",
    "signing_key",
    "status_base",
]

#: ``session.info`` key: ids of the lists changed in this transaction (published at commit).
CHANGED_LISTS = "asxh_changed_status_lists"


class StatusPublishError(NotReadyError):
    """A changed status list cannot be signed and published: the change must not commit.

    A :class:`~asxh_card.service.errors.NotReadyError`: answered 503 ``not-ready``, nothing
    changed (fail closed).
    """


_RANDOM_TRIES = 16


def list_uri(settings: Settings, issuer_id: str, list_id: int) -> str:
    """The public URI of a list (the ``uri`` in cards and the token's ``sub``)."""
    return f"{status_base(settings, issuer_id)}{list_id}"


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
    session.flush()  # _new_list's Core insert goes after the session's pending changes
    new = session.get(StatusListRow, _new_list(session.connection(), issuer_id, size))
    assert new is not None  # noqa: S101 - inserted just now, in this transaction
    return new


def open_next(
    session: Session, settings: Settings, issuer_id: str, crowded: int | None = None
) -> StatusListRow:
    """Mark list ``crowded`` (if any) full and return the issuer's open list (new if none).

    For a bulk writer whose random draws no longer find a free run in ``crowded``: its
    allocation count is left alone (other writers' pending claims compare against it).
    """
    if crowded is not None:
        row = session.scalars(
            select(StatusListRow).where(StatusListRow.id == crowded).with_for_update()
        ).one()
        row.full = True
        session.flush()
    return _open_list(session, issuer_id, settings.status_list_size)


_LISTS: Final = mapped_table(StatusListRow)
_ALLOCATIONS: Final = mapped_table(StatusAllocationRow)
# Core statements for :func:`allocate`, built once: one issuance allocates one block, and the
# ORM forms (the whole 32 KiB list row loaded, a savepoint per try) cost a fifth of it.
_OPEN_LIST: Final = (
    select(_LISTS.c.id, _LISTS.c.size)
    .where(_LISTS.c.issuer_id == bindparam("of_issuer"), _LISTS.c.full.is_(False))
    .order_by(_LISTS.c.id)
    .limit(1)
)
# Closing a list takes its row lock, but only when a list fills; claiming entries does not
# (issue 10 §5: a count on the list row, held to the commit, made every issuance of the
# issuer wait for the one before it).
_CLOSE: Final = update(_LISTS).where(_LISTS.c.id == bindparam("list_id")).values(full=True)
_NEW_LIST: Final = insert(_LISTS).returning(_LISTS.c.id)
_ALL_TAKEN: Final = select(_ALLOCATIONS.c.idx).where(_ALLOCATIONS.c.list_id == bindparam("list_id"))
# A claim that skips taken entries and names the ones it took (list id, index): one statement
# per try of allocate, one for a whole bulk allocation.
_CLAIM_FREE: Final = {
    dialect: insert_on(_ALLOCATIONS)
    .on_conflict_do_nothing(index_elements=[_ALLOCATIONS.c.list_id, _ALLOCATIONS.c.idx])
    .returning(_ALLOCATIONS.c.list_id, _ALLOCATIONS.c.idx)
    for dialect, insert_on in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
# PostgreSQL: find the issuer's open list and make a first claim at a random ``start`` in one
# statement (only if the run fits that list). ``start`` and ``count`` are typed: psycopg sends
# a small int as a smallint, and ``:start + :count`` overflowed when it reached 32,768.
_FIND_AND_CLAIM: Final = text(
    """
    WITH open_list AS (
        SELECT id, size FROM status_lists
        WHERE issuer_id = :of_issuer AND NOT "full"
        ORDER BY id LIMIT 1
    ), claimed AS (
        INSERT INTO status_allocations (list_id, idx, purpose, created_at)
        SELECT open_list.id, :start + run.i, :purpose, :created_at
        FROM open_list, generate_series(0, :count - 1) AS run(i)
        WHERE :start + :count <= open_list.size
        ON CONFLICT (list_id, idx) DO NOTHING
        RETURNING idx
    )
    SELECT open_list.id, open_list.size, (SELECT array_agg(idx) FROM claimed)
    FROM open_list
    """
).bindparams(
    bindparam("created_at", type_=_ALLOCATIONS.c.created_at.type),
    bindparam("start", type_=Integer),
    bindparam("count", type_=Integer),
)
_UNCLAIM: Final = delete(_ALLOCATIONS).where(
    _ALLOCATIONS.c.list_id == bindparam("list_id"),
    _ALLOCATIONS.c.idx.in_(bindparam("indices", expanding=True)),
)


def allocate(
    session: Session, settings: Settings, issuer_id: str, purpose: str, count: int = 1
) -> tuple[int, int]:
    """Allocate ``count`` consecutive unused entries at a random place in the open list.

    Returns the list id and the first index. A card takes a block: its own entry followed by
    one per entitlement (card.py, status block). A list that has no free run of ``count``
    entries left is marked full and a new one opens.

    The unique constraint on ``(list_id, idx)`` is the only judge: concurrent allocators
    claim with ``INSERT … ON CONFLICT DO NOTHING`` and lock nothing shared, so issuances of
    one issuer do not wait for each other (issue 10 §5). The list row is not counted here
    (its ``allocated`` is the bulk import's, see :func:`allocate_many`).
    """
    if not 1 <= count <= min(64, settings.status_list_size):
        raise ValueError("count must be 1-64 and fit in a list")
    session.flush()  # the Core statements below must see the session's pending lists
    connection = session.connection()
    while True:
        if connection.dialect.name == "postgresql":
            found, start = _find_and_claim(connection, settings, issuer_id, count, purpose)
        else:
            found, start = connection.execute(_OPEN_LIST, {"of_issuer": issuer_id}).first(), None
        if found is None:  # the issuer has no open list yet
            _new_list(connection, issuer_id, settings.status_list_size)
            continue
        list_id, size = found
        if start is None:
            start = _claim_run(connection, list_id, size, count, purpose)
        if start is not None:
            return list_id, start
        # No free run of the block's length is left: the list is closed (allocators that
        # still see it open find no run either, and close it too) and the next one opens.
        connection.execute(_CLOSE, {"list_id": list_id})


def _find_and_claim(
    connection: Connection, settings: Settings, issuer_id: str, count: int, purpose: str
) -> tuple[Any, int | None]:
    """PostgreSQL: the issuer's open list and a first claim of a random run, one statement.

    Answers the open list ``(id, size)`` (None when there is none) and the run's start when
    the first try claimed it whole (a part claimed is given back, and :func:`_claim_run`
    tries again).
    """
    start = secrets.randbelow(settings.status_list_size - count + 1)
    row = connection.execute(
        _FIND_AND_CLAIM,
        {
            "of_issuer": issuer_id,
            "count": count,
            "start": start,
            "purpose": purpose,
            "created_at": utc_now(),
        },
    ).first()
    if row is None:
        return None, None
    list_id, size, claimed = row
    if claimed is not None and len(claimed) == count:
        return (list_id, size), start
    if claimed:
        connection.execute(_UNCLAIM, {"list_id": list_id, "indices": list(claimed)})
    return (list_id, size), None


def _new_list(connection: Connection, issuer_id: str, size: int) -> int:
    """Open a new, empty list of ``size`` entries for ``issuer_id``; its id."""
    now = utc_now()
    list_id: int = connection.execute(
        _NEW_LIST,
        {
            "issuer_id": issuer_id,
            "size": size,
            "bits": 2,
            "data": StatusList.empty(size, 2).to_bytes(),
            "version": 1,
            "allocated": 0,
            "full": False,
            "token": None,
            "token_version": 0,
            "token_signed_at": None,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    return list_id


def _claim_run(
    connection: Connection, list_id: int, size: int, count: int, purpose: str
) -> int | None:
    """Claim a random free run of ``count`` entries in list ``list_id``; None when none is.

    Random places first (a list is mostly empty for most of its life); when those keep
    hitting taken entries the list is crowded, and the run is chosen uniformly among the free
    ones. Indices are random so that a card's place in the list says nothing about when it
    was issued (DESIGN.md §4).
    """
    now = utc_now()

    def rows(start: int) -> list[dict[str, object]]:
        return [
            {"list_id": list_id, "idx": start + i, "purpose": purpose, "created_at": now}
            for i in range(count)
        ]

    claim = _CLAIM_FREE[connection.dialect.name]

    def claimed_whole(start: int) -> bool:
        """Claim the run at ``start``; a part claimed is given back when some was taken."""
        claimed = connection.execute(claim, rows(start)).scalars(1).all()
        if claimed and len(claimed) < count:
            connection.execute(_UNCLAIM, {"list_id": list_id, "indices": list(claimed)})
        return len(claimed) == count

    for _ in range(_RANDOM_TRIES):
        if claimed_whole(start := secrets.randbelow(size - count + 1)):
            return start
    # Crowded: choose among the free runs as they are now. Another allocator may claim the
    # chosen run first (nothing is locked): look again.
    for _ in range(_RANDOM_TRIES):
        taken = set(connection.execute(_ALL_TAKEN, {"list_id": list_id}).scalars())
        runs = [
            start
            for start in range(size - count + 1)
            if not any(start + i in taken for i in range(count))
        ]
        if not runs:
            return None
        if claimed_whole(start := runs[secrets.randbelow(len(runs))]):
            return start
    return None


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

    The bulk form of :func:`allocate`: each issuer's open list is locked against other bulk
    writers, its taken entries are read once into ``spaces`` (kept by the caller from one
    transaction to the next and re-read when another bulk writer counted in between), the
    runs are drawn at random in memory and claimed in one statement. Single issuances claim
    without counting, so a run drawn from the picture may be taken already: the unique
    constraint refuses those entries and their blocks are drawn again. A list where 64 random
    tries find no free run is marked full and the next one opens.
    """
    for _issuer, count in wanted:
        if not 1 <= count <= 64:
            raise ValueError("count must be 1-64")
    now = utc_now()
    connection = session.connection()
    claim = _CLAIM_FREE[connection.dialect.name]
    lists: dict[str, tuple[StatusListRow, ListSpace]] = {}
    result = [_draw(session, settings, lists, spaces, block) for block in wanted]
    todo = list(range(len(wanted)))
    while todo:
        rows = [
            {"list_id": result[n][0], "idx": result[n][1] + i, "purpose": "card", "created_at": now}
            for n in todo
            for i in range(wanted[n][1])
        ]
        session.flush()  # a list opened by _draw goes in before its entries
        claimed = {(list_id, idx) for list_id, idx in connection.execute(claim, rows)}
        again = []
        for n in todo:
            list_id, start = result[n]
            run = {(list_id, start + i) for i in range(wanted[n][1])}
            if run <= claimed:
                continue
            if mine := sorted(idx for _list, idx in run & claimed):
                connection.execute(_UNCLAIM, {"list_id": list_id, "indices": mine})
            # The picture keeps the whole run as taken (part of it is); the block draws anew.
            result[n] = _draw(session, settings, lists, spaces, wanted[n])
            again.append(n)
        todo = again
    for row, space in lists.values():
        row.allocated = space.allocated
        row.full = row.full or space.allocated >= row.size
    session.flush()
    return result


def _draw(
    session: Session,
    settings: Settings,
    lists: dict[str, tuple[StatusListRow, ListSpace]],
    spaces: dict[int, ListSpace],
    wanted: tuple[str, int],
) -> tuple[int, int]:
    """A random run of ``count`` entries free in the picture of the issuer's open list."""
    issuer_id, count = wanted
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
            return row.id, start
        row.full = True
        row.allocated = space.allocated
        session.flush()
        del lists[issuer_id]


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
    session.info.setdefault(CHANGED_LISTS, set()).add(row.id)
    session.flush()


def current_token(
    session: Session, settings: Settings, keyring: Keyring, list_id: int
) -> StatusListRow | None:
    """The list row with an up-to-date signed token (re-signing it when needed)."""
    row = session.get(StatusListRow, list_id, options=[defer(StatusListRow.data)])
    if row is None:
        return None
    token = refresh_token(session, settings, keyring, row)
    return row if token else None


def signing_key(
    session: Session, settings: Settings, keyring: Keyring, issuer_id: str
) -> IssuerKeyRow | None:
    """The issuer key that signs its lists now, or None when none may.

    A key the published bundle names for the issuer with a window covering now, active or
    retiring here (inside its own window), with its private key on this server; the newest
    active one first. A list signed otherwise would be refused by every verifier.
    """
    bundle = bundles.current_bundle(session, settings, keyring)
    if bundle is None or issuer_id not in bundle.issuers:
        return None
    published = bundle.issuers[issuer_id].keys
    now = utc_now()
    moment = int(now.timestamp())
    candidates = [
        key
        for key in session.scalars(
            select(IssuerKeyRow).where(
                IssuerKeyRow.issuer_id == issuer_id, IssuerKeyRow.state.in_(("active", "retiring"))
            )
        )
        if key.key_file is not None
        and key.kid in published
        and published[key.kid].covers(moment)
        and key.not_before <= now
        and (key.not_after is None or now <= key.not_after)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda k: (k.state == "active", k.id))


def _sign(
    session: Session, settings: Settings, keyring: Keyring, row: StatusListRow, key: IssuerKeyRow
) -> str:
    now = utc_now()
    issued = int(now.timestamp())
    if row.token_signed_at is not None:
        # Strictly later than the previous token: verifiers keep the newest iat per list.
        issued = max(issued, int(row.token_signed_at.timestamp()) + 1)
    row.token = sign_status_list(
        StatusList(row.data, row.bits),
        keyring.signer(key),
        uri=list_uri(settings, row.issuer_id, row.id),
        issued_at=issued,
        expires_at=issued + 2 * settings.status_list_ttl,
        ttl=settings.status_list_ttl,
    )
    row.token_version = row.version
    row.token_signed_at = datetime.fromtimestamp(issued, UTC)
    session.flush()
    return row.token


def refresh_token(
    session: Session, settings: Settings, keyring: Keyring, row: StatusListRow
) -> str | None:
    """``row``'s token, re-signed first if it is stale.

    A fresh token costs no database work; the list's bits are read only to re-sign it.
    Without a key that may sign (:func:`signing_key`) the stored token (possibly none) stays:
    verifiers then see it age and answer "cannot check", never "valid" from a silent gap.
    """
    key = signing_key(session, settings, keyring, row.issuer_id)
    kid = key.kid if key is not None else None
    if _fresh(row, settings, utc_now(), kid):
        return row.token
    session.refresh(row, with_for_update=True)
    if key is None or _fresh(row, settings, utc_now(), kid):
        return row.token
    return _sign(session, settings, keyring, row, key)


def publish_changed(session: Session, settings: Settings, keyring: Keyring) -> None:
    """Sign every list changed in this transaction now; raise if one cannot be signed.

    Runs before the transaction commits (``before_commit``), so a status change and its
    published list commit together or not at all.
    """
    changed: set[int] = session.info.pop(CHANGED_LISTS, set())
    for list_id in sorted(changed):
        row = session.get(StatusListRow, list_id)
        if row is None:  # pragma: no cover - the change itself created the row
            continue
        key = signing_key(session, settings, keyring, row.issuer_id)
        if key is None:
            raise StatusPublishError(
                f"no key of issuer {row.issuer_id} in the published trust bundle may sign its "
                "status list now; the change was not made (publish a bundle naming its key)",
                message_vi=(
                    f"Gói dữ liệu tin cậy đã công bố chưa có khóa nào của đơn vị {row.issuer_id} "
                    "được ký danh sách trạng thái; thay đổi chưa được thực hiện (hãy công bố gói "
                    "dữ liệu có khóa này)."
                ),
            )
        _sign(session, settings, keyring, row, key)


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
