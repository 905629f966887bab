"""Account events (the outbox): idempotency, cursors, ordering, and top-ups through the OCS."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, func, select

from storage import events, queries
from storage.db import read_transaction, write_transaction
from storage.errors import IdempotencyConflict, InvalidRequest, NotFound
from storage.records import (
    MONEY_EVENTS,
    AccountStatus,
    EventKind,
    Posting,
    PostingKind,
    WriteBatch,
)
from storage.schema import account_events, postings
from storage.writer import GroupCommitWriter
from tests.storage.conftest import Seeded


def test_a_repeated_top_up_key_is_a_no_op_returning_the_original(
    engine: Engine, seeded: Seeded
) -> None:
    msisdn = seeded.msisdns[0]
    with write_transaction(engine) as conn:
        first = events.topup(conn, msisdn, 10_000_000, "pay-1")
    with write_transaction(engine) as conn:
        again = events.topup(conn, msisdn, 10_000_000, "pay-1")
        assert again.event == first.event
        assert first.created
        assert not again.created
        with pytest.raises(IdempotencyConflict, match="pay-1"):
            events.topup(conn, msisdn, 20_000_000, "pay-1")
        with pytest.raises(IdempotencyConflict):
            events.adjust(conn, msisdn, 10_000_000, "pay-1", reason="same key, other kind")
    with read_transaction(engine) as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(account_events)
                .where(account_events.c.kind == "topup")
            ).scalar()
            == 1
        )
        # The event is all a top-up writes: the OCS owns the balance and applies it.
        account = queries.get_account(conn, seeded.account_ids[0])
        assert account.balance == 0
        assert events.pending_amount(conn, account.account_id) == 10_000_000


def test_invalid_changes_are_refused_and_write_nothing(engine: Engine, seeded: Seeded) -> None:
    msisdn = seeded.msisdns[0]
    with write_transaction(engine) as conn:
        with pytest.raises(InvalidRequest):
            events.topup(conn, msisdn, 0, "zero")
        with pytest.raises(NotFound):
            events.topup(conn, "4900000", 1, "nobody")
        with pytest.raises(InvalidRequest, match="already active"):
            events.set_status(conn, msisdn, AccountStatus.ACTIVE, "noop")
        with pytest.raises(InvalidRequest):
            events.import_charge(conn, msisdn, -5, "neg", reference="cdr-1")


def test_status_and_product_changes_update_the_account_with_their_event(
    engine: Engine, seeded: Seeded
) -> None:
    msisdn = seeded.msisdns[1]
    with write_transaction(engine) as conn:
        blocked = events.set_status(
            conn, msisdn, AccountStatus.BLOCKED, "blk-1", reason="fraud check"
        )
        assert events.set_status(conn, msisdn, AccountStatus.BLOCKED, "blk-1").created is False
        events.set_status(conn, msisdn, AccountStatus.ACTIVE, "unblk-1")
        queries.create_product(conn, name="gold", tariff_plan="gold", currency="EUR")
        events.change_product(conn, msisdn, "gold", "prod-1")
        events.set_status(conn, msisdn, AccountStatus.CLOSED, "close-1")
        with pytest.raises(InvalidRequest, match="closed"):
            events.set_status(conn, msisdn, AccountStatus.ACTIVE, "reopen")
        with pytest.raises(InvalidRequest, match="closed"):
            events.topup(conn, msisdn, 5, "late-topup")
    assert blocked.event.kind is EventKind.BLOCKED
    assert '"fraud check"' in blocked.event.payload
    with read_transaction(engine) as conn:
        account = queries.get_account_by_msisdn(conn, msisdn)
        assert account.status is AccountStatus.CLOSED
        assert queries.get_product(conn, product_id=account.product_id).name == "gold"
        kinds = [e.kind for e in events.read_events(conn, 0) if e.account_id == account.account_id]
    assert kinds == [
        EventKind.CREATED,
        EventKind.BLOCKED,
        EventKind.UNBLOCKED,
        EventKind.PRODUCT_CHANGED,
        EventKind.CLOSED,
    ]


def test_each_consumer_applies_each_event_once_with_its_own_cursor(
    engine: Engine, seeded: Seeded
) -> None:
    with write_transaction(engine) as conn:
        for i in range(5):
            events.topup(conn, seeded.msisdns[0], 1_000_000, f"t{i}")
    applied: dict[str, list[int]] = {"dispatcher": [], "audit": []}

    def consume(consumer: str, limit: int) -> None:
        # The consumer's effect and its cursor commit together (here: just the cursor).
        with write_transaction(engine) as conn:
            batch = events.read_events(conn, events.get_cursor(conn, consumer), limit)
            applied[consumer] += [e.event_id for e in batch]
            if batch:
                events.advance_cursor(conn, consumer, batch[-1].event_id)

    for _ in range(4):
        consume("dispatcher", 3)
    consume("audit", 100)
    consume("audit", 100)
    with read_transaction(engine) as conn:
        all_ids = [e.event_id for e in events.read_events(conn, 0, 1000)]
        assert events.advance_cursor(conn, "audit", 1) == all_ids[-1]  # never moves back
    assert applied["dispatcher"] == all_ids == applied["audit"]


def test_event_ids_are_in_commit_order_so_no_consumer_skips_one(
    engine: Engine, seeded: Seeded
) -> None:
    # Without the outbox lock, a transaction that started later could commit a larger
    # id first, and a consumer advancing past it would never see the smaller one.
    second: list[int] = []

    def later_writer() -> None:
        with write_transaction(engine) as conn:
            second.append(events.topup(conn, seeded.msisdns[0], 2, "second").event.event_id)

    with write_transaction(engine) as conn:
        first = events.topup(conn, seeded.msisdns[0], 1, "first").event.event_id
        thread = threading.Thread(target=later_writer)
        thread.start()
        time.sleep(0.3)  # give it every chance to overtake; it must wait for our COMMIT
        assert second == []
    thread.join(10)
    assert second
    assert second[0] > first


def ocs_apply_pending_events(
    engine: Engine,
    writer: GroupCommitWriter,
    next_posting: int,
    *,
    crash_before_submit: bool = False,
) -> int:
    """What the OCS does with money events (storage.events docstring): one ADJUST posting
    per event, submitted with the cursor advance, so both commit or neither does."""
    with read_transaction(engine) as conn:
        state = queries.load_state(conn)
        pending = events.read_events(conn, state.cursors.get(events.OCS_CONSUMER, 0))
    batch = [
        Posting(
            next_posting + i,
            e.account_id,
            PostingKind.ADJUST,
            e.amount or 0,
            0,
            cause=e.idempotency_key,
        )
        for i, e in enumerate(pending)
        if e.kind in MONEY_EVENTS
    ]
    if crash_before_submit or not pending:
        return len(batch)
    ticket = writer.submit(
        WriteBatch(postings=batch, cursors=[(events.OCS_CONSUMER, pending[-1].event_id)])
    )
    assert ticket.wait(10)
    assert ticket.error() is None
    return len(batch)


def test_top_ups_are_applied_exactly_once_across_ocs_crashes(
    engine: Engine, seeded: Seeded
) -> None:
    msisdn, account_id = seeded.msisdns[0], seeded.account_ids[0]
    with write_transaction(engine) as conn:
        events.topup(conn, msisdn, 5_000_000, "pay-1")
        events.topup(conn, msisdn, 7_000_000, "pay-2")
    with GroupCommitWriter(engine) as writer:  # first OCS run applies both
        ocs_apply_pending_events(engine, writer, 1)
    with write_transaction(engine) as conn:
        events.topup(conn, msisdn, 11_000_000, "pay-3")
        events.topup(conn, msisdn, 11_000_000, "pay-3")  # the CLI retried: a no-op
        events.import_charge(conn, msisdn, 2_000_000, "cdr-9", reference="file-1:9")
    with GroupCommitWriter(engine) as writer:  # second run reads them, crashes unsent
        assert ocs_apply_pending_events(engine, writer, 3, crash_before_submit=True) == 2
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, account_id).balance == 12_000_000
        assert events.pending_amount(conn, account_id) == 9_000_000
    for _ in range(2):  # third run applies them; a fourth finds nothing left to apply
        with read_transaction(engine) as conn:
            start = queries.load_state(conn).max_posting_id + 1
        with GroupCommitWriter(engine) as writer:
            ocs_apply_pending_events(engine, writer, start)
    with read_transaction(engine) as conn:
        assert queries.get_account(conn, account_id).balance == 21_000_000
        assert events.pending_amount(conn, account_id) == 0
        assert queries.verify_balances(conn) == []
        causes = conn.execute(select(postings.c.cause).order_by(postings.c.posting_id))
        assert causes.scalars().all() == ["pay-1", "pay-2", "pay-3", "cdr-9"]
