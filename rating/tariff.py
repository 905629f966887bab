"""Tariffs as frozen values: prices, rates, time bands, services, versions and plans.

What lives here: the tariff data model and its validation (``TariffError``), the
selection of the version in force at an instant, of the service that prices a usage
(by Service-Context-Id, Rating-Group and Service-Identifier, with defaults), of the
rate for a destination (longest prefix), and of the time band at an instant in the
tariff's IANA zone. What must not: the arithmetic of a price (``rating.engine``),
file parsing (``rating.plans``), the clock.

One ``Rate`` shape covers every kind of service, after CGRateS' ``RateIncrement``:
usage is charged as a ``first_interval`` and then whole ``next_interval`` steps
(voice 60/60, 30/6, 1/1; data with ``first = next = increment``, e.g. 1 KB; events
1/1), plus a ``connection_fee`` once per non-empty usage. Time bands change only
the price, never the intervals.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from rating.destinations import PrefixTable
from rating.errors import NoRateError, TariffError
from rating.money import Currency, Micros, Rounding, to_micros_ratio
from rating.units import UnitKind

SECONDS_PER_DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  #: index = datetime.weekday()


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """An exact price: ``numerator`` micro-units for every ``denominator`` units.

    "0.0123 EUR per MB" is 12 300 micro-units per 1 000 000 octets; "0.10 EUR per
    minute" is 100 000 per 60 seconds (stored reduced, 5 000 / 3). Kept as a ratio
    of ints so that no price finer than a micro-unit is ever rounded before the
    final amount.
    """

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if self.numerator < 0 or self.denominator <= 0:
            raise TariffError(f"a price must be >= 0 per a positive quantity, got {self}")

    @classmethod
    def of(cls, amount: Decimal | int | str, per: int) -> UnitPrice:
        """The price of ``amount`` major units (e.g. EUR) for ``per`` units."""
        if per <= 0:
            raise TariffError(f"a price must be per a positive quantity, got per={per}")
        numerator, denominator = to_micros_ratio(amount)
        denominator *= per
        common = math.gcd(numerator, denominator)
        return cls(numerator // common, denominator // common)

    @property
    def is_free(self) -> bool:
        return self.numerator == 0


FREE = UnitPrice(0, 1)


@dataclass(frozen=True, slots=True)
class Rate:
    """How usage of one destination (or of a whole data service) is charged."""

    price: UnitPrice  #: outside every time band, or always when there are no band prices
    first_interval: int = 1  #: the first charged step, in units (voice 60 of 60/60)
    next_interval: int = 1  #: every further step, in units (voice 6 of 30/6; data 1 KB)
    connection_fee: Micros = 0  #: once per non-empty usage (a call set up)
    prefix: str = ""  #: destination prefix, E.164 digits; "" matches every destination
    band_prices: tuple[tuple[str, UnitPrice], ...] = ()  #: (band name, price) pairs

    def __post_init__(self) -> None:
        if self.first_interval < 1 or self.next_interval < 1:
            raise TariffError(
                f"intervals must be >= 1 unit, got {self.first_interval}/{self.next_interval}"
            )
        if self.connection_fee < 0:
            raise TariffError(f"connection fee must be >= 0, got {self.connection_fee}")
        names = [name for name, _ in self.band_prices]
        if len(set(names)) != len(names):
            raise TariffError(f"a band is priced twice in rate {self.prefix!r}: {names}")

    def price_in(self, band: str | None) -> UnitPrice:
        """The price during ``band`` (None: outside every band)."""
        if band is not None:
            for name, price in self.band_prices:
                if name == band:
                    return price
        return self.price

    def charged_units(self, used: int) -> int:
        """``used`` rounded up to the intervals: first, then whole next steps."""
        if used <= 0:
            return 0
        first = self.first_interval
        if used <= first:
            return first
        step = self.next_interval
        return first + -(-(used - first) // step) * step


@dataclass(frozen=True, slots=True)
class Band:
    """A weekly window of a named time band, in the tariff's local wall time.

    ``start``/``end`` are seconds since local midnight; ``end`` may be 86 400
    ("24:00"). A window with ``end <= start`` wraps past midnight into the next day
    (22:00-06:00 on Friday covers Saturday 00:00-06:00).
    """

    name: str
    days: frozenset[int]  #: 0 = Monday, as ``datetime.weekday()``
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.name:
            raise TariffError("a band needs a name")
        if not self.days or not self.days <= set(range(7)):
            raise TariffError(f"band {self.name!r}: days must be weekdays 0..6, got {self.days}")
        if not (0 <= self.start < SECONDS_PER_DAY and 0 < self.end <= SECONDS_PER_DAY):
            raise TariffError(f"band {self.name!r}: times must lie within a day")
        if self.start == self.end:
            raise TariffError(f"band {self.name!r}: an empty window (start == end)")

    def pieces(self) -> list[tuple[int, int, int]]:
        """(weekday, start, end) pieces, with wrapping windows cut at midnight."""
        out: list[tuple[int, int, int]] = []
        for day in sorted(self.days):
            if self.start < self.end:
                out.append((day, self.start, self.end))
            else:
                out.append((day, self.start, SECONDS_PER_DAY))
                if self.end:
                    out.append(((day + 1) % 7, 0, self.end))
        return out


class Specificity:
    """Selector precedence: a Rating-Group match beats a Service-Identifier match,
    which beats a Service-Context-Id match; a rule naming more selectors beats one
    naming fewer. Bits of a mask, tried from 7 (all three) down to 0 (the default)."""

    CONTEXT = 1
    SERVICE = 2
    GROUP = 4


@dataclass(frozen=True, slots=True)
class Service:
    """The rates of one service: its selectors, unit kind and rates by destination.

    A selector left ``None`` is a wildcard. A data or event service usually has one
    rate with prefix "" (any destination); voice has one per destination prefix.
    """

    name: str
    kind: UnitKind
    rates: tuple[Rate, ...]
    service_context_id: str | None = None
    rating_group: int | None = None
    service_identifier: int | None = None
    _table: PrefixTable[Rate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rates:
            raise TariffError(f"service {self.name!r} has no rates")
        try:
            table = PrefixTable.of((rate.prefix, rate) for rate in self.rates)
        except ValueError as exc:
            raise TariffError(f"service {self.name!r}: {exc}") from None
        object.__setattr__(self, "_table", table)

    @property
    def mask(self) -> int:
        return (
            (Specificity.CONTEXT if self.service_context_id is not None else 0)
            | (Specificity.SERVICE if self.service_identifier is not None else 0)
            | (Specificity.GROUP if self.rating_group is not None else 0)
        )

    def rate_for(self, destination: str | None) -> Rate:
        """The rate of the longest prefix of ``destination`` (None: the "" rate)."""
        found = self._table.longest_match(destination or "")
        if found is None:
            raise NoRateError(f"service {self.name!r} has no rate for destination {destination!r}")
        return found[1]


_Key = tuple[UnitKind, int, str | None, int | None, int | None]


def _key(
    kind: UnitKind, mask: int, context: str | None, group: int | None, service: int | None
) -> _Key:
    return (
        kind,
        mask,
        context if mask & Specificity.CONTEXT else None,
        group if mask & Specificity.GROUP else None,
        service if mask & Specificity.SERVICE else None,
    )


@dataclass(frozen=True, slots=True)
class Tariff:
    """One version of a rate card, in force from ``activation`` until the next one."""

    activation: datetime  #: timezone-aware
    zone: ZoneInfo  #: the IANA zone in which the bands' wall times are read
    services: tuple[Service, ...]
    bands: tuple[Band, ...] = ()
    rounding: Rounding = Rounding.UP  #: how each amount is rounded to a micro-unit
    _index: dict[_Key, Service] = field(init=False, repr=False, compare=False)
    _masks: tuple[int, ...] = field(init=False, repr=False, compare=False)
    #: per weekday: (piece start seconds, band name or None) covering the whole day
    _days: tuple[tuple[tuple[int, ...], tuple[str | None, ...]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.activation.tzinfo is None or self.activation.utcoffset() is None:
            raise TariffError("activation must be timezone-aware")
        index: dict[_Key, Service] = {}
        for service in self.services:
            key = _key(
                service.kind,
                service.mask,
                service.service_context_id,
                service.rating_group,
                service.service_identifier,
            )
            if key in index:
                raise TariffError(
                    f"services {index[key].name!r} and {service.name!r} have the same selectors"
                )
            index[key] = service
        band_names = {band.name for band in self.bands}
        for service in self.services:
            for rate in service.rates:
                for name, _ in rate.band_prices:
                    if name not in band_names:
                        raise TariffError(f"service {service.name!r} prices unknown band {name!r}")
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_masks", tuple(sorted({key[1] for key in index}, reverse=True)))
        object.__setattr__(self, "_days", _day_tables(self.bands))

    def select(
        self,
        kind: UnitKind,
        *,
        service_context_id: str | None = None,
        rating_group: int | None = None,
        service_identifier: int | None = None,
    ) -> Service:
        """The most specific service matching the selectors (see ``Specificity``)."""
        # Hot path (every CCR): tuples built inline, masks absent from the tariff skipped.
        index = self._index
        for mask in self._masks:
            context = group = identifier = None
            if mask & 1:  # Specificity.CONTEXT
                if service_context_id is None:
                    continue
                context = service_context_id
            if mask & 4:  # Specificity.GROUP
                if rating_group is None:
                    continue
                group = rating_group
            if mask & 2:  # Specificity.SERVICE
                if service_identifier is None:
                    continue
                identifier = service_identifier
            found = index.get((kind, mask, context, group, identifier))
            if found is not None:
                return found
        raise NoRateError(
            f"no {kind.value} service for context={service_context_id!r} "
            f"rating_group={rating_group!r} service_identifier={service_identifier!r}"
        )

    @property
    def has_bands(self) -> bool:
        return bool(self.bands)

    def band_at(self, instant: datetime) -> str | None:
        """The band in force at ``instant`` (None: outside every band)."""
        return self.band_span(instant)[0]

    def band_span(self, instant: datetime) -> tuple[str | None, datetime | None]:
        """The band at ``instant`` and the first later instant where it changes.

        The change is None when the band never changes (no bands, or one band all
        week). Wall times are read in ``zone``: on a DST-change day 18:00 is still
        18:00 local, one hour earlier or later in UTC. A boundary inside a DST gap
        takes effect where PEP 495 ``fold=0`` maps it (never earlier than the gap).
        """
        if not self.bands:
            return None, None
        local = instant.astimezone(self.zone)
        weekday = local.weekday()
        second = local.hour * 3600 + local.minute * 60 + local.second
        starts, names = self._days[weekday]
        position = bisect.bisect_right(starts, second) - 1
        band = names[position]
        today = local.date()
        following = position + 1
        for days_ahead in range(8):
            starts, names = self._days[(weekday + days_ahead) % 7]
            for j in range(following, len(starts)):
                if names[j] == band:
                    continue
                boundary = _wall(
                    today + timedelta(days=days_ahead),
                    starts[j],
                    self.zone,
                    fold=local.fold if days_ahead == 0 else 0,
                )
                if boundary > instant:
                    return band, boundary
            following = 0
        return band, None


def _wall(day: date, second: int, zone: ZoneInfo, *, fold: int) -> datetime:
    hour, rest = divmod(second, 3600)
    return datetime(
        day.year, day.month, day.day, hour, rest // 60, rest % 60, tzinfo=zone, fold=fold
    )


def _day_tables(
    bands: tuple[Band, ...],
) -> tuple[tuple[tuple[int, ...], tuple[str | None, ...]], ...]:
    pieces: list[list[tuple[int, int, str]]] = [[] for _ in range(7)]
    for band in bands:
        for day, start, end in band.pieces():
            pieces[day].append((start, end, band.name))
    tables = []
    for day, day_pieces in enumerate(pieces):
        day_pieces.sort()
        starts: list[int] = [0]
        names: list[str | None] = [None]
        covered = 0
        for start, end, piece_name in day_pieces:
            name: str | None = piece_name
            if start < covered:
                raise TariffError(
                    f"bands overlap on {WEEKDAYS[day]} at {start // 3600:02d}:"
                    f"{start % 3600 // 60:02d} ({name!r})"
                )
            if start > covered:  # a gap outside every band
                starts.append(covered)
                names.append(None)
            starts.append(start)
            names.append(name)
            covered = end
        if covered < SECONDS_PER_DAY:
            starts.append(covered)
            names.append(None)
        # Drop empty or redundant pieces: keep a start only where the name changes.
        kept_starts: list[int] = []
        kept_names: list[str | None] = []
        for start, name in zip(starts, names, strict=True):
            if kept_starts and start == kept_starts[-1]:
                kept_names[-1] = name
                continue
            if kept_names and kept_names[-1] == name:
                continue
            kept_starts.append(start)
            kept_names.append(name)
        tables.append((tuple(kept_starts), tuple(kept_names)))
    return tuple(tables)


@dataclass(frozen=True, slots=True)
class TariffPlan:
    """A named sequence of tariff versions; the one in force at an instant applies."""

    name: str
    currency: Currency
    versions: tuple[Tariff, ...]  #: ascending activation
    _activations: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise TariffError(f"tariff plan {self.name!r} has no versions")
        activations = tuple(v.activation for v in self.versions)
        if any(a >= b for a, b in itertools.pairwise(activations)):
            raise TariffError(
                f"tariff plan {self.name!r}: versions must have strictly ascending activation"
            )
        # Kept in UTC: aware datetimes that share a tzinfo compare without calling
        # utcoffset(), so a caller passing UTC instants gets the fast comparison.
        object.__setattr__(self, "_activations", tuple(a.astimezone(UTC) for a in activations))

    def in_force(self, at: datetime) -> Tariff:
        """The version whose activation is the latest one at or before ``at``.

        Pass UTC instants on the hot path: any aware instant is right, UTC is fastest.
        """
        activations = self._activations
        if len(activations) == 1:
            if at >= activations[0]:
                return self.versions[0]
            position = -1
        else:
            position = bisect.bisect_right(activations, at) - 1
        if position < 0:
            raise NoRateError(
                f"tariff plan {self.name!r} has no version in force at {at.isoformat()}"
            )
        return self.versions[position]


def prices_by_band(pairs: Mapping[str, UnitPrice]) -> tuple[tuple[str, UnitPrice], ...]:
    """``Rate.band_prices`` from a mapping, in a stable order."""
    return tuple(sorted(pairs.items()))
