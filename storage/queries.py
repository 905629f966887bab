"""Small typed queries over a ``Connection``: catalog, accounts, buckets, recovery.

What lives here: create/get for customers, products (with their bundles), accounts and
buckets; ``load_state`` (what the OCS reloads after a restart) and ``verify_balances``
(the journal invariant, for tests and an operator check). What must not: transaction
control (callers use ``storage.db.write_transaction``/``read_transaction``), changes to an
existing account (those need an outbox row: ``storage.events``), or writes to balances
(only the group-commit writer moves ``balance``/``reserved``/``remaining``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from storage.errors import NotFound
from storage.records import (
    Account,
    AccountStatus,
    BillingMode,
    Bucket,
    BucketKind,
    Bundle,
    Customer,
    LoadedState,
    Posting,
    PostingKind,
    Product,
    SessionRow,
)
from storage.schema import (
    accounts,
    buckets,
    cc_sessions,
    customers,
    event_cursors,
    postings,
    product_bundles,
    products,
)


def now_us() -> int:
    return time.time_ns() // 1000


# --- customers and products ------------------------------------------------------------


def create_customer(
    conn: Connection,
    *,
    name: str,
    currency: str,
    billing_mode: BillingMode = BillingMode.PREPAID,
    credit_limit: int = 0,
    tax_class: str = "standard",
) -> Customer:
    customer_id = conn.execute(
        customers.insert()
        .values(
            name=name,
            currency=currency,
            billing_mode=billing_mode.value,
            credit_limit=credit_limit,
            tax_class=tax_class,
            created_at_us=now_us(),
        )
        .returning(customers.c.customer_id)
    ).scalar_one()
    return Customer(int(customer_id), name, currency, billing_mode, credit_limit, tax_class)


def get_customer(conn: Connection, customer_id: int) -> Customer:
    row = (
        conn.execute(select(customers).where(customers.c.customer_id == customer_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    return Customer(
        row["customer_id"],
        row["name"],
        row["currency"],
        BillingMode(row["billing_mode"]),
        row["credit_limit"],
        row["tax_class"],
    )


def create_product(
    conn: Connection,
    *,
    name: str,
    tariff_plan: str,
    currency: str,
    recurring_fee: int = 0,
    bundles: Sequence[Bundle] = (),
) -> Product:
    product_id = int(
        conn.execute(
            products.insert()
            .values(
                name=name,
                tariff_plan=tariff_plan,
                currency=currency,
                recurring_fee=recurring_fee,
            )
            .returning(products.c.product_id)
        ).scalar_one()
    )
    insert_bundles(conn, product_id, bundles)
    return Product(product_id, name, tariff_plan, currency, recurring_fee, tuple(bundles))


def insert_bundles(conn: Connection, product_id: int, bundles: Sequence[Bundle]) -> None:
    """Add ``bundles`` to a product's ``product_bundles`` rows (none: nothing is executed)."""
    if bundles:
        conn.execute(
            product_bundles.insert(),
            [
                {
                    "product_id": product_id,
                    "kind": b.kind.value,
                    "units": b.units,
                    "rating_group": b.rating_group,
                    "priority": b.priority,
                    "validity_days": b.validity_days,
                }
                for b in bundles
            ],
        )


def get_product(
    conn: Connection, *, product_id: int | None = None, name: str | None = None
) -> Product:
    """Look a product up by id or by its unique name."""
    if (product_id is None) == (name is None):
        raise TypeError("give exactly one of product_id, name")
    where = products.c.product_id == product_id if name is None else products.c.name == name
    row = conn.execute(select(products).where(where)).mappings().first()
    if row is None:
        raise NotFound(f"no product {name if product_id is None else product_id!r}")
    bundle_rows = conn.execute(
        select(product_bundles)
        .where(product_bundles.c.product_id == row["product_id"])
        .order_by(product_bundles.c.bundle_id)
    ).mappings()
    bundles = tuple(
        Bundle(
            BucketKind(b["kind"]), b["units"], b["rating_group"], b["priority"], b["validity_days"]
        )
        for b in bundle_rows
    )
    return Product(
        row["product_id"],
        row["name"],
        row["tariff_plan"],
        row["currency"],
        row["recurring_fee"],
        bundles,
    )


# --- accounts and buckets ----------------------------------------------------------------

_ACCOUNT_COLUMNS = (
    accounts.c.account_id,
    accounts.c.msisdn,
    accounts.c.imsi,
    accounts.c.status,
    accounts.c.product_id,
    accounts.c.customer_id,
    accounts.c.currency,
    accounts.c.balance,
    accounts.c.reserved,
    customers.c.billing_mode,
    customers.c.credit_limit,
)
_account_select = select(*_ACCOUNT_COLUMNS).join_from(
    accounts, customers, accounts.c.customer_id == customers.c.customer_id
)


def _account(row: Any) -> Account:
    return Account(
        row.account_id,
        row.msisdn,
        row.imsi,
        AccountStatus(row.status),
        row.product_id,
        row.customer_id,
        row.currency,
        row.balance,
        row.reserved,
        BillingMode(row.billing_mode),
        row.credit_limit,
    )


