"""The sans-IO peer connection (RFC 6733 §5, RFC 3539 §3.4): table, messages, timers, faults."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.answers import IdGenerator
from protocol.capabilities import Capabilities
from protocol.codec import (
    Message,
    decode_avps,
    decode_message,
    decode_unsigned32,
    encode_avp,
    encode_message,
)
from protocol.codes import AvpCode as BaseAvp
from protocol.codes import HeaderFlag
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.events import (
    NEED_DATA,
    AnswerReceived,
    ConnectionClosed,
    Event,
    PeerClosing,
    PeerOpened,
    RequestReceived,
    RequestRejected,
    WatchdogFailed,
)
from protocol.framing import ReceiveBuffer
from protocol.peer import (
    LOCAL_INPUTS,
    TRANSITIONS,
    PeerConfig,
    PeerConnection,
    PeerInput,
    PeerState,
    Role,
    _Rx,
    allow_peers,
)

R, P, E = int(HeaderFlag.REQUEST), int(HeaderFlag.PROXIABLE), int(HeaderFlag.ERROR)
S, In = PeerState, PeerInput

OCS = Capabilities(
    origin_host="ocs.test",
    origin_realm="test",
    host_ip_addresses=("127.0.0.1", "::1"),
    product_name="ocs",
    origin_state_id=1_700_000_000,
    firmware_revision=7,
)
GW = Capabilities(
    origin_host="gw.test",
    origin_realm="gw.realm",
    host_ip_addresses=("10.0.0.1",),
    vendor_id=10415,
    product_name="gw",
    origin_state_id=3,
)


# ----------------------------------------------------------------------------- helpers


def u32(code: int, value: int) -> bytes:
    return encode_avp(code, value.to_bytes(4, "big"))


def make(
    role: Role, *, now: float = 0.0, caps: Capabilities = OCS, **options: Any
) -> PeerConnection:
    config = PeerConfig(capabilities=caps, **options)
    return PeerConnection(config, role=role, now=now, ids=IdGenerator(now=0, seed=1))


def cer(caps: Capabilities = GW, *, hop: int = 1) -> bytes:
    return encode_message(257, R, 0, hop, hop, caps.encode())


def cea(caps: Capabilities = OCS, *, hop: int, code: int = 2001) -> bytes:
    return encode_message(257, 0, 0, hop, hop, u32(268, code) + caps.encode())


def ccr(hop: int, *, app: int = 4, flags: int = R | P, session: bytes = b"gw;1") -> bytes:
    body = encode_avp(263, session) + encode_avp(264, b"gw.test") + encode_avp(296, b"gw.realm")
    return encode_message(272, flags, app, hop, hop + 1000, body + u32(258, 4) + u32(416, 1))


def cca(hop: int) -> bytes:
    return encode_message(272, P, 4, hop, hop + 1000, encode_avp(263, b"gw;1") + u32(268, 2001))


def base(command: int, hop: int, *, request: bool = True, body: bytes = b"") -> bytes:
    ident = encode_avp(264, b"gw.test") + encode_avp(296, b"gw.realm")
    if not request:
        ident = u32(268, 2001) + ident
    return encode_message(command, R if request else 0, 0, hop, hop, ident + body)


def drain(conn: PeerConnection) -> list[Event]:
    out: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def feed(conn: PeerConnection, data: bytes, now: float = 0.0) -> list[Event]:
    conn.receive_data(data, now)
    return drain(conn)


def sent(conn: PeerConnection) -> list[Message]:
    buffer = ReceiveBuffer()
    buffer.feed(conn.data_to_send())
    return [decode_message(raw) for raw in buffer.messages()]


def result_code(message: Message) -> int:
    avp = message.find(BaseAvp.RESULT_CODE)
    assert avp is not None
    return decode_unsigned32(avp)


def state_of(conn: PeerConnection) -> PeerState:
    """The state, read through a call so mypy does not narrow it across actions."""
    return conn.state


def opened(now: float = 0.0, **options: Any) -> PeerConnection:
    conn = make(Role.RESPONDER, now=now, **options)
    assert isinstance(feed(conn, cer(), now)[0], PeerOpened)
    conn.data_to_send()
    return conn


# ------------------------------------------------------------------------ the table

NOW = 100.0


def in_state(state: PeerState) -> PeerConnection:
    """A connection driven into ``state`` through the public API, its output drained."""
    if state is S.WAIT_CONN_ACK:
        conn = make(Role.INITIATOR, now=NOW)
    elif state is S.WAIT_I_CEA:
        conn = make(Role.INITIATOR, now=NOW)
        conn.start(NOW)
    elif state is S.WAIT_CER:
        conn = make(Role.RESPONDER, now=NOW)
    else:
        conn = opened(NOW)
        if state is S.CLOSING:
            conn.disconnect(2, NOW)
        elif state is S.PEER_CLOSING:
            feed(conn, ccr(77) + base(282, 78, body=u32(273, 1)), NOW)
        elif state is S.CLOSED:
            feed(conn, b"", NOW)
    drain(conn)
    conn.data_to_send()
    assert state_of(conn) is state
    return conn


def _cea_for(conn: PeerConnection, code: int = 2001) -> bytes:
    return cea(hop=conn._cer_hop if conn._cer_hop is not None else 999, code=code)


#: how each input is produced from outside (timers and internal inputs are absent)
STIMULI: dict[PeerInput, Callable[[PeerConnection], object]] = {
    In.START: lambda c: c.start(NOW),
    In.SEND_REQUEST: lambda c: c.send(ccr(c.ids.next_hop_by_hop())),
    In.SEND_ANSWER: lambda c: c.send(cca(4242)),
    In.STOP: lambda c: c.disconnect(2, NOW),
    In.RECV_CER: lambda c: feed(c, cer(), NOW),
    In.RECV_CER_REJECTED: lambda c: feed(c, _cer_with(auth_application_ids=(3,)), NOW),
    In.RECV_CEA: lambda c: feed(c, _cea_for(c), NOW),
    In.RECV_CEA_REJECTED: lambda c: feed(c, _cea_for(c, code=5010), NOW),
    In.RECV_DWR: lambda c: feed(c, base(280, 500), NOW),
    In.RECV_DWA: lambda c: feed(c, base(280, 501, request=False), NOW),
    In.RECV_DPR: lambda c: feed(c, base(282, 502, body=u32(273, 0)), NOW),
    In.RECV_DPA: lambda c: feed(c, base(282, 503, request=False), NOW),
    In.RECV_REQUEST: lambda c: feed(c, ccr(504), NOW),
    In.RECV_ANSWER: lambda c: feed(c, cca(505), NOW),
    In.RECV_BAD_REQUEST: lambda c: feed(c, ccr(506, app=99), NOW),
    In.RECV_FATAL: lambda c: feed(c, b"\x02" + ccr(507)[1:], NOW),
    In.RECV_EOF: lambda c: feed(c, b"", NOW),
}  # fmt: skip


def _fields(caps: Capabilities) -> dict[str, object]:
    return {name: getattr(caps, name) for name in caps.__dataclass_fields__}


#: legal pairs whose action chains into a further input (DPR with nothing unanswered)
CASCADE = {(S.OPEN, In.RECV_DPR): S.CLOSED}
PAIRS = [(state, inp) for state in PeerState for inp in PeerInput]


@pytest.mark.parametrize(("state", "inp"), PAIRS, ids=[f"{s.name}-{i.name}" for s, i in PAIRS])
def test_every_pair_of_the_table(state: PeerState, inp: PeerInput) -> None:
    """Each (state, input) applied to the machine: the table's state, or the illegal path."""
    conn = in_state(state)
    legal = (state, inp) in TRANSITIONS
    if not legal and inp in LOCAL_INPUTS:
        with pytest.raises(LocalProtocolError):
            conn._advance(_Rx(inp))
        assert state_of(conn) is state
        return
    conn._advance(_Rx(inp))
    events = drain(conn)
    if legal:
        assert state_of(conn) is CASCADE.get((state, inp), TRANSITIONS[state, inp][0])
    else:  # a remote input out of place closes (RFC 6733 §5.6)
        assert state_of(conn) is S.CLOSED
        assert state is S.CLOSED or isinstance(events[-1], ConnectionClosed)


