"""Service units and the usage value that rating prices.

What lives here: ``UnitKind`` (what a quantity counts, after the RFC 8506 §8.17-§8.23
Unit AVPs: CC-Time, CC-Total/Input/Output-Octets, CC-Service-Specific-Units, and one
more for event charging: one SMS, one MMS), the ``Usage`` value, and size/duration
constants. What must not: Diameter decoding (the OCS builds a ``Usage`` from the
Multiple-Services-Credit-Control it decoded), prices, or the clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NewType

from rating.errors import RatingError

Octets = NewType("Octets", int)
Seconds = NewType("Seconds", int)

#: decimal and binary volume units, as tariff files name them (1 MB is 10**6 octets)
VOLUME_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 1_000,
    "MB": 1_000_000,
    "GB": 1_000_000_000,
    "TB": 1_000_000_000_000,
    "KIB": 1 << 10,
    "MIB": 1 << 20,
    "GIB": 1 << 30,
    "TIB": 1 << 40,
}
#: time units, as tariff files name them
TIME_UNITS: dict[str, int] = {"S": 1, "SEC": 1, "MIN": 60, "H": 3600}


class UnitKind(enum.Enum):
    """What a quantity of usage counts. Values are the tariff-file spellings."""

    TIME = "time"  #: seconds (CC-Time)
    TOTAL_OCTETS = "total_octets"  #: octets both ways (CC-Total-Octets)
    INPUT_OCTETS = "input_octets"  #: octets from the user (CC-Input-Octets)
    OUTPUT_OCTETS = "output_octets"  #: octets to the user (CC-Output-Octets)
    SERVICE_SPECIFIC = "service_specific"  #: CC-Service-Specific-Units, counted as given
    EVENT = "event"  #: one chargeable event: an SMS, an MMS (Requested-Action / event CCR)

    @property
    def is_volume(self) -> bool:
        return self in _VOLUME_KINDS


_VOLUME_KINDS = frozenset({UnitKind.TOTAL_OCTETS, UnitKind.INPUT_OCTETS, UnitKind.OUTPUT_OCTETS})


@dataclass(frozen=True, slots=True)
class Usage:
    """A quantity of one kind of service, used from ``start``, with its rating inputs.

    ``destination`` is E.164 digits (see ``rating.destinations.normalise_e164``);
    the selectors left as ``None`` match only a tariff's wildcard rules.
    """

    kind: UnitKind
    amount: int  #: seconds, octets, units or events
    start: datetime  #: timezone-aware instant the usage began (the event time)
    service_context_id: str | None = None  #: Service-Context-Id, e.g. "32251@3gpp.org"
    rating_group: int | None = None  #: Rating-Group
    service_identifier: int | None = None  #: Service-Identifier
    destination: str | None = None  #: called number, E.164 digits without '+'

    def __post_init__(self) -> None:
        # Cheap checks only: a Usage is built for every rated CCR.
        if type(self.amount) is not int or self.amount < 0:
            raise RatingError(f"usage amount must be a non-negative int, got {self.amount!r}")
        if self.start.tzinfo is None:
            raise RatingError("usage start must be timezone-aware")
