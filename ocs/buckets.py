"""Unit buckets: the non-money part of a balance, and the order they are consumed in.

What lives here: ``BucketKind`` (octets, seconds, events), ``Bucket`` (a mutable balance of
service units with a validity window and applicability by rating group), the consumption
order (priority, then soonest expiry) and ``plan_take``, which says how many units to take
from which bucket without changing anything. What must not: money, postings, the clock
(callers pass ``now_us``), I/O. The ledger (``ocs/ledger.py``) owns the buckets and is the
only writer of ``balance`` and ``reserved``.

Conventions, chosen so the common bundle set-ups need no extra fields:

- A *lower* ``priority`` is consumed first (priority 0 before priority 10), as an operator
  ranks "first this promo, then the monthly bundle".
- Among equal priorities the bucket that expires soonest goes first (it is worth nothing
  after its expiry); a bucket without expiry goes last; ``bucket_id`` breaks the last tie so
  the order is total and replayable.
- Validity is the half-open window ``valid_from_us <= now < valid_until_us`` in
  microseconds since the Unix epoch (UTC), the unit of ``Posting.at_us``.
- ``rating_groups=None`` means "any rating group" (TS 32.299 Rating-Group); otherwise the
  bucket serves only the listed groups. A bucket serves exactly one ``BucketKind``.

RFC 8506 §8.17-§8.21 (Granted/Used-Service-Unit) name the unit kinds: CC-Time (seconds),
CC-Total/Input/Output-Octets (octets), CC-Service-Specific-Units (events).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection, Iterable

from storage.records import BucketKind

#: sorts after every real expiry: "never expires"
NEVER_US = 2**63 - 1


class Bucket:
    """A balance of service units (e.g. a 5 GB bundle) that the ledger consumes before money.

    Mutable on purpose: the ledger adjusts ``balance`` and ``reserved`` in place on the hot
    path (``__slots__``, no dataclass machinery). ``balance`` counts units not yet used;
    ``reserved`` is the part of it held by open sessions, so ``available = balance - reserved``
    and ``0 <= reserved <= balance`` always holds.
    """

    __slots__ = (
        "balance",
        "bucket_id",
        "priority",
        "rating_groups",
        "reserved",
        "unit_kind",
        "valid_from_us",
        "valid_until_us",
    )

    def __init__(
        self,
        bucket_id: int,
        unit_kind: BucketKind,
        balance: int,
        *,
        priority: int = 0,
        valid_from_us: int = 0,
        valid_until_us: int | None = None,
        rating_groups: Iterable[int] | None = None,
    ) -> None:
        if balance < 0:
            raise ValueError(f"bucket {bucket_id}: negative balance {balance}")
        if valid_until_us is not None and valid_until_us <= valid_from_us:
            raise ValueError(f"bucket {bucket_id}: empty validity window")
        self.bucket_id = bucket_id
        self.unit_kind = unit_kind
        self.balance = balance
        # Holds are rebuilt by the ledger (reserve or restore), never passed in, so the sum
        # of open holds and this field cannot disagree after a load.
        self.reserved = 0
        self.priority = priority
        self.valid_from_us = valid_from_us
        self.valid_until_us = NEVER_US if valid_until_us is None else valid_until_us
        self.rating_groups: frozenset[int] | None = (
            None if rating_groups is None else frozenset(rating_groups)
        )

    @property
    def available(self) -> int:
        """Units a new reservation may take."""
        return self.balance - self.reserved

    @property
    def expires_us(self) -> int | None:
        """The end of validity (exclusive), or None for a bucket that never expires."""
        return None if self.valid_until_us == NEVER_US else self.valid_until_us

    def is_valid_at(self, now_us: int) -> bool:
        return self.valid_from_us <= now_us < self.valid_until_us

    def applies_to(self, rating_group: int | None, unit_kind: BucketKind) -> bool:
        """Whether usage of ``unit_kind`` in ``rating_group`` may draw on this bucket.

        A usage without a rating group (a plain CCR without MSCC) can only use a bucket
        that serves any group.
        """
        if unit_kind is not self.unit_kind:
            return False
        groups = self.rating_groups
        return groups is None or (rating_group is not None and rating_group in groups)

    def usable(self, rating_group: int | None, unit_kind: BucketKind, now_us: int) -> bool:
        """Applicable and valid now: the test both ``reserve`` and ``commit`` use."""
        return self.applies_to(rating_group, unit_kind) and self.is_valid_at(now_us)

    def order_key(self) -> tuple[int, int, int]:
        """Consumption order: priority, then soonest expiry, then id (a total order)."""
        return (self.priority, self.valid_until_us, self.bucket_id)

    def __repr__(self) -> str:
        return (
            f"Bucket({self.bucket_id}, {self.unit_kind.name}, balance={self.balance}, "
            f"reserved={self.reserved}, priority={self.priority}, "
            f"valid=[{self.valid_from_us}, {self.expires_us}), groups={self.rating_groups})"
        )


def consumption_order(buckets: Iterable[Bucket]) -> list[Bucket]:
    """The buckets sorted in the order they are consumed."""
    return sorted(buckets, key=Bucket.order_key)


def with_bucket(buckets: tuple[Bucket, ...], bucket: Bucket) -> tuple[Bucket, ...]:
    """A new tuple with ``bucket`` inserted in consumption order.

    Accounts keep their buckets pre-sorted so that selection on the hot path is a filter,
    never a sort. Adding a bucket is rare (a bundle purchase) and may copy.
    """
    if any(b.bucket_id == bucket.bucket_id for b in buckets):
        raise ValueError(f"bucket {bucket.bucket_id} already exists")
    ordered = list(buckets)
    insort(ordered, bucket, key=Bucket.order_key)
    return tuple(ordered)


def usable_buckets(
    buckets: Iterable[Bucket], *, rating_group: int | None, unit_kind: BucketKind, now_us: int
) -> list[Bucket]:
    """The buckets usage may draw on at ``now_us``, in consumption order."""
    return [b for b in consumption_order(buckets) if b.usable(rating_group, unit_kind, now_us)]


def plan_take(
    buckets: tuple[Bucket, ...],
    units: int,
    *,
    rating_group: int | None,
    unit_kind: BucketKind,
    now_us: int,
    skip: Collection[Bucket] = (),
) -> list[tuple[Bucket, int]]:
    """How many of ``units`` each bucket covers from its available part, changing nothing.

    ``buckets`` must already be in consumption order (as ``Account.buckets`` is). Only
    buckets valid at ``now_us`` and applicable to the rating group and unit kind count;
    buckets in ``skip`` (already drawn on by the caller) are passed over. The total of the
    plan is at most ``units``; the caller prices the rest in money.

    Planning apart from applying lets the ledger price the remainder (which may raise)
    before it touches any balance, so each ledger operation is all or nothing.
    """
    plan: list[tuple[Bucket, int]] = []
    for bucket in buckets:
        if units <= 0:
            break
        if bucket in skip or not bucket.usable(rating_group, unit_kind, now_us):
            continue
        take = bucket.balance - bucket.reserved
        if take <= 0:
            continue
        if take > units:
            take = units
        plan.append((bucket, take))
        units -= take
    return plan