@pytest.mark.parametrize(
    ("state", "inp"),
    [(s, i) for s, i in PAIRS if i in STIMULI],
    ids=[f"{s.name}-{i.name}" for s, i in PAIRS if i in STIMULI],
)
def test_every_pair_from_the_wire(state: PeerState, inp: PeerInput) -> None:
    """The same pairs driven by real bytes and API calls, classification included."""
    conn = in_state(state)
    legal = (state, inp) in TRANSITIONS
    if inp in LOCAL_INPUTS and not legal:
        with pytest.raises(LocalProtocolError):
            STIMULI[inp](conn)
        assert state_of(conn) is state
        return
    STIMULI[inp](conn)
    drain(conn)
    expected = CASCADE.get((state, inp), TRANSITIONS[state, inp][0]) if legal else S.CLOSED
    if state is S.OPEN and inp is In.RECV_CEA:
        expected = state  # answers no CER of ours (so REJECTED), ignored all the same
    if state in (S.WAIT_CONN_ACK, S.WAIT_CER) and inp is In.RECV_CEA:
        expected = S.CLOSED
    assert state_of(conn) is expected


def test_timer_inputs_follow_the_state() -> None:
    conn = opened(0.0)
    conn.handle_timer(30.0)
    assert conn._dwr_pending and state_of(conn) is S.OPEN
    conn.handle_timer(60.0)
    assert state_of(conn) is S.CLOSED


