"""The ``ocs`` command: set up the database, manage accounts, run and check the server.

What lives here: the typer ``app`` and ``main()`` (the console script); ``init``
(schema, and the demo catalog and accounts), ``account create|show|topup``, ``catalog
load|show``, ``serve`` and ``config check``, and the helpers every command shares. The
other groups register themselves from their modules, imported at the end:
``cli_accounts`` (the account lifecycle), ``cli_customers``, ``cli_catalog`` (tariff),
``cli_products``, ``cli_live`` (session, peer, status: the running server, through
``ocs.admin``) and ``cli_decode``. What must not: charging logic (the OCS owns
balances: money from here is written as account events, storage/README "Account events
and top-ups"), or SQL beyond calling ``storage`` (this module may import SQLAlchemy for
its error types only).

Conventions every command follows:

- The database URL comes from ``--db``, else ``OCS_DB``, else the config file
  (``--config``/``OCS_CONFIG``), else ``sqlite:///ocs.db``: the precedence of
  ``ocs.config.load_config``.
- Exit status 0: done; 1: the operation failed (unknown MSISDN or product, duplicate,
  database unreachable); 2: bad usage (a malformed amount, MSISDN or configuration).
  Failures print one line, ``error: ...``, on stderr and never a traceback.
- ``--json`` prints one JSON object on stdout and nothing else there. Amounts in JSON are
  decimal strings in the account currency ("10.00", or more digits when the micro-units
  need them), never numbers, so no consumer reads them as binary floats.
- A balance shown here is the SQL balance (what the OCS committed) plus the top-ups and
  adjustments recorded but not yet applied by the OCS; the ``pending`` field says how much
  of it that is. So a top-up shows at once, whether or not the OCS is running.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import Connection, Engine, exc, select
from sqlalchemy.engine import make_url

from ocs import demo
from ocs.config import ConfigError, OcsConfig, load_config, resolve_config, settings, unknown_env
from rating.catalog import Catalog
from rating.errors import PlanError
from rating.money import MoneyError, Rounding, currency, from_micros, parse_decimal, to_micros
from rating.plans import load_plans
from rating.units import UnitKind
from storage import catalog as catalog_store
from storage import events, migrations, queries
from storage.db import create_engine, describe, read_transaction, write_transaction
from storage.errors import (
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    SchemaError,
    StorageUnavailable,
)
from storage.events import EventResult
from storage.records import Account, BillingMode, BucketKind, Bundle, Customer, Product
from storage.schema import products as products_table

log = logging.getLogger(__name__)

app = typer.Typer(
    name="ocs",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="MVNO Online Charging System: Diameter Gy/Ro credit control.\n\n"
    "First run: ocs init --demo, then ocs serve.",
)
account_app = typer.Typer(no_args_is_help=True, help="Create, inspect and top up accounts.")
catalog_app = typer.Typer(no_args_is_help=True, help="Load and show the tariff catalog.")
config_app = typer.Typer(no_args_is_help=True, help="Check the server configuration.")
app.add_typer(account_app, name="account")
app.add_typer(catalog_app, name="catalog")
app.add_typer(config_app, name="config")

EXIT_FAILED = 1
EXIT_USAGE = 2


class _Failure(Exception):
    """A user-facing failure: one line on stderr and an exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _usage(message: str) -> NoReturn:
    raise _Failure(message, EXIT_USAGE)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn every expected error into one ``error:`` line and the exit status."""
    try:
        yield
    except _Failure as e:
        _exit(str(e), e.code)
    except ConfigError as e:
        _exit(str(e), EXIT_USAGE)
    except PlanError as e:
        _exit(str(e), EXIT_USAGE)
    except (StorageUnavailable, NotFound, IdempotencyConflict, InvalidRequest, SchemaError) as e:
        _exit(str(e), EXIT_FAILED)


def _exit(message: str, code: int) -> NoReturn:
    for line in message.splitlines() or [message]:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


# --- shared options --------------------------------------------------------------------------

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        show_default=False,
        help="Database URL: sqlite:///path.db or postgresql://user@host/db "
        "[default: OCS_DB, the config file, else sqlite:///ocs.db]",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        envvar="OCS_CONFIG",
        show_default=False,
        help="TOML configuration file (see ocs config check)",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _config(config_file: Path | None, overrides: Mapping[str, object]) -> OcsConfig:
    return load_config(config_file, os.environ, overrides)


def _engine(db: str | None, config_file: Path | None, *, must_exist: bool = True) -> Engine:
    url = _config(config_file, {"database.url": db}).database.url
    try:
        engine = create_engine(url)
    except ValueError as e:  # unsupported scheme
        _usage(str(e))
    if must_exist:
        # SQLite creates a missing file on connect: a typo in --db would silently give an
        # empty database. Only `ocs init` may create one.
        database = make_url(url).database
        if (
            engine.dialect.name == "sqlite"
            and database not in (None, "", ":memory:")
            and not Path(str(database)).exists()
        ):
            raise _Failure(
                f"database file {database} does not exist: check --db/OCS_DB, "
                "or create it with: ocs init --db " + url
            )
        with read_transaction(engine) as conn:
            version = migrations.current_version(conn)
        where = describe(engine)
        if version == 0:
            raise _Failure(f"database {where} has no OCS schema: run ocs init --db {where}")
        if version < migrations.LATEST:
            raise _Failure(
                f"database {where} has schema version {version}, this ocs needs "
                f"{migrations.LATEST}: upgrade it with ocs init --db {where}"
            )
        if version > migrations.LATEST:
            raise _Failure(
                f"database {where} has schema version {version}, newer than this "
                f"ocs ({migrations.LATEST}): upgrade the software"
            )
    return engine


@contextmanager
def _reading(db: str | None, config_file: Path | None) -> Iterator[Connection]:
    """A read transaction on the database of --db/--config; the engine is closed after."""
    engine = _engine(db, config_file)
    try:
        with read_transaction(engine) as conn:
            yield conn
    finally:
        engine.dispose()


def _account_by_msisdn(conn: Connection, msisdn: str, hint: str = "") -> Account:
    """The account of ``msisdn``, or a failure ``no account with MSISDN ...`` + ``hint``."""
    try:
        return queries.get_account_by_msisdn(conn, msisdn)
    except NotFound:
        raise _Failure(f"no account with MSISDN {msisdn}{hint}") from None


def _key(key: str | None, what: str) -> str:
    """The --key given (not blank), else a new idempotency key ``cli:WHAT:...``."""
    if key is not None and not key.strip():
        _usage("--key must not be empty")
    return key or f"cli:{what}:{uuid.uuid4().hex}"


def _customer(conn: Connection, customer_id: int) -> Customer:
    try:
        return queries.get_customer(conn, customer_id)
    except NotFound:
        raise _Failure(f"no customer with id {customer_id}: see ocs customer list") from None


# --- money at the edge -------------------------------------------------------------------


def _amount(text: str, what: str) -> Decimal:
    """A decimal amount typed by the operator (its currency is checked later)."""
    try:
        value = parse_decimal(text)
    except MoneyError:
        _usage(f"{what} {text!r} is not an amount: write a decimal such as 10.50")
    return value


def _micros(amount: Decimal, currency_code: str, what: str) -> int:
    """Exact micro-units of ``amount``; refuses more decimals than the currency has."""
    cur = currency(currency_code)
    if amount != amount.quantize(Decimal(1).scaleb(-cur.minor_units)):
        _usage(f"{what} {amount} has more decimals than {cur.code} allows ({cur.minor_units})")
    return to_micros(amount, Rounding.HALF_EVEN)


def _money(micros: int, currency_code: str) -> str:
    """A decimal string with the currency's minor digits, more when micro-units need them."""
    value = from_micros(micros)
    shown = value.quantize(Decimal(1).scaleb(-currency(currency_code).minor_units))
    return str(shown) if shown == value else format(value.normalize(), "f")


