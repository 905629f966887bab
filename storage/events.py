"""Account events: the transactional outbox, and every change made from outside the OCS.

What lives here: ``record_event`` / ``read_events`` / cursors, and the account changes
that the CLI and billing make (create, block/unblock/suspend/close, product change,
top-up, adjustment, imported charge), each written with its event in the caller's
transaction. What must not: writes to ``balance``/``reserved``/``remaining``, which the OCS
owns while it runs (DESIGN.md single-writer rule), or transaction control.

**Money events (top-up, adjustment, imported charge) write the event and nothing else.**
The OCS consumes them: it applies each to its in-memory ledger as an ADJUST posting
(``cause`` = the event's idempotency key) and submits that posting to the group-commit
writer *together with* ``cursors=(("ocs", event_id),)``. Posting, balance update and
cursor advance commit in one transaction, so after a crash either all of them are in SQL
(the event is past the cursor and not applied again) or none is (the event is after the
cursor and applied again): never twice, never lost. The alternative, the CLI updating
``accounts.balance`` itself, races with the OCS's writer (which adds deltas to the same
row) and breaks "balance = sum of postings". Until the OCS has applied a top-up, it is
visible as ``pending_amount``. Status and product changes *are* written to
``accounts`` directly (the OCS does not own those columns) and announced by their event.

**Ordering.** Consumers read "events after my cursor" by ``event_id``. On PostgreSQL
ids come from a sequence at INSERT time, so two concurrent transactions could commit
ids 11 then 10 and a consumer that already advanced to 11 would never see 10. Every
event-writing transaction therefore takes ``lock_outbox`` first (a transaction-level
advisory lock, released at COMMIT), which makes id order commit order. SQLite gets this
from its single writer (``BEGIN IMMEDIATE`` in ``storage.db.write_transaction``).

**Idempotency.** Every change carries a caller-chosen key (unique in
``account_events``). Repeating it is a no-op returning the original event
(``created=False``); reusing it for a different change raises ``IdempotencyConflict``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, text

from storage.errors import IdempotencyConflict, InvalidRequest
from storage.queries import (
    get_account,
    get_account_by_msisdn,
    get_product,
    insert_account,
    now_us,
)
from storage.records import MONEY_EVENTS, Account, AccountEvent, AccountStatus, EventKind
from storage.schema import account_events, accounts, event_cursors

#: arbitrary constant naming the outbox among PostgreSQL advisory locks
_PG_OUTBOX_LOCK = 7_274_602

#: the OCS's consumer name: its cursor advances in the same transaction as its postings
OCS_CONSUMER = "ocs"

_STATUS_EVENT = {
    AccountStatus.ACTIVE: EventKind.UNBLOCKED,
    AccountStatus.BLOCKED: EventKind.BLOCKED,
    AccountStatus.SUSPENDED: EventKind.SUSPENDED,
    AccountStatus.CLOSED: EventKind.CLOSED,
}


@dataclass(frozen=True, slots=True)
class EventResult:
    event: AccountEvent
    created: bool  #: False: the idempotency key was seen before and nothing was written


def lock_outbox(conn: Connection) -> None:
    """Serialise event writers until this transaction ends (see "Ordering" above)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_OUTBOX_LOCK})


def _event(row: Any) -> AccountEvent:
    return AccountEvent(
        row.event_id,
        row.idempotency_key,
        row.account_id,
        EventKind(row.kind),
        row.payload,
        row.amount,
        row.created_at_us,
    )


def find_event(conn: Connection, idempotency_key: str) -> AccountEvent | None:
    row = conn.execute(
        select(account_events).where(account_events.c.idempotency_key == idempotency_key)
    ).first()
    return None if row is None else _event(row)


def _replayed(
    conn: Connection, key: str, account_id: int, kind: EventKind, amount: int | None
) -> EventResult | None:
    existing = find_event(conn, key)
    if existing is None:
        return None
    if (existing.account_id, existing.kind, existing.amount) != (account_id, kind, amount):
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for event {existing.event_id} "
            f"({existing.kind.value}, account {existing.account_id}, amount "
            f"{existing.amount}); use a new key for a different change"
        )
    return EventResult(existing, created=False)


