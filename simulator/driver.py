"""The trio driver: connections, sessions, open- or closed-loop pacing, RAR/ASR, progress.

What lives here: `RunConfig` and `Runner`, which opens ``connections`` Diameter peers
(each its own Origin-Host, so the OCS sends a session's RAR to the connection that
opened it), runs ``sessions`` concurrent scenario sessions on them round-robin, and
records `Stats`. What must not: scenario decisions (`scenarios`), answer checks
(`checks`) or balance reading (`verify`).

Pacing:

- open loop (``rate``): a pacer hands out send slots at ``t0 + i / rate``; a session takes
  one slot per CCR. Latency runs from the slot's *intended* time, so when the client or
  the server falls behind, the queueing shows as latency instead of silently lowering the
  offered rate (coordinated omission). Enough ``sessions`` must be open to use every slot.
- closed loop (no rate): every session sends as soon as its last answer came back; with
  ``in_flight`` a semaphore caps the CCRs in flight across all sessions.

Every loop is bounded: by ``duration`` (then sessions in progress send their CCR-T, for at
most ``drain_timeout``), by ``count`` sessions and by ``max_requests`` CCRs.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import trio

from protocol.capabilities import Capabilities
from protocol.cc_client import encode_ccr, parse_cca
from protocol.codec import Message, encode_avp
from protocol.codes import AvpCode, CommandCode, ResultCode, SubscriptionIdType
from protocol.errors import PeerClosedError, ProtocolError
from protocol.peer import PeerConfig, PeerConnection, Role
from protocol.reauth import encode_asa, encode_raa, parse_asr, parse_rar
from protocol.trio_peer import PeerHandle, open_peer

from .checks import Expected, check_answer
from .pricing import PriceTable
from .profiles import Profile
from .scenarios import CcrPlan, Scenario, ScenarioParams, Session, new_session
from .stats import Stats, percentile

#: PyHSS sends Event-Timestamp as four zero bytes (NTP 1900, outside encode_time's range)
_ZERO_TIMESTAMP = encode_avp(AvpCode.EVENT_TIMESTAMP, bytes(4))
_UNKNOWN_SESSION = int(ResultCode.DIAMETER_UNKNOWN_SESSION_ID)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    host: str
    port: int
    scenario: Scenario
    profile: Profile
    msisdns: tuple[str, ...]
    params: ScenarioParams = field(default_factory=ScenarioParams)
    sessions: int = 10  #: sessions open at once
    count: int = 0  #: sessions in all; 0: as many as fit in ``duration``
    rate: float | None = None  #: open loop, CCR/s
    in_flight: int | None = None  #: closed loop: CCRs in flight at most
    duration: float = 10.0
    drain_timeout: float = 10.0
    max_requests: int = 10_000_000
    connections: int = 1
    verify: bool = False
    prices: PriceTable | None = None
    timeout: float = 5.0  #: Tx: how long one CCR waits for its answer
    origin_realm: str = "sim.localdomain"
    destination_realm: str | None = None  #: None: the realm the OCS sent in its CEA
    run_id: str = ""  #: makes Session-Ids unique across runs; "" picks a random one

    def __post_init__(self) -> None:
        if not self.msisdns:
            raise ValueError("at least one MSISDN")
        if self.sessions < 1 or self.connections < 1 or self.count < 0:
            raise ValueError("sessions and connections must be at least 1, count at least 0")
        if self.rate is not None and not (0 < self.rate <= 1_000_000):
            raise ValueError("rate must be in (0, 1e6] CCR/s")
        if self.in_flight is not None and self.in_flight < 1:
            raise ValueError("in-flight must be at least 1")
        if not (0 < self.duration <= 86_400) or self.timeout <= 0 or self.drain_timeout < 0:
            raise ValueError("duration must be in (0, 86400] s and timeouts positive")
        if self.max_requests < 1:
            raise ValueError("max requests must be at least 1")


@dataclass(slots=True)
class _Peer:
    handle: PeerHandle
    conn: PeerConnection
    origin_host: str
    destination_realm: str


@dataclass(slots=True)
class _Live:
    session: Session
    peer: _Peer
    wake: trio.Event = field(default_factory=trio.Event)


class Runner:
    """One run. ``stats`` and ``expected`` hold the outcome; tests may watch ``stats``."""

    def __init__(self, config: RunConfig, *, progress: Callable[[str], None] | None = None):
        self.config = config
        self.progress = progress
        self.stats = Stats()
        self.expected = (
            Expected(config.prices) if config.verify and config.prices is not None else None
        )
        self.run_id = config.run_id or f"{random.getrandbits(32):08x}"
        self.live: dict[str, _Live] = {}
        self.peers: list[_Peer] = []
        self.stopping = False
        self.started_sessions = 0
        self._e2e = itertools.count(random.getrandbits(20) << 8)
        self._tokens: trio.MemoryReceiveChannel[float] | None = None
        self._draining = False
        self._limit = None if config.in_flight is None else trio.Semaphore(config.in_flight)
        self._t0 = 0.0
        #: set when a session first waits for a RAR (tests top up or block then)
        self.parked = trio.Event()

    # ------------------------------------------------------------------ the run

    async def run(self) -> Stats:
        """Connect, run every session, disconnect (DPR). Raises OSError/PeerClosedError
        when the OCS cannot be reached or refuses the capabilities exchange."""
        config = self.config
        async with AsyncExitStack() as stack:
            for index in range(config.connections):
                self.peers.append(await self._connect(stack, index))
            self._t0 = trio.current_time()
            async with trio.open_nursery() as outer:
                if config.rate is not None:
                    send, self._tokens = trio.open_memory_channel[float](math.inf)
                    outer.start_soon(self._pacer, send)
                if self.progress is not None:
                    outer.start_soon(self._report_progress)
                with trio.CancelScope() as work:
                    outer.start_soon(self._stopper, work)
                    async with trio.open_nursery() as workers:
                        for index in range(config.sessions):
                            workers.start_soon(self._worker, index)
                self.stats.elapsed = trio.current_time() - self._t0
                outer.cancel_scope.cancel()
        return self.stats

    async def _connect(self, stack: AsyncExitStack, index: int) -> _Peer:
        config = self.config
        host = f"sim{index}.{self.run_id}.{config.origin_realm}"
        caps = Capabilities(
            origin_host=host,
            origin_realm=config.origin_realm,
            host_ip_addresses=("127.0.0.1",),
            product_name="ocs-sim",
        )
        conn = PeerConnection(
            PeerConfig(capabilities=caps), role=Role.INITIATOR, now=trio.current_time()
        )
        holder: list[_Peer] = []
        handler = self._handler(conn, holder)
        handle = await stack.enter_async_context(
            open_peer(config.host, config.port, conn, handler=handler)
        )
        remote = handle.remote
        realm = config.destination_realm or (remote.origin_realm if remote else "localdomain")
        peer = _Peer(handle, conn, host, realm)
        holder.append(peer)
        return peer

    async def _stopper(self, work: trio.CancelScope) -> None:
        await trio.sleep(self.config.duration)
        self.stop()
        await trio.sleep(self.config.drain_timeout)
        work.cancel()  # sessions that could not finish in time are abandoned

    def stop(self) -> None:
        """End the run: no new sessions; sessions in progress send their CCR-T."""
        if self.stopping:
            return
        self.stopping = True
        for live in list(self.live.values()):
            live.session.stop()
            live.wake.set()

    async def _pacer(self, send: trio.MemorySendChannel[float]) -> None:
        rate = self.config.rate
        assert rate is not None
        t0, i = self._t0, 0
        async with send:
            while not self.stopping and i < self.config.max_requests:
                due = t0 + i / rate
                if due > trio.current_time():
                    await trio.sleep_until(due)
                now = trio.current_time()
                # every slot due by now, at once: a late wake-up must not lower the rate
                while i < self.config.max_requests and t0 + i / rate <= now:
                    send.send_nowait(t0 + i / rate)
                    i += 1

    async def _report_progress(self) -> None:
        assert self.progress is not None
        stats, seen, last = self.stats, 0, 0
        while True:
            await trio.sleep(1.0)
            window = sorted(stats.latencies[seen:])
            seen = len(stats.latencies)
            p50 = percentile(window, 0.5)
            p99 = percentile(window, 0.99)
            lat = "-" if p50 is None or p99 is None else f"{p50 * 1e3:.2f}/{p99 * 1e3:.2f} ms"
            self.progress(
                f"{trio.current_time() - self._t0:6.1f}s sent {stats.sent} "
                f"answered {stats.answered} ({stats.answered - last}/s) p50/p99 {lat} "
                f"sessions {len(self.live)} errors {stats.errors} problems {stats.problem_count}"
            )
            last = stats.answered

    # ------------------------------------------------------------------ sessions

    async def _worker(self, index: int) -> None:
        config, stats = self.config, self.stats
        peer = self.peers[index % len(self.peers)]
        while not self.stopping:
            if config.count and self.started_sessions >= config.count:
                return
            n = self.started_sessions
            self.started_sessions += 1
            session_id = f"{peer.origin_host};{n}"
            session = new_session(
                config.scenario,
                session_id=session_id,
                msisdn=config.msisdns[n % len(config.msisdns)],
                profile=config.profile,
                params=config.params,
            )
            live = _Live(session, peer)
            self.live[session_id] = live
            stats.sessions_started += 1
            try:
                await self._drive(live)
            finally:
                del self.live[session_id]
            if session.failed is None:
                stats.sessions_completed += 1
            else:
                stats.sessions_failed += 1
                stats.failures[session.failed] += 1
            if self.expected is not None:
                self.expected.add(session)

    async def _drive(self, live: _Live) -> None:
        session = live.session
        while not session.done:
            plans = session.pending()
            if plans:
                await self._send(live, plans)
                continue
            if not session.parked:
                session.failed_request("nothing to send")
                return
            self.stats.parked += 1
            self.parked.set()
            live.wake = trio.Event()
            if self.stopping:
                session.stop()
            else:
                with trio.move_on_after(self.config.params.rar_wait):
                    await live.wake.wait()
            if session.parked:
                session.wake()

    async def _send(self, live: _Live, plans: list[CcrPlan]) -> None:
        config, stats, session, peer = self.config, self.stats, live.session, live.peer
        if stats.sent + len(plans) > config.max_requests:
            self.stop()
        intended: list[float | None] = [None] * len(plans)
        if self._tokens is not None and not self._draining:
            for k in range(len(plans)):
                try:
                    intended[k] = await self._tokens.receive()
                except trio.EndOfChannel:
                    self._draining = True  # the run is over: finish sessions at once
                    break
        raws: list[bytes] = []
        ids: list[int] = []
        for plan in plans:
            e2e = next(self._e2e) & 0xFFFFFFFF
            ids.append(e2e)
            raws.append(self._encode(session, peer, plan, e2e))
        if self._limit is not None:
            for _ in plans:
                await self._limit.acquire()
        sent_at = trio.current_time()
        stats.sent += len(plans)
        try:
            with trio.fail_after(config.timeout):
                answers = await peer.handle.request_many(raws)
        except (trio.TooSlowError, PeerClosedError) as exc:
            stats.errors += len(plans)
            why = "timeout" if isinstance(exc, trio.TooSlowError) else "connection closed"
            session.failed_request(why)
            return
        finally:
            if self._limit is not None:
                for _ in plans:
                    self._limit.release()
        done_at = trio.current_time()
        for plan, answer, e2e, start in zip(plans, answers, ids, intended, strict=True):
            stats.latencies.append(done_at - (sent_at if start is None else start))
            self._answered(session, plan, answer, e2e)

    def _answered(self, session: Session, plan: CcrPlan, answer: Message, e2e: int) -> None:
        stats = self.stats
        stats.answered += 1
        stats.by_type[plan.request_type.name] += 1
        try:
            cca = parse_cca(answer)
        except ProtocolError as exc:
            stats.errors += 1
            stats.problem(f"{session.session_id}: unparsable CCA: {exc}")
            session.failed_request("unparsable answer")
            return
        stats.result_codes[cca.result_code] += 1
        for mscc in cca.multiple_services_credit_control:
            if mscc.result_code is not None:
                stats.mscc_result_codes[mscc.result_code] += 1
        if self.config.verify:
            for text in check_answer(
                plan,
                session_id=session.session_id,
                end_to_end=e2e,
                answer=answer,
                cca=cca,
                prices=self.config.prices,
                units=self.config.params.sms_count,
            ):
                stats.problem(text)
        session.answered(plan, cca)

    def _encode(self, session: Session, peer: _Peer, plan: CcrPlan, e2e: int) -> bytes:
        profile: Profile = session.profile
        context = getattr(session, "context", "32251@3gpp.org")
        return encode_ccr(
            session_id=session.session_id,
            origin_host=peer.origin_host,
            origin_realm=self.config.origin_realm,
            destination_realm=peer.destination_realm,
            service_context_id=context,
            cc_request_type=plan.request_type,
            cc_request_number=plan.number,
            hop_by_hop=0,  # the connection assigns it
            end_to_end=e2e,
            subscription_ids=[(SubscriptionIdType.END_USER_E164, session.msisdn)],
            requested_action=plan.requested_action,
            multiple_services_indicator=(
                None
                if plan.requested_action is not None and not plan.msccs
                else profile.multiple_services_indicator
            ),
            msccs=plan.msccs,
            termination_cause=plan.termination_cause,
            extra=_ZERO_TIMESTAMP if profile.event_timestamp_zero else b"",
        )

    # ------------------------------------------------------------------ RAR and ASR

    def _handler(
        self, conn: PeerConnection, holder: list[_Peer]
    ) -> Callable[[list[Message]], list[bytes | None]]:
        """Answers server-initiated requests at once, inside the connection's reader."""
        profile = self.config.profile

        def handle(requests: list[Message]) -> list[bytes | None]:
            out: list[bytes | None] = []
            host = holder[0].origin_host if holder else conn.config.capabilities.origin_host
            realm = self.config.origin_realm
            for request in requests:
                code = request.command_code
                if code not in (CommandCode.RE_AUTH, CommandCode.ABORT_SESSION):
                    out.append(conn.error_answer(request, ResultCode.DIAMETER_COMMAND_UNSUPPORTED))
                    continue
                rar = code == CommandCode.RE_AUTH
                try:
                    parsed = parse_rar(request) if rar else parse_asr(request)
                except ProtocolError as exc:
                    result = getattr(exc, "result_code", ResultCode.DIAMETER_UNABLE_TO_COMPLY)
                    out.append(conn.error_answer(request, int(result or 5012)))
                    continue
                live = self.live.get(parsed.session_id)
                if rar:
                    self.stats.rar += 1
                    if not profile.answers_rar:
                        out.append(None)  # Open5GS: the RAR handler is a TODO
                        continue
                else:
                    self.stats.asr += 1
                if live is None:
                    result = _UNKNOWN_SESSION
                else:
                    result = live.session.on_rar() if rar else live.session.on_asr()
                    live.wake.set()
                encode = encode_raa if rar else encode_asa
                out.append(
                    encode(
                        request,  # the Message: both encoders read only its Session-Id
                        result_code=result,
                        origin_host=host,
                        origin_realm=realm,
                        hop_by_hop=request.hop_by_hop,
                        end_to_end=request.end_to_end,
                    )
                )
            return out

        return handle
