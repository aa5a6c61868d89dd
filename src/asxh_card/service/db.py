"""Engines and sessions: SQLite (embedded default) and PostgreSQL (production).

SQLite connections get ``journal_mode=WAL``, ``synchronous=FULL``, ``foreign_keys=ON`` and a
``busy_timeout`` (the service's database timeout). Every write transaction starts with
``BEGIN IMMEDIATE`` so that read-modify-write sequences (status-list bits, registration) never
dead-lock on a lock upgrade; read-only sessions (:func:`read_scope`, the GET routes) use a
deferred ``BEGIN`` and, in WAL mode, neither wait for nor block a writer.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from sqlalchemy import ColumnElement, DateTime, Table, create_engine, event, or_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import QueryableAttribute, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UTCDateTime",
    "adopt",
    "bind_processors",
    "bulk_insert",
    "dialect_named",
    "insert_tuples",
    "make_engine",
    "make_sessionmaker",
    "mapped_table",
    "one_of",
    "present",
    "read_scope",
    "reserve_ids",
    "session_scope",
    "single_read",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes (a bug in the caller)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - signature fixed by TypeDecorator
    ) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> URL:
    """Parse ``url``; ``postgresql://`` and ``postgres://`` use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" hook below emits BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    options = conn.get_execution_options()
    if options.get(_SINGLE_READ):
        return  # one SELECT on its own: SQLite runs it in its own implicit read transaction
    if options.get(_READ_ONLY):
        # A deferred transaction: in WAL mode it reads a snapshot and never waits for, or
        # blocks, a writer.
        conn.exec_driver_sql("BEGIN")
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")


#: Execution option of :func:`single_read` connections (no ``BEGIN IMMEDIATE`` on SQLite).
_SINGLE_READ = "asxh_single_read"
#: Execution option of :func:`read_scope` sessions (a deferred ``BEGIN`` on SQLite).
_READ_ONLY = "asxh_read_only"


@contextmanager
def single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for a single read-only statement: no write lock taken on SQLite.

    Only for one statement whose result needs no consistency with any other (e.g. the
    per-request account check); everything else uses :func:`session_scope`.
    """
    with engine.connect().execution_options(**{_SINGLE_READ: True}) as connection:
        try:
            yield connection
        finally:
            connection.rollback()


def _owner_only(database: str) -> None:
    """Create the SQLite file (and its WAL companions) readable by the owner only."""
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for companion in (path, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


def make_engine(url: str, *, echo: bool = False, timeout: float = 5.0) -> Engine:
    """An engine for ``url`` whose waits end after ``timeout`` seconds.

    SQLite: the file is created owner-only, with the pragmas above and a busy timeout of
    ``timeout``. PostgreSQL: connect, statement and lock-wait timeouts of ``timeout``, and as
    long for a pooled connection; a database that is down or hung then fails fast, and the
    service answers 503 ``not-ready`` rather than hanging.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _owner_only(database)
        engine = create_engine(parsed, echo=echo, connect_args={"timeout": timeout})
        busy_ms = int(timeout * 1000)

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            _sqlite_on_connect(dbapi_connection, record)
            dbapi_connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if database and database != ":memory:" and not database.startswith("file:"):
                _owner_only(database)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        _WRITE_LOCKS[engine] = (threading.RLock(), timeout)
        return engine
    engine = create_engine(
        parsed,
        echo=echo,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        connect_args={"connect_timeout": max(1, round(timeout))},
    )
    waits_ms = int(timeout * 1000)

    def pg_on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {waits_ms}")
            cursor.execute(f"SET lock_timeout = {waits_ms}")
        dbapi_connection.commit()

    event.listen(engine, "connect", pg_on_connect)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS: Final = 2.0
_RETURNED_AT: Final = "asxh_returned_at"  # the pool record's info key: when it came back


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (a pessimistic check).

    A server restart or fail-over drops idle connections; a ping that fails makes the pool
    discard the connection and hand out a fresh one (``DisconnectionError``, SQLAlchemy's
    documented checkout-event recipe). ``pool_pre_ping`` would ping on *every* checkout: a
    round trip per request (a card issuance on PostgreSQL sends 7 besides: 5 statements,
    ``BEGIN`` and ``COMMIT``). A connection in steady use is handed out at once; if the
    server dropped it meanwhile, that request fails 503 ``not-ready`` and the pool starts
    afresh.
    """

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_RETURNED_AT)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checked_out)


def make_sessionmaker(
    engine: Engine, *, info: dict[str, Any] | None = None
) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (responses are built after it).

    ``info`` is every session's ``Session.info`` (the audit checkpoint signer).
    """
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def read_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session: on SQLite a deferred transaction that takes no write lock."""
    with factory() as session:
        session.connection(execution_options={_READ_ONLY: True})
        try:
            yield session
        finally:
            session.rollback()


#: SQLite engines' in-process writer lock and its wait bound (see :func:`session_scope`).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


_Model = TypeVar("_Model")


def mapped_table(model: type[Any]) -> Table:
    """The Core table of a mapped class (for Core statements built once, on hot paths)."""
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 - every model maps one table
    return table


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column`` equals one of a few constant ``values``: ``IN`` for statements built once.

    SQLAlchemy renders ``column.in_(values)`` with an "expanding" parameter that it rewrites
    into the SQL text on every execution: in a py-spy profile of card issuance
    (bench_service_load.py) that rewriting was more than half the samples of the issuer
    look-up. Plain comparisons stay in the compiled statement cache as they are.
    """
    return or_(*(column == value for value in values))


