"""The scenarios, sans-IO: what a gateway sends next and what it does with each answer.

What lives here: `Scenario` (the names), `ScenarioParams`, `CcrPlan` (one CCR to send,
described, not encoded), `UnitSession` (a data or voice session: CCR-I, CCR-Us, CCR-T)
and `EventSession` (SMS, balance check, price enquiry, refund: one CCR-Event each), and
`new_session`. What must not: sockets, clocks or encoding: the driver encodes each plan
with `protocol.cc_client.encode_ccr`, sends it, and feeds back the parsed answer.

The use (h11 shape): ``pending()`` gives the CCRs to send now (several only for a profile
that pipelines, e.g. Open5GS); the driver sends them and calls ``answered(plan, cca)`` for
each, in order; RAR and ASR arrive through ``on_rar()``/``on_asr()``. A session whose
rating groups are all out of credit is ``parked``: the driver waits up to
``params.rar_wait`` seconds for a RAR, then calls ``wake()``.

Usage runs on a virtual clock (``step_seconds`` per data interim, the profile's interim
for voice), so a 90 s call takes as long as its four round trips. What a real gateway
honours, this one honours too:

- it never reports more than it was granted (the unreported rest of the last grant,
  minus what CCRs still in flight already reported), unless ``overrun`` asks it to;
- Reporting-Reason QUOTA_EXHAUSTED, VALIDITY_TIME (the grant's Validity-Time passed on
  the virtual clock) and THRESHOLD (Volume-/Time-Quota-Threshold reached) in the CCR-U;
- Final-Unit-Indication: TERMINATE ends the session with a CCR-T once the final units
  are used; REDIRECT/RESTRICT_ACCESS reports them (no RSU) and parks the rating group;
- an MSCC 4012 parks the rating group (no more usage, no RSU) until a RAR;
- RAR: answer 2002, then a CCR-U with FORCED_REAUTHORISATION asking every rating group
  again (the magma #3549 bug is a gateway that does not); ASR: answer 2001, then CCR-T.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol.cc_client import CreditControlAnswer as Cca
from protocol.cc_client import MsccRequest, MsccResult
from protocol.codes import (
    CcRequestType,
    FinalUnitAction,
    ReportingReason,
    RequestedAction,
    ResultCode,
    TerminationCause,
)
from protocol.units import ServiceUnits

from .pricing import Unit
from .profiles import Profile

T = CcRequestType
_SUCCESS = int(ResultCode.DIAMETER_SUCCESS)
_LIMITED = int(ResultCode.DIAMETER_LIMITED_SUCCESS)
_NO_CREDIT = int(ResultCode.DIAMETER_CREDIT_LIMIT_REACHED)


class Scenario(enum.Enum):
    DATA = "data"
    VOICE = "voice"
    SMS = "sms"
    BALANCE = "balance"
    PRICE = "price"
    REFUND = "refund"


#: Service-Context-Id per scenario (TS 32.299: PS 32251, IMS 32260, SMS 32274)
CONTEXTS = {
    Scenario.DATA: "32251@3gpp.org",
    Scenario.VOICE: "32260@3gpp.org",
    Scenario.SMS: "32274@3gpp.org",
    Scenario.BALANCE: "32274@3gpp.org",
    Scenario.PRICE: "32274@3gpp.org",
    Scenario.REFUND: "32274@3gpp.org",
}
_ACTIONS = {
    Scenario.SMS: RequestedAction.DIRECT_DEBITING,
    Scenario.BALANCE: RequestedAction.CHECK_BALANCE,
    Scenario.PRICE: RequestedAction.PRICE_ENQUIRY,
    Scenario.REFUND: RequestedAction.REFUND_ACCOUNT,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioParams:
    """What each session does; defaults make a short, cheap session."""

    updates: int = 3  #: data: CCR-Us between CCR-I and CCR-T
    usage_octets: int = 1_000_000  #: data: octets used per interim (and before CCR-T)
    step_seconds: int = 10  #: data: virtual seconds per interim
    requested_octets: int | None = None  #: data RSU; None sends an empty RSU
    rating_groups: tuple[int, ...] = (1,)
    call_seconds: int = 90  #: voice: call length
    interim_seconds: int | None = None  #: voice: None takes the profile's interim
    sms_count: int = 1  #: events: units per event CCR
    overrun: int = 0  #: units reported beyond the grant in the first CCR-U, on purpose
    rar_wait: float = 0.0  #: seconds a parked session waits for a RAR before CCR-T
    service_context_id: str | None = None  #: None: the scenario's standard context

    def __post_init__(self) -> None:
        if self.updates < 0 or self.usage_octets < 0 or self.overrun < 0:
            raise ValueError("updates, usage and overrun must not be negative")
        if self.call_seconds < 1 or self.sms_count < 1 or self.step_seconds < 1:
            raise ValueError("call seconds, SMS count and step seconds must be at least 1")
        if not self.rating_groups:
            raise ValueError("at least one rating group")
        if self.interim_seconds is not None and self.interim_seconds < 1:
            raise ValueError("interim seconds must be at least 1")


@dataclass(frozen=True, slots=True)
class CcrPlan:
    """One CCR to send: everything `encode_ccr` needs beyond the session's constants."""

    request_type: CcRequestType
    number: int
    msccs: tuple[MsccRequest, ...] = ()
    requested_action: RequestedAction | None = None
    termination_cause: int | None = None
    #: rating-group key -> units reported in this CCR (what the OCS should charge)
    used: dict[int, int] = field(default_factory=dict)
    #: order of sending within the session, to apply grants to later reports
    seq: int = 0