def record_event(
    conn: Connection,
    *,
    account_id: int,
    kind: EventKind,
    idempotency_key: str,
    amount: int | None = None,
    payload: Mapping[str, object] | None = None,
) -> EventResult:
    """Append one event in the caller's transaction (with the change it describes)."""
    lock_outbox(conn)
    replay = _replayed(conn, idempotency_key, account_id, kind, amount)
    if replay is not None:
        return replay
    body = json.dumps(dict(payload or {}), sort_keys=True, separators=(",", ":"))
    at = now_us()
    event_id = int(
        conn.execute(
            account_events.insert()
            .values(
                idempotency_key=idempotency_key,
                account_id=account_id,
                kind=kind.value,
                payload=body,
                amount=amount,
                created_at_us=at,
            )
            .returning(account_events.c.event_id)
        ).scalar_one()
    )
    return EventResult(
        AccountEvent(event_id, idempotency_key, account_id, kind, body, amount, at), created=True
    )


# --- changes from outside the OCS ----------------------------------------------------------


def create_account(
    conn: Connection,
    *,
    msisdn: str,
    customer_id: int,
    product_id: int,
    idempotency_key: str,
    imsi: str | None = None,
) -> tuple[Account, EventResult]:
    """Create an account (balance 0) and its ``created`` event; idempotent by key."""
    lock_outbox(conn)
    existing = find_event(conn, idempotency_key)
    if existing is not None:
        if existing.kind is not EventKind.CREATED:
            raise IdempotencyConflict(
                f"idempotency key {idempotency_key!r} was already "
                f"used for a {existing.kind.value} event"
            )
        return get_account(conn, existing.account_id), EventResult(existing, created=False)
    account_id = insert_account(
        conn, msisdn=msisdn, customer_id=customer_id, product_id=product_id, imsi=imsi
    )
    result = record_event(
        conn,
        account_id=account_id,
        kind=EventKind.CREATED,
        idempotency_key=idempotency_key,
        payload={"msisdn": msisdn, "imsi": imsi, "product_id": product_id},
    )
    return get_account(conn, account_id), result


def _money_event(
    conn: Connection,
    msisdn: str,
    kind: EventKind,
    amount: int,
    key: str,
    payload: Mapping[str, object],
) -> EventResult:
    lock_outbox(conn)
    account = get_account_by_msisdn(conn, msisdn)
    replay = _replayed(conn, key, account.account_id, kind, amount)
    if replay is not None:
        return replay
    if kind is EventKind.TOPUP and account.status is AccountStatus.CLOSED:
        raise InvalidRequest(f"account {msisdn} is closed; a top-up is not accepted")
    return record_event(
        conn,
        account_id=account.account_id,
        kind=kind,
        idempotency_key=key,
        amount=amount,
        payload=payload,
    )


def topup(
    conn: Connection, msisdn: str, amount_micros: int, idempotency_key: str, *, reason: str = ""
) -> EventResult:
    """Credit ``amount_micros`` (> 0): writes the event only; the OCS applies it."""
    if amount_micros <= 0:
        raise InvalidRequest(f"a top-up must be positive, got {amount_micros} micro-units")
    return _money_event(
        conn, msisdn, EventKind.TOPUP, amount_micros, idempotency_key, {"reason": reason}
    )


def adjust(
    conn: Connection, msisdn: str, amount_micros: int, idempotency_key: str, *, reason: str
) -> EventResult:
    """A manual correction of either sign (non-zero), with a mandatory reason."""
    if amount_micros == 0 or not reason:
        raise InvalidRequest("an adjustment needs a non-zero amount and a reason")
    return _money_event(
        conn, msisdn, EventKind.ADJUSTMENT, amount_micros, idempotency_key, {"reason": reason}
    )


def import_charge(
    conn: Connection, msisdn: str, charge_micros: int, idempotency_key: str, *, reference: str
) -> EventResult:
    """A charge rated from the host network's CDRs: debits ``charge_micros`` (>= 0)."""
    if charge_micros < 0:
        raise InvalidRequest(f"an imported charge cannot be negative: {charge_micros}")
    return _money_event(
        conn,
        msisdn,
        EventKind.IMPORTED_CHARGE,
        -charge_micros,
        idempotency_key,
        {"reference": reference},
    )


