"""Group commit of journal rows through storage.writer: rows/s and commit latency.

What it measures: postings submitted in batches of ``--batch`` (one batch per connection
read in the OCS), ``--in-flight`` batches outstanding (pipelined connections), each
posting to a random one of ``--accounts`` accounts, so every group commit also updates
about one account balance per posting. rows/s = postings durably committed per second,
from the first submit to the last ack. Postings are built before the clock starts: that
is the ledger's cost, not storage's.

Backends: SQLite WAL (synchronous NORMAL, and FULL) in a temporary directory; PostgreSQL
at 127.0.0.1:5432 (user postgres, database test) in a throw-away schema, reported as
skipped when unreachable. Goal (issue 3, perf-budget §7 item 4): >= 300 k rows/s on
SQLite WAL, commit p50 <= 2 ms. ``--json`` prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy

from storage.db import Synchronous, create_engine, write_transaction
from storage.errors import StorageUnavailable
from storage.migrations import migrate
from storage.queries import create_customer, create_product, now_us
from storage.records import Posting, PostingKind, WriteBatch
from storage.schema import accounts
from storage.ticket import CommitInfo, Ticket
from storage.writer import GroupCommitWriter

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Result:
    rows_per_s: float
    commit_p50_ms: float
    commit_p99_ms: float
    ack_p50_ms: float
    group_rows_p50: float
    groups: int


def seed_accounts(url: str, n: int) -> list[int]:
    engine = create_engine(url)
    migrate(engine)
    with write_transaction(engine) as conn:
        customer = create_customer(conn, name="bench", currency="EUR")
        product = create_product(conn, name="bench", tariff_plan="bench", currency="EUR")
        conn.execute(
            accounts.insert(),
            [
                {
                    "msisdn": f"49{i:09d}",
                    "status": "active",
                    "product_id": product.product_id,
                    "customer_id": customer.customer_id,
                    "currency": "EUR",
                    "balance": 0,
                    "reserved": 0,
                    "created_at_us": now_us(),
                }
                for i in range(n)
            ],
        )
        ids = list(conn.execute(sqlalchemy.select(accounts.c.account_id)).scalars())
    engine.dispose()
    return ids


def build_batches(account_ids: list[int], rows: int, batch: int) -> list[WriteBatch]:
    rng = random.Random(1)
    at = now_us()
    out, pid = [], 1
    for _ in range(rows // batch):
        postings = []
        for _ in range(batch):
            postings.append(
                Posting(
                    pid,
                    rng.choice(account_ids),
                    PostingKind.COMMIT,
                    -rng.randint(1, 50_000),
                    0,
                    None,
                    f"sess-{pid % 5000}",
                    32,
                    at + pid,
                    f"ccr-{pid}",
                    False,
                )
            )
            pid += 1
        out.append(WriteBatch(postings=postings))
    return out


def run(
    url: str,
    *,
    rows: int,
    batch: int,
    in_flight: int,
    n_accounts: int,
    synchronous: Synchronous = Synchronous.NORMAL,
) -> Result:
    account_ids = seed_accounts(url, n_accounts)
    batches = build_batches(account_ids, rows, batch)
    engine = create_engine(url, synchronous=synchronous)
    infos: list[CommitInfo] = []
    writer = GroupCommitWriter(engine, on_commit=infos.append).start()
    pending: list[Ticket] = []
    started = time.perf_counter()
    for b in batches:
        pending.append(writer.submit(b))
        if len(pending) >= in_flight:
            pending.pop(0).wait()
    for t in pending:
        t.wait()
    elapsed = time.perf_counter() - started
    writer.close()
    engine.dispose()
    commits = sorted(i.commit_s for i in infos)
    return Result(
        rows_per_s=len(batches) * batch / elapsed,
        commit_p50_ms=statistics.median(commits) * 1000,
        commit_p99_ms=commits[int(len(commits) * 0.99)] * 1000,
        ack_p50_ms=statistics.median(i.ack_s for i in infos) * 1000,
        group_rows_p50=statistics.median(i.postings for i in infos),
        groups=len(infos),
    )


def report(name: str, r: Result) -> None:
    print(
        f"{name:<28} {r.rows_per_s:>10,.0f} rows/s   commit p50 {r.commit_p50_ms:6.2f} ms"
        f"  p99 {r.commit_p99_ms:6.2f} ms   ack p50 {r.ack_p50_ms:6.2f} ms   "
        f"group p50 {r.group_rows_p50:,.0f} postings ({r.groups} groups)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="postings per backend")
    parser.add_argument("--batch", type=int, default=1000, help="postings per submit")
    parser.add_argument("--in-flight", type=int, default=8, help="unacked submits")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="JSON object on the last line")
    args = parser.parse_args()
    kw = {
        "rows": args.rows,
        "batch": args.batch,
        "in_flight": args.in_flight,
        "n_accounts": args.accounts,
    }
    print(
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"sqlite {__import__('sqlite3').sqlite_version}, {platform.machine()}; "
        f"{args.rows:,} postings in batches of {args.batch}, {args.in_flight} in flight, "
        f"{args.accounts:,} accounts"
    )
    out: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        normal = run(f"sqlite:///{Path(tmp) / 'normal.db'}", **kw)
        report("sqlite WAL synchronous=NORMAL", normal)
        full = run(f"sqlite:///{Path(tmp) / 'full.db'}", synchronous=Synchronous.FULL, **kw)
        report("sqlite WAL synchronous=FULL", full)
    out |= {
        "sqlite_rows_per_s": round(normal.rows_per_s),
        "sqlite_commit_p50_ms": round(normal.commit_p50_ms, 3),
        "sqlite_full_rows_per_s": round(full.rows_per_s),
        "sqlite_full_commit_p50_ms": round(full.commit_p50_ms, 3),
    }
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, connect_timeout_s=3)
    try:
        with write_transaction(admin) as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except StorageUnavailable as e:
        print(f"postgresql                   skipped: {e}")
        out |= {"postgresql_rows_per_s": None, "postgresql_commit_p50_ms": None}
    else:
        try:
            pg = run(f"{PG_URL}?options=-csearch_path%3D{schema}", **kw)
            report("postgresql (psycopg 3)", pg)
            out |= {
                "postgresql_rows_per_s": round(pg.rows_per_s),
                "postgresql_commit_p50_ms": round(pg.commit_p50_ms, 3),
            }
        finally:
            with write_transaction(admin) as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
    goal = "met" if normal.rows_per_s >= 300_000 else "NOT met"
    print(f"goal >= 300,000 rows/s on SQLite WAL: {goal}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