# ------------------------------------------------------------------ capabilities


def test_cea_carries_full_capabilities() -> None:
    conn = make(Role.RESPONDER)
    (event,) = feed(conn, cer(hop=0xABCDEF))
    (answer,) = sent(conn)
    assert answer.command_code == 257 and answer.flags == 0
    assert answer.hop_by_hop == answer.end_to_end == 0xABCDEF
    codes = [a.code for a in answer.avps]
    assert codes[:3] == [268, 264, 296] and codes.count(257) == 2
    assert result_code(answer) == 2001
    for code, value in [(266, 0), (278, 1_700_000_000), (265, 10415), (258, 4), (267, 7)]:
        avp = answer.find(code)
        assert avp is not None and decode_unsigned32(avp) == value
    product = answer.find(269)
    assert product is not None and product.data == b"ocs" and not product.mandatory
    assert isinstance(event, PeerOpened)
    assert (event.origin_host, event.origin_realm, event.origin_state_id) == (
        "gw.test",
        "gw.realm",
        3,
    )
    assert event.host_ip_addresses == ("10.0.0.1",) and event.product_name == "gw"
    assert event.vendor_id == 10415 and event.common_applications == {4}
    assert conn.remote == event and state_of(conn) is S.OPEN


def test_initiator_sends_cer_and_opens_on_cea() -> None:
    conn = make(Role.INITIATOR, caps=GW)
    conn.start(0.0)
    (request,) = sent(conn)
    assert request.command_code == 257 and request.is_request and not request.is_proxiable
    assert [a.code for a in request.avps][:2] == [264, 296]
    (event,) = feed(conn, cea(hop=request.hop_by_hop))
    assert isinstance(event, PeerOpened) and event.origin_host == "ocs.test"
    assert state_of(conn) is S.OPEN


@pytest.mark.parametrize("code", [5010, 3010, 4003])
def test_initiator_closes_on_a_failed_cea(code: int) -> None:
    conn = make(Role.INITIATOR, caps=GW)
    conn.start(0.0)
    (request,) = sent(conn)
    (event,) = feed(conn, cea(hop=request.hop_by_hop, code=code))
    assert isinstance(event, ConnectionClosed) and event.result_code == code


def _cer_with(**changes: object) -> bytes:
    return cer(Capabilities(**{**_fields(GW), **changes}))  # type: ignore[arg-type]


def test_no_common_application_is_5010_then_close() -> None:
    conn = make(Role.RESPONDER)
    (event,) = feed(conn, _cer_with(auth_application_ids=(), acct_application_ids=(3,)))
    (answer,) = sent(conn)
    assert result_code(answer) == 5010 and not answer.is_error
    assert answer.find(BaseAvp.HOST_IP_ADDRESS) is not None  # a full CEA (§5.3.2)
    assert isinstance(event, ConnectionClosed) and event.result_code == 5010
    assert state_of(conn) is S.CLOSED


@pytest.mark.parametrize(
    "changes",
    [
        {"auth_application_ids": (0xFFFFFFFF,)},
        {"auth_application_ids": (), "vendor_specific_application_ids": ((10415, 4),)},
        {"auth_application_ids": (1, 4)},
    ],
)
def test_relay_and_vendor_specific_applications_count(changes: dict[str, object]) -> None:
    conn = make(Role.RESPONDER)
    (event,) = feed(conn, _cer_with(**changes))
    assert isinstance(event, PeerOpened) and 4 in event.common_applications