def insert_account(
    conn: Connection, *, msisdn: str, customer_id: int, product_id: int, imsi: str | None = None
) -> int:
    """Insert an account row (balance 0) and return its id.

    Use ``storage.events.create_account``, which also writes the ``created`` event; this
    lower-level insert exists for it and for bulk loads that publish events themselves.
    The currency is the customer's: an account is charged in the currency it is billed in.
    """
    currency = get_customer(conn, customer_id).currency
    return int(
        conn.execute(
            accounts.insert()
            .values(
                msisdn=msisdn,
                imsi=imsi,
                status=AccountStatus.ACTIVE.value,
                product_id=product_id,
                customer_id=customer_id,
                currency=currency,
                balance=0,
                reserved=0,
                created_at_us=now_us(),
            )
            .returning(accounts.c.account_id)
        ).scalar_one()
    )


def get_account(conn: Connection, account_id: int) -> Account:
    row = conn.execute(_account_select.where(accounts.c.account_id == account_id)).first()
    if row is None:
        raise NotFound(f"no account with id {account_id}")
    return _account(row)


def get_account_by_msisdn(conn: Connection, msisdn: str) -> Account:
    row = conn.execute(_account_select.where(accounts.c.msisdn == msisdn)).first()
    if row is None:
        raise NotFound(f"no account with MSISDN {msisdn}")
    return _account(row)


def get_account_by_imsi(conn: Connection, imsi: str) -> Account:
    row = conn.execute(_account_select.where(accounts.c.imsi == imsi)).first()
    if row is None:
        raise NotFound(f"no account with IMSI {imsi}")
    return _account(row)


def create_bucket(
    conn: Connection,
    *,
    account_id: int,
    kind: BucketKind,
    units: int,
    valid_from_us: int,
    valid_until_us: int,
    rating_group: int | None = None,
    priority: int = 0,
) -> Bucket:
    """Create a unit bucket holding ``units`` (its ``initial``; postings move it after).

    Buckets are created with the account (from its product's bundles) or by a bundle
    renewal; the OCS learns about them with the account's ``created`` or
    ``product_changed`` event, recorded by the caller in the same transaction.
    """
    bucket_id = int(
        conn.execute(
            buckets.insert()
            .values(
                account_id=account_id,
                kind=kind.value,
                initial=units,
                remaining=units,
                reserved=0,
                rating_group=rating_group,
                priority=priority,
                valid_from_us=valid_from_us,
                valid_until_us=valid_until_us,
            )
            .returning(buckets.c.bucket_id)
        ).scalar_one()
    )
    return Bucket(
        bucket_id,
        account_id,
        kind,
        units,
        units,
        0,
        rating_group,
        priority,
        valid_from_us,
        valid_until_us,
    )


def _bucket(row: Any) -> Bucket:
    return Bucket(
        row.bucket_id,
        row.account_id,
        BucketKind(row.kind),
        row.initial,
        row.remaining,
        row.reserved,
        row.rating_group,
        row.priority,
        row.valid_from_us,
        row.valid_until_us,
    )


def get_buckets(conn: Connection, account_id: int) -> list[Bucket]:
    """An account's buckets in consumption order: priority, then soonest expiry."""
    rows = conn.execute(
        select(buckets)
        .where(buckets.c.account_id == account_id)
        .order_by(buckets.c.priority, buckets.c.valid_until_us, buckets.c.bucket_id)
    )
    return [_bucket(r) for r in rows]


# --- recovery -----------------------------------------------------------------------------


def load_state(conn: Connection) -> LoadedState:
    """Everything the OCS rebuilds its ledger from after a (crash) restart.

    Read it in one transaction (``storage.db.read_transaction``) before starting the
    writer, so balances, sessions, the posting counter and the ``ocs`` event cursor are
    one consistent snapshot. Then apply the events after ``cursors["ocs"]``.
    """
    account_list = [
        _account(r) for r in conn.execute(_account_select.order_by(accounts.c.account_id))
    ]
    bucket_list = [_bucket(r) for r in conn.execute(select(buckets).order_by(buckets.c.bucket_id))]
    sessions = [
        SessionRow(
            r.session_id,
            r.rating_group,
            r.account_id,
            r.state,
            r.request_number,
            r.origin_host,
            r.reserved,
            r.bucket_id,
            r.bucket_reserved,
            r.granted_units,
            r.expires_at_us,
            r.updated_at_us,
            r.used_units,
            r.started_at_us,
            r.bucket_holds,
        )
        for r in conn.execute(
            select(cc_sessions).order_by(cc_sessions.c.session_id, cc_sessions.c.rating_group)
        )
    ]
    max_posting = conn.execute(select(func.max(postings.c.posting_id))).scalar()
    cursors = {r.consumer: int(r.last_event_id) for r in conn.execute(select(event_cursors))}
    return LoadedState(account_list, bucket_list, sessions, int(max_posting or 0), cursors)


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account_id: int
    bucket_id: int | None  #: None: the money balance
    column: str  #: "balance"/"remaining" or "reserved"
    stored: int
    from_journal: int  #: opening amount + sum of postings


