"""Worked examples: every amount below is computed by hand in the comment beside it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rating.engine import max_usage, price
from rating.errors import NoRateError, TariffError
from rating.money import Rounding
from rating.plans import load_plans
from rating.tariff import Rate, Service, TariffPlan, UnitPrice
from rating.units import UnitKind, Usage
from tests.rating.builders import (
    BERLIN,
    EXAMPLE_FILE,
    WEEKDAYS,
    one_rate,
    peak,
    per_minute,
    plan_of,
)

DATA = "32251@3gpp.org"
VOICE = "32260@3gpp.org"
SMS = "32274@3gpp.org"
SUNDAY_NOON = datetime(2024, 3, 3, 12, 0, tzinfo=BERLIN)  # outside the weekday peak band


@pytest.fixture(scope="module")
def standard() -> TariffPlan:
    return load_plans(EXAMPLE_FILE.read_text(), EXAMPLE_FILE.name).plan("standard")


def data_usage(
    octets: int,
    at: datetime = SUNDAY_NOON,
    *,
    service_context_id: str | None = None,
    rating_group: int | None = None,
) -> Usage:
    return Usage(UnitKind.TOTAL_OCTETS, octets, at, service_context_id, rating_group)


# -- data: price per volume, usage rounded up to the increment -----------------------


@pytest.mark.parametrize(
    ("rounding", "octets", "expected"),
    [
        # 1 234 567 octets -> 1 235 000 charged (whole KB); 1 235 000 * 12 300 / 10**6
        # = 15 190.5 micro-units
        (Rounding.UP, 1_234_567, 15_191),
        (Rounding.DOWN, 1_234_567, 15_190),
        (Rounding.HALF_EVEN, 1_234_567, 15_190),
        (Rounding.HALF_UP, 1_234_567, 15_191),
        # 1 octet -> 1 000 charged -> 12.3 micro-units
        (Rounding.UP, 1, 13),
        (Rounding.DOWN, 1, 12),
        # exactly 1 MB -> 12 300, nothing to round
        (Rounding.UP, 1_000_000, 12_300),
        (Rounding.UP, 0, 0),
    ],
)
def test_data_per_mb_with_1_kb_increment(rounding: Rounding, octets: int, expected: int) -> None:
    plan = one_rate(
        UnitKind.TOTAL_OCTETS,
        Rate(UnitPrice.of("0.0123", 1_000_000), 1000, 1000),
        rounding=rounding,
    )
    result = price(plan, data_usage(octets))
    assert result.amount == expected
    assert result.units == -(-octets // 1000) * 1000


def test_data_from_the_example_file(standard: TariffPlan) -> None:
    result = price(standard, data_usage(1_234_567, service_context_id=DATA, rating_group=10))
    assert (result.service, result.units, result.amount) == ("internet", 1_235_000, 15_191)
    # rating group 20 has its own rate: 0.002 EUR per MiB in 10 KiB steps.
    # 1 000 000 octets -> ceil(1 000 000 / 10 240) = 98 steps = 1 003 520 octets;
    # 1 003 520 * 2 000 / 1 048 576 = 1 914.0625 -> 1 915 micro-units
    video = price(standard, data_usage(1_000_000, service_context_id=DATA, rating_group=20))
    assert (video.service, video.units, video.amount) == ("video", 1_003_520, 1_915)


def test_max_usage_for_data_is_the_exact_inverse() -> None:
    plan = one_rate(UnitKind.TOTAL_OCTETS, Rate(UnitPrice.of("0.0123", 1_000_000), 1000, 1000))
    at = SUNDAY_NOON
    # 15 191 micro-units buy 1 235 000 octets (15 190.5 -> 15 191), not 1 236 000
    # (15 202.8 -> 15 203)
    assert max_usage(plan, 15_191, at, kind=UnitKind.TOTAL_OCTETS) == 1_235_000
    assert max_usage(plan, 15_190, at, kind=UnitKind.TOTAL_OCTETS) == 1_234_000
    assert max_usage(plan, 12, at, kind=UnitKind.TOTAL_OCTETS) == 0  # 1 KB costs 13
    assert max_usage(plan, 13, at, kind=UnitKind.TOTAL_OCTETS) == 1000
    assert max_usage(plan, -5, at, kind=UnitKind.TOTAL_OCTETS) == 0
    # 1 EUR: 10**6 / 12 300 = 81.3008 MB = 81 300.8 KB -> 81 300 whole KB = 81 300 000 octets
    assert max_usage(plan, 1_000_000, at, kind=UnitKind.TOTAL_OCTETS) == 81_300_000
    assert max_usage(plan, 1_000_000, at, kind=UnitKind.TOTAL_OCTETS, cap=5_000) == 5_000


def test_a_free_rate_is_unlimited_unless_capped() -> None:
    plan = one_rate(UnitKind.TOTAL_OCTETS, Rate(UnitPrice(0, 1), 1000, 1000))
    assert price(plan, data_usage(10**12)).amount == 0
    assert max_usage(plan, 0, SUNDAY_NOON, kind=UnitKind.TOTAL_OCTETS) is None
    assert max_usage(plan, 0, SUNDAY_NOON, kind=UnitKind.TOTAL_OCTETS, cap=10**9) == 10**9


# -- voice: per minute, first/next intervals, connection fee ---------------------------


@pytest.mark.parametrize(
    ("first", "step", "seconds", "charged", "expected"),
    [
        # 0.10 EUR per minute = 100 000 micro-units per 60 s; connection fee 0.05 = 50 000
        (60, 60, 61, 120, 250_000),  # 2 min = 200 000, + 50 000
        (30, 6, 61, 66, 160_000),  # 30 + 6*6 = 66 s = 110 000, + 50 000
        (1, 1, 61, 61, 151_667),  # 61 s = 101 666.67 -> 101 667, + 50 000
        (30, 6, 10, 30, 100_000),  # the first interval is charged whole: 50 000 + 50 000
        (60, 60, 60, 60, 150_000),  # exactly one minute
        (1, 1, 0, 0, 0),  # an unanswered call costs nothing, not even the fee
    ],
)
def test_voice_intervals_and_connection_fee(
    first: int, step: int, seconds: int, charged: int, expected: int
) -> None:
    plan = one_rate(UnitKind.TIME, per_minute("0.10", first, step, fee=50_000))
    result = price(plan, Usage(UnitKind.TIME, seconds, SUNDAY_NOON))
    assert (result.units, result.amount) == (charged, expected)


def test_max_usage_for_voice_counts_the_fee_and_the_first_interval() -> None:
    plan = one_rate(UnitKind.TIME, per_minute("0.10", 30, 6, fee=50_000))

    def buys(budget: int) -> int | None:
        return max_usage(plan, budget, SUNDAY_NOON, kind=UnitKind.TIME)

    assert buys(49_999) == 0  # not even the connection fee
    assert buys(99_999) == 0  # the fee, but not the first 30 s (50 000)
    assert buys(100_000) == 30
    assert buys(109_999) == 30  # 36 s would cost 60 000 + 50 000
    assert buys(110_000) == 36
    assert buys(1_050_000) == 600  # 1 EUR after the fee = 10 minutes


def test_longest_prefix_wins(standard: TariffPlan) -> None:
    def call(number: str) -> tuple[str, int]:
        result = price(standard, Usage(UnitKind.TIME, 61, SUNDAY_NOON, VOICE, destination=number))
        return result.prefix, result.amount

    # 4915...: 0.15 per minute in 60/60, no fee: 120 s = 300 000
    assert call("4915112345678") == ("4915", 300_000)
    # 4930...: 0.10 per minute in the service's 30/6, fee 0.05: 66 s = 110 000 + 50 000
    assert call("4930123456") == ("49", 160_000)
    # anything else: 1.00 per minute in 1/1: 61 s = 1 016 666.67 -> 1 016 667
    assert call("12125550100") == ("", 1_016_667)


def test_no_rate_for_a_destination_without_a_default() -> None:
    plan = one_rate(UnitKind.TIME, per_minute("0.10", 60, 60, prefix="49"))
    with pytest.raises(NoRateError, match="destination"):
        price(plan, Usage(UnitKind.TIME, 61, SUNDAY_NOON, destination="33123"))


# -- events ----------------------------------------------------------------------------


def test_sms_per_event(standard: TariffPlan) -> None:
    def sms(count: int) -> int:
        return price(standard, Usage(UnitKind.EVENT, count, SUNDAY_NOON, SMS)).amount

    assert sms(1) == 90_000  # 0.09 EUR
    assert sms(3) == 270_000
    assert (
        max_usage(standard, 200_000, SUNDAY_NOON, kind=UnitKind.EVENT, service_context_id=SMS) == 2
    )


# -- time bands ------------------------------------------------------------------------


def test_a_call_crossing_18_00_is_split_peak_then_off_peak(standard: TariffPlan) -> None:
    # Tuesday 5 March 2024, 17:59:00 CET, 125 s to a German fixed line, 30/6:
    # charged 30 + ceil(95/6)*6 = 126 s. Steps start at 0, 30, 36, ... 54 s (before
    # 18:00, peak 0.20/min) and at 60, 66, ... 120 s (off-peak 0.10/min).
    # peak 60 s = 200 000; off-peak 66 s = 110 000; fee 50 000; total 360 000.
    start = datetime(2024, 3, 5, 17, 59, tzinfo=BERLIN)
    result = price(standard, Usage(UnitKind.TIME, 125, start, VOICE, destination="4930123"))
    assert [(s.band, s.offset, s.units, s.amount) for s in result.segments] == [
        ("peak", 0, 60, 200_000),
        (None, 60, 66, 110_000),
    ]
    assert (result.units, result.connection_fee, result.amount) == (126, 50_000, 360_000)
    # the same instant given in UTC prices the same
    assert (
        price(
            standard, Usage(UnitKind.TIME, 125, start.astimezone(UTC), VOICE, destination="4930123")
        )
        == result
    )
    # 400 000 buys: fee 50 000, 60 s peak 200 000, then 150 000 off-peak = 90 s: 150 s
    assert (
        max_usage(
            standard,
            400_000,
            start,
            kind=UnitKind.TIME,
            service_context_id=VOICE,
            destination="4930123",
        )
        == 150
    )


def test_a_step_is_priced_in_the_band_where_it_starts() -> None:
    # 60/60 from 17:59:30: the first minute starts in peak and is charged at peak
    # though half of it is off-peak; the second starts at 18:00:30, off-peak.
    plan = _banded(60, 60)
    start = datetime(2024, 3, 5, 17, 59, 30, tzinfo=BERLIN)
    result = price(plan, Usage(UnitKind.TIME, 90, start))
    assert [(s.band, s.units, s.amount) for s in result.segments] == [
        ("peak", 60, 200_000),
        (None, 60, 100_000),
    ]


def _banded(first: int, step: int) -> TariffPlan:
    # peak 0.20, otherwise 0.10 per minute, every day 08:00-18:00 Berlin
    rate = Rate(
        UnitPrice.of("0.10", 60),
        first,
        step,
        band_prices=(("peak", UnitPrice.of("0.20", 60)),),
    )
    return one_rate(UnitKind.TIME, rate, bands=(peak(),))


@pytest.mark.parametrize(
    ("start_utc", "seconds", "expected"),
    [
        # Spring forward: Sunday 31 March 2024, Berlin is UTC+2 from 03:00, so 18:00
        # local is 16:00 UTC. 15:59:00 UTC is 17:59 local: 60 s peak (0.20/min) =
        # 200 000, then 60 s off-peak = 100 000.
        (
            datetime(2024, 3, 31, 15, 59, tzinfo=UTC),
            120,
            [("peak", 60, 200_000), (None, 60, 100_000)],
        ),
        # The same UTC time the day before is 16:59 CET: all peak.
        (datetime(2024, 3, 30, 15, 59, tzinfo=UTC), 120, [("peak", 120, 400_000)]),
        # Fall back: Sunday 27 October 2024, UTC+1 again, so 18:00 is 17:00 UTC.
        # 16:59:30 UTC, 90 s: 30 s peak = 100 000, 60 s off-peak = 100 000.
        (
            datetime(2024, 10, 27, 16, 59, 30, tzinfo=UTC),
            90,
            [("peak", 30, 100_000), (None, 60, 100_000)],
        ),
        # A call through the night of the change (01:00-04:00 local, off-peak all
        # along) then into peak at 08:00 CEST = 06:00 UTC: from 05:59 UTC, 120 s.
        (
            datetime(2024, 3, 31, 5, 59, tzinfo=UTC),
            120,
            [(None, 60, 100_000), ("peak", 60, 200_000)],
        ),
    ],
)
def test_band_split_on_dst_change_days(
    start_utc: datetime, seconds: int, expected: list[tuple[str | None, int, int]]
) -> None:
    result = price(_banded(1, 1), Usage(UnitKind.TIME, seconds, start_utc))
    assert [(s.band, s.units, s.amount) for s in result.segments] == expected


def test_a_call_spanning_a_whole_peak_band() -> None:
    # Monday 07:59 Berlin, 10 h 2 min at 1/1, peak weekdays 08:00-18:00:
    # 60 s off-peak (100 000) + 36 000 s peak (600 min * 200 000 = 120 000 000)
    # + 60 s off-peak (100 000)
    plan = one_rate(
        UnitKind.TIME, _banded(1, 1).versions[0].services[0].rates[0], bands=(peak(WEEKDAYS),)
    )
    start = datetime(2024, 3, 4, 7, 59, tzinfo=BERLIN)
    result = price(plan, Usage(UnitKind.TIME, 36_120, start))
    assert [(s.band, s.units, s.amount) for s in result.segments] == [
        (None, 60, 100_000),
        ("peak", 36_000, 120_000_000),
        (None, 60, 100_000),
    ]
    assert max_usage(plan, result.amount, start, kind=UnitKind.TIME) == 36_120


def test_bands_must_not_overlap() -> None:
    with pytest.raises(TariffError, match="overlap"):
        plan_of(
            Service("s", UnitKind.TIME, (per_minute("0.1", 1, 1),)),
            bands=(peak(start="08:00", end="18:00"), peak(start="17:00", end="20:00")),
        )


# -- tariff versions and service selection ---------------------------------------------


def test_the_version_in_force_at_the_usage_start_applies(standard: TariffPlan) -> None:
    def one_mb(at: datetime) -> int:
        return price(standard, data_usage(1_000_000, at, service_context_id=DATA)).amount

    # version 1 (0.0123/MB) until 1 July 2024 00:00 CEST, version 2 (0.01/MB) from then
    assert one_mb(datetime(2024, 6, 30, 23, 59, 59, tzinfo=BERLIN)) == 12_300
    assert one_mb(datetime(2024, 7, 1, 0, 0, tzinfo=BERLIN)) == 10_000
    assert one_mb(datetime(2024, 6, 30, 22, 0, tzinfo=UTC)) == 10_000  # the same instant
    assert one_mb(datetime(2024, 6, 30, 21, 59, 59, tzinfo=UTC)) == 12_300
    with pytest.raises(NoRateError, match="no version in force"):
        # one second before 2024-01-01 00:00 CET (= 2023-12-31 23:00 UTC)
        one_mb(datetime(2023, 12, 31, 22, 59, 59, tzinfo=UTC))
    assert one_mb(datetime(2023, 12, 31, 23, 0, tzinfo=UTC)) == 12_300


def test_a_specific_rating_group_beats_the_default(standard: TariffPlan) -> None:
    def service(service_context_id: str, rating_group: int | None = None) -> str:
        usage = data_usage(1, service_context_id=service_context_id, rating_group=rating_group)
        return price(standard, usage).service

    assert service(DATA, 20) == "video"
    assert service(DATA, 10) == "internet"
    assert service(DATA) == "internet"
    with pytest.raises(NoRateError, match="no total_octets service"):
        service("other@3gpp.org")  # version 1 names its context


def test_selector_precedence() -> None:
    def svc(
        name: str,
        context: str | None = None,
        group: int | None = None,
        identifier: int | None = None,
    ) -> Service:
        return Service(
            name, UnitKind.EVENT, (Rate(UnitPrice.of(1, 1)),), context, group, identifier
        )

    plan = plan_of(
        svc("default"),
        svc("context", context="c"),
        svc("identifier", identifier=7),
        svc("identifier+context", context="c", identifier=7),
        svc("group", group=1),
        svc("group+identifier", group=1, identifier=7),
    )

    def chosen(
        service_context_id: str | None = None,
        rating_group: int | None = None,
        service_identifier: int | None = None,
    ) -> str:
        usage = Usage(
            UnitKind.EVENT, 1, SUNDAY_NOON, service_context_id, rating_group, service_identifier
        )
        return price(plan, usage).service

    assert chosen() == "default"
    assert chosen(service_context_id="x") == "default"
    assert chosen(service_context_id="c") == "context"
    assert chosen(service_context_id="c", service_identifier=7) == "identifier+context"
    assert chosen(service_identifier=7) == "identifier"
    assert chosen(service_context_id="c", rating_group=1) == "group"  # group beats context
    assert chosen(service_context_id="c", rating_group=1, service_identifier=7) == (
        "group+identifier"
    )
    assert chosen(rating_group=2, service_identifier=7) == "identifier"


def test_the_unit_kind_is_part_of_the_selection(standard: TariffPlan) -> None:
    with pytest.raises(NoRateError):
        price(standard, Usage(UnitKind.INPUT_OCTETS, 1, SUNDAY_NOON, DATA))


def test_duplicate_selectors_are_refused() -> None:
    rate = (Rate(UnitPrice.of(1, 1)),)
    with pytest.raises(TariffError, match="same selectors"):
        plan_of(
            Service("a", UnitKind.EVENT, rate, rating_group=1),
            Service("b", UnitKind.EVENT, rate, rating_group=1),
        )


def test_a_usage_must_be_aware_and_non_negative() -> None:
    with pytest.raises(ValueError, match="aware"):
        Usage(UnitKind.TIME, 1, datetime(2024, 1, 1))  # naive: the point of the test
    with pytest.raises(ValueError, match="non-negative"):
        Usage(UnitKind.TIME, -1, SUNDAY_NOON)
