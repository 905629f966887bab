"""The one SQL schema of the OCS and billing: SQLAlchemy Core tables on one MetaData.

What lives here: table definitions, their constraints and indexes, with deterministic
constraint names (the naming convention), which migrations rely on. What must not: any
query logic (``storage.queries``, ``storage.events``) or connection handling
(``storage.db``).

Conventions:

- Money is ``BigInteger`` micro-units of the account currency (1 EUR = 1 000 000).
  Never ``Numeric`` or float: the ledger adds ints and SQL must hold them exactly.
- Service units (octets, seconds, events) are ``BigInteger`` too.
- Machine timestamps are ``BigInteger`` microseconds since the Unix epoch, UTC (suffix
  ``_us``), the same unit as ``Posting.at_us``: identical on SQLite and PostgreSQL, no
  time-zone conversions on the hot path.
- Closed sets (status, kind) are short strings guarded by CHECK constraints, so a row
  written by hand from psql is validated like one written by the code.
- Ownership: ``accounts.balance/reserved`` and ``buckets.remaining/reserved`` are
  written only by the OCS through the group-commit writer (DESIGN.md single-writer rule)
  and always equal the opening amount plus the sum of their postings. Everything else
  may be changed by the CLI or billing, together with an ``account_events`` row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite makes a column a fast rowid alias only when it is declared exactly "INTEGER
# PRIMARY KEY"; "BIGINT PRIMARY KEY" would add a second B-tree to every journal insert.
# SQLite integers are 64-bit either way.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


BILLING_MODES = ("prepaid", "postpaid")
ACCOUNT_STATUSES = ("active", "blocked", "suspended", "closed")
BUCKET_KINDS = ("data", "voice", "sms")
EVENT_KINDS = (
    "created",
    "blocked",
    "unblocked",
    "suspended",
    "closed",
    "product_changed",
    "topup",
    "adjustment",
    "imported_charge",
)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at_us", BigInteger, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),  # ISO 4217 alphabetic code
    Column("billing_mode", String(10), nullable=False),
    Column("credit_limit", BigInteger, nullable=False, server_default="0"),
    Column("tax_class", String(50), nullable=False, server_default="standard"),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint(_one_of("billing_mode", BILLING_MODES), name="billing_mode"),
    CheckConstraint("credit_limit >= 0", name="credit_limit"),
)

products = Table(
    "products",
    metadata,
    Column("product_id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("tariff_plan", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("recurring_fee", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("recurring_fee >= 0", name="recurring_fee"),
)

product_bundles = Table(
    "product_bundles",
    metadata,
    Column("bundle_id", Id, primary_key=True),
    Column("product_id", ForeignKey("products.product_id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rating_group", BigInteger, nullable=True),  # NULL: any rating group
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("validity_days", Integer, nullable=False, server_default="30"),
    CheckConstraint(_one_of("kind", BUCKET_KINDS), name="kind"),
    CheckConstraint("units > 0", name="units"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", Id, primary_key=True),
    Column("msisdn", String(20), nullable=False, unique=True),  # E.164 digits, no '+'
    Column("imsi", String(20), nullable=True, unique=True),
    Column("status", String(10), nullable=False, server_default="active"),
    Column("product_id", ForeignKey("products.product_id"), nullable=False, index=True),
    Column("customer_id", ForeignKey("customers.customer_id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint(_one_of("status", ACCOUNT_STATUSES), name="status"),
    # A negative hold is always a ledger bug; refusing it keeps SQL from absorbing one.
    CheckConstraint("reserved >= 0", name="reserved"),
)

buckets = Table(
    "buckets",
    metadata,
    Column("bucket_id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("initial", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("rating_group", BigInteger, nullable=True),  # NULL: any rating group
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=False),
    CheckConstraint(_one_of("kind", BUCKET_KINDS), name="kind"),
    CheckConstraint("reserved >= 0", name="reserved"),
    CheckConstraint("valid_until_us >= valid_from_us", name="validity"),
)

# The journal. posting_id is assigned by the ledger (strictly increasing, continued
# after restart from max(posting_id)), so a replayed batch collides on the primary key
# instead of charging twice. Every per-row cost here is paid hundreds of thousands of
# times a second, so, measured on SQLite (benchmarks/bench_storage.py):
# - no secondary index: an (account_id, posting_id) index halved the insert rate;
#   statements and audits that need one can build it on a replica or at report time;
# - no CHECK on kind: it cost ~40% of the insert rate, and the only writer builds the
#   value from the PostingKind enum (storage.journal), so it could never fire;
# - no FOREIGN KEY on account_id/bucket_id (~15%): the writer updates every referenced
#   balance in the same transaction and rejects the batch unless each UPDATE found its
#   row, which proves the same thing once per balance instead of once per posting.
postings = Table(
    "postings",
    metadata,
    Column("posting_id", Id, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("bucket_id", BigInteger, nullable=True),
    Column("session_id", String(255), nullable=True),
    Column("rating_group", BigInteger, nullable=True),
    Column("at_us", BigInteger, nullable=False),
    Column("cause", String(255), nullable=True),
    Column("overrun", Boolean(create_constraint=False), nullable=False),
)

cc_sessions = Table(
    "cc_sessions",
    metadata,
    Column("session_id", String(255), primary_key=True),
    Column("rating_group", BigInteger, primary_key=True),  # -1: no Rating-Group AVP
    Column("account_id", ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("state", String(30), nullable=False),
    Column("request_number", BigInteger, nullable=False),
    Column("origin_host", String(255), nullable=False),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("bucket_id", ForeignKey("buckets.bucket_id"), nullable=True),
    Column("bucket_reserved", BigInteger, nullable=False, server_default="0"),
    Column("granted_units", BigInteger, nullable=False, server_default="0"),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("used_units", BigInteger, nullable=False, server_default="0"),  # version 3
    Column("started_at_us", BigInteger, nullable=False, server_default="0"),  # version 3
    Column("bucket_holds", String(2000), nullable=False, server_default=""),  # version 4
    CheckConstraint("reserved >= 0 AND bucket_reserved >= 0", name="reserved"),
)

# The transactional outbox (DESIGN.md "account events"). event_id order is commit order:
# storage.events serialises event writers so that a consumer reading "after my cursor"
# can never skip an event that commits later with a smaller id.
account_events = Table(
    "account_events",
    metadata,
    Column("event_id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("account_id", ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("payload", Text, nullable=False, server_default="{}"),  # JSON object
    Column("amount", BigInteger, nullable=True),  # micro-units, money events only
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint(_one_of("kind", EVENT_KINDS), name="kind"),
)

event_cursors = Table(
    "event_cursors",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("last_event_id", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

# Tariff files as loaded (schema version 2). The OCS prices with the active one: it reads
# its TOML text at start (rating.plans.load_plans), so the OCS and billing price with the
# very text the operator loaded, and every earlier version stays for audits and disputes.
# sha256 makes loading the same file twice a no-op; at most one row is active (the partial
# unique index, which both SQLite and PostgreSQL support).
tariff_catalogs = Table(
    "tariff_catalogs",
    metadata,
    Column("catalog_id", Id, primary_key=True),
    Column("source", String(500), nullable=False),  # the file name it was loaded from
    Column("sha256", String(64), nullable=False, unique=True),  # hex of the UTF-8 text
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
