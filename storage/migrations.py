"""A small, ordered schema migration runner (no migrations tool is in our dependencies).

What lives here: ``MIGRATIONS``, the ordered list of schema steps, and ``migrate``, which
brings any database to the newest version. What must not: table definitions (those are in
``storage.schema``; a step may only describe the *change* between two versions).

How it works:

- ``schema_version`` holds one row per applied step (version, name, when).
- A fresh database (no ``schema_version`` table) gets ``metadata.create_all`` of the
  current ``storage.schema`` and is stamped with every version at once. This is the
  "create, then stamp head" approach of migration tools: the steps only ever run on
  databases that already exist, so step 1 never has to be kept in sync with schema.py.
- An existing database runs, in order, every step whose version is above its newest
  row, all in ONE transaction (PostgreSQL and SQLite both have transactional DDL), so a
  failed step leaves the database at its previous version.
- Two processes migrating at once are serialised: PostgreSQL takes a transaction-level
  advisory lock, SQLite's ``BEGIN IMMEDIATE`` takes the write lock.
- A database newer than this code raises ``SchemaError`` rather than running old code
  against a schema it does not know.

How to add a step (version N+1):

1. Change ``storage/schema.py`` (the tables as they should be after the step).
2. Append ``Migration(N + 1, "what it does", _vN_plus_1)`` to ``MIGRATIONS`` with a
   function that issues the change on a ``Connection`` (``conn.exec_driver_sql("ALTER
   TABLE ...")``; branch on ``conn.dialect.name`` where SQLite and PostgreSQL differ:
   SQLite cannot drop or alter most constraints in place and needs the
   create-copy-drop-rename dance). Name constraints by the naming convention so that
   both paths produce identical names.
3. Add a test that migrates a database stamped at N (built by the N-th step list) and
   compares ``sqlalchemy.inspect`` of the result with a fresh ``migrate``; run it on both
   dialects (tests/storage run everything on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

from storage.db import write_transaction
from storage.errors import SchemaError
from storage.queries import now_us
from storage.schema import metadata, schema_version

#: arbitrary constant identifying "the schema migration" among PostgreSQL advisory locks
_PG_LOCK_KEY = 7_274_601


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    # Version 1 is the first schema; only a database created before any step existed
    # could reach it, and there is none, but the step keeps the list complete.
    metadata.create_all(conn)


def _v2_tariff_catalogs(conn: Connection) -> None:
    # The table as version 2 defines it, frozen here on a MetaData of its own: a later
    # step that changes storage.schema.tariff_catalogs must not change what this step
    # creates. Same naming convention, so the names match a fresh create_all.
    frozen = MetaData(naming_convention=metadata.naming_convention)
    table = Table(
        "tariff_catalogs",
        frozen,
        Column("catalog_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("source", String(500), nullable=False),
        Column("sha256", String(64), nullable=False, unique=True),
        Column("text", Text, nullable=False),
        Column("loaded_at_us", BigInteger, nullable=False),
        Column("active", Boolean(create_constraint=False), nullable=False),
        Index(
            "ix_tariff_catalogs_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )
    table.create(conn)


def _v3_session_usage(conn: Connection) -> None:
    # Plain DDL both dialects accept; defaults make existing rows valid (nothing charged
    # yet). A column that is already there (a database stamped at an older version by
    # hand, or a retried step) is left alone.
    present = {c["name"] for c in inspect(conn).get_columns("cc_sessions")}
    for column in ("used_units", "started_at_us"):
        if column not in present:
            conn.execute(
                text(f"ALTER TABLE cc_sessions ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0")
            )


def _v4_bucket_holds(conn: Connection) -> None:
    present = {c["name"] for c in inspect(conn).get_columns("cc_sessions")}
    if "bucket_holds" not in present:
        conn.execute(
            text(
                "ALTER TABLE cc_sessions ADD COLUMN bucket_holds VARCHAR(2000) NOT NULL DEFAULT ''"
            )
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "initial schema: catalog, accounts, buckets, journal, sessions, outbox", _v1_initial
    ),
    Migration(
        2, "tariff_catalogs: the tariff files loaded, one of them active", _v2_tariff_catalogs
    ),
    Migration(3, "cc_sessions.used_units/started_at_us: time rated per call", _v3_session_usage),
    Migration(4, "cc_sessions.bucket_holds: a hold may span several buckets", _v4_bucket_holds),
)

LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """The newest applied version; 0 for an empty database."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    newest = conn.execute(
        select(schema_version.c.version).order_by(schema_version.c.version.desc()).limit(1)
    ).scalar()
    return int(newest or 0)


def migrate(engine: Engine) -> list[int]:
    """Bring the database to ``LATEST``. Idempotent: a second call changes nothing.

    Returns:
        The versions applied by this call (empty when the schema was already current).

    Raises:
        SchemaError: the database is newer than this code, or has tables but no
            ``schema_version`` (created by something else).
        StorageUnavailable: the database cannot be reached.
    """
    _check_steps(MIGRATIONS)
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        version = current_version(conn)
        if version > LATEST:
            raise SchemaError(
                f"the database schema is at version {version}, newer than this code "
                f"(version {LATEST}); upgrade the software before using this database"
            )
        if version == LATEST:
            return []
        if version == 0:
            existing = set(inspect(conn).get_table_names()) & set(metadata.tables)
            if existing:
                raise SchemaError(
                    f"the database has tables {sorted(existing)} but no schema_version; "
                    "it was not created by storage.migrations: use an empty database"
                )
            metadata.create_all(conn)
            steps = list(MIGRATIONS)
        else:
            steps = [m for m in MIGRATIONS if m.version > version]
            for step in steps:
                step.apply(conn)
        now = now_us()
        conn.execute(
            schema_version.insert(),
            [{"version": m.version, "name": m.name, "applied_at_us": now} for m in steps],
        )
        return [m.version for m in steps]


def require_current(conn: Connection) -> None:
    """Raise ``SchemaError`` unless the schema is exactly ``LATEST`` (startup check)."""
    version = current_version(conn)
    if version != LATEST:
        raise SchemaError(
            f"the database schema is at version {version}, this code needs "
            f"{LATEST}: run the migrate command first"
        )


def _check_steps(steps: tuple[Migration, ...]) -> None:
    versions = [m.version for m in steps]
    if versions != list(range(1, len(steps) + 1)):
        raise SchemaError(f"migration versions must be 1..n without gaps: {versions}")
