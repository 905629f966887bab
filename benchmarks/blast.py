"""A lean pipelined Gy load generator for the end-to-end benchmark.

What lives here: CCR sessions pre-encoded before the clock starts (CCR-I, CCR-Us with
MSCC and used units, CCR-T), sent over raw trio sockets in large writes, with answers
cut by `protocol.framing.ReceiveBuffer` and matched by Hop-by-Hop id. What must not:
scenario logic (that is `simulator/`, which behaves like a real gateway and costs
~150 µs of client CPU per CCR: one client core then tops out near 6 000 CCR/s, below
what the server can take, so it cannot measure the server's saturation).

Each answer's Result-Code is read (every one must be 2001) so a benchmark that measured
errors cannot pass for a fast one. Latency is measured from each request's intended
send time (open loop) or from its actual write (closed loop).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import trio

from protocol.capabilities import Capabilities
from protocol.cc_client import MsccRequest, encode_ccr
from protocol.codec import encode_message
from protocol.codes import CcRequestType, SubscriptionIdType
from protocol.framing import ReceiveBuffer
from protocol.units import ServiceUnits

_HOP = struct.Struct(">II")  # hop-by-hop, end-to-end at offset 12
_RESULT_CODE = b"\x00\x00\x01\x0c"  # AVP 268 header start, searched in the answer


@dataclass(slots=True)
class Tally:
    sent: int = 0
    answered: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)


def cer(origin_host: str) -> bytes:
    caps = Capabilities(
        origin_host=origin_host, origin_realm="bench.test", host_ip_addresses=("127.0.0.1",)
    )
    return encode_message(257, 0x80, 0, 1, 1, caps.encode())


def sessions(
    msisdns: Sequence[str],
    count: int,
    *,
    updates: int,
    prefix: str,
    rating_groups: Sequence[int] = (1, 2),
) -> list[list[bytearray]]:
    """``count`` data sessions: CCR-I, ``updates`` x CCR-U (1 MB on each rating group),
    CCR-T; ids are patched at send time."""
    out = []
    used = (ServiceUnits(total_octets=1_000_000),)
    initial = [MsccRequest(rating_group=rg) for rg in rating_groups]
    update = [MsccRequest(rating_group=rg, used=used) for rg in rating_groups]
    final = [MsccRequest(rating_group=rg, requested=None, used=used) for rg in rating_groups]
    for n in range(count):
        sid = f"{prefix};{n}"
        msisdn = msisdns[n % len(msisdns)]

        def ccr(kind: CcRequestType, number: int, msccs: list[MsccRequest]) -> bytearray:
            return bytearray(
                encode_ccr(
                    session_id=sid,  # noqa: B023 - called at once, in this iteration
                    origin_host=prefix,
                    origin_realm="bench.test",
                    destination_realm="localdomain",
                    service_context_id="32251@3gpp.org",
                    cc_request_type=kind,
                    cc_request_number=number,
                    hop_by_hop=0,
                    end_to_end=0,
                    subscription_ids=[(SubscriptionIdType.END_USER_E164, msisdn)],  # noqa: B023
                    msccs=msccs,
                )
            )

        msgs = [ccr(CcRequestType.INITIAL_REQUEST, 0, initial)]
        msgs += [ccr(CcRequestType.UPDATE_REQUEST, u, update) for u in range(1, updates + 1)]
        msgs.append(ccr(CcRequestType.TERMINATION_REQUEST, updates + 1, final))
        out.append(msgs)
    return out


async def _open(port: int, origin_host: str) -> tuple[trio.SocketStream, ReceiveBuffer]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(cer(origin_host))
    buf = ReceiveBuffer()
    while not (cea := buf.next_message()):
        buf.feed(await stream.receive_some(65536))
    if _RESULT_CODE + b"\x40\x00\x00\x0c\x00\x00\x07\xd1" not in cea:
        raise RuntimeError("the OCS refused the capabilities exchange")
    return stream, buf


def _ok(answer: bytes) -> bool:
    # Command-level Result-Code 2001 is the first Result-Code AVP of a CCA (after Session-Id).
    at = answer.find(_RESULT_CODE, 20)
    return at > 0 and answer[at + 8 : at + 12] == b"\x00\x00\x07\xd1"


async def closed_loop(
    port: int,
    work: list[list[bytearray]],
    *,
    connections: int,
    window: int,
    seconds: float,
    tally: Tally,
) -> None:
    """Keep ``window`` requests in flight per connection until ``seconds`` pass."""
    deadline = trio.current_time() + seconds
    per = [work[i::connections] for i in range(connections)]

    async def one(index: int, mine: list[list[bytearray]]) -> None:
        stream, buf = await _open(port, f"blast{index}.bench.test")
        queue = [m for session in mine for m in session]
        sent_at: dict[int, float] = {}
        hop = index << 24
        position = 0
        in_flight = 0
        async with stream:
            while trio.current_time() < deadline and (position < len(queue) or in_flight):
                chunk = []
                now = time.perf_counter()
                while in_flight < window and position < len(queue):
                    message = queue[position]
                    position += 1
                    hop += 1
                    _HOP.pack_into(message, 12, hop, hop)
                    sent_at[hop] = now
                    chunk.append(bytes(message))
                    in_flight += 1
                if chunk:
                    await stream.send_all(b"".join(chunk))
                    tally.sent += len(chunk)
                data = await stream.receive_some(262144)
                if not data:
                    break
                buf.feed(data)
                now = time.perf_counter()
                for answer in buf.messages():
                    got = int.from_bytes(answer[12:16], "big")
                    started = sent_at.pop(got, None)
                    if started is None:
                        continue  # a DWR or another request of the server's: not ours
                    in_flight -= 1
                    tally.answered += 1
                    tally.latencies.append(now - started)
                    if not _ok(answer):
                        tally.failed += 1

    async with trio.open_nursery() as nursery:
        for i, mine in enumerate(per):
            nursery.start_soon(one, i, mine)


async def open_loop(
    port: int,
    work: list[list[bytearray]],
    *,
    connections: int,
    rate: float,
    seconds: float,
    tally: Tally,
) -> None:
    """Send at ``rate`` CCR/s (spread over connections); latency from the intended time."""
    per = [work[i::connections] for i in range(connections)]
    interval = connections / rate

    async def one(index: int, mine: list[list[bytearray]]) -> None:
        stream, buf = await _open(port, f"blast{index}.bench.test")
        queue = [m for session in mine for m in session]
        intended: dict[int, float] = {}
        done = trio.Event()
        count = min(len(queue), int(seconds / interval))

        async def reader() -> None:
            answered = 0
            while answered < count:
                data = await stream.receive_some(262144)
                if not data:
                    break
                buf.feed(data)
                now = time.perf_counter()
                for answer in buf.messages():
                    got = int.from_bytes(answer[12:16], "big")
                    start = intended.pop(got, None)
                    if start is None:
                        continue
                    answered += 1
                    tally.answered += 1
                    tally.latencies.append(now - start)
                    if not _ok(answer):
                        tally.failed += 1
            done.set()

        async with stream, trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            start = time.perf_counter() + 0.01
            hop = index << 24
            for n in range(count):
                due = start + n * interval
                delay = due - time.perf_counter()
                if delay > 0.0005:  # batch whatever is due within half a millisecond
                    await trio.sleep(delay)
                message = queue[n]
                hop += 1
                _HOP.pack_into(message, 12, hop, hop)
                intended[hop] = due
                await stream.send_all(bytes(message))
                tally.sent += 1
            with trio.move_on_after(10):
                await done.wait()
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for i, mine in enumerate(per):
            nursery.start_soon(one, i, mine)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p99.9": at(0.999)}
