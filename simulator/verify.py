"""Verify mode's balance check: read balances before and after a run, compare in Decimal.

What lives here: `read_balances` (one `BalanceReader` call per MSISDN, in a worker
thread so the trio loop keeps serving) and `compare` (the balance change each MSISDN
showed against what the price table says its traffic cost). What must not: pricing
(`pricing`, `checks.Expected`) or the Diameter run (`driver`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import trio

from .balances import BalanceReader


async def read_balances(reader: BalanceReader, msisdns: Iterable[str]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for msisdn in sorted(set(msisdns)):
        found[msisdn] = await trio.to_thread.run_sync(reader.balance, msisdn)
    return found


def show(amount: Decimal) -> str:
    """An amount without trailing zeros ("0.1", "10", "-0.05"): Decimal, never float."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def compare(
    before: Mapping[str, Decimal],
    after: Mapping[str, Decimal],
    expected: Mapping[str, Decimal],
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Problems (empty when every balance moved as priced) and a JSON-ready report.

    ``expected`` is the debit per MSISDN (a refund is negative); the balance must have
    moved by exactly that: ``before - after == expected``.
    """
    problems: list[str] = []
    report: dict[str, dict[str, str]] = {}
    for msisdn in sorted(before):
        charged = before[msisdn] - after[msisdn]
        want = expected.get(msisdn, Decimal(0))
        report[msisdn] = {
            "before": show(before[msisdn]),
            "after": show(after[msisdn]),
            "charged": show(charged),
            "expected": show(want),
        }
        if charged != want:
            problems.append(
                f"{msisdn}: balance moved by {show(charged)}, the tariff says {show(want)} "
                f"(difference {show(charged - want)})"
            )
    return problems, report
