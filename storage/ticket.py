"""The acknowledgement of one submitted write: a thread-safe, loop-agnostic future.

What lives here: ``Ticket`` and ``CommitInfo``. What must not: any event-loop import.
The writer runs on a plain thread and the OCS runs on trio; storage may not import trio
(tests/test_layering.py), so the boundary is a callback plus a blocking ``wait``:

- ``add_done_callback(fn)``: ``fn(ticket)`` runs exactly once, on the writer's worker
  thread when the batch completes (or at once, on the caller's thread, if it already
  has). It must be quick and must not block: it delays every later batch. From trio::

      token = trio.lowlevel.current_trio_token()
      done = trio.Event()
      ticket.add_done_callback(lambda _t: token.run_sync_soon(done.set))
      await done.wait()
      ticket.result()     # raises if the batch was rejected or the writer closed

  (``run_sync_soon`` is the one trio call documented as safe from any thread; asyncio
  would use ``loop.call_soon_threadsafe`` the same way.)
- ``wait(timeout)``: blocks the calling thread; for the CLI, billing jobs and tests.

A ticket completes successfully only after the COMMIT of the transaction holding its
rows returned: that is the durable ack. While the database is down a ticket stays
pending (its rows stay queued and are retried); it fails only with ``BatchRejected``
(its own rows violate a constraint) or ``WriterClosed`` (the writer was closed with a
deadline while the database was still down).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from storage.errors import StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """What one group commit wrote; handed to every ticket of it and to ``on_commit``."""

    submissions: int  #: batches (tickets) in the group
    postings: int  #: journal rows
    rows: int  #: all rows written: postings, balance updates, sessions, cursors
    commit_s: float  #: BEGIN to COMMIT, seconds (the database's share)
    ack_s: float  #: oldest submit() of the group to COMMIT, seconds (what answers wait)
    attempts: int = 1  #: >1 when the database was unavailable and the group was retried


class Ticket:
    """Completion of one ``GroupCommitWriter.submit``. See the module docstring."""

    __slots__ = ("_callbacks", "_done", "_error", "_event", "_info", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._callbacks: list[Callable[[Ticket], object]] = []
        self._error: StorageError | None = None
        self._info: CommitInfo | None = None
        self._event: threading.Event | None = None  # created only if someone waits

    def done(self) -> bool:
        return self._done

    def add_done_callback(self, fn: Callable[[Ticket], object]) -> None:
        """Call ``fn(self)`` once, when the ticket completes (see module docstring)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(fn)
                return
        fn(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done; return False if ``timeout`` seconds passed first."""
        with self._lock:
            if self._done:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def result(self) -> CommitInfo:
        """The group commit that made this batch durable.

        Raises:
            BatchRejected, WriterClosed: the batch was not written.
            RuntimeError: the ticket is not done yet (wait or use a callback first).
        """
        if not self._done:
            raise RuntimeError("ticket is not done yet")
        if self._error is not None:
            raise self._error
        assert self._info is not None  # done without error always carries info
        return self._info

    def error(self) -> StorageError | None:
        """The failure, if the batch was not written (None while pending or on success)."""
        return self._error

    def _complete(self, info: CommitInfo | None, error: StorageError | None) -> None:
        """Called once by the writer's worker thread."""
        with self._lock:
            if self._done:
                return
            self._info, self._error, self._done = info, error, True
            callbacks, self._callbacks = self._callbacks, []
            event = self._event
        if event is not None:
            event.set()
        for fn in callbacks:
            try:
                fn(self)
            except Exception:  # a bad callback must not kill the writer thread
                log.exception("ticket done-callback %r raised", fn)
