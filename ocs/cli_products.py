"""``ocs product list|show|create``: the products accounts are on.

What lives here: the product commands. Products come from the tariff catalog
(storage/catalog.py: they follow the active catalog by name, and one missing from a newly
loaded catalog is deleted). So ``product create`` does not insert a lone row, which the
next ``tariff load`` would delete: it appends a ``[[product]]`` table to the active
catalog's text and stores that as the new active catalog, exactly as if the operator had
edited the file and loaded it. What must not: tariff parsing (rating.plans).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ocs.cli import (
    ConfigOption,
    DbOption,
    JsonOption,
    _engine,
    _Failure,
    _money,
    _print_fields,
    _print_json,
    _print_list,
    _product_named,
    _product_specs,
    _reading,
    _reported,
    _usage,
    app,
)
from ocs.cli_catalog import _active
from rating.money import MoneyError, parse_decimal
from rating.plans import load_plans
from storage import catalog as catalog_store
from storage import queries
from storage.db import write_transaction
from storage.records import Product

product_app = typer.Typer(no_args_is_help=True, help="The products accounts are on.")
app.add_typer(product_app, name="product")

# --- products ------------------------------------------------------------------------------


def _product_view(p: Product, accounts: int) -> dict[str, Any]:
    return {
        "name": p.name,
        "plan": p.tariff_plan,
        "currency": p.currency,
        "recurring_fee": _money(p.recurring_fee, p.currency),
        "accounts": accounts,
        "bundles": [
            {
                "kind": b.kind.value,
                "units": b.units,
                "rating_group": b.rating_group,
                "validity_days": b.validity_days,
            }
            for b in p.bundles
        ],
    }


@product_app.command("list")
def product_list(
    db: DbOption = None, config_file: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """List products with their plan, fee, bundles and number of accounts."""
    with _reported():
        with _reading(db, config_file) as conn:
            counts = queries.accounts_per_product(conn)
            views = [
                _product_view(p, counts.get(p.product_id, 0)) for p in queries.list_products(conn)
            ]
        _print_list(
            "products",
            views,
            as_json,
            ["NAME", "PLAN", "CURRENCY", "FEE", "BUNDLES", "ACCOUNTS"],
            lambda v: [
                v["name"],
                v["plan"],
                v["currency"],
                v["recurring_fee"],
                len(v["bundles"]),
                v["accounts"],
            ],
            empty="no products: ocs tariff load FILE --apply (or ocs init --demo)",
        )


@product_app.command("show")
def product_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The product's name.")],
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a product: its tariff plan, recurring fee, bundles and accounts on it."""
    with _reported():
        with _reading(db, config_file) as conn:
            found = _product_named(conn, name)
            view = _product_view(found, queries.accounts_per_product(conn).get(found.product_id, 0))
        if as_json:
            _print_json(view)
            return
        _print_fields(
            (
                ("product", view["name"]),
                ("tariff plan", view["plan"]),
                ("currency", view["currency"]),
                ("recurring fee", f"{view['recurring_fee']} {view['currency']}"),
                ("accounts", view["accounts"]),
            )
        )
        for b in view["bundles"]:
            group = (
                "any rating group"
                if b["rating_group"] is None
                else f"rating group {b['rating_group']}"
            )
            typer.echo(
                f"{'bundle':<14}{b['kind']} {b['units']} ({group}, {b['validity_days']} days)"
            )


@product_app.command("create")
def product_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new product's name.")],
    plan_name: Annotated[
        str, typer.Option("--plan", metavar="PLAN", help="A tariff plan of the active catalog.")
    ],
    recurring_fee: Annotated[
        str, typer.Option("--recurring-fee", metavar="AMOUNT", help="Per period, e.g. 9.99.")
    ] = "0",
    period: Annotated[
        str, typer.Option("--period", metavar="day|week|month", help="The fee's period.")
    ] = "month",
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a product on an existing tariff plan to the active catalog.

    Products live in the tariff catalog, so this appends a [[product]] table to the
    active catalog's text and stores the result as the new active catalog (see
    ocs tariff show --text). Bundles are added by editing the file and ocs tariff load.
    """
    with _reported():
        if not name.strip():
            _usage("the product name must not be empty")
        try:
            fee = parse_decimal(recurring_fee)
        except MoneyError:
            _usage(
                f"recurring fee {recurring_fee!r} is not an amount: write a decimal such as 9.99"
            )
        info, catalog = _active(db, config_file)
        if name in catalog.products:
            raise _Failure(f"product {name!r} already exists in the catalog {info.source}")
        plan = catalog.plans.get(plan_name)
        if plan is None:
            raise _Failure(
                f"no plan {plan_name!r} in the active catalog (plans: {', '.join(sorted(catalog.plans))})"
            )
        table = (
            f"\n# added by ocs product create\n[[product]]\nname = {json.dumps(name)}\n"
            f"plan = {json.dumps(plan_name)}\ncurrency = {json.dumps(plan.currency.code)}\n"
            f"recurring_fee = {json.dumps(str(fee))}\nperiod = {json.dumps(period)}\n"
        )
        text = info.text if info.text.endswith("\n") else info.text + "\n"
        text += table
        new_catalog = load_plans(text, f"{info.source} + product {name}")
        specs = _product_specs(new_catalog)
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            stored = catalog_store.store_catalog(conn, info.source, text, products=specs)
            created = _product_named(conn, name)
        engine.dispose()
        view = _product_view(created, 0)
        if as_json:
            _print_json({**view, "catalog_sha256": stored.sha256})
            return
        typer.echo(
            f"created product {name} on plan {plan_name} (fee {view['recurring_fee']} "
            f"{view['currency']} per {period}); the active catalog is now sha256 "
            f"{stored.sha256[:12]}"
        )