def _msisdn(text: str) -> str:
    digits = text.strip().removeprefix("+")
    if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15):
        _usage(f"MSISDN {text!r} must be an E.164 number: 6 to 15 digits, optional leading +")
    return digits


def _imsi(text: str) -> str:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15):
        _usage(f"IMSI {text!r} must be 6 to 15 digits (MCC, MNC, MSIN)")
    return digits


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _table(headers: list[str], rows: list[list[object]], *, empty: str = "(none)") -> None:
    """A plain left-aligned table; None prints as '-'. ``empty`` when there are no rows."""
    if not rows:
        typer.echo(empty)
        return
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for line in [headers, *cells]:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def _print_list(
    key: str,
    views: list[dict[str, Any]],
    as_json: bool,
    headers: list[str],
    cells: Callable[[dict[str, Any]], list[object]],
    *,
    empty: str,
) -> None:
    """What a list command prints: ``{key: views}`` as JSON, else a table of ``cells``."""
    if as_json:
        _print_json({key: views})
        return
    _table(headers, [cells(v) for v in views], empty=empty)


def _print_fields(fields: Iterable[tuple[str, object]]) -> None:
    """What a show command prints: one ``label  value`` line each, labels aligned."""
    for label, value in fields:
        typer.echo(f"{label:<14}{value}")


