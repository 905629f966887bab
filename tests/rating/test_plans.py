"""Tariff files: the example loads, and every error names the file, the line and the field."""

from __future__ import annotations

from datetime import datetime

import pytest

from rating.catalog import Period
from rating.errors import PlanError, Problem
from rating.money import Rounding, currency
from rating.plans import load_plans
from rating.units import UnitKind
from tests.rating.builders import BERLIN, EXAMPLE_FILE

EXAMPLE = EXAMPLE_FILE.read_text()


def problems(text: str, source: str = "tariffs.toml") -> tuple[Problem, ...]:
    with pytest.raises(PlanError) as caught:
        load_plans(text, source)
    return caught.value.problems


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    """1-based line of the n-th line containing ``needle`` (the test's own oracle)."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence]


def with_edit(old: str, new: str, occurrence: int = 0) -> str:
    parts = EXAMPLE.split(old)
    assert len(parts) > occurrence + 1, f"{old!r} not in the example"
    return old.join(parts[: occurrence + 1]) + new + old.join(parts[occurrence + 1 :])


def test_the_example_file_loads() -> None:
    catalog = load_plans(EXAMPLE, "example-tariffs.toml")
    plan = catalog.plan("standard")
    assert plan.currency == currency("EUR")
    first, second = plan.versions
    assert first.activation == datetime(2024, 1, 1, tzinfo=BERLIN)
    assert first.rounding is Rounding.UP
    assert [s.name for s in first.services] == ["internet", "video", "voice", "sms"]
    voice = first.services[2]
    assert [
        (r.prefix, r.first_interval, r.next_interval, r.connection_fee) for r in voice.rates
    ] == [
        ("49", 30, 6, 50_000),
        ("4915", 60, 60, 0),
        ("", 1, 1, 0),
    ]
    assert second.activation == datetime(2024, 7, 1, tzinfo=BERLIN)
    product = catalog.product("Smart S")
    assert (product.plan, product.recurring_fee, product.period) == (
        "standard",
        9_990_000,
        Period.MONTH,
    )
    data, minutes = product.bundles
    assert (data.kind, data.amount, data.rating_groups) == (
        UnitKind.TOTAL_OCTETS,
        5_000_000_000,
        frozenset({10, 20}),
    )
    assert (minutes.kind, minutes.amount, minutes.validity_days) == (UnitKind.TIME, 6000, 30)
    assert data.applies_to(UnitKind.TOTAL_OCTETS, 10)
    assert not data.applies_to(UnitKind.TOTAL_OCTETS, 30)
    assert minutes.applies_to(UnitKind.TIME, None)


def test_a_toml_float_is_refused_with_a_hint_to_quote_it() -> None:
    text = with_edit('price = "0.0123"', "price = 0.0123")
    (problem,) = problems(text)
    assert problem.source == "tariffs.toml"
    assert problem.line == line_of(text, "price = 0.0123")
    assert problem.field == "plan[0].version[0].service[0].price"
    assert "float" in problem.message
    assert 'price = "0.0123"' in problem.message
    assert str(problem).startswith(f"tariffs.toml:{problem.line}: plan[0].version[0].service[0]")


def test_a_float_in_a_destination_row_names_that_row() -> None:
    text = with_edit('price = "0.15"', "price = 0.15")
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[0].service[2].destination[1].price"
    assert problem.line == line_of(text, "price = 0.15")


def test_a_float_in_an_inline_band_price_names_the_band_prices_line() -> None:
    text = with_edit('band_prices = { peak = "0.20" }', "band_prices = { peak = 0.20 }")
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[0].service[2].destination[0].band_prices.peak"
    assert problem.line == line_of(text, "band_prices = { peak = 0.20 }")


def test_an_unknown_field_is_a_typo_until_proven_otherwise() -> None:
    text = with_edit('increment = "10 KiB"', 'incremnet = "10 KiB"')
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[0].service[1].incremnet"
    assert problem.line == line_of(text, "incremnet")
    assert "unknown field" in problem.message


def test_a_field_in_the_second_version_is_located_in_the_second_version() -> None:
    text = with_edit('price = "0.01"', 'price = "zero"')
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[1].service[0].price"
    assert problem.line == line_of(text, 'price = "zero"')


def test_unknown_time_zone() -> None:
    text = with_edit('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlinn"', occurrence=1)
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[1].timezone"
    assert problem.line == line_of(text, "Europe/Berlinn")


def test_a_bad_prefix_names_its_row() -> None:
    text = with_edit('prefix = "4915"', 'prefix = "49-15x"')
    (problem,) = problems(text)
    assert problem.field == "plan[0].version[0].service[2].destination[1].prefix"
    assert problem.line == line_of(text, "49-15x")


def test_an_unknown_band_in_band_prices_names_the_version() -> None:
    text = with_edit('band_prices = { peak = "0.20" }', 'band_prices = { peek = "0.20" }')
    (problem,) = problems(text)
    assert "unknown band 'peek'" in problem.message
    assert problem.field == "plan[0].version[0]"
    assert problem.line == line_of(text, "[[plan.version]]")


def test_a_product_naming_an_unknown_plan() -> None:
    text = with_edit('plan = "standard"', 'plan = "premium"')
    (problem,) = problems(text)
    assert problem.field == "product[0].plan"
    assert problem.line == line_of(text, 'plan = "premium"')
    assert "premium" in problem.message


def test_a_product_in_another_currency_than_its_plan() -> None:
    text = with_edit('currency = "EUR"', 'currency = "GBP"', occurrence=1)
    (problem,) = problems(text)
    assert problem.field == "product[0].currency"
    assert "GBP" in problem.message


def test_every_problem_is_reported_at_once() -> None:
    text = with_edit('price = "0.0123"', "price = 0.0123")
    text = text.replace('amount = "5 GB"', 'amount = "5 GiGa"')
    text = text.replace('days = ["mon", "tue", "wed", "thu", "fri"]', 'days = ["monday"]')
    found = {(p.field, p.line) for p in problems(text)}
    assert found == {
        ("plan[0].version[0].service[0].price", line_of(text, "price = 0.0123")),
        ("plan[0].version[0].band[0].days", line_of(text, '["monday"]')),
        ("product[0].bundle[0].amount", line_of(text, "5 GiGa")),
    }


def test_a_toml_syntax_error_names_its_line() -> None:
    text = with_edit('name = "internet"', 'name = "internet')
    (problem,) = problems(text)
    assert problem.line == line_of(text, 'name = "internet')
    assert "not valid TOML" in problem.message


INLINE = """\
[[plan]]
name = "p"
currency = "EUR"

  [[plan.version]]
  active_from = 2024-01-01T00:00:00Z
  timezone = "UTC"

    [[plan.version.service]]
    name = "data"
    unit = "total_octets"
    price = "1"
    per = "1 MB"
    increment = "1 KB"

  [[plan.version]]
  active_from = 2024-02-01T00:00:00Z
  timezone = "UTC"
  rounding = "sideways"

    [[plan.version.service]]
    name = "data"
    unit = "total_octets"
    price = "1"
    increment = "1 KB"

