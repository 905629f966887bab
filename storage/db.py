"""Engines, transactions and the database-error boundary.

What lives here: ``create_engine`` (SQLite tuned for a group-committing journal,
PostgreSQL through psycopg 3), ``write_transaction``/``read_transaction`` context
managers, ``checkpoint`` (the SQLite WAL checkpoint, run off the commit path), and
``map_errors``, the one place where SQLAlchemy's connection errors become
``storage.errors.StorageUnavailable`` with a message that says what to do. What must not:
queries or table definitions.

SQLite settings, and why:

- ``journal_mode=WAL``: readers (billing, CLI) never block the writer and vice versa.
- ``synchronous=NORMAL`` by default: a commit survives a process crash (``kill -9``),
  the last commits may be lost on power failure. ``Synchronous.FULL`` fsyncs every group
  commit (perf-budget §0: 0.9 ms vs 1.15 ms per 1000-row commit).
- ``foreign_keys=ON``: a posting for an unknown account is refused, not stored.
- ``busy_timeout``: a CLI write waits for the OCS's commit instead of failing.
- The writer connection sets ``wal_autocheckpoint=0`` (``storage.writer``) and checkpoints
  run from ``checkpoint()`` on another connection: with automatic checkpoints, the commit
  that crosses 1000 WAL pages does the checkpoint while the answers wait for it
  (perf-budget §5b: p99 3-4 ms instead of about 1 ms).
- Write transactions start with ``BEGIN IMMEDIATE`` so that a read-then-write
  transaction takes the write lock up front and waits under ``busy_timeout``, instead of
  failing with SQLITE_BUSY when it tries to upgrade (WAL snapshot rule).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, event, exc
from sqlalchemy.engine import make_url

from storage.errors import StorageUnavailable

#: execution option read by the SQLite "begin" hook: which BEGIN to emit
_BEGIN_OPTION = "storage_sqlite_begin"


class Synchronous(enum.Enum):
    NORMAL = "NORMAL"  #: durable against process crash; group commit without fsync
    FULL = "FULL"  #: fsync on every commit: durable against power loss


def create_engine(
    url: str,
    *,
    synchronous: Synchronous = Synchronous.NORMAL,
    busy_timeout_ms: int = 5000,
    connect_timeout_s: int = 5,
    echo: bool = False,
) -> Engine:
    """Create the process's engine for ``url``.

    Args:
        url: ``sqlite:///path.db`` (the embedded default) or ``postgresql://...``;
            ``postgresql://`` and ``postgres://`` are routed to the psycopg 3 driver.
        synchronous: SQLite durability level (ignored for PostgreSQL, whose
            ``synchronous_commit`` is a server setting).
        busy_timeout_ms: how long a SQLite statement waits for another writer's lock.
        connect_timeout_s: how long a PostgreSQL connect may take before it counts as
            unreachable.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sqlalchemy.create_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,  # a restarted server must not cost the next CLI command
            connect_args={"connect_timeout": connect_timeout_s},
        )
    if backend != "sqlite":
        raise ValueError(
            f"unsupported database URL {parsed.render_as_string()!r}: "
            "use sqlite:///file.db or postgresql://user@host/db"
        )
    engine = sqlalchemy.create_engine(
        parsed,
        echo=echo,
        # The writer and checkpoint threads each use their own pooled connection.
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )
    memory = parsed.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level; BEGIN is emitted by the hook below, so that we
        # choose DEFERRED or IMMEDIATE (the SQLAlchemy documented pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA journal_size_limit=67108864")  # shrink the WAL after bursts
        cur.execute(f"PRAGMA synchronous={synchronous.value}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(_BEGIN_OPTION, '')}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def describe(engine: Engine) -> str:
    """The engine's URL without its password, for messages and logs."""
    return engine.url.render_as_string(hide_password=True)


def unavailable(engine: Engine, error: BaseException) -> StorageUnavailable:
    """Build the StorageUnavailable for a connection-level failure, with advice."""
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())[:300]
    if is_sqlite(engine):
        advice = (
            "check that the database file's directory exists and is writable, that "
            "the disk is not full, and that no other process holds a long write "
            "transaction on it"
        )
    else:
        advice = (
            "check that the PostgreSQL server is running and reachable at this "
            "address, and that the user, password and database in the URL are right"
        )
    return StorageUnavailable(f"database {describe(engine)} is unavailable ({text}); {advice}")


#: SQLAlchemy errors that mean "the database cannot be used right now", as opposed to
#: "this statement is wrong" (IntegrityError, ProgrammingError), which are bugs or data
#: problems and propagate unchanged.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


@contextmanager
def map_errors(engine: Engine) -> Iterator[None]:
    """Turn connection-level SQLAlchemy errors into ``StorageUnavailable``."""
    dbapi = engine.dialect.loaded_dbapi
    # Raw DBAPI cursors (checkpoint, the writer) raise the driver's own classes.
    raw_unavailable = (dbapi.OperationalError, dbapi.InterfaceError)
    try:
        yield
    except _UNAVAILABLE as e:
        raise unavailable(engine, e) from None
    except exc.DBAPIError as e:
        if e.connection_invalidated:
            raise unavailable(engine, e) from None
        raise
    except raw_unavailable as e:
        raise unavailable(engine, e) from None


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-write transaction: committed on success, rolled back on any error.

    SQLite takes the write lock at BEGIN (IMMEDIATE), so the read-check-write sequences
    of ``storage.events`` are serialised against other writers without retries.

    Raises:
        StorageUnavailable: the database is unreachable, locked past busy_timeout, or
            read-only.
    """
    with map_errors(engine), engine.connect() as conn:
        conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for reading a consistent snapshot (e.g. ``load_state``)."""
    with map_errors(engine), engine.connect() as conn, conn.begin():
        yield conn


def check_connection(engine: Engine) -> None:
    """Fail fast at startup: raise ``StorageUnavailable`` unless a query succeeds."""
    with read_transaction(engine) as conn:
        conn.exec_driver_sql("SELECT 1")


def checkpoint(engine: Engine, mode: str = "PASSIVE") -> tuple[int, int, int]:
    """Run a SQLite WAL checkpoint on a pooled connection (not the writer's).

    Call it from a thread that is not the writer (``GroupCommitWriter`` runs one every
    ``checkpoint_interval_s``) or from an operator command. PASSIVE copies what it can
    without blocking the writer; TRUNCATE (at shutdown) also empties the WAL file.

    Returns:
        SQLite's (busy, wal_frames, checkpointed_frames); (0, 0, 0) for PostgreSQL,
        which checkpoints by itself.
    """
    if not is_sqlite(engine):
        return (0, 0, 0)
    if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
        raise ValueError(f"unknown checkpoint mode {mode!r}")
    # The raw DBAPI connection is in driver autocommit (isolation_level=None): a
    # checkpoint cannot run inside the transaction SQLAlchemy would begin.
    with map_errors(engine):
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(f"PRAGMA wal_checkpoint({mode})")
            row = cur.fetchone()
            cur.close()
        finally:
            raw.close()
    if row is None:
        return (0, 0, 0)
    return (int(row[0]), int(row[1]), int(row[2]))
