"""Drive a `PeerConnection` over a trio stream: the only trio module of protocol/.

What lives here: `serve_peer` (responder, the OCS side), `connect_peer`/`open_peer`
(initiator, the simulator side), the `PeerHandle` both hand out for requests of our
own and a graceful DPR, and the mapping of trio's exceptions. What must not: any
protocol decision (RFC 6733 §5 lives in `peer`) or any application logic.

The transport is batched (DESIGN.md "The hot path"): one task reads the socket; all
complete requests of one ``receive_some`` go to the handler together, synchronously;
the batch's answers go out in one ``send_all`` after the batch's durability awaitable
(the group commit), if any, completed. A second task waits for those awaitables in
batch order while the reader keeps reading and handling the next batch, so answers
of one connection leave in request order and a slow commit does not stop reading.
No task is spawned per request.

The handler interface, chosen so that ledger work stays synchronous (DESIGN.md: it
never awaits, hence is atomic under trio) while the commit wait is pipelined::

    def handler(requests: list[Message]) -> Sequence[bytes] | BatchResult

It returns one encoded answer per request, in order (None: leave that request
unanswered on purpose, e.g. an OCS whose database is down); a `BatchResult` adds
``durable``, an awaitable the answers must wait for. If the handler or the awaitable
raises, every request of that batch is answered 5012 DIAMETER_UNABLE_TO_COMPLY
(logged with ``log.exception``) and the connection carries on; an unusable answer
(not an answer, or another Hop-by-Hop id) is replaced by 5012 for its request alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple

import trio

from .codec import Message
from .codes import DisconnectCause, ResultCode
from .errors import PeerClosedError
from .events import (
    NEED_DATA,
    AnswerReceived,
    ConnectionClosed,
    PeerClosing,
    PeerOpened,
    RequestReceived,
    RequestRejected,
    WatchdogFailed,
)
from .peer import PeerConnection, PeerState

log = logging.getLogger(__name__)

#: bytes asked of each receive_some: many CCRs per read is what makes batching pay
MAX_RECEIVE = 256 * 1024
_UNABLE = ResultCode.DIAMETER_UNABLE_TO_COMPLY


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A batch's answers (one per request, in order) and what they must wait for."""

    answers: Sequence[bytes | None]
    #: e.g. the group commit covering the batch's postings; None to send at once
    durable: Awaitable[object] | None = None


BatchHandler = Callable[[list[Message]], Sequence[bytes | None] | BatchResult]


class _Batch(NamedTuple):
    requests: list[Message]
    answers: Sequence[bytes | None]
    durable: Awaitable[object] | None


class _Waiter:
    __slots__ = ("answer", "event")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.answer: Message | None = None


