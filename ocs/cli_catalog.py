"""``ocs tariff load|show|price``: the tariff catalog and what it charges.

What lives here: ``tariff load`` (a dry run by default: what would change against the
active catalog; ``--apply`` stores it with the code of ``ocs catalog load``), ``tariff
show`` and ``tariff price`` (``rating.engine.price`` of one usage, as the OCS would
charge it). What must not: pricing arithmetic (rating/); products are ``cli_products``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import typer

from ocs.cli import (
    ConfigOption,
    DbOption,
    JsonOption,
    _engine,
    _Failure,
    _iso,
    _money,
    _print_json,
    _product_specs,
    _reading,
    _reported,
    _table,
    _usage,
    app,
)
from rating.catalog import Catalog
from rating.engine import price
from rating.errors import RatingError
from rating.plans import load_plans
from rating.tariff import TariffPlan, UnitPrice
from rating.units import TIME_UNITS, VOLUME_UNITS, UnitKind, Usage
from storage import catalog as catalog_store
from storage import queries
from storage.db import read_transaction, write_transaction
from storage.records import Product

tariff_app = typer.Typer(no_args_is_help=True, help="Load, inspect and try out the tariff catalog.")
app.add_typer(tariff_app, name="tariff")

#: the order in which a service's unit kind is looked for (as ocs.charging does)
_KINDS = (
    UnitKind.TOTAL_OCTETS,
    UnitKind.TIME,
    UnitKind.EVENT,
    UnitKind.SERVICE_SPECIFIC,
    UnitKind.INPUT_OCTETS,
    UnitKind.OUTPUT_OCTETS,
)
#: how a unit price is shown: per this many units, with this label
_PER = {
    UnitKind.TIME: (60, "min"),
    UnitKind.TOTAL_OCTETS: (1_000_000, "MB"),
    UnitKind.INPUT_OCTETS: (1_000_000, "MB"),
    UnitKind.OUTPUT_OCTETS: (1_000_000, "MB"),
    UnitKind.EVENT: (1, "event"),
    UnitKind.SERVICE_SPECIFIC: (1, "unit"),
}


def _read_tariffs(file: Path) -> tuple[str, Catalog]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _usage(f"cannot read tariff file {file}: {getattr(e, 'strerror', None) or e}")
    return text, load_plans(text, str(file))


def _unit_price(unit_price: UnitPrice, kind: UnitKind, code: str) -> str:
    per, label = _PER[kind]
    micros = Fraction(unit_price.numerator * per, unit_price.denominator)
    value = Decimal(micros.numerator) / Decimal(micros.denominator) / Decimal(1_000_000)
    shown = format(value.normalize(), "f") if value else "0"
    return f"{shown} {code}/{label}"


# --- tariff load ---------------------------------------------------------------------------


def _diff(catalog: Catalog, active: Catalog | None, stored: list[Product]) -> dict[str, Any]:
    """What storing ``catalog`` would change: plans and products added/changed/removed."""
    old_plans = dict(active.plans) if active else {}
    specs = {s.name: s for s in _product_specs(catalog)}
    rows = {p.name: p for p in stored}
    return {
        "plans_added": sorted(set(catalog.plans) - set(old_plans)),
        "plans_changed": sorted(
            n for n in catalog.plans if n in old_plans and catalog.plans[n] != old_plans[n]
        ),
        "plans_removed": sorted(set(old_plans) - set(catalog.plans)),
        "products_added": sorted(set(specs) - set(rows)),
        "products_updated": sorted(
            n
            for n, s in specs.items()
            if n in rows
            and (s.tariff_plan, s.currency, s.recurring_fee, s.bundles)
            != (
                rows[n].tariff_plan,
                rows[n].currency,
                rows[n].recurring_fee,
                rows[n].bundles,
            )
        ),
        "products_removed": sorted(set(rows) - set(specs)),
    }


@tariff_app.command("load")
def tariff_load(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The tariff file (TOML).")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Store it as the active catalog (default: dry run).")
    ] = False,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a tariff file and show what it changes; --apply makes it active.

    The dry run compares the file with the active catalog: plans and products added,
    changed and removed. With --apply the file and its products are stored in one
    transaction; a product some account is still on cannot be removed. A running OCS
    reads the catalog at start: restart it to price with the new one.
    """
    with _reported():
        text, catalog = _read_tariffs(file)
        specs = _product_specs(catalog)
        engine = _engine(db, config_file)
        with read_transaction(engine) as conn:
            info = catalog_store.active_catalog_info(conn)
            stored = queries.list_products(conn)
            in_use = queries.accounts_per_product(conn)
        active = load_plans(info.text, info.source) if info is not None else None
        diff = _diff(catalog, active, stored)
        same = info is not None and info.sha256 == catalog_store.catalog_sha256(text)
        stranded = {
            p.name: in_use[p.product_id]
            for p in stored
            if p.name in diff["products_removed"] and in_use.get(p.product_id)
        }
        out: dict[str, Any] = {
            "file": str(file),
            "active": info.source if info else None,
            "identical": same,
            **diff,
            "applied": False,
        }
        if apply and not stranded:
            with write_transaction(engine) as conn:
                result = catalog_store.store_catalog(conn, file.name, text, products=specs)
            out["applied"] = True
            out["sha256"] = result.sha256
        engine.dispose()
        if as_json:
            _print_json({**out, "blocked_by_accounts": stranded})
        else:
            where = f"the active catalog {info.source}" if info else "an empty catalog"
            typer.echo(f"{file} compared with {where}:")
            if same:
                typer.echo("  identical to the active catalog")
            for key, label in (
                ("plans_added", "plans added"),
                ("plans_changed", "plans changed"),
                ("plans_removed", "plans removed"),
                ("products_added", "products added"),
                ("products_updated", "products updated"),
                ("products_removed", "products removed"),
            ):
                if diff[key]:
                    typer.echo(f"  {label}: {', '.join(diff[key])}")
            if not same and not any(diff.values()):
                typer.echo("  same plans and products (the text differs)")
            if out["applied"]:
                typer.echo(
                    f"stored {file.name} as the active catalog; restart ocs serve to price with it"
                )
            elif same:
                typer.echo("nothing to do")
            elif not stranded:
                typer.echo("dry run: nothing stored; repeat with --apply to make it active")
        if stranded:
            on = ", ".join(f"{n} ({c} accounts)" for n, c in sorted(stranded.items()))
            raise _Failure(
                f"{'cannot apply' if apply else '--apply would be refused'}: accounts are "
                f"still on {on}; move them first with ocs account change-product"
            )