#: the key of the one MSCC a profile sends without Rating-Group
NO_RG = -1


@dataclass(slots=True)
class _Rg:
    """One rating group as the gateway sees it."""

    key: int
    credit: int = 0  #: granted and not yet reported
    threshold: int | None = None
    valid_until: float | None = None  #: virtual clock
    final: FinalUnitAction | None = None  #: the current grant is the last one
    blocked: bool = False  #: 4012 or final units used with REDIRECT/RESTRICT
    threshold_reported: bool = False
    reports: list[int] = field(default_factory=list)  #: accepted usage reports


class Session(abc.ABC):
    """What every scenario session shares: identity, numbering and outcome."""

    unit: Unit = Unit.EVENTS
    #: +1 a debit, -1 a refund (a credit), 0 moves no money
    sign: int = 1

    def __init__(
        self, *, session_id: str, msisdn: str, profile: Profile, params: ScenarioParams
    ) -> None:
        self.session_id = session_id
        self.msisdn = msisdn
        self.profile = profile
        self.params = params
        self.done = False
        self.failed: str | None = None  #: why the session ended early, if it did
        self.parked = False
        self._number = 0
        self._seq = 0
        self.rar_count = 0
        self.asr_count = 0
        self.cost_information: Cca | None = None  #: the PRICE_ENQUIRY answer

    def _next_number(self) -> int:
        if self.profile.request_number_zero:
            return 0
        number = self._number
        self._number += 1
        return number

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    @abc.abstractmethod
    def pending(self) -> list[CcrPlan]:
        """The CCRs to send now."""

    @abc.abstractmethod
    def answered(self, plan: CcrPlan, cca: Cca) -> None:
        """Take in the answer to ``plan``."""

    def failed_request(self, why: str) -> None:
        """No usable answer (timeout, transport): a gateway gives the session up."""
        self.failed = why
        self.done = True
        self.parked = False

    def on_rar(self) -> int:
        """A RAR for this session: the Result-Code of the RAA."""
        self.rar_count += 1
        return _SUCCESS

    def on_asr(self) -> int:
        self.asr_count += 1
        return _SUCCESS

    def wake(self) -> None:
        """The RAR wait of a parked session ran out."""
        self.parked = False

    def stop(self) -> None:  # noqa: B027 (an event session has nothing to stop)
        """End soon: the run is over (a session in progress sends its CCR-T)."""

    def reports(self) -> dict[int, list[int]]:
        """Accepted usage reports per rating-group key: what should be charged."""
        return {}


