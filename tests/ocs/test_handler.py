"""The batch handler: duplicates (RFC 6733 §3, App. C), charging keys, ordering,
overload and a database that is down; a fake persistence records what was written."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio

from ocs.charging import Charger
from ocs.handler import CreditControlHandler, HandlerOptions
from ocs.metrics import Metrics
from protocol.cc_client import MsccRequest, encode_ccr, parse_cca
from protocol.codec import Message, decode_message
from protocol.codes import CcRequestType, HeaderFlag, ResultCode, SubscriptionIdType
from protocol.trio_peer import BatchResult
from protocol.units import ServiceUnits
from storage.records import WriteBatch

from .test_charging import EUR, MB, WALL, charger

T = CcRequestType


@dataclass
class FakeCommit:
    async def wait(self) -> None:
        await trio.lowlevel.checkpoint()


@dataclass
class FakePersistence:
    batches: list[WriteBatch] = field(default_factory=list)
    up: bool = True
    busy: bool = False

    def submit(self, batch: WriteBatch) -> FakeCommit:
        self.batches.append(batch)
        return FakeCommit()

    def available(self) -> bool:
        return self.up

    def overloaded(self) -> bool:
        return self.busy


def make(
    *, durable: bool = True, drop: bool = False
) -> tuple[CreditControlHandler, FakePersistence]:
    persistence = FakePersistence()
    handler = CreditControlHandler(
        charger=charger((1, "4917001", 10 * EUR, None)),
        persistence=persistence,
        options=HandlerOptions(
            origin_host="ocs.test",
            origin_realm="test",
            durable=durable,
            answer_when_unavailable=not drop,
        ),
        metrics=Metrics(),
        clock=lambda: 0.0,
        wall_clock=lambda: WALL,
    )
    return handler, persistence


def ccr(
    kind: CcRequestType, number: int, e2e: int, *, octets: int = 0, retransmission: bool = False
) -> Message:
    used = (ServiceUnits(total_octets=octets),) if octets else ()
    raw = encode_ccr(
        session_id="gw;1",
        origin_host="gw.test",
        origin_realm="test",
        destination_realm="ocs",
        service_context_id="32251@3gpp.org",
        cc_request_type=kind,
        cc_request_number=number,
        hop_by_hop=e2e + 1000,
        end_to_end=e2e,
        subscription_ids=[(SubscriptionIdType.END_USER_E164, "4917001")],
        msccs=[MsccRequest(rating_group=10, used=used)],
        retransmission=retransmission,
    )
    return decode_message(raw, lazy=True)


async def answers(result: object) -> list[bytes | None]:
    """The batch's answers, once its durability (the fake commit) has been awaited."""
    assert isinstance(result, BatchResult)
    assert result.durable is not None
    await result.durable
    return list(result.answers)


def result_code(answer: bytes | None) -> int:
    assert answer is not None
    avp = decode_message(answer).find(268)
    assert avp is not None
    return int.from_bytes(avp.data, "big")


def balance(handler: CreditControlHandler) -> int:
    return handler.charger.ledger.account(1).balance


async def test_durable_answers_wait_for_one_write_per_batch() -> None:
    handler, persistence = make()
    result = handler([ccr(T.INITIAL_REQUEST, 0, 1), ccr(T.UPDATE_REQUEST, 1, 2, octets=MB)])
    await answers(result)
    assert len(persistence.batches) == 1
    assert persistence.batches[0].postings and persistence.batches[0].sessions


async def test_fast_ack_answers_at_once_but_still_writes() -> None:
    handler, persistence = make(durable=False)
    result = handler([ccr(T.INITIAL_REQUEST, 0, 1)])
    assert not isinstance(result, BatchResult)
    assert len(persistence.batches) == 1


async def test_duplicate_end_to_end_replays_the_same_answer_with_or_without_t_flag() -> None:
    handler, _ = make()
    (first,) = await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB)]))
    charged = balance(handler)
    for retransmission in (False, True):
        (again,) = await answers(
            handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB, retransmission=retransmission)])
        )
        assert again is not None
        assert parse_cca(decode_message(again)).result_code == ResultCode.DIAMETER_SUCCESS
    assert balance(handler) == charged  # MUST NOT affect any state (RFC 6733 §3)
    assert first is not None and decode_message(first).end_to_end == 1


