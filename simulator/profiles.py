"""Client profiles: how real gateways differ on the wire (gy-standards §3 items 11-15).

What lives here: `Profile` and the four named profiles. What must not: scenario logic
(`scenarios` reads these switches) or I/O.

- ``rfc``: a plain RFC 8506 client: MSCC with Rating-Group, Multiple-Services-Indicator
  SUPPORTED, one request in flight per session, CC-Request-Number counting up, answers
  RAR with 2002 and re-asks with a CCR-U (FORCED_REAUTHORISATION).
- ``open5gs``: the Open5GS SMF: MSCC without Rating-Group and MSI NOT_SUPPORTED (the
  server must read it as the default rating group), up to 4 CCRs in flight per session,
  and RAR ignored: its handler is a TODO, so the RAR goes unanswered and no CCR-U follows.
- ``kamailio``: Kamailio ims_charging on Ro: time units (CC-Time), an interim CCR-U every
  30 s, MSCC without Rating-Group, no MSI.
- ``pyhss``: the PyHSS Gy test client: CC-Request-Number 0 on every request and
  Event-Timestamp 0 (all-zero bytes), and Requested-Action DIRECT_DEBITING even in
  session CCRs.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codes import MultipleServicesIndicator, RequestedAction


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    name: str
    #: send Rating-Group in each MSCC (False: one MSCC, no RG, as Open5GS does)
    rating_group_in_mscc: bool = True
    multiple_services_indicator: int | None = MultipleServicesIndicator.MULTIPLE_SERVICES_SUPPORTED
    #: CCRs a session may have in flight (Open5GS pipelines up to 4)
    max_in_flight: int = 1
    #: False: RAR is left unanswered and ignored (Open5GS)
    answers_rar: bool = True
    answers_asr: bool = True
    #: True: CC-Request-Number 0 on every request (PyHSS)
    request_number_zero: bool = False
    #: Requested-Action sent in session CCRs too (PyHSS: DIRECT_DEBITING)
    session_requested_action: RequestedAction | None = None
    #: Event-Timestamp with all-zero bytes on every request (PyHSS)
    event_timestamp_zero: bool = False
    #: seconds between voice interims (Kamailio: 30)
    voice_interim: int = 60


PROFILES: dict[str, Profile] = {
    "rfc": Profile(name="rfc"),
    "open5gs": Profile(
        name="open5gs",
        rating_group_in_mscc=False,
        multiple_services_indicator=MultipleServicesIndicator.MULTIPLE_SERVICES_NOT_SUPPORTED,
        max_in_flight=4,
        answers_rar=False,
    ),
    "kamailio": Profile(
        name="kamailio",
        rating_group_in_mscc=False,
        multiple_services_indicator=None,
        voice_interim=30,
    ),
    "pyhss": Profile(
        name="pyhss",
        request_number_zero=True,
        event_timestamp_zero=True,
        session_requested_action=RequestedAction.DIRECT_DEBITING,
    ),
}
