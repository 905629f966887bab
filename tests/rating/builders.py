"""Small builders for tariffs in tests, so each test states only what it is about."""

from __future__ import annotations

import pathlib
from datetime import datetime
from zoneinfo import ZoneInfo

from rating.money import Rounding, currency
from rating.tariff import Band, Rate, Service, Tariff, TariffPlan, UnitPrice
from rating.units import UnitKind

BERLIN = ZoneInfo("Europe/Berlin")
EPOCH = datetime(2020, 1, 1, tzinfo=BERLIN)
EXAMPLE_FILE = pathlib.Path(__file__).resolve().parents[2] / "rating" / "example-tariffs.toml"
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))


def peak(days: frozenset[int] = EVERY_DAY, start: str = "08:00", end: str = "18:00") -> Band:
    def seconds(text: str) -> int:
        hours, minutes = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60

    return Band("peak", days, seconds(start), seconds(end))


def plan_of(
    *services: Service,
    bands: tuple[Band, ...] = (),
    rounding: Rounding = Rounding.UP,
    activation: datetime = EPOCH,
) -> TariffPlan:
    return TariffPlan(
        "test", currency("EUR"), (Tariff(activation, BERLIN, services, bands, rounding),)
    )


def one_rate(
    kind: UnitKind, rate: Rate, *, bands: tuple[Band, ...] = (), rounding: Rounding = Rounding.UP
) -> TariffPlan:
    """A plan with one wildcard service holding one rate."""
    return plan_of(Service("s", kind, (rate,)), bands=bands, rounding=rounding)


def per_minute(amount: str, first: int, step: int, fee: int = 0, prefix: str = "") -> Rate:
    return Rate(UnitPrice.of(amount, 60), first, step, fee, prefix)