def test_unknown_peer_is_3010_with_e_bit_then_close() -> None:
    conn = make(Role.RESPONDER, peer_policy=allow_peers(hosts=["other.test"], realms=["x"]))
    (event,) = feed(conn, cer())
    (answer,) = sent(conn)
    assert result_code(answer) == 3010 and answer.is_error
    assert isinstance(event, ConnectionClosed) and event.result_code == 3010


def test_allow_list_admits_by_host_or_realm_ignoring_case() -> None:
    policy = allow_peers(hosts=["GW.test"], realms=["Realm.B"])
    assert policy("gw.TEST", "a") and policy("x", "realm.b") and not policy("x", "a")
    conn = make(Role.RESPONDER, peer_policy=allow_peers(realms=["gw.realm"]))
    assert isinstance(feed(conn, cer())[0], PeerOpened)


def test_cer_missing_origin_host_is_5005_with_failed_avp() -> None:
    body = b"".join(
        encode_avp(a.code, a.data, flags=a.flags) for a in decode_avps(GW.encode()) if a.code != 264
    )
    conn = make(Role.RESPONDER)
    (event,) = feed(conn, encode_message(257, R, 0, 9, 9, body))
    (answer,) = sent(conn)
    assert result_code(answer) == 5005
    failed = answer.find(BaseAvp.FAILED_AVP)
    assert failed is not None and decode_avps(failed)[0].code == 264
    assert isinstance(event, ConnectionClosed)


def test_second_cer_after_open_is_answered_again() -> None:
    conn = opened()
    assert feed(conn, cer(hop=2)) == []
    (answer,) = sent(conn)
    assert result_code(answer) == 2001 and state_of(conn) is S.OPEN


def test_non_cer_before_open_closes_without_answer() -> None:
    conn = make(Role.RESPONDER)
    (event,) = feed(conn, base(280, 1))
    assert isinstance(event, ConnectionClosed) and conn.data_to_send() == b""


def test_handshake_timeout() -> None:
    conn = make(Role.RESPONDER, now=10.0, handshake_timeout=5.0)
    assert conn.next_deadline() == 15.0
    conn.handle_timer(14.9)
    assert state_of(conn) is S.WAIT_CER
    conn.handle_timer(15.0)
    (event,) = drain(conn)
    assert isinstance(event, ConnectionClosed) and conn.next_deadline() is None


# ---------------------------------------------------------------------- watchdog


def test_dwr_after_tw_of_silence_and_dwa_resets() -> None:
    conn = opened(0.0)
    assert conn.next_deadline() == 30.0
    conn.handle_timer(29.9)
    assert conn.data_to_send() == b""
    conn.handle_timer(30.0)
    (dwr,) = sent(conn)
    assert dwr.command_code == 280 and dwr.is_request and dwr.application_id == 0
    assert [a.code for a in dwr.avps] == [264, 296, 278]
    assert conn.next_deadline() == 60.0
    assert feed(conn, base(280, dwr.hop_by_hop, request=False), 35.0) == []
    assert conn.next_deadline() == 65.0
    conn.handle_timer(65.0)
    assert sent(conn)[0].command_code == 280


def test_any_traffic_resets_the_watchdog() -> None:
    conn = opened(0.0)
    feed(conn, ccr(5), 20.0)
    assert conn.next_deadline() == 50.0
    conn.handle_timer(50.0)
    conn.data_to_send()
    feed(conn, ccr(6), 70.0)  # not a DWA, but proof of life
    conn.handle_timer(100.0)
    assert state_of(conn) is S.OPEN and sent(conn)[0].command_code == 280


def test_watchdog_failure_after_a_second_tw() -> None:
    conn = opened(0.0)
    conn.handle_timer(30.0)
    conn.data_to_send()
    conn.handle_timer(59.9)
    assert state_of(conn) is S.OPEN
    conn.handle_timer(60.0)
    failed, closed = drain(conn)
    assert failed == WatchdogFailed(0.0) and isinstance(closed, ConnectionClosed)
    assert state_of(conn) is S.CLOSED and conn.next_deadline() is None


def test_jitter_is_deterministic_and_bounded() -> None:
    a, b = opened(0.0, watchdog_jitter_seed=7), opened(0.0, watchdog_jitter_seed=7)
    deadline = a.next_deadline()
    assert deadline == b.next_deadline()
    assert deadline is not None and 28.0 <= deadline <= 32.0