async def test_retransmission_arriving_before_the_original_is_still_charged_once() -> None:
    handler, _ = make()
    await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    # RFC 6733 App. C: the T-flagged copy comes first, the original after it.
    (copy,) = await answers(handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB, retransmission=True)]))
    (original,) = await answers(handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB)]))
    assert copy is not None and original is not None
    assert copy[20:] == original[20:]
    assert balance(handler) == 10 * EUR - 10_000


async def test_same_charge_under_a_new_end_to_end_id_is_not_charged_twice() -> None:
    handler, _ = make()
    await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB)]))
    (again,) = await answers(
        handler([ccr(T.UPDATE_REQUEST, 1, 99, octets=MB)])
    )  # failover: new E2E
    assert again is not None and decode_message(again).end_to_end == 99
    assert balance(handler) == 10 * EUR - 10_000


async def test_clients_that_always_send_number_zero_are_charged_for_each_new_report() -> None:
    handler, _ = make()
    await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 0, 2, octets=MB)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 0, 3, octets=2 * MB)]))  # PyHSS: number 0 again
    assert balance(handler) == 10 * EUR - 30_000


async def test_one_sessions_requests_are_processed_in_number_order_within_a_batch() -> None:
    handler, _ = make()
    out = await answers(
        handler([ccr(T.UPDATE_REQUEST, 1, 2, octets=MB), ccr(T.INITIAL_REQUEST, 0, 1)])
    )
    codes = [parse_cca(decode_message(a)).result_code for a in out if a is not None]
    assert codes == [2001, 2001]  # the update after the initial, not 5002
    assert [decode_message(a).end_to_end for a in out if a is not None] == [2, 1]  # arrival order


async def test_overload_answers_3004_with_the_e_bit() -> None:
    handler, persistence = make()
    persistence.busy = True
    (answer,) = handler([ccr(T.INITIAL_REQUEST, 0, 1)])  # type: ignore[misc]
    assert answer is not None
    message = decode_message(answer)
    assert message.flags & HeaderFlag.ERROR
    assert parse_cca(message).result_code == ResultCode.DIAMETER_TOO_BUSY
    assert handler.charger.ledger.account(1).reserved == 0


async def test_database_down_answers_5012_or_nothing_and_changes_nothing() -> None:
    for drop in (False, True):
        handler, persistence = make(drop=drop)
        persistence.up = False
        (answer,) = handler([ccr(T.INITIAL_REQUEST, 0, 1)])  # type: ignore[misc]
        if drop:
            assert answer is None
        else:
            assert answer is not None
            assert (
                parse_cca(decode_message(answer)).result_code
                == ResultCode.DIAMETER_UNABLE_TO_COMPLY
            )
        assert persistence.batches == []
        assert len(handler.charger.sessions) == 0


async def test_malformed_ccr_gets_its_error_and_others_in_the_batch_are_served() -> None:
    handler, _ = make()
    good = ccr(T.INITIAL_REQUEST, 0, 1)
    bad = Message(272, 0xC0, 4, 5, 5, decode_message(good.encode()).avps[1:])  # no Session-Id
    out = await answers(handler([decode_message(bad.encode(), lazy=True), good]))
    assert result_code(out[0]) == ResultCode.DIAMETER_MISSING_AVP
    assert result_code(out[1]) == ResultCode.DIAMETER_SUCCESS


async def test_unsupported_command_and_application() -> None:
    handler, _ = make()
    str_request = Message(275, 0xC0, 4, 1, 1, ()).encode()
    other_app = Message(272, 0xC0, 16777238, 2, 2, ()).encode()
    out = handler([decode_message(str_request), decode_message(other_app)])
    assert isinstance(out, list)
    assert [result_code(a) for a in out] == [3001, 3007]


