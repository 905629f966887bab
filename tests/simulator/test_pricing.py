"""The price table verify mode uses: the demo tariff's figures, in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulator.pricing import PriceError, PriceTable, Rounding, Unit

DEMO = PriceTable(per_mb=Decimal("0.01"), per_minute=Decimal("0.05"), per_sms=Decimal("0.05"))


def test_data_is_priced_per_started_kilobyte() -> None:
    assert DEMO.cost(Unit.OCTETS, [1_000_000]) == Decimal("0.01")
    assert DEMO.cost(Unit.OCTETS, [1]) == Decimal("0.00001")
    assert DEMO.cost(Unit.OCTETS, [0]) == 0


def test_voice_is_priced_per_started_minute() -> None:
    assert DEMO.cost(Unit.SECONDS, [1]) == Decimal("0.05")
    assert DEMO.cost(Unit.SECONDS, [61]) == Decimal("0.10")


def test_a_call_is_rounded_once_whatever_the_interim_reports() -> None:
    # three 30 s interims of a 90 s call: two started minutes for the call
    assert DEMO.cost(Unit.SECONDS, [30, 30, 30]) == Decimal("0.10")
    per_report = PriceTable(per_minute=Decimal("0.05"), rounding=Rounding.REPORT)
    assert per_report.cost(Unit.SECONDS, [30, 30, 30]) == Decimal("0.15")


def test_report_and_session_rounding_differ_for_data_on_partial_increments() -> None:
    # two reports of 1 500 octets: 2 + 2 started KB per report, 3 KB for the session
    per_report = PriceTable(per_mb=Decimal("0.01"), rounding=Rounding.REPORT)
    assert per_report.cost(Unit.OCTETS, [1_500, 1_500]) == Decimal("0.00004")
    assert DEMO.cost(Unit.OCTETS, [1_500, 1_500]) == Decimal("0.00003")  # the OCS's way


def test_sms_and_missing_prices() -> None:
    assert DEMO.cost(Unit.EVENTS, [3]) == Decimal("0.15")
    with pytest.raises(PriceError):
        PriceTable().cost(Unit.OCTETS, [1])
    with pytest.raises(ValueError):
        PriceTable(octet_increment=0)
