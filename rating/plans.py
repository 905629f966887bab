"""Load tariff plans and products from TOML text a person edits.

What lives here: ``load_plans(text, source)``, which parses and validates a tariff
file and returns a ``Catalog``, and the line finder that lets every error name the
file, line and field (``tomllib`` keeps no positions for values). What must not: file
access (callers read the file and pass its text and name), the clock.

The format is documented by ``rating/example-tariffs.toml``. Amounts are decimal
strings ("0.0123") or TOML integers; TOML floats are refused, because ``0.1`` in a
TOML file is a binary float that is not 0.1. Quantities (``per``, ``increment``,
intervals, bundle amounts) are integers of the service's unit or strings with a unit:
"1 MB" (10**6 octets), "1 MiB", "1 KB", "1 min", "30 s".
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rating.catalog import Bundle, Catalog, Period, Product
from rating.errors import PlanError, Problem, RatingError
from rating.money import Currency, MoneyError, Rounding, currency, parse_decimal, to_micros
from rating.tariff import (
    SECONDS_PER_DAY,
    WEEKDAYS,
    Band,
    Rate,
    Service,
    Tariff,
    TariffPlan,
    UnitPrice,
)
from rating.units import TIME_UNITS, VOLUME_UNITS, UnitKind

T = TypeVar("T")
Path = tuple[str | int, ...]

_ROUNDING = {
    "up": Rounding.UP,
    "down": Rounding.DOWN,
    "half_even": Rounding.HALF_EVEN,
    "half_up": Rounding.HALF_UP,
}
_TOP_KEYS = frozenset({"plan", "product"})
_PLAN_KEYS = frozenset({"name", "currency", "version"})
_VERSION_KEYS = frozenset({"active_from", "timezone", "rounding", "band", "service"})
_BAND_KEYS = frozenset({"name", "days", "from", "to"})
_RATE_KEYS = frozenset(
    {
        "price",
        "per",
        "increment",
        "first_interval",
        "next_interval",
        "connection_fee",
        "band_prices",
    }
)
_SERVICE_KEYS = _RATE_KEYS | {
    "name",
    "unit",
    "service_context_id",
    "rating_group",
    "service_identifier",
    "destination",
}
_DESTINATION_KEYS = _RATE_KEYS | {"prefix", "name"}
_PRODUCT_KEYS = frozenset({"name", "plan", "currency", "recurring_fee", "period", "bundle"})
_BUNDLE_KEYS = frozenset({"name", "unit", "amount", "rating_groups", "validity_days"})
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_QUANTITY = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_TOML_LINE = re.compile(r"at line (\d+)")


def load_plans(text: str, source: str) -> Catalog:
    """Parse and validate a tariff file.

    Args:
        text: the TOML text (the caller reads the file).
        source: the file name, used in every error message.

    Raises:
        PlanError: with every problem found, each naming ``source``, line and field.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        raise PlanError((Problem(source, line, "", f"not valid TOML: {exc}"),)) from None
    reader = _Reader(source, _LineIndex(text))
    catalog = reader.catalog(document)
    if reader.problems or catalog is None:
        raise PlanError(tuple(reader.problems))
    return catalog


class _Skip(Exception):
    """An item whose parts were already reported: skip it without a second message."""


