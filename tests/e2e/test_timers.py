"""Tcc on an autojump clock, the Origin-State-Id rule, and the metrics endpoint."""

from __future__ import annotations

import urllib.request
from dataclasses import replace

import trio
import trio.testing

from ocs.app import OcsServer
from ocs.metrics import Metrics
from ocs.persist import load_book, open_database
from protocol.capabilities import Capabilities
from protocol.cc_client import MsccRequest
from protocol.codec import decode_message
from protocol.codes import CcRequestType
from protocol.trio_peer import BatchResult
from storage.writer import GroupCommitWriter
from tests.loopback import free_port

from .conftest import GW, MSISDN, Gateway, gateway, ocs_config, running_ocs

T = CcRequestType


async def test_tcc_releases_a_silent_sessions_hold(
    db_url: str, autojump_clock: trio.testing.MockClock
) -> None:
    config = ocs_config(db_url)
    config = replace(config, credit=replace(config.credit, tcc=60))
    engine = open_database(db_url)
    book = load_book(engine, monotonic_now=trio.current_time())
    writer = GroupCommitWriter(engine).start()
    try:
        server = OcsServer(config, book, writer, Metrics(), engine)
        await server.apply_new_events(None)  # the demo top-ups
        gw = Gateway(None, iter(range(1, 100)))  # type: ignore[arg-type]
        raw = gw.ccr("silent;1", T.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=1)])
        result = server.handler([decode_message(raw, lazy=True)])
        assert isinstance(result, BatchResult) and result.durable is not None
        await result.durable
        account = book.ledger.account(book.directory.by_msisdn(MSISDN).account_id)  # type: ignore[union-attr]
        assert account.reserved > 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.tcc_loop)
            await trio.sleep(59)
            assert account.reserved > 0 and len(book.sessions) == 1
            await trio.sleep(3)  # Tcc (60 s) has run out: RFC 8506 §7 -> Idle
            assert account.reserved == 0 and len(book.sessions) == 0
            nursery.cancel_scope.cancel()
    finally:
        await trio.to_thread.run_sync(writer.close, 10.0)


async def test_a_restarted_peer_loses_its_old_sessions(db_url: str) -> None:
    async with running_ocs(ocs_config(db_url)) as bound:
        first = replace(GW, origin_state_id=1)
        async with gateway(bound, caps=first) as gw:
            await gw.ask(gw.ccr("old;1", T.INITIAL_REQUEST, 0, msccs=[MsccRequest()]))
            assert bound.server.metrics.peers._value.get() == 1
        assert len(bound.server.book.sessions) == 1
        with trio.fail_after(5):  # the closed connection is forgotten, the gauge goes down
            while bound.server.handles:  # noqa: ASYNC110 - state owned by the server
                await trio.sleep(0.01)
        assert bound.server.metrics.peers._value.get() == 0
        restarted: Capabilities = replace(GW, origin_state_id=2)
        async with gateway(bound, caps=restarted) as gw:
            with trio.fail_after(5):
                while len(bound.server.book.sessions):  # noqa: ASYNC110 - state owned by the server
                    await trio.sleep(0.01)
        book = bound.server.book
        subscriber = book.directory.by_msisdn(MSISDN)
        assert subscriber is not None
        assert book.ledger.account(subscriber.account_id).reserved == 0


async def test_metrics_endpoint(db_url: str) -> None:
    port = free_port()
    config = ocs_config(db_url)
    config = replace(config, metrics=replace(config.metrics, port=port))
    async with running_ocs(config) as bound, gateway(bound) as gw:
        await gw.ask(gw.ccr("m;1", T.INITIAL_REQUEST, 0, msccs=[MsccRequest()]))
        text = await trio.to_thread.run_sync(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
                .read()
                .decode()
            )
        )
    assert 'ocs_answers_total{result_code="2001"} 1.0' in text
    assert 'ocs_requests_total{command="CCR",request_type="initial"} 1.0' in text
    assert "ocs_request_seconds_bucket" in text
    assert "ocs_commit_batch_rows_count" in text
