"""Unit buckets: consumption order, validity windows, applicability, and ``plan_take``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.buckets import (
    NEVER_US,
    Bucket,
    consumption_order,
    plan_take,
    usable_buckets,
    with_bucket,
)
from storage.records import BucketKind

OCTETS, SECONDS, EVENTS = BucketKind.DATA, BucketKind.VOICE, BucketKind.SMS


def ids(buckets: list[Bucket] | tuple[Bucket, ...]) -> list[int]:
    return [b.bucket_id for b in buckets]


def test_lower_priority_first_then_soonest_expiry_then_id() -> None:
    late = Bucket(1, OCTETS, 10, priority=1, valid_until_us=900)
    soon = Bucket(2, OCTETS, 10, priority=1, valid_until_us=500)
    never = Bucket(3, OCTETS, 10, priority=1)
    first = Bucket(4, OCTETS, 10, priority=0)
    twin = Bucket(5, OCTETS, 10, priority=1, valid_until_us=500)
    assert ids(consumption_order([late, soon, never, first, twin])) == [4, 2, 5, 1, 3]


def test_with_bucket_keeps_the_tuple_in_consumption_order_and_refuses_duplicates() -> None:
    held: tuple[Bucket, ...] = ()
    for bucket in (
        Bucket(1, OCTETS, 1, priority=5),
        Bucket(2, OCTETS, 1, priority=0),
        Bucket(3, OCTETS, 1, priority=5, valid_until_us=10),
    ):
        held = with_bucket(held, bucket)
    assert ids(held) == [2, 3, 1]
    with pytest.raises(ValueError, match="already exists"):
        with_bucket(held, Bucket(2, SECONDS, 1))


@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(1, 5))), max_size=12))
def test_incremental_insertion_equals_a_sort(specs: list[tuple[int, int | None]]) -> None:
    buckets = [Bucket(i, OCTETS, 1, priority=p, valid_until_us=u) for i, (p, u) in enumerate(specs)]
    held: tuple[Bucket, ...] = ()
    for bucket in buckets:
        held = with_bucket(held, bucket)
    assert list(held) == consumption_order(buckets)


def test_validity_window_is_half_open() -> None:
    bucket = Bucket(1, OCTETS, 10, valid_from_us=100, valid_until_us=200)
    assert not bucket.is_valid_at(99)
    assert bucket.is_valid_at(100)
    assert bucket.is_valid_at(199)
    assert not bucket.is_valid_at(200)
    assert bucket.expires_us == 200
    assert Bucket(2, OCTETS, 1).expires_us is None
    assert Bucket(2, OCTETS, 1).valid_until_us == NEVER_US


def test_applicability_by_rating_group_and_unit_kind() -> None:
    anywhere = Bucket(1, OCTETS, 10)
    video = Bucket(2, OCTETS, 10, rating_groups=[10, 11])
    assert anywhere.applies_to(10, OCTETS)
    assert anywhere.applies_to(None, OCTETS)  # a CCR without MSCC still uses a general bucket
    assert not anywhere.applies_to(10, SECONDS)
    assert video.applies_to(11, OCTETS)
    assert not video.applies_to(12, OCTETS)
    assert not video.applies_to(None, OCTETS)
    assert not video.applies_to(10, EVENTS)


def test_invalid_buckets_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Bucket(1, OCTETS, -1)
    with pytest.raises(ValueError, match="empty validity"):
        Bucket(1, OCTETS, 1, valid_from_us=5, valid_until_us=5)


def test_usable_buckets_filters_and_orders() -> None:
    expired = Bucket(1, OCTETS, 10, priority=0, valid_until_us=50)
    other_group = Bucket(2, OCTETS, 10, priority=0, rating_groups=[7])
    voice = Bucket(3, SECONDS, 10, priority=0)
    later = Bucket(4, OCTETS, 10, priority=2)
    sooner = Bucket(5, OCTETS, 10, priority=1)
    got = usable_buckets(
        [expired, other_group, voice, later, sooner], rating_group=1, unit_kind=OCTETS, now_us=100
    )
    assert ids(got) == [5, 4]


def test_plan_take_spreads_in_order_and_skips_held_and_empty() -> None:
    a = Bucket(1, OCTETS, 30, priority=0)
    b = Bucket(2, OCTETS, 30, priority=1)
    c = Bucket(3, OCTETS, 30, priority=2)
    b.reserved = 30  # fully held by someone else: nothing available
    ordered = (a, b, c)
    plan = plan_take(ordered, 50, rating_group=1, unit_kind=OCTETS, now_us=0)
    assert [(x.bucket_id, n) for x, n in plan] == [(1, 30), (3, 20)]
    assert a.reserved == 0  # planning changes nothing
    plan = plan_take(ordered, 50, rating_group=1, unit_kind=OCTETS, now_us=0, skip={a})
    assert [(x.bucket_id, n) for x, n in plan] == [(3, 30)]
    assert plan_take(ordered, 0, rating_group=1, unit_kind=OCTETS, now_us=0) == []


@given(st.lists(st.integers(0, 50), max_size=6), st.integers(0, 400))
def test_plan_never_takes_more_than_wanted_or_available(sizes: list[int], wanted: int) -> None:
    buckets = tuple(Bucket(i, OCTETS, n, priority=i) for i, n in enumerate(sizes))
    plan = plan_take(buckets, wanted, rating_group=1, unit_kind=OCTETS, now_us=0)
    assert sum(n for _, n in plan) == min(wanted, sum(sizes))
    assert all(0 < n <= b.available for b, n in plan)
    # a bucket is drawn only when every earlier bucket is exhausted
    taken = {b.bucket_id: n for b, n in plan}
    last = max(taken, default=0)
    for b in buckets[:last]:
        assert taken.get(b.bucket_id, 0) == b.balance
