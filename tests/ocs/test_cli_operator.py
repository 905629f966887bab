"""The operator commands (issue 6) through typer's CliRunner against real databases.

``account list|adjust|block|unblock|suspend|close|change-product|history``, ``customer``,
``product``, ``tariff``: each one's happy path, JSON output and error paths (exit status
and the single ``error:`` line). The fixtures are copies of tests/ocs/test_cli.py's: a
SQLite file per test, and for the tests taking ``db`` also a PostgreSQL schema per test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ocs import demo
from ocs.cli import app
from storage import catalog as catalog_store
from storage import events, queries
from storage.db import create_engine, read_transaction
from storage.records import AccountStatus, EventKind
from storage.writer import GroupCommitWriter
from tests.storage.conftest import pg_schema, pg_url
from tests.storage.test_events import ocs_apply_pending_events

ROOT = Path(__file__).resolve().parents[2]
A1, A2, A3 = (a.msisdn for a in demo.DEMO_ACCOUNTS)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OCS_"):
            monkeypatch.delenv(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A demo database (ocs init --demo) of either dialect."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ocs.db'}"
        ok("init", "--db", url, "--demo")
        yield url
        return
    with pg_schema() as schema:
        ok("init", "--db", pg_url(schema), "--demo")
        yield pg_url(schema)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ocs.db'}"
    ok("init", "--db", url, "--demo")
    return url


def ocs(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> Result:
    result = ocs(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def okj(*args: str) -> dict[str, Any]:
    data = json.loads(ok(*args, "--json").stdout)
    assert isinstance(data, dict)
    return data


def fails(code: int, *args: str) -> str:
    result = ocs(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def status_of(db: str, msisdn: str) -> AccountStatus:
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        found = queries.get_account_by_msisdn(conn, msisdn).status
    engine.dispose()
    return found


def last_event(db: str, msisdn: str) -> EventKind:
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        account = queries.get_account_by_msisdn(conn, msisdn)
        kind = events.account_history(conn, account.account_id, limit=1)[0].kind
    engine.dispose()
    return kind


# --- accounts ---------------------------------------------------------------------------------


def test_account_list_filters_and_json(db: str) -> None:
    human = ok("account", "list", "--db", db).stdout
    assert all(m in human for m in (A1, A2, A3)) and "10.00 EUR" in human
    ok("account", "block", A2, "--db", db)
    listed = okj("account", "list", "--status", "blocked", "--db", db)["accounts"]
    assert isinstance(listed, list) and [a["msisdn"] for a in listed] == [A2]
    assert listed[0]["balance"] == "10.00" and listed[0]["product"] == "demo"
    assert "no accounts match" in ok("account", "list", "--status", "closed", "--db", db).stdout
    assert len(okj("account", "list", "--limit", "2", "--db", db)["accounts"]) == 2


def test_status_changes_write_the_row_and_the_event_together(db: str) -> None:
    out = ok("account", "block", A1, "--reason", "fraud check", "--db", db).stdout
    assert "blocked (was active" in out and "ASR" in out
    assert status_of(db, A1) is AccountStatus.BLOCKED and last_event(db, A1) is EventKind.BLOCKED
    assert "already blocked" in fails(1, "account", "block", A1, "--db", db)
    ok("account", "unblock", A1, "--db", db)
    assert status_of(db, A1) is AccountStatus.ACTIVE and last_event(db, A1) is EventKind.UNBLOCKED
    data = okj("account", "suspend", A1, "--key", "dunning-7", "--db", db)
    assert (data["status"], data["previous"], data["created"]) == ("suspended", "active", True)
    again = okj("account", "suspend", A1, "--key", "dunning-7", "--db", db)
    assert again["created"] is False and again["event_id"] == data["event_id"]
    assert "repeat with --yes" in fails(2, "account", "close", A1, "--db", db)
    ok("account", "close", A1, "--yes", "--db", db)
    assert status_of(db, A1) is AccountStatus.CLOSED
    assert "is closed" in fails(1, "account", "unblock", A1, "--db", db)
    assert "is closed" in fails(1, "account", "topup", A1, "5", "--db", db)


def test_adjust_credits_and_debits_with_a_reason(sqlite_db: str) -> None:
    out = ok("account", "adjust", A1, "-2.50", "--reason", "refund reversal", "--db", sqlite_db)
    assert "-2.50 EUR" in out.stdout and "balance 7.50 EUR" in out.stdout
    data = okj("account", "adjust", A1, "1.25", "--reason", "goodwill", "--db", sqlite_db)
    assert (data["amount"], data["balance"], data["pending"]) == ("1.25", "8.75", "8.75")
    again = okj("account", "adjust", A1, "1", "--reason", "x", "--key", "k1", "--db", sqlite_db)
    assert again["created"] is True
    assert "already used" in fails(
        1, "account", "adjust", A1, "2", "--reason", "x", "--key", "k1", "--db", sqlite_db
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("account", "adjust", A1, "1"), 2, "--reason is required"),
        (("account", "adjust", A1, "0", "--reason", "r"), 2, "must not be zero"),
        (("account", "adjust", A1, "1,5", "--reason", "r"), 2, "'1,5' is not an amount"),
        (("account", "adjust", A1, "0.001", "--reason", "r"), 2, "more decimals than EUR"),
        (("account", "adjust", "491799999999", "1", "--reason", "r"), 1, "no account with MSISDN"),
        (("account", "block", "491799999999"), 1, "no account with MSISDN 491799999999"),
        (("account", "block", "12ab"), 2, "must be an E.164 number"),
        (("account", "block", A1, "--key", " "), 2, "--key must not be empty"),
        (("account", "history", "491799999999"), 1, "no account with MSISDN"),
        (("account", "list", "--status", "gone"), 2, "is not one of active"),
        (("account", "list", "--product", "gold"), 1, "no product named 'gold'"),
        (("account", "change-product", A1, "gold"), 1, "no product named 'gold'"),
        (("account", "change-product", A1, "demo"), 1, "already on product demo"),
        (("customer", "show", "999"), 1, "no customer with id 999"),
        (("customer", "create", "ACME", "--currency", "XXQ"), 2, "not an ISO 4217 code"),
        (
            ("customer", "create", "ACME", "--currency", "EUR", "--credit-limit", "x"),
            2,
            "not an amount",
        ),
        (("product", "show", "gold"), 1, "no product named 'gold'"),
        (("product", "create", "gold", "--plan", "nope"), 1, "no plan 'nope'"),
        (("product", "create", "demo", "--plan", "demo"), 1, "already exists"),
        (
            ("product", "create", "gold", "--plan", "demo", "--recurring-fee", "a"),
            2,
            "not an amount",
        ),
    ],
)
def test_operator_errors_are_one_line_with_the_right_status(
    sqlite_db: str, args: tuple[str, ...], code: int, message: str
) -> None:
    assert message in fails(code, *args, "--db", sqlite_db)


def test_an_unreachable_database_says_what_to_do(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    for args in (
        ("account", "list"),
        ("account", "block", A1),
        ("product", "list"),
        ("tariff", "show"),
    ):
        assert "ocs init" in fails(1, *args, "--db", missing)
    down = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    assert "127.0.0.1" in fails(1, "account", "history", A1, "--db", down)


def test_change_product_moves_the_account(sqlite_db: str, tmp_path: Path) -> None:
    ok("product", "create", "gold", "--plan", "demo", "--recurring-fee", "9.99", "--db", sqlite_db)
    data = okj("account", "change-product", A1, "gold", "--db", sqlite_db)
    assert (data["previous"], data["product"]) == ("demo", "gold")
    assert last_event(sqlite_db, A1) is EventKind.PRODUCT_CHANGED
    assert okj("account", "show", A1, "--db", sqlite_db)["product"] == "gold"


def test_history_is_newest_first_with_postings_and_events(db: str) -> None:
    ok("account", "topup", A1, "5", "--db", db)
    ok("account", "block", A1, "--db", db)
    history = okj("account", "history", A1, "--db", db)["history"]
    assert isinstance(history, list)
    assert [h["kind"] for h in history] == ["blocked", "topup", "topup", "created"]
    assert all(h["applied_by_ocs"] is False for h in history)
    # the OCS applies the money events: ADJUST postings join the history
    engine = create_engine(db)
    with GroupCommitWriter(engine) as writer:
        ocs_apply_pending_events(engine, writer, 1)
    engine.dispose()
    history = okj("account", "history", A1, "--db", db)["history"]
    postings = [h for h in history if h["source"] == "posting"]
    assert sorted(p["amount"] for p in postings) == ["10.00", "5.00"]
    assert all(p["kind"] == "adjust" for p in postings)
    human = ok("account", "history", A1, "--limit", "2", "--db", db).stdout
    assert human.count("\n") == 3 and "blocked" in human  # header + 2 rows


# --- customers and products -----------------------------------------------------------------


def test_customers(sqlite_db: str) -> None:
    created = okj(
        "customer",
        "create",
        "ACME Corp",
        "--currency",
        "eur",
        "--credit-limit",
        "100",
        "--db",
        sqlite_db,
    )
    assert (created["currency"], created["billing_mode"], created["credit_limit"]) == (
        "EUR",
        "postpaid",
        "100.00",
    )
    listed = okj("customer", "list", "--db", sqlite_db)["customers"]
    assert isinstance(listed, list) and [c["name"] for c in listed][-1] == "ACME Corp"
    assert listed[0]["accounts"] == [A1]
    assert "ACME Corp" in ok("customer", "list", "--db", sqlite_db).stdout
    shown = ok("customer", "show", "1", "--db", sqlite_db).stdout
    assert A1 in shown and "prepaid" in shown
    cid = str(created["customer_id"])
    account = okj(
        "account",
        "create",
        "491709990001",
        "--product",
        "demo",
        "--customer-id",
        cid,
        "--db",
        sqlite_db,
    )
    assert (account["customer"], account["billing_mode"], account["credit_limit"]) == (
        "ACME Corp",
        "postpaid",
        "100.00",
    )
    assert okj("customer", "show", cid, "--db", sqlite_db)["accounts"] == ["491709990001"]
    assert "no customer with id 99" in fails(
        1,
        "account",
        "create",
        "491709990002",
        "--product",
        "demo",
        "--customer-id",
        "99",
        "--db",
        sqlite_db,
    )
    usd = okj("customer", "create", "Yankee", "--currency", "USD", "--db", sqlite_db)
    assert "billed in USD" in fails(
        1,
        "account",
        "create",
        "491709990002",
        "--product",
        "demo",
        "--customer-id",
        str(usd["customer_id"]),
        "--db",
        sqlite_db,
    )
    assert "--customer-id takes" in fails(
        2,
        "account",
        "create",
        "491709990002",
        "--product",
        "demo",
        "--customer-id",
        cid,
        "--credit-limit",
        "5",
        "--db",
        sqlite_db,
    )


def test_products_list_show_and_create_through_the_catalog(db: str) -> None:
    listed = okj("product", "list", "--db", db)["products"]
    assert listed == [
        {
            "name": "demo",
            "plan": "demo",
            "currency": "EUR",
            "recurring_fee": "0.00",
            "accounts": 3,
            "bundles": [],
        }
    ]
    out = ok("product", "create", "gold", "--plan", "demo", "--recurring-fee", "4.50", "--db", db)
    assert "created product gold" in out.stdout
    assert okj("product", "show", "gold", "--db", db)["recurring_fee"] == "4.50"
    # the product is part of the active catalog, so the next tariff load keeps it in view
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        info = catalog_store.active_catalog_info(conn)
        assert info is not None and 'name = "gold"' in info.text
    engine.dispose()
    assert "gold" in ok("tariff", "show", "--db", db).stdout
    assert "tariff plan   demo" in ok("product", "show", "gold", "--db", db).stdout


# --- tariffs ----------------------------------------------------------------------------------


def test_tariff_load_is_a_dry_run_until_apply(db: str, tmp_path: Path) -> None:
    extended = tmp_path / "tariffs.toml"
    extended.write_text(
        demo.DEMO_TARIFFS + '\n[[product]]\nname = "gold"\nplan = "demo"\ncurrency = "EUR"\n'
    )
    dry = okj("tariff", "load", str(extended), "--db", db)
    assert dry["products_added"] == ["gold"] and dry["applied"] is False
    assert "gold" not in ok("product", "list", "--db", db).stdout
    assert "repeat with --apply" in ok("tariff", "load", str(extended), "--db", db).stdout
    applied = okj("tariff", "load", str(extended), "--apply", "--db", db)
    assert applied["applied"] is True
    assert "gold" in ok("product", "list", "--db", db).stdout
    assert okj("tariff", "load", str(extended), "--db", db)["identical"] is True
    # dropping "demo", which accounts are on, is refused even as a dry run
    only_gold = tmp_path / "gold.toml"
    only_gold.write_text(demo.DEMO_TARIFFS.replace('name = "demo"\nplan', 'name = "gold"\nplan'))
    assert "accounts are still on demo (3 accounts)" in fails(
        1, "tariff", "load", str(only_gold), "--db", db
    )
    assert "cannot apply" in fails(1, "tariff", "load", str(only_gold), "--apply", "--db", db)


def test_tariff_load_errors(sqlite_db: str, tmp_path: Path) -> None:
    assert "cannot read tariff file" in fails(
        2, "tariff", "load", str(tmp_path / "x.toml"), "--db", sqlite_db
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[[plan]]\nname = 1\n")
    result = ocs("tariff", "load", str(broken), "--db", sqlite_db)
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


def test_tariff_show(sqlite_db: str) -> None:
    out = ok("tariff", "show", "--db", sqlite_db).stdout
    assert "0.01 EUR/MB" in out and "0.05 EUR/min" in out and "products: demo" in out
    data = okj("tariff", "show", "--db", sqlite_db)
    assert data["products"] == ["demo"] and data["source"] == "demo-tariffs.toml"
    assert ok("tariff", "show", "--text", "--db", sqlite_db).stdout == demo.DEMO_TARIFFS


def test_tariff_show_without_a_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    ok("init", "--db", url)
    assert "no tariff catalog is loaded" in fails(1, "tariff", "show", "--db", url)


def test_tariff_price(sqlite_db: str, tmp_path: Path) -> None:
    data = okj(
        "tariff", "price", "--service", "32251@3gpp.org", "--units", "10MB", "--db", sqlite_db
    )
    assert (data["amount"], data["service"], data["units"]) == ("0.10", "data", 10_000_000)
    voice = okj(
        "tariff",
        "price",
        "--service",
        "32260@3gpp.org",
        "--units",
        "61",
        "--destination",
        "+4930123",
        "--at",
        "2025-03-01T10:00:00Z",
        "--db",
        sqlite_db,
    )
    assert (voice["amount"], voice["charged_units"], voice["unit"]) == ("0.10", 120, "time")
    sms = ok("tariff", "price", "--service", "32274@3gpp.org", "--units", "3", "--db", sqlite_db)
    assert sms.stdout.startswith("0.15 EUR")
    # from a file that is not loaded, with a plan named explicitly
    example = str(ROOT / "rating" / "example-tariffs.toml")
    priced = okj(
        "tariff",
        "price",
        "--file",
        example,
        "--plan",
        "standard",
        "--service",
        "32251@3gpp.org",
        "--units",
        "1MB",
        "--at",
        "2025-06-01T12:00:00Z",
    )
    assert priced["plan"] == "standard" and priced["currency"] == "EUR"
    plans = demo.DEMO_TARIFFS.split("[[product]]")[0]
    two = tmp_path / "two.toml"
    two.write_text(demo.DEMO_TARIFFS + plans.replace('name = "demo"', 'name = "promo"', 1))
    several = ocs("tariff", "price", "--file", str(two), "--service", "x", "--units", "1")
    assert several.exit_code == 2 and "several plans" in several.stderr
    assert "(demo, promo)" in several.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--service", "x@y", "--units", "1"), 1, "prices nothing for service x@y"),
        (("--service", "32251@3gpp.org", "--units", "ten"), 2, "not a whole number"),
        (("--service", "32251@3gpp.org", "--units", "1 min"), 2, "not a whole number"),
        (("--service", "32251@3gpp.org", "--units", "1", "--at", "soon"), 2, "not an ISO 8601"),
        (
            ("--service", "32251@3gpp.org", "--units", "1", "--at", "2020-01-01T00:00:00Z"),
            1,
            "no version in force",
        ),
        (("--service", "32251@3gpp.org", "--units", "1", "--plan", "x"), 1, "no plan 'x'"),
        (("--service", "32251@3gpp.org", "--units", "1", "--product", "x"), 1, "no product 'x'"),
        (("--service", "32260@3gpp.org", "--units", "1", "--destination", "abc"), 2, "E.164"),
    ],
)
def test_tariff_price_errors(
    sqlite_db: str, args: tuple[str, ...], code: int, message: str
) -> None:
    assert message in fails(code, "tariff", "price", *args, "--db", sqlite_db)


def test_help_texts_of_every_new_command() -> None:
    for group, commands in {
        "account": (
            "list",
            "adjust",
            "block",
            "unblock",
            "suspend",
            "close",
            "change-product",
            "history",
        ),
        "customer": ("create", "list", "show"),
        "product": ("create", "list", "show"),
        "tariff": ("load", "show", "price"),
        "session": ("list", "show", "disconnect"),
        "peer": ("list",),
    }.items():
        for command in commands:
            result = ok(group, command, "--help")
            assert "Usage: " in result.stdout and len(result.stdout) > 200, (group, command)
    for command in ("decode", "status"):
        assert "Usage: " in ok(command, "--help").stdout
    assert ocs("account", "block").exit_code == 2  # missing MSISDN: bad usage