# --- tariff show ---------------------------------------------------------------------------


def _active(db: str | None, config_file: Path | None) -> tuple[catalog_store.CatalogInfo, Catalog]:
    with _reading(db, config_file) as conn:
        info = catalog_store.active_catalog_info(conn)
    if info is None:
        raise _Failure(
            "no tariff catalog is loaded: ocs tariff load FILE --apply (or ocs init --demo)"
        )
    return info, load_plans(info.text, info.source)


def _plan_view(plan: TariffPlan) -> dict[str, Any]:
    code = plan.currency.code
    return {
        "name": plan.name,
        "currency": code,
        "versions": [
            {
                "active_from": v.activation.isoformat(),
                "timezone": str(v.zone),
                "rounding": v.rounding.name.lower(),
                "bands": [b.name for b in v.bands],
                "services": [
                    {
                        "name": s.name,
                        "unit": s.kind.value,
                        "service_context_id": s.service_context_id,
                        "rating_group": s.rating_group,
                        "service_identifier": s.service_identifier,
                        "rates": [
                            {
                                "prefix": r.prefix,
                                "price": _unit_price(r.price, s.kind, code),
                                "intervals": f"{r.first_interval}/{r.next_interval}",
                                "connection_fee": _money(r.connection_fee, code),
                                "band_prices": {
                                    b: _unit_price(p, s.kind, code) for b, p in r.band_prices
                                },
                            }
                            for r in s.rates
                        ],
                    }
                    for s in v.services
                ],
            }
            for v in plan.versions
        ],
    }