def verify_balances(conn: Connection) -> list[BalanceMismatch]:
    """Check DESIGN.md's invariant: every balance equals opening + sum of its postings.

    Accounts open at 0 and buckets at ``initial``; an empty list means consistent.
    """
    money = (
        select(
            postings.c.account_id,
            func.sum(postings.c.amount).label("amount"),
            func.sum(postings.c.reserved).label("reserved"),
        )
        .where(postings.c.bucket_id.is_(None))
        .group_by(postings.c.account_id)
        .subquery()
    )
    units = (
        select(
            postings.c.bucket_id,
            func.sum(postings.c.amount).label("amount"),
            func.sum(postings.c.reserved).label("reserved"),
        )
        .where(postings.c.bucket_id.is_not(None))
        .group_by(postings.c.bucket_id)
        .subquery()
    )
    found: list[BalanceMismatch] = []
    for account_id, balance, reserved, j_amount, j_reserved in conn.execute(
        select(
            accounts.c.account_id,
            accounts.c.balance,
            accounts.c.reserved,
            money.c.amount,
            money.c.reserved,
        ).join_from(accounts, money, accounts.c.account_id == money.c.account_id, isouter=True)
    ):
        if balance != int(j_amount or 0):
            found.append(BalanceMismatch(account_id, None, "balance", balance, int(j_amount or 0)))
        if reserved != int(j_reserved or 0):
            found.append(
                BalanceMismatch(account_id, None, "reserved", reserved, int(j_reserved or 0))
            )
    for account_id, bucket_id, initial, remaining, reserved, j_amount, j_reserved in conn.execute(
        select(
            buckets.c.account_id,
            buckets.c.bucket_id,
            buckets.c.initial,
            buckets.c.remaining,
            buckets.c.reserved,
            units.c.amount,
            units.c.reserved,
        ).join_from(buckets, units, buckets.c.bucket_id == units.c.bucket_id, isouter=True)
    ):
        if remaining != initial + int(j_amount or 0):
            found.append(
                BalanceMismatch(
                    account_id, bucket_id, "remaining", remaining, initial + int(j_amount or 0)
                )
            )
        if reserved != int(j_reserved or 0):
            found.append(
                BalanceMismatch(account_id, bucket_id, "reserved", reserved, int(j_reserved or 0))
            )
    return found


# --- listings for the operator CLI (``ocs account list``, ``account history``, ...) ----------


def list_accounts(
    conn: Connection,
    *,
    status: AccountStatus | None = None,
    product_id: int | None = None,
    customer_id: int | None = None,
    limit: int | None = None,
) -> list[Account]:
    """Accounts by MSISDN, optionally filtered; at most ``limit``."""
    query = _account_select.order_by(accounts.c.msisdn)
    if status is not None:
        query = query.where(accounts.c.status == status.value)
    if product_id is not None:
        query = query.where(accounts.c.product_id == product_id)
    if customer_id is not None:
        query = query.where(accounts.c.customer_id == customer_id)
    if limit is not None:
        query = query.limit(limit)
    return [_account(row) for row in conn.execute(query)]


def list_customers(conn: Connection, *, limit: int | None = None) -> list[Customer]:
    """Customers by id, at most ``limit``."""
    query = select(customers).order_by(customers.c.customer_id)
    if limit is not None:
        query = query.limit(limit)
    return [
        Customer(
            row.customer_id,
            row.name,
            row.currency,
            BillingMode(row.billing_mode),
            row.credit_limit,
            row.tax_class,
        )
        for row in conn.execute(query)
    ]


def list_products(conn: Connection) -> list[Product]:
    """Every product with its bundles, by name."""
    ids = conn.execute(select(products.c.product_id).order_by(products.c.name)).scalars()
    return [get_product(conn, product_id=int(product_id)) for product_id in list(ids)]


def accounts_per_product(conn: Connection) -> dict[int, int]:
    """product_id -> how many accounts are on it (products without accounts are absent)."""
    rows = conn.execute(select(accounts.c.product_id, func.count()).group_by(accounts.c.product_id))
    return {int(product_id): int(count) for product_id, count in rows}


def account_postings(conn: Connection, account_id: int, *, limit: int) -> list[Posting]:
    """The account's journal lines, newest first, at most ``limit``.

    ``postings`` has no index on ``account_id`` (it would halve the commit rate, see
    README "Measured"), so this scans the journal: an operator query, not a hot path.
    """
    rows = conn.execute(
        select(postings)
        .where(postings.c.account_id == account_id)
        .order_by(postings.c.posting_id.desc())
        .limit(limit)
    )
    return [
        Posting(
            int(row.posting_id),
            int(row.account_id),
            PostingKind(row.kind),
            int(row.amount),
            int(row.reserved),
            row.bucket_id,
            row.session_id,
            row.rating_group,
            int(row.at_us),
            row.cause,
            bool(row.overrun),
        )
        for row in rows
    ]