class UnitSession(Session):
    """A data (octets) or voice (seconds) session: CCR-I, CCR-Us, CCR-T."""

    def __init__(
        self,
        *,
        session_id: str,
        msisdn: str,
        profile: Profile,
        params: ScenarioParams,
        voice: bool,
    ) -> None:
        super().__init__(session_id=session_id, msisdn=msisdn, profile=profile, params=params)
        self.voice = voice
        self.unit = Unit.SECONDS if voice else Unit.OCTETS
        self.context = (
            params.service_context_id or CONTEXTS[Scenario.VOICE if voice else Scenario.DATA]
        )
        if voice:
            interim = params.interim_seconds or profile.voice_interim
            self.step_usage = interim
            self.step_seconds = interim
            full, rest = divmod(params.call_seconds, interim)
            # the interims that fall inside the call; CCR-T reports the rest (or a last interim)
            self.steps = full - 1 if rest == 0 else full
            self.final_usage = rest or interim
        else:
            self.step_usage = params.usage_octets
            self.step_seconds = params.step_seconds
            self.steps = params.updates
            self.final_usage = params.usage_octets
        keys = params.rating_groups if profile.rating_group_in_mscc else (NO_RG,)
        self.rgs = {key: _Rg(key) for key in keys}
        self.clock = 0.0
        self.steps_done = 0
        self.started = False
        self.terminating = False
        self.stopping = False
        self.abort = False
        self.reauth = False
        self.outstanding: list[CcrPlan] = []
        self.overrun_left = params.overrun

    # ------------------------------------------------------------------ building CCRs

    def _requested(self) -> ServiceUnits:
        if self.voice:
            return ServiceUnits(time=self.step_usage)
        if self.params.requested_octets is not None:
            return ServiceUnits(total_octets=self.params.requested_octets)
        return ServiceUnits()  # empty RSU: "grant what you see fit"

    def _used(self, units: int) -> ServiceUnits:
        return ServiceUnits(time=units) if self.voice else ServiceUnits(total_octets=units)

    def _mscc(
        self, rg: _Rg, used: int | None, *, ask: bool, reason: int | None = None
    ) -> MsccRequest:
        return MsccRequest(
            rating_group=None if rg.key == NO_RG else rg.key,
            requested=self._requested() if ask else None,
            used=() if used is None else (self._used(used),),
            reporting_reason=reason,
        )

    def _plan(
        self,
        kind: CcRequestType,
        msccs: Sequence[MsccRequest],
        used: dict[int, int],
        *,
        cause: int | None = None,
    ) -> CcrPlan:
        plan = CcrPlan(
            kind,
            self._next_number(),
            tuple(msccs),
            self.profile.session_requested_action,
            cause,
            used,
            self._next_seq(),
        )
        self.outstanding.append(plan)
        return plan

    def _take(self, rg: _Rg, want: int) -> int:
        """Units the subscriber uses this interim: never more than granted (unless overrun)."""
        use = min(want, rg.credit) if not rg.blocked else 0
        rg.credit -= use
        if self.overrun_left and not rg.blocked and self.steps_done >= 1:
            use += self.overrun_left  # deliberate: the scenario asked to overrun once
            self.overrun_left = 0
        return use

    def pending(self) -> list[CcrPlan]:
        if self.done or self.parked or self.outstanding:
            return []
        if not self.started:
            self.started = True
            msccs = [self._mscc(rg, None, ask=True) for rg in self.rgs.values()]
            return [self._plan(T.INITIAL_REQUEST, msccs, {})]
        if self.abort or self.stopping or self.steps_done >= self.steps:
            return [self._termination()]
        if self.reauth:
            return [self._reauthorize()]
        active = [rg for rg in self.rgs.values() if not rg.blocked]
        if not active:
            if self.params.rar_wait > 0 and not self._waited:
                self.parked = True
                return []
            return [self._termination()]
        plans: list[CcrPlan] = []
        while len(plans) < self.profile.max_in_flight and self.steps_done < self.steps:
            plan = self._interim()
            plans.append(plan)
            if plan.request_type is T.TERMINATION_REQUEST or not any(
                not rg.blocked and rg.credit for rg in self.rgs.values()
            ):
                break  # nothing left to use until an answer brings a grant
        return plans

    _waited = False

    def _interim(self) -> CcrPlan:
        self.clock += self.step_seconds
        self.steps_done += 1
        msccs: list[MsccRequest] = []
        used: dict[int, int] = {}
        terminate = False
        for rg in self.rgs.values():
            if rg.blocked:
                continue
            use = self._take(rg, self.step_usage)
            used[rg.key] = use
            reason: int | None = None
            ask = True
            if rg.credit == 0 and rg.final is not None:
                if rg.final is FinalUnitAction.TERMINATE:
                    terminate = True
                    continue
                # REDIRECT/RESTRICT_ACCESS: report the final units, ask nothing, wait
                reason, ask, rg.blocked = ReportingReason.FINAL, False, True
            elif rg.credit == 0:
                reason = ReportingReason.QUOTA_EXHAUSTED
            elif rg.valid_until is not None and self.clock >= rg.valid_until:
                reason = ReportingReason.VALIDITY_TIME
            elif (
                rg.threshold is not None and rg.credit <= rg.threshold and not rg.threshold_reported
            ):
                reason = ReportingReason.THRESHOLD
                rg.threshold_reported = True
            msccs.append(self._mscc(rg, use, ask=ask, reason=reason))
        if terminate:
            # Final units of a TERMINATE grant are used up: RFC 8506 §5.6.1, CCR-T.
            return self._termination(used=used, reason=ReportingReason.FINAL)
        return self._plan(T.UPDATE_REQUEST, msccs, used)

    def _reauthorize(self) -> CcrPlan:
        self.reauth = False
        for rg in self.rgs.values():
            rg.blocked = False
        msccs = [
            self._mscc(rg, None, ask=True, reason=ReportingReason.FORCED_REAUTHORISATION)
            for rg in self.rgs.values()
        ]
        return self._plan(T.UPDATE_REQUEST, msccs, {})

    def _termination(
        self, *, used: dict[int, int] | None = None, reason: int | None = ReportingReason.FINAL
    ) -> CcrPlan:
        self.terminating = True
        if used is None:
            used = {}
            if not self.abort:  # the last interim's usage (an aborted session used none)
                self.clock += self.step_seconds
                for rg in self.rgs.values():
                    used[rg.key] = self._take(rg, self.final_usage)
        msccs = [
            self._mscc(rg, used.get(rg.key, 0), ask=False, reason=reason)
            for rg in self.rgs.values()
        ]
        cause = (
            TerminationCause.DIAMETER_ADMINISTRATIVE
            if self.abort
            else TerminationCause.DIAMETER_LOGOUT
        )
        return self._plan(T.TERMINATION_REQUEST, msccs, used, cause=cause)

    # ------------------------------------------------------------------ answers

    def _result_for(self, cca: Cca, rg: _Rg) -> MsccResult | None:
        for result in cca.multiple_services_credit_control:
            if rg.key == NO_RG or result.rating_group == rg.key:
                return result
        return None

    def answered(self, plan: CcrPlan, cca: Cca) -> None:
        if plan in self.outstanding:
            index = self.outstanding.index(plan)
            later = self.outstanding[index + 1 :]
            del self.outstanding[index]
        else:
            later = []
        ok = cca.result_code in (_SUCCESS, _LIMITED)
        if ok:
            for key, units in plan.used.items():
                self.rgs[key].reports.append(units)
        if plan.request_type is T.TERMINATION_REQUEST:
            self.done = True
            if not ok:
                self.failed = f"CCR-T answered {cca.result_code}"
            return
        if not ok:
            # RFC 8506 §7: a failed CCR-I/U ends the session; no CCR-T follows.
            self.failed = f"{plan.request_type.name} answered {cca.result_code}"
            self.done = True
            return
        for rg in self.rgs.values():
            result = self._result_for(cca, rg)
            if result is None:
                continue
            if result.result_code not in (None, _SUCCESS) or result.granted is None:
                # 4012 (or 4010, or no grant at all): no more of this service until a RAR
                rg.blocked, rg.credit = True, 0
                continue
            granted = (result.granted.time if self.voice else result.granted.octets) or 0
            # A grant replaces the last one; CCRs sent after this one already used it.
            after = sum(p.used.get(rg.key, 0) for p in later)
            rg.credit = max(0, granted - after)
            rg.final = result.final_unit_action
            rg.threshold = (
                result.time_quota_threshold if self.voice else result.volume_quota_threshold
            )
            rg.threshold_reported = False
            rg.valid_until = (
                None if result.validity_time is None else self.clock + result.validity_time
            )
            rg.blocked = granted == 0

    def failed_request(self, why: str) -> None:
        super().failed_request(why)
        self.outstanding.clear()

    def on_rar(self) -> int:
        super().on_rar()
        if not self.terminating:
            self.reauth = True
            self.parked = False
        return _LIMITED  # RFC 8506 §5.5: 2002, then the CCR-U

    def on_asr(self) -> int:
        super().on_asr()
        self.abort = True
        self.parked = False
        return _SUCCESS

    def wake(self) -> None:
        self.parked = False
        self._waited = True

    def stop(self) -> None:
        self.stopping = True
        self.parked = False

    def reports(self) -> dict[int, list[int]]:
        return {key: rg.reports for key, rg in self.rgs.items() if rg.reports}


