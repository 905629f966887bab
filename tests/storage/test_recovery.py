"""load_state: what the OCS rebuilds its ledger from after a restart."""

from __future__ import annotations

from sqlalchemy import Engine

from storage import events, queries
from storage.db import read_transaction, write_transaction
from storage.records import (
    NO_RATING_GROUP,
    AccountStatus,
    BillingMode,
    BucketKind,
    Bundle,
    Posting,
    PostingKind,
    SessionKey,
    SessionRow,
    WriteBatch,
)
from storage.writer import GroupCommitWriter
from tests.storage.conftest import Seeded


def test_load_state_returns_balances_holds_buckets_sessions_and_counters(
    engine: Engine, seeded: Seeded
) -> None:
    a, b = seeded.account_ids[:2]
    with write_transaction(engine) as conn:
        bucket = queries.create_bucket(
            conn,
            account_id=a,
            kind=BucketKind.DATA,
            units=10**9,
            valid_from_us=0,
            valid_until_us=10**16,
            rating_group=32,
            priority=1,
        )
    with GroupCommitWriter(engine) as writer:
        writer.submit(
            WriteBatch(
                postings=[
                    Posting(1, a, PostingKind.ADJUST, 10_000_000, 0, cause="pay-1"),
                    Posting(2, a, PostingKind.RESERVE, 0, 2_000_000, None, "s1", 10),
                    Posting(3, a, PostingKind.RESERVE, 0, 5_000_000, bucket.bucket_id, "s1", 32),
                    Posting(4, b, PostingKind.RESERVE, 0, 1_000, None, "s2"),
                ],
                sessions=[
                    SessionRow(
                        "s1",
                        10,
                        a,
                        "open",
                        0,
                        "pgw1",
                        reserved=2_000_000,
                        granted_units=600,
                        expires_at_us=99,
                    ),
                    SessionRow(
                        "s1",
                        32,
                        a,
                        "open",
                        0,
                        "pgw1",
                        bucket_id=bucket.bucket_id,
                        bucket_reserved=5_000_000,
                        expires_at_us=99,
                    ),
                    SessionRow(
                        "s2",
                        NO_RATING_GROUP,
                        b,
                        "open",
                        3,
                        "mme2",
                        reserved=1_000,
                        expires_at_us=77,
                    ),
                ],
                cursors=[("ocs", 4)],
            )
        ).wait(10)
        # CCR-T of s2: commit 800 of the 1 000 held, drop the session row
        writer.submit(
            WriteBatch(
                postings=[Posting(5, b, PostingKind.COMMIT, -800, -1_000, None, "s2")],
                closed=[SessionKey("s2")],
            )
        ).wait(10)
    with read_transaction(engine) as conn:
        state = queries.load_state(conn)
    by_id = {acc.account_id: acc for acc in state.accounts}
    assert (by_id[a].balance, by_id[a].reserved) == (10_000_000, 2_000_000)
    assert (by_id[b].balance, by_id[b].reserved) == (-800, 0)
    assert by_id[a].billing_mode is BillingMode.PREPAID
    assert by_id[a].status is AccountStatus.ACTIVE
    assert by_id[a].currency == "EUR"
    [loaded_bucket] = state.buckets
    assert (loaded_bucket.remaining, loaded_bucket.reserved) == (10**9, 5_000_000)
    assert loaded_bucket.rating_group == 32
    assert [
        (s.session_id, s.rating_group, s.reserved, s.bucket_id, s.bucket_reserved)
        for s in state.sessions
    ] == [("s1", 10, 2_000_000, None, 0), ("s1", 32, 0, bucket.bucket_id, 5_000_000)]
    assert state.sessions[0].granted_units == 600
    assert state.max_posting_id == 5
    assert state.cursors == {"ocs": 4}


def test_an_empty_database_loads_as_empty(engine: Engine) -> None:
    with read_transaction(engine) as conn:
        state = queries.load_state(conn)
    assert (state.accounts, state.buckets, state.sessions) == ([], [], [])
    assert (state.max_posting_id, state.cursors) == (0, {})


def test_catalog_round_trips(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        customer = queries.create_customer(
            conn,
            name="Corp",
            currency="EUR",
            billing_mode=BillingMode.POSTPAID,
            credit_limit=50_000_000,
            tax_class="business",
        )
        product = queries.create_product(
            conn,
            name="unlimited",
            tariff_plan="flat",
            currency="EUR",
            recurring_fee=19_990_000,
            bundles=[
                Bundle(BucketKind.DATA, 10 * 2**30, 32, priority=1),
                Bundle(BucketKind.SMS, 100),
            ],
        )
        account, created = events.create_account(
            conn,
            msisdn="491511234567",
            imsi="262011234567890",
            customer_id=customer.customer_id,
            product_id=product.product_id,
            idempotency_key="signup-1",
        )
        again, replay = events.create_account(
            conn,
            msisdn="491511234567",
            customer_id=customer.customer_id,
            product_id=product.product_id,
            idempotency_key="signup-1",
        )
    assert created.created
    assert not replay.created
    assert again == account
    with read_transaction(engine) as conn:
        assert queries.get_customer(conn, customer.customer_id) == customer
        assert queries.get_product(conn, name="unlimited") == product
        assert queries.get_account_by_imsi(conn, "262011234567890") == account
        loaded = queries.get_account_by_msisdn(conn, "491511234567")
    assert loaded.billing_mode is BillingMode.POSTPAID
    assert loaded.credit_limit == 50_000_000
