"""What the traffic should cost: a small price table, in Decimal, for verify mode.

What lives here: `PriceTable` (price per MB, per minute, per SMS, with increments and
charging intervals) and `Rounding`. What must not: any import of rating/ (the simulator is
a black box: it learns the tariff from the command line, as an operator testing an OCS
would read it off the tariff sheet) or any float.

Rounding: ``session`` (the default, and how the OCS rates: ocs/charging.py prices each
report as the difference of the session's running total) applies increments, first
interval and fees once to the session's total; ``report`` prices every Used-Service-Unit
report on its own, as an OCS that rates each CCR as a separate record would. Money is
rounded up to the ledger's micro-unit, as the demo
tariff's ``rounding = "up"`` does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

MICRO = Decimal("0.000001")
OCTETS_PER_MB = 1_000_000  # the tariff's "1 MB" is decimal (rating.units VOLUME_UNITS)


class Rounding(enum.Enum):
    REPORT = "report"
    SESSION = "session"


class Unit(enum.Enum):
    """What a scenario's usage counts."""

    OCTETS = "octets"
    SECONDS = "seconds"
    EVENTS = "events"


class PriceError(ValueError):
    """The price table has no price for a unit the traffic used."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTable:
    """Prices in the account currency; None: that unit is not priced (verify refuses)."""

    per_mb: Decimal | None = None
    octet_increment: int = 1000  #: octets charged per started increment
    per_minute: Decimal | None = None
    first_interval: int = 60  #: seconds charged for any call shorter than this
    next_interval: int = 60  #: then per started interval
    per_sms: Decimal | None = None
    rounding: Rounding = Rounding.SESSION

    def __post_init__(self) -> None:
        if self.octet_increment < 1 or self.first_interval < 1 or self.next_interval < 1:
            raise ValueError("increments and intervals must be at least 1")

    def _one(self, unit: Unit, amount: int) -> Decimal:
        if amount <= 0:
            return Decimal(0)
        if unit is Unit.OCTETS:
            if self.per_mb is None:
                raise PriceError("data was used but no --price-per-mb was given")
            charged = _ceil_div(amount, self.octet_increment) * self.octet_increment
            return self.per_mb * charged / OCTETS_PER_MB
        if unit is Unit.SECONDS:
            if self.per_minute is None:
                raise PriceError("voice was used but no --price-per-minute was given")
            charged = self.first_interval
            if amount > self.first_interval:
                rest = amount - self.first_interval
                charged += _ceil_div(rest, self.next_interval) * self.next_interval
            return self.per_minute * charged / 60
        if self.per_sms is None:
            raise PriceError("SMS were sent but no --price-per-sms was given")
        return self.per_sms * amount

    def cost(self, unit: Unit, reports: Iterable[int]) -> Decimal:
        """The price of one rating group's reports in one session, rounded up to 1e-6."""
        amounts = list(reports)
        if self.rounding is Rounding.SESSION:
            total = self._one(unit, sum(amounts))
            return total.quantize(MICRO, rounding=ROUND_UP)
        return sum(
            (self._one(unit, a).quantize(MICRO, rounding=ROUND_UP) for a in amounts), Decimal(0)
        )
