"""The admin endpoint: live views of a running OCS, for ``ocs session`` and ``ocs peer``.

What lives here: `serve_admin` (a trio task of the OCS process, started by ``ocs.app.run``),
the views it answers with, and `AdminClient`, the small synchronous client the CLI uses.
What must not: charging decisions or SQL; everything here reads the server's memory
(sessions, reservations, peer connections) or asks it to send an ASR.

The protocol, chosen to be debuggable with ``nc 127.0.0.1 9465``: line-delimited JSON
over TCP. Each request is one line, a JSON object with an ``op`` and its arguments; each
answer is one line::

    -> {"op": "sessions", "msisdn": "491700000001"}
    <- {"ok": true, "result": [{"session_id": "pgw;1", ...}]}
    -> {"op": "disconnect", "session_id": "nope"}
    <- {"ok": false, "code": "not_found", "error": "no open session 'nope'"}

Ops: ``status``, ``sessions`` [msisdn], ``session`` session_id, ``disconnect`` session_id
[release], ``peers``. Several requests may share a connection, answered in order.

Decisions:

- Bound to 127.0.0.1 only, with no authentication: anyone who can open a loopback socket
  on the OCS host can already read its database URL. A remote operator uses ssh.
  ``admin_port = 0`` turns the endpoint off.
- If the port cannot be bound (another OCS on the host), the OCS logs an error and keeps
  charging: the live views are an operator convenience, credit control is the product.
- Money leaves as integer micro-units with the currency code; the CLI formats it, as it
  does for amounts read from SQL.
- Times are relative ("expires in 3594.2 s", "last traffic 1.5 s ago"): the server's
  clock is trio's monotonic clock, which has no meaning outside the process.
"""

from __future__ import annotations

import json
import logging
import math
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import trio

from protocol.codes import ResultCode
from protocol.errors import PeerClosedError, ProtocolError
from protocol.peer import PeerState
from protocol.reauth import encode_asr, parse_asa
from protocol.trio_peer import PeerHandle

if TYPE_CHECKING:
    from .app import OcsServer
    from .sessions import CcSession

log = logging.getLogger(__name__)

ADMIN_HOST = "127.0.0.1"
#: a request line longer than this closes the connection (nothing legitimate comes close)
MAX_LINE = 64 * 1024
#: how long `disconnect` waits for the gateway's ASA (RFC 6733 Tx is of the same order)
ASA_TIMEOUT = 10.0
#: a connection silent this long is closed, so a forgotten `nc` holds no task forever
IDLE_TIMEOUT = 300.0


class AdminError(Exception):
    """A request the server refused; ``code`` is machine-readable."""

    def __init__(self, message: str, code: str = "failed") -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- server


