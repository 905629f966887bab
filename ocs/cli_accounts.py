"""``ocs account`` beyond create/show/topup: the account lifecycle and its history.

What lives here: ``account list|adjust|block|unblock|suspend|close|change-product|history``.
What must not: balance writes. Every change is one
``storage.events`` call in one ``write_transaction``, so the account row (status,
product) and its account event commit together; a running OCS polls the events every
0.5 s and applies them: a block or close aborts the account's sessions with ASR, an
unblock or a credit re-authorizes exhausted sessions with RAR.

The conventions (exit codes, ``--json``, ``error:`` lines, amounts as decimal strings)
are those of ``ocs.cli``, whose helpers this module uses.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from ocs.cli import (
    ConfigOption,
    DbOption,
    JsonOption,
    _account_by_msisdn,
    _account_view,
    _amount,
    _engine,
    _event_json,
    _Failure,
    _iso,
    _key,
    _micros,
    _money,
    _msisdn,
    _print_json,
    _print_list,
    _product_named,
    _reading,
    _reported,
    _table,
    _usage,
    account_app,
)
from storage import events, queries
from storage.db import write_transaction
from storage.errors import IdempotencyConflict
from storage.records import Account, AccountStatus

MsisdnArg = Annotated[str, typer.Argument(metavar="MSISDN", help="The account's E.164 number.")]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="IDEMPOTENCY_KEY",
        help="Repeat the change safely: the same key is applied once [default: a new key].",
    ),
]
ReasonOption = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="Why (kept with the account event).")
]


def _account(conn: Connection, msisdn: str) -> Account:
    return _account_by_msisdn(conn, msisdn, ": check the number (ocs account list)")


def _conflict(key: str) -> _Failure:
    return _Failure(f"key {key} was already used for a different change; use a new key")


# --- account list --------------------------------------------------------------------------


@account_app.command("list")
def account_list(
    status: Annotated[
        str | None,
        typer.Option(
            "--status", metavar="STATUS", help="Only active, blocked, suspended or closed."
        ),
    ] = None,
    product: Annotated[
        str | None, typer.Option("--product", metavar="NAME", help="Only this product's.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="At most N accounts.")
    ] = 1000,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List accounts by MSISDN with status, product and balance.

    The balance includes top-ups recorded but not yet applied by the OCS.
    """
    with _reported():
        wanted = None
        if status is not None:
            try:
                wanted = AccountStatus(status.strip().lower())
            except ValueError:
                _usage(
                    f"status {status!r} is not one of " + ", ".join(s.value for s in AccountStatus)
                )
        with _reading(db, config_file) as conn:
            product_id = None if product is None else _product_named(conn, product).product_id
            found = queries.list_accounts(conn, status=wanted, product_id=product_id, limit=limit)
            names = {p.product_id: p.name for p in queries.list_products(conn)}
            rows = []
            for a in found:
                balance = a.balance + events.pending_amount(conn, a.account_id)
                rows.append(
                    {
                        "msisdn": a.msisdn,
                        "imsi": a.imsi,
                        "status": a.status.value,
                        "product": names.get(a.product_id),
                        "billing_mode": a.billing_mode.value,
                        "currency": a.currency,
                        "balance": _money(balance, a.currency),
                        "reserved": _money(a.reserved, a.currency),
                    }
                )
        _print_list(
            "accounts",
            rows,
            as_json,
            ["MSISDN", "IMSI", "STATUS", "PRODUCT", "MODE", "BALANCE", "RESERVED"],
            lambda r: [
                r["msisdn"],
                r["imsi"],
                r["status"],
                r["product"],
                r["billing_mode"],
                f"{r['balance']} {r['currency']}",
                r["reserved"],
            ],
            empty="no accounts" + ("" if wanted is None and product is None else " match"),
        )


# --- money: adjust -------------------------------------------------------------------------


