"""Credit control: one CCR in, its answer and its postings out (RFC 8506, TS 32.299).

What lives here: `Charger.credit_control`, synchronous and pure of I/O: it looks the
subscriber up, walks the RFC 8506 §7 session machine, and for each
Multiple-Services-Credit-Control commits the used units and reserves the next grant
through the ledger, pricing with `rating.engine` (the same function billing uses).
What must not: sockets, SQL, awaiting (DESIGN.md: ledger work never awaits, so each
CCR is atomic under trio), or encoding (the handler writes the CCA).

Business outcomes are values, faults are exceptions (style-anchors §0.5): a rating
group out of credit is an MSCC with 4012 inside a 2001 answer; an unknown subscriber is
a `ChargingError` that the handler turns into a 5030 answer.

Grant sizing (gy-standards §3 items 2, 11, 17): the requested units (or the configured
default) capped by the configured maximum, then by what buckets and money can buy
(`rating.engine.max_usage`). A grant smaller than asked because money ran short carries
Final-Unit-Indication (TERMINATE, or REDIRECT to the top-up URL) rather than a later
abrupt 4012; once nothing can be granted the rating group gets 4012 without FUI.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from protocol.cca import (
    FinalUnitIndication,
    MsccAnswer,
    RedirectServer,
    encode_cost_information,
    encode_final_unit_indication,
    encode_remaining_balance,
)
from protocol.codec import decode_avps, encode_avp
from protocol.codes import (
    VENDOR_3GPP,
    Avp3gpp,
    AvpCode,
    CcRequestType,
    CheckBalanceResult,
    FinalUnitAction,
    LowBalanceIndication,
    RedirectAddressType,
    RequestedAction,
    ResultCode,
)
from protocol.credit_control import CreditControlRequest, MultipleServicesCreditControl
from protocol.units import Money, ServiceUnits, encode_units
from rating.engine import Pricer
from rating.errors import RatingError
from rating.money import Micros, unit_value
from rating.tariff import Tariff, TariffPlan
from rating.units import UnitKind
from storage.records import (
    NO_RATING_GROUP,
    AccountStatus,
    BucketKind,
    Posting,
    SessionKey,
    SessionRow,
)

from .directory import Directory, Subscriber
from .errors import (
    AccountBlocked,
    ChargeAborted,
    ChargingError,
    RatingFailed,
    UnknownSession,
    UnknownSubscriber,
)
from .ledger import Ledger
from .sessions import ENDED, CcSession, CcState, SessionTable, next_state

_T = CcRequestType
_SUCCESS = int(ResultCode.DIAMETER_SUCCESS)
_NO_CREDIT = int(ResultCode.DIAMETER_CREDIT_LIMIT_REACHED)
_DENIED = int(ResultCode.DIAMETER_END_USER_SERVICE_DENIED)

#: the rating unit kinds we try, in order, to find which one a service is sold in
_KINDS = (
    UnitKind.TOTAL_OCTETS,
    UnitKind.TIME,
    UnitKind.EVENT,
    UnitKind.SERVICE_SPECIFIC,
    UnitKind.INPUT_OCTETS,
    UnitKind.OUTPUT_OCTETS,
)
_BUCKET_KIND = {
    UnitKind.TOTAL_OCTETS: BucketKind.DATA,
    UnitKind.INPUT_OCTETS: BucketKind.DATA,
    UnitKind.OUTPUT_OCTETS: BucketKind.DATA,
    UnitKind.TIME: BucketKind.VOICE,
    UnitKind.EVENT: BucketKind.SMS,
    UnitKind.SERVICE_SPECIFIC: BucketKind.SMS,
}


class FinalAction(enum.Enum):
    TERMINATE = "terminate"
    REDIRECT = "redirect"


@dataclass(frozen=True, slots=True)
class Policy:
    """How grants are sized and what goes with them (from the OCS configuration)."""

    validity_time: int = 3600  #: seconds, in every MSCC with a grant
    default_quota: dict[BucketKind, int] = field(
        default_factory=lambda: {
            BucketKind.DATA: 10_000_000,
            BucketKind.VOICE: 600,
            BucketKind.SMS: 1,
        }
    )
    max_quota: dict[BucketKind, int] = field(
        default_factory=lambda: {
            BucketKind.DATA: 100_000_000,
            BucketKind.VOICE: 3600,
            BucketKind.SMS: 10,
        }
    )
    #: Volume-/Time-Quota-Threshold as a percentage of the grant (None: not sent)
    threshold_percent: int | None = 20
    quota_holding_time: int | None = None
    tcc: float = 7200.0  #: RFC 8506 §13 Tcc; default 2 x Validity-Time
    final_action: FinalAction = FinalAction.TERMINATE
    redirect_url: str | None = None
    low_balance_threshold: Micros = 0
    #: Origin-Hosts whose gateways need an MSCC failure copied to the command level
    #: (PortaBilling's "Rise MSCC result code", gy-standards §3 item 18)
    rise_mscc_result_code: frozenset[str] = frozenset()
    #: Service-Context-Ids served; empty: whatever the subscriber's tariff prices
    service_context_ids: frozenset[str] = frozenset()
    #: how long an ended session's last request number is kept (and persisted) to
    #: recognise a retransmitted CCR-T; at least the answer caches' 4 minutes
    ended_seconds: float = 300.0


@dataclass(slots=True)
class Outcome:
    """What one CCR produced: the answer's content and the durable side effects."""

    result_code: int = _SUCCESS
    msccs: list[MsccAnswer] = field(default_factory=list)
    extra: bytes = b""  #: encoded command-level AVPs (GSU, Cost-Information, ...)
    postings: list[Posting] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    closed: list[SessionKey] = field(default_factory=list)
    #: rating groups that ran out (FUI or 4012): a top-up should re-authorize them
    exhausted: list[int] = field(default_factory=list)
    #: the ledger keys (rating group, or NO_RATING_GROUP) this request settled or held
    touched: set[int] = field(default_factory=set)


