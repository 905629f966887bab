"""Properties of price() and max_usage(), for every rate kind, rounding mode and band layout.

The binary search over price() below is the obviously-right reference that the
arithmetic max_usage() must agree with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rating.engine import TIME_HORIZON_SECONDS, Pricer, max_usage, price
from rating.money import Rounding
from rating.tariff import Band, Rate, TariffPlan, UnitPrice
from rating.units import UnitKind, Usage
from tests.rating.builders import one_rate


@dataclass(frozen=True)
class Case:
    plan: TariffPlan
    kind: UnitKind
    start: datetime
    rate: Rate

    def price(self, units: int) -> int:
        return price(self.plan, Usage(self.kind, units, self.start)).amount

    def max_usage(self, budget: int, cap: int | None = None) -> int | None:
        return max_usage(self.plan, budget, self.start, kind=self.kind, cap=cap)


unit_prices = st.one_of(
    st.just(UnitPrice(0, 1)),  # free
    st.builds(UnitPrice, st.integers(0, 2_000_000), st.integers(1, 10_000_000)),
)


@st.composite
def cases(draw: st.DrawFn, kinds: tuple[UnitKind, ...] = tuple(UnitKind)) -> Case:
    kind = draw(st.sampled_from(kinds))
    if kind.is_volume:  # data: one increment
        first = step = draw(st.sampled_from([1, 1000, 1024, 10_240, 1_000_000]))
    elif kind is UnitKind.TIME:
        first, step = draw(st.sampled_from([(60, 60), (30, 6), (1, 1), (60, 1), (45, 15)]))
    else:
        first = step = 1
    banded = draw(st.booleans())
    bands: tuple[Band, ...] = ()
    band_prices: tuple[tuple[str, UnitPrice], ...] = ()
    if banded:
        start_h = draw(st.integers(0, 23))
        end_h = draw(st.integers(1, 24).filter(lambda h: h != start_h))
        days = draw(st.frozensets(st.integers(0, 6), min_size=1))
        bands = (Band("peak", days, start_h * 3600, end_h * 3600),)
        band_prices = (("peak", draw(unit_prices)),)
    rate = Rate(
        draw(unit_prices), first, step, draw(st.sampled_from([0, 0, 1, 50_000])), "", band_prices
    )
    plan = one_rate(kind, rate, bands=bands, rounding=draw(st.sampled_from(list(Rounding))))
    start = draw(st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 31), timezones=st.just(UTC)))
    return Case(plan, kind, start, rate)


usages = st.integers(0, 200_000)
budgets = st.integers(0, 50_000_000)


@given(cases(), usages, usages)
def test_price_is_monotone_in_units(case: Case, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert case.price(low) <= case.price(high)


@given(cases(), usages)
def test_the_breakdown_adds_up(case: Case, units: int) -> None:
    result = price(case.plan, Usage(case.kind, units, case.start))
    assert result.units == case.rate.charged_units(units) >= units
    assert sum(s.units for s in result.segments) == result.units
    assert result.amount == result.connection_fee + sum(s.amount for s in result.segments)
    offsets = [s.offset for s in result.segments]
    assert offsets == sorted(offsets)


@given(cases(), budgets)
def test_max_usage_is_the_largest_usage_the_budget_buys(case: Case, budget: int) -> None:
    bought = case.max_usage(budget)
    if bought is None:  # unlimited: free, or more time than the horizon across bands
        horizon = TIME_HORIZON_SECONDS if case.kind is UnitKind.TIME else 10**12
        assert case.price(horizon) <= budget
        return
    assert case.price(bought) <= budget
    assert case.price(bought + 1) > budget  # so also bought + increment
    assert case.price(bought + case.rate.next_interval) > budget


@given(cases(), usages)
def test_max_usage_of_a_price_buys_at_least_that_usage(case: Case, units: int) -> None:
    bought = case.max_usage(case.price(units))
    assert bought is None or bought >= units


@given(cases(), budgets, st.integers(0, 100_000))
def test_a_cap_caps(case: Case, budget: int, cap: int) -> None:
    capped = case.max_usage(budget, cap=cap)
    uncapped = case.max_usage(budget)
    assert capped is not None
    assert capped == (cap if uncapped is None else min(uncapped, cap))
    assert case.price(capped) <= budget or capped == 0


def _reference_max_usage(case: Case, budget: int, ceiling: int) -> int | None:
    """Binary search over the monotone price(): the largest n <= ceiling priced <= budget."""
    if case.price(ceiling) <= budget:
        return None  # not bounded within the ceiling
    low, high = 0, ceiling  # price(low) <= budget (or low == 0), price(high) > budget
    if case.price(0) > budget:
        return 0
    while high - low > 1:
        middle = (low + high) // 2
        if case.price(middle) <= budget:
            low = middle
        else:
            high = middle
    return low


@given(cases(), st.integers(0, 2_000_000))
def test_max_usage_agrees_with_a_binary_search_over_price(case: Case, budget: int) -> None:
    ceiling = 1 << 21
    expected = _reference_max_usage(case, budget, ceiling)
    found = case.max_usage(budget, cap=ceiling)
    assert found == (ceiling if expected is None else expected)


@given(cases(kinds=(UnitKind.TIME,)), usages)
def test_a_band_priced_like_the_default_changes_only_the_rounding(case: Case, units: int) -> None:
    # Splitting into segments never changes the charged units, and with one price
    # everywhere only the per-segment rounding differs: at most 1 micro-unit a segment.
    rate = case.rate
    same = Rate(
        rate.price,
        rate.first_interval,
        rate.next_interval,
        rate.connection_fee,
        "",
        tuple((name, rate.price) for name, _ in rate.band_prices),
    )
    tariff = case.plan.versions[0]
    banded = one_rate(UnitKind.TIME, same, bands=tariff.bands, rounding=tariff.rounding)
    plain = one_rate(
        UnitKind.TIME,
        Rate(rate.price, rate.first_interval, rate.next_interval, rate.connection_fee),
        rounding=tariff.rounding,
    )
    split = price(banded, Usage(UnitKind.TIME, units, case.start))
    whole = price(plain, Usage(UnitKind.TIME, units, case.start))
    assert split.units == whole.units
    assert abs(split.amount - whole.amount) <= len(split.segments)
    if tariff.rounding is Rounding.UP:
        assert split.amount >= whole.amount  # rounding each part up never gives less


@given(cases(), usages, budgets, st.none() | st.integers(0, 100_000))
def test_a_pricer_answers_exactly_as_price_and_max_usage(
    case: Case, units: int, budget: int, cap: int | None
) -> None:
    pricer = Pricer(case.plan, case.start, case.kind)
    assert pricer.amount(units) == case.price(units)
    assert pricer.max_usage(budget, cap=cap) == case.max_usage(budget, cap)
