"""The rating package's error hierarchy.

What lives here: the exceptions rating raises. What must not: Diameter result codes
(the OCS maps these errors to Result-Codes per rating group; billing records them as
rejected CDRs).

::

    ValueError
     ├── money.MoneyError          an amount or currency that cannot be represented
     └── RatingError
          ├── DestinationError     a number that is not E.164 after normalisation
          ├── TariffError          a tariff built with inconsistent values
          ├── NoRateError          no tariff version / service / destination prices this usage
          └── PlanError            a tariff file that does not validate (file, line, field)
"""

from __future__ import annotations

from dataclasses import dataclass


class RatingError(ValueError):
    """Base of every error raised by the rating package (except ``MoneyError``)."""


class DestinationError(RatingError):
    """A destination that cannot be normalised to E.164 digits."""


class TariffError(RatingError):
    """A tariff, rate or band built with values that contradict each other."""


class NoRateError(RatingError):
    """The plan has no price for this usage (no version yet, no service, no destination)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem in a tariff file, located for the person who edits it."""

    source: str  #: the file name the caller gave (rating never opens files)
    line: int | None  #: 1-based line, when it could be found
    field: str  #: dotted path such as ``plan[0].version[1].voice[0].destination[2].price``
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        if not self.field:
            return f"{where}: {self.message}"
        return f"{where}: {self.field}: {self.message}"


class PlanError(RatingError):
    """A tariff file that does not validate; ``problems`` lists every problem found."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
