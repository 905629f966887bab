"""The OCS side of SQL: durable acks under trio, recovery, and reading account events.

What lives here: `TrioPersistence` (wraps `storage.writer.GroupCommitWriter` so a batch
of answers can await its group commit without blocking trio), `load_book` (rebuild the
ledger, directory and open sessions from SQL after a restart, DESIGN.md durability) and
`read_event_batch` (new account events with the rows needed to apply them). The only
ocs module that talks to the database; every blocking call runs in a worker thread
(`trio.to_thread.run_sync`), never on the event loop.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import trio
from sqlalchemy import Engine

from rating.catalog import Catalog
from rating.money import currency
from rating.plans import load_plans
from storage.catalog import active_catalog
from storage.db import create_engine, read_transaction
from storage.events import read_events
from storage.migrations import require_current
from storage.queries import get_account, get_buckets, get_product, load_state
from storage.records import (
    NO_RATING_GROUP,
    Account,
    AccountEvent,
    BillingMode,
    Bucket,
    EventKind,
    Product,
    SessionRow,
    WriteBatch,
)
from storage.ticket import Ticket
from storage.writer import GroupCommitWriter, WriterState

from . import buckets as ocs_buckets
from .directory import Directory, Subscriber
from .ledger import Account as LedgerAccount
from .ledger import Ledger
from .metrics import Metrics
from .sessions import ENDED, CcSession, SessionTable

OCS_CONSUMER = "ocs"

log = logging.getLogger(__name__)

#: the database handle the rest of ocs/ passes around without importing sqlalchemy
Database = Engine


def open_database(url: str) -> Database:
    """Connect and check the schema is current (``ocs init`` creates it). Blocking.

    Raises:
        storage.errors.StorageError: unreachable database or an old/missing schema,
            with a message that says what to do.
    """
    engine = create_engine(url)
    with read_transaction(engine) as conn:
        require_current(conn)
    return engine


class CommitFailed(Exception):
    """The batch could not be made durable (the writer was closed, or refused it)."""


class Commit:
    """The durability of one submitted batch, awaitable from trio.

    Created before its ticket exists: `TrioPersistence` hands batches to the writer
    once per event-loop pass and attaches the ticket then.
    """

    __slots__ = ("_done", "_error", "_ticket")

    def __init__(self) -> None:
        self._ticket: Ticket | None = None
        self._error: Exception | None = None
        self._done = trio.Event()

    def attach(self, ticket: Ticket, token: trio.lowlevel.TrioToken) -> None:
        self._ticket = ticket
        # The callback runs on the writer thread: hand the wake-up to trio's thread.
        ticket.add_done_callback(lambda _t: token.run_sync_soon(self._done.set))

    def fail(self, error: Exception) -> None:
        self._error = error
        self._done.set()

    async def wait(self) -> None:
        await self._done.wait()
        error = self._error or (self._ticket.error() if self._ticket is not None else None)
        if error is not None:
            raise CommitFailed(str(error)) from error


class TrioPersistence:
    """`handler.Persistence` over the group-commit writer.

    ``submit`` only queues: every batch submitted during one pass of the trio event
    loop (all connections' reads) goes to the writer in one `submit_many` at the end of
    the pass. Measured: a writer wake-up per connection batch made the trio thread and
    the writer thread trade the GIL for every few CCRs.
    """

    def __init__(
        self, writer: GroupCommitWriter, *, max_queued_rows: int, metrics: Metrics
    ) -> None:
        self.writer = writer
        self.max_queued_rows = max_queued_rows
        self.metrics = metrics
        self._token = trio.lowlevel.current_trio_token()
        self._pending: list[tuple[WriteBatch, Commit]] = []

    def submit(self, batch: WriteBatch) -> Commit:
        commit = Commit()
        if not self._pending:
            self._token.run_sync_soon(self._flush)
        self._pending.append((batch, commit))
        return commit

    def flush_now(self) -> None:
        """Hand the batches still queued here to the writer at once (shutdown)."""
        self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            tickets = self.writer.submit_many([batch for batch, _ in pending])
        except Exception as exc:  # the writer is closed: fail every waiter, never hang one
            log.error("cannot queue %d batches: %s", len(pending), exc)
            for _, commit in pending:
                commit.fail(exc)
            return
        for (_, commit), ticket in zip(pending, tickets, strict=True):
            commit.attach(ticket, self._token)

    def available(self) -> bool:
        return self.writer.state is not WriterState.RETRYING

    def overloaded(self) -> bool:
        return self.writer.queued_rows > self.max_queued_rows


# --------------------------------------------------------------------------- recovery


@dataclass(slots=True)
class Book:
    """What the OCS runs on: rebuilt from SQL at start."""

    ledger: Ledger
    directory: Directory
    sessions: SessionTable
    catalog: Catalog
    event_cursor: int


def _ledger_account(account: Account, buckets: list[Bucket]) -> LedgerAccount:
    return LedgerAccount(
        account.account_id,
        balance=account.balance,
        credit_limit=account.credit_limit if account.billing_mode is BillingMode.POSTPAID else None,
        status=account.status,
        buckets=[_ledger_bucket(b) for b in buckets],
    )


def _ledger_bucket(bucket: Bucket) -> ocs_buckets.Bucket:
    return ocs_buckets.Bucket(
        bucket.bucket_id,
        bucket.kind,
        bucket.remaining,
        priority=bucket.priority,
        valid_from_us=bucket.valid_from_us,
        valid_until_us=bucket.valid_until_us,
        rating_groups=None if bucket.rating_group is None else (bucket.rating_group,),
    )


def subscriber(account: Account, product: Product, catalog: Catalog) -> Subscriber:
    return Subscriber(
        account.account_id,
        account.msisdn,
        account.imsi,
        product.name,
        catalog.plan(product.tariff_plan),
        currency(account.currency),
    )


def load_book(engine: Engine, *, monotonic_now: float, wall_now: float | None = None) -> Book:
    """Rebuild balances, buckets, open holds and sessions from one consistent snapshot.

    Blocking: call it through ``trio.to_thread.run_sync``, before the writer starts.
    """
    wall_now = time.time() if wall_now is None else wall_now
    with read_transaction(engine) as conn:
        state = load_state(conn)
        stored = active_catalog(conn)
        products = {
            account.product_id: get_product(conn, product_id=account.product_id)
            for account in state.accounts
        }
    catalog = load_plans(stored[1], stored[0]) if stored is not None else Catalog({}, {})
    by_account: dict[int, list[Bucket]] = defaultdict(list)
    for bucket in state.buckets:
        by_account[bucket.account_id].append(bucket)
    ledger = Ledger(next_posting_id=state.max_posting_id + 1)
    directory = Directory()
    for account in state.accounts:
        ledger.add_account(_ledger_account(account, by_account[account.account_id]))
        product = products[account.product_id]
        if product.tariff_plan in catalog.plans:
            directory.add(subscriber(account, product, catalog))
    sessions = SessionTable()
    for row in state.sessions:
        if row.rating_group == ENDED:  # an ended session's marker (see SessionTable)
            remaining = max(0.0, (row.expires_at_us / 1e6) - wall_now)
            sessions.end(row.session_id, row.request_number, until=monotonic_now + remaining)
            continue
        if row.reserved or row.bucket_reserved:
            ledger.restore_hold(
                row.account_id,
                row.session_id,
                row.rating_group,
                micros=row.reserved,
                bucket_units=_bucket_holds(row),
                units=row.granted_units,
            )
        session = sessions.get(row.session_id)
        if session is None:
            remaining = max(0.0, (row.expires_at_us / 1e6) - wall_now)
            session = CcSession(
                row.session_id,
                row.account_id,
                row.origin_host,
                "",
                last_request_number=row.request_number,
                expires_at=monotonic_now + remaining,
                started_at=row.started_at_us / 1_000_000,
            )
            sessions.open(session)
        if row.rating_group != NO_RATING_GROUP or row.reserved or row.bucket_reserved:
            session.rating_groups.add(row.rating_group)
        if row.used_units:
            session.used[row.rating_group] = row.used_units
    return Book(ledger, directory, sessions, catalog, state.cursors.get(OCS_CONSUMER, 0))


def _bucket_holds(row: SessionRow) -> dict[int, int] | None:
    """Every bucket a restored hold draws on (version 4 rows list them all)."""
    if row.bucket_holds:
        pairs = (item.split(":") for item in row.bucket_holds.split(","))
        return {int(bucket): int(units) for bucket, units in pairs}
    return {row.bucket_id: row.bucket_reserved} if row.bucket_id else None


# --------------------------------------------------------------------------- account events


@dataclass(frozen=True, slots=True)
class EventContext:
    """One account event and the rows needed to apply it (read in the same thread hop)."""

    event: AccountEvent
    account: Account | None = None
    buckets: tuple[Bucket, ...] = ()
    product: Product | None = None


_RELOAD = frozenset({EventKind.CREATED, EventKind.PRODUCT_CHANGED})


def read_event_batch(engine: Engine, after: int, limit: int = 500) -> list[EventContext]:
    """Events after ``after``, with the account rows that CREATED/PRODUCT_CHANGED need."""
    with read_transaction(engine) as conn:
        events = read_events(conn, after, limit)
        out = []
        for event in events:
            if event.kind in _RELOAD:
                account = get_account(conn, event.account_id)
                out.append(
                    EventContext(
                        event,
                        account,
                        tuple(get_buckets(conn, event.account_id)),
                        get_product(conn, product_id=account.product_id),
                    )
                )
            else:
                out.append(EventContext(event))
        return out


def ledger_account(account: Account, buckets: tuple[Bucket, ...]) -> LedgerAccount:
    return _ledger_account(account, list(buckets))


def ledger_bucket(bucket: Bucket) -> ocs_buckets.Bucket:
    return _ledger_bucket(bucket)
