"""The ledger: each operation and its edges, then a stateful Hypothesis machine.

The machine drives several accounts (prepaid and postpaid, with and without buckets) and
colliding sessions through arbitrary interleavings of reserve/commit/release/adjust and
checks the invariants of ``ocs/ledger.py`` after every step; at the end it replays the
journal on the opening snapshot and expects the same book (the recovery path).
"""

from __future__ import annotations

from typing import TypedDict

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from ocs.buckets import Bucket
from ocs.ledger import (
    Account,
    Ledger,
    LedgerError,
    PriceOf,
    UnitsFor,
    UnknownAccount,
    UnknownReservation,
    new_posting,
)
from storage.records import AccountStatus, BucketKind, Posting, PostingKind

OCTETS, SECONDS, EVENTS = BucketKind.DATA, BucketKind.VOICE, BucketKind.SMS
RESERVE, RELEASE, COMMIT, ADJUST = (
    PostingKind.RESERVE,
    PostingKind.RELEASE,
    PostingKind.COMMIT,
    PostingKind.ADJUST,
)


def price_of(units: int) -> int:
    """7 micros per started block of 10 units (a charging increment, rounded up)."""
    return -(-units // 10) * 7


def units_for(budget: int) -> int:
    return budget // 7 * 10


class Pricing(TypedDict):
    price_of: PriceOf
    units_for: UnitsFor


UNITS: Pricing = {"price_of": price_of, "units_for": units_for}


def book(*accounts: Account, next_posting_id: int = 1) -> Ledger:
    ledger = Ledger(next_posting_id=next_posting_id)
    ledger.load(accounts)
    return ledger


def money(postings: list[Posting]) -> list[Posting]:
    return [p for p in postings if p.bucket_id is None]


# -- money fast path -------------------------------------------------------------------


def test_reserve_then_commit_money_produces_exact_postings() -> None:
    ledger = book(Account(1, balance=1_000_000), next_posting_id=41)
    held = ledger.reserve_money(1, "s", 7, 300_000, now_us=5, cause="s/1/0")
    assert held == [Posting(41, 1, RESERVE, 0, 300_000, None, "s", 7, 5, "s/1/0")]
    assert ledger.available(1) == 700_000
    charged = ledger.commit_money("s", 7, 120_000, now_us=6)
    assert charged == [Posting(42, 1, COMMIT, -120_000, -300_000, None, "s", 7, 6)]
    account = ledger.account(1)
    assert (account.balance, account.reserved, ledger.available(1)) == (880_000, 0, 880_000)
    assert ledger.reservation("s", 7) is None
    assert ledger.next_posting_id == 43


def test_zero_wanted_grants_nothing_and_opens_no_hold() -> None:
    ledger = book(Account(1, balance=100))
    assert ledger.reserve_money(1, "s", 1, 0, now_us=0) == []
    assert ledger.reserve(1, "s", 1, 0, unit_kind=OCTETS, now_us=0, **UNITS) == []
    assert ledger.reservation("s", 1) is None
    with pytest.raises(ValueError, match="negative"):
        ledger.reserve_money(1, "s", 1, -1, now_us=0)


def test_unknown_account_and_unknown_key() -> None:
    ledger = book(Account(1, balance=100))
    with pytest.raises(UnknownAccount):
        ledger.reserve_money(2, "s", 1, 10, now_us=0)
    with pytest.raises(UnknownReservation):
        ledger.commit_money("nope", 1, 10, now_us=0)
    with pytest.raises(UnknownReservation):
        ledger.commit("nope", 1, 10, unit_kind=OCTETS, price_of=price_of, now_us=0)
    assert ledger.release("nope", 1, now_us=0) == []  # Tcc expiry after CCR-T: harmless
    assert ledger.next_posting_id == 1


def test_double_reserve_on_one_key_tops_up_the_hold() -> None:
    ledger = book(Account(1, balance=100), Account(2, balance=100))
    ledger.reserve_money(1, "s", 1, 30, now_us=0)
    again = ledger.reserve_money(1, "s", 1, 50, now_us=0)
    assert [p.reserved for p in again] == [50]
    hold = ledger.reservation("s", 1)
    assert hold is not None and hold.micros == 80
    assert ledger.account(1).reserved == 80
    with pytest.raises(LedgerError, match="held by account 1"):
        ledger.reserve_money(2, "s", 1, 10, now_us=0)
    assert ledger.account(2).reserved == 0
    (closing,) = ledger.commit_money("s", 1, 10, now_us=0)
    assert (closing.amount, closing.reserved) == (-10, -80)


def test_commit_without_a_reservation_is_still_charged_as_an_overrun() -> None:
    # A CCR-T whose CCR-I was lost: the service was used, so it is charged.
    ledger = book(Account(1, balance=100))
    (p,) = ledger.commit_money("s", 1, 40, now_us=0, account_id=1)
    assert (p.kind, p.amount, p.reserved, p.overrun) == (COMMIT, -40, 0, True)
    assert ledger.account(1).balance == 60
    (u,) = ledger.commit("t", 1, 25, unit_kind=OCTETS, price_of=price_of, now_us=0, account_id=1)
    assert (u.amount, u.overrun) == (-21, True)


def test_commit_more_than_held_overdraws_and_the_next_grant_fails() -> None:
    ledger = book(Account(1, balance=100))
    ledger.reserve_money(1, "s", 1, 100, now_us=0)
    (p,) = ledger.commit_money("s", 1, 130, now_us=0)
    assert (p.amount, p.reserved, p.overrun) == (-130, -100, True)
    assert ledger.available(1) == -30
    assert ledger.reserve_money(1, "s", 1, 10, now_us=0) == []
    assert ledger.reserve(1, "s", 1, 10, unit_kind=OCTETS, now_us=0, **UNITS) == []
    ledger.adjust(1, 50, "topup-1", now_us=0)
    assert [p.reserved for p in ledger.reserve_money(1, "s", 1, 100, now_us=0)] == [20]


def test_commit_less_than_held_frees_the_rest_in_the_same_posting() -> None:
    ledger = book(Account(1, balance=100))
    ledger.reserve_money(1, "s", 1, 60, now_us=0)
    (p,) = ledger.commit_money("s", 1, 0, now_us=0)
    assert (p.amount, p.reserved, p.overrun) == (0, -60, False)
    assert ledger.available(1) == 100


def test_keep_rest_charges_from_the_hold_and_release_frees_the_remainder() -> None:
    ledger = book(Account(1, balance=100))
    ledger.reserve_money(1, "s", 1, 60, now_us=0)
    (p,) = ledger.commit_money("s", 1, 25, now_us=0, keep_rest=True)
    assert (p.amount, p.reserved) == (-25, -25)
    hold = ledger.reservation("s", 1)
    assert hold is not None and hold.micros == 35
    (r,) = ledger.release("s", 1, now_us=0)
    assert (r.kind, r.amount, r.reserved) == (RELEASE, 0, -35)
    account = ledger.account(1)
    assert (account.balance, account.reserved) == (75, 0)


def test_postpaid_goes_down_to_minus_its_credit_limit_and_no_further() -> None:
    ledger = book(Account(1, balance=50, credit_limit=200))
    assert ledger.account(1).floor == -200
    assert [p.reserved for p in ledger.reserve_money(1, "a", 1, 1_000, now_us=0)] == [250]
    assert ledger.reserve_money(1, "b", 1, 1, now_us=0) == []
    ledger.commit_money("a", 1, 250, now_us=0)
    assert ledger.account(1).balance == -200
    (p,) = ledger.commit_money("c", 1, 5, now_us=0, account_id=1)  # usage past the limit
    assert p.overrun and ledger.account(1).balance == -205


def test_blocked_account_gets_no_grant_but_used_service_is_charged() -> None:
    ledger = book(Account(1, balance=100, buckets=[Bucket(9, OCTETS, 1_000)]))
    ledger.reserve_money(1, "s", 1, 40, now_us=0)
    ledger.set_status(1, AccountStatus.BLOCKED)
    assert ledger.reserve_money(1, "t", 1, 10, now_us=0) == []
    assert ledger.reserve(1, "t", 1, 10, unit_kind=OCTETS, now_us=0, **UNITS) == []
    assert ledger.reserve_money(1, "s", 1, 10, now_us=0) == []  # no top-up either
    (p,) = ledger.commit_money("s", 1, 30, now_us=0)
    assert p.amount == -30 and ledger.account(1).balance == 70


# -- units: buckets first, then money ------------------------------------------------


def test_buckets_first_then_money_in_one_reserve_and_one_commit() -> None:
    bundle = Bucket(5, OCTETS, 100)
    ledger = book(Account(1, balance=1_000, buckets=[bundle]))
    held = ledger.reserve(1, "s", 1, 250, unit_kind=OCTETS, now_us=0, **UNITS)
    assert [(p.bucket_id, p.reserved) for p in held] == [(5, 100), (None, price_of(150))]
    hold = ledger.reservation("s", 1)
    assert hold is not None and (hold.granted, hold.units, hold.micros) == (250, 250, 105)
    charged = ledger.commit("s", 1, 180, unit_kind=OCTETS, price_of=price_of, now_us=1)
    assert [(p.bucket_id, p.amount, p.reserved) for p in charged] == [
        (5, -100, -100),
        (None, -price_of(80), -105),
    ]
    assert not any(p.overrun for p in charged)
    assert bundle.balance == 0 and bundle.reserved == 0
    assert ledger.account(1).balance == 1_000 - 56


def test_money_grant_is_sized_by_units_for_when_the_headroom_is_short() -> None:
    ledger = book(Account(1, balance=30))
    ledger.reserve(1, "s", 1, 1_000, unit_kind=OCTETS, now_us=0, **UNITS)
    hold = ledger.reservation("s", 1)
    assert hold is not None and (hold.granted, hold.micros) == (40, 28)


def test_expired_and_not_yet_valid_buckets_are_skipped() -> None:
    gone = Bucket(1, OCTETS, 100, priority=0, valid_until_us=100)
    future = Bucket(2, OCTETS, 100, priority=0, valid_from_us=500)
    live = Bucket(3, OCTETS, 100, priority=9, valid_from_us=0, valid_until_us=1_000)
    ledger = book(Account(1, balance=0, buckets=[gone, future, live]))
    held = ledger.reserve(1, "s", 1, 150, unit_kind=OCTETS, now_us=100, **UNITS)
    assert [(p.bucket_id, p.reserved) for p in held] == [(3, 100)]
    hold = ledger.reservation("s", 1)
    assert hold is not None and hold.granted == 100  # prepaid at 0: money buys nothing


def test_priority_order_then_soonest_expiry() -> None:
    a = Bucket(1, OCTETS, 10, priority=2)
    b = Bucket(2, OCTETS, 10, priority=1, valid_until_us=900)
    c = Bucket(3, OCTETS, 10, priority=1, valid_until_us=300)
    ledger = book(Account(1, balance=0, buckets=[a, b, c]))
    held = ledger.reserve(1, "s", 1, 25, unit_kind=OCTETS, now_us=0, **UNITS)
    assert [(p.bucket_id, p.reserved) for p in held] == [(3, 10), (2, 10), (1, 5)]


def test_bucket_applicability_by_rating_group_and_unit_kind() -> None:
    video = Bucket(1, OCTETS, 50, rating_groups=[10])
    voice = Bucket(2, SECONDS, 50)
    ledger = book(Account(1, balance=0, buckets=[video, voice]))
    assert ledger.reserve(1, "s", 20, 10, unit_kind=OCTETS, now_us=0, **UNITS) == []
    held = ledger.reserve(1, "s", 10, 10, unit_kind=OCTETS, now_us=0, **UNITS)
    assert [p.bucket_id for p in held] == [1]


def test_commit_charges_a_held_bucket_even_after_it_expired() -> None:
    short = Bucket(1, OCTETS, 100, valid_until_us=10)
    ledger = book(Account(1, balance=1_000, buckets=[short]))
    ledger.reserve(1, "s", 1, 60, unit_kind=OCTETS, now_us=0, **UNITS)
    charged = ledger.commit("s", 1, 80, unit_kind=OCTETS, price_of=price_of, now_us=50)
    # the 60 granted come from the bucket; the 20 past the grant are money (bucket expired)
    assert [(p.bucket_id, p.amount, p.reserved, p.overrun) for p in charged] == [
        (1, -60, -60, False),
        (None, -14, 0, True),
    ]


def test_commit_past_the_bucket_hold_takes_its_free_units_then_other_buckets() -> None:
    first = Bucket(1, OCTETS, 100, priority=0)
    second = Bucket(2, OCTETS, 100, priority=1)
    ledger = book(Account(1, balance=1_000, buckets=[first, second]))
    ledger.reserve(1, "s", 1, 30, unit_kind=OCTETS, now_us=0, **UNITS)
    charged = ledger.commit("s", 1, 150, unit_kind=OCTETS, price_of=price_of, now_us=0)
    assert [(p.bucket_id, p.amount, p.reserved) for p in charged] == [(1, -100, -30), (2, -50, 0)]
    assert ledger.account(1).balance == 1_000


def test_free_units_are_granted_without_a_posting() -> None:
    ledger = book(Account(1, balance=0, credit_limit=10))
    assert (
        ledger.reserve(
            1,
            "s",
            1,
            500,
            unit_kind=EVENTS,
            price_of=lambda u: 0,
            units_for=lambda b: 10**12,
            now_us=0,
        )
        == []
    )
    hold = ledger.reservation("s", 1)
    assert hold is not None and hold.granted == 500


def test_commit_money_on_a_unit_hold_frees_its_bucket_units() -> None:
    bundle = Bucket(1, OCTETS, 100)
    ledger = book(Account(1, balance=100, buckets=[bundle]))
    ledger.reserve(1, "s", 1, 40, unit_kind=OCTETS, now_us=0, **UNITS)
    charged = ledger.commit_money("s", 1, 5, now_us=0)
    assert [(p.bucket_id, p.amount, p.reserved) for p in charged] == [(1, 0, -40), (None, -5, 0)]
    assert bundle.reserved == 0


def test_a_bad_price_changes_nothing() -> None:
    bundle = Bucket(1, OCTETS, 10)
    ledger = book(Account(1, balance=100, buckets=[bundle]))
    with pytest.raises(LedgerError, match="units_for"):
        ledger.reserve(
            1,
            "s",
            1,
            1_000,
            unit_kind=OCTETS,
            price_of=price_of,
            units_for=lambda b: b * 1_000,
            now_us=0,
        )

    def broken(units: int) -> int:
        raise RuntimeError("tariff missing")

    with pytest.raises(RuntimeError):
        ledger.reserve(
            1, "s", 1, 1_000, unit_kind=OCTETS, price_of=broken, units_for=units_for, now_us=0
        )
    assert (bundle.reserved, ledger.account(1).reserved, ledger.next_posting_id) == (0, 0, 1)
    assert ledger.reservation("s", 1) is None


# -- adjust, recovery -----------------------------------------------------------------


def test_adjust_is_idempotent_by_cause() -> None:
    ledger = book(Account(1, balance=0))
    (p,) = ledger.adjust(1, 500, "evt-9", now_us=3)
    assert p == Posting(1, 1, ADJUST, 500, 0, None, None, None, 3, "evt-9")
    assert ledger.adjust(1, 500, "evt-9", now_us=4) == []
    assert ledger.account(1).balance == 500 and ledger.has_applied("evt-9")
    ledger.forget_causes(["evt-9"])
    assert not ledger.has_applied("evt-9")


def test_a_debit_adjust_across_the_floor_is_a_recorded_overrun() -> None:
    ledger = book(Account(1, balance=100))
    assert not ledger.adjust(1, -60, "charge-1", now_us=0)[0].overrun
    assert ledger.adjust(1, -60, "charge-2", now_us=0)[0].overrun
    assert ledger.available(1) == -20


def test_bucket_adjust_cannot_take_a_bucket_below_its_holds() -> None:
    bundle = Bucket(4, SECONDS, 100)
    ledger = book(Account(1, balance=0, buckets=[bundle]))
    ledger.reserve(1, "s", 1, 70, unit_kind=SECONDS, now_us=0, **UNITS)
    with pytest.raises(LedgerError, match="held"):
        ledger.adjust(1, -40, "fix-1", now_us=0, bucket_id=4)
    assert not ledger.has_applied("fix-1")
    (p,) = ledger.adjust(1, -30, "fix-2", now_us=0, bucket_id=4)
    assert (p.bucket_id, p.amount) == (4, -30) and bundle.balance == 70


def test_new_posting_builds_an_equal_immutable_posting() -> None:
    built = new_posting(7, 1, COMMIT, -5, -9, 3, "s", 2, 11, "c", True)
    assert built == Posting(7, 1, COMMIT, -5, -9, 3, "s", 2, 11, "c", True)
    assert hash(built) == hash(Posting(7, 1, COMMIT, -5, -9, 3, "s", 2, 11, "c", True))
    with pytest.raises(AttributeError):
        built.amount = 0  # type: ignore[misc]


def test_loading_refuses_duplicates_and_restore_hold_rebuilds_a_hold() -> None:
    bundle = Bucket(3, OCTETS, 100)
    ledger = book(Account(1, balance=100, buckets=[bundle]))
    with pytest.raises(LedgerError, match="already loaded"):
        ledger.add_account(Account(1))
    ledger.restore_hold(1, "s", 1, micros=40, bucket_units={3: 25}, units=99)
    assert (ledger.account(1).reserved, bundle.reserved) == (40, 25)
    charged = ledger.commit("s", 1, 30, unit_kind=OCTETS, price_of=price_of, now_us=0)
    assert [(p.bucket_id, p.amount, p.reserved) for p in charged] == [(3, -30, -25), (None, 0, -40)]


def test_replay_of_the_journal_rebuilds_the_book() -> None:
    def opening() -> list[Account]:
        return [
            Account(1, balance=1_000, buckets=[Bucket(3, OCTETS, 100)]),
            Account(2, balance=0, credit_limit=500),
        ]

    live = book(*opening(), next_posting_id=10)
    journal = [
        *live.reserve(1, "s", 1, 300, unit_kind=OCTETS, now_us=0, **UNITS),
        *live.reserve_money(2, "t", 1, 200, now_us=0),
        *live.commit("s", 1, 50, unit_kind=OCTETS, price_of=price_of, now_us=0, keep_rest=True),
        *live.adjust(2, 75, "top-1", now_us=0),
    ]
    again = book(*opening(), next_posting_id=10)
    again.replay(journal)
    again.replay(journal[1:])  # an overlapping tail is skipped, not applied twice
    for a, b in zip(live.accounts(), again.accounts(), strict=True):
        assert (a.balance, a.reserved) == (b.balance, b.reserved)
        assert [(x.balance, x.reserved) for x in a.buckets] == [
            (x.balance, x.reserved) for x in b.buckets
        ]
    assert again.next_posting_id == live.next_posting_id and again.has_applied("top-1")
    hold = again.reservation("s", 1)
    assert hold is not None and hold.micros == 140
    more = again.commit("s", 1, 250, unit_kind=OCTETS, price_of=price_of, now_us=0)
    assert more[0].posting_id == live.next_posting_id


# -- the stateful machine -------------------------------------------------------------

#: (account id, opening balance, credit limit, buckets as (id, kind, units, priority, from,
#: until, rating groups))
SPECS: list[
    tuple[
        int,
        int,
        int | None,
        list[tuple[int, BucketKind, int, int, int, int | None, list[int] | None]],
    ]
] = [
    (1, 1_000, None, []),
    (
        2,
        500,
        None,
        [
            (10, OCTETS, 3_000, 0, 0, 100, None),
            (11, OCTETS, 2_000, 1, 0, None, [1]),
            (12, SECONDS, 1_000, 0, 0, None, None),
        ],
    ),
    (3, 0, 800, []),
    (4, 100, 300, [(20, OCTETS, 1_500, 0, 50, 200, None), (21, EVENTS, 50, 0, 0, None, [2])]),
]
BUCKET_IDS = [b[0] for spec in SPECS for b in spec[3]]


def opening_book() -> list[Account]:
    return [
        Account(
            aid,
            balance=balance,
            credit_limit=limit,
            buckets=[
                Bucket(
                    bid,
                    kind,
                    units,
                    priority=prio,
                    valid_from_us=start,
                    valid_until_us=end,
                    rating_groups=groups,
                )
                for bid, kind, units, prio, start, end, groups in buckets
            ],
        )
        for aid, balance, limit, buckets in SPECS
    ]


accounts_ = st.sampled_from([s[0] for s in SPECS])
sessions = st.sampled_from(["a", "b", "c"])
groups = st.sampled_from([1, 2])
kinds = st.sampled_from([OCTETS, OCTETS, SECONDS, EVENTS])  # octets: the most buckets
bucket_holders = st.sampled_from([1, 2, 2, 3, 4, 4])
statuses = st.sampled_from([AccountStatus.ACTIVE] * 3 + list(AccountStatus)[1:])
amounts = st.integers(0, 1_500)
causes = st.integers(0, 40).map(lambda n: f"evt-{n}")  # repeats happen, new ones keep coming


def usable_now(b: Bucket, group: int, kind: BucketKind, now: int) -> bool:
    """The machine's own reading of validity and applicability (not ``Bucket.usable``)."""
    in_window = b.valid_from_us <= now and (b.expires_us is None or now < b.expires_us)
    serves = b.rating_groups is None or group in b.rating_groups
    return in_window and serves and b.unit_kind is kind


class LedgerMachine(RuleBasedStateMachine):
    keys = Bundle("keys")  # (session, rating group) a reserve was asked for

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(next_posting_id=100)
        self.ledger.load(opening_book())
        self.opening = {a.account_id: a.balance for a in self.ledger.accounts()}
        self.bucket_opening = {
            b.bucket_id: b.balance for a in self.ledger.accounts() for b in a.buckets
        }
        self.journal: list[Posting] = []
        self.credits = dict.fromkeys(self.opening, 0)  # what adjusts added, from the model
        self.causes: set[str] = set()
        self.overran = dict.fromkeys(self.opening, False)
        self.now = 0

    def record(self, postings: list[Posting]) -> list[Posting]:
        self.journal.extend(postings)
        for p in postings:
            if p.overrun:
                self.overran[p.account_id] = True
        return postings

    def hold_of(self, key: tuple[str, int]) -> tuple[int | None, int, dict[int, int]]:
        """(owner, money held, units held per bucket id) of a key, before an operation."""
        hold = self.ledger.reservation(*key)
        if hold is None:
            return None, 0, {}
        return (
            hold.account.account_id,
            hold.micros,
            {b.bucket_id: n for b, n in (hold.buckets or {}).items()},
        )

    def bucket(self, bucket_id: int) -> Bucket:
        for acct in self.ledger.accounts():
            for b in acct.buckets:
                if b.bucket_id == bucket_id:
                    return b
        raise AssertionError(bucket_id)

    @rule(target=keys, account=accounts_, session=sessions, group=groups, micros=amounts)
    def reserve_money(self, account: int, session: str, group: int, micros: int) -> tuple[str, int]:
        acct = self.ledger.account(account)
        owner, _, _ = self.hold_of((session, group))
        if owner not in (None, account):
            with pytest.raises(LedgerError):
                self.ledger.reserve_money(account, session, group, micros, now_us=self.now)
            return session, group
        headroom, active = acct.headroom, acct.status is AccountStatus.ACTIVE
        got = self.record(
            self.ledger.reserve_money(account, session, group, micros, now_us=self.now)
        )
        expected = min(micros, max(0, headroom)) if active else 0
        assert sum(p.reserved for p in got) == expected
        assert all(p.kind is RESERVE and p.amount == 0 for p in got)
        return session, group

    @rule(
        target=keys,
        account=bucket_holders,
        session=sessions,
        group=groups,
        units=st.integers(0, 600),
        kind=kinds,
    )
    def reserve_units(
        self, account: int, session: str, group: int, units: int, kind: BucketKind
    ) -> tuple[str, int]:
        acct = self.ledger.account(account)
        owner, _, _ = self.hold_of((session, group))
        if owner not in (None, account):
            with pytest.raises(LedgerError):
                self.ledger.reserve(
                    account, session, group, units, unit_kind=kind, now_us=self.now, **UNITS
                )
            return session, group
        headroom, active = acct.headroom, acct.status is AccountStatus.ACTIVE
        usable = sum(b.available for b in acct.buckets if usable_now(b, group, kind, self.now))
        got = self.record(
            self.ledger.reserve(
                account, session, group, units, unit_kind=kind, now_us=self.now, **UNITS
            )
        )
        cash = sum(p.reserved for p in money(got))
        from_buckets = sum(p.reserved for p in got if p.bucket_id is not None)
        assert all(
            usable_now(self.bucket(p.bucket_id), group, kind, self.now)
            for p in got
            if p.bucket_id is not None
        )
        assert cash <= max(0, headroom)
        hold = self.ledger.reservation(session, group)
        granted = 0 if hold is None else hold.granted
        assert granted <= units
        if not active:
            assert got == [] and granted == 0
        else:  # buckets first: money only for what usable buckets could not cover
            assert from_buckets == min(units, usable)
            if cash:
                assert cash == price_of(granted - from_buckets)
        return session, group

    @rule(
        key=keys,
        account=accounts_,
        micros=st.integers(0, 400),
        keep_rest=st.booleans(),
        name_account=st.booleans(),
    )
    def commit_money(
        self, key: tuple[str, int], account: int, micros: int, keep_rest: bool, name_account: bool
    ) -> None:
        owner, held, _ = self.hold_of(key)
        payer = account if owner is None else owner
        got = self.record(
            self.ledger.commit_money(
                *key,
                micros,
                now_us=self.now,
                keep_rest=keep_rest,
                account_id=payer if owner is None or name_account else None,
            )
        )
        cash = money(got)
        assert -sum(p.amount for p in cash) == micros
        assert all(p.account_id == payer and p.kind is COMMIT for p in got)
        assert any(p.overrun for p in cash) == (micros > held)
        _, left, _ = self.hold_of(key)
        assert left == (held - min(micros, held) if keep_rest else 0)

    @rule(
        key=keys, account=accounts_, used=st.integers(0, 300), kind=kinds, keep_rest=st.booleans()
    )
    def commit_units(
        self, key: tuple[str, int], account: int, used: int, kind: BucketKind, keep_rest: bool
    ) -> None:
        owner, held, held_units = self.hold_of(key)
        payer = self.ledger.account(account if owner is None else owner)
        free = sum(b.available for b in payer.buckets if usable_now(b, key[1], kind, self.now))
        got = self.record(
            self.ledger.commit(
                *key,
                used,
                unit_kind=kind,
                price_of=price_of,
                now_us=self.now,
                keep_rest=keep_rest,
                account_id=account if owner is None else None,
            )
        )
        drawn = {p.bucket_id: -p.amount for p in got if p.bucket_id is not None}
        from_buckets = sum(drawn.values())
        charge = -sum(p.amount for p in money(got))
        # buckets first: what is held for the key, then whatever usable buckets have free
        assert from_buckets == min(used, sum(held_units.values()) + free)
        assert charge == price_of(used - from_buckets)  # every used unit is charged once
        assert any(p.overrun for p in got) == (charge > held)
        for bucket_id, units in drawn.items():  # past its hold, a bucket must be usable now
            if units > held_units.get(bucket_id, 0):
                assert usable_now(self.bucket(bucket_id), key[1], kind, self.now)
        _, left, left_units = self.hold_of(key)
        if keep_rest:
            assert left == held - min(charge, held)
            assert sum(left_units.values()) == sum(held_units.values()) - min(
                from_buckets, sum(held_units.values())
            )
        else:
            assert (left, left_units) == (0, {})

    @rule(
        account=accounts_,
        session=st.sampled_from(["x", "y"]),
        group=groups,
        used=st.integers(0, 300),
    )
    def commit_unreserved(self, account: int, session: str, group: int, used: int) -> None:
        # a CCR-T whose CCR-I never arrived
        self.commit_units((session, group), account, used, OCTETS, False)

    @rule(key=keys)
    def release(self, key: tuple[str, int]) -> None:
        _, held, held_units = self.hold_of(key)
        got = self.record(self.ledger.release(*key, now_us=self.now))
        assert all(p.kind is RELEASE and p.amount == 0 and p.reserved < 0 for p in got)
        assert -sum(p.reserved for p in money(got)) == held
        assert {p.bucket_id: -p.reserved for p in got if p.bucket_id is not None} == held_units
        assert self.ledger.reservation(*key) is None

    @rule(account=accounts_, amount=st.integers(-500, 1_500), cause=causes)
    def adjust(self, account: int, amount: int, cause: str) -> None:
        got = self.record(self.ledger.adjust(account, amount, cause, now_us=self.now))
        if cause in self.causes:
            assert got == []
        else:
            self.causes.add(cause)
            self.credits[account] += amount
            assert sum(p.amount for p in got) == amount

    @rule(bucket_id=st.sampled_from(BUCKET_IDS), amount=st.integers(-400, 400), cause=causes)
    def adjust_bucket(self, bucket_id: int, amount: int, cause: str) -> None:
        account = next(
            a.account_id
            for a in self.ledger.accounts()
            if any(b.bucket_id == bucket_id for b in a.buckets)
        )
        bucket = self.bucket(bucket_id)
        if cause not in self.causes and bucket.balance + amount < bucket.reserved:
            with pytest.raises(LedgerError):
                self.ledger.adjust(account, amount, cause, now_us=self.now, bucket_id=bucket_id)
            return
        got = self.record(
            self.ledger.adjust(account, amount, cause, now_us=self.now, bucket_id=bucket_id)
        )
        if cause in self.causes:
            assert got == []
        else:
            self.causes.add(cause)
            assert [(p.bucket_id, p.amount) for p in got] == (
                [(bucket_id, amount)] if amount else []
            )

    @rule(account=accounts_, status=statuses)
    def set_status(self, account: int, status: AccountStatus) -> None:
        self.ledger.set_status(account, status)

    @rule(dt=st.integers(0, 60))
    def tick(self, dt: int) -> None:
        self.now += dt  # buckets come into and go out of validity

    # -- invariants ---------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        holds = list(self.ledger.reservations())
        for acct in self.ledger.accounts():
            mine = [p for p in self.journal if p.account_id == acct.account_id]
            cash = money(mine)
            debits = -sum(p.amount for p in cash if p.kind is COMMIT)
            assert (
                acct.balance
                == self.opening[acct.account_id] + self.credits[acct.account_id] - debits
            )
            assert acct.balance - self.opening[acct.account_id] == sum(p.amount for p in cash)
            assert acct.reserved == sum(p.reserved for p in cash)
            assert acct.reserved == sum(h.micros for h in holds if h.account is acct)
            assert acct.available == acct.balance - acct.reserved

    @invariant()
    def buckets_are_conserved(self) -> None:
        holds = list(self.ledger.reservations())
        for acct in self.ledger.accounts():
            for b in acct.buckets:
                mine = [p for p in self.journal if p.bucket_id == b.bucket_id]
                assert b.balance == self.bucket_opening[b.bucket_id] + sum(p.amount for p in mine)
                assert b.reserved == sum(p.reserved for p in mine)
                assert b.reserved == sum((h.buckets or {}).get(b, 0) for h in holds)
                assert 0 <= b.reserved <= b.balance

    @invariant()
    def only_a_recorded_overrun_goes_below_the_floor(self) -> None:
        for acct in self.ledger.accounts():
            if acct.available >= acct.floor:
                self.overran[acct.account_id] = False  # back above: the next dip needs a new one
            else:
                assert self.overran[acct.account_id], acct

    @invariant()
    def postings_are_numbered_and_well_formed(self) -> None:
        ids = [p.posting_id for p in self.journal]
        assert ids == list(range(100, 100 + len(ids)))
        assert self.ledger.next_posting_id == 100 + len(ids)
        for p in self.journal:
            assert p.amount or p.reserved
            if p.kind is RESERVE:
                assert p.amount == 0 and p.reserved > 0
            elif p.kind is RELEASE:
                assert p.amount == 0 and p.reserved < 0
            elif p.kind is COMMIT:
                assert p.amount <= 0 and p.reserved <= 0
            else:
                assert p.reserved == 0 and p.session_id is None

    def teardown(self) -> None:
        # Recovery: the opening snapshot plus the journal is the same book.
        again = Ledger(next_posting_id=100)
        again.load(opening_book())
        again.replay(self.journal)
        for a, b in zip(self.ledger.accounts(), again.accounts(), strict=True):
            assert (a.balance, a.reserved) == (b.balance, b.reserved)
            assert [(x.balance, x.reserved) for x in a.buckets] == [
                (x.balance, x.reserved) for x in b.buckets
            ]
        live = {
            (h.session_id, h.rating_group): (
                h.micros,
                {k.bucket_id: v for k, v in (h.buckets or {}).items()},
            )
            for h in self.ledger.reservations()
            if h.micros or h.buckets
        }
        rebuilt = {
            (h.session_id, h.rating_group): (
                h.micros,
                {k.bucket_id: v for k, v in (h.buckets or {}).items()},
            )
            for h in again.reservations()
        }
        assert live == rebuilt
        assert again.next_posting_id == self.ledger.next_posting_id
        assert all(again.has_applied(p.cause) for p in self.journal if p.kind is ADJUST and p.cause)


TestLedgerMachine = LedgerMachine.TestCase
