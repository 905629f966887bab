"""The database goes away under the writer, and comes back.

SQLite "down": another connection holds the write lock (the writer's busy_timeout is
short), the state a long CLI transaction or a stuck backup causes. (Making the file
read-only does not work here: the tests run as root.) PostgreSQL "down": the writer
reaches the server through a TCP proxy the test cuts, which kills the live connection
and refuses new ones, then restores.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine

from storage import queries
from storage.db import create_engine, read_transaction
from storage.errors import StorageError, StorageUnavailable, WriterClosed
from storage.records import Posting, PostingKind, WriteBatch
from storage.writer import GroupCommitWriter, WriterState
from tests.storage.conftest import PG_PORT, Database, Seeded
from tests.storage.tcp_proxy import TcpProxy


@dataclass
class Outage:
    """Puts the test database out of the writer's reach and back."""

    database: Database
    writer_engine: Engine
    proxy: TcpProxy | None = None
    _lock: sqlite3.Connection | None = None

    def down(self) -> None:
        if self.proxy is not None:
            self.proxy.down()
            return
        assert self.database.path is not None
        self._lock = sqlite3.connect(self.database.path, isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        if self.proxy is not None:
            self.proxy.up()
            return
        assert self._lock is not None
        self._lock.execute("ROLLBACK")
        self._lock.close()


@pytest.fixture
def outage(database: Database, engine: Engine) -> Iterator[Outage]:
    if database.dialect == "sqlite":
        yield Outage(database, create_engine(database.url, busy_timeout_ms=20))
        return
    proxy = TcpProxy(PG_PORT)
    writer_engine = create_engine(database.url_via_port(proxy.port), connect_timeout_s=1)
    yield Outage(database, writer_engine, proxy)
    proxy.down()
    writer_engine.dispose()


@dataclass
class StateLog:
    states: list[WriterState] = field(default_factory=list)
    errors: list[StorageError | None] = field(default_factory=list)
    retrying: threading.Event = field(default_factory=threading.Event)

    def __call__(self, state: WriterState, error: StorageError | None) -> None:
        self.states.append(state)
        self.errors.append(error)
        if state is WriterState.RETRYING:
            self.retrying.set()


def charge(pid: int, account_id: int) -> WriteBatch:
    return WriteBatch(
        postings=[Posting(pid, account_id, PostingKind.COMMIT, -pid, 0, cause=f"charge-{pid}")]
    )


def state_of(writer: GroupCommitWriter) -> WriterState:
    return writer.state  # a call, so the type checker does not keep an earlier narrowing


def writer_for(outage: Outage, log: StateLog) -> GroupCommitWriter:
    return GroupCommitWriter(
        outage.writer_engine, retry_initial_s=0.01, retry_max_s=0.1, on_state_change=log
    )


def test_batches_wait_while_the_database_is_down_and_commit_when_it_is_back(
    outage: Outage, engine: Engine, seeded: Seeded
) -> None:
    a = seeded.account_ids[0]
    log = StateLog()
    with writer_for(outage, log) as writer:
        assert writer.submit(charge(1, a)).wait(10)  # a live connection exists
        outage.down()
        pending = [writer.submit(charge(2, a)), writer.submit(charge(3, a))]
        assert log.retrying.wait(10)
        assert state_of(writer) is WriterState.RETRYING
        assert isinstance(writer.last_error, StorageUnavailable)
        assert not any(t.done() for t in pending)  # waiting, not failed
        assert writer.queued_rows >= 2
        outage.up()
        assert all(t.wait(20) for t in pending)
        assert all(t.error() is None for t in pending)
        assert state_of(writer) is WriterState.HEALTHY
    assert writer.stats.retries > 0
    assert log.states[:2] == [WriterState.RETRYING, WriterState.HEALTHY]
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, a).balance == -6  # each charge exactly once
        assert queries.verify_balances(conn) == []


def test_the_writer_starts_while_the_database_is_down(
    outage: Outage, engine: Engine, seeded: Seeded
) -> None:
    outage.down()
    log = StateLog()
    with writer_for(outage, log) as writer:
        ticket = writer.submit(charge(1, seeded.account_ids[1]))
        assert log.retrying.wait(10)
        outage.up()
        assert ticket.wait(20)
        assert ticket.error() is None
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, seeded.account_ids[1]).balance == -1


def test_close_with_a_deadline_hands_back_what_it_could_not_write(
    outage: Outage, engine: Engine, seeded: Seeded
) -> None:
    log = StateLog()
    writer = writer_for(outage, log).start()
    outage.down()
    batch = charge(1, seeded.account_ids[2])
    ticket = writer.submit(batch)
    assert log.retrying.wait(10)
    assert writer.close(timeout=0.2) == [batch]
    assert isinstance(ticket.error(), WriterClosed)
    outage.up()
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, seeded.account_ids[2]).balance == 0
