"""The group-commit writer: batches, durable acks, balances = journal, sessions, cursors."""

from __future__ import annotations

import random
import threading

import trio
from sqlalchemy import Engine, select

from storage import queries
from storage.db import read_transaction, write_transaction
from storage.errors import BatchRejected, WriterClosed
from storage.journal import Statements
from storage.records import (
    NO_RATING_GROUP,
    BucketKind,
    Posting,
    PostingKind,
    SessionKey,
    SessionRow,
    WriteBatch,
)
from storage.schema import cc_sessions, postings
from storage.ticket import CommitInfo, Ticket
from storage.writer import GroupCommitWriter, WriterState, completed
from tests.storage.conftest import Seeded


def posting(
    pid: int,
    account_id: int,
    amount: int,
    reserved: int = 0,
    *,
    kind: PostingKind = PostingKind.COMMIT,
    bucket_id: int | None = None,
    **extra: object,
) -> Posting:
    return Posting(
        pid,
        account_id,
        kind,
        amount,
        reserved,
        bucket_id,
        at_us=1_700_000_000_000_000 + pid,
        cause=f"charge-{pid}",
        **extra,  # type: ignore[arg-type]
    )


def session(sid: str, rg: int, account_id: int, **kw: object) -> SessionRow:
    fields: dict[str, object] = {
        "state": "open",
        "request_number": 0,
        "origin_host": "pgw1.example",
        "expires_at_us": 10,
    }
    fields.update(kw)
    return SessionRow(sid, rg, account_id, **fields)  # type: ignore[arg-type]


def test_batches_are_acked_after_commit_with_every_column(engine: Engine, seeded: Seeded) -> None:
    a = seeded.account_ids[0]
    full = Posting(1, a, PostingKind.RESERVE, 0, 250, None, "sess;1", 32, 1234, "ccr-1", False)
    over = Posting(2, a, PostingKind.COMMIT, -300, -250, None, "sess;1", 32, 1235, "ccr-2", True)
    infos: list[CommitInfo] = []
    with GroupCommitWriter(engine, on_commit=infos.append) as writer:
        t1 = writer.submit(WriteBatch(postings=[full]))
        t2 = writer.submit(WriteBatch(postings=[over]))
        assert completed([t1, t2], timeout=10)
        assert writer.state is WriterState.HEALTHY
        assert writer.queued_rows == 0
    assert t1.result().postings >= 1
    assert t2.error() is None
    assert sum(i.submissions for i in infos) == 2
    assert writer.stats.postings == 2
    assert all(i.commit_s > 0 and i.ack_s >= i.commit_s for i in infos)
    with read_transaction(engine) as conn:
        rows = conn.execute(select(postings).order_by(postings.c.posting_id)).all()
        account = queries.get_account(conn, a)
    assert [tuple(r) for r in rows] == [
        (1, a, "reserve", 0, 250, None, "sess;1", 32, 1234, "ccr-1", False),
        (2, a, "commit", -300, -250, None, "sess;1", 32, 1235, "ccr-2", True),
    ]
    assert (account.balance, account.reserved) == (-300, 0)  # an overrun may go below zero


def test_balances_equal_the_sum_of_postings_after_many_concurrent_batches(
    engine: Engine, seeded: Seeded
) -> None:
    with write_transaction(engine) as conn:
        buckets = [
            queries.create_bucket(
                conn,
                account_id=a,
                kind=BucketKind.DATA,
                units=10_000_000,
                valid_from_us=0,
                valid_until_us=2**62,
            ).bucket_id
            for a in seeded.account_ids
        ]
    expected: dict[tuple[int, int | None], int] = {}
    lock = threading.Lock()
    next_id = iter(range(1, 10**9))

    def producer(seed: int, tickets: list[Ticket]) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            batch = []
            for _ in range(rng.randint(1, 50)):
                i = rng.randrange(len(seeded.account_ids))
                account, bucket = seeded.account_ids[i], rng.choice([None, buckets[i]])
                amount = rng.randint(-5_000, 5_000)
                with lock:  # the ledger's posting counter is one sequence
                    batch.append(
                        posting(
                            next(next_id),
                            account,
                            amount,
                            bucket_id=bucket,
                            kind=PostingKind.ADJUST,
                        )
                    )
                    expected[account, bucket] = expected.get((account, bucket), 0) + amount
            tickets.append(writer.submit(WriteBatch(postings=batch)))

    per_thread: list[list[Ticket]] = [[], [], []]
    with GroupCommitWriter(engine) as writer:
        threads = [threading.Thread(target=producer, args=(n, t)) for n, t in enumerate(per_thread)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert completed([t for ts in per_thread for t in ts], timeout=30)
    assert writer.stats.groups < writer.stats.submissions  # it did group
    with read_transaction(engine) as conn:
        assert queries.verify_balances(conn) == []
        for i, account_id in enumerate(seeded.account_ids):
            account = queries.get_account(conn, account_id)
            assert account.balance == expected.get((account_id, None), 0)
            bucket = queries.get_buckets(conn, account_id)[0]
            assert bucket.remaining == 10_000_000 + expected.get((account_id, buckets[i]), 0)


def test_sessions_are_upserted_and_deleted_in_submission_order(
    engine: Engine, seeded: Seeded
) -> None:
    a = seeded.account_ids[0]
    writer = GroupCommitWriter(engine)
    # Submitted before start(): all of these form ONE group, exercising the collapse.
    writer.submit(
        WriteBatch(
            sessions=[session("s1", 1, a), session("s1", 2, a), session("s2", NO_RATING_GROUP, a)]
        )
    )
    writer.submit(
        WriteBatch(
            sessions=[session("s1", 1, a, request_number=1, reserved=7)],
            closed=[SessionKey("s1", 2)],
        )
    )
    writer.submit(WriteBatch(closed=[SessionKey("s2")]))
    writer.submit(WriteBatch(sessions=[session("s2", 5, a)]))  # reopened after the delete
    writer.submit(WriteBatch(sessions=[session("s3", 1, a)], closed=[SessionKey("s3")]))
    writer.start()
    assert writer.flush(timeout=10)
    assert writer.stats.groups == 1
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(
                cc_sessions.c.session_id,
                cc_sessions.c.rating_group,
                cc_sessions.c.request_number,
                cc_sessions.c.reserved,
            ).order_by(cc_sessions.c.session_id)
        ).all()
    assert [tuple(r) for r in rows] == [("s1", 1, 1, 7), ("s2", 5, 0, 0)]
    writer.close()
    with write_transaction(engine) as conn:  # the same operations one by one agree
        conn.execute(cc_sessions.delete())
        raw = conn.connection.dbapi_connection
        assert raw is not None
        sql, cur = Statements(engine.dialect.name), raw.cursor()
        sql.apply(cur, [WriteBatch(sessions=[session("s1", 1, a)])], [])
        sql.apply(cur, [WriteBatch(closed=[SessionKey("s1")])], [])
        assert conn.execute(select(cc_sessions)).all() == []


