"""Plain records that cross module boundaries between the ledger and SQL.

What lives here: frozen dataclasses with no behaviour; no sqlalchemy import, so the
ledger (ocs/) can produce them without touching the database layer.

A ``Posting`` is one line of the journal: the change one ledger operation made to one
balance (the money balance of an account, or one unit bucket). Reservations are
postings too (``reserved`` moves, ``amount`` does not), so the open holds of every
session can be rebuilt from SQL after a crash.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PostingKind(enum.Enum):
    RESERVE = "reserve"  #: hold credit for a session's rating group
    RELEASE = "release"  #: give an unused hold back (CCR-T, Tcc expiry, failure)
    COMMIT = "commit"  #: charge used units; may exceed the hold (an overrun)
    ADJUST = "adjust"  #: a change from outside the OCS: top-up, correction, imported charge


@dataclass(frozen=True, slots=True)
class Posting:
    posting_id: int  #: strictly increasing; assigned by the ledger, continued after restart
    account_id: int
    kind: PostingKind
    #: change of the balance: micro-units for money, units for a bucket; negative = debit
    amount: int
    #: change of the reserved part of that balance (same unit as ``amount``)
    reserved: int
    #: None for the account's money balance, else the unit bucket's id
    bucket_id: int | None = None
    session_id: str | None = None
    rating_group: int | None = None
    #: wall-clock time of the operation, microseconds since the Unix epoch (UTC)
    at_us: int = 0
    #: idempotency key of what caused it: a charging key or an account-event key
    cause: str | None = None
    #: True when a commit charged more than was held (DESIGN.md: recorded overrun)
    overrun: bool = False
