"""Fixtures for the storage suite: every test runs on SQLite (a temp file) and PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (user postgres, database test, trust auth).
Each test gets its own schema (``search_path`` in the URL), dropped afterwards, so tests
never see each other's rows. When the server is unreachable the PostgreSQL variants skip
with the reason, except under ``CI=true``, where they fail: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from storage import events, queries
from storage.db import create_engine, write_transaction
from storage.migrations import migrate
from storage.records import BillingMode

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=test connect_timeout=3"


@cache
def pg_unreachable_reason() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {' '.join(str(e).split())}"
    return None


def require_pg() -> None:
    reason = pg_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
    pytest.skip(reason)


def pg_url(schema: str, *, port: int = PG_PORT) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{port}/test?options=-csearch_path%3D{schema}"


@contextmanager
def pg_schema(prefix: str = "t") -> Iterator[str]:
    """A new, empty PostgreSQL schema (skips or fails as `require_pg`), dropped after."""
    require_pg()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@dataclass
class Database:
    """One isolated, empty database of either dialect, described by its URL."""

    dialect: str
    url: str
    schema: str | None = None  # PostgreSQL only
    path: Path | None = None  # SQLite only

    def url_via_port(self, port: int) -> str:
        """The same database reached through another TCP port (PostgreSQL proxies)."""
        assert self.schema is not None
        return pg_url(self.schema, port=port)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "ocs.db"
        yield Database("sqlite", f"sqlite:///{path}", path=path)
        return
    with pg_schema() as schema:
        yield Database("postgresql", pg_url(schema), schema=schema)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    """A migrated engine on the test's database."""
    eng = create_engine(database.url)
    migrate(eng)
    yield eng
    eng.dispose()


@dataclass(frozen=True)
class Seeded:
    customer_id: int
    product_id: int
    account_ids: list[int]
    msisdns: list[str]


def seed(engine: Engine, n_accounts: int = 3, *, prefix: str = "4917000") -> Seeded:
    """One prepaid customer, one product, ``n_accounts`` accounts at balance 0."""
    with write_transaction(engine) as conn:
        customer = queries.create_customer(
            conn, name="ACME Mobile", currency="EUR", billing_mode=BillingMode.PREPAID
        )
        product = queries.create_product(
            conn,
            name=f"basic-{prefix}",
            tariff_plan="basic",
            currency="EUR",
            recurring_fee=5_000_000,
        )
        ids, msisdns = [], []
        for i in range(n_accounts):
            msisdn = f"{prefix}{i:05d}"
            account, _ = events.create_account(
                conn,
                msisdn=msisdn,
                customer_id=customer.customer_id,
                product_id=product.product_id,
                idempotency_key=f"create-{msisdn}",
            )
            ids.append(account.account_id)
            msisdns.append(msisdn)
    return Seeded(customer.customer_id, product.product_id, ids, msisdns)


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    return seed(engine)