@tariff_app.command("show")
def tariff_show(
    text: Annotated[bool, typer.Option("--text", help="Print the tariff file itself.")] = False,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the active catalog: its plans, their services and prices, and products."""
    with _reported():
        info, catalog = _active(db, config_file)
        if text:
            typer.echo(info.text, nl=False)
            return
        plans = [_plan_view(p) for p in catalog.plans.values()]
        products = sorted(catalog.products)
        if as_json:
            _print_json(
                {
                    "source": info.source,
                    "sha256": info.sha256,
                    "loaded_at": _iso(info.loaded_at_us),
                    "plans": plans,
                    "products": products,
                }
            )
            return
        typer.echo(
            f"active catalog: {info.source} (sha256 {info.sha256[:12]}, loaded "
            f"{_iso(info.loaded_at_us)})"
        )
        for plan in plans:
            for version in plan["versions"]:
                typer.echo(
                    f"\nplan {plan['name']} ({plan['currency']}), from {version['active_from']} "
                    f"({version['timezone']}, rounding {version['rounding']})"
                )
                rows: list[list[object]] = [
                    [
                        s["name"],
                        s["unit"],
                        s["service_context_id"] or "any",
                        "any" if s["rating_group"] is None else s["rating_group"],
                        r["prefix"] or "any",
                        r["price"],
                        r["intervals"],
                    ]
                    for s in version["services"]
                    for r in s["rates"]
                ]
                _table(["SERVICE", "UNIT", "CONTEXT", "RG", "DEST", "PRICE", "STEPS"], rows)
        typer.echo(f"\nproducts: {', '.join(products) or 'none'}")


# --- tariff price --------------------------------------------------------------------------


def _units(text: str, kind: UnitKind) -> int:
    """An integer, or a quantity in the service's units: "10MB", "5 min"."""
    raw = text.strip().replace("_", "")
    number = raw.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ").strip()
    suffix = raw[len(number) :].strip().upper()
    table = VOLUME_UNITS if kind.is_volume else TIME_UNITS if kind is UnitKind.TIME else {}
    scale = table.get(suffix) if suffix else 1
    if not number.isdigit() or scale is None:
        known = ", ".join(table) if table else "none: a plain count"
        _usage(f"--units {text!r} is not a whole number of {kind.value} units (suffixes: {known})")
    return int(number) * scale


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        _usage(f"--at {text!r} is not an ISO 8601 time such as 2025-01-31T18:30:00+01:00")
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@tariff_app.command("price")
def tariff_price(
    service: Annotated[
        str,
        typer.Option(
            "--service", metavar="CONTEXT", help="Service-Context-Id, e.g. 32251@3gpp.org (data)."
        ),
    ],
    units: Annotated[
        str,
        typer.Option(
            "--units", metavar="N", help="Usage: octets, seconds or events; or 10MB, 5min."
        ),
    ],
    rating_group: Annotated[
        int | None, typer.Option("--rating-group", metavar="N", min=0, help="Rating-Group.")
    ] = None,
    service_id: Annotated[
        int | None,
        typer.Option("--service-id", metavar="N", min=0, help="Service-Identifier."),
    ] = None,
    destination: Annotated[
        str | None,
        typer.Option("--destination", metavar="E164", help="Called number (voice)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", metavar="ISO", help="When the usage starts [default: now; UTC if no offset]."
        ),
    ] = None,
    plan_name: Annotated[
        str | None, typer.Option("--plan", metavar="NAME", help="Tariff plan to price with.")
    ] = None,
    product: Annotated[
        str | None,
        typer.Option("--product", metavar="NAME", help="Price with this product's plan."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", metavar="FILE", help="Price with a tariff file, not the active catalog."
        ),
    ] = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """What a usage costs, exactly as the OCS would charge it (before bundles).

    Without --plan or --product, the catalog's only plan is used.
    """
    with _reported():
        catalog = _read_tariffs(file)[1] if file is not None else _active(db, config_file)[1]
        if product is not None:
            if product not in catalog.products:
                raise _Failure(
                    f"no product {product!r} in the catalog (products: "
                    f"{', '.join(sorted(catalog.products)) or 'none'})"
                )
            plan_name = catalog.products[product].plan
        if plan_name is None:
            if len(catalog.plans) != 1:
                _usage(
                    f"the catalog has several plans: choose one with --plan ({', '.join(sorted(catalog.plans))})"
                )
            plan_name = next(iter(catalog.plans))
        plan = catalog.plans.get(plan_name)
        if plan is None:
            raise _Failure(
                f"no plan {plan_name!r} in the catalog (plans: {', '.join(sorted(catalog.plans))})"
            )
        start = _instant(at)
        digits = None
        if destination is not None:
            digits = destination.strip().removeprefix("+")
            if not (digits.isdigit() and len(digits) <= 15):
                _usage(f"--destination {destination!r} must be E.164 digits, optional leading +")
        try:
            tariff = plan.in_force(start)
            kind = next(
                (k for k in _KINDS if _selects(tariff, k, service, rating_group, service_id)),
                None,
            )
            if kind is None:
                raise _Failure(
                    f"plan {plan.name} prices nothing for service {service}"
                    + (f" rating group {rating_group}" if rating_group is not None else "")
                    + ": see ocs tariff show"
                )
            amount = _units(units, kind)
            result = price(
                plan,
                Usage(kind, amount, start, service, rating_group, service_id, digits),
            )
        except RatingError as e:
            raise _Failure(f"cannot price it: {e}") from None
        code = plan.currency.code
        view: dict[str, Any] = {
            "plan": plan.name,
            "currency": code,
            "service": result.service,
            "unit": kind.value,
            "units": amount,
            "charged_units": result.units,
            "amount": _money(result.amount, code),
            "connection_fee": _money(result.connection_fee, code),
            "prefix": result.prefix,
            "tariff_version": result.activation.isoformat(),
            "at": start.isoformat(),
            "segments": [
                {
                    "band": s.band,
                    "offset": s.offset,
                    "units": s.units,
                    "price": _unit_price(s.price, kind, code),
                    "amount": _money(s.amount, code),
                }
                for s in result.segments
            ],
        }
        if as_json:
            _print_json(view)
            return
        typer.echo(
            f"{view['amount']} {code} for {amount} {kind.value} units "
            f"(charged {result.units}) of service {result.service}, plan {plan.name} "
            f"version {view['tariff_version']}"
        )
        if digits is not None:
            typer.echo(f"destination {digits} matched prefix {result.prefix or '(any)'}")
        if result.connection_fee:
            typer.echo(f"connection fee {view['connection_fee']} {code}")
        for segment in view["segments"]:
            typer.echo(
                f"  {segment['units']} units at {segment['price']}"
                + (f" in band {segment['band']}" if segment["band"] else "")
                + f" = {segment['amount']} {code}"
            )


def _selects(
    tariff: Any, kind: UnitKind, context: str, group: int | None, service_id: int | None
) -> bool:
    try:
        tariff.select(
            kind, service_context_id=context, rating_group=group, service_identifier=service_id
        )
    except RatingError:
        return False
    return True