class EventSession(Session):
    """One CCR-Event: SMS (DIRECT_DEBITING), balance check, price enquiry or refund."""

    def __init__(
        self,
        *,
        session_id: str,
        msisdn: str,
        profile: Profile,
        params: ScenarioParams,
        scenario: Scenario,
    ) -> None:
        super().__init__(session_id=session_id, msisdn=msisdn, profile=profile, params=params)
        self.scenario = scenario
        self.action = _ACTIONS[scenario]
        self.context = params.service_context_id or CONTEXTS[scenario]
        self.sign = {Scenario.SMS: 1, Scenario.REFUND: -1}.get(scenario, 0)
        self.sent = False
        self._reports: list[int] = []

    def pending(self) -> list[CcrPlan]:
        if self.sent or self.done:
            return []
        self.sent = True
        rg = self.params.rating_groups[0] if self.profile.rating_group_in_mscc else None
        count = self.params.sms_count
        mscc = MsccRequest(rating_group=rg, requested=ServiceUnits(service_specific=count))
        used = {NO_RG if rg is None else rg: count} if self.sign else {}
        return [CcrPlan(T.EVENT_REQUEST, self._next_number(), (mscc,), self.action, None, used)]

    def answered(self, plan: CcrPlan, cca: Cca) -> None:
        self.done = True
        results = {m.result_code for m in cca.multiple_services_credit_control} - {None}
        if cca.result_code != _SUCCESS or results - {_SUCCESS}:
            self.failed = (
                f"event answered {cca.result_code} (MSCC {sorted(r or 0 for r in results)})"
            )
            return
        if self.scenario is Scenario.PRICE:
            self.cost_information = cca
        self._reports = list(plan.used.values())

    def reports(self) -> dict[int, list[int]]:
        return {0: self._reports} if self._reports else {}


def new_session(
    scenario: Scenario, *, session_id: str, msisdn: str, profile: Profile, params: ScenarioParams
) -> Session:
    if scenario in (Scenario.DATA, Scenario.VOICE):
        return UnitSession(
            session_id=session_id,
            msisdn=msisdn,
            profile=profile,
            params=params,
            voice=scenario is Scenario.VOICE,
        )
    return EventSession(
        session_id=session_id, msisdn=msisdn, profile=profile, params=params, scenario=scenario
    )
