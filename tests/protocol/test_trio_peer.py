"""The trio adapter: batching, per-batch failures, watchdog and DPR over memory streams.

Timing runs on the autojump clock (no wall-clock sleeps); one test uses a real
loopback TCP socket.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import pytest
import trio
import trio.testing

from protocol.answers import IdGenerator
from protocol.codec import Message, decode_message
from protocol.codes import ResultCode
from protocol.framing import ReceiveBuffer
from protocol.peer import PeerConfig, PeerConnection, PeerState, Role, allow_peers
from protocol.trio_peer import (
    BatchResult,
    PeerClosedError,
    PeerHandle,
    connect_peer,
    open_peer,
    serve_peer,
)
from tests.protocol.test_peer import GW, OCS, base, ccr, cer, result_code, u32


def server_conn(**options: object) -> PeerConnection:
    config = PeerConfig(capabilities=OCS, **options)  # type: ignore[arg-type]
    return PeerConnection(config, role=Role.RESPONDER, now=trio.current_time())


def client_conn() -> PeerConnection:
    config = PeerConfig(capabilities=GW)
    ids = IdGenerator(now=0, seed=3)
    return PeerConnection(config, role=Role.INITIATOR, now=trio.current_time(), ids=ids)


class Recorder:
    """A batch handler answering 2001 in the generic format and recording batch sizes."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, requests: list[Message]) -> Sequence[bytes]:
        self.batches.append([r.hop_by_hop for r in requests])
        return [answer(r) for r in requests]


def answer(request: Message, code: int = 2001) -> bytes:
    conn = PeerConnection(PeerConfig(capabilities=OCS), role=Role.RESPONDER, now=0)
    return conn.error_answer(request, code)


async def read_message(stream: trio.abc.ReceiveStream, buffer: ReceiveBuffer) -> Message:
    while (raw := buffer.next_message()) is None:
        data = await stream.receive_some(65536)
        assert data, "stream closed"
        buffer.feed(data)
    return decode_message(raw)


async def handshake(client: trio.abc.Stream, buffer: ReceiveBuffer) -> None:
    await client.send_all(cer())
    cea = await read_message(client, buffer)
    assert cea.command_code == 257 and result_code(cea) == 2001


async def test_batch_handler_answers_each_read_in_one_write(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client, server = trio.testing.memory_stream_pair()
    handler, buffer = Recorder(), ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), handler)
            await handshake(client, buffer)
            await client.send_all(ccr(1))
            assert (await read_message(client, buffer)).hop_by_hop == 1
            await client.send_all(ccr(2) + ccr(3) + ccr(4))
            data = await client.receive_some(65536)  # one write holds all three answers
            buffer.feed(data)
            assert [decode_message(m).hop_by_hop for m in buffer.messages()] == [2, 3, 4]
            assert handler.batches == [[1], [2, 3, 4]]
            nursery.cancel_scope.cancel()


async def test_handler_exception_answers_5012_for_the_batch_and_survives(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    def flaky(requests: list[Message]) -> Sequence[bytes]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("ledger bug")
        return [answer(r) for r in requests]

    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), flaky)
            await handshake(client, buffer)
            await client.send_all(ccr(1) + ccr(2))
            first = [await read_message(client, buffer) for _ in range(2)]
            assert [result_code(m) for m in first] == [5012, 5012]
            assert [m.hop_by_hop for m in first] == [1, 2]
            await client.send_all(ccr(3))
            assert result_code(await read_message(client, buffer)) == 2001
            nursery.cancel_scope.cancel()


def _junk(requests: list[Message]) -> Sequence[bytes]:
    return [answer(requests[0]), b"junk"]


def _lying_length(requests: list[Message]) -> Sequence[bytes]:
    # one extra word after a whole message: its length field lies
    return [answer(requests[0]), answer(requests[1]) + b"\0\0\0\0"]


@pytest.mark.parametrize("sloppy", [_junk, _lying_length])
async def test_unusable_answer_is_replaced_for_its_request_only(
    autojump_clock: trio.testing.MockClock,
    sloppy: Callable[[list[Message]], Sequence[bytes]],
) -> None:
    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), sloppy)
            await handshake(client, buffer)
            await client.send_all(ccr(1) + ccr(2))
            assert [result_code(await read_message(client, buffer)) for _ in range(2)] == [
                2001,
                5012,
            ]
            nursery.cancel_scope.cancel()


