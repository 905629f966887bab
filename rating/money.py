"""The one money representation: ``int`` micro-units of the account currency.

What lives here: conversion between ``Decimal`` (tariff files, CLI input, invoices,
Diameter Unit-Value) and integer micro-units with an explicit rounding mode, ISO 4217
currencies with their minor units, and rounding to a currency's minor unit. What must
not: floats, anywhere; process-global rounding contexts (every call names its mode).

1 EUR = 1 000 000 micro-units. The ledger adds and compares ints only; ``Decimal``
appears only at the edges, through the functions below.
"""

from __future__ import annotations

import decimal
import enum
from dataclasses import dataclass
from decimal import Decimal

#: micro-units in one major unit of any currency
MICROS = 1_000_000

#: a ledger amount, in micro-units of the account's currency
Micros = int


class Rounding(enum.Enum):
    """Rounding modes, named for what they do to the customer's bill."""

    UP = decimal.ROUND_CEILING  #: towards +infinity: a charge never rounds in the customer's favour
    DOWN = decimal.ROUND_FLOOR  #: towards -infinity
    HALF_EVEN = decimal.ROUND_HALF_EVEN  #: banker's rounding, for invoices and taxes
    HALF_UP = decimal.ROUND_HALF_UP  #: commercial rounding, where a tariff asks for it


@dataclass(frozen=True, slots=True)
class Currency:
    code: str  #: ISO 4217 alphabetic code
    numeric: int  #: ISO 4217 numeric code, as Currency-Code carries it (RFC 8506 §8.11)
    minor_units: int  #: digits after the decimal point

    @property
    def minor_unit_micros(self) -> int:
        """The smallest amount an invoice can show, in micro-units (EUR: 10 000)."""
        return MICROS // int(10**self.minor_units)


# ISO 4217 (the currencies an MVNO is likely to bill in; add rows as needed).
_ISO_4217 = """
AED 784 2
AUD 036 2
BGN 975 2
BHD 048 3
BRL 986 2
CAD 124 2
CHF 756 2
CLP 152 0
CNY 156 2
CZK 203 2
DKK 208 2
EGP 818 2
EUR 978 2
GBP 826 2
HKD 344 2
HUF 348 2
IDR 360 2
ILS 376 2
INR 356 2
JOD 400 3
JPY 392 0
KES 404 2
KRW 410 0
KWD 414 3
MAD 504 2
MXN 484 2
MYR 458 2
NGN 566 2
NOK 578 2
NZD 554 2
OMR 512 3
PHP 608 2
PKR 586 2
PLN 985 2
QAR 634 2
RON 946 2
RSD 941 2
SAR 682 2
SEK 752 2
SGD 702 2
THB 764 2
TND 788 3
TRY 949 2
TWD 901 2
UAH 980 2
USD 840 2
VND 704 0
XAF 950 0
XOF 952 0
ZAR 710 2
"""

CURRENCIES: dict[str, Currency] = {
    code: Currency(code, int(numeric), int(minor))
    for code, numeric, minor in (line.split() for line in _ISO_4217.strip().splitlines())
}
_BY_NUMERIC = {c.numeric: c for c in CURRENCIES.values()}


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly as asked."""


def currency(code: str | int) -> Currency:
    """Look up an ISO 4217 currency by alphabetic or numeric code."""
    found = _BY_NUMERIC.get(code) if isinstance(code, int) else CURRENCIES.get(code.upper())
    if found is None:
        raise MoneyError(f"unknown ISO 4217 currency {code!r}")
    return found


_EXACT = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Overflow])


def parse_decimal(text: str) -> Decimal:
    """Parse an amount typed by a person or read from a file ("12.50", "-3", "1e-2")."""
    try:
        value = Decimal(text.strip().replace("_", ""))
    except decimal.InvalidOperation:
        raise MoneyError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {text!r}")
    return value


def to_micros(amount: Decimal | int | str, rounding: Rounding) -> Micros:
    """Convert a major-unit amount to micro-units, rounding as told."""
    if isinstance(amount, str):
        amount = parse_decimal(amount)
    if isinstance(amount, float):  # pragma: no cover - the type forbids it; callers may not
        raise MoneyError("float money is refused: pass a Decimal or a string")
    scaled = _EXACT.multiply(Decimal(amount), Decimal(MICROS))
    return int(scaled.to_integral_value(rounding=rounding.value))


def from_micros(micros: Micros) -> Decimal:
    """The exact major-unit ``Decimal`` of an amount in micro-units."""
    return _EXACT.divide(Decimal(micros), Decimal(MICROS))


def round_to_minor(micros: Micros, cur: Currency, rounding: Rounding) -> Micros:
    """Round to what the currency can show (e.g. whole cents), staying in micro-units.

    Exact integer arithmetic (`round_ratio`): no process-wide Decimal context involved.
    """
    step = cur.minor_unit_micros
    return round_ratio(micros, step, rounding) * step


def format_money(micros: Micros, cur: Currency, *, exact: bool = False) -> str:
    """Render for people: "12.50 EUR". With ``exact`` the micro digits are kept."""
    value = from_micros(micros)
    if exact:
        text = format(value.normalize(), "f") if value else "0"
    else:
        quantum = Decimal(1).scaleb(-cur.minor_units)
        text = format(value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN), "f")
    return f"{text} {cur.code}"


def unit_value(micros: Micros) -> tuple[int, int]:
    """(Value-Digits, Exponent) for a Diameter Unit-Value (RFC 8506 §8.8), minimal digits."""
    if micros == 0:
        return 0, 0
    digits, exponent = micros, -6
    while digits % 10 == 0 and exponent < 0:
        digits //= 10
        exponent += 1
    return digits, exponent


def to_micros_ratio(amount: Decimal | int | str) -> tuple[int, int]:
    """The exact micro-units of an amount as ``(numerator, denominator)``, never rounded.

    A tariff price may be finer than a micro-unit ("0.00000123" EUR per MB is 1.23
    micro-units): rating keeps such prices as exact ratios and rounds only the final
    amount, with the tariff's mode. The denominator is a power of ten and the ratio
    is not reduced (callers reduce it when they combine it with their own units).
    """
    if isinstance(amount, str):
        amount = parse_decimal(amount)
    if isinstance(amount, float):  # pragma: no cover - the type forbids it; callers may not
        raise MoneyError("float money is refused: pass a Decimal or a string")
    value = Decimal(amount)
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - is_finite() ruled NaN/Infinity out
        raise MoneyError(f"not a finite amount: {amount!r}")
    numerator = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    scale = exponent + 6  # micro-units shift the decimal point six places
    if scale >= 0:
        return numerator * 10**scale, 1
    return numerator, 10**-scale


def round_ratio(numerator: int, denominator: int, rounding: Rounding) -> Micros:
    """``numerator / denominator`` rounded to an integer as told, with ints only.

    The integer twin of ``to_micros``: rating multiplies before it divides and calls
    this once per amount, so no precision is lost on the way. ``HALF_UP`` rounds ties
    away from zero, as ``decimal.ROUND_HALF_UP`` does.
    """
    if denominator <= 0:
        raise MoneyError(f"denominator must be positive, got {denominator}")
    if rounding is Rounding.UP:
        return -(-numerator // denominator)
    if rounding is Rounding.DOWN:
        return numerator // denominator
    magnitude = -numerator if numerator < 0 else numerator
    quotient, remainder = divmod(magnitude, denominator)
    twice = 2 * remainder
    if twice > denominator or (
        twice == denominator and (rounding is Rounding.HALF_UP or quotient & 1)
    ):
        quotient += 1
    return -quotient if numerator < 0 else quotient
