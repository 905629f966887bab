"""round_ratio and to_micros_ratio: the integer twins of the Decimal conversions."""

from __future__ import annotations

from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating.money import MoneyError, Rounding, round_ratio, to_micros, to_micros_ratio


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounding", "expected"),
    [
        # 15 190.5 micro-units (1 235 000 octets at 0.0123 EUR per MB)
        (30381, 2, Rounding.UP, 15191),
        (30381, 2, Rounding.DOWN, 15190),
        (30381, 2, Rounding.HALF_EVEN, 15190),  # the tie goes to the even neighbour
        (30381, 2, Rounding.HALF_UP, 15191),
        (30383, 2, Rounding.HALF_EVEN, 15192),  # 15 191.5: the even neighbour is above
        (-3, 2, Rounding.UP, -1),  # -1.5 towards +infinity
        (-3, 2, Rounding.DOWN, -2),
        (-3, 2, Rounding.HALF_UP, -2),  # ties away from zero, as decimal does
        (-3, 2, Rounding.HALF_EVEN, -2),
        (7, 7, Rounding.UP, 1),
        (0, 5, Rounding.UP, 0),
    ],
)
def test_round_ratio_worked_examples(
    numerator: int, denominator: int, rounding: Rounding, expected: int
) -> None:
    assert round_ratio(numerator, denominator, rounding) == expected


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**18), st.sampled_from(list(Rounding)))
def test_round_ratio_agrees_with_decimal(
    numerator: int, denominator: int, rounding: Rounding
) -> None:
    # 80 digits hold any quotient of these operands exactly enough to round it right.
    exact = Context(prec=80).divide(Decimal(numerator), Decimal(denominator))
    assert round_ratio(numerator, denominator, rounding) == int(
        exact.to_integral_value(rounding=rounding.value)
    )


def test_round_ratio_refuses_a_non_positive_denominator() -> None:
    with pytest.raises(MoneyError):
        round_ratio(1, 0, Rounding.UP)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.0123", (12300, 1)),
        ("0.00000123", (123, 100)),  # 1.23 micro-units: kept exact
        ("12", (12_000_000, 1)),
        (3, (3_000_000, 1)),
        (Decimal("-0.5"), (-500_000, 1)),
        ("1e-7", (1, 10)),
    ],
)
def test_to_micros_ratio_is_exact(amount: str | int | Decimal, expected: tuple[int, int]) -> None:
    assert to_micros_ratio(amount) == expected


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=9, min_value=-(10**6), max_value=10**6
    )
)
def test_to_micros_ratio_agrees_with_to_micros_when_whole(amount: Decimal) -> None:
    numerator, denominator = to_micros_ratio(amount)
    assert round_ratio(numerator, denominator, Rounding.UP) == to_micros(amount, Rounding.UP)
    assert round_ratio(numerator, denominator, Rounding.DOWN) == to_micros(amount, Rounding.DOWN)