def _event_json(
    msisdn: str, result: EventResult, idempotency_key: str, view: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON of a money event (top-up, adjustment) with the account's new balance."""
    return {
        "msisdn": msisdn,
        "amount": _money(result.event.amount or 0, view["currency"]),
        "currency": view["currency"],
        "event_id": result.event.event_id,
        "idempotency_key": idempotency_key,
        "created": result.created,
        "balance": view["balance"],
        "pending": view["pending"],
    }


# --- init ----------------------------------------------------------------------------------


@app.command()
def init(
    db: DbOption = None,
    config_file: ConfigOption = None,
    with_demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also load the demo catalog (product 'demo') and demo accounts 491700000001-3.",
        ),
    ] = False,
) -> None:
    """Create or upgrade the database schema (safe to run again).

    Creates the SQLite file (its directory must exist) or the tables in the PostgreSQL
    database of the URL, or upgrades an older schema. With --demo, also stores the demo
    tariff catalog and accounts; running it again adds nothing.
    """
    with _reported():
        engine = _engine(db, config_file, must_exist=False)
        with read_transaction(engine) as conn:
            before = migrations.current_version(conn)
        applied = migrations.migrate(engine)
        where = describe(engine)
        if not applied:
            typer.echo(f"schema of {where} is up to date (version {before}); nothing to do")
        elif before == 0:
            typer.echo(f"created the OCS schema (version {migrations.LATEST}) in {where}")
        else:
            typer.echo(
                f"upgraded the schema of {where} from version {before} to {migrations.LATEST}"
            )
        if with_demo:
            for line in _load_demo(engine):
                typer.echo(line)
            typer.echo(f"next: ocs serve --db {where}")
        engine.dispose()