def set_status(
    conn: Connection, msisdn: str, status: AccountStatus, idempotency_key: str, *, reason: str = ""
) -> EventResult:
    """Block, unblock (ACTIVE), suspend or close an account, with its event."""
    lock_outbox(conn)
    account = get_account_by_msisdn(conn, msisdn)
    kind = _STATUS_EVENT[status]
    replay = _replayed(conn, idempotency_key, account.account_id, kind, None)
    if replay is not None:
        return replay
    if account.status is AccountStatus.CLOSED:
        raise InvalidRequest(f"account {msisdn} is closed; its status cannot change")
    if account.status is status:
        raise InvalidRequest(f"account {msisdn} is already {status.value}")
    return _change_account(
        conn,
        account,
        kind,
        idempotency_key,
        {"from": account.status.value, "to": status.value, "reason": reason},
        status=status.value,
    )


def change_product(
    conn: Connection, msisdn: str, product_name: str, idempotency_key: str
) -> EventResult:
    """Move an account to another product, with its event."""
    lock_outbox(conn)
    account = get_account_by_msisdn(conn, msisdn)
    replay = _replayed(conn, idempotency_key, account.account_id, EventKind.PRODUCT_CHANGED, None)
    if replay is not None:
        return replay
    product = get_product(conn, name=product_name)
    if product.currency != account.currency:
        raise InvalidRequest(
            f"product {product_name} is priced in {product.currency}, "
            f"account {msisdn} is billed in {account.currency}"
        )
    return _change_account(
        conn,
        account,
        EventKind.PRODUCT_CHANGED,
        idempotency_key,
        {"from": account.product_id, "to": product.product_id},
        product_id=product.product_id,
    )


def _change_account(
    conn: Connection,
    account: Account,
    kind: EventKind,
    key: str,
    payload: Mapping[str, object],
    **values: object,
) -> EventResult:
    """Write ``values`` to the account's row and record the event that announces them."""
    conn.execute(
        accounts.update().where(accounts.c.account_id == account.account_id).values(**values)
    )
    return record_event(
        conn, account_id=account.account_id, kind=kind, idempotency_key=key, payload=payload
    )


# --- consumers -----------------------------------------------------------------------------


def read_events(conn: Connection, after_event_id: int, limit: int = 1000) -> list[AccountEvent]:
    """Events with ``event_id > after_event_id``, oldest first, at most ``limit``."""
    rows = conn.execute(
        select(account_events)
        .where(account_events.c.event_id > after_event_id)
        .order_by(account_events.c.event_id)
        .limit(limit)
    )
    return [_event(r) for r in rows]


def get_cursor(conn: Connection, consumer: str) -> int:
    """The last event_id ``consumer`` applied (0 before its first)."""
    value = conn.execute(
        select(event_cursors.c.last_event_id).where(event_cursors.c.consumer == consumer)
    ).scalar()
    return int(value or 0)


def advance_cursor(conn: Connection, consumer: str, event_id: int) -> int:
    """Record that ``consumer`` applied every event up to ``event_id``; forward only.

    Call it in the same transaction as the consumer's own effect of the events (the OCS
    does it through the writer instead, see the module docstring). Returns the cursor
    after the call, which is larger than ``event_id`` if another run got further.
    """
    conn.execute(
        text(
            "INSERT INTO event_cursors (consumer, last_event_id, updated_at_us) "
            "VALUES (:consumer, :event_id, :at) ON CONFLICT (consumer) DO UPDATE SET "
            "last_event_id = excluded.last_event_id, updated_at_us = excluded.updated_at_us "
            "WHERE event_cursors.last_event_id < excluded.last_event_id"
        ),
        {"consumer": consumer, "event_id": event_id, "at": now_us()},
    )
    return get_cursor(conn, consumer)


def pending_amount(conn: Connection, account_id: int, consumer: str = OCS_CONSUMER) -> int:
    """Money events of an account that ``consumer`` has not applied yet (micro-units).

    ``accounts.balance + pending_amount`` is what the balance will be once the OCS has
    caught up: what a CLI "balance" command shows while the OCS is stopped.
    """
    total = conn.execute(
        select(func.sum(account_events.c.amount)).where(
            account_events.c.account_id == account_id,
            account_events.c.event_id > get_cursor(conn, consumer),
            account_events.c.kind.in_([k.value for k in MONEY_EVENTS]),
        )
    ).scalar()
    return int(total or 0)


def account_history(conn: Connection, account_id: int, *, limit: int) -> list[AccountEvent]:
    """The account's events, newest first, at most ``limit`` (``ocs account history``)."""
    rows = conn.execute(
        select(account_events)
        .where(account_events.c.account_id == account_id)
        .order_by(account_events.c.event_id.desc())
        .limit(limit)
    )
    return [_event(r) for r in rows]
