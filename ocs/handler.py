"""The batch handler: every request of one read in, their answers out (DESIGN.md hot path).

What lives here: `CreditControlHandler`, the synchronous callable that
`protocol.trio_peer.serve_peer` calls with all complete requests of one receive. It
parses each CCR, answers duplicates from the caches, runs `Charger`, encodes the CCAs,
and submits the batch's postings and session rows as ONE write to the group-commit
writer; the adapter sends the answers only after that commit (``ack = durable``), or at
once (``ack = fast``). What must not: awaiting (the ledger work must stay atomic), SQL,
or sockets.

Within a batch, requests of the same session are processed in CC-Request-Number order
(Initial first, Termination last), since Open5GS keeps up to four in flight per session
(gy-standards §3 item 14); answers still leave in arrival order, one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from protocol.answers import error_answer
from protocol.cca import CcaEncoder
from protocol.codec import Message, encode_avp
from protocol.codes import ApplicationId, AvpCode, CcRequestType, CommandCode, ResultCode
from protocol.credit_control import CreditControlRequest
from protocol.errors import ProtocolError
from protocol.layouts import CcrReader
from protocol.trio_peer import BatchResult
from storage.records import Posting, SessionKey, SessionRow, WriteBatch

from .charging import Charger, Outcome
from .errors import ChargeAborted, ChargingError
from .metrics import REQUEST_TYPES, Metrics
from .sessions import ReplayCache, charging_key, with_ids

log = logging.getLogger(__name__)

_CCR = int(CommandCode.CREDIT_CONTROL)
_CC_APP = int(ApplicationId.DIAMETER_CREDIT_CONTROL)
_TYPE_RANK = {1: 0, 4: 1, 2: 1, 3: 2}
_INITIAL, _EVENT = CcRequestType.INITIAL_REQUEST, CcRequestType.EVENT_REQUEST


class Pending(Protocol):
    """The durability of one submitted batch, awaited before its answers leave."""

    async def wait(self) -> None: ...


class Persistence(Protocol):
    def submit(self, batch: WriteBatch) -> Pending: ...

    def available(self) -> bool:
        """False while the database refuses commits (answers then follow the policy)."""
        ...

    def overloaded(self) -> bool:
        """True when too many rows wait for a commit: new requests get 3004."""
        ...


@dataclass(frozen=True, slots=True)
class HandlerOptions:
    origin_host: str
    origin_realm: str
    durable: bool = True  #: ack = durable: answers wait for their commit
    answer_cache_seconds: float = 300.0  #: >= 240 s: End-to-End ids are unique 4 minutes
    #: with the database down: answer 5012 (True) or drop the request (False)
    answer_when_unavailable: bool = True
    origin_state_id: int | None = None


@dataclass(slots=True)
class _Work:
    """A batch being built: what to write and what the answers must wait for."""

    postings: list[Posting] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    closed: list[SessionKey] = field(default_factory=list)
    waits: list[Pending] = field(default_factory=list)
    cached: list[tuple[ReplayCache, object]] = field(default_factory=list)
    #: metric increments of the batch, applied once at its end ((id(metric), labels) -> n)
    counts: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)

    def count(self, metric: object, *labels: str) -> None:
        key = (id(metric), labels)
        self.counts[key] = self.counts.get(key, 0) + 1


class CreditControlHandler:
    """Synchronous batch handler for `protocol.trio_peer.serve_peer`."""

    def __init__(
        self,
        *,
        charger: Charger,
        persistence: Persistence,
        options: HandlerOptions,
        metrics: Metrics,
        clock: Callable[[], float],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.charger = charger
        self.persistence = persistence
        self.options = options
        self.metrics = metrics
        self.clock = clock
        self.wall_clock = wall_clock
        self.encoder = CcaEncoder(
            origin_host=options.origin_host,
            origin_realm=options.origin_realm,
            origin_state_id=options.origin_state_id,
        )
        self.answers = ReplayCache(max(options.answer_cache_seconds, 240.0))
        self.charges = ReplayCache(max(options.answer_cache_seconds, 240.0))
        #: parse_ccr with compiled readers for the layouts the gateways repeat
        self.ccr_reader = CcrReader()
        metrics.watch_ccr_reader(self.ccr_reader)

    def __call__(self, requests: list[Message]) -> Sequence[bytes | None] | BatchResult:
        now = self.clock()
        wall = self.wall_clock()
        self.answers.expire(now)
        self.charges.expire(now)
        answers: list[bytes | None] = [None] * len(requests)
        parsed: list[tuple[int, Message, CreditControlRequest]] = []
        parse = self.ccr_reader.parse
        for index, message in enumerate(requests):
            early = self._screen(message)
            if early is not None:
                answers[index] = early
                continue
            try:
                parsed.append((index, message, parse(message)))
            except ProtocolError as exc:
                answers[index] = self._protocol_error(message, exc)
        work = _Work()
        for index, message, request in _in_session_order(parsed):
            answers[index] = self._one(message, request, work, now, wall)
        self.metrics.record(work.counts)
        pending = self._submit(work)
        result = answers
        if pending is not None:
            for cache, key in work.cached:
                entry = cache.get(key, now)
                if entry is not None:
                    entry.pending = pending
            if self.options.durable:
                work.waits.append(pending)
        kinds = [REQUEST_TYPES[request.cc_request_type] for _, _, request in parsed]
        if work.waits:
            return BatchResult(result, durable=_wait_all(work.waits, self, kinds, now))
        self._observe(kinds, now)
        return result

    # ------------------------------------------------------------------ per request

    def _screen(self, message: Message) -> bytes | None:
        """Requests we do not serve, answered before any parsing."""
        if message.command_code == _CCR and message.application_id == _CC_APP:
            return None
        code = (
            ResultCode.DIAMETER_APPLICATION_UNSUPPORTED
            if message.application_id != _CC_APP
            else ResultCode.DIAMETER_COMMAND_UNSUPPORTED
        )
        self.metrics.child(self.metrics.answers, str(int(code))).inc()
        return error_answer(
            message,
            result_code=code,
            origin_host=self.options.origin_host,
            origin_realm=self.options.origin_realm,
        )

    def _protocol_error(self, message: Message, exc: ProtocolError) -> bytes:
        self.metrics.child(self.metrics.answers, str(int(exc.result_code))).inc()
        return error_answer(
            message,
            result_code=exc.result_code,
            origin_host=self.options.origin_host,
            origin_realm=self.options.origin_realm,
            failed_avp=getattr(exc, "failed_avp", None),
            error_message=str(exc)[:200],
        )

    def _one(
        self, message: Message, request: CreditControlRequest, work: _Work, now: float, wall: float
    ) -> bytes | None:
        metrics = self.metrics
        work.count(metrics.requests, "CCR", REQUEST_TYPES[request.cc_request_type])
        hop, e2e = message.hop_by_hop, message.end_to_end
        answer_key = (request.origin_host, e2e)
        cached = self.answers.get(answer_key, now)
        cache_name = "end_to_end"
        charge_key: object = None
        if _numbered(message, request):
            raw = message.raw if message.raw is not None else message.encode()
            charge_key = charging_key(
                request.session_id, request.cc_request_type, request.cc_request_number, raw[20:]
            )
            if cached is None:
                cached = self.charges.get(charge_key, now)
                cache_name = "charging_key"
        if cached is not None:
            # RFC 6733 §3 / App. C: the same answer again, and no state change.
            work.count(metrics.duplicates, cache_name)
            if cached.pending is not None:
                work.waits.append(cached.pending)  # type: ignore[arg-type]
            return with_ids(cached.answer, hop, e2e)
        persistence = self.persistence
        if persistence.overloaded():
            metrics.overload_rejections.inc()
            return self._answer(request, message, ResultCode.DIAMETER_TOO_BUSY)
        if not persistence.available():
            if not self.options.answer_when_unavailable:
                return None  # the client's Tx expires and it fails over (RFC 8506 §13)
            return self._answer(request, message, ResultCode.DIAMETER_UNABLE_TO_COMPLY)
        try:
            outcome = self.charger.credit_control(request, now=now, wall=wall)
        except ChargingError as exc:
            if isinstance(exc, ChargeAborted):
                log.error("CCR %s aborted: %s", request.session_id, exc, exc_info=exc.__cause__)
            partial = exc.partial
            if isinstance(partial, Outcome):  # what the ledger did before the fault
                work.postings += partial.postings
                work.sessions += partial.sessions
                work.closed += partial.closed
            extra = encode_avp(AvpCode.FAILED_AVP, exc.failed_avp) if exc.failed_avp else b""
            answer = self._answer(request, message, exc.result_code, extra=extra)
        else:
            work.postings += outcome.postings
            work.sessions += outcome.sessions
            work.closed += outcome.closed
            for mscc in outcome.msccs:
                work.count(metrics.mscc_results, str(mscc.result_code))
            work.count(metrics.answers, str(outcome.result_code))
            answer = self.encoder.encode(
                request,
                flags=message.flags,
                hop_by_hop=hop,
                end_to_end=e2e,
                result_code=outcome.result_code,
                msccs=outcome.msccs,
                extra=outcome.extra,
            )
        self.answers.put(answer_key, answer, now)
        work.cached.append((self.answers, answer_key))
        if charge_key is not None:
            self.charges.put(charge_key, answer, now)
            work.cached.append((self.charges, charge_key))
        return answer

    def _answer(
        self, request: CreditControlRequest, message: Message, code: int, *, extra: bytes = b""
    ) -> bytes:
        self.metrics.child(self.metrics.answers, str(int(code))).inc()
        return self.encoder.encode(
            request,
            flags=message.flags,
            hop_by_hop=message.hop_by_hop,
            end_to_end=message.end_to_end,
            result_code=code,
            extra=extra,
        )

    def _submit(self, work: _Work) -> Pending | None:
        if not (work.postings or work.sessions or work.closed):
            return None
        return self.persistence.submit(
            WriteBatch(postings=work.postings, sessions=work.sessions, closed=work.closed)
        )

    def _observe(self, kinds: list[str], started: float) -> None:
        """Latency from the batch's arrival to its answers being ready, per request type."""
        elapsed = max(0.0, self.clock() - started)
        metrics = self.metrics
        latency = metrics.latency
        for kind in kinds:
            metrics.child(latency, "CCR", kind).observe(elapsed)


