"""The OCS process: the nursery tree that wires listeners, charging, SQL and timers.

What lives here: `serve` (blocking entry point of ``ocs serve``), `run` (the trio main,
usable in tests with ``nursery.start``) and `OcsServer`, which owns one charger and one
batch handler shared by every peer connection, the Tcc sweeper, the account-event
consumer, and the RAR/ASR it sends. What must not: protocol logic (`protocol/`), the
CCR logic (`charging`), SQL (`persist`).

Tasks (each loops until cancelled)::

    serve_listeners ── per connection: serve_peer(PeerConnection, handler)
    tcc_loop        ── every second: release holds of silent sessions (RFC 8506 §7 Tcc)
    event_loop      ── every 0.5 s: apply account events, then RAR/ASR the sessions concerned
    metrics         ── prometheus_client's HTTP server thread, when a port is set
"""

from __future__ import annotations

import logging
import signal
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import trio

from protocol.capabilities import Capabilities
from protocol.codec import Message
from protocol.codes import ResultCode
from protocol.errors import PeerClosedError, ProtocolError
from protocol.peer import PeerConfig, PeerConnection, Role, allow_peers
from protocol.reauth import encode_asr, encode_rar, parse_asa, parse_raa
from protocol.trio_peer import PeerHandle, serve_peer
from storage.records import BucketKind, SessionKey, WriteBatch
from storage.writer import GroupCommitWriter, WriterState

from .account_events import apply_events
from .admin import serve_admin
from .charging import Charger, FinalAction, Policy
from .config import AckMode, OcsConfig, UnavailableAction
from .config import FinalUnitAction as ConfigFinalAction
from .handler import CreditControlHandler, HandlerOptions
from .metrics import Metrics, start_metrics_server
from .persist import (
    OCS_CONSUMER,
    Book,
    Database,
    TrioPersistence,
    load_book,
    open_database,
    read_event_batch,
)
from .sessions import ENDED, CcSession

log = logging.getLogger(__name__)
_Answer = TypeVar("_Answer")  # what a server-initiated request's parser returns

#: how long after a RAR the OCS waits for the CCR-U before it forces a new session
#: with ASR (magma #3549: a gateway that applied FUI answers RAA but never re-asks)
RAR_FALLBACK_SECONDS = 10.0
#: how long the OCS waits for a RAA or ASA (RFC 8506 §13: Tx, 10 s, on the client side)
REQUEST_TIMEOUT_SECONDS = 10.0


def policy_from(config: OcsConfig) -> Policy:
    credit = config.credit
    quota = {
        BucketKind.DATA: credit.quota.data_octets,
        BucketKind.VOICE: credit.quota.voice_seconds,
        BucketKind.SMS: credit.quota.events,
    }
    return Policy(
        validity_time=credit.validity_time,
        default_quota=quota,
        max_quota=quota,
        threshold_percent=credit.volume_quota_threshold or None,
        quota_holding_time=credit.quota_holding_time or None,
        tcc=float(credit.tcc or 2 * credit.validity_time),
        final_action=FinalAction.REDIRECT
        if credit.final_unit_action is ConfigFinalAction.REDIRECT
        else FinalAction.TERMINATE,
        redirect_url=credit.redirect_url or None,
        low_balance_threshold=credit.low_balance_threshold,
        rise_mscc_result_code=frozenset(
            p.origin_host for p in config.peers if p.rise_mscc_result_code
        ),
        service_context_ids=frozenset(credit.service_context_ids),
        ended_seconds=float(max(config.diameter.answer_cache_seconds, 240)),
    )


@dataclass(frozen=True, slots=True)
class Bound:
    """Where a started server listens (ports resolved when 0 was asked)."""

    diameter: tuple[tuple[str, int], ...]
    tls: tuple[tuple[str, int], ...]
    server: OcsServer
    #: the admin endpoint (ocs.admin), None when off or its port was taken
    admin: tuple[str, int] | None = None


