"""The tariff catalog in SQL: the loaded tariff files, the active one, and its products.

What lives here: ``store_catalog`` (keep a tariff file's text, make it the active one,
bring the ``products``/``product_bundles`` rows in line with it) and ``active_catalog``
(what the OCS and billing load at start). What must not: parsing tariff files. storage
may import only ``rating.money``, so the caller parses the text with
``rating.plans.load_plans`` and passes the products as plain ``ProductSpec`` rows; this
module stores the text it was given verbatim, and the OCS parses it again at start.

Rules, and why:

- **Idempotent by content.** A catalog is identified by the sha256 of its UTF-8 text.
  Loading the same text again stores nothing new (it is re-activated if another catalog
  was active since), so ``ocs init --demo`` twice adds nothing.
- **One active catalog.** Products name a tariff plan of the active catalog, and the OCS
  prices every account with that catalog. Older catalogs stay, inactive, for audits.
- **Products follow the catalog**, by name: new ones are inserted, changed ones updated
  (bundles replaced), and products the new catalog lacks are deleted, unless an account
  is still on one. That is refused (``InvalidRequest``, nothing written): the OCS could not
  price those accounts. Move them first (``storage.events.change_product``).
- A product's currency cannot change while accounts are on it: an account's balance is in
  its currency and is never converted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text, true

from storage.errors import InvalidRequest
from storage.queries import create_product, get_product, insert_bundles, now_us
from storage.records import Bundle
from storage.schema import accounts, product_bundles, tariff_catalogs
from storage.schema import products as products_table  # `products` is a parameter name

#: arbitrary constant naming "catalog changes" among PostgreSQL advisory locks
_PG_CATALOG_LOCK = 7_274_603


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """A product as a tariff file defines it, already parsed by the caller."""

    name: str
    tariff_plan: str  #: a plan name of the same catalog
    currency: str  #: ISO 4217 alphabetic code
    recurring_fee: int = 0  #: micro-units per period
    bundles: tuple[Bundle, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    """What ``store_catalog`` did."""

    catalog_id: int
    sha256: str
    created: bool  #: False: this exact text was stored before
    activated: bool  #: False: it was already the active catalog
    products_added: tuple[str, ...] = ()
    products_updated: tuple[str, ...] = ()
    products_removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.activated
            or self.products_added
            or self.products_updated
            or self.products_removed
        )


@dataclass(frozen=True, slots=True)
class CatalogInfo:
    catalog_id: int
    source: str
    sha256: str
    text: str
    loaded_at_us: int


def catalog_sha256(catalog_text: str) -> str:
    return hashlib.sha256(catalog_text.encode("utf-8")).hexdigest()


def store_catalog(
    conn: Connection, source: str, catalog_text: str, *, products: Sequence[ProductSpec]
) -> StoredCatalog:
    """Store a tariff file, make it the active catalog, and sync the products to it.

    Run it in one ``write_transaction``: catalog, activation and products change together.

    Args:
        source: the file name the text came from (for people: ``ocs catalog show``).
        catalog_text: the tariff file's text, stored verbatim.
        products: every product of that text, as ``rating.plans.load_plans`` parsed it.

    Raises:
        InvalidRequest: a product some account is on would be removed or change currency;
            two specs share a name. Nothing was written.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CATALOG_LOCK})
    names = [p.name for p in products]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"product names must be unique in a catalog: {sorted(names)}")
    # Check everything before the first write, so a refusal leaves no trace even when the
    # caller ignores the exception and commits.
    wanted = {p.name: p for p in products}
    existing = {
        row.name: (int(row.product_id), row.currency)
        for row in conn.execute(
            select(products_table.c.product_id, products_table.c.name, products_table.c.currency)
        )
    }
    in_use = _products_in_use(conn)
    stranded = sorted(n for n, (pid, _) in existing.items() if n not in wanted and pid in in_use)
    if stranded:
        raise InvalidRequest(
            f"catalog {source} has no product {', '.join(stranded)}, which accounts are "
            "still on; move those accounts to another product first"
        )
    for name, spec in wanted.items():
        found = existing.get(name)
        if found is not None and found[1] != spec.currency and found[0] in in_use:
            raise InvalidRequest(
                f"product {name} is priced in {found[1]} and accounts are on it; catalog "
                f"{source} prices it in {spec.currency}, and balances are never converted"
            )

    sha = catalog_sha256(catalog_text)
    row = conn.execute(
        select(tariff_catalogs.c.catalog_id, tariff_catalogs.c.active).where(
            tariff_catalogs.c.sha256 == sha
        )
    ).first()
    created = row is None
    if row is None:
        catalog_id = int(
            conn.execute(
                tariff_catalogs.insert()
                .values(
                    source=source,
                    sha256=sha,
                    text=catalog_text,
                    loaded_at_us=now_us(),
                    active=False,
                )
                .returning(tariff_catalogs.c.catalog_id)
            ).scalar_one()
        )
        activated = True
    else:
        catalog_id, activated = int(row.catalog_id), not row.active
    if activated:
        # Deactivate first: the partial unique index allows one active row at any moment.
        conn.execute(
            tariff_catalogs.update().where(tariff_catalogs.c.active == true()).values(active=False)
        )
        conn.execute(
            tariff_catalogs.update()
            .where(tariff_catalogs.c.catalog_id == catalog_id)
            .values(active=True)
        )

    added, updated = [], []
    for name, spec in wanted.items():
        if name not in existing:
            create_product(
                conn,
                name=name,
                tariff_plan=spec.tariff_plan,
                currency=spec.currency,
                recurring_fee=spec.recurring_fee,
                bundles=spec.bundles,
            )
            added.append(name)
            continue
        product = get_product(conn, name=name)
        if (product.tariff_plan, product.currency, product.recurring_fee, product.bundles) == (
            spec.tariff_plan,
            spec.currency,
            spec.recurring_fee,
            spec.bundles,
        ):
            continue
        conn.execute(
            products_table.update()
            .where(products_table.c.product_id == product.product_id)
            .values(
                tariff_plan=spec.tariff_plan,
                currency=spec.currency,
                recurring_fee=spec.recurring_fee,
            )
        )
        if product.bundles != spec.bundles:
            _replace_bundles(conn, product.product_id, spec.bundles)
        updated.append(name)
    removed = sorted(n for n in existing if n not in wanted)
    for name in removed:
        product_id = existing[name][0]
        conn.execute(product_bundles.delete().where(product_bundles.c.product_id == product_id))
        conn.execute(products_table.delete().where(products_table.c.product_id == product_id))
    return StoredCatalog(
        catalog_id, sha, created, activated, tuple(added), tuple(updated), tuple(removed)
    )


def active_catalog(conn: Connection) -> tuple[str, str] | None:
    """``(source, text)`` of the active catalog, or None before the first one is stored."""
    info = active_catalog_info(conn)
    return None if info is None else (info.source, info.text)


def active_catalog_info(conn: Connection) -> CatalogInfo | None:
    """The active catalog with its id, hash and load time."""
    row = conn.execute(select(tariff_catalogs).where(tariff_catalogs.c.active == true())).first()
    if row is None:
        return None
    return CatalogInfo(int(row.catalog_id), row.source, row.sha256, row.text, int(row.loaded_at_us))


def count_catalogs(conn: Connection) -> int:
    """How many catalogs were ever stored (active or not)."""
    return int(conn.execute(select(func.count()).select_from(tariff_catalogs)).scalar_one())


# --- internals -----------------------------------------------------------------------------


def _products_in_use(conn: Connection) -> set[int]:
    return {int(pid) for pid in conn.execute(select(accounts.c.product_id).distinct()).scalars()}


def _replace_bundles(conn: Connection, product_id: int, bundles: Sequence[Bundle]) -> None:
    conn.execute(product_bundles.delete().where(product_bundles.c.product_id == product_id))
    insert_bundles(conn, product_id, bundles)
