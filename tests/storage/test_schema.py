"""Schema, migrations and the engine helper, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Integer, inspect, text

from storage import db, migrations
from storage.db import create_engine, read_transaction, write_transaction
from storage.errors import SchemaError, StorageUnavailable
from storage.schema import metadata
from tests.storage.conftest import Database


def test_migrate_creates_everything_from_scratch_and_is_idempotent(database: Database) -> None:
    engine = create_engine(database.url)
    assert migrations.migrate(engine) == list(range(1, migrations.LATEST + 1))
    assert migrations.migrate(engine) == []  # second run: nothing to do
    with read_transaction(engine) as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        migrations.require_current(conn)
        tables = set(inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables
    engine.dispose()


def test_constraint_names_follow_the_naming_convention(database: Database) -> None:
    engine = create_engine(database.url)
    migrations.migrate(engine)
    with read_transaction(engine) as conn:
        insp = inspect(conn)
        uniques = {u["name"] for u in insp.get_unique_constraints("accounts")}
        fks = {f["name"] for f in insp.get_foreign_keys("cc_sessions")}
        pk = insp.get_pk_constraint("postings")["name"]
    assert {"uq_accounts_msisdn", "uq_accounts_imsi"} <= uniques
    assert fks == {"fk_cc_sessions_account_id_accounts", "fk_cc_sessions_bucket_id_buckets"}
    if database.dialect == "postgresql":  # SQLite does not report primary key names
        assert pk == "pk_postings"
    engine.dispose()


def test_money_columns_are_integers_never_numeric_or_float() -> None:
    money = {
        ("accounts", "balance"),
        ("accounts", "reserved"),
        ("customers", "credit_limit"),
        ("products", "recurring_fee"),
        ("postings", "amount"),
        ("postings", "reserved"),
        ("cc_sessions", "reserved"),
        ("account_events", "amount"),
        ("buckets", "remaining"),
    }
    for table, column in money:
        assert isinstance(metadata.tables[table].c[column].type, BigInteger | Integer)


def test_a_database_newer_than_the_code_is_refused(database: Database) -> None:
    engine = create_engine(database.url)
    migrations.migrate(engine)
    with write_transaction(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO schema_version (version, name, applied_at_us) "
                "VALUES (99, 'from the future', 0)"
            )
        )
    with pytest.raises(SchemaError, match="newer than this code"):
        migrations.migrate(engine)
    engine.dispose()


def test_tables_without_a_version_are_not_adopted(database: Database) -> None:
    engine = create_engine(database.url)
    with write_transaction(engine) as conn:
        metadata.tables["customers"].create(conn)
    with pytest.raises(SchemaError, match="no schema_version"):
        migrations.migrate(engine)
    engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path}/p.db", synchronous=db.Synchronous.FULL, busy_timeout_ms=1234
    )
    with read_transaction(engine) as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    assert db.checkpoint(engine, "TRUNCATE")[0] == 0
    engine.dispose()


def test_unreachable_databases_raise_storage_unavailable_with_advice(tmp_path: Path) -> None:
    missing = create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    with pytest.raises(StorageUnavailable, match="directory exists"):
        db.check_connection(missing)
    closed_port = create_engine("postgresql://postgres@127.0.0.1:1/test", connect_timeout_s=1)
    with pytest.raises(StorageUnavailable, match="PostgreSQL server is running"):
        db.check_connection(closed_port)
    assert closed_port.dialect.driver == "psycopg"


def test_unsupported_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        create_engine("mysql://localhost/x")
