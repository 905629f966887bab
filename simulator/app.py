"""One run end to end: balances before, the Diameter run, balances after, the report.

What lives here: `simulate` and `Report`, shared by the CLI, the tests and the
benchmark. What must not: option parsing (`cli`) or the per-request work (`driver`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .balances import BalanceReader
from .driver import RunConfig, Runner
from .verify import compare, read_balances, show


@dataclass(slots=True)
class Report:
    summary: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    balances: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No verify problem and every request answered."""
        return not self.problems and not self.summary["errors"]

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary,
            "ok": self.ok,
            "problem_list": self.problems,
            "balances": self.balances,
        }


async def simulate(
    config: RunConfig,
    *,
    balances: BalanceReader | None = None,
    progress: Callable[[str], None] | None = None,
    runner: Runner | None = None,
) -> Report:
    """Run ``config``; with ``config.verify`` and ``balances``, check the balance moves.

    ``runner`` lets a caller watch the run (e.g. a test waiting for a parked session).
    """
    runner = runner or Runner(config, progress=progress)
    check = config.verify and balances is not None and runner.expected is not None
    before = await read_balances(balances, config.msisdns) if check and balances else {}
    stats = await runner.run()
    report = Report(stats.summary(), list(stats.problems))
    if stats.problem_count > len(stats.problems):
        report.problems.append(f"... {stats.problem_count - len(stats.problems)} more")
    if check and balances and runner.expected is not None:
        after = await read_balances(balances, config.msisdns)
        problems, report.balances = compare(before, after, runner.expected.by_msisdn)
        report.problems += problems
    elif runner.expected is not None:
        report.balances = {
            msisdn: {"expected": show(amount)}
            for msisdn, amount in runner.expected.by_msisdn.items()
        }
    return report