def test_watchdog_interval_has_a_floor() -> None:
    with pytest.raises(ValueError, match="6"):
        PeerConfig(capabilities=OCS, watchdog_interval=5.0)


def test_dwr_from_peer_gets_dwa_with_origin_state_id() -> None:
    conn = opened()
    assert feed(conn, base(280, 0x77)) == []
    (dwa,) = sent(conn)
    assert dwa.command_code == 280 and not dwa.is_request and dwa.hop_by_hop == 0x77
    assert result_code(dwa) == 2001
    state = dwa.find(BaseAvp.ORIGIN_STATE_ID)
    assert state is not None and decode_unsigned32(state) == 1_700_000_000


# ------------------------------------------------------------------- disconnect


def test_dpr_from_peer_is_answered_and_closes() -> None:
    conn = opened()
    closing, closed = feed(conn, base(282, 0x99, body=u32(273, 2)))
    assert closing == PeerClosing(2) and isinstance(closed, ConnectionClosed)
    (dpa,) = sent(conn)
    assert dpa.command_code == 282 and dpa.hop_by_hop == 0x99 and result_code(dpa) == 2001
    assert state_of(conn) is S.CLOSED


def test_dpa_waits_for_outstanding_answers() -> None:
    conn = opened()
    events = feed(conn, ccr(1) + base(282, 0x99, body=u32(273, 0)))
    assert [type(e) for e in events] == [RequestReceived, PeerClosing]
    assert conn.data_to_send() == b"" and state_of(conn) is S.PEER_CLOSING
    conn.send(cca(1))
    assert [m.command_code for m in sent(conn)] == [272, 282]
    assert isinstance(drain(conn)[0], ConnectionClosed) and state_of(conn) is S.CLOSED


def test_dpa_goes_anyway_at_the_disconnect_timeout() -> None:
    conn = opened(0.0, disconnect_timeout=5.0)
    feed(conn, ccr(1) + base(282, 0x99), 1.0)
    assert conn.next_deadline() == 6.0
    conn.handle_timer(6.0)
    assert [m.command_code for m in sent(conn)] == [282]
    assert state_of(conn) is S.CLOSED


def test_our_disconnect_sends_dpr_and_closes_on_dpa() -> None:
    conn = opened()
    conn.disconnect(1, 10.0)
    (dpr,) = sent(conn)
    cause = dpr.find(BaseAvp.DISCONNECT_CAUSE)
    assert dpr.command_code == 282 and cause is not None and decode_unsigned32(cause) == 1
    assert feed(conn, ccr(3), 11.0)[0] == RequestReceived(decode_message(ccr(3)))  # still processed
    (event,) = feed(conn, base(282, dpr.hop_by_hop, request=False), 12.0)
    assert isinstance(event, ConnectionClosed) and state_of(conn) is S.CLOSED


def test_our_disconnect_times_out_without_dpa() -> None:
    conn = opened()
    conn.disconnect(0, 10.0)
    assert conn.next_deadline() == 15.0
    conn.handle_timer(15.0)
    assert isinstance(drain(conn)[0], ConnectionClosed)


def test_disconnect_before_open_just_closes() -> None:
    conn = make(Role.RESPONDER)
    conn.disconnect(0, 1.0)
    assert state_of(conn) is S.CLOSED and conn.data_to_send() == b""


# ------------------------------------------------------------- application traffic


def test_application_requests_and_answers() -> None:
    conn = opened()
    (event,) = feed(conn, ccr(10))
    assert isinstance(event, RequestReceived) and event.message.raw == ccr(10)
    conn.send(cca(10))
    assert sent(conn)[0].hop_by_hop == 10
    hop = conn.ids.next_hop_by_hop()
    conn.send(ccr(hop))
    with pytest.raises(LocalProtocolError):
        conn.send(ccr(hop))  # still outstanding
    assert feed(conn, cca(hop + 1)) == [] and conn.discarded_answers == 1
    (answer,) = feed(conn, cca(hop))
    assert isinstance(answer, AnswerReceived) and answer.message.hop_by_hop == hop