def _load_demo(engine: Engine) -> list[str]:
    catalog = load_plans(demo.DEMO_TARIFFS, demo.DEMO_SOURCE)
    out: list[str] = []
    with write_transaction(engine) as conn:
        active = catalog_store.active_catalog_info(conn)
        if active is not None and active.sha256 != catalog_store.catalog_sha256(demo.DEMO_TARIFFS):
            raise _Failure(
                f"this database already uses tariff catalog {active.source}; "
                "--demo would replace it (use ocs catalog load to change it)"
            )
        stored = catalog_store.store_catalog(
            conn, demo.DEMO_SOURCE, demo.DEMO_TARIFFS, products=_product_specs(catalog)
        )
        out.append(
            f"stored the demo catalog ({demo.DEMO_SOURCE}), product {demo.DEMO_PRODUCT!r}"
            if stored.changed
            else "the demo catalog is already stored and active"
        )
        product = queries.get_product(conn, name=demo.DEMO_PRODUCT)
        created, existing = [], []
        for spec in demo.DEMO_ACCOUNTS:
            try:
                queries.get_account_by_msisdn(conn, spec.msisdn)
                existing.append(spec.msisdn)
                continue
            except NotFound:
                pass
            balance = _micros(_amount(spec.balance, "balance"), product.currency, "balance")
            limit = (
                None
                if spec.credit_limit is None
                else _micros(
                    _amount(spec.credit_limit, "credit limit"), product.currency, "credit limit"
                )
            )
            # Fixed keys: a second run, or one that races this one, writes nothing twice.
            _create_account(
                conn,
                msisdn=spec.msisdn,
                imsi=spec.imsi,
                product_id=product.product_id,
                currency_code=product.currency,
                customer=spec.customer,
                balance=balance,
                credit_limit=limit,
                key=f"demo:{spec.msisdn}",
            )
            mode = "prepaid" if limit is None else f"postpaid, credit limit {spec.credit_limit}"
            created.append(f"{spec.msisdn} ({spec.balance} {product.currency}, {mode})")
    if created:
        out.append("created demo accounts: " + "; ".join(created))
    if existing:
        out.append("demo accounts already present: " + ", ".join(existing))
    return out


#: storage keeps unit buckets of three kinds; rating distinguishes the octet directions
_BUCKET_KINDS = {
    UnitKind.TOTAL_OCTETS: BucketKind.DATA,
    UnitKind.INPUT_OCTETS: BucketKind.DATA,
    UnitKind.OUTPUT_OCTETS: BucketKind.DATA,
    UnitKind.TIME: BucketKind.VOICE,
    UnitKind.EVENT: BucketKind.SMS,
}


def _product_specs(catalog: Catalog) -> list[catalog_store.ProductSpec]:
    """The products of a parsed catalog as the plain rows storage keeps."""
    specs = []
    for product in catalog.products.values():
        bundles = []
        for bundle in product.bundles:
            kind = _BUCKET_KINDS.get(bundle.kind)
            where = f"bundle {bundle.name!r} of product {product.name!r}"
            if kind is None:
                _usage(
                    f"{where}: {bundle.kind.value} bundles cannot be stored yet "
                    "(data, voice and event bundles can)"
                )
            if len(bundle.rating_groups) > 1:
                # One product_bundles row serves one rating group or all of them; two
                # rows would grant the amount twice.
                _usage(
                    f"{where}: a bundle for several rating groups "
                    f"{sorted(bundle.rating_groups)} cannot be stored yet; use one "
                    "rating group or all"
                )
            group = next(iter(bundle.rating_groups), None)
            bundles.append(Bundle(kind, bundle.amount, group, 0, bundle.validity_days))
        specs.append(
            catalog_store.ProductSpec(
                product.name,
                product.plan,
                product.currency.code,
                product.recurring_fee,
                tuple(bundles),
            )
        )
    return specs


# --- catalog ---------------------------------------------------------------------------------