class _Rated:
    """A rating group's pricing context: which unit, which tariff, from when.

    A session is rated as one usage: ``offset`` units of it were already charged, so a
    report of ``n`` more costs ``price(offset + n) - price(offset)``. The first interval,
    the increments, the connection fee and the rounding then apply once per session, as
    the tariff says, not once per interim report (a 90 s call in three 30 s reports on a
    60/60 tariff costs two minutes, not three; two 1.5 KB reports on a 1 KB increment
    cost 3 KB, not 4).

    Raises:
        RatingError: from the constructor, when nothing prices this usage.
    """

    __slots__ = ("_base", "bucket_kind", "kind", "offset", "pricer", "rating_group")

    def __init__(
        self, pricer: Pricer, kind: UnitKind, rating_group: int | None, offset: int = 0
    ) -> None:
        self.kind = kind
        self.bucket_kind = _BUCKET_KIND[kind]
        self.rating_group = rating_group
        self.offset = offset
        self._base: Micros | None = None
        self.pricer = pricer

    def base(self) -> Micros:
        """What the units charged so far cost (0 for a fresh rating group)."""
        if self._base is None:
            self._base = self.pricer.amount(self.offset) if self.offset else 0
        return self._base

    def advance(self, units: int) -> None:
        """``units`` more of the call were charged: later prices start after them."""
        self.offset += units
        self._base = None

    def price_of(self, units: int) -> Micros:
        if not self.offset:
            return self.pricer.amount(units)
        return self.pricer.amount(self.offset + units) - self.base()

    def units_for(self, cap: int) -> Callable[[Micros], int]:
        def units_for(budget: Micros) -> int:
            offset = self.offset
            bought = self.pricer.max_usage(budget + self.base(), cap=cap + offset)
            return cap if bought is None else max(0, bought - offset)

        return units_for

    def units(self, used: ServiceUnits) -> int:
        """The units of this service's kind in one RSU/USU (0 when absent)."""
        kind = self.kind
        if kind is UnitKind.TIME:
            return used.time or 0
        if kind is UnitKind.TOTAL_OCTETS:
            return used.octets or 0
        if kind is UnitKind.INPUT_OCTETS:
            return used.input_octets or 0
        if kind is UnitKind.OUTPUT_OCTETS:
            return used.output_octets or 0
        return used.service_specific or 0

    def granted(self, units: int) -> ServiceUnits:
        kind = self.kind
        if kind is UnitKind.TIME:
            return ServiceUnits(time=units)
        if kind is UnitKind.TOTAL_OCTETS:
            return ServiceUnits(total_octets=units)
        if kind is UnitKind.INPUT_OCTETS:
            return ServiceUnits(input_octets=units)
        if kind is UnitKind.OUTPUT_OCTETS:
            return ServiceUnits(output_octets=units)
        return ServiceUnits(service_specific=units)