class OcsServer:
    def __init__(
        self,
        config: OcsConfig,
        book: Book,
        writer: GroupCommitWriter,
        metrics: Metrics,
        engine: Database,
    ) -> None:
        self.config = config
        self.book = book
        self.writer = writer
        self.metrics = metrics
        self.engine = engine
        self.charger = Charger(
            ledger=book.ledger,
            sessions=book.sessions,
            directory=book.directory,
            policy=policy_from(config),
        )
        self.persistence = TrioPersistence(
            writer, max_queued_rows=config.diameter.max_pending_requests * 4, metrics=metrics
        )
        diameter = config.diameter
        self.origin_state_id = int(time.time())
        self.handler = CreditControlHandler(
            charger=self.charger,
            persistence=self.persistence,
            options=HandlerOptions(
                origin_host=diameter.origin_host,
                origin_realm=diameter.origin_realm,
                durable=config.database.ack is AckMode.DURABLE,
                answer_cache_seconds=float(diameter.answer_cache_seconds),
                answer_when_unavailable=config.database.unavailable
                is UnavailableAction.ANSWER_5012,
                origin_state_id=self.origin_state_id,
            ),
            metrics=metrics,
            clock=trio.current_time,
        )
        self.handles: set[PeerHandle] = set()
        self.peer_states: dict[str, int] = {}
        self.event_cursor = book.event_cursor
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ peers

    def peer_config(self, addresses: Sequence[str]) -> PeerConfig:
        diameter = self.config.diameter
        capabilities = Capabilities(
            origin_host=diameter.origin_host,
            origin_realm=diameter.origin_realm,
            host_ip_addresses=tuple(addresses) or ("127.0.0.1",),
            product_name=diameter.product_name,
            vendor_id=diameter.vendor_id,
            firmware_revision=diameter.firmware_revision,
            origin_state_id=self.origin_state_id,
        )
        policy = None
        if diameter.allowed_hosts or diameter.allowed_realms:
            policy = allow_peers(hosts=diameter.allowed_hosts, realms=diameter.allowed_realms)
        return PeerConfig(
            capabilities=capabilities,
            peer_policy=policy,
            watchdog_interval=float(diameter.watchdog_interval),
        )

    async def handle_connection(self, stream: trio.abc.Stream) -> None:
        """One accepted connection, until it closes; never raises into serve_listeners."""
        addresses = _local_addresses(stream, self.config.listen.hosts)
        conn = PeerConnection(
            self.peer_config(addresses), role=Role.RESPONDER, now=trio.current_time()
        )
        handle: PeerHandle | None = None
        try:
            async with trio.open_nursery() as nursery:
                handle = await nursery.start(serve_peer, stream, conn, self.handler)
                self.handles.add(handle)
                nursery.start_soon(self._watch_open, handle)
        except Exception:  # one broken connection must not take the listener down
            log.exception("peer connection failed")
        finally:
            if handle is not None:
                self.handles.discard(handle)

    async def _watch_open(self, handle: PeerHandle) -> None:
        """Count the peer and release its old sessions if its Origin-State-Id grew (RFC 6733 §8.16)."""
        remote = await handle.opened()
        if remote is None:
            return
        self.metrics.peers.inc()
        try:
            previous = self.peer_states.get(remote.origin_host)
            if remote.origin_state_id is not None:
                self.peer_states[remote.origin_host] = remote.origin_state_id
                if previous is not None and remote.origin_state_id > previous:
                    log.info(
                        "peer %s restarted (Origin-State-Id %d > %d): releasing its sessions",
                        remote.origin_host,
                        remote.origin_state_id,
                        previous,
                    )
                    self._end_sessions(self.book.sessions.of_peer(remote.origin_host))
            await handle.closed()
        finally:
            self.metrics.peers.dec()

    def find_peer(self, origin_host: str) -> PeerHandle | None:
        for handle in self.handles:
            remote = handle.remote
            if remote is not None and remote.origin_host == origin_host:
                return handle
        return None

    # ------------------------------------------------------------------ timers

    def _end_sessions(self, sessions: Sequence[CcSession]) -> None:
        wall = time.time()
        postings, closed = [], []
        for session in sessions:
            self.book.sessions.close(session.session_id)
            outcome = self.charger.expire(session, wall)
            postings += outcome.postings
            closed += outcome.closed
        if postings or closed:
            self.persistence.submit(WriteBatch(postings=postings, closed=closed))

    async def tcc_loop(self) -> None:
        while True:
            await trio.sleep(1.0)
            now = trio.current_time()
            expired = self.book.sessions.expired(now)
            if expired:
                self.metrics.tcc_expiries.inc(len(expired))
                self._end_sessions(expired)
            forgotten = self.book.sessions.forget_ended(now)
            if forgotten:
                self.persistence.submit(
                    WriteBatch(closed=[SessionKey(sid, ENDED) for sid in forgotten])
                )
            self.metrics.sessions.set(len(self.book.sessions))
            self.metrics.reserved.set(sum(r.micros for r in self.book.ledger.reservations()))
            self.metrics.commit_lag.set(self.writer.queued_rows)
            self.metrics.storage_healthy.set(
                1 if self.writer.state is not WriterState.RETRYING else 0
            )
            self.handler.answers.expire(trio.current_time())
            self.handler.charges.expire(trio.current_time())

    async def event_loop(self, nursery: trio.Nursery) -> None:
        while True:
            await trio.sleep(0.5)
            try:
                await self.apply_new_events(nursery)
            except Exception:  # the database may be down: try again next tick
                log.exception("applying account events failed; retrying")

    async def apply_new_events(self, nursery: trio.Nursery | None) -> int:
        """Apply every account event after the cursor; returns how many.

        The postings and the advanced cursor commit together, so after a crash an
        event is applied again only if its postings were lost with it.
        """
        book = self.book
        applied = 0
        while True:
            contexts = await trio.to_thread.run_sync(
                read_event_batch, self.engine, self.event_cursor
            )
            if not contexts:
                return applied
            effects = apply_events(
                contexts,
                ledger=book.ledger,
                directory=book.directory,
                sessions=book.sessions,
                catalog=book.catalog,
                now_us=int(time.time() * 1_000_000),
            )
            commit = self.persistence.submit(
                WriteBatch(
                    postings=effects.postings, cursors=[(OCS_CONSUMER, effects.last_event_id)]
                )
            )
            await commit.wait()
            self.event_cursor = effects.last_event_id
            # Behind the durable cursor these events are never read again: their causes
            # need not be remembered (this keeps the ledger's cause set bounded).
            book.ledger.forget_causes(f"event:{c.event.event_id}" for c in contexts)
            applied += len(contexts)
            for kind, count in effects.applied.items():
                self.metrics.events_applied.labels(kind).inc(count)
            if nursery is not None:
                for session in effects.abort:
                    nursery.start_soon(self.send_asr, session)
                for session, groups in effects.reauthorize:
                    nursery.start_soon(self.send_rar, session, groups)

    # ------------------------------------------------------------------ server-initiated

    async def send_rar(self, session: CcSession, groups: tuple[int, ...]) -> None:
        """RAR scoped to one rating group when only one ran out (RFC 8506 §5.5)."""
        scoped = groups[0] if len(groups) == 1 and groups[0] >= 0 else None
        number = session.last_request_number
        answer = await self._ask("RAR", session, encode_rar, parse_raa, rating_group=scoped)
        if answer is None:
            return
        outcome = (
            "ok"
            if answer.result_code
            in (ResultCode.DIAMETER_SUCCESS, ResultCode.DIAMETER_LIMITED_SUCCESS)
            else "rejected"
        )
        self.metrics.server_requests.labels("RAR", outcome).inc()
        if answer.result_code == ResultCode.DIAMETER_UNKNOWN_SESSION_ID:
            self._end_sessions([session])
            return
        await trio.sleep(RAR_FALLBACK_SECONDS)
        still = self.book.sessions.get(session.session_id)
        if still is not None and still.last_request_number == number:
            # The gateway acknowledged but never re-asked: force a fresh session.
            await self.send_asr(still)

    async def send_asr(self, session: CcSession) -> None:
        answer = await self._ask("ASR", session, encode_asr, parse_asa)
        if answer is None:
            return
        self.metrics.server_requests.labels(
            "ASR", "ok" if answer.result_code == ResultCode.DIAMETER_SUCCESS else "rejected"
        ).inc()
        # The gateway now sends CCR-T; if it does not, Tcc releases the holds.

    async def _ask(
        self,
        command: str,
        session: CcSession,
        encode: Callable[..., bytes],
        parse: Callable[[Message], _Answer],
        **options: int | None,
    ) -> _Answer | None:
        """Send ``command`` for ``session`` to the peer that owns it and read the answer;
        None (counted and logged) when that peer is gone, fails or stays mute."""
        handle = self.find_peer(session.origin_host)
        if handle is None or handle.remote is None:
            self.metrics.server_requests.labels(command, "no_peer").inc()
            return None
        ids = handle.conn.ids
        request = encode(
            session_id=session.session_id,
            origin_host=self.config.diameter.origin_host,
            origin_realm=self.config.diameter.origin_realm,
            destination_realm=handle.remote.origin_realm,
            destination_host=session.origin_host,
            hop_by_hop=ids.next_hop_by_hop(),
            end_to_end=ids.next_end_to_end(),
            **options,
        )
        try:
            with trio.fail_after(REQUEST_TIMEOUT_SECONDS):  # a mute gateway must not pin us
                return parse(await handle.request(request))
        except (PeerClosedError, ProtocolError, trio.TooSlowError) as exc:
            self.metrics.server_requests.labels(command, "failed").inc()
            log.warning("%s for %s failed: %s", command, session.session_id, exc)
            return None