def test_send_rejects_partial_messages() -> None:
    conn = opened()
    with pytest.raises(LocalProtocolError):
        conn.send(cca(1)[:-4])


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (base(999, 1), 3001),  # unknown base command
        (ccr(1, app=5), 3007),  # application not advertised
        (ccr(1, flags=R | P | 0x02), 3008),  # reserved header bit
        (ccr(1, flags=R | P | E), 3008),  # E bit on a request
    ],
)
def test_protocol_errors_answered_with_e_bit_and_p_copied(message: bytes, code: int) -> None:
    conn = opened()
    (event,) = feed(conn, message)
    assert isinstance(event, RequestRejected) and event.result_code == code
    (answer,) = sent(conn)
    assert result_code(answer) == code and answer.is_error and not answer.is_request
    assert answer.is_proxiable == bool(message[4] & P)
    assert answer.hop_by_hop == 1
    assert isinstance(feed(conn, ccr(2))[0], RequestReceived)  # and the connection carries on


def test_3007_echoes_session_id_first() -> None:
    conn = opened()
    feed(conn, ccr(1, app=5, session=b"gw;42"))
    (answer,) = sent(conn)
    assert answer.avps[0].code == 263 and answer.avps[0].data == b"gw;42"


def test_broken_avp_in_a_base_request_is_answered_with_failed_avp() -> None:
    conn = opened()
    dwr = bytearray(base(280, 5))
    dwr[20 + 5 : 20 + 8] = (4).to_bytes(
        3, "big"
    )  # Origin-Host claims 4 bytes: shorter than its header
    (event,) = feed(conn, bytes(dwr))
    assert isinstance(event, RequestRejected) and event.result_code == 5014
    (answer,) = sent(conn)
    assert result_code(answer) == 5014 and answer.find(BaseAvp.FAILED_AVP) is not None
    assert state_of(conn) is S.OPEN


def test_bad_version_is_answered_then_closed() -> None:
    conn = opened()
    (event,) = feed(conn, b"\x02" + ccr(8)[1:])
    assert isinstance(event, ConnectionClosed) and event.result_code == 5011
    (answer,) = sent(conn)
    assert result_code(answer) == 5011 and answer.hop_by_hop == 8
    assert feed(conn, ccr(9)) == []  # closed: later bytes are dropped


def test_bad_length_without_a_whole_header_closes_silently() -> None:
    conn = opened()
    (event,) = feed(conn, b"\x01\x00\x00\x0d")
    assert isinstance(event, ConnectionClosed) and event.result_code == 5015
    assert conn.data_to_send() == b""


def test_data_after_eof_is_our_bug() -> None:
    conn = make(Role.RESPONDER)
    conn.receive_data(b"", 0.0)
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"x", 0.0)


# ------------------------------------------------------------------- properties


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_garbage_raises_nothing_but_protocol_errors(data: bytes, cuts: list[int]) -> None:
    for conn in (make(Role.RESPONDER), opened()):
        edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        try:
            for start, end in itertools.pairwise(edges):
                feed(conn, data[start:end])
            feed(conn, b"")
        except ProtocolError:
            pass
        assert state_of(conn) is S.CLOSED


@given(
    flags=st.integers(0, 255),
    command=st.integers(0, 0xFFFFFF),
    app=st.sampled_from([0, 4, 5, 0xFFFFFFFF]),
    body=st.binary(max_size=64).map(lambda b: b + bytes(-len(b) % 4)),
)
def test_after_a_non_fatal_error_the_connection_keeps_working(
    flags: int, command: int, app: int, body: bytes
) -> None:
    conn = opened()
    feed(conn, encode_message(command, flags, app, 1, 1, body))
    conn.data_to_send()
    if state_of(conn) is S.OPEN:
        events = feed(conn, ccr(2))
        assert isinstance(events[-1], RequestReceived)


def test_split_at_every_byte_position() -> None:
    stream = cer() + ccr(2)
    for cut in range(len(stream) + 1):
        conn = make(Role.RESPONDER)
        events = [e for part in (stream[:cut], stream[cut:]) if part for e in feed(conn, part)]
        assert [type(e) for e in events] == [PeerOpened, RequestReceived], cut
        assert result_code(sent(conn)[0]) == 2001


def test_many_messages_in_one_receive() -> None:
    conn = opened()
    events = feed(conn, b"".join(ccr(h) for h in range(50)) + base(280, 99))
    assert [e.message.hop_by_hop for e in events if isinstance(e, RequestReceived)] == list(
        range(50)
    )
    assert [m.command_code for m in sent(conn)] == [280]