class Charger:
    """The credit-control logic of the OCS, over one ledger, session table and directory."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        sessions: SessionTable,
        directory: Directory,
        policy: Policy,
    ) -> None:
        self.ledger = ledger
        self.sessions = sessions
        self.directory = directory
        self.policy = policy
        self._second: tuple[int, datetime] = (0, datetime.fromtimestamp(0, UTC))
        self._pricers: dict[tuple[object, ...], Pricer] = {}
        # (tariff version, context, rating group, service id) -> unit kind, or None
        self._kinds: dict[tuple[int, str, int | None, int | None], UnitKind | None] = {}

    def _utc(self, wall: float) -> datetime:
        """The wall clock as an aware datetime, to the second (tariffs change on whole
        seconds). Cached per second: fromtimestamp was 6% of a saturated OCS (py-spy)."""
        second = int(wall)
        if self._second[0] != second:
            self._second = (second, datetime.fromtimestamp(second, UTC))
        return self._second[1]

    # ------------------------------------------------------------------ entry point

    def credit_control(self, request: CreditControlRequest, *, now: float, wall: float) -> Outcome:
        """Answer one CCR. ``now`` is the monotonic clock (Tcc), ``wall`` Unix seconds.

        Raises:
            ChargingError: a command-level failure (5030, 5003, 5031, 5002), or
                `ChargeAborted` for anything unexpected. Either carries in ``partial``
                what the ledger already did for this request, so that the caller still
                writes those postings: memory and SQL must never disagree.
        """
        outcome = Outcome()
        try:
            if request.cc_request_type is _T.EVENT_REQUEST:
                return self._event(request, wall, outcome)
            return self._session_request(request, outcome, now=now, wall=wall)
        except ChargingError as exc:
            exc.partial = outcome
            raise
        except Exception as exc:
            raise ChargeAborted(f"{type(exc).__name__}: {exc}", partial=outcome) from exc

    def _session_request(
        self, request: CreditControlRequest, outcome: Outcome, *, now: float, wall: float
    ) -> Outcome:
        kind = request.cc_request_type
        session = self.sessions.get(request.session_id)
        number = request.cc_request_number
        # A numbered request at or below the last one answered is a retransmission the
        # answer caches no longer hold (they live in memory: a restart empties them).
        # RFC 8506 §7 makes the server detect it from Session-Id and CC-Request-Number;
        # it is answered from the current state, never charged again. Number 0 on an
        # update or termination identifies nothing (PyHSS sends 0 every time).
        if number and kind is not _T.INITIAL_REQUEST:
            if session is not None and number <= session.last_request_number:
                return self._replay(request, session, outcome, wall)
            if session is None and self.sessions.was_ended(request.session_id, number):
                return outcome  # the session's CCR-T was answered (and charged) already
        state = CcState.IDLE if session is None else CcState.OPEN
        if next_state(state, kind) is None:  # RFC 8506 §7: Idle + CCR-U
            raise UnknownSession(f"no open session {request.session_id!r}")
        subscriber = self._subscriber(request) if session is None else self._known(session)
        if session is None:
            self._check_context(request, subscriber)
            if (
                kind is _T.INITIAL_REQUEST
                and self.ledger.account(subscriber.account_id).status is not AccountStatus.ACTIVE
            ):
                raise AccountBlocked(f"account {subscriber.msisdn} is not active")
            session = CcSession(
                request.session_id,
                subscriber.account_id,
                request.origin_host,
                request.service_context_id,
                started_at=wall,
            )
        final = kind is _T.TERMINATION_REQUEST
        blocked = self.ledger.account(subscriber.account_id).status is not AccountStatus.ACTIVE
        self._services(request, session, subscriber, outcome, final=final or blocked, wall=wall)
        if final or blocked:
            session.last_request_number = request.cc_request_number
            self._end(session, outcome, wall, now=now)
            if blocked and not final:
                # RFC 8506 §7: Open + CCR-U failed -> Idle, used units debited.
                outcome.result_code = int(ResultCode.DIAMETER_AUTHORIZATION_REJECTED)
        else:
            session.last_request_number = request.cc_request_number
            self.sessions.touch(session, now=now, tcc=self.policy.tcc)
            if state is CcState.IDLE:
                self.sessions.open(session)
            self._persist(session, outcome, wall)
        self._command_level(request, subscriber, outcome)
        return outcome

    # ------------------------------------------------------------------ lookups

    def _subscriber(self, request: CreditControlRequest) -> Subscriber:
        for sub_type, data in request.subscription_ids:
            found = (
                self.directory.by_msisdn(data)
                if sub_type == 0
                else self.directory.by_imsi(data)
                if sub_type == 1
                else None
            )
            if found is not None:
                return found
        if request.user_name:
            found = self.directory.by_msisdn(request.user_name) or self.directory.by_imsi(
                request.user_name
            )
            if found is not None:
                return found
        raise UnknownSubscriber(f"no account for {request.subscription_ids or request.user_name!r}")

    def _known(self, session: CcSession) -> Subscriber:
        subscriber = self.directory.account(session.account_id)
        if subscriber is None:  # closed and removed while the session was open
            raise UnknownSubscriber(f"account {session.account_id} is gone")
        return subscriber

    def _check_context(self, request: CreditControlRequest, subscriber: Subscriber) -> None:
        """5031 with Failed-AVP for a Service-Context-Id nobody rates (RFC 8506 §9.2).

        The gateway must not retry such a request; a known context whose rating group
        the subscriber's tariff does not sell is a 4010 per MSCC instead.
        """
        context = request.service_context_id
        allowed = self.policy.service_context_ids
        known = context in allowed if allowed else self._context_known(subscriber.plan, context)
        if not known:
            raise RatingFailed(
                f"Service-Context-Id {context!r} is not rated",
                failed_avp=encode_avp(AvpCode.SERVICE_CONTEXT_ID, context.encode()),
            )

    def _context_known(self, plan: TariffPlan, context: str) -> bool:
        return any(
            service.service_context_id in (None, context)
            for version in plan.versions
            for service in version.services
        )

    def _kind(
        self,
        plan: TariffPlan,
        at: datetime,
        context: str,
        rating_group: int | None,
        service_id: int | None,
    ) -> UnitKind | None:
        try:
            tariff: Tariff = plan.in_force(at)
        except RatingError:
            return None
        key = (id(tariff), context, rating_group, service_id)
        try:
            return self._kinds[key]
        except KeyError:
            pass
        found: UnitKind | None = None
        for kind in _KINDS:
            try:
                tariff.select(
                    kind,
                    service_context_id=context,
                    rating_group=rating_group,
                    service_identifier=service_id,
                )
            except RatingError:
                continue
            found = kind
            break
        self._kinds[key] = found
        return found

    # ------------------------------------------------------------------ the MSCC loop

    def _services(
        self,
        request: CreditControlRequest,
        session: CcSession,
        subscriber: Subscriber,
        outcome: Outcome,
        *,
        final: bool,
        wall: float,
    ) -> None:
        msccs = by_rating_group(request.multiple_services_credit_control)
        # Every rating group is priced before the ledger is touched: a 5031 for the
        # second one must not leave the first one half charged.
        rated = [self._rated(request, subscriber, mscc, wall, session) for mscc in msccs]
        if msccs:
            for mscc, pricing in zip(msccs, rated, strict=True):
                outcome.msccs.append(
                    self._one(session, mscc, pricing, outcome, final=final, wall=wall)
                )
            return
        # Single-service credit control (RFC 8506 §5.1): units at the command level.
        single = MultipleServicesCreditControl(
            request.rating_group,
            () if request.service_identifier is None else (request.service_identifier,),
            request.requested_service_unit,
            request.used_service_units,
        )
        pricing = self._rated(request, subscriber, single, wall, session)
        answer = self._one(session, single, pricing, outcome, final=final, wall=wall)
        if answer.result_code != _SUCCESS:
            outcome.result_code = answer.result_code
        extra = []
        if answer.granted is not None:
            extra.append(encode_units(AvpCode.GRANTED_SERVICE_UNIT, answer.granted))
        if answer.validity_time is not None:
            extra.append(encode_avp(AvpCode.VALIDITY_TIME, answer.validity_time.to_bytes(4, "big")))
        if answer.final_unit_indication is not None:
            extra.append(encode_final_unit_indication(answer.final_unit_indication))
        outcome.extra += b"".join(extra)

    def _rated(
        self,
        request: CreditControlRequest,
        subscriber: Subscriber,
        mscc: MultipleServicesCreditControl,
        wall: float,
        session: CcSession | None = None,
    ) -> _Rated | None:
        start = self._utc(wall)
        service_id = mscc.service_identifiers[0] if mscc.service_identifiers else None
        kind = self._kind(
            subscriber.plan, start, request.service_context_id, mscc.rating_group, service_id
        )
        if kind is None:
            return None
        # Per session, not per report: priced after what the session was already charged
        # (increments, first interval and connection fee apply once per session). Time
        # is priced from the call's start (a call is one rating); volume and events in
        # the band of the report.
        offset = 0 if session is None else session.used.get(_key(mscc.rating_group), 0)
        destination = None
        if kind is UnitKind.TIME:
            destination = _called_party(request)
            if session is not None:
                start = self._utc(session.started_at or wall)
        plan = subscriber.plan
        try:
            version = plan.in_force(start)
        except RatingError as exc:  # e.g. a call older than the new product's tariff
            raise RatingFailed(str(exc)) from None
        key = (id(version), kind, request.service_context_id, mscc.rating_group,
               service_id, destination)  # fmt: skip
        pricer = self._pricers.get(key)
        if pricer is None:
            try:
                pricer = Pricer(
                    plan,
                    start,
                    kind,
                    service_context_id=request.service_context_id,
                    rating_group=mscc.rating_group,
                    service_identifier=service_id,
                    destination=destination,
                )
            except RatingError as exc:  # e.g. no rate for this destination
                raise RatingFailed(str(exc)) from None
            # A rate no time band changes prices the same whatever the start: keep it.
            # (Resolving version, service and destination per MSCC was 5% of the CPU.)
            if pricer.start_independent and len(self._pricers) < 10_000:
                self._pricers[key] = pricer
        return _Rated(pricer, kind, mscc.rating_group, offset)

    def _one(
        self,
        session: CcSession,
        mscc: MultipleServicesCreditControl,
        rated: _Rated | None,
        outcome: Outcome,
        *,
        final: bool,
        wall: float,
    ) -> MsccAnswer:
        rating_group = mscc.rating_group
        key = NO_RATING_GROUP if rating_group is None else rating_group
        outcome.touched.add(key)
        if rated is None:
            # The tariff sells nothing for this rating group: a barred service
            # (RFC 8506 §9.1 4010: the gateway may stop offering it).
            self._release(session, key, outcome, wall)
            return MsccAnswer(rating_group, _DENIED, mscc.service_identifiers)
        ledger = self.ledger
        now_us = int(wall * 1_000_000)
        sid = session.session_id
        used = 0
        for report in mscc.used:
            used += rated.units(report)
        held = ledger.reservation(sid, key)
        try:
            if used or held is not None:
                outcome.postings += ledger.commit(
                    sid,
                    key,
                    used,
                    unit_kind=rated.bucket_kind,
                    price_of=rated.price_of,
                    now_us=now_us,
                    account_id=None if held is not None else session.account_id,
                )
            rated.advance(used)  # the next grant is priced after what was just charged
            session.used[key] = rated.offset
            session.rating_groups.discard(key)
            if final or mscc.requested is None:
                # RFC 8506 §5.1.1: no Requested-Service-Unit -> debit, grant nothing.
                return MsccAnswer(rating_group, _SUCCESS, mscc.service_identifiers)
            policy = self.policy
            cap = policy.max_quota.get(rated.bucket_kind, 0)
            wanted = rated.units(mscc.requested) or policy.default_quota.get(rated.bucket_kind, 0)
            wanted = min(wanted, cap)
            outcome.postings += ledger.reserve(
                session.account_id,
                sid,
                key,
                wanted,
                unit_kind=rated.bucket_kind,
                price_of=rated.price_of,
                units_for=rated.units_for(wanted),
                now_us=now_us,
            )
        except RatingError as exc:
            raise RatingFailed(str(exc)) from None
        hold = ledger.reservation(sid, key)
        granted = hold.granted if hold is not None else 0
        if granted <= 0:
            if hold is not None:
                outcome.postings += ledger.release(sid, key, now_us=now_us)
            session.exhausted.add(key)
            outcome.exhausted.append(key)
            # No FUI together with 4012 (gy-standards §3 item 17).
            return MsccAnswer(rating_group, _NO_CREDIT, mscc.service_identifiers)
        session.rating_groups.add(key)
        fui = None
        if granted < wanted:
            fui = self._final_unit_indication()
            session.exhausted.add(key)
            outcome.exhausted.append(key)
        else:
            session.exhausted.discard(key)
        threshold = (
            None if policy.threshold_percent is None else granted * policy.threshold_percent // 100
        )
        volume = threshold if rated.bucket_kind is BucketKind.DATA else None
        time = threshold if rated.bucket_kind is BucketKind.VOICE else None
        return MsccAnswer(
            rating_group,
            _SUCCESS,
            mscc.service_identifiers,
            granted=rated.granted(granted),
            validity_time=policy.validity_time,
            final_unit_indication=fui,
            volume_quota_threshold=volume,
            time_quota_threshold=time,
            quota_holding_time=policy.quota_holding_time,
        )

    def _final_unit_indication(self) -> FinalUnitIndication:
        policy = self.policy
        if policy.final_action is FinalAction.REDIRECT and policy.redirect_url:
            return FinalUnitIndication(
                FinalUnitAction.REDIRECT,
                RedirectServer(RedirectAddressType.URL, policy.redirect_url),
            )
        return FinalUnitIndication(FinalUnitAction.TERMINATE)

    def _release(self, session: CcSession, key: int, outcome: Outcome, wall: float) -> None:
        if self.ledger.reservation(session.session_id, key) is not None:
            outcome.postings += self.ledger.release(
                session.session_id, key, now_us=int(wall * 1_000_000)
            )
        session.rating_groups.discard(key)

    # ------------------------------------------------------------------ session end and rows

    def _end(self, session: CcSession, outcome: Outcome, wall: float, *, now: float) -> None:
        """Release every hold the session still has and forget it (-> Idle).

        Its rows are deleted one rating group at a time and an end marker is written in
        their place, kept as long as the answer caches (see `SessionTable`).
        """
        rows = set(session.rating_groups) | outcome.touched | {NO_RATING_GROUP}
        for key in sorted(session.rating_groups):
            self._release(session, key, outcome, wall)
        self.sessions.close(session.session_id)
        sid = session.session_id
        outcome.closed.extend(SessionKey(sid, key) for key in sorted(rows))
        keep = self.policy.ended_seconds
        self.sessions.end(sid, session.last_request_number, until=now + keep)
        now_us = int(wall * 1_000_000)
        outcome.sessions.append(
            SessionRow(
                sid,
                ENDED,
                session.account_id,
                "ended",
                session.last_request_number,
                session.origin_host,
                expires_at_us=now_us + int(keep * 1_000_000),
                updated_at_us=now_us,
            )
        )

    def _replay(
        self, request: CreditControlRequest, session: CcSession, outcome: Outcome, wall: float
    ) -> Outcome:
        """The answer to a request already answered: the holds as they stand, no charge."""
        subscriber = self._known(session)
        for mscc in by_rating_group(request.multiple_services_credit_control):
            hold = self.ledger.reservation(session.session_id, _key(mscc.rating_group))
            rated = self._rated(request, subscriber, mscc, wall, session)
            granted = rated.granted(hold.granted) if hold and rated and hold.granted else None
            outcome.msccs.append(
                MsccAnswer(
                    mscc.rating_group,
                    _SUCCESS,
                    mscc.service_identifiers,
                    granted=granted,
                    validity_time=self.policy.validity_time if granted else None,
                )
            )
        return outcome

    def expire(self, session: CcSession, wall: float) -> Outcome:
        """Tcc ran out (RFC 8506 §7): release the holds; the session is already Idle."""
        outcome = Outcome()
        for key in sorted(session.rating_groups):
            self._release(session, key, outcome, wall)
        outcome.closed.append(SessionKey(session.session_id))
        return outcome

    def _persist(self, session: CcSession, outcome: Outcome, wall: float) -> None:
        """Rows that let the session resume after a crash (storage.records.SessionRow)."""
        now_us = int(wall * 1_000_000)
        expires_us = now_us + int(self.policy.tcc * 1_000_000)
        for key in sorted(outcome.touched):
            hold = self.ledger.reservation(session.session_id, key)
            if hold is None:
                outcome.closed.append(SessionKey(session.session_id, key))
                continue
            bucket_id, bucket_units, spread = None, 0, ""
            if hold.buckets:
                bucket, bucket_units = next(iter(hold.buckets.items()))
                bucket_id = bucket.bucket_id
                spread = ",".join(f"{b.bucket_id}:{n}" for b, n in hold.buckets.items())
            outcome.sessions.append(
                SessionRow(
                    session.session_id,
                    key,
                    session.account_id,
                    "open",
                    session.last_request_number,
                    session.origin_host,
                    hold.micros,
                    bucket_id,
                    bucket_units,
                    hold.granted,
                    expires_us,
                    now_us,
                    session.used.get(key, 0),
                    int(session.started_at * 1_000_000),
                    spread,
                )
            )

    # ------------------------------------------------------------------ command level

    def _command_level(
        self, request: CreditControlRequest, subscriber: Subscriber, outcome: Outcome
    ) -> None:
        if (
            outcome.result_code == _SUCCESS
            and outcome.msccs
            and request.origin_host in self.policy.rise_mscc_result_code
        ):
            codes = {m.result_code for m in outcome.msccs}
            if len(codes) == 1 and _SUCCESS not in codes:
                outcome.result_code = codes.pop()
        account = self.ledger.account(subscriber.account_id)
        available = account.available
        if available < self.policy.low_balance_threshold:
            outcome.extra += encode_avp(
                Avp3gpp.LOW_BALANCE_INDICATION,
                int(LowBalanceIndication.YES).to_bytes(4, "big"),
                flags=0xC0,
                vendor_id=VENDOR_3GPP,
            )
        outcome.extra += encode_remaining_balance(_money(available, subscriber))

    # ------------------------------------------------------------------ events

    def _event(self, request: CreditControlRequest, wall: float, outcome: Outcome) -> Outcome:
        subscriber = self._subscriber(request)
        self._check_context(request, subscriber)
        action = request.requested_action or RequestedAction.DIRECT_DEBITING
        account = self.ledger.account(subscriber.account_id)
        if action is RequestedAction.DIRECT_DEBITING and account.status is not AccountStatus.ACTIVE:
            raise AccountBlocked(f"account {subscriber.msisdn} is not active")
        msccs = by_rating_group(request.multiple_services_credit_control) or (
            MultipleServicesCreditControl(
                request.rating_group,
                () if request.service_identifier is None else (request.service_identifier,),
                request.requested_service_unit,
                request.used_service_units,
            ),
        )
        now_us = int(wall * 1_000_000)
        total: Micros = 0
        enough = True
        # priced before the ledger is touched (see _services)
        pricings = [self._rated(request, subscriber, mscc, wall) for mscc in msccs]
        for mscc, rated in zip(msccs, pricings, strict=True):
            if rated is None:
                outcome.msccs.append(
                    MsccAnswer(mscc.rating_group, _DENIED, mscc.service_identifiers)
                )
                continue
            units = (
                (rated.units(mscc.requested) if mscc.requested else 0)
                or sum(rated.units(u) for u in mscc.used)
                or 1
            )
            try:
                cost = rated.price_of(units)
            except RatingError as exc:
                raise RatingFailed(str(exc)) from None
            total += cost
            key = NO_RATING_GROUP if mscc.rating_group is None else mscc.rating_group
            if action is RequestedAction.DIRECT_DEBITING:
                outcome.msccs.append(
                    self._debit(request, subscriber, rated, key, units, mscc, outcome, now_us)
                )
            elif action is RequestedAction.REFUND_ACCOUNT:
                cause = f"refund:{request.session_id}:{request.cc_request_number}:{key}"
                outcome.postings += self.ledger.adjust(
                    subscriber.account_id, cost, cause, now_us=now_us
                )
                outcome.msccs.append(
                    MsccAnswer(mscc.rating_group, _SUCCESS, mscc.service_identifiers)
                )
            elif action is RequestedAction.CHECK_BALANCE:
                enough = enough and self._affordable(subscriber, rated, units, wall)
        if action is RequestedAction.CHECK_BALANCE:
            outcome.msccs.clear()
            result = CheckBalanceResult.ENOUGH_CREDIT if enough else CheckBalanceResult.NO_CREDIT
            outcome.extra += encode_avp(
                AvpCode.CHECK_BALANCE_RESULT, int(result).to_bytes(4, "big")
            )
        elif action is RequestedAction.PRICE_ENQUIRY:
            outcome.msccs.clear()
            outcome.extra += encode_cost_information(_money(total, subscriber))
        if not request.multiple_services_credit_control and outcome.msccs:
            # single-service event: the result and the grant at the command level
            (only,) = outcome.msccs
            outcome.msccs.clear()
            outcome.result_code = only.result_code
            if only.granted is not None:
                outcome.extra += encode_units(AvpCode.GRANTED_SERVICE_UNIT, only.granted)
        elif outcome.msccs and all(m.result_code == _NO_CREDIT for m in outcome.msccs):
            outcome.result_code = _NO_CREDIT
        if action is not RequestedAction.PRICE_ENQUIRY:
            self._command_level(request, subscriber, outcome)
        return outcome

    def _debit(
        self,
        request: CreditControlRequest,
        subscriber: Subscriber,
        rated: _Rated,
        key: int,
        units: int,
        mscc: MultipleServicesCreditControl,
        outcome: Outcome,
        now_us: int,
    ) -> MsccAnswer:
        """DIRECT_DEBITING (RFC 8506 §6.3): all the units or none, never a partial SMS."""
        ledger = self.ledger
        sid = f"{request.session_id}#event"
        reserved = ledger.reserve(
            subscriber.account_id,
            sid,
            key,
            units,
            unit_kind=rated.bucket_kind,
            price_of=rated.price_of,
            units_for=rated.units_for(units),
            now_us=now_us,
        )
        hold = ledger.reservation(sid, key)
        outcome.postings += reserved
        if hold is None or hold.granted < units:
            if hold is not None:
                outcome.postings += ledger.release(sid, key, now_us=now_us)
            return MsccAnswer(mscc.rating_group, _NO_CREDIT, mscc.service_identifiers)
        outcome.postings += ledger.commit(
            sid, key, units, unit_kind=rated.bucket_kind, price_of=rated.price_of, now_us=now_us
        )
        return MsccAnswer(
            mscc.rating_group, _SUCCESS, mscc.service_identifiers, granted=rated.granted(units)
        )

    def _affordable(self, subscriber: Subscriber, rated: _Rated, units: int, wall: float) -> bool:
        account = self.ledger.account(subscriber.account_id)
        now_us = int(wall * 1_000_000)
        covered = sum(
            b.available
            for b in account.buckets
            if b.usable(rated.rating_group, rated.bucket_kind, now_us)
        )
        rest = max(0, units - covered)
        return rest == 0 or rated.price_of(rest) <= account.headroom


def by_rating_group(
    msccs: tuple[MultipleServicesCreditControl, ...],
) -> tuple[MultipleServicesCreditControl, ...]:
    """One MSCC per rating group, merging repeats (TS 32.299: the quota belongs to the
    rating group). Two MSCCs of one group would otherwise get two grants on one hold,
    the second freeing the first: a credit-control bypass. Used units add up; the
    Service-Identifiers are kept in order; the first Requested-Service-Unit asks."""
    seen: dict[int | None, int] = {}
    out: list[MultipleServicesCreditControl] = []
    for mscc in msccs:
        at = seen.get(mscc.rating_group)
        if at is None:
            seen[mscc.rating_group] = len(out)
            out.append(mscc)
            continue
        first = out[at]
        services = first.service_identifiers + tuple(
            s for s in mscc.service_identifiers if s not in first.service_identifiers
        )
        out[at] = first._replace(
            service_identifiers=services,
            requested=first.requested if first.requested is not None else mscc.requested,
            used=first.used + mscc.used,
            reporting_reason=first.reporting_reason
            if first.reporting_reason is not None
            else mscc.reporting_reason,
        )
    return tuple(out) if len(out) != len(msccs) else msccs


def _key(rating_group: int | None) -> int:
    return NO_RATING_GROUP if rating_group is None else rating_group


def _money(micros: Micros, subscriber: Subscriber) -> Money:
    digits, exponent = unit_value(micros)
    return Money(digits, exponent, subscriber.currency.numeric)


def _called_party(request: CreditControlRequest) -> str | None:
    """Called-Party-Address from Service-Information/IMS-Information, for voice rating."""
    info = request.service_information
    if info is None:
        return None
    for child in decode_avps(info):
        if child.vendor_id == VENDOR_3GPP and child.code == Avp3gpp.IMS_INFORMATION:
            for part in decode_avps(child):
                if part.vendor_id == VENDOR_3GPP and part.code == Avp3gpp.CALLED_PARTY_ADDRESS:
                    text = part.data.decode("utf-8", "replace")
                    if text.startswith(("tel:", "sip:")):
                        text = text[4:].split("@", 1)[0].split(";", 1)[0]
                    return text.lstrip("+")
    return None
