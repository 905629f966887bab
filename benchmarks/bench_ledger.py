"""Ledger reserve + commit on a 1 M-account book with random access (perf-budget §7 item 3).

What lives here: a script that builds a book of N accounts, then times, over a
pre-drawn random sequence of accounts, (1) the money fast path ``reserve_money`` +
``commit_money``, (2) the unit path ``reserve`` + ``commit`` priced in money on accounts
without buckets (what the OCS calls for every MSCC), (3) the same on accounts that hold a
data bucket (bucket first), and (4) the cost of constructing one ``Posting`` alone, since
every operation builds at least one (as the ledger builds it, and through the NamedTuple
constructor). What must not: anything outside the ledger (no SQL, no rating engine: a
linear per-kilobyte price stands in).

Each figure is the median over ``--runs`` runs of ``--ops`` reserve+commit pairs, per
operation (a pair counts as two). Goal: ``op_us`` <= 1.5 µs median. ``--json`` prints one
JSON object on the last line.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
import timeit
from collections.abc import Callable

from ocs.buckets import Bucket
from ocs.ledger import Account, Ledger, new_posting
from storage.records import BucketKind, Posting, PostingKind

GOAL_US = 1.5
KB = 1024
#: 1 EUR per GB, charged per started kilobyte (micro-units)
PRICE_PER_KB = 1_000_000 * KB // (1024 * 1024 * 1024) or 1


def price_of(units: int) -> int:
    return -(-units // KB) * PRICE_PER_KB


def units_for(budget: int) -> int:
    return (budget // PRICE_PER_KB) * KB


def build_book(accounts: int, *, with_buckets: int) -> Ledger:
    """``accounts`` prepaid accounts of 100 EUR; the first ``with_buckets`` hold a 1 TB bundle."""
    ledger = Ledger()
    for account_id in range(accounts):
        buckets: tuple[Bucket, ...] = ()
        if account_id < with_buckets:
            buckets = (Bucket(account_id, BucketKind.DATA, 2**40, valid_until_us=2**62),)
        ledger.add_account(Account(account_id, balance=100_000_000, buckets=buckets))
    return ledger


def time_money(ledger: Ledger, ids: list[int], sessions: list[str]) -> tuple[float, float]:
    """Seconds spent in reserves and in commits over ``ids``."""
    reserve, commit = ledger.reserve_money, ledger.commit_money
    n = len(sessions)
    clock = time.perf_counter_ns
    spent_reserve = spent_commit = 0
    for i, account_id in enumerate(ids):
        session = sessions[i % n]
        t0 = clock()
        reserve(account_id, session, 1, 50_000, now_us=i)
        t1 = clock()
        commit(session, 1, 1_234, now_us=i)
        t2 = clock()
        spent_reserve += t1 - t0
        spent_commit += t2 - t1
    return spent_reserve / 1e9, spent_commit / 1e9


def time_money_loop(ledger: Ledger, ids: list[int], sessions: list[str]) -> float:
    """Seconds for the whole loop, without per-call clock reads (the headline figure)."""
    reserve, commit = ledger.reserve_money, ledger.commit_money
    n = len(sessions)
    t0 = time.perf_counter()
    for i, account_id in enumerate(ids):
        session = sessions[i % n]
        reserve(account_id, session, 1, 50_000, now_us=i)
        commit(session, 1, 1_234, now_us=i)
    return time.perf_counter() - t0


def time_units(ledger: Ledger, ids: list[int], sessions: list[str]) -> float:
    """Seconds for reserve(units)+commit(used): from a bucket when the account has one."""
    reserve, commit = ledger.reserve, ledger.commit
    octets = BucketKind.DATA
    n = len(sessions)
    t0 = time.perf_counter()
    for i, account_id in enumerate(ids):
        session = sessions[i % n]
        reserve(
            account_id,
            session,
            1,
            1_000_000,
            unit_kind=octets,
            price_of=price_of,
            units_for=units_for,
            now_us=i,
        )
        commit(session, 1, 400_000, unit_kind=octets, price_of=price_of, now_us=i)
    return time.perf_counter() - t0


def time_posting(number: int, make: Callable[..., Posting]) -> float:
    """Microseconds to build one Posting positionally with ``make``."""
    kind = PostingKind.COMMIT
    best = min(
        timeit.repeat(
            lambda: make(1, 2, kind, -5, -7, None, "s", 1, 5, None, False), number=number, repeat=5
        )
    )
    empty = min(timeit.repeat(lambda: None, number=number, repeat=5))
    return (best - empty) / number * 1e6


def median_runs(runs: int, one: Callable[[], float]) -> tuple[float, list[float]]:
    results = [one() for _ in range(runs)]
    return statistics.median(results), results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--bucket-accounts", type=int, default=100_000)
    parser.add_argument("--ops", type=int, default=200_000, help="reserve+commit pairs per run")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    ledger = build_book(args.accounts, with_buckets=args.bucket_accounts)
    built_s = time.perf_counter() - t0
    rng = random.Random(args.seed)
    # One session id per concurrent session; strings pre-built as the decoder hands them over.
    sessions = [f"gw.example.net;{rng.getrandbits(32)};{i}" for i in range(4096)]
    draws = [[rng.randrange(args.accounts) for _ in range(args.ops)] for _ in range(args.runs)]
    bucket_draws = [
        [rng.randrange(max(1, args.bucket_accounts)) for _ in range(args.ops)]
        for _ in range(args.runs)
    ]
    per_op = 2 * args.ops
    gc.collect()
    gc.freeze()  # the book is long-lived: keep the collector from rescanning it
    runs = iter(draws)
    op_us, op_runs = median_runs(
        args.runs, lambda: time_money_loop(ledger, next(runs), sessions) / per_op * 1e6
    )
    split = [time_money(ledger, ids, sessions) for ids in draws]
    reserve_us = statistics.median(r for r, _ in split) / args.ops * 1e6
    commit_us = statistics.median(c for _, c in split) / args.ops * 1e6
    money_draws = [
        [rng.randrange(args.bucket_accounts, args.accounts) for _ in range(args.ops)]
        for _ in range(args.runs)
    ]
    runs = iter(money_draws)
    units_us, units_runs = median_runs(
        args.runs, lambda: time_units(ledger, next(runs), sessions) / per_op * 1e6
    )
    runs = iter(bucket_draws)
    bucket_us, bucket_runs = median_runs(
        args.runs, lambda: time_units(ledger, next(runs), sessions) / per_op * 1e6
    )
    posting_us = time_posting(200_000, new_posting)
    constructor_us = time_posting(200_000, Posting)

    figures = {
        "op_us": round(op_us, 3),
        "op_us_runs": [round(x, 3) for x in op_runs],
        "reserve_us": round(reserve_us, 3),
        "commit_us": round(commit_us, 3),
        "units_op_us": round(units_us, 3),
        "units_op_us_runs": [round(x, 3) for x in units_runs],
        "bucket_op_us": round(bucket_us, 3),
        "bucket_op_us_runs": [round(x, 3) for x in bucket_runs],
        "posting_us": round(posting_us, 3),
        "posting_share": round(posting_us / op_us, 2),
        "posting_constructor_us": round(constructor_us, 3),
        "accounts": args.accounts,
        "ops_per_run": per_op,
        "runs": args.runs,
        "build_s": round(built_s, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "goal_us": GOAL_US,
    }
    print(
        f"book: {args.accounts:,} accounts ({args.bucket_accounts:,} with a data bucket), "
        f"built in {built_s:.1f} s; Python {platform.python_version()} {platform.machine()}"
    )
    print(
        f"money reserve+commit: {op_us:.3f} µs/op median of {args.runs} runs x {per_op:,} ops "
        f"(runs {', '.join(f'{x:.3f}' for x in op_runs)}); goal <= {GOAL_US} µs"
    )
    print(
        f"  split (timed per call, includes clock reads): reserve {reserve_us:.3f} µs, "
        f"commit {commit_us:.3f} µs"
    )
    print(f"unit reserve+commit priced in money (the OCS's path): {units_us:.3f} µs/op median")
    print(f"bucket reserve+commit (units, bucket covers all): {bucket_us:.3f} µs/op median")
    print(
        f"Posting construction alone: {posting_us:.3f} µs as the ledger builds it "
        f"({posting_us / op_us:.0%} of a money op); {constructor_us:.3f} µs through the "
        "NamedTuple constructor"
    )
    print("PASS" if op_us <= GOAL_US else "OVER GOAL")
    if args.json:
        print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