async def test_reading_goes_on_while_a_batch_waits_for_durability(
    autojump_clock: trio.testing.MockClock,
) -> None:
    commits = [trio.Event(), trio.Event()]
    seen: list[int] = []

    def durable(requests: list[Message]) -> BatchResult:
        seen.extend(r.hop_by_hop for r in requests)
        return BatchResult([answer(r) for r in requests], commits[len(seen) - 1].wait())

    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), durable)
            await handshake(client, buffer)
            await client.send_all(ccr(1))
            await trio.testing.wait_all_tasks_blocked()
            await client.send_all(ccr(2))
            await trio.testing.wait_all_tasks_blocked()
            assert seen == [1, 2]  # the second batch was handled before the first commit
            commits[1].set()  # the later commit first: answers still leave in order
            await trio.testing.wait_all_tasks_blocked()
            commits[0].set()
            assert [(await read_message(client, buffer)).hop_by_hop for _ in range(2)] == [1, 2]
            nursery.cancel_scope.cancel()


async def test_failed_durability_wait_answers_5012(autojump_clock: trio.testing.MockClock) -> None:
    async def commit_fails() -> None:
        raise OSError("disk full")

    def durable(requests: list[Message]) -> BatchResult:
        return BatchResult([answer(r) for r in requests], commit_fails())

    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), durable)
            await handshake(client, buffer)
            await client.send_all(ccr(1) + ccr(2))
            assert [result_code(await read_message(client, buffer)) for _ in range(2)] == [
                5012,
                5012,
            ]
            await client.send_all(base(280, 7))
            assert (await read_message(client, buffer)).command_code == 280  # still serving
            nursery.cancel_scope.cancel()


async def test_watchdog_dwr_after_tw_of_silence(autojump_clock: trio.testing.MockClock) -> None:
    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), Recorder())
            await handshake(client, buffer)
            start = trio.current_time()
            dwr = await read_message(client, buffer)  # the clock jumps over 30 idle seconds
            assert dwr.command_code == 280 and dwr.is_request
            assert trio.current_time() - start == pytest.approx(30)
            await client.send_all(base(280, dwr.hop_by_hop, request=False))
            again = await read_message(client, buffer)
            assert again.command_code == 280
            assert trio.current_time() - start == pytest.approx(60)
            nursery.cancel_scope.cancel()


async def test_silent_peer_is_dropped(autojump_clock: trio.testing.MockClock) -> None:
    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), Recorder())
            await handshake(client, buffer)
            start = trio.current_time()
            assert (await read_message(client, buffer)).command_code == 280  # DWR, unanswered
            assert await client.receive_some(100) == b""  # then the server hangs up
            assert trio.current_time() - start == pytest.approx(60)


async def test_no_cer_is_dropped_after_the_handshake_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(100):
        await serve_peer(server, server_conn(handshake_timeout=10.0), Recorder())
    assert trio.current_time() == pytest.approx(10)


async def test_dpr_from_the_peer_closes(autojump_clock: trio.testing.MockClock) -> None:
    client, server = trio.testing.memory_stream_pair()
    buffer = ReceiveBuffer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server, server_conn(), Recorder())
            await handshake(client, buffer)
            await client.send_all(base(282, 9, body=u32(273, 0)))
            dpa = await read_message(client, buffer)
            assert dpa.command_code == 282 and not dpa.is_request and result_code(dpa) == 2001
            assert await client.receive_some(100) == b""


async def test_client_and_server_over_memory_streams(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    server = server_conn()
    handler = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_peer, server_stream, server, handler)
            async with connect_peer(client_stream, client_conn()) as peer:
                assert peer.remote is not None and peer.remote.origin_host == "ocs.test"
                answers = await peer.request_many([ccr(0), ccr(0), ccr(0)])
                assert [m.hop_by_hop for m in answers] == handler.batches[0]
                assert len(handler.batches) == 1  # one write, one batch
            # leaving the block sent DPR; the server answered DPA and closed
            assert server.state is PeerState.CLOSED


async def test_server_handle_disconnects_with_dpr(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client = client_conn()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            handle: PeerHandle = await nursery.start(
                serve_peer, server_stream, server_conn(), Recorder()
            )
            async with connect_peer(client_stream, client):
                await handle.disconnect(1)
        assert client.state is PeerState.CLOSED


async def test_rejected_capabilities_raise(autojump_clock: trio.testing.MockClock) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    refusing = server_conn(peer_policy=allow_peers(hosts=["someone.else"]))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_peer, server_stream, refusing, Recorder())
            with pytest.raises(PeerClosedError) as info:
                async with connect_peer(client_stream, client_conn()):
                    pytest.fail("opened")
    assert info.value.result_code == ResultCode.DIAMETER_UNKNOWN_PEER


async def test_over_loopback_tcp() -> None:
    handler = Recorder()

    async def accept(stream: trio.SocketStream) -> None:
        await serve_peer(stream, server_conn(), handler)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            serve = functools.partial(trio.serve_tcp, accept, 0, host="127.0.0.1")
            listeners: list[trio.SocketListener] = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
            async with open_peer("127.0.0.1", port, client_conn()) as peer:
                answer_message = await peer.request(ccr(0))
                assert result_code(answer_message) == 2001
                assert len(await peer.request_many([ccr(0)] * 5)) == 5
            nursery.cancel_scope.cancel()