@account_app.command(
    "adjust",
    # "-2.50" must reach AMOUNT rather than be read as an unknown option
    context_settings={"ignore_unknown_options": True},
)
def account_adjust(
    msisdn: MsisdnArg,
    amount: Annotated[
        str,
        typer.Argument(
            metavar="AMOUNT",
            help="Signed amount in the account currency: 2.50 credits, -2.50 debits.",
        ),
    ],
    reason: ReasonOption = "",
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Correct a balance by a signed amount, with a mandatory --reason.

    Like a top-up, it is an account event that the OCS applies exactly once (a credit
    that makes an exhausted session usable again is announced to its gateway with RAR).
    """
    with _reported():
        number = _msisdn(msisdn)
        value = _amount(amount, "amount")
        if value == 0:
            _usage("amount must not be zero")
        if not reason.strip():
            _usage("--reason is required: say why the balance is corrected")
        idempotency_key = _key(key, "adjust")
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            account = _account(conn, number)
            try:
                result = events.adjust(
                    conn,
                    number,
                    _micros(value, account.currency, "amount"),
                    idempotency_key,
                    reason=reason.strip(),
                )
            except IdempotencyConflict:
                raise _conflict(idempotency_key) from None
        view = _account_view(engine, number)
        engine.dispose()
        cur = view["currency"]
        shown = _money(result.event.amount or 0, cur)
        if as_json:
            _print_json(_event_json(number, result, idempotency_key, view))
            return
        if result.created:
            typer.echo(
                f"adjustment of {shown} {cur} recorded for {number} (event "
                f"{result.event.event_id}); balance {view['balance']} {cur}"
            )
        else:
            typer.echo(
                f"adjustment with key {idempotency_key} was already recorded as event "
                f"{result.event.event_id}; nothing changed"
            )


# --- status --------------------------------------------------------------------------------

_EFFECT = {
    AccountStatus.BLOCKED: "a running OCS aborts its sessions with ASR within a second",
    AccountStatus.SUSPENDED: "a running OCS refuses new credit from now on",
    AccountStatus.CLOSED: "a running OCS aborts its sessions with ASR within a second",
    AccountStatus.ACTIVE: "a running OCS grants credit again (RAR to exhausted sessions)",
}
_DONE = {
    AccountStatus.BLOCKED: "blocked",
    AccountStatus.SUSPENDED: "suspended",
    AccountStatus.CLOSED: "closed",
    AccountStatus.ACTIVE: "unblocked",
}


def _set_status(
    msisdn: str,
    status: AccountStatus,
    reason: str,
    key: str | None,
    db: str | None,
    config_file: Any,
    as_json: bool,
) -> None:
    with _reported():
        number = _msisdn(msisdn)
        idempotency_key = _key(key, _DONE[status])
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            account = _account(conn, number)
            try:
                result = events.set_status(
                    conn, number, status, idempotency_key, reason=reason.strip()
                )
            except IdempotencyConflict:
                raise _conflict(idempotency_key) from None
        engine.dispose()
        if as_json:
            _print_json(
                {
                    "msisdn": number,
                    "status": status.value,
                    "previous": account.status.value if result.created else None,
                    "event_id": result.event.event_id,
                    "idempotency_key": idempotency_key,
                    "created": result.created,
                }
            )
            return
        if not result.created:
            typer.echo(
                f"key {idempotency_key} was already recorded as event "
                f"{result.event.event_id}; nothing changed"
            )
            return
        typer.echo(
            f"account {number} {_DONE[status]} (was {account.status.value}; event "
            f"{result.event.event_id}); {_EFFECT[status]}"
        )


@account_app.command("block")
def account_block(
    msisdn: MsisdnArg,
    reason: ReasonOption = "",
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Block an account (operator bar): no service; its live sessions get ASR."""
    _set_status(msisdn, AccountStatus.BLOCKED, reason, key, db, config_file, as_json)


@account_app.command("unblock")
def account_unblock(
    msisdn: MsisdnArg,
    reason: ReasonOption = "",
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a blocked or suspended account active again."""
    _set_status(msisdn, AccountStatus.ACTIVE, reason, key, db, config_file, as_json)


@account_app.command("suspend")
def account_suspend(
    msisdn: MsisdnArg,
    reason: ReasonOption = "",
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend an account (e.g. for non-payment): no new credit until unblocked."""
    _set_status(msisdn, AccountStatus.SUSPENDED, reason, key, db, config_file, as_json)


@account_app.command("close")
def account_close(
    msisdn: MsisdnArg,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: closing is final and cannot be undone.")
    ] = False,
    reason: ReasonOption = "",
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close an account for good (needs --yes); its live sessions get ASR."""
    if not yes:
        with _reported():
            _usage(f"closing {msisdn} is final: repeat with --yes")
    _set_status(msisdn, AccountStatus.CLOSED, reason, key, db, config_file, as_json)


@account_app.command("change-product")
def account_change_product(
    msisdn: MsisdnArg,
    product: Annotated[
        str, typer.Argument(metavar="PRODUCT", help="The new product's name (ocs product list).")
    ],
    key: KeyOption = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move an account to another product of the same currency.

    A running OCS prices the account's next requests with the new product's plan and
    re-authorizes exhausted sessions with RAR.
    """
    with _reported():
        number = _msisdn(msisdn)
        idempotency_key = _key(key, "change-product")
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            account = _account(conn, number)
            target = _product_named(conn, product)
            before = queries.get_product(conn, product_id=account.product_id).name
            if target.product_id == account.product_id and key is None:
                raise _Failure(f"account {number} is already on product {target.name}")
            try:
                result = events.change_product(conn, number, target.name, idempotency_key)
            except IdempotencyConflict:
                raise _conflict(idempotency_key) from None
        engine.dispose()
        if as_json:
            _print_json(
                {
                    "msisdn": number,
                    "product": target.name,
                    "previous": before,
                    "event_id": result.event.event_id,
                    "created": result.created,
                }
            )
            return
        typer.echo(
            f"account {number} moved from product {before} to {target.name} "
            f"(event {result.event.event_id})"
        )


# --- history -------------------------------------------------------------------------------


@account_app.command("history")
def account_history(
    msisdn: MsisdnArg,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="The newest N entries.")
    ] = 50,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """What happened to an account, newest first: charges, holds and account events.

    Postings are the OCS's journal (reserve, commit, release, adjust); events are the
    changes made from outside (created, top-up, block, ...), with whether the OCS has
    applied them yet.
    """
    with _reported():
        number = _msisdn(msisdn)
        with _reading(db, config_file) as conn:
            account = _account(conn, number)
            cursor = events.get_cursor(conn, events.OCS_CONSUMER)
            postings = queries.account_postings(conn, account.account_id, limit=limit)
            changes = events.account_history(conn, account.account_id, limit=limit)
            names = {p.product_id: p.name for p in queries.list_products(conn)}
        cur = account.currency
        entries: list[tuple[int, int, dict[str, Any]]] = [
            (
                p.at_us,
                p.posting_id,
                {
                    "at": _iso_us(p.at_us),
                    "source": "posting",
                    "id": p.posting_id,
                    "kind": p.kind.value,
                    # bucket postings count units (octets, seconds, events), not money
                    "amount": str(p.amount) if p.bucket_id else _money(p.amount, cur),
                    "reserved": str(p.reserved) if p.bucket_id else _money(p.reserved, cur),
                    "bucket_id": p.bucket_id,
                    "session_id": p.session_id,
                    "rating_group": p.rating_group,
                    "cause": p.cause,
                    "overrun": p.overrun,
                },
            )
            for p in postings
        ]
        for e in changes:
            payload = json.loads(e.payload or "{}")
            for field in ("from", "to", "product_id"):
                if e.kind.value in ("product_changed", "created") and field in payload:
                    payload[field] = names.get(payload[field], payload[field])
            entries.append(
                (
                    e.created_at_us,
                    e.event_id,
                    {
                        "at": _iso_us(e.created_at_us),
                        "source": "event",
                        "id": e.event_id,
                        "kind": e.kind.value,
                        "amount": None if e.amount is None else _money(e.amount, cur),
                        "applied_by_ocs": e.event_id <= cursor,
                        "idempotency_key": e.idempotency_key,
                        "details": payload,
                    },
                )
            )
        entries.sort(key=lambda t: (t[0], t[2]["source"] == "event", t[1]), reverse=True)
        shown = [entry for _, _, entry in entries[:limit]]
        if as_json:
            _print_json({"msisdn": number, "currency": cur, "history": shown})
            return
        rows: list[list[object]] = []
        for h in shown:
            if h["source"] == "posting":
                what = f"{h['kind']}" + (" (overrun)" if h["overrun"] else "")
                unit = "units" if h["bucket_id"] else cur
                detail = " ".join(
                    part
                    for part in (
                        f"session {h['session_id']}" if h["session_id"] else "",
                        f"rg {h['rating_group']}" if h["rating_group"] is not None else "",
                        f"bucket {h['bucket_id']}" if h["bucket_id"] else "",
                        f"cause {h['cause']}" if h["cause"] and not h["session_id"] else "",
                    )
                    if part
                )
                rows.append(
                    [
                        h["at"],
                        f"posting {h['id']}",
                        what,
                        f"{h['amount']} {unit}",
                        h["reserved"],
                        detail,
                    ]
                )
            else:
                detail = ", ".join(f"{k}={v}" for k, v in sorted(h["details"].items()) if v)
                if not h["applied_by_ocs"]:
                    detail = ("not yet applied by the OCS; " + detail).rstrip("; ")
                amount = f"{h['amount']} {cur}" if h["amount"] is not None else None
                rows.append([h["at"], f"event {h['id']}", h["kind"], amount, None, detail])
        _table(
            ["TIME (UTC)", "ENTRY", "WHAT", "AMOUNT", "HELD", "DETAIL"],
            rows,
            empty=f"no history for {number}",
        )


def _iso_us(at_us: int) -> str | None:
    shown = _iso(at_us)
    return None if shown is None else shown.replace("+00:00", "Z")
