"""kill -9 during a stream of durably-acknowledged charges loses none and doubles none.

A child process (tests/storage/crash_child.py) charges through the group-commit writer
and prints each charge after its ack; the parent SIGKILLs it at seeded random moments,
reloads, and checks that every printed charge is in the journal exactly once and that
every balance equals the sum of its postings. Each round restarts the child on the same
database, so recovery (posting ids continued from load_state) is exercised too.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage import queries
from storage.db import read_transaction
from storage.schema import postings
from tests.storage.conftest import Database, seed

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 4


def run_and_kill(url: str, child_seed: int, first_charge: int, rng: random.Random) -> set[str]:
    """Start the child, let it ack a random number of charges, SIGKILL it; return acks."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.storage.crash_child",
            url,
            str(child_seed),
            str(first_charge),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    acked: set[str] = set()
    want = rng.randint(50, 1500)
    try:
        while len(acked) < want:
            line = lines.get(timeout=20)
            if line is None:
                assert proc.stderr is not None
                pytest.fail(f"the child exited early: {proc.stderr.read()[-2000:]}")
            acked.add(line)
        time.sleep(rng.random() * 0.02)  # land the kill anywhere: mid-batch, mid-commit
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    reader.join(10)
    while (line := lines.get_nowait()) is not None:  # printed before the kill
        acked.add(line)
    return acked


def test_every_acknowledged_charge_survives_sigkill_exactly_once(
    database: Database, engine: Engine
) -> None:
    seed(engine, 20)
    rng = random.Random(20240611)
    acked: set[str] = set()
    for round_ in range(ROUNDS):
        acked |= run_and_kill(database.url, rng.randrange(10**6), round_ * 10**7, rng)
        with read_transaction(engine) as conn:
            counts: dict[str, int] = dict(
                conn.execute(
                    select(postings.c.cause, func.count())
                    .where(postings.c.kind == "commit")
                    .group_by(postings.c.cause)
                ).all()
            )
            mismatches = queries.verify_balances(conn)
            reserved = conn.execute(select(func.sum(postings.c.reserved))).scalar()
        missing = acked - set(counts)
        assert not missing, f"round {round_}: {len(missing)} acknowledged charges lost"
        doubled = {cause for cause, n in counts.items() if n != 1}
        assert not doubled, f"round {round_}: charged more than once: {sorted(doubled)[:5]}"
        assert mismatches == []
        assert reserved == 0  # every reserve was committed in the same batch
    assert len(acked) >= ROUNDS * 50
