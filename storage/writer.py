"""The group-commit writer: one worker thread makes submitted batches durable together.

What lives here: ``GroupCommitWriter`` (submit / close / state / stats) and its SQL.
What must not: any event-loop import (the ``Ticket`` boundary is described in
``storage.ticket``), ledger logic, or SQLAlchemy Core on the hot path: the journal is
written through the raw DBAPI cursor's ``executemany``, 2-3x faster than Core's
(perf-budget §7 item 4).

One group commit = everything submitted since the previous one (capped at
``max_group_rows``), in ONE transaction:

1. ``INSERT`` every posting (``executemany``);
2. ``UPDATE accounts`` / ``UPDATE buckets`` once per touched balance, by the sum of the
   group's postings for it, so SQL balances always equal opening + sum of postings;
3. session rows: whole-session deletes, then per-rating-group deletes, then upserts,
   after collapsing the group's session operations in submission order;
4. event cursors, only ever moved forward;
5. COMMIT, then complete every ticket of the group (the durable ack).

Failures:

- *The database is unavailable* (connection refused or lost, locked, read-only, disk
  full): the group is rolled back, the connection dropped, the state becomes RETRYING
  (``on_state_change``) and the SAME group is retried with exponential backoff while new
  submissions queue behind it. Nothing submitted is dropped, and tickets stay pending
  rather than fail: a failed ticket would tell the OCS "not written" about rows that
  will still be written later. When the database is back the state returns to HEALTHY.
- *The COMMIT itself failed* (connection lost mid-commit): it may have committed. Before
  re-applying, the writer looks up the group's first posting_id; if it is there, the
  whole group committed (one transaction) and is acknowledged without writing it again.
  Groups without postings are idempotent (upserts, forward-only cursors).
- *A row is refused* (constraint, type): a caller bug. The group is retried one
  submission per transaction, so only the offending ticket fails with ``BatchRejected``.

WAL checkpoints (SQLite): the writer's connection runs with ``wal_autocheckpoint=0`` and
a separate checkpoint thread calls ``storage.db.checkpoint`` on its own connection every
``checkpoint_interval_s``, so no commit that answers wait for pays for a checkpoint.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from storage import journal
from storage.db import checkpoint, is_sqlite, unavailable
from storage.errors import BatchRejected, StorageError, StorageUnavailable, WriterClosed
from storage.records import WriteBatch
from storage.ticket import CommitInfo, Ticket

log = logging.getLogger(__name__)


class WriterState(enum.Enum):
    STARTING = "starting"  #: start() not called yet; submissions queue
    HEALTHY = "healthy"  #: the last attempt committed (or nothing was tried yet)
    RETRYING = "retrying"  #: the database is unavailable; batches queue and are retried
    CLOSED = "closed"


@dataclass(slots=True)
class WriterStats:
    """Counters for metrics. Written by the worker thread only; read from anywhere
    (each field is one int/float assignment, so a reader sees a recent value)."""

    groups: int = 0
    submissions: int = 0
    postings: int = 0
    rows: int = 0
    retries: int = 0
    rejected: int = 0
    checkpoints: int = 0
    last_group_submissions: int = 0
    last_commit_s: float = 0.0
    last_ack_s: float = 0.0


@dataclass(slots=True)
class _Item:
    batch: WriteBatch
    ticket: Ticket
    submitted: float  # time.perf_counter()


class _Retry(Exception):
    def __init__(self, error: StorageUnavailable, *, maybe_committed: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.maybe_committed = maybe_committed


class _Reject(Exception):
    pass


class GroupCommitWriter:
    """See the module docstring. Use as a context manager or call start()/close().

    Args:
        engine: from ``storage.db.create_engine``; the schema must be migrated.
        max_group_rows: cap on rows per transaction, bounding commit latency.
        retry_initial_s, retry_max_s: exponential backoff while unavailable.
        checkpoint_interval_s: SQLite checkpoint period (None: never; then call
            ``storage.db.checkpoint`` yourself).
        on_commit: called on the worker thread after each group's tickets completed.
        on_state_change: called on the worker thread with (new state, error or None).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_group_rows: int = 20_000,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 2.0,
        checkpoint_interval_s: float | None = 1.0,
        on_commit: Callable[[CommitInfo], object] | None = None,
        on_state_change: Callable[[WriterState, StorageError | None], object] | None = None,
    ) -> None:
        self._engine = engine
        self._sql = journal.Statements(engine.dialect.name)
        self._dbapi: Any = engine.dialect.loaded_dbapi
        self._max_group_rows = max_group_rows
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._checkpoint_interval_s = checkpoint_interval_s if is_sqlite(engine) else None
        self._on_commit = on_commit
        self._on_state_change = on_state_change
        self._cv = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._closing = False
        self._deadline: float | None = None  # time.monotonic() after which close gives up
        self._unwritten: list[WriteBatch] = []
        self._conn: Any = None  # the pooled DBAPI connection, owned by the worker
        self._state = WriterState.STARTING
        self._last_error: StorageError | None = None
        self.stats = WriterStats()
        self._worker = threading.Thread(target=self._run, name="storage-writer", daemon=True)
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="storage-checkpoint", daemon=True
        )

    # --- the caller's side -----------------------------------------------------------

    def start(self) -> GroupCommitWriter:
        self._state = WriterState.HEALTHY
        self._worker.start()
        if self._checkpoint_interval_s is not None:
            self._checkpointer.start()
        return self

    def __enter__(self) -> GroupCommitWriter:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def state(self) -> WriterState:
        return self._state

    @property
    def last_error(self) -> StorageError | None:
        """Why the writer is RETRYING (None when healthy)."""
        return self._last_error

    @property
    def queued_rows(self) -> int:
        """Rows submitted and not yet committed: the OCS's backpressure signal."""
        return self._queued_rows

    def submit(self, batch: WriteBatch) -> Ticket:
        """Queue ``batch`` for the next group commit; never blocks on the database.

        Thread-safe; costs one lock round trip, so submit once per batch of requests.
        Batches submitted before start() wait and form the first group.

        Raises:
            WriterClosed: close() was called.
        """
        (ticket,) = self.submit_many([batch])
        return ticket

    def submit_many(self, batches: Sequence[WriteBatch]) -> list[Ticket]:
        """Queue several batches under one lock and one wake-up, a ticket each.

        Each wake-up of the worker is a thread switch that contends for the GIL; an
        OCS serving many connections submits everything one event-loop pass produced
        in a single call (ocs/persist.py).
        """
        now = time.perf_counter()
        tickets = [Ticket() for _ in batches]
        with self._cv:
            if self._closing:
                raise WriterClosed("the storage writer is closed")
            for batch, ticket in zip(batches, tickets, strict=True):
                self._queue.append(_Item(batch, ticket, now))
                self._queued_rows += batch.row_count()
            self._cv.notify()
        return tickets

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is durable (False on timeout)."""
        return self.submit(WriteBatch()).wait(timeout)

    def close(self, timeout: float | None = None) -> list[WriteBatch]:
        """Stop accepting batches, write everything queued, and stop the threads.

        Args:
            timeout: how long to keep retrying an unavailable database. None waits
                until it is back: nothing queued is dropped.

        Returns:
            The batches that could not be written before ``timeout`` (their tickets
            failed with ``WriterClosed``); the caller should log or dump them. Empty
            after a clean flush.
        """
        with self._cv:
            if not self._closing:
                self._closing = True
                self._deadline = None if timeout is None else time.monotonic() + timeout
            self._cv.notify_all()
        if self._state is WriterState.STARTING:
            self._worker.start()  # drain what was submitted before start()
        self._worker.join()
        self._stop_checkpoints.set()
        if self._checkpointer.is_alive():
            self._checkpointer.join()
            try:  # leave a small database file behind; harmless if it fails
                checkpoint(self._engine, "TRUNCATE")
            except StorageError as e:
                log.warning("final WAL checkpoint failed: %s", e)
        self._set_state(WriterState.CLOSED, None)
        return list(self._unwritten)

    # --- the worker thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    break
                group = self._take_locked()
            self._write(group)
        self._drop_connection()

    def _take_locked(self) -> list[_Item]:
        group: list[_Item] = []
        rows = 0
        while self._queue and (not group or rows < self._max_group_rows):
            item = self._queue.popleft()
            group.append(item)
            rows += item.batch.row_count()
        return group

    def _write(self, group: list[_Item]) -> None:
        backoff = self._retry_initial_s
        attempts, maybe_committed = 1, False
        while True:
            try:
                info = self._commit(group, attempts=attempts, check_first=maybe_committed)
            except _Retry as e:
                self._drop_connection()
                self.stats.retries += 1
                maybe_committed = maybe_committed or e.maybe_committed
                self._set_state(WriterState.RETRYING, e.error)
                log.warning("storage unavailable, retrying in %.2fs: %s", backoff, e.error)
                if not self._sleep_or_give_up(backoff):
                    self._give_up(group, e.error)
                    return
                backoff = min(backoff * 2, self._retry_max_s)
                attempts += 1
                continue
            except _Reject as e:
                if len(group) > 1:  # isolate the offending submission
                    for item in group:
                        self._write([item])
                    return
                self.stats.rejected += 1
                log.error("storage writer rejected a batch: %s", e)
                self._finish(group, None, BatchRejected(str(e)))
                return
            self._set_state(WriterState.HEALTHY, None)
            self._finish(group, info, None)
            return

    def _finish(
        self, group: list[_Item], info: CommitInfo | None, error: StorageError | None
    ) -> None:
        with self._cv:
            self._queued_rows -= sum(item.batch.row_count() for item in group)
        for item in group:
            item.ticket._complete(info, error)
        if info is None or info.rows == 0:  # failed, or only flush markers
            return
        s = self.stats
        s.groups += 1
        s.submissions += info.submissions
        s.postings += info.postings
        s.rows += info.rows
        s.last_group_submissions, s.last_commit_s, s.last_ack_s = (
            info.submissions,
            info.commit_s,
            info.ack_s,
        )
        if self._on_commit is not None:
            try:
                self._on_commit(info)
            except Exception:
                log.exception("storage writer on_commit callback raised")

    def _commit(self, group: list[_Item], *, attempts: int, check_first: bool) -> CommitInfo:
        batches = [item.batch for item in group]
        postings = [p for b in batches for p in b.postings]
        started = time.perf_counter()
        conn = self._connection()
        try:
            cur = conn.cursor()
            if self._sql.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            if check_first and postings and self._sql.posting_exists(cur, postings[0]):
                # The earlier COMMIT went through before the connection died.
                conn.rollback()
                rows = sum(b.row_count() for b in batches)
            else:
                rows = self._sql.apply(cur, batches, postings, now_us=time.time_ns() // 1000)
                if rows == 0:
                    conn.rollback()  # a flush marker alone: nothing to make durable
        except Exception as e:
            self._rollback_quietly(conn)
            raise self._classify(e, maybe_committed=False) from e
        if rows:
            try:
                conn.commit()
            except Exception as e:
                raise self._classify(e, maybe_committed=True) from e
        done = time.perf_counter()
        return CommitInfo(
            submissions=len(group),
            postings=len(postings),
            rows=rows,
            commit_s=done - started,
            ack_s=done - group[0].submitted,
            attempts=attempts,
        )

    def _classify(self, e: Exception, *, maybe_committed: bool) -> Exception:
        """Unavailable (retry the same group) versus refused (isolate and reject)."""
        dbapi = self._dbapi
        if isinstance(e, StorageUnavailable):
            return _Retry(e, maybe_committed=maybe_committed)
        refused = (
            dbapi.IntegrityError,
            dbapi.DataError,
            dbapi.ProgrammingError,
            dbapi.NotSupportedError,
        )
        if isinstance(e, dbapi.Error) and not isinstance(e, refused):
            # OperationalError (connection lost, locked, read-only, disk full),
            # InterfaceError, InternalError: the database, not the rows, is the problem.
            return _Retry(unavailable(self._engine, e), maybe_committed=maybe_committed)
        # Constraint violations, and Python errors building the rows (TypeError on a
        # malformed record): retrying cannot fix them.
        return _Reject(f"{type(e).__name__}: {' '.join(str(e).split())[:500]}")

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                raw = self._engine.raw_connection()
            except Exception as e:  # sqlalchemy wraps connect() failures
                raise _Retry(unavailable(self._engine, e), maybe_committed=False) from e
            if self._sql.sqlite:
                try:
                    raw.cursor().execute("PRAGMA wal_autocheckpoint=0")
                except Exception as e:
                    raw.invalidate()
                    raise _Retry(unavailable(self._engine, e), maybe_committed=False) from e
            self._conn = raw
        return self._conn

    def _drop_connection(self) -> None:
        # Invalidate rather than return to the pool: it may be broken, and on SQLite
        # it carries wal_autocheckpoint=0, which other users of the pool must not get.
        if self._conn is not None:
            try:
                self._conn.invalidate()
            except Exception:
                log.debug("invalidating the writer connection failed", exc_info=True)
            self._conn = None

    @staticmethod
    def _rollback_quietly(conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:
            log.debug("rollback after a failed group commit failed", exc_info=True)

    def _sleep_or_give_up(self, delay: float) -> bool:
        """Wait ``delay`` before a retry; False once close()'s deadline has passed."""
        with self._cv:
            if self._deadline is not None:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    return False
                delay = min(delay, remaining)
            self._cv.wait(delay)
            return self._deadline is None or time.monotonic() < self._deadline

    def _give_up(self, group: list[_Item], error: StorageUnavailable) -> None:
        with self._cv:
            rest = list(self._queue)
            self._queue.clear()
        for item in group + rest:
            self._unwritten.append(item.batch)
            self._finish(
                [item],
                None,
                WriterClosed(f"the writer was closed before this batch could be written: {error}"),
            )

    def _set_state(self, state: WriterState, error: StorageError | None) -> None:
        self._last_error = error
        if state is self._state:
            return
        self._state = state
        if self._on_state_change is not None:
            try:
                self._on_state_change(state, error)
            except Exception:
                log.exception("storage writer on_state_change callback raised")

    # --- the checkpoint thread (SQLite) ---------------------------------------------------

    def _checkpoint_loop(self) -> None:
        assert self._checkpoint_interval_s is not None
        seen = -1
        while not self._stop_checkpoints.wait(self._checkpoint_interval_s):
            if self.stats.groups == seen:
                continue  # nothing committed since the last checkpoint
            seen = self.stats.groups
            try:
                checkpoint(self._engine, "PASSIVE")
                self.stats.checkpoints += 1
            except StorageError as e:
                log.warning("WAL checkpoint failed (will retry): %s", e)


def completed(tickets: Sequence[Ticket], timeout: float | None = None) -> bool:
    """Wait for several tickets (a test and CLI helper); False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for ticket in tickets:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not ticket.wait(left):
            return False
    return True