async def test_byte_identical_reports_numbered_zero_are_each_charged() -> None:
    handler, _ = make()
    await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 0, 2, octets=MB)]))
    await answers(handler([ccr(T.UPDATE_REQUEST, 0, 3, octets=MB)]))  # same body, new E2E
    assert balance(handler) == 10 * EUR - 20_000
    # ...while a retransmission of the last one (same End-to-End id, T flag) is not
    await answers(handler([ccr(T.UPDATE_REQUEST, 0, 3, octets=MB, retransmission=True)]))
    assert balance(handler) == 10 * EUR - 20_000


def test_replay_cache_expires_by_time_and_is_bounded_in_size() -> None:
    from ocs.sessions import ReplayCache

    cache = ReplayCache(240.0, max_entries=3)
    for n in range(5):
        cache.put(n, b"answer", now=float(n))
    assert len(cache) == 3 and cache.evicted == 2
    assert cache.get(0, now=5.0) is None and cache.get(4, now=5.0) is not None
    assert cache.get(4, now=244.0) is None  # past its four minutes
    assert cache.expire(now=250.0) == 3 and len(cache) == 0


async def test_an_unexpected_fault_mid_request_answers_5012_and_still_writes_what_was_charged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, persistence = make()
    await answers(handler([ccr(T.INITIAL_REQUEST, 0, 1)]))
    real_one = Charger._one
    calls: list[int] = []

    def flaky(self: Charger, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bug in the second rating group")
        return real_one(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Charger, "_one", flaky)
    two = [MsccRequest(rating_group=10, used=(ServiceUnits(total_octets=MB),)),
           MsccRequest(rating_group=20, used=(ServiceUnits(total_octets=MB),))]  # fmt: skip
    raw = encode_ccr(
        session_id="gw;1", origin_host="gw.test", origin_realm="test", destination_realm="ocs",
        service_context_id="32251@3gpp.org", cc_request_type=T.UPDATE_REQUEST,
        cc_request_number=1, hop_by_hop=7, end_to_end=7,
        subscription_ids=[(SubscriptionIdType.END_USER_E164, "4917001")], msccs=two,
    )  # fmt: skip
    before = len(persistence.batches)
    (answer,) = await answers(handler([decode_message(raw, lazy=True)]))
    assert result_code(answer) == ResultCode.DIAMETER_UNABLE_TO_COMPLY
    # RG 10 was charged in memory before the fault: its postings went to SQL anyway
    written = [p for batch in persistence.batches[before:] for p in batch.postings]
    assert sum(p.amount for p in written) == -10_000
    assert balance(handler) == 10 * EUR - 10_000


async def test_repeated_layouts_are_read_by_compiled_readers_and_charged_alike() -> None:
    """A session's updates share one layout: from the third on, a compiled reader
    reads them (protocol.layouts). Answers and journal are byte for byte those of a
    handler that only walks, and the metric says which reader read what."""
    handler, persistence = make()
    walker, walker_persistence = make()
    walker.ccr_reader.learn_after = 10**9  # never compiles
    requests = [ccr(T.INITIAL_REQUEST, 0, 1)]
    requests += [ccr(T.UPDATE_REQUEST, n, 1 + n, octets=n * MB) for n in range(1, 6)]
    for request in requests:
        assert await answers(handler([request])) == await answers(walker([request]))
    assert persistence.batches == walker_persistence.batches
    reader = handler.ccr_reader
    assert (reader.walks, reader.hits, reader.compiled) == (3, 3, 1)
    assert walker.ccr_reader.hits == 0
    sample = handler.metrics.registry.get_sample_value
    assert sample("ocs_ccr_reads_total", {"reader": "compiled"}) == 3
    assert sample("ocs_ccr_reads_total", {"reader": "walked"}) == 3
    assert sample("ocs_ccr_reads_total", {"reader": "checked"}) == 0
    raw = ccr(T.UPDATE_REQUEST, 9, 99).raw
    assert raw is not None
    bad = decode_message(raw[:-8] + b"\0" * 8, lazy=True)  # last 8 bytes zeroed
    result = handler([bad])  # nothing to write: answered at once
    assert not isinstance(result, BatchResult)
    (refused,) = result
    assert result_code(refused) != ResultCode.DIAMETER_SUCCESS
    assert sample("ocs_ccr_reads_total", {"reader": "checked"}) == 1
    assert sample("ocs_ccr_layouts_compiled_total") == 1
