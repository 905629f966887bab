"""The SQL of one group commit, issued through a raw DBAPI cursor.

What lives here: ``Statements``, the writer's prepared SQL text for one dialect, and
``apply``, which turns a group of ``WriteBatch`` into a handful of ``executemany`` calls (PostgreSQL: ``COPY`` and one ``UPDATE ... FROM unnest``).
What must not: transactions, retries or threads (``storage.writer`` owns those), and
SQLAlchemy Core: the journal is the hot path, and the raw cursor is 2-3x faster
(perf-budget §7 item 4).

The SQL is the subset SQLite (>= 3.24) and PostgreSQL share, including
``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE``; only the placeholder differs
(sqlite3 ``?``, psycopg ``%s``). Table and column names must match ``storage.schema``;
``tests/storage/test_writer.py`` round-trips every column on both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from storage.records import Posting, SessionRow, WriteBatch

_POSTING_COLUMNS = (
    "posting_id",
    "account_id",
    "kind",
    "amount",
    "reserved",
    "bucket_id",
    "session_id",
    "rating_group",
    "at_us",
    "cause",
    "overrun",
)

#: Posting -> parameter tuple, in C: attrgetter builds the tuple without a Python frame,
#: which matters at hundreds of thousands of rows per second ("kind.value" unwraps the enum).
_posting_row = attrgetter(*("kind.value" if c == "kind" else c for c in _POSTING_COLUMNS))

_SESSION_COLUMNS = (
    "session_id",
    "rating_group",
    "account_id",
    "state",
    "request_number",
    "origin_host",
    "reserved",
    "bucket_id",
    "bucket_reserved",
    "granted_units",
    "expires_at_us",
    "updated_at_us",
    "used_units",
    "started_at_us",
    "bucket_holds",
)

_session_row = attrgetter(*_SESSION_COLUMNS)


class UnknownBalance(Exception):
    """A posting names an account or bucket that does not exist (a ledger bug)."""


class Statements:
    """The writer's SQL for one dialect ("sqlite" or "postgresql")."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        p = "?" if self.sqlite else "%s"

        def values(n: int) -> str:
            return ", ".join([p] * n)

        self.insert_postings = (
            f"INSERT INTO postings ({', '.join(_POSTING_COLUMNS)}) "
            f"VALUES ({values(len(_POSTING_COLUMNS))})"
        )
        self.update_accounts = (
            f"UPDATE accounts SET balance = balance + {p}, "
            f"reserved = reserved + {p} WHERE account_id = {p}"
        )
        self.update_buckets = (
            f"UPDATE buckets SET remaining = remaining + {p}, "
            f"reserved = reserved + {p} WHERE bucket_id = {p}"
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SESSION_COLUMNS[2:])
        self.upsert_sessions = (
            f"INSERT INTO cc_sessions ({', '.join(_SESSION_COLUMNS)}) "
            f"VALUES ({values(len(_SESSION_COLUMNS))}) "
            f"ON CONFLICT (session_id, rating_group) DO UPDATE SET {updates}"
        )
        self.delete_session_groups = (
            f"DELETE FROM cc_sessions WHERE session_id = {p} AND rating_group = {p}"
        )
        self.delete_sessions = f"DELETE FROM cc_sessions WHERE session_id = {p}"
        # Forward only: replaying an older batch can never move a consumer back.
        self.advance_cursors = (
            f"INSERT INTO event_cursors (consumer, last_event_id, updated_at_us) "
            f"VALUES ({p}, {p}, {p}) ON CONFLICT (consumer) DO UPDATE SET "
            f"last_event_id = excluded.last_event_id, updated_at_us = excluded.updated_at_us "
            f"WHERE event_cursors.last_event_id < excluded.last_event_id"
        )
        self.find_posting = f"SELECT 1 FROM postings WHERE posting_id = {p}"
        # PostgreSQL: COPY streams the journal rows (executemany measured ~30 k rows/s,
        # one protocol message per row), and one UPDATE ... FROM unnest() per group
        # replaces one statement per balance.
        self.copy_postings = f"COPY postings ({', '.join(_POSTING_COLUMNS)}) FROM STDIN"
        self.pg_update = (
            "UPDATE {table} AS t SET {amount} = t.{amount} + d.amount, "
            "reserved = t.reserved + d.reserved FROM unnest(%s::bigint[], %s::bigint[], "
            "%s::bigint[]) AS d(amount, reserved, id) WHERE t.{key} = d.id"
        )

    def posting_exists(self, cur: Any, posting: Posting) -> bool:
        cur.execute(self.find_posting, (posting.posting_id,))
        return cur.fetchone() is not None

    def apply(
        self, cur: Any, batches: Sequence[WriteBatch], postings: Sequence[Posting], now_us: int = 0
    ) -> int:
        """Write one group inside the caller's transaction; return the rows written."""
        rows = 0
        if postings:
            accounts, buckets = _balance_deltas(postings)
            if self.sqlite:
                cur.executemany(self.insert_postings, map(_posting_row, postings))
            else:
                with cur.copy(self.copy_postings) as copy:
                    for row in map(_posting_row, postings):
                        copy.write_row(row)
            # Every posting's balance must exist (the journal has no foreign keys, see
            # storage.schema): the UPDATEs' rowcount proves it, once per balance.
            self._update(cur, "accounts", "balance", "account_id", accounts)
            self._update(cur, "buckets", "remaining", "bucket_id", buckets)
            rows += len(postings) + len(accounts) + len(buckets)
        rows += self._apply_sessions(cur, batches)
        cursors: dict[str, int] = {}
        for batch in batches:
            for consumer, event_id in batch.cursors:
                cursors[consumer] = max(event_id, cursors.get(consumer, event_id))
        if cursors:
            cur.executemany(
                self.advance_cursors, [(c, e, now_us) for c, e in sorted(cursors.items())]
            )
            rows += len(cursors)
        return rows

    def _update(
        self, cur: Any, table: str, amount: str, key: str, deltas: list[tuple[int, int, int]]
    ) -> None:
        if not deltas:
            return
        if self.sqlite:
            sql = self.update_accounts if table == "accounts" else self.update_buckets
            cur.executemany(sql, deltas)  # sqlite3 sums rowcount over executemany
        else:
            amounts, reserved, ids = (list(column) for column in zip(*deltas, strict=True))
            cur.execute(
                self.pg_update.format(table=table, amount=amount, key=key), (amounts, reserved, ids)
            )
        if cur.rowcount != len(deltas):
            raise UnknownBalance(
                f"{len(deltas) - cur.rowcount} of the batch's {table} do not exist"
            )

    def _apply_sessions(self, cur: Any, batches: Sequence[WriteBatch]) -> int:
        # Collapse the group's operations so that executing "whole-session deletes, then
        # rating-group deletes, then upserts" ends in the state submission order implies:
        # an upsert after a whole-session delete survives, one before it is dropped.
        ops: dict[str, dict[int, SessionRow | None]] = {}
        whole: set[str] = set()
        for batch in batches:
            for row in batch.sessions:
                ops.setdefault(row.session_id, {})[row.rating_group] = row
            for key in batch.closed:
                if key.rating_group is None:
                    ops.pop(key.session_id, None)
                    whole.add(key.session_id)
                else:
                    ops.setdefault(key.session_id, {})[key.rating_group] = None
        if not ops and not whole:
            return 0
        deletes = [
            (sid, rg) for sid, groups in ops.items() for rg, row in groups.items() if row is None
        ]
        upserts = [
            _session_row(row)
            for groups in ops.values()
            for row in groups.values()
            if row is not None
        ]
        if whole:
            cur.executemany(self.delete_sessions, [(sid,) for sid in sorted(whole)])
        if deletes:
            cur.executemany(self.delete_session_groups, deletes)
        if upserts:
            cur.executemany(self.upsert_sessions, upserts)
        return len(whole) + len(deletes) + len(upserts)


def _balance_deltas(
    postings: Sequence[Posting],
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """Sum the group's postings per account money balance and per bucket.

    Returns (amount, reserved, id) parameter tuples, sorted by id so that concurrent
    writers (one per shard, later) always lock rows in the same order. Net-zero deltas
    (a reserve and its release in one group) are kept: the UPDATE proves the row exists.
    """
    acc_amount: dict[int, int] = {}
    acc_reserved: dict[int, int] = {}
    bkt_amount: dict[int, int] = {}
    bkt_reserved: dict[int, int] = {}
    for p in postings:
        bucket = p.bucket_id
        if bucket is None:
            key = p.account_id
            acc_amount[key] = acc_amount.get(key, 0) + p.amount
            acc_reserved[key] = acc_reserved.get(key, 0) + p.reserved
        else:
            bkt_amount[bucket] = bkt_amount.get(bucket, 0) + p.amount
            bkt_reserved[bucket] = bkt_reserved.get(bucket, 0) + p.reserved
    accounts = [(acc_amount[k], acc_reserved[k], k) for k in sorted(acc_amount)]
    buckets = [(bkt_amount[k], bkt_reserved[k], k) for k in sorted(bkt_amount)]
    return accounts, buckets
