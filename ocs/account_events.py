"""Apply account events (the transactional outbox) to the running OCS, each exactly once.

What lives here: `apply_events`, synchronous: top-ups, adjustments and imported charges
become ADJUST postings; status and product changes update the ledger and directory;
and the sessions that must hear about it are named: a block or close aborts sessions
(ASR), a top-up, unblock or product change re-authorizes the rating groups that ran
out (RAR, gy-standards §3 items 3 and 11). What must not: SQL (`persist` reads the
events) or sending anything (`app` sends RAR/ASR).

Exactly once: every posting's cause is ``event:<id>`` and the caller writes the
postings together with the advanced ``ocs`` cursor in one commit (storage/README.md).
A replay after a crash finds the cursor behind the last applied event, or the cause
already applied in the ledger, never both missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rating.catalog import Catalog
from storage.records import MONEY_EVENTS, AccountStatus, EventKind, Posting

from .directory import Directory
from .ledger import Ledger
from .persist import EventContext, ledger_account, ledger_bucket, subscriber
from .sessions import CcSession, SessionTable

_STATUS = {
    EventKind.BLOCKED: AccountStatus.BLOCKED,
    EventKind.SUSPENDED: AccountStatus.SUSPENDED,
    EventKind.CLOSED: AccountStatus.CLOSED,
    EventKind.UNBLOCKED: AccountStatus.ACTIVE,
}


@dataclass(slots=True)
class EventEffects:
    postings: list[Posting] = field(default_factory=list)
    last_event_id: int = 0
    #: sessions to abort (ASR, RFC 6733 §8.5)
    abort: list[CcSession] = field(default_factory=list)
    #: sessions to re-authorize (RAR, RFC 8506 §5.5), with the rating groups concerned
    reauthorize: list[tuple[CcSession, tuple[int, ...]]] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)  #: event kind -> count


def apply_events(
    contexts: Sequence[EventContext],
    *,
    ledger: Ledger,
    directory: Directory,
    sessions: SessionTable,
    catalog: Catalog,
    now_us: int,
) -> EventEffects:
    effects = EventEffects()
    for context in contexts:
        event = context.event
        effects.last_event_id = max(effects.last_event_id, event.event_id)
        effects.applied[event.kind.value] = effects.applied.get(event.kind.value, 0) + 1
        account_id = event.account_id
        if event.kind in (EventKind.CREATED, EventKind.PRODUCT_CHANGED):
            _reload(context, ledger, directory, catalog)
            if event.kind is EventKind.PRODUCT_CHANGED:
                _reauthorize(sessions.of_account(account_id), effects, every_group=True)
            continue
        if account_id not in ledger:
            continue  # an event for an account this OCS never loaded (e.g. created before a reset)
        if event.kind in MONEY_EVENTS:
            amount = event.amount or 0
            effects.postings += ledger.adjust(
                account_id, amount, f"event:{event.event_id}", now_us=now_us
            )
            if amount > 0:
                _reauthorize(sessions.of_account(account_id), effects)
        elif event.kind in _STATUS:
            status = _STATUS[event.kind]
            ledger.set_status(account_id, status)
            if status is AccountStatus.ACTIVE:
                _reauthorize(sessions.of_account(account_id), effects)
            else:
                effects.abort += sessions.of_account(account_id)
    return effects


def _reload(context: EventContext, ledger: Ledger, directory: Directory, catalog: Catalog) -> None:
    account, product = context.account, context.product
    if account is None or product is None:
        return
    if account.account_id not in ledger:
        ledger.add_account(ledger_account(account, context.buckets))
    else:
        known = {b.bucket_id for b in ledger.account(account.account_id).buckets}
        for bucket in context.buckets:
            if bucket.bucket_id not in known:
                ledger.add_bucket(account.account_id, ledger_bucket(bucket))
    if product.tariff_plan in catalog.plans:
        directory.add(subscriber(account, product, catalog))


def _reauthorize(
    candidates: list[CcSession], effects: EventEffects, *, every_group: bool = False
) -> None:
    for session in candidates:
        groups = (
            set(session.rating_groups) | session.exhausted
            if every_group
            else set(session.exhausted)
        )
        if groups:
            effects.reauthorize.append((session, tuple(sorted(groups))))