class _Invalid(Exception):
    """One field is wrong; the item that holds it is skipped and the load goes on."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class _Reader:
    source: str
    lines: _LineIndex
    problems: list[Problem] = field(default_factory=list)

    # -- collecting problems -------------------------------------------------------

    def report(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.source, self.lines.line_of(path), _dotted(path), message))

    def each(
        self,
        table: dict[str, Any],
        path: Path,
        key: str,
        build: Callable[[dict[str, Any], Path], T],
    ) -> list[T]:
        """Build every element of the array of tables ``key``; report and skip bad ones."""
        items = table.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            self.report((*path, key), f"must be an array of tables ([[{_header(path, key)}]])")
            return []
        built: list[T] = []
        for index, item in enumerate(items):
            item_path = (*path, key, index)
            try:
                built.append(build(item, item_path))
            except _Skip:
                pass
            except _Invalid as exc:
                self.report(exc.path, exc.message)
            except (RatingError, MoneyError) as exc:
                self.report(item_path, str(exc))
        return built

    def unknown_keys(self, table: dict[str, Any], path: Path, allowed: frozenset[str]) -> None:
        for key in table:
            if key not in allowed:
                raise _Invalid((*path, key), f"unknown field (expected one of {sorted(allowed)})")

    # -- the document ----------------------------------------------------------------

    def catalog(self, document: dict[str, Any]) -> Catalog | None:
        for key in document:
            if key not in _TOP_KEYS:
                self.report((key,), "unknown top-level table (expected [[plan]] or [[product]])")
        plans = self.each(document, (), "plan", self.plan)
        products = self.each(document, (), "product", self.product)
        by_plan: dict[str, TariffPlan] = {}
        for index, plan in enumerate(plans):
            if plan.name in by_plan:
                self.report(("plan", index, "name"), f"plan {plan.name!r} is defined twice")
            by_plan[plan.name] = plan
        raw_plans = document.get("plan", [])
        written_plans = (
            {p.get("name") for p in raw_plans if isinstance(p, dict)}
            if isinstance(raw_plans, list)
            else set()
        )
        by_product: dict[str, Product] = {}
        for index, product in enumerate(products):
            path: Path = ("product", index)
            if product.name in by_product:
                self.report((*path, "name"), f"product {product.name!r} is defined twice")
            by_product[product.name] = product
            plan_found = by_plan.get(product.plan)
            if plan_found is None:
                if product.plan not in written_plans:  # else: its own problems are reported
                    self.report((*path, "plan"), f"no [[plan]] is named {product.plan!r}")
            elif plan_found.currency != product.currency:
                self.report(
                    (*path, "currency"),
                    f"{product.currency.code} differs from plan {product.plan!r} "
                    f"({plan_found.currency.code})",
                )
        if self.problems:
            return None
        return Catalog(by_plan, by_product)

    def plan(self, table: dict[str, Any], path: Path) -> TariffPlan:
        self.unknown_keys(table, path, _PLAN_KEYS)
        name = _string(table, path, "name")
        cur = _currency(table, path)
        before = len(self.problems)
        versions = self.each(table, path, "version", self.version)
        if len(self.problems) > before:
            raise _Skip
        if not versions:
            raise _Invalid(path, f"plan {name!r} needs at least one [[plan.version]]")
        versions.sort(key=lambda v: v.activation)
        for earlier, later in itertools.pairwise(versions):
            if earlier.activation == later.activation:
                raise _Invalid(path, f"two versions are active from {later.activation}")
        return TariffPlan(name, cur, tuple(versions))

    def version(self, table: dict[str, Any], path: Path) -> Tariff:
        self.unknown_keys(table, path, _VERSION_KEYS)
        zone_name = _string(table, path, "timezone")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise _Invalid((*path, "timezone"), f"unknown IANA time zone {zone_name!r}") from None
        active = table.get("active_from")
        if isinstance(active, datetime):
            activation = active if active.tzinfo is not None else active.replace(tzinfo=zone)
        else:
            raise _Invalid(
                (*path, "active_from"),
                "must be a TOML date-time, e.g. 2024-01-01T00:00:00+01:00 "
                "(without an offset it is read in the version's timezone)",
            )
        rounding_name = table.get("rounding", "up")
        if rounding_name not in _ROUNDING:
            raise _Invalid((*path, "rounding"), f"must be one of {sorted(_ROUNDING)}")
        before = len(self.problems)
        bands = self.each(table, path, "band", self.band)
        services = self.each(table, path, "service", self.service)
        if len(self.problems) > before:
            raise _Skip
        if not services:
            raise _Invalid(path, "a version needs at least one [[plan.version.service]]")
        try:
            return Tariff(activation, zone, tuple(services), tuple(bands), _ROUNDING[rounding_name])
        except RatingError as exc:
            raise _Invalid(path, str(exc)) from None

    def band(self, table: dict[str, Any], path: Path) -> Band:
        self.unknown_keys(table, path, _BAND_KEYS)
        name = _string(table, path, "name")
        days = table.get("days")
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, str) and d.lower() in WEEKDAYS for d in days)
        ):
            raise _Invalid((*path, "days"), f"must be a list of days among {list(WEEKDAYS)}")
        start = _time_of_day(table, path, "from")
        end = _time_of_day(table, path, "to")
        if start == SECONDS_PER_DAY:
            raise _Invalid((*path, "from"), "a band cannot start at 24:00")
        return Band(name, frozenset(WEEKDAYS.index(d.lower()) for d in days), start, end)

    def service(self, table: dict[str, Any], path: Path) -> Service:
        self.unknown_keys(table, path, _SERVICE_KEYS)
        name = _string(table, path, "name")
        unit = _string(table, path, "unit")
        try:
            kind = UnitKind(unit)
        except ValueError:
            raise _Invalid(
                (*path, "unit"), f"must be one of {[k.value for k in UnitKind]}"
            ) from None
        context = _string(table, path, "service_context_id", required=False)
        group = _integer(table, path, "rating_group", required=False)
        identifier = _integer(table, path, "service_identifier", required=False)
        rates: list[Rate] = []
        if "price" in table:
            rates.append(_rate(table, {}, path, kind, prefix=""))
        elif "destination" not in table:
            raise _Invalid((*path, "price"), "missing: give a price or [[...destination]] rows")
        defaults = {k: v for k, v in table.items() if k in _RATE_KEYS and k != "price"}
        before = len(self.problems)
        rates += self.each(
            table,
            path,
            "destination",
            lambda row, row_path: _rate(
                row, defaults, row_path, kind, prefix=_prefix(row, row_path)
            ),
        )
        if len(self.problems) > before:
            raise _Skip
        return Service(name, kind, tuple(rates), context, group, identifier)

    def product(self, table: dict[str, Any], path: Path) -> Product:
        self.unknown_keys(table, path, _PRODUCT_KEYS)
        name = _string(table, path, "name")
        plan = _string(table, path, "plan")
        cur = _currency(table, path)
        fee = to_micros(_amount(table, path, "recurring_fee", default=Decimal(0)), Rounding.UP)
        period_name = table.get("period", "month")
        try:
            period = Period(period_name)
        except ValueError:
            raise _Invalid(
                (*path, "period"), f"must be one of {[p.value for p in Period]}"
            ) from None
        before = len(self.problems)
        bundles = self.each(table, path, "bundle", self.bundle)
        if len(self.problems) > before:
            raise _Skip
        return Product(name, plan, cur, fee, period, tuple(bundles))

    def bundle(self, table: dict[str, Any], path: Path) -> Bundle:
        self.unknown_keys(table, path, _BUNDLE_KEYS)
        name = _string(table, path, "name")
        try:
            kind = UnitKind(_string(table, path, "unit"))
        except ValueError:
            raise _Invalid(
                (*path, "unit"), f"must be one of {[k.value for k in UnitKind]}"
            ) from None
        amount = _quantity(table, path, "amount", kind)
        groups = table.get("rating_groups", [])
        if not isinstance(groups, list) or not all(type(g) is int and g >= 0 for g in groups):
            raise _Invalid((*path, "rating_groups"), "must be a list of rating-group integers")
        validity = _integer(table, path, "validity_days")
        return Bundle(name, kind, amount, validity, frozenset(groups))


# -- field readers (each raises _Invalid naming the field) ----------------------------


def _header(path: Path, key: str) -> str:
    return ".".join([p for p in path if isinstance(p, str)] + [key])


def _float_refused(path: Path, key: str, value: float) -> _Invalid:
    return _Invalid(
        (*path, key),
        f'{value!r} is a TOML float, which is binary and inexact: quote it, {key} = "{value!r}"',
    )


def _string(table: dict[str, Any], path: Path, key: str, *, required: bool = True) -> Any:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid((*path, key), "missing" if value is None else "must be a non-empty string")
    return value


def _integer(table: dict[str, Any], path: Path, key: str, *, required: bool = True) -> Any:
    value = table.get(key)
    if value is None and not required:
        return None
    if isinstance(value, float):
        raise _float_refused(path, key, value)
    if type(value) is not int or value < 0:
        raise _Invalid((*path, key), "missing" if value is None else "must be an integer >= 0")
    return value


def _amount(
    table: dict[str, Any], path: Path, key: str, *, default: Decimal | None = None
) -> Decimal:
    value = table.get(key)
    if value is None:
        if default is None:
            raise _Invalid((*path, key), "missing")
        return default
    return _decimal(value, (*path, key))


def _decimal(value: object, path: Path) -> Decimal:
    if isinstance(value, float):
        raise _float_refused(path[:-1], str(path[-1]), value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(path, 'must be an amount: a quoted decimal ("0.0123") or an integer')
    try:
        amount = parse_decimal(value) if isinstance(value, str) else Decimal(value)
    except MoneyError as exc:
        raise _Invalid(path, str(exc)) from None
    if amount < 0:
        raise _Invalid(path, "must not be negative")
    return amount


def _currency(table: dict[str, Any], path: Path) -> Currency:
    code = _string(table, path, "currency")
    try:
        return currency(code)
    except MoneyError as exc:
        raise _Invalid((*path, "currency"), str(exc)) from None


def _time_of_day(table: dict[str, Any], path: Path, key: str) -> int:
    value = table.get(key)
    found = _TIME_OF_DAY.match(value) if isinstance(value, str) else None
    if found is None or (found.group(1) == "24" and found.group(2) != "00"):
        raise _Invalid((*path, key), 'must be a quoted local time "HH:MM" (00:00 to 24:00)')
    return int(found.group(1)) * 3600 + int(found.group(2)) * 60


def _quantity(table: dict[str, Any], path: Path, key: str, kind: UnitKind) -> int:
    """A positive number of units: an integer, or a string with a unit ("1 MB", "1 min")."""
    value = table.get(key)
    if isinstance(value, float):
        raise _float_refused(path, key, value)
    if type(value) is int:
        if value <= 0:
            raise _Invalid((*path, key), "must be > 0")
        return value
    found = _QUANTITY.match(value) if isinstance(value, str) else None
    if found is None:
        raise _Invalid(
            (*path, key), "missing" if value is None else 'must be an integer or "<number> <unit>"'
        )
    number, unit = Decimal(found.group(1).replace("_", "")), found.group(2).upper()
    units = VOLUME_UNITS if kind.is_volume else TIME_UNITS if kind is UnitKind.TIME else {}
    scale = units.get(unit) if unit else 1
    if scale is None:
        raise _Invalid(
            (*path, key), f"unknown unit {found.group(2)!r} for {kind.value} (use {sorted(units)})"
        )
    total = number * scale
    if total != total.to_integral_value() or total <= 0:
        raise _Invalid((*path, key), f"{value!r} is not a positive whole number of units")
    return int(total)


def _prefix(row: dict[str, Any], path: Path) -> str:
    value = row.get("prefix")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _Invalid((*path, "prefix"), 'missing: a quoted E.164 prefix such as "49" ("" = any)')
    text = str(value).lstrip("+")
    if text and not (text.isascii() and text.isdigit()):
        raise _Invalid((*path, "prefix"), f"{value!r} must be E.164 digits")
    return text


def _rate(
    row: dict[str, Any], defaults: dict[str, Any], path: Path, kind: UnitKind, *, prefix: str
) -> Rate:
    """A rate from a service table or a destination row (which inherits the service's)."""
    if defaults:  # a destination row: only its own keys
        for key in row:
            if key not in _DESTINATION_KEYS:
                raise _Invalid(
                    (*path, key), f"unknown field (expected one of {sorted(_DESTINATION_KEYS)})"
                )
    merged = {**defaults, **row}

    def located(key: str) -> Path:
        # A field inherited from the service is reported where the service wrote it.
        return path if key in row or not defaults else path[:-2]

    if "per" in merged:
        per = _quantity(merged, located("per"), "per", kind)
    elif kind in (UnitKind.EVENT, UnitKind.SERVICE_SPECIFIC):
        per = 1
    else:
        raise _Invalid(
            (*path, "per"), 'missing: the quantity the price is for, e.g. "1 MB", "1 min"'
        )
    if "increment" in merged and ("first_interval" in merged or "next_interval" in merged):
        raise _Invalid((*path, "increment"), "give increment or first/next_interval, not both")
    if "increment" in merged:
        first = step = _quantity(merged, located("increment"), "increment", kind)
    else:
        first = (
            _quantity(merged, located("first_interval"), "first_interval", kind)
            if "first_interval" in merged
            else 1
        )
        step = (
            _quantity(merged, located("next_interval"), "next_interval", kind)
            if "next_interval" in merged
            else first
        )
    unit_price = UnitPrice.of(_amount(merged, located("price"), "price"), per)
    fee = to_micros(
        _amount(merged, located("connection_fee"), "connection_fee", default=Decimal(0)),
        Rounding.UP,
    )
    band_table = merged.get("band_prices", {})
    if not isinstance(band_table, dict):
        raise _Invalid(
            (*located("band_prices"), "band_prices"),
            'must be a table: band_prices = { peak = "0.15" }',
        )
    band_prices = tuple(
        (band, UnitPrice.of(_decimal(amount, (*located("band_prices"), "band_prices", band)), per))
        for band, amount in sorted(band_table.items())
    )
    return Rate(unit_price, first, step, fee, prefix, band_prices)


# -- where things are in the text ---------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")


class _LineIndex:
    """Line numbers of table headers and keys, by resolved path.

    Replays the TOML rules that matter for locating things: ``[[a.b]]`` appends an
    element to the array ``b`` of the *last* element of ``a``, ``[a.b]`` names a
    table, and ``key = ...`` lines belong to the latest header. Values spread over
    several lines and inline tables are located at their key's line, an element with
    no line of its own at its parent's line.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        counts: dict[Path, int] = {}
        latest: dict[tuple[str, ...], Path] = {}  # array name path -> its latest element
        section: Path = ()
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:  # inside a multi-line string: nothing to index
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(line)
            if header is not None:
                names = tuple(_unquote(part) for part in header.group(2).split("."))
                resolved: Path = ()
                for depth in range(len(names) - 1):
                    prefix = names[: depth + 1]
                    resolved = latest.get(prefix, (*resolved, names[depth]))
                if header.group(1) == "[[":
                    base = (*resolved, names[-1])
                    index = counts.get(base, 0)
                    counts[base] = index + 1
                    section = (*base, index)
                    latest[names] = section
                else:
                    section = (*resolved, names[-1])
                self.lines.setdefault(section, number)
                continue
            key = _KEY.match(line)
            if key is not None:
                self.lines.setdefault((*section, _unquote(key.group(1))), number)
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2 == 1:
                        in_string = quote

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, else of its nearest ancestor that has one."""
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return None


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        return name[1:-1]
    return name