class _Driver:
    """The three tasks of one connection: reader, sender (batches in order), timer."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        conn: PeerConnection,
        handler: BatchHandler | None,
        max_pending_batches: int,
    ) -> None:
        self.stream, self.conn = stream, conn
        self.handler = handler or self._unsupported
        self.send_batch, self.batches = trio.open_memory_channel[_Batch](max_pending_batches)
        self.in_flight = 0  # batches handed to the sender and not yet written
        self.pending: list[Message] = []
        self.waiters: dict[int, _Waiter] = {}
        self.send_lock = trio.Lock()
        self.settled = trio.Event()  # opened or closed
        self.done = trio.Event()
        self.closed: ConnectionClosed | None = None
        self.scope: trio.CancelScope | None = None
        self.timer: trio.CancelScope | None = None

    def _unsupported(self, requests: list[Message]) -> list[bytes]:
        # no handler: we serve no application request (RFC 6733 §7.1.3, 3001)
        code = ResultCode.DIAMETER_COMMAND_UNSUPPORTED
        return [self.conn.error_answer(r, code) for r in requests]

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self.scope = nursery.cancel_scope
                nursery.start_soon(self._sender)
                nursery.start_soon(self._watchdog)
                await self._reader()
                nursery.cancel_scope.cancel()  # closed: stop the sender and the timer
        finally:
            for waiter in self.waiters.values():
                waiter.event.set()  # answer None: the request fails with PeerClosedError
            self.settled.set()
            self.done.set()
            await trio.aclose_forcefully(self.stream)

    async def _reader(self) -> None:
        conn = self.conn
        while conn.state is not PeerState.CLOSED:
            try:
                data = await self.stream.receive_some(MAX_RECEIVE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("peer transport gone: %r", exc)
                data = b""
            conn.receive_data(data, trio.current_time())
            self.drain()
            if self.pending:
                await self._dispatch()
            await self.after()

    async def _dispatch(self) -> None:
        requests, self.pending = self.pending, []
        try:
            result = self.handler(requests)
            answers, durable = (
                (result.answers, result.durable)
                if isinstance(result, BatchResult)
                else (result, None)
            )
            if len(answers) != len(requests):
                raise ValueError(f"{len(answers)} answers for {len(requests)} requests")
        except Exception:  # one bad batch must not take the peer down (example 9)
            log.exception("batch handler failed for %d requests; answering 5012", len(requests))
            answers, durable = [self.conn.error_answer(r, _UNABLE) for r in requests], None
        if durable is None and not self.in_flight:
            self._deliver(requests, answers)  # fast path: the reader's flush writes them
            return
        self.in_flight += 1
        await self.send_batch.send(_Batch(requests, answers, durable))

    async def _sender(self) -> None:
        async for batch in self.batches:
            answers = batch.answers
            if batch.durable is not None:
                try:
                    await batch.durable
                except Exception:
                    log.exception("durability wait failed for %d requests", len(batch.requests))
                    answers = [self.conn.error_answer(r, _UNABLE) for r in batch.requests]
            self._deliver(batch.requests, answers)
            self.in_flight -= 1
            self.drain()  # the last answer owed before a DPA may close the connection
            await self.after()

    def _deliver(self, requests: list[Message], answers: Sequence[bytes | None]) -> None:
        conn = self.conn
        for request, answer in zip(requests, answers, strict=True):
            if conn.state is PeerState.CLOSED:
                return
            if answer is None:
                continue  # deliberately unanswered: the client's Tx runs out and it fails over
            if not (
                isinstance(answer, bytes)
                and len(answer) >= 20
                and int.from_bytes(answer[1:4], "big") == len(answer)
                and not answer[4] & 0x80
                and int.from_bytes(answer[12:16], "big") == request.hop_by_hop
            ):
                log.error("unusable answer for hop-by-hop %d; answering 5012", request.hop_by_hop)
                answer = conn.error_answer(request, _UNABLE)
            conn.send(answer)

    async def _watchdog(self) -> None:
        conn = self.conn
        while (deadline := conn.next_deadline()) is not None:
            with trio.CancelScope(deadline=deadline) as self.timer:
                await trio.sleep_forever()  # rearm() moves the deadline as traffic comes
            self.timer = None
            conn.handle_timer(trio.current_time())
            self.drain()
            await self.after()

    def drain(self) -> None:
        """Pull every event; requests wait in ``pending`` for the reader to dispatch.

        Only the reader feeds bytes and it drains right after, so requests surface
        there; other tasks only see timer, answer and close events.
        """
        while (event := self.conn.next_event()) is not NEED_DATA:
            if isinstance(event, RequestReceived):
                self.pending.append(event.message)
            elif isinstance(event, AnswerReceived):
                waiter = self.waiters.pop(event.message.hop_by_hop, None)
                if waiter is not None:
                    waiter.answer = event.message
                    waiter.event.set()
            elif isinstance(event, PeerOpened):
                log.info("peer %s (%s) open", event.origin_host, event.origin_realm)
                self.settled.set()
            elif isinstance(event, ConnectionClosed):
                log.info("peer connection closed: %s", event.reason)
                self.closed = event
            elif isinstance(event, RequestRejected):
                log.warning(
                    "rejected request: %s (Result-Code %d)", event.reason, event.result_code
                )
            elif isinstance(event, PeerClosing):
                # DPR is the graceful way out (RFC 6733 §5.4): nothing to warn about.
                log.info("peer disconnecting: Disconnect-Cause %s", event.cause)
            elif isinstance(event, WatchdogFailed):
                log.warning("peer: %r", event)

    async def after(self) -> None:
        """After any input: write what is queued, move the timer, stop once closed."""
        await self.flush()
        if self.timer is not None:
            deadline = self.conn.next_deadline()
            self.timer.deadline = math.inf if deadline is None else deadline
        if self.conn.state is PeerState.CLOSED and self.scope is not None:
            self.scope.cancel()

    async def flush(self) -> None:
        async with self.send_lock:  # whole buffers in order, never interleaved
            data = self.conn.data_to_send()
            if not data:
                return
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("peer transport gone while sending: %r", exc)
                if self.scope is not None:
                    self.scope.cancel()


class PeerHandle:
    """Our side of a running peer connection: send requests, disconnect gracefully."""

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver
        self.conn = driver.conn

    @property
    def remote(self) -> PeerOpened | None:
        """What the peer advertised, once Open."""
        return self.conn.remote

    async def closed(self) -> None:
        """Wait until the connection is closed (whatever closed it)."""
        await self._driver.done.wait()

    async def opened(self) -> PeerOpened | None:
        """Wait for the capabilities exchange: the remote's capabilities, or None if it failed."""
        await self._driver.settled.wait()
        return self.conn.remote

    async def request(self, message: bytes | Message) -> Message:
        """Send one request and wait for its answer."""
        (answer,) = await self.request_many([message])
        return answer

    async def request_many(self, messages: Sequence[bytes | Message]) -> list[Message]:
        """Send requests in one write and wait for all their answers, in order.

        Each request gets a fresh Hop-by-Hop id (RFC 6733 §3: the connection's
        business); End-to-End ids are kept as the caller set them.

        Raises:
            PeerClosedError: the connection is not Open or closed before answering.

        Cancellation: the requests stay sent; answers arriving later are discarded.
        """
        driver, conn = self._driver, self.conn
        if conn.state is not PeerState.OPEN:
            raise PeerClosedError(f"peer connection is {conn.state.value}")
        hops: list[int] = []
        waiters: list[_Waiter] = []
        try:
            for message in messages:
                raw = bytearray(message if isinstance(message, bytes) else message.encode())
                hop = conn.ids.next_hop_by_hop()
                raw[12:16] = hop.to_bytes(4, "big")
                waiters.append(driver.waiters.setdefault(hop, _Waiter()))
                hops.append(hop)
                conn.send(bytes(raw))
            await driver.after()
            answers = []
            for waiter in waiters:
                await waiter.event.wait()
                if waiter.answer is None:
                    reason = driver.closed.reason if driver.closed else "transport gone"
                    raise PeerClosedError(f"peer connection closed: {reason}")
                answers.append(waiter.answer)
            return answers
        finally:
            for hop in hops:
                driver.waiters.pop(hop, None)

    async def disconnect(self, cause: int = DisconnectCause.REBOOTING) -> None:
        """Send DPR and wait until DPA arrives or the disconnect timeout passes (RFC 6733 §5.4)."""
        driver = self._driver
        if not driver.done.is_set():
            self.conn.disconnect(cause, trio.current_time())
            driver.drain()
            await driver.after()
            await driver.done.wait()


