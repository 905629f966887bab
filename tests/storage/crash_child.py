"""Child process of test_crash.py: charge, wait for the durable ack, print, repeat.

Usage: ``python -m tests.storage.crash_child URL SEED FIRST_CHARGE``. It continues the
posting ids from the database (as the OCS does after a restart), applies a seeded
stream of charges in pipelined batches through the group-commit writer, and prints
``charge-N`` for every charge only AFTER the ticket of its batch completed. The parent
kills it with SIGKILL at a random moment, so every printed charge must be in SQL.
"""

from __future__ import annotations

import random
import sys
from collections import deque

from storage.db import create_engine, read_transaction
from storage.queries import load_state
from storage.records import Posting, PostingKind, SessionKey, SessionRow, WriteBatch
from storage.ticket import Ticket
from storage.writer import GroupCommitWriter

IN_FLIGHT = 4  # batches submitted and not yet acknowledged, like pipelined CCRs


def main(url: str, seed: int, first_charge: int) -> None:
    engine = create_engine(url)
    with read_transaction(engine) as conn:
        state = load_state(conn)
    accounts = [a.account_id for a in state.accounts]
    next_posting = state.max_posting_id + 1
    charge = first_charge
    rng = random.Random(seed)
    in_flight: deque[tuple[Ticket, list[str]]] = deque()
    writer = GroupCommitWriter(engine, checkpoint_interval_s=0.05).start()
    while True:
        postings, sessions, names = [], [], []
        for _ in range(rng.randint(1, 30)):
            account = rng.choice(accounts)
            name = f"charge-{charge}"
            # reserve then commit, like a CCR-I/CCR-T pair in one batch
            postings.append(
                Posting(
                    next_posting, account, PostingKind.RESERVE, 0, 500, session_id=name, cause=name
                )
            )
            postings.append(
                Posting(
                    next_posting + 1,
                    account,
                    PostingKind.COMMIT,
                    -rng.randint(1, 1000),
                    -500,
                    session_id=name,
                    cause=name,
                )
            )
            sessions.append(SessionRow(name, 1, account, "open", 0, "pgw", reserved=0))
            next_posting += 2
            names.append(name)
            charge += 1
        closed = [SessionKey(s.session_id) for s in sessions[: len(sessions) // 2]]
        ticket = writer.submit(WriteBatch(postings=postings, sessions=sessions, closed=closed))
        in_flight.append((ticket, names))
        while len(in_flight) >= IN_FLIGHT or (in_flight and in_flight[0][0].done()):
            ticket, acked = in_flight.popleft()
            ticket.wait()
            if ticket.error() is not None:
                raise SystemExit(f"batch failed: {ticket.error()}")
            sys.stdout.write("".join(f"{n}\n" for n in acked))
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
