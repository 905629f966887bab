"""The storage package's error vocabulary.

What lives here: the exceptions storage raises or hands back through a ``Ticket``.
What must not: any SQLAlchemy or DBAPI exception type escaping to callers. Those are
mapped at the boundary (``storage.db.map_errors`` and the writer's worker loop), so the
OCS and billing never import sqlalchemy to handle a database outage.

::

    StorageError
    ├── StorageUnavailable      the database cannot be reached or written right now
    │                           (server down, wrong URL, disk full, locked); retrying later
    │                           may succeed. The message says what to check.
    ├── SchemaError             the database schema is missing or newer than this code
    ├── NotFound                a looked-up customer/product/account/bucket does not exist
    ├── IdempotencyConflict     an idempotency key was reused for a different change
    ├── InvalidRequest          a change that is not allowed (non-positive top-up,
    │                           reopening a closed account); also a ValueError
    ├── BatchRejected           a submitted WriteBatch violates a constraint (a bug in the
    │                           caller: unknown account, negative reservation); never retried
    └── WriterClosed            submit() after close(), or close() gave up on a down database
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of everything storage raises."""


class StorageUnavailable(StorageError):
    """The database is unreachable or refuses writes; the operation may be retried."""


class SchemaError(StorageError):
    """The schema is missing, incomplete, or newer than this code knows."""


class NotFound(StorageError):
    """A row looked up by a natural key (MSISDN, IMSI, name, id) does not exist."""


class IdempotencyConflict(StorageError):
    """The idempotency key was already used for a different event.

    Repeating a request with the same key and the same content is a no-op that returns
    the original event; the same key with a different kind, account or amount is almost
    certainly a client bug, so it is refused rather than silently ignored.
    """


class InvalidRequest(StorageError, ValueError):
    """The requested change is not allowed; nothing was written."""


class BatchRejected(StorageError):
    """The database refused a submitted batch for its content (constraint, type).

    The batch was rolled back and is not retried; the other batches committed in the same
    group are unaffected (the writer isolates the offending submission).
    """


class WriterClosed(StorageError):
    """The writer is closed, or closed before this batch could be written."""
