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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class PostingKind(enum.Enum):
    RESERVE = "reserve"  #: hold credit for a session's rating group
    RELEASE = "release"  #: give an unused hold back (CCR-T, Tcc expiry, failure)
    COMMIT = "commit"  #: charge used units; may exceed the hold (an overrun)
    ADJUST = "adjust"  #: a change from outside the OCS: top-up, correction, imported charge


class Posting(NamedTuple):
    """One journal line. A NamedTuple, not a frozen dataclass: the ledger builds one or
    two per CCR and a frozen dataclass costs 0.8 µs to build against 0.15 µs for
    ``tuple.__new__`` (benchmarks/bench_ledger.py), half a ledger operation."""

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


# --- What the group-commit writer takes (storage.writer) --------------------------------
#
# Everything below was added by the storage package; ``Posting``/``PostingKind`` above are
# the ledger's contract and stay as they are.

#: ``rating_group`` value for a credit-control request that carries no Rating-Group AVP
#: (the column is part of a primary key, so it cannot be NULL)
NO_RATING_GROUP = -1


class SessionRow(NamedTuple):
    """One rating group of an open credit-control session and what it holds.

    A NamedTuple like `Posting`: the OCS writes one per rating group per CCR.

    Written (upserted) by the OCS through the writer so that, after ``kill -9``, the
    session can be resumed: the holds are given back or committed by the next CCR-U/T, or
    released when ``expires_at_us`` (the Tcc / Validity-Time deadline) passes.

    A rating group holds at most one unit bucket (``bucket_id``, ``bucket_reserved`` units)
    and money (``reserved`` micro-units): buckets first, money after, in one charge.
    """

    session_id: str
    rating_group: int  #: NO_RATING_GROUP when the request carried none
    account_id: int
    state: str  #: the OCS's RFC 8506 §7 session state name; storage does not interpret it
    request_number: int  #: last CC-Request-Number answered
    origin_host: str
    reserved: int = 0  #: money held, micro-units
    bucket_id: int | None = None
    bucket_reserved: int = 0  #: units held on ``bucket_id``
    granted_units: int = 0  #: service units granted in the last answer
    expires_at_us: int = 0  #: microseconds since the Unix epoch (UTC)
    updated_at_us: int = 0
    #: units already charged on this rating group of the session: a session is rated as
    #: one usage (one first interval, one rounding), each report as the difference
    used_units: int = 0
    started_at_us: int = 0  #: when the session began (the start of a call's rating)
    #: every bucket the hold draws on, "bucket_id:units,..." (a hold may span buckets;
    #: ``bucket_id``/``bucket_reserved`` name the first, for readers of version 3)
    bucket_holds: str = ""


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Which session rows to delete: one rating group, or all of them (``None``)."""

    session_id: str
    rating_group: int | None = None


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """What one ``GroupCommitWriter.submit`` call makes durable, all or nothing.

    Account balances and bucket remaining/reserved are NOT listed: the writer derives
    them from ``postings`` in the same transaction, so SQL balances always equal the
    sum of the journal. ``cursors`` advances event-consumer cursors (monotonic) in that
    same transaction: the OCS passes ``{"ocs": last_event_id}`` with the ADJUST postings
    of the account events it applied, which is what makes event application exactly-once.
    """

    postings: Sequence[Posting] = ()
    sessions: Sequence[SessionRow] = ()  #: upserted, in order
    closed: Sequence[SessionKey] = ()  #: deleted, after earlier upserts in this batch
    cursors: Sequence[tuple[str, int]] = ()  #: (consumer, event_id), never moved back

    def row_count(self) -> int:
        return len(self.postings) + len(self.sessions) + len(self.closed) + len(self.cursors)


# --- Catalog, accounts and events, as read back by storage.queries / storage.events -------


class BillingMode(enum.Enum):
    PREPAID = "prepaid"  #: may not go below zero except by a recorded overrun
    POSTPAID = "postpaid"  #: may go down to minus the customer's credit limit


class AccountStatus(enum.Enum):
    ACTIVE = "active"
    BLOCKED = "blocked"  #: by the operator; no service
    SUSPENDED = "suspended"  #: for non-payment; no service
    CLOSED = "closed"  #: terminal


class BucketKind(enum.Enum):
    DATA = "data"  #: octets
    VOICE = "voice"  #: seconds
    SMS = "sms"  #: events


class EventKind(enum.Enum):
    CREATED = "created"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    PRODUCT_CHANGED = "product_changed"
    TOPUP = "topup"  #: credit, ``amount`` > 0 micro-units
    ADJUSTMENT = "adjustment"  #: correction, either sign
    IMPORTED_CHARGE = "imported_charge"  #: a rated CDR from the host network, ``amount`` < 0


#: event kinds that move money: the OCS applies them as ADJUST postings
MONEY_EVENTS = frozenset({EventKind.TOPUP, EventKind.ADJUSTMENT, EventKind.IMPORTED_CHARGE})


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: int
    name: str
    currency: str
    billing_mode: BillingMode
    credit_limit: int  #: micro-units, >= 0; only meaningful for postpaid
    tax_class: str


@dataclass(frozen=True, slots=True)
class Bundle:
    """Units a product includes, granted as a bucket each period."""

    kind: BucketKind
    units: int
    rating_group: int | None = None  #: None: applies to any rating group
    priority: int = 0
    validity_days: int = 30


@dataclass(frozen=True, slots=True)
class Product:
    product_id: int
    name: str
    tariff_plan: str  #: a tariff plan name known to rating/
    currency: str
    recurring_fee: int  #: micro-units per period
    bundles: tuple[Bundle, ...] = ()


@dataclass(frozen=True, slots=True)
class Account:
    account_id: int
    msisdn: str
    imsi: str | None
    status: AccountStatus
    product_id: int
    customer_id: int
    currency: str
    balance: int  #: micro-units; owned by the OCS while it runs
    reserved: int  #: micro-units held by open sessions
    billing_mode: BillingMode
    credit_limit: int


@dataclass(frozen=True, slots=True)
class Bucket:
    bucket_id: int
    account_id: int
    kind: BucketKind
    initial: int  #: units at creation; remaining = initial + sum of the bucket's postings
    remaining: int
    reserved: int
    rating_group: int | None  #: None: any rating group
    priority: int
    valid_from_us: int
    valid_until_us: int


@dataclass(frozen=True, slots=True)
class AccountEvent:
    event_id: int
    idempotency_key: str
    account_id: int
    kind: EventKind
    payload: str  #: JSON text
    amount: int | None  #: micro-units for money events
    created_at_us: int


@dataclass(frozen=True, slots=True)
class LoadedState:
    """Everything the OCS needs to rebuild its ledger after a restart."""

    accounts: list[Account]
    buckets: list[Bucket]
    sessions: list[SessionRow]
    max_posting_id: int  #: continue numbering at max_posting_id + 1
    cursors: dict[str, int]  #: consumer -> last event_id applied