def _numbered(message: Message, request: CreditControlRequest) -> bool:
    """Whether the charging key identifies this request (see ocs/sessions.py).

    A CCR-U or CCR-T numbered 0 comes from a client that never counts (PyHSS): two of
    its reports can be byte-identical and both real, so only the End-to-End cache may
    call them duplicates, unless the T flag says this one is a retransmission.
    """
    return bool(
        message.is_retransmission
        or request.cc_request_number
        or request.cc_request_type in (_INITIAL, _EVENT)
    )


def _in_session_order(
    parsed: list[tuple[int, Message, CreditControlRequest]],
) -> list[tuple[int, Message, CreditControlRequest]]:
    """Arrival order, except that one session's requests go Initial, by number, Termination."""
    if len(parsed) < 2:
        return parsed
    first: dict[str, int] = {}
    for position, (_, _, request) in enumerate(parsed):
        first.setdefault(request.session_id, position)
    return sorted(
        parsed,
        key=lambda item: (
            first[item[2].session_id],
            _TYPE_RANK.get(item[2].cc_request_type, 1),
            item[2].cc_request_number,
        ),
    )


async def _wait_all(
    waits: list[Pending], handler: CreditControlHandler, kinds: list[str], started: float
) -> None:
    for pending in waits:
        await pending.wait()
    handler._observe(kinds, started)
