"""Counters and latency percentiles of a run.

What lives here: `Stats` (what happened) and `percentile`. What must not: timing itself:
the driver passes in latencies measured from each request's *intended* send time (open
loop) or its actual send time (closed loop), so queueing in the client counts as latency
and coordinated omission does not hide it (perf-budget.md).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentile(ordered: array[float] | list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class Stats:
    sent: int = 0
    answered: int = 0
    errors: int = 0  #: no usable answer: timeout, transport gone, unparsable
    sessions_started: int = 0
    sessions_completed: int = 0
    sessions_failed: int = 0
    rar: int = 0
    asr: int = 0
    parked: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    result_codes: Counter[int] = field(default_factory=Counter)
    mscc_result_codes: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    elapsed: float = 0.0

    def problem(self, text: str, *, keep: int = 50) -> None:
        """Record a verify problem; only the first ``keep`` are kept as text."""
        self.problem_count += 1
        if len(self.problems) < keep:
            self.problems.append(text)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def ms(fraction: float) -> float | None:
            value = percentile(ordered, fraction)
            return None if value is None else round(value * 1000, 3)

        return {
            "elapsed_s": round(self.elapsed, 3),
            "sent": self.sent,
            "answered": self.answered,
            "errors": self.errors,
            "throughput_per_s": round(self.answered / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms": {
                "p50": ms(0.50),
                "p90": ms(0.90),
                "p99": ms(0.99),
                "p99.9": ms(0.999),
                "max": round(ordered[-1] * 1000, 3) if ordered else None,
            },
            "sessions": {
                "started": self.sessions_started,
                "completed": self.sessions_completed,
                "failed": self.sessions_failed,
            },
            "requests_by_type": dict(sorted(self.by_type.items())),
            "result_codes": {str(k): v for k, v in sorted(self.result_codes.items())},
            "mscc_result_codes": {str(k): v for k, v in sorted(self.mscc_result_codes.items())},
            "failures": dict(self.failures.most_common(10)),
            "rar": self.rar,
            "asr": self.asr,
            "parked": self.parked,
            "problems": self.problem_count,
        }