async def serve_admin(
    server: OcsServer,
    port: int,
    *,
    host: str = ADMIN_HOST,
    task_status: trio.TaskStatus[tuple[str, int] | None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the admin protocol on ``host:port`` until cancelled.

    ``task_status`` reports the bound address, or None when the port was taken.
    """
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        log.error(
            "admin endpoint not started: cannot listen on %s port %d (%s); the OCS "
            "charges on, but ocs session/peer cannot reach it",
            host,
            port,
            exc.strerror or exc,
        )
        task_status.started(None)
        return
    name = listeners[0].socket.getsockname()
    address = (str(name[0]), int(name[1]))
    log.info("admin endpoint listening on %s port %d", *address)
    admin = _Admin(server, started=trio.current_time())
    task_status.started(address)
    await trio.serve_listeners(admin.handle, listeners)


class _Admin:
    def __init__(self, server: OcsServer, *, started: float) -> None:
        self.server = server
        self.started = started
        self.ops: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "status": self.status,
            "sessions": self.sessions,
            "session": self.session,
            "peers": self.peers,
        }

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = bytearray()
        try:
            while True:
                with trio.move_on_after(IDLE_TIMEOUT) as idle:
                    data = await stream.receive_some(4096)
                if idle.cancelled_caught or not data:
                    return
                buffer += data
                while (end := buffer.find(b"\n")) >= 0:
                    line, buffer = bytes(buffer[:end]), buffer[end + 1 :]
                    if line.strip():
                        answer = await self.answer(line)
                        await stream.send_all(json.dumps(answer).encode() + b"\n")
                if len(buffer) > MAX_LINE:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            await trio.aclose_forcefully(stream)

    async def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise AdminError('a request is a JSON object with an "op"', "bad_request")
            op = request["op"]
            if op == "disconnect":
                return {"ok": True, "result": await self.disconnect(request)}
            handler = self.ops.get(op)
            if handler is None:
                known = ", ".join(sorted([*self.ops, "disconnect"]))
                raise AdminError(f"unknown op {op!r} (known: {known})", "bad_request")
            return {"ok": True, "result": handler(request)}
        except AdminError as exc:
            return {"ok": False, "code": exc.code, "error": str(exc)}
        except ValueError as exc:  # not JSON
            return {"ok": False, "code": "bad_request", "error": f"not JSON: {exc}"}
        except Exception as exc:  # a bug here must not take the OCS down
            log.exception("admin request failed")
            return {"ok": False, "code": "internal", "error": f"internal error: {exc!r}"}

    # ------------------------------------------------------------------ views

    def status(self, _request: Mapping[str, Any]) -> dict[str, Any]:
        server = self.server
        book = server.book
        return {
            "origin_host": server.config.diameter.origin_host,
            "origin_realm": server.config.diameter.origin_realm,
            "origin_state_id": server.origin_state_id,
            "uptime_s": round(trio.current_time() - self.started, 1),
            "accounts": len(book.directory),
            "sessions": len(book.sessions),
            "peers_open": sum(1 for h in server.handles if h.remote is not None),
            "reserved_micros": sum(r.micros for r in book.ledger.reservations()),
            "storage": server.writer.state.name.lower(),
            "queued_rows": server.writer.queued_rows,
            "event_cursor": server.event_cursor,
        }

    def sessions(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        book = self.server.book
        wanted: int | None = None
        msisdn = request.get("msisdn")
        if msisdn is not None:
            subscriber = book.directory.by_msisdn(str(msisdn))
            if subscriber is None:
                raise AdminError(f"the OCS knows no account with MSISDN {msisdn}", "not_found")
            wanted = subscriber.account_id
        now = trio.current_time()
        return [
            self._session_view(s, now, detail=False)
            for s in sorted(book.sessions, key=lambda s: s.session_id)
            if wanted is None or s.account_id == wanted
        ]

    def session(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._session_view(self._find(request), trio.current_time(), detail=True)

    def _find(self, request: Mapping[str, Any]) -> CcSession:
        session_id = request.get("session_id")
        if not isinstance(session_id, str):
            raise AdminError("session_id is required", "bad_request")
        session = self.server.book.sessions.get(session_id)
        if session is None:
            raise AdminError(f"no open session {session_id!r}", "not_found")
        return session

    def _session_view(self, session: CcSession, now: float, *, detail: bool) -> dict[str, Any]:
        book = self.server.book
        subscriber = book.directory.account(session.account_id)
        groups = sorted(session.rating_groups | {-1})
        holds = [
            hold
            for group in groups
            if (hold := book.ledger.reservation(session.session_id, group)) is not None
        ]
        view: dict[str, Any] = {
            "session_id": session.session_id,
            "msisdn": subscriber.msisdn if subscriber else None,
            "account_id": session.account_id,
            "currency": subscriber.currency.code if subscriber else None,
            "origin_host": session.origin_host,
            "service_context_id": session.service_context_id or None,
            "state": session.state.value,
            "last_request_number": session.last_request_number,
            "rating_groups": sorted(g for g in session.rating_groups if g >= 0),
            "exhausted": sorted(session.exhausted),
            "expires_in_s": None
            if math.isinf(session.expires_at)
            else round(session.expires_at - now, 1),
            "reserved_micros": sum(h.micros for h in holds),
            "peer_connected": self._open_peer(session.origin_host) is not None,
        }
        if detail:
            view["reservations"] = [
                {
                    "rating_group": None if h.rating_group < 0 else h.rating_group,
                    "micros": h.micros,
                    "units_granted": h.units,
                    "bucket_units": {str(b.bucket_id): n for b, n in (h.buckets or {}).items()},
                }
                for h in holds
            ]
        return view

    def peers(self, _request: Mapping[str, Any]) -> list[dict[str, Any]]:
        now = trio.current_time()
        # Closed connections can linger in `handles` until their task ends: not peers.
        views = [
            self._peer_view(h, now)
            for h in self.server.handles
            if h.conn.state is not PeerState.CLOSED
        ]
        return sorted(views, key=lambda v: (v["origin_host"] or "", v["address"] or ""))

    def _peer_view(self, handle: PeerHandle, now: float) -> dict[str, Any]:
        conn = handle.conn
        remote = handle.remote
        last_rx = conn.last_received
        deadline = conn.next_deadline()
        host = remote.origin_host if remote else None
        return {
            "origin_host": host,
            "origin_realm": remote.origin_realm if remote else None,
            "origin_state_id": remote.origin_state_id if remote else None,
            "product_name": remote.product_name if remote else None,
            "state": conn.state.name.lower(),
            "address": _peer_address(handle),
            "applications": sorted(remote.common_applications) if remote else [],
            "last_traffic_s": round(now - last_rx, 1),
            "dwr_pending": conn.watchdog_pending,
            "next_watchdog_s": None if deadline is None else round(max(0.0, deadline - now), 1),
            "sessions": len(self.server.book.sessions.of_peer(host)) if host else 0,
        }

    def _open_peer(self, origin_host: str) -> PeerHandle | None:
        """``OcsServer.find_peer``, but only a connection that is still Open."""
        for handle in self.server.handles:
            remote = handle.remote
            if (
                remote is not None
                and remote.origin_host == origin_host
                and handle.conn.state is PeerState.OPEN
            ):
                return handle
        return None

    # ------------------------------------------------------------------ actions

    async def disconnect(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """ASR to the session's gateway (RFC 8506 §5.6), then optionally release it here."""
        session = self._find(request)
        release = bool(request.get("release", False))
        server = self.server
        handle = self._open_peer(session.origin_host)
        result: dict[str, Any] = {
            "session_id": session.session_id,
            "origin_host": session.origin_host,
            "asr_sent": False,
            "asa_result_code": None,
            "released": False,
        }
        if handle is None or handle.remote is None:
            if not release:
                raise AdminError(
                    f"gateway {session.origin_host} of session {session.session_id!r} is "
                    "not connected, so no ASR can be sent; add --release to free its "
                    "reservations now (Tcc would in "
                    f"{max(0.0, session.expires_at - trio.current_time()):.0f} s)",
                    "peer_gone",
                )
        else:
            result["asr_sent"] = True
            result["asa_result_code"] = await self._send_asr(handle, session)
        if release and server.book.sessions.get(session.session_id) is not None:
            # The gateway may still send CCR-T: a CCR-T without an open session is
            # charged all the same (sessions.TRANSITIONS), so nothing is lost.
            server._end_sessions([session])
            result["released"] = True
        result["still_open"] = server.book.sessions.get(session.session_id) is not None
        return result

    async def _send_asr(self, handle: PeerHandle, session: CcSession) -> int | None:
        """What ``OcsServer.send_asr`` does, returning the ASA's Result-Code for the operator."""
        server = self.server
        remote = handle.remote
        assert remote is not None
        ids = handle.conn.ids
        request = encode_asr(
            session_id=session.session_id,
            origin_host=server.config.diameter.origin_host,
            origin_realm=server.config.diameter.origin_realm,
            destination_realm=remote.origin_realm,
            destination_host=session.origin_host,
            hop_by_hop=ids.next_hop_by_hop(),
            end_to_end=ids.next_end_to_end(),
        )
        outcome, code = "failed", None
        try:
            with trio.move_on_after(ASA_TIMEOUT):
                code = int(parse_asa(await handle.request(request)).result_code)
                outcome = "ok" if code == ResultCode.DIAMETER_SUCCESS else "rejected"
        except (PeerClosedError, ProtocolError) as exc:
            log.warning("ASR for %s failed: %s", session.session_id, exc)
        server.metrics.server_requests.labels("ASR", outcome).inc()
        log.info("operator disconnect of %s: ASA %s", session.session_id, code)
        return code


def _peer_address(handle: PeerHandle) -> str | None:
    sock = getattr(handle._driver.stream, "socket", None)
    try:
        name = sock.getpeername() if sock is not None else None
    except OSError:
        return None
    if not name:
        return None
    host, port = str(name[0]), int(name[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- client


class AdminUnavailable(Exception):
    """No admin endpoint answers: the OCS is not running, or on another port."""


class AdminClient:
    """Synchronous client of the admin protocol (one connection per client)."""

    def __init__(self, port: int, *, host: str = ADMIN_HOST, timeout: float = 15.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def request(self, op: str, **arguments: object) -> Any:
        """Send one request; its ``result``.

        Raises:
            AdminUnavailable: nothing listens, or the connection broke.
            AdminError: the server refused the request.
        """
        where = f"{self.host} port {self.port}"
        line = json.dumps({"op": op, **arguments}).encode() + b"\n"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(line)
                reply = _read_line(sock)
        except TimeoutError:
            raise AdminUnavailable(
                f"the OCS admin endpoint on {where} did not answer within {self.timeout:.0f} s"
            ) from None
        except OSError as exc:
            raise AdminUnavailable(
                f"no OCS admin endpoint on {where} ({exc.strerror or exc}): is ocs serve "
                "running, with this admin_port (--admin-port, OCS_ADMIN_PORT)?"
            ) from None
        try:
            answer = json.loads(reply)
        except ValueError:
            raise AdminUnavailable(f"{where} does not speak the OCS admin protocol") from None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise AdminUnavailable(f"{where} does not speak the OCS admin protocol")
        if not answer["ok"]:
            raise AdminError(str(answer.get("error")), str(answer.get("code", "failed")))
        return answer.get("result")


def _read_line(sock: socket.socket) -> bytes:
    """One answer line; each recv is bounded by the socket timeout."""
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        if b"\n" in chunk:
            break
    return b"".join(chunks).split(b"\n", 1)[0]