def adopt(session: Session, model: type[_Model], values: Mapping[Any, Any]) -> _Model:
    """``model``'s row with ``values`` (every column, by name) as an instance of ``session``.

    For rows read or written with Core statements on a hot path: the ORM's own load builds
    its row processors on every query (a sixth of a card issuance's CPU time in
    ``get_person``). No SQL is run; a row the session already holds is answered as held.
    """
    mapper = sa_inspect(model)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    held = session.identity_map.get(key)
    if held is not None:
        return cast("_Model", held)
    instance = model(**values)
    make_transient_to_detached(instance)  # every attribute loaded: nothing left to fetch
    session.add(instance)
    return instance


@contextmanager
def _sqlite_writer_turn(factory: sessionmaker[Session]) -> Iterator[None]:
    """On SQLite, wait for this process's other writers in a queue, not in SQLite.

    SQLite has one writer. Without this, concurrent ``BEGIN IMMEDIATE`` calls wait in SQLite's
    busy handler, which sleeps up to 100 ms between tries: 16 concurrent issuances had a p99
    of seconds, and some reached the busy timeout (503). A thread lock hands the turn over at
    once; SQLite's own lock still guards against other processes (the CLI, an import).
    Waiting longer than the database timeout is answered 503 like a busy database.
    """
    engine = factory.kw.get("bind")
    held = _WRITE_LOCKS.get(engine) if isinstance(engine, Engine) else None
    if held is None:
        yield
        return
    lock, timeout = held
    if not lock.acquire(timeout=timeout):
        raise SQLAlchemyTimeoutError("another writer of this process held the database")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    On SQLite the transaction waits for this process's other writers first
    (:func:`_sqlite_writer_turn`).
    """
    with _sqlite_writer_turn(factory), factory() as session, session.begin():
        yield session


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys of ``table``, reserved for this transaction.

    PostgreSQL draws them from the column's sequence; on SQLite the transaction holds the write
    lock from its first statement (``BEGIN IMMEDIATE``), so the next ids after the largest are
    free until it commits.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(t)s, 'id')) FROM generate_series(1, %(n)s)",
            {"t": table.name, "n": count},
        )
        return [int(r[0]) for r in rows]
    largest = connection.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar()  # noqa: S608 - a table name of the schema
    start = int(largest or 0) + 1
    return list(range(start, start + count))


def _memoised(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` remembering its results for hashable values (a chunk repeats its times)."""
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return convert(value)
        try:
            return memo[value]
        except KeyError:
            result = memo[value] = convert(value)
            return result

    return cached


def bind_processors(table: Table, names: Sequence[str], dialect: Dialect) -> list[Any]:
    """The bind processor of each column in ``names`` for ``dialect`` (None: passed as is).

    The same conversions SQLAlchemy applies (UTC datetimes, JSON, dates, booleans), for code
    that builds DB-API parameters itself, possibly in another process (a fresh dialect of the
    same name converts alike: :func:`dialect_named`).
    """
    return [table.c[n].type._cached_bind_processor(dialect) for n in names]


def dialect_named(name: str) -> Dialect:
    """A fresh dialect object for ``name`` (``connection.dialect.name``), not connected."""
    driver = "psycopg" if name == "postgresql" else "pysqlite"
    dialect: Dialect = URL.create(f"{name}+{driver}").get_dialect()()
    return dialect


def insert_tuples(
    session: Session, table: Table, names: Sequence[str], params: Sequence[Sequence[Any]]
) -> None:
    """Insert ``params`` (already converted, in the order of ``names``) in one statement.

    SQLite: one ``executemany``; PostgreSQL: one ``COPY ... FROM STDIN``.
    """
    if not params:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # COPY: one stream, rows adapted by psycopg's own dumpers (no statement per row).
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        dbapi = connection.dialect.loaded_dbapi
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for row in params:
                    copy.write_row(row)
        except dbapi.Error as exc:
            # The driver's error as SQLAlchemy's (IntegrityError for a duplicate key), as an
            # executemany would have raised it: callers catch those.
            raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc
        finally:
            cursor.close()
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(names))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - names of the schema
    connection.exec_driver_sql(sql, params)


#: Values per statement of :func:`present` (SQLite allows 32,766 parameters since 3.32).
_PRESENT_BATCH = 5000


def present(session: Session, table: Table, column: str, values: Sequence[str]) -> set[str]:
    """Which of ``values`` (strings) occur in ``table.column``.

    Plain SQL: an ORM ``IN`` of thousands of values costs more to compile than to run.
    """
    connection = session.connection()
    name = table.c[column].name
    found: set[str] = set()
    for i in range(0, len(values), _PRESENT_BATCH):
        part = list(values[i : i + _PRESENT_BATCH])
        if connection.dialect.name == "postgresql":
            sql = f"SELECT {name} FROM {table.name} WHERE {name} = ANY(%s)"  # noqa: S608 - names of the schema
            rows = connection.exec_driver_sql(sql, (part,))
        else:
            marks = ", ".join(["?"] * len(part))
            sql = f"SELECT {name} FROM {table.name} WHERE {name} IN ({marks})"  # noqa: S608 - names of the schema
            rows = connection.exec_driver_sql(sql, tuple(part))
        found.update(r[0] for r in rows)
    return found


def bulk_insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` with one DB-API ``executemany``, values converted by the column types.

    SQLAlchemy's own executemany builds parameters through several layers per row, which cost
    more than the database's work; the conversion here uses the same bind processors (UTC
    datetimes, JSON, dates, booleans), once per value.
    """
    if not rows:
        return
    names = list(rows[0])
    processors = bind_processors(table, names, session.connection().dialect)
    converters = [_memoised(p) if p is not None else None for p in processors]
    params = [
        tuple(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(converters, [row[n] for n in names], strict=True)
        )
        for row in rows
    ]
    insert_tuples(session, table, names, params)