def _local_addresses(stream: trio.abc.Stream, hosts: Sequence[str]) -> list[str]:
    sock = getattr(stream, "socket", None)
    if sock is not None:
        try:
            return [sock.getsockname()[0]]
        except OSError:
            pass
    return [h for h in hosts if h not in ("0.0.0.0", "::")] or ["127.0.0.1"]


async def run(
    config: OcsConfig, *, task_status: trio.TaskStatus[Bound] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the OCS until cancelled; ``task_status`` reports the bound addresses."""
    engine = await trio.to_thread.run_sync(open_database, config.database.url)
    started = trio.current_time()
    book = await trio.to_thread.run_sync(lambda: load_book(engine, monotonic_now=started))
    metrics = Metrics()
    writer = GroupCommitWriter(
        engine,
        on_commit=metrics.observe_commit,
    ).start()
    if config.metrics.port:
        start_metrics_server(metrics, config.metrics.host, config.metrics.port)
    server = OcsServer(config, book, writer, metrics, engine)
    log.info(
        "OCS %s loaded %d accounts, %d open sessions",
        config.diameter.origin_host,
        len(book.directory),
        len(book.sessions),
    )
    try:
        # Events recorded while the OCS was down (top-ups, blocks) apply before the
        # first request is answered.
        await server.apply_new_events(None)
        async with trio.open_nursery() as nursery:
            listeners: list[trio.SocketListener] = []
            for host in config.listen.hosts:
                listeners += await trio.open_tcp_listeners(config.listen.port, host=host)
            tls_sockets: list[trio.SocketListener] = []
            if config.listen.tls_cert and config.listen.tls_key:
                for host in config.listen.hosts:
                    tls_sockets += await trio.open_tcp_listeners(config.listen.tls_port, host=host)
            serving: list[trio.abc.Listener[trio.abc.Stream]] = [*listeners]
            if tls_sockets:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(str(config.listen.tls_cert), str(config.listen.tls_key))
                serving += [trio.SSLListener(socket, context) for socket in tls_sockets]
            nursery.start_soon(trio.serve_listeners, server.handle_connection, serving)
            nursery.start_soon(server.tcc_loop)
            nursery.start_soon(server.event_loop, nursery)
            # --- admin endpoint (ocs.admin): the live views of `ocs session` / `ocs peer`
            admin = None
            if config.admin_port:
                admin = await nursery.start(serve_admin, server, config.admin_port)
            # --- end admin endpoint
            task_status.started(
                Bound(_addresses(listeners), _addresses(tls_sockets), server, admin)
            )
    finally:
        with trio.CancelScope(shield=True):
            # Batches handed to persistence in this last pass go to the writer now, or
            # close() would refuse them; whatever close() cannot write is said, not lost
            # silently (ack=fast may already have answered it).
            server.persistence.flush_now()
            unwritten = await trio.to_thread.run_sync(writer.close, 10.0)
            if unwritten:
                rows = sum(b.row_count() for b in unwritten)
                log.error("shut down with %d batches (%d rows) not written", len(unwritten), rows)


def _addresses(listeners: Sequence[trio.SocketListener]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (str(name[0]), int(name[1])) for name in (lst.socket.getsockname() for lst in listeners)
    )


def serve(config: OcsConfig) -> None:
    """Run the OCS until SIGINT or SIGTERM; blocking (the ``ocs serve`` command)."""
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            bound: Bound = await nursery.start(run, config)
            for host, port in bound.diameter:
                log.info("Diameter listening on %s port %d", host, port)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("signal %d: shutting down", signum)
                    nursery.cancel_scope.cancel()
                    break

    trio.run(main)
