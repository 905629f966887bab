"""What an MVNO sells: products (a tariff plan, a recurring fee, bundles) and the catalog.

What lives here: ``Bundle``, ``Product`` and ``Catalog``, frozen values with their
validation. What must not: balances or bundle consumption (the ledger's), the clock,
parsing (``rating.plans`` builds a ``Catalog`` from a tariff file).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from rating.errors import NoRateError, TariffError
from rating.money import Currency, Micros
from rating.tariff import TariffPlan
from rating.units import UnitKind


class Period(enum.Enum):
    """How often a recurring fee is charged. Values are the tariff-file spellings."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"  #: calendar month, from the subscription's anniversary day


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bucket of included units, granted with each period of a product."""

    name: str
    kind: UnitKind
    amount: int  #: units: octets, seconds, events
    validity_days: int  #: how long the units last after they are granted
    rating_groups: frozenset[int] = frozenset()  #: empty: applies to every rating group

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise TariffError(f"bundle {self.name!r}: amount must be > 0")
        if self.validity_days <= 0:
            raise TariffError(f"bundle {self.name!r}: validity_days must be > 0")

    def applies_to(self, kind: UnitKind, rating_group: int | None) -> bool:
        """Whether usage of ``kind`` in ``rating_group`` may draw on this bundle."""
        if kind is not self.kind:
            return False
        return not self.rating_groups or rating_group in self.rating_groups


@dataclass(frozen=True, slots=True)
class Product:
    """A product a subscriber is on: how usage is priced and what a period includes."""

    name: str
    plan: str  #: the name of the ``TariffPlan`` that prices usage beyond the bundles
    currency: Currency
    recurring_fee: Micros = 0
    period: Period = Period.MONTH
    bundles: tuple[Bundle, ...] = ()

    def __post_init__(self) -> None:
        if self.recurring_fee < 0:
            raise TariffError(f"product {self.name!r}: recurring fee must be >= 0")


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every tariff plan and product of one tariff file, by name."""

    plans: Mapping[str, TariffPlan]
    products: Mapping[str, Product]

    def __post_init__(self) -> None:
        for product in self.products.values():
            plan = self.plans.get(product.plan)
            if plan is None:
                raise TariffError(f"product {product.name!r}: unknown plan {product.plan!r}")
            if plan.currency != product.currency:
                raise TariffError(
                    f"product {product.name!r} is in {product.currency.code} but plan "
                    f"{plan.name!r} prices in {plan.currency.code}"
                )

    def plan(self, name: str) -> TariffPlan:
        try:
            return self.plans[name]
        except KeyError:
            raise NoRateError(f"no tariff plan {name!r}") from None

    def product(self, name: str) -> Product:
        try:
            return self.products[name]
        except KeyError:
            raise NoRateError(f"no product {name!r}") from None