async def serve_peer(
    stream: trio.abc.Stream,
    conn: PeerConnection,
    handler: BatchHandler,
    *,
    max_pending_batches: int = 16,
    task_status: trio.TaskStatus[PeerHandle] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Drive one accepted connection (``conn`` in the responder role) until it closes.

    Started with ``nursery.start``, it hands back a `PeerHandle` for requests of our
    own (RAR, ASR) and a graceful DPR. Returns once the connection is Closed, with
    the stream closed.

    Args:
        handler: the batch handler described in the module docstring.
        max_pending_batches: batches waiting on durability before the reader stops
            reading, which pushes back on the peer through TCP.

    Cancellation: closes the stream at once, without DPR; unanswered requests are lost
        (the peer retransmits them, RFC 6733 §5.5.4). Use `PeerHandle.disconnect` for
        a graceful end.

    Error handling: transport failures (``trio.BrokenResourceError``) end the connection
        and are logged, not raised; protocol faults are answered by `PeerConnection`;
        handler failures become 5012 answers. Only bugs propagate.
    """
    driver = _Driver(stream, conn, handler, max_pending_batches)
    task_status.started(PeerHandle(driver))
    await driver.run()


@asynccontextmanager
async def connect_peer(
    stream: trio.abc.Stream,
    conn: PeerConnection,
    *,
    handler: BatchHandler | None = None,
    disconnect_cause: int = DisconnectCause.REBOOTING,
) -> AsyncIterator[PeerHandle]:
    """Run the initiator side over a connected stream: CER/CEA, then yield a handle.

    On leaving the block, DPR is sent and the DPA awaited (bounded by the connection's
    disconnect timeout). Requests from the peer go to ``handler`` (default: 3001).

    Raises:
        PeerClosedError: the capabilities exchange failed (e.g. 5010 in the CEA) or the
            transport closed before it completed.

    Cancellation: closes the stream at once, without DPR.

    Error handling: an exception in the block skips the DPR and propagates as is (it
        is raised outside the internal nursery, so it is not wrapped in a group).
    """
    driver = _Driver(stream, conn, handler, max_pending_batches=16)
    failure: BaseException | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(driver.run)
        conn.start(trio.current_time())
        await driver.after()
        await driver.settled.wait()
        if conn.state is PeerState.OPEN:
            handle = PeerHandle(driver)
            try:
                yield handle
            except BaseException as exc:  # re-raised below, outside the nursery
                failure = exc
            else:
                await handle.disconnect(disconnect_cause)
        nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if conn.remote is None:
        closed = driver.closed
        reason = closed.reason if closed else "transport closed before CEA"
        raise PeerClosedError(reason, result_code=closed.result_code if closed else None)


@asynccontextmanager
async def open_peer(
    host: str,
    port: int,
    conn: PeerConnection,
    *,
    handler: BatchHandler | None = None,
) -> AsyncIterator[PeerHandle]:
    """Connect over TCP (``trio.open_tcp_stream``) and run `connect_peer` on it.

    Raises:
        OSError: the TCP connection could not be made.
        PeerClosedError: as `connect_peer`.
    """
    stream = await trio.open_tcp_stream(host, port)
    async with connect_peer(stream, conn, handler=handler) as handle:
        yield handle


__all__ = [
    "MAX_RECEIVE",
    "BatchHandler",
    "BatchResult",
    "PeerClosedError",
    "PeerHandle",
    "connect_peer",
    "open_peer",
    "serve_peer",
]