[[plan]]
name = "q"
currency = "EURO"
"""


def test_locations_in_a_hand_counted_file() -> None:
    found = {(p.line, p.field) for p in problems(INLINE, "inline.toml")}
    assert found == {
        (19, "plan[0].version[1].rounding"),  # counted by hand
        (29, "plan[1].currency"),
    }


def test_nested_errors_are_found_after_the_outer_one_is_fixed() -> None:
    text = INLINE.replace('rounding = "sideways"', 'rounding = "half_even"').replace(
        '"EURO"', '"EUR"'
    )
    found = {(p.line, p.field, p.message.split(":")[0]) for p in problems(text)}
    # the second version's service has no `per`: reported at its header (line 21);
    # plan "q" has no version: reported at its [[plan]] line (27)
    assert found == {
        (21, "plan[0].version[1].service[0].per", "missing"),
        (27, "plan[1]", "plan 'q' needs at least one [[plan.version]]"),
    }


@pytest.mark.parametrize(
    ("edit", "field", "complaint"),
    [
        (('per = "1 MB"', 'per = "1 parsec"'), "plan[0].version[0].service[0].per", "unknown unit"),
        (('per = "1 MB"', "per = 0"), "plan[0].version[0].service[0].per", "> 0"),
        (('price = "0.0123"', 'price = "-1"'), "plan[0].version[0].service[0].price", "negative"),
        (
            ('unit = "total_octets"', 'unit = "bytes"'),
            "plan[0].version[0].service[0].unit",
            "must be one of",
        ),
        (('from = "08:00"', 'from = "8am"'), "plan[0].version[0].band[0].from", "HH:MM"),
        (
            ("validity_days = 30", "validity_days = 30.0"),
            "product[0].bundle[0].validity_days",
            "float",
        ),
        (
            ('recurring_fee = "9.99"', "recurring_fee = 9.99"),
            "product[0].recurring_fee",
            "quote it",
        ),
        (('period = "month"', 'period = "fortnight"'), "product[0].period", "must be one of"),
        (
            ("rating_groups = [10, 20]", 'rating_groups = ["ten"]'),
            "product[0].bundle[0].rating_groups",
            "integers",
        ),
    ],
)
def test_field_validation(edit: tuple[str, str], field: str, complaint: str) -> None:
    text = with_edit(*edit)
    (problem,) = problems(text)
    assert problem.field == field
    assert complaint in problem.message
    assert problem.line == line_of(text, edit[1])


def test_an_inherited_field_is_reported_where_the_service_wrote_it() -> None:
    text = with_edit("first_interval = 30", "first_interval = 0")
    found = problems(text)
    # every destination that inherits first_interval = 0 from the service fails;
    # the two that set their own (60/60 and 1/1) do not
    assert {(p.field, p.line) for p in found} == {
        ("plan[0].version[0].service[2].first_interval", line_of(text, "first_interval = 0")),
    }
