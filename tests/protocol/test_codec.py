"""The hand codec: round trips for every type, faults mapped to Result-Codes, and
agreement with the construct declaration of the wire layout (protocol/_wire.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import _wire, codec
from protocol.codec import Avp, Message, decode_avps, decode_message
from protocol.codes import ResultCode
from protocol.errors import AvpError, LocalProtocolError, ProtocolError, RemoteProtocolError

u32 = st.integers(0, 2**32 - 1)
flag_sets = st.sampled_from([0x00, 0x40, 0x20, 0x60])  # M and P; V follows the vendor id
vendors = st.one_of(st.just(0), st.integers(1, 2**32 - 1))


@st.composite
def avps(draw: st.DrawFn) -> Avp:
    vendor = draw(vendors)
    flags = draw(flag_sets) | (0x80 if vendor else 0)
    return Avp(draw(u32), flags, draw(st.binary(max_size=40)), vendor)


messages = st.builds(
    Message,
    command_code=st.integers(0, 2**24 - 1),
    flags=st.sampled_from([0x00, 0x40, 0x80, 0xC0, 0x20, 0x60, 0x90]),
    application_id=u32,
    hop_by_hop=u32,
    end_to_end=u32,
    avps=st.lists(avps(), max_size=8).map(tuple),
)


@given(messages)
def test_message_round_trip(message: Message) -> None:
    raw = message.encode()
    assert decode_message(raw) == message
    assert decode_message(raw).encode() == raw


@given(messages)
def test_codec_agrees_with_the_construct_oracle(message: Message) -> None:
    raw = message.encode()
    header, wire_avps = _wire.parse_message(raw)
    assert header.length == len(raw)
    assert header.command_code == message.command_code
    assert header.application_id == message.application_id
    assert (header.hop_by_hop, header.end_to_end) == (message.hop_by_hop, message.end_to_end)
    assert header.flags.request == message.is_request
    assert header.flags.error == message.is_error
    assert [(a.code, a.vendor_id or 0, a.data, a.flags.mandatory) for a in wire_avps] == [
        (a.code, a.vendor_id, a.data, a.mandatory) for a in message.avps
    ]


@given(avps())
def test_avp_encoding_matches_construct_encoding(avp: Avp) -> None:
    built = _wire.build_avp(
        avp.code,
        avp.data,
        vendor_id=avp.vendor_id if avp.flags & 0x80 else None,
        mandatory=avp.mandatory,
    )
    if not avp.flags & 0x20:  # construct builds with P clear
        assert avp.encode() == built
    assert decode_avps(built) == (avp._replace(flags=avp.flags & ~0x20),)


@given(st.binary(max_size=300))
def test_garbage_raises_only_protocol_errors(data: bytes) -> None:
    for raw in (data, (len(data) + 20).to_bytes(4, "big") + data):
        try:
            message = decode_message(raw)
            for avp in message.avps:
                decode_avps(avp)
        except ProtocolError:
            pass


@given(st.lists(avps(), max_size=4), avps(), st.data())
def test_truncated_avps_raise_5014_with_a_failed_avp(
    items: list[Avp], last: Avp, data: st.DataObject
) -> None:
    head = b"".join(a.encode() for a in items)
    tail = last.encode()
    # End the run anywhere inside the last AVP's header or data (not in its padding).
    cut = data.draw(st.integers(1, 8 + (4 if last.vendor_id else 0) + len(last.data) - 1))
    with pytest.raises(AvpError) as info:
        decode_avps(head + tail, 0, len(head) + cut)
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    (failed,) = decode_avps(info.value.failed_avp)  # the Failed-AVP is itself well formed
    if cut >= 8:
        assert failed.code == last.code


# ---------------------------------------------------------------- typed values


@pytest.mark.parametrize(
    ("encode", "decode", "values", "size"),
    [
        (codec.encode_unsigned32, codec.decode_unsigned32, [0, 1, 2**32 - 1], 4),
        (codec.encode_integer32, codec.decode_integer32, [-(2**31), -1, 0, 2**31 - 1], 4),
        (codec.encode_unsigned64, codec.decode_unsigned64, [0, 2**64 - 1], 8),
        (codec.encode_integer64, codec.decode_integer64, [-(2**63), 0, 2**63 - 1], 8),
    ],
)
def test_integer_types(
    encode: Callable[[int], bytes],
    decode: Callable[[Avp], int],
    values: list[int],
    size: int,
) -> None:
    for value in values:
        assert decode(Avp.make(1, encode(value))) == value
    with pytest.raises(AvpError) as info:
        decode(Avp.make(1, bytes(size - 1)))
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    assert info.value.failed_avp == Avp.make(1, bytes(size - 1)).encode()


@given(st.integers(0, 2**32 - 1))
def test_unsigned32_round_trip(value: int) -> None:
    assert codec.decode_unsigned32(codec.avp_unsigned32(1, value)) == value


@given(st.integers(-(2**63), 2**63 - 1))
def test_integer64_round_trip(value: int) -> None:
    assert codec.decode_integer64(codec.avp_integer64(1, value)) == value


@given(st.floats(allow_nan=False, width=32))
def test_float32_round_trip(value: float) -> None:
    assert codec.decode_float32(Avp.make(1, codec.encode_float32(value))) == value


@given(st.floats(allow_nan=False))
def test_float64_round_trip(value: float) -> None:
    assert codec.decode_float64(Avp.make(1, codec.encode_float64(value))) == value


@given(st.text())
def test_utf8_round_trip(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates are not UTF-8
        return
    assert codec.decode_utf8(codec.avp_utf8(1, text)) == text


def test_invalid_utf8_is_5004_with_the_avp() -> None:
    bad = Avp.make(263, b"\xff\xfe")
    with pytest.raises(AvpError) as info:
        codec.decode_utf8(bad)
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert info.value.failed_avp == bad.encode()


def test_identity_uri_and_filter_rule() -> None:
    assert codec.decode_identity(Avp.make(264, b"ocs.example.net")) == "ocs.example.net"
    assert codec.decode_uri(Avp.make(292, b"aaa://ocs.example.net:3868;transport=tcp"))
    assert codec.decode_ip_filter_rule(Avp.make(438, b"permit out ip from any to any"))
    for fn, data in [
        (codec.decode_identity, b""),
        (codec.decode_identity, "é".encode()),
        (codec.decode_uri, b"http://x"),
        (codec.decode_ip_filter_rule, b"allow all"),
    ]:
        with pytest.raises(AvpError):
            fn(Avp.make(1, data))


@given(st.ip_addresses())
def test_address_round_trip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert codec.decode_address(codec.avp_address(257, ip)) == ip


def test_address_families_and_lengths() -> None:
    assert codec.encode_address("192.0.2.1") == bytes.fromhex("0001c0000201")
    assert codec.decode_address(Avp.make(257, b"\x00\x08" + b"123")) == (8, b"123")
    for data in (b"\x00", b"\x00\x01\x01\x02\x03", b"\x00\x02" + bytes(4)):
        with pytest.raises(AvpError) as info:
            codec.decode_address(Avp.make(257, data))
        assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH


@given(st.integers(-(2**31) + 2_208_988_800, 2**32 + 2**31 - 1 - 2_208_988_800))
def test_time_round_trip_across_the_2036_rollover(unix: int) -> None:
    assert codec.decode_time_unix(codec.avp_time(55, unix)) == unix


def test_time_known_values() -> None:
    # 1900-01-01 is NTP 0 in era 0, but with the RFC 4330 rule a 0 means 2036-02-07.
    assert codec.decode_time(Avp.make(55, bytes(4))) == datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)
    # 2026-11-25 00:00:00 UTC = Unix 1795564800 -> NTP 4004553600 (top bit set: era 0)
    assert codec.encode_time(datetime(2026, 11, 25, tzinfo=UTC)) == (4004553600).to_bytes(4, "big")
    # One second after the rollover is NTP 1 in era 1.
    assert codec.encode_time(datetime(2036, 2, 7, 6, 28, 17, tzinfo=UTC)) == (1).to_bytes(4, "big")
    with pytest.raises(LocalProtocolError):
        codec.encode_time(datetime(1960, 1, 1, tzinfo=UTC))


def test_grouped_round_trip_and_unknown_avps_survive_byte_identical() -> None:
    child = Avp(99999, 0xE0, b"\x01\x02\x03", 4242)  # unknown vendor AVP with P set
    group = codec.avp_grouped(456, [codec.avp_unsigned32(432, 7), child])
    assert decode_avps(group) == (codec.avp_unsigned32(432, 7), child)
    raw = Message(272, 0x80, 4, 1, 2, (group,)).encode()
    assert decode_message(raw).encode() == raw
    assert Message(272, 0x80, 4, 1, 2, decode_message(raw).avps).encode() == raw


# ---------------------------------------------------------------- message faults


def _ccr(avps: tuple[Avp, ...] = ()) -> bytes:
    return Message(272, 0xC0, 4, 7, 9, avps).encode()


def test_header_faults() -> None:
    raw = bytearray(_ccr((codec.avp_utf8(263, "s"),)))
    cases: list[tuple[bytes, ResultCode]] = [
        (bytes([2]) + bytes(raw[1:]), ResultCode.DIAMETER_UNSUPPORTED_VERSION),
        (bytes(raw[:-4]), ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH),
        (
            bytes(raw[:4]) + bytes([raw[4] | 0x01]) + bytes(raw[5:]),
            ResultCode.DIAMETER_INVALID_HDR_BITS,
        ),
        (bytes(raw[:4]) + bytes([0xA0]) + bytes(raw[5:]), ResultCode.DIAMETER_INVALID_HDR_BITS),
        (bytes(10), ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH),
    ]
    for data, code in cases:
        with pytest.raises(RemoteProtocolError) as info:
            decode_message(data)
        assert info.value.result_code == code


def test_reserved_avp_bits_are_3009_with_the_avp() -> None:
    bad = Avp(263, 0x41, b"sess", 0)
    with pytest.raises(AvpError) as info:
        decode_message(_ccr((bad,)))
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_BITS
    assert info.value.failed_avp == bad.encode()


def test_lying_avp_length_is_5014_with_the_header() -> None:
    good = codec.avp_utf8(263, "session")
    raw = bytearray(_ccr((good,)))
    raw[20 + 5 : 20 + 8] = (200).to_bytes(3, "big")  # AVP claims 200 bytes
    with pytest.raises(AvpError) as info:
        decode_message(bytes(raw))
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_LENGTH
    (failed,) = decode_avps(info.value.failed_avp)
    assert failed.code == 263


def test_lazy_message_defers_avp_faults() -> None:
    raw = bytearray(_ccr((codec.avp_utf8(263, "session"),)))
    raw[20 + 5 : 20 + 8] = (3).to_bytes(3, "big")
    message = decode_message(bytes(raw), lazy=True)
    assert message.command_code == 272
    with pytest.raises(AvpError):
        _ = message.avps