def test_cursors_advance_with_the_batch_and_never_move_back(engine: Engine, seeded: Seeded) -> None:
    from storage.events import get_cursor

    with GroupCommitWriter(engine) as writer:
        writer.submit(WriteBatch(cursors=[("ocs", 5), ("ocs", 9)])).wait(10)
        writer.submit(WriteBatch(cursors=[("ocs", 3), ("dispatcher", 2)])).wait(10)
    with read_transaction(engine) as conn:
        assert get_cursor(conn, "ocs") == 9
        assert get_cursor(conn, "dispatcher") == 2


def test_a_bad_submission_fails_alone_and_the_rest_of_its_group_commits(
    engine: Engine, seeded: Seeded
) -> None:
    a, b = seeded.account_ids[:2]
    writer = GroupCommitWriter(engine)
    good1 = writer.submit(WriteBatch(postings=[posting(1, a, -10)]))
    bad = writer.submit(WriteBatch(postings=[posting(2, 999_999, -10)]))  # unknown account
    negative = writer.submit(WriteBatch(postings=[posting(3, b, 0, -5)]))  # reserved < 0
    good2 = writer.submit(WriteBatch(postings=[posting(4, b, -20)]))
    writer.start()
    assert completed([good1, bad, negative, good2], timeout=10)
    writer.close()
    assert isinstance(bad.error(), BatchRejected)
    assert isinstance(negative.error(), BatchRejected)
    assert good1.error() is None
    assert good2.error() is None
    assert writer.stats.rejected == 2
    with read_transaction(engine) as conn:
        assert conn.execute(select(postings.c.posting_id)).scalars().all() == [1, 4]
        assert queries.verify_balances(conn) == []


def test_a_replayed_posting_id_is_never_charged_twice(engine: Engine, seeded: Seeded) -> None:
    a = seeded.account_ids[0]
    batch = WriteBatch(postings=[posting(1, a, -100), posting(2, a, -50)])
    with GroupCommitWriter(engine) as writer:
        assert writer.submit(batch).wait(10)
        again = writer.submit(batch)  # a replay is refused by the primary key
        assert again.wait(10)
    assert isinstance(again.error(), BatchRejected)
    # After a COMMIT whose outcome was unknown, the writer looks before re-applying.
    writer = GroupCommitWriter(engine)
    ticket = Ticket()
    from storage.writer import _Item

    info = writer._commit([_Item(batch, ticket, 0.0)], attempts=2, check_first=True)
    writer._drop_connection()
    assert info.postings == 2
    assert info.attempts == 2
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, a).balance == -150
        assert queries.verify_balances(conn) == []


def test_tickets_complete_once_and_late_callbacks_run_at_once(
    engine: Engine, seeded: Seeded
) -> None:
    calls: list[tuple[str, bool]] = []
    with GroupCommitWriter(engine) as writer:
        ticket = writer.submit(WriteBatch(postings=[posting(1, seeded.account_ids[0], -1)]))
        ticket.add_done_callback(lambda t: calls.append(("early", t.done())))
        assert ticket.wait(10)
        ticket.add_done_callback(lambda t: calls.append(("late", t.done())))
    assert sorted(calls) == [("early", True), ("late", True)]
    try:
        writer.submit(WriteBatch())
    except WriterClosed:
        pass
    else:
        raise AssertionError("submit after close must raise WriterClosed")


async def test_a_trio_task_awaits_a_ticket_without_blocking_the_loop(
    engine: Engine, seeded: Seeded
) -> None:
    # The boundary the OCS uses (storage.ticket docstring): storage never imports trio.
    token = trio.lowlevel.current_trio_token()
    with GroupCommitWriter(engine) as writer:
        ticket = writer.submit(WriteBatch(postings=[posting(1, seeded.account_ids[0], -1)]))
        done = trio.Event()
        ticket.add_done_callback(lambda _t: token.run_sync_soon(done.set))
        with trio.fail_after(10):
            await done.wait()
        assert ticket.result().postings == 1
