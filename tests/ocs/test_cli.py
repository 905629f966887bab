"""The ``ocs`` command against real databases: SQLite files, and PostgreSQL where it runs.

Every test drives ``ocs.cli.app`` through typer's CliRunner, as an operator would, and
checks the database with ``storage`` afterwards. The PostgreSQL variants reuse the storage
suite's fixture helpers (a schema per test; skipped with the reason when the server is
unreachable, failed under CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from typer.testing import CliRunner, Result

from ocs import demo
from ocs.cli import app
from ocs.config import AckMode, OcsConfig
from rating.engine import price
from rating.plans import load_plans
from rating.units import UnitKind, Usage
from storage import catalog as catalog_store
from storage import events, migrations, queries
from storage.db import create_engine, read_transaction, write_transaction
from storage.records import BillingMode, BucketKind, Posting, PostingKind, WriteBatch
from storage.schema import account_events, metadata, tariff_catalogs
from storage.writer import GroupCommitWriter
from tests.storage.conftest import pg_schema, pg_url
from tests.storage.test_events import ocs_apply_pending_events

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OCS_* settings must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("OCS_"):
            monkeypatch.delenv(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL of either dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ocs.db'}"
        return
    with pg_schema() as schema:
        yield pg_url(schema)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ocs.db'}"


def ocs(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def ok(*args: str) -> Result:
    result = ocs(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def fails(code: int, *args: str) -> str:
    """Run a command that must fail: the status, one ``error:`` line, no traceback."""
    result = ocs(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def show(db: str, msisdn: str) -> dict[str, object]:
    data = json.loads(ok("account", "show", msisdn, "--db", db, "--json").stdout)
    assert isinstance(data, dict)
    return data


# --- init ------------------------------------------------------------------------------------


def test_init_creates_the_schema_and_is_idempotent(db: str) -> None:
    first = ok("init", "--db", db).stdout
    assert f"created the OCS schema (version {migrations.LATEST})" in first
    assert "up to date" in ok("init", "--db", db).stdout
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        assert catalog_store.active_catalog(conn) is None
    engine.dispose()


def test_init_upgrades_a_version_1_database_to_the_fresh_schema(db: str) -> None:
    ok("init", "--db", db)
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        fresh = _shape(conn)
    with write_transaction(engine) as conn:  # back to what version 1 created
        tariff_catalogs.drop(conn)
        conn.execute(text("DELETE FROM schema_version WHERE version > 1"))
    assert "upgraded the schema" in ok("init", "--db", db).stdout
    with read_transaction(engine) as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        assert _shape(conn) == fresh
    engine.dispose()


def _shape(conn: object) -> dict[str, object]:
    insp = inspect(conn)
    return {
        "columns": [
            (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns("tariff_catalogs")
        ],
        "indexes": sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in insp.get_indexes("tariff_catalogs")
        ),
        "uniques": sorted(u["name"] for u in insp.get_unique_constraints("tariff_catalogs")),
        "tables": sorted(set(insp.get_table_names()) & set(metadata.tables)),
    }


def test_init_demo_loads_catalog_products_and_accounts_once(db: str) -> None:
    out = ok("init", "--db", db, "--demo").stdout
    assert "stored the demo catalog" in out and "491700000003" in out
    engine = create_engine(db)
    with read_transaction(engine) as conn:
        assert catalog_store.active_catalog(conn) == (demo.DEMO_SOURCE, demo.DEMO_TARIFFS)
        product = queries.get_product(conn, name="demo")
        assert (product.tariff_plan, product.currency, product.bundles) == ("demo", "EUR", ())
        accounts = [queries.get_account_by_msisdn(conn, a.msisdn) for a in demo.DEMO_ACCOUNTS]
        assert [a.imsi for a in accounts] == [a.imsi for a in demo.DEMO_ACCOUNTS]
        assert [a.billing_mode for a in accounts] == [
            BillingMode.PREPAID,
            BillingMode.PREPAID,
            BillingMode.POSTPAID,
        ]
        assert accounts[2].credit_limit == 50_000_000
        # balances arrive as top-up events, applied by the OCS: SQL balance is still 0
        assert [a.balance for a in accounts] == [0, 0, 0]
        assert [events.pending_amount(conn, a.account_id) for a in accounts] == [10_000_000] * 3
        n_events = conn.execute(select(func.count()).select_from(account_events)).scalar()
    again = ok("init", "--db", db, "--demo").stdout
    assert "already stored and active" in again and "already present" in again
    with read_transaction(engine) as conn:
        assert conn.execute(select(func.count()).select_from(account_events)).scalar() == n_events
        assert catalog_store.count_catalogs(conn) == 1
    engine.dispose()
    assert show(db, "491700000001")["balance"] == "10.00"


def test_init_demo_refuses_to_replace_another_catalog(sqlite_db: str, tmp_path: Path) -> None:
    ok("init", "--db", sqlite_db)
    own = tmp_path / "own.toml"
    own.write_text(demo.DEMO_TARIFFS.replace('name = "demo"\nplan', 'name = "own"\nplan'))
    ok("catalog", "load", str(own), "--db", sqlite_db)
    assert "already uses tariff catalog own.toml" in fails(1, "init", "--db", sqlite_db, "--demo")


def test_the_demo_catalog_prices_what_the_issue_asks() -> None:
    assert (ROOT / "ocs" / "demo-tariffs.toml").read_text() == demo.DEMO_TARIFFS
    plan = load_plans(demo.DEMO_TARIFFS, demo.DEMO_SOURCE).plan("demo")
    now = datetime.now(UTC)
    for group in (None, 1, 4711):  # any rating group of the data context
        data = price(plan, Usage(UnitKind.TOTAL_OCTETS, 1_000_000, now, "32251@3gpp.org", group))
        assert data.amount == 10_000  # 0.01 EUR per MB
    voice = price(plan, Usage(UnitKind.TIME, 61, now, "32260@3gpp.org", destination="4930123"))
    assert (voice.units, voice.amount) == (120, 100_000)  # 60/60 at 0.05 EUR per minute
    sms = price(plan, Usage(UnitKind.EVENT, 1, now, "32274@3gpp.org"))
    assert sms.amount == 50_000


# --- accounts -------------------------------------------------------------------------------


@pytest.fixture
def demo_db(db: str) -> str:
    ok("init", "--db", db, "--demo")
    return db


def test_account_create_prepaid_and_show_json(demo_db: str) -> None:
    ok(
        "account",
        "create",
        "+491709999001",
        "--product",
        "demo",
        "--imsi",
        "262019999000001",
        "--balance",
        "12.50",
        "--db",
        demo_db,
    )
    view = show(demo_db, "491709999001")
    assert view == {
        "msisdn": "491709999001",
        "imsi": "262019999000001",
        "status": "active",
        "product": "demo",
        "customer": "491709999001",
        "billing_mode": "prepaid",
        "currency": "EUR",
        "balance": "12.50",
        "pending": "12.50",
        "reserved": "0.00",
        "available": "12.50",
        "credit_limit": "0.00",
        "buckets": [],
    }
    engine = create_engine(demo_db)
    with read_transaction(engine) as conn:
        account = queries.get_account_by_msisdn(conn, "491709999001")
        kinds = conn.execute(
            select(account_events.c.kind, account_events.c.amount)
            .where(account_events.c.account_id == account.account_id)
            .order_by(account_events.c.event_id)
        ).all()
    engine.dispose()
    assert [tuple(k) for k in kinds] == [("created", None), ("topup", 12_500_000)]


def test_account_create_postpaid_with_customer_and_json(demo_db: str) -> None:
    out = ok(
        "account",
        "create",
        "491709999002",
        "--product",
        "demo",
        "--credit-limit",
        "30",
        "--customer",
        "ACME GmbH",
        "--db",
        demo_db,
        "--json",
    ).stdout
    view = json.loads(out)
    assert (view["billing_mode"], view["credit_limit"], view["customer"]) == (
        "postpaid",
        "30.00",
        "ACME GmbH",
    )
    assert (view["balance"], view["pending"]) == ("0.00", "0.00")  # no top-up without --balance
    human = ok("account", "show", "491709999002", "--db", demo_db).stdout
    assert "credit limit  30.00 EUR" in human


def test_show_counts_pending_top_ups_once_and_reflects_what_the_ocs_applied(demo_db: str) -> None:
    msisdn = "491700000001"
    assert (
        "includes 10.00 EUR not yet applied by the OCS"
        in ok("account", "show", msisdn, "--db", demo_db).stdout
    )
    engine = create_engine(demo_db)
    with read_transaction(engine) as conn:
        account_id = queries.get_account_by_msisdn(conn, msisdn).account_id
        start = queries.load_state(conn).max_posting_id + 1
    with GroupCommitWriter(engine) as writer:  # the OCS applies the events ...
        ocs_apply_pending_events(engine, writer, start)
        with read_transaction(engine) as conn:
            start = queries.load_state(conn).max_posting_id + 1
        ticket = writer.submit(
            WriteBatch(
                postings=[  # ... then reserves and charges
                    Posting(start, account_id, PostingKind.RESERVE, 0, 2_000_000, session_id="s1"),
                    Posting(
                        start + 1,
                        account_id,
                        PostingKind.COMMIT,
                        -1_234_567,
                        -2_000_000,
                        session_id="s1",
                    ),
                    Posting(
                        start + 2, account_id, PostingKind.RESERVE, 0, 500_000, session_id="s2"
                    ),
                ]
            )
        )
        assert ticket.wait(10) and ticket.error() is None
    engine.dispose()
    view = show(demo_db, msisdn)
    # 10.00 applied - 1.234567 charged; micro-unit precision is kept, not rounded away
    assert (view["balance"], view["pending"], view["reserved"], view["available"]) == (
        "8.765433",
        "0.00",
        "0.50",
        "8.265433",
    )
    ok("account", "topup", msisdn, "1", "--db", demo_db)
    view = show(demo_db, msisdn)
    assert (view["balance"], view["pending"]) == ("9.765433", "1.00")


def test_topup_with_key_is_idempotent(demo_db: str) -> None:
    first = json.loads(
        ok(
            "account", "topup", "491700000002", "5.00", "--key", "pay-1", "--db", demo_db, "--json"
        ).stdout
    )
    assert (first["created"], first["amount"], first["balance"]) == (True, "5.00", "15.00")
    second = json.loads(
        ok(
            "account", "topup", "491700000002", "5.00", "--key", "pay-1", "--db", demo_db, "--json"
        ).stdout
    )
    assert (second["created"], second["event_id"]) == (False, first["event_id"])
    assert second["balance"] == "15.00"
    assert (
        "already recorded"
        in ok("account", "topup", "491700000002", "5", "--key", "pay-1", "--db", demo_db).stdout
    )
    assert "already used for a different change" in fails(
        1, "account", "topup", "491700000002", "7", "--key", "pay-1", "--db", demo_db
    )
    # without --key every call is a new top-up
    ok("account", "topup", "491700000002", "1", "--db", demo_db)
    ok("account", "topup", "491700000002", "1", "--db", demo_db)
    assert show(demo_db, "491700000002")["balance"] == "17.00"


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("account", "show", "491700000099"), 1, "no account with MSISDN 491700000099"),
        (("account", "topup", "491700000099", "5"), 1, "no account with MSISDN 491700000099"),
        (("account", "topup", "491700000001", "5,00"), 2, "amount '5,00' is not an amount"),
        (("account", "topup", "491700000001", "0"), 2, "must be greater than zero"),
        (("account", "topup", "491700000001", "0.001"), 2, "more decimals than EUR allows"),
        (("account", "topup", "491700000001", "5", "--key", " "), 2, "--key must not be empty"),
        (("account", "show", "12ab"), 2, "MSISDN '12ab' must be an E.164 number"),
        (
            ("account", "create", "491700000001", "--product", "demo"),
            1,
            "an account with MSISDN 491700000001 already exists",
        ),
        (
            ("account", "create", "491700000077", "--product", "demo", "--imsi", "262010000000002"),
            1,
            "an account with IMSI 262010000000002 already exists",
        ),
        (
            ("account", "create", "491700000077", "--product", "gold"),
            1,
            "no product named 'gold' (products: demo)",
        ),
        (
            ("account", "create", "491700000077", "--product", "demo", "--balance", "ten"),
            2,
            "balance 'ten' is not an amount",
        ),
        (
            ("account", "create", "491700000077", "--product", "demo", "--balance", "-1"),
            2,
            "balance -1 must not be negative",
        ),
        (
            ("account", "create", "491700000077", "--product", "demo", "--credit-limit", "1.234"),
            2,
            "credit limit 1.234 has more decimals than EUR allows",
        ),
        (
            ("account", "create", "491700000077", "--product", "demo", "--imsi", "x"),
            2,
            "IMSI 'x' must be 6 to 15 digits",
        ),
    ],
)
def test_account_errors_are_one_line_with_the_right_status(
    demo_db: str, args: tuple[str, ...], code: int, expected: str
) -> None:
    assert expected in fails(code, *args, "--db", demo_db)


def test_a_failed_create_writes_nothing(sqlite_db: str) -> None:
    ok("init", "--db", sqlite_db, "--demo")
    fails(
        2,
        "account",
        "create",
        "491700000077",
        "--product",
        "demo",
        "--balance",
        "1.001",
        "--db",
        sqlite_db,
    )
    fails(1, "account", "show", "491700000077", "--db", sqlite_db)


def test_unreachable_databases_say_what_to_check(tmp_path: Path) -> None:
    missing_dir = f"sqlite:///{tmp_path}/no/such/dir/ocs.db"
    assert "directory exists" in fails(1, "init", "--db", missing_dir)
    assert "does not exist" in fails(1, "account", "show", "491700000001", "--db", missing_dir)
    closed = "postgresql://postgres@127.0.0.1:1/test"
    for args in (
        ("init",),
        ("account", "show", "491700000001"),
        ("account", "topup", "491700000001", "1"),
        ("account", "create", "491700000001", "--product", "demo"),
    ):
        assert "PostgreSQL server is running" in fails(1, *args, "--db", closed)
    assert "option --db: must be sqlite:///path.db" in fails(2, "init", "--db", "mysql://x/y")


def test_a_database_without_schema_is_refused_not_created(sqlite_db: str, tmp_path: Path) -> None:
    assert "ocs init" in fails(1, "account", "show", "491700000001", "--db", sqlite_db)
    assert not (tmp_path / "ocs.db").exists()
    create_engine(sqlite_db).dispose()
    with write_transaction(create_engine(sqlite_db)) as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    assert "has no OCS schema: run ocs init" in fails(
        1, "account", "show", "491700000001", "--db", sqlite_db
    )


def test_db_url_from_env_and_config_file(tmp_path: Path, sqlite_db: str) -> None:
    ok("init", "--db", sqlite_db, "--demo")
    result = ocs("account", "show", "491700000001", "--json", env={"OCS_DB": sqlite_db})
    assert result.exit_code == 0 and json.loads(result.stdout)["msisdn"] == "491700000001"
    config = tmp_path / "ocs.toml"
    config.write_text(f'[database]\nurl = "{sqlite_db}"\n')
    ok("account", "show", "491700000001", "--config", str(config))
    bad = tmp_path / "bad.toml"
    bad.write_text("[database]\nurl = 5\n")
    assert f"error: {bad}:2: database.url: must be a non-empty string" in fails(
        2, "account", "show", "491700000001", "--config", str(bad)
    )


# --- catalog -------------------------------------------------------------------------------


def test_catalog_load_show_and_the_guard_for_products_in_use(
    sqlite_db: str, tmp_path: Path
) -> None:
    ok("init", "--db", sqlite_db, "--demo")
    assert "active catalog: demo-tariffs.toml" in ok("catalog", "show", "--db", sqlite_db).stdout
    assert ok("catalog", "show", "--text", "--db", sqlite_db).stdout == demo.DEMO_TARIFFS
    renamed = tmp_path / "renamed.toml"
    renamed.write_text(demo.DEMO_TARIFFS.replace('name = "demo"\nplan', 'name = "x"\nplan'))
    assert "accounts are still on" in fails(1, "catalog", "load", str(renamed), "--db", sqlite_db)
    extended = tmp_path / "extended.toml"
    extended.write_text(
        demo.DEMO_TARIFFS + '\n[[product]]\nname = "gold"\nplan = "demo"\n'
        'currency = "EUR"\nrecurring_fee = "9.99"\n\n[[product.bundle]]\n'
        'name = "1 GB"\nunit = "total_octets"\namount = "1 GB"\n'
        "validity_days = 30\n"
    )
    out = ok("catalog", "load", str(extended), "--db", sqlite_db).stdout
    assert "products added: gold" in out
    assert "nothing changed" in ok("catalog", "load", str(extended), "--db", sqlite_db).stdout
    ok("account", "create", "491700000050", "--product", "gold", "--db", sqlite_db)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[plan]]\nname = 1\n")
    result = ocs("catalog", "load", str(broken), "--db", sqlite_db)
    assert result.exit_code == 2 and f"error: {broken}" in result.stderr
    # rating/example-tariffs.toml has a bundle for two rating groups: not storable yet
    assert "several rating groups" in fails(
        2, "catalog", "load", str(ROOT / "rating" / "example-tariffs.toml"), "--db", sqlite_db
    )


# --- serve and config ------------------------------------------------------------------------


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[OcsConfig]:
    """Stands in for ocs.app (another module's job); records the config it is given."""
    seen: list[OcsConfig] = []
    module = types.ModuleType("ocs.app")
    module.serve = seen.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ocs.app", module)
    return seen


def test_serve_builds_the_config_from_file_env_and_flags(
    fake_server: list[OcsConfig], tmp_path: Path
) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(
        '[diameter]\norigin_host = "ocs.file.example"\norigin_realm = "file.example"'
        "\n\n[listen]\nport = 1000\n"
    )
    result = ocs(
        "serve",
        "--config",
        str(config),
        "--port",
        "3869",
        "--host",
        "127.0.0.1",
        "--host",
        "::1",
        "--metrics-port",
        "0",
        "--ack",
        "fast",
        "--db",
        "sqlite:///x.db",
        env={"OCS_ORIGIN_HOST": "ocs.env.example"},
    )
    assert result.exit_code == 0, result.output
    [seen] = fake_server
    assert seen.listen.port == 3869 and seen.listen.hosts == ("127.0.0.1", "::1")
    assert seen.diameter.origin_host == "ocs.env.example"
    assert seen.diameter.origin_realm == "file.example"
    assert seen.metrics.port == 0 and seen.database.ack is AckMode.FAST
    assert seen.database.url == "sqlite:///x.db"


def test_serve_config_errors_exit_2_naming_the_source(fake_server: list[OcsConfig]) -> None:
    assert "error: option --ack: must be one of ['durable', 'fast']" in fails(
        2, "serve", "--ack", "maybe"
    )
    result = ocs("serve", env={"OCS_ORIGIN_REALM": "bad realm"})
    assert result.exit_code == 2
    assert "error: environment variable OCS_ORIGIN_REALM" in result.stderr
    assert fake_server == []


def test_config_check_prints_settings_with_sources(tmp_path: Path) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(
        '[credit]\nvalidity_time = 600\n\n[peer."pgw1.example"]\nrise_mscc_result_code = true\n'
    )
    result = ocs(
        "config", "check", "--config", str(config), env={"OCS_PORT": "3900", "OCS_PROT": "1"}
    )
    assert result.exit_code == 0, result.output
    assert "credit.validity_time" in result.stdout and f"# {config}:2" in result.stdout
    assert "listen.port" in result.stdout and "# env OCS_PORT" in result.stdout
    assert "credit.tcc" in result.stdout and "1200" in result.stdout
    assert "configuration is valid" in result.stdout
    assert "OCS_PROT is not an OCS setting" in result.stderr
    data = json.loads(ocs("config", "check", "--config", str(config), "--json").stdout)
    assert data["settings"]["credit.validity_time"] == 600
    assert data["sources"]["listen.port"] == "default"
    assert data["peers"] == {"pgw1.example": {"rise_mscc_result_code": True}}
    result = ocs("config", "check", env={"OCS_VALIDITY_TIME": "soon"})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: environment variable OCS_VALIDITY_TIME")


def test_python_dash_m_ocs_and_help_texts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ocs", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "account" in done.stdout and "serve" in done.stdout
    for args in (
        ("init",),
        ("account", "create"),
        ("account", "show"),
        ("account", "topup"),
        ("serve",),
        ("config", "check"),
        ("catalog", "load"),
    ):
        assert ok(*args, "--help").stdout.startswith("Usage: ")
    assert ocs("account", "create").exit_code == 2  # missing MSISDN and --product


def test_an_older_schema_is_refused_with_the_upgrade_command(sqlite_db: str) -> None:
    ok("init", "--db", sqlite_db)
    engine = create_engine(sqlite_db)
    with write_transaction(engine) as conn:
        conn.execute(text("DELETE FROM schema_version WHERE version > 1"))
    engine.dispose()
    assert f"upgrade it with ocs init --db {sqlite_db}" in fails(
        1, "account", "show", "491700000001", "--db", sqlite_db
    )


def test_show_lists_buckets(demo_db: str) -> None:
    engine = create_engine(demo_db)
    with write_transaction(engine) as conn:
        account = queries.get_account_by_msisdn(conn, "491700000001")
        queries.create_bucket(
            conn,
            account_id=account.account_id,
            kind=BucketKind.DATA,
            units=1_000_000_000,
            valid_from_us=1_700_000_000_000_000,
            valid_until_us=2**63 - 1,
            rating_group=10,
        )
    engine.dispose()
    buckets = show(demo_db, "491700000001")["buckets"]
    assert isinstance(buckets, list) and len(buckets) == 1
    bucket = buckets[0]
    assert bucket == {
        "kind": "data",
        "rating_group": 10,
        "initial": 1_000_000_000,
        "remaining": 1_000_000_000,
        "reserved": 0,
        "available": 1_000_000_000,
        "priority": 0,
        "valid_from": "2023-11-14T22:13:20+00:00",
        "valid_until": None,
    }
    human = ok("account", "show", "491700000001", "--db", demo_db).stdout
    assert "bucket        data 1000000000/1000000000 (rating group 10, until no end)" in human
