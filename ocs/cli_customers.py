"""``ocs customer create|list|show``: the billing parties that own accounts.

What lives here: the customer commands. A customer fixes the currency, billing mode
(prepaid, or postpaid with a credit limit) and tax class of its accounts; ``ocs account
create --customer-id`` attaches an account to one. What must not: account changes
(``cli_accounts``). Conventions: those of ``ocs.cli``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ocs.cli import (
    ConfigOption,
    DbOption,
    JsonOption,
    _amount,
    _customer,
    _engine,
    _micros,
    _money,
    _print_fields,
    _print_json,
    _print_list,
    _reading,
    _reported,
    _usage,
    app,
)
from rating.money import MoneyError, currency
from storage import queries
from storage.db import write_transaction
from storage.records import Account, BillingMode, Customer

customer_app = typer.Typer(
    no_args_is_help=True, help="Customers: the billing parties that own accounts."
)
app.add_typer(customer_app, name="customer")

# --- customers -----------------------------------------------------------------------------


def _customer_view(c: Customer, accounts: list[Account]) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "name": c.name,
        "currency": c.currency,
        "billing_mode": c.billing_mode.value,
        "credit_limit": _money(c.credit_limit, c.currency),
        "tax_class": c.tax_class,
        "accounts": [a.msisdn for a in accounts],
    }


@customer_app.command("create")
def customer_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The billing party's name.")],
    currency_code: Annotated[
        str, typer.Option("--currency", metavar="CODE", help="ISO 4217 code, e.g. EUR.")
    ],
    credit_limit: Annotated[
        str | None,
        typer.Option(
            "--credit-limit",
            metavar="AMOUNT",
            help="Makes the customer postpaid: its accounts may go this far below zero.",
        ),
    ] = None,
    tax_class: Annotated[
        str, typer.Option("--tax-class", metavar="CLASS", help="For billing.")
    ] = "standard",
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a customer; its accounts are billed in its currency.

    Attach accounts with: ocs account create MSISDN --product NAME --customer-id ID.
    """
    with _reported():
        if not name.strip():
            _usage("the customer name must not be empty")
        code = currency_code.strip().upper()
        try:
            currency(code)
        except MoneyError:
            _usage(f"currency {currency_code!r} is not an ISO 4217 code this OCS knows")
        limit = None
        if credit_limit is not None:
            limit = _micros(_amount(credit_limit, "credit limit"), code, "credit limit")
            if limit < 0:
                _usage(f"credit limit {credit_limit} must not be negative")
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            created = queries.create_customer(
                conn,
                name=name.strip(),
                currency=code,
                billing_mode=BillingMode.PREPAID if limit is None else BillingMode.POSTPAID,
                credit_limit=limit or 0,
                tax_class=tax_class.strip() or "standard",
            )
        engine.dispose()
        view = _customer_view(created, [])
        if as_json:
            _print_json(view)
            return
        typer.echo(
            f"created customer {created.customer_id} ({created.name}, {code}, "
            f"{view['billing_mode']})"
        )


@customer_app.command("list")
def customer_list(
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="At most N customers.")
    ] = 1000,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List customers with their billing mode and number of accounts."""
    with _reported():
        with _reading(db, config_file) as conn:
            views = [
                _customer_view(c, queries.list_accounts(conn, customer_id=c.customer_id))
                for c in queries.list_customers(conn, limit=limit)
            ]
        _print_list(
            "customers",
            views,
            as_json,
            ["ID", "NAME", "CURRENCY", "MODE", "CREDIT LIMIT", "ACCOUNTS"],
            lambda v: [
                v["customer_id"],
                v["name"],
                v["currency"],
                v["billing_mode"],
                v["credit_limit"],
                len(v["accounts"]),
            ],
            empty="no customers",
        )


@customer_app.command("show")
def customer_show(
    customer_id: Annotated[int, typer.Argument(metavar="ID", help="The customer id.")],
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a customer and the MSISDNs of its accounts."""
    with _reported():
        with _reading(db, config_file) as conn:
            found = _customer(conn, customer_id)
            view = _customer_view(found, queries.list_accounts(conn, customer_id=customer_id))
        if as_json:
            _print_json(view)
            return
        _print_fields(
            (
                ("customer", f"{view['customer_id']} {view['name']}"),
                ("currency", view["currency"]),
                ("billing", view["billing_mode"]),
                ("credit limit", f"{view['credit_limit']} {view['currency']}"),
                ("tax class", view["tax_class"]),
                ("accounts", ", ".join(view["accounts"]) or "none"),
            )
        )