@catalog_app.command("load")
def catalog_load(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The tariff file (TOML).")],
    db: DbOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Validate a tariff file and make it the active catalog, with its products.

    Products missing from the file are deleted unless an account is on one (then nothing
    changes). The OCS reads the catalog at start: restart it to price with the new one.
    """
    with _reported():
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            _usage(f"cannot read tariff file {file}: {getattr(e, 'strerror', None) or e}")
        specs = _product_specs(load_plans(text, str(file)))
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            stored = catalog_store.store_catalog(conn, file.name, text, products=specs)
        if not stored.changed:
            typer.echo(f"catalog {file.name} is already active; nothing changed")
        else:
            typer.echo(f"catalog {file.name} is active (sha256 {stored.sha256[:12]})")
        for label, names in (
            ("added", stored.products_added),
            ("updated", stored.products_updated),
            ("removed", stored.products_removed),
        ):
            if names:
                typer.echo(f"products {label}: {', '.join(names)}")
        engine.dispose()


@catalog_app.command("show")
def catalog_show(
    db: DbOption = None,
    config_file: ConfigOption = None,
    text: Annotated[bool, typer.Option("--text", help="Print the tariff file itself.")] = False,
) -> None:
    """Show the active catalog and its products."""
    with _reported():
        with _reading(db, config_file) as conn:
            info = catalog_store.active_catalog_info(conn)
            names = list(
                conn.execute(
                    select(products_table.c.name).order_by(products_table.c.name)
                ).scalars()
            )
        if info is None:
            raise _Failure(
                "no tariff catalog is loaded: ocs catalog load FILE (or ocs init --demo)"
            )
        if text:
            typer.echo(info.text, nl=False)
            return
        loaded = _iso(info.loaded_at_us)
        typer.echo(f"active catalog: {info.source} (sha256 {info.sha256[:12]}, loaded {loaded})")
        typer.echo(f"products: {', '.join(names) or 'none'}")


# --- accounts --------------------------------------------------------------------------------


def _create_account(
    conn: Connection,
    *,
    msisdn: str,
    imsi: str | None,
    product_id: int,
    currency_code: str,
    customer: str,
    balance: int,
    credit_limit: int | None,
    key: str,
    customer_id: int | None = None,
) -> Account:
    """Customer (new, or ``customer_id``), account and initial top-up, in one transaction."""
    if customer_id is not None:
        cust = _customer(conn, customer_id)
        if cust.currency != currency_code:
            raise _Failure(
                f"customer {customer_id} is billed in {cust.currency}, the product is "
                f"priced in {currency_code}"
            )
    else:
        mode = BillingMode.PREPAID if credit_limit is None else BillingMode.POSTPAID
        cust = queries.create_customer(
            conn,
            name=customer,
            currency=currency_code,
            billing_mode=mode,
            credit_limit=credit_limit or 0,
        )
    account, _ = events.create_account(
        conn,
        msisdn=msisdn,
        customer_id=cust.customer_id,
        product_id=product_id,
        imsi=imsi,
        idempotency_key=f"{key}:create",
    )
    if balance > 0:
        # The opening balance is a top-up event like any other: the OCS, which owns
        # balances, applies it and journals it (balance = sum of postings holds).
        events.topup(conn, msisdn, balance, f"{key}:initial-balance", reason="initial balance")
    return account


@account_app.command("create")
def account_create(
    msisdn: Annotated[
        str, typer.Argument(metavar="MSISDN", help="E.164 number, e.g. 491701234567.")
    ],
    product: Annotated[
        str, typer.Option("--product", metavar="NAME", help="Product name from the catalog.")
    ],
    imsi: Annotated[
        str | None, typer.Option("--imsi", metavar="IMSI", help="The SIM's IMSI.")
    ] = None,
    balance: Annotated[
        str,
        typer.Option(
            "--balance",
            metavar="AMOUNT",
            help="Opening balance in the product currency, e.g. 10.00.",
        ),
    ] = "0",
    credit_limit: Annotated[
        str | None,
        typer.Option(
            "--credit-limit",
            metavar="AMOUNT",
            help="Makes the account postpaid: it may go this far below zero.",
        ),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            "--customer",
            metavar="NAME",
            help="Customer (billing party) name [default: the MSISDN].",
        ),
    ] = None,
    customer_id: Annotated[
        int | None,
        typer.Option(
            "--customer-id",
            metavar="ID",
            help="Attach to an existing customer (ocs customer create) instead of a new one.",
        ),
    ] = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account on a product: prepaid, or postpaid with --credit-limit.

    A new customer is created for it. The opening balance is recorded as a top-up
    event, which the OCS applies (at once if running, else at its next start).
    """
    with _reported():
        number = _msisdn(msisdn)
        sim = None if imsi is None else _imsi(imsi)
        opening = _amount(balance, "balance")
        limit = None if credit_limit is None else _amount(credit_limit, "credit limit")
        if opening < 0:
            _usage(f"balance {balance} must not be negative")
        if limit is not None and limit < 0:
            _usage(f"credit limit {credit_limit} must not be negative")
        if customer_id is not None and (customer is not None or limit is not None):
            _usage(
                "--customer-id takes the customer's name and credit limit: drop "
                "--customer/--credit-limit"
            )
        engine = _engine(db, config_file)
        try:
            with write_transaction(engine) as conn:
                found = _product_named(conn, product)
                _refuse_duplicates(conn, number, sim)
                _create_account(
                    conn,
                    msisdn=number,
                    imsi=sim,
                    product_id=found.product_id,
                    currency_code=found.currency,
                    customer=customer or number,
                    balance=_micros(opening, found.currency, "balance"),
                    credit_limit=None
                    if limit is None
                    else _micros(limit, found.currency, "credit limit"),
                    key=f"cli:{uuid.uuid4().hex}",
                    customer_id=customer_id,
                )
        except exc.IntegrityError:
            # Another writer created the same MSISDN or IMSI between our check and insert.
            raise _Failure(
                f"an account with MSISDN {number} or IMSI {sim} already exists"
            ) from None
        view = _account_view(engine, number)
        engine.dispose()
        if as_json:
            _print_json(view)
            return
        mode = (
            view["billing_mode"]
            if limit is None
            else f"postpaid, credit limit {view['credit_limit']} {view['currency']}"
        )
        typer.echo(f"created account {number} on product {found.name} ({mode})")
        if opening > 0:
            typer.echo(
                f"opening balance {view['pending']} {view['currency']} recorded as a "
                "top-up; the OCS applies it"
            )


def _product_named(conn: Connection, name: str) -> Product:
    try:
        return queries.get_product(conn, name=name)
    except NotFound:
        names = list(
            conn.execute(select(products_table.c.name).order_by(products_table.c.name)).scalars()
        )
        known = ", ".join(names) if names else "none: run ocs catalog load FILE or ocs init --demo"
        raise _Failure(f"no product named {name!r} (products: {known})") from None


def _refuse_duplicates(conn: Connection, msisdn: str, imsi: str | None) -> None:
    for lookup, value, label in (
        (queries.get_account_by_msisdn, msisdn, "MSISDN"),
        (queries.get_account_by_imsi, imsi, "IMSI"),
    ):
        if value is None:
            continue
        try:
            lookup(conn, value)
        except NotFound:
            continue
        raise _Failure(f"an account with {label} {value} already exists")


def _account_view(engine: Engine, msisdn: str) -> dict[str, Any]:
    """Everything ``account show`` prints, in JSON-ready values."""
    with read_transaction(engine) as conn:
        account = _account_by_msisdn(conn, msisdn)
        product = queries.get_product(conn, product_id=account.product_id)
        customer = queries.get_customer(conn, account.customer_id)
        bucket_list = queries.get_buckets(conn, account.account_id)
        pending = events.pending_amount(conn, account.account_id)
    cur = account.currency
    balance = account.balance + pending
    return {
        "msisdn": account.msisdn,
        "imsi": account.imsi,
        "status": account.status.value,
        "product": product.name,
        "customer": customer.name,
        "billing_mode": account.billing_mode.value,
        "currency": cur,
        "balance": _money(balance, cur),
        # part of `balance`: recorded top-ups/adjustments the OCS has not applied yet
        "pending": _money(pending, cur),
        "reserved": _money(account.reserved, cur),
        "available": _money(balance - account.reserved, cur),
        "credit_limit": _money(account.credit_limit, cur),
        "buckets": [
            {
                "kind": b.kind.value,
                "rating_group": b.rating_group,
                "initial": b.initial,
                "remaining": b.remaining,
                "reserved": b.reserved,
                "available": b.remaining - b.reserved,
                "priority": b.priority,
                "valid_from": _iso(b.valid_from_us),
                "valid_until": _iso(b.valid_until_us),
            }
            for b in bucket_list
        ],
    }


def _iso(at_us: int) -> str | None:
    """ISO 8601 UTC; None for "never" (buckets use 2**63 - 1, past datetime's range)."""
    try:
        return datetime.fromtimestamp(at_us // 1_000_000, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


@account_app.command("show")
def account_show(
    msisdn: Annotated[str, typer.Argument(metavar="MSISDN", help="The account's E.164 number.")],
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an account: status, product, balance, reservations and buckets.

    The balance includes top-ups recorded but not yet applied by the OCS (shown as
    pending), and every debit the OCS has answered (with ack = durable).
    """
    with _reported():
        engine = _engine(db, config_file)
        view = _account_view(engine, _msisdn(msisdn))
        engine.dispose()
        if as_json:
            _print_json(view)
            return
        cur = view["currency"]
        rows = [
            ("MSISDN", view["msisdn"]),
            ("IMSI", view["imsi"] or "-"),
            ("status", view["status"]),
            ("product", view["product"]),
            ("customer", f"{view['customer']} ({view['billing_mode']})"),
            (
                "balance",
                f"{view['balance']} {cur}"
                + (
                    f" (includes {view['pending']} {cur} not yet applied by the OCS)"
                    if view["pending"] != _money(0, cur)
                    else ""
                ),
            ),
            ("reserved", f"{view['reserved']} {cur}"),
            ("available", f"{view['available']} {cur}"),
        ]
        if view["billing_mode"] == BillingMode.POSTPAID.value:
            rows.append(("credit limit", f"{view['credit_limit']} {cur}"))
        for b in view["buckets"]:
            group = (
                "any rating group"
                if b["rating_group"] is None
                else f"rating group {b['rating_group']}"
            )
            rows.append(
                (
                    "bucket",
                    f"{b['kind']} {b['available']}/{b['initial']} "
                    f"({group}, until {b['valid_until'] or 'no end'})",
                )
            )
        _print_fields(rows)


@account_app.command("topup")
def account_topup(
    msisdn: Annotated[str, typer.Argument(metavar="MSISDN", help="The account's E.164 number.")],
    amount: Annotated[
        str, typer.Argument(metavar="AMOUNT", help="Amount in the account currency, e.g. 5.00.")
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="IDEMPOTENCY_KEY",
            help="Repeat a top-up safely: the same key is applied once [default: a new key].",
        ),
    ] = None,
    db: DbOption = None,
    config_file: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Credit an account. Recorded as an event that the OCS applies exactly once."""
    with _reported():
        number = _msisdn(msisdn)
        value = _amount(amount, "amount")
        if value <= 0:
            _usage(f"amount {amount} must be greater than zero")
        idempotency_key = _key(key, "topup")
        engine = _engine(db, config_file)
        with write_transaction(engine) as conn:
            account = _account_by_msisdn(conn, number)
            try:
                result = events.topup(
                    conn,
                    number,
                    _micros(value, account.currency, "amount"),
                    idempotency_key,
                    reason="ocs account topup",
                )
            except IdempotencyConflict:
                raise _Failure(
                    f"key {idempotency_key} was already used for a different change; "
                    "use a new key for a new top-up"
                ) from None
        view = _account_view(engine, number)
        engine.dispose()
        if as_json:
            _print_json(_event_json(number, result, idempotency_key, view))
            return
        cur = view["currency"]
        if result.created:
            typer.echo(
                f"top-up of {_money(result.event.amount or 0, cur)} {cur} recorded for "
                f"{number} (event {result.event.event_id}, key {idempotency_key}); "
                f"balance {view['balance']} {cur}"
            )
        else:
            typer.echo(
                f"top-up with key {idempotency_key} was already recorded as event "
                f"{result.event.event_id}; nothing changed; balance "
                f"{view['balance']} {cur}"
            )


# --- serve and config ---------------------------------------------------------------------


@app.command()
def serve(
    config_file: ConfigOption = None,
    db: DbOption = None,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            show_default=False,
            help="Address to listen on; repeat for several [default: 127.0.0.1 and ::1]",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", metavar="PORT", show_default=False, help="Diameter TCP port [default: 3868]"
        ),
    ] = None,
    origin_host: Annotated[
        str | None,
        typer.Option(
            "--origin-host",
            metavar="FQDN",
            show_default=False,
            help="Our Diameter identity [default: ocs.localdomain]",
        ),
    ] = None,
    origin_realm: Annotated[
        str | None,
        typer.Option(
            "--origin-realm",
            metavar="REALM",
            show_default=False,
            help="Our Diameter realm [default: localdomain]",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="PORT",
            show_default=False,
            help="Prometheus /metrics port; 0 turns it off [default: 9464]",
        ),
    ] = None,
    admin_port: Annotated[
        int | None,
        typer.Option(
            "--admin-port",
            metavar="PORT",
            show_default=False,
            help="Admin endpoint on 127.0.0.1 for ocs session/peer/status; 0 turns it off "
            "[default: 9465]",
        ),
    ] = None,
    ack: Annotated[
        str | None,
        typer.Option(
            "--ack",
            metavar="durable|fast",
            show_default=False,
            help="durable: answer after the charge is committed; fast: answer first "
            "[default: durable]",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            show_default=False,
            help="debug, info, warning, error [default: info]",
        ),
    ] = None,
) -> None:
    """Run the OCS until SIGINT or SIGTERM.

    Settings come from flags, else OCS_* environment variables, else the --config file,
    else defaults; ocs config check shows the result.
    """
    with _reported():
        config = _config(
            config_file,
            {
                "database.url": db,
                "listen.hosts": host,
                "listen.port": port,
                "diameter.origin_host": origin_host,
                "diameter.origin_realm": origin_realm,
                "metrics.port": metrics_port,
                "admin_port": admin_port,
                "database.ack": ack,
                "log_level": log_level,
            },
        )
        logging.basicConfig(
            level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        for name in unknown_env(os.environ):
            log.warning("ignoring environment variable %s: not an OCS setting", name)
        # Imported here: the server pulls in trio and the whole stack, which the
        # account commands do not need.
        from ocs.app import serve as run_server

        try:
            run_server(config)
        except KeyboardInterrupt:  # a second Ctrl-C while the server was shutting down
            raise typer.Exit(130) from None


@config_app.command("check")
def config_check(config_file: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate the configuration (file and OCS_* variables) and print every setting.

    Each setting is shown with where its value came from: default, file:line or env.
    """
    with _reported():
        resolved = resolve_config(config_file, os.environ, {})
        values = settings(resolved.config)
        profiles = {
            p.origin_host: {"rise_mscc_result_code": p.rise_mscc_result_code}
            for p in resolved.config.peers
        }
        ignored = unknown_env(os.environ)
        if as_json:
            _print_json(
                {
                    "settings": values,
                    "sources": dict(resolved.sources),
                    "peers": profiles,
                    "ignored_env": ignored,
                }
            )
            return
        for name in ignored:
            typer.echo(
                f"warning: environment variable {name} is not an OCS setting; ignored", err=True
            )
        width = max(len(k) for k in values)
        for key_name, value in values.items():
            shown = json.dumps(value, ensure_ascii=False)
            typer.echo(f"{key_name:<{width}} = {shown}  # {resolved.sources[key_name]}")
        for origin, profile in profiles.items():
            typer.echo(f"peer {origin}: {json.dumps(profile)}")
        typer.echo("configuration is valid")


def main() -> None:
    """The ``ocs`` console script."""
    app(prog_name="ocs")


# The other command groups live in their own modules and register on the typer apps
# above when imported; they import this module's helpers, so they come last.
from ocs import (  # noqa: E402, F401
    cli_accounts,
    cli_catalog,
    cli_customers,
    cli_decode,
    cli_live,
    cli_products,
)
