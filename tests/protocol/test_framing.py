"""ReceiveBuffer: a byte stream cut into whole messages at any split, lies refused early."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import codec
from protocol.codec import Message
from protocol.codes import ResultCode
from protocol.errors import RemoteProtocolError
from protocol.framing import ReceiveBuffer

STREAM = b"".join(
    Message(
        272, 0xC0, 4, n, n, (codec.avp_utf8(263, "s" * n), codec.avp_unsigned32(415, n))
    ).encode()
    for n in range(1, 5)
)


def _cut(stream: bytes, positions: list[int], buf: ReceiveBuffer) -> list[bytes]:
    got: list[bytes] = []
    last = 0
    for pos in [*sorted(positions), len(stream)]:
        buf.feed(stream[last:pos])
        last = pos
        got.extend(buf.messages())
    return got


def test_split_at_every_byte() -> None:
    for split in range(len(STREAM) + 1):
        got = _cut(STREAM, [split], ReceiveBuffer())
        assert b"".join(got) == STREAM
        assert len(got) == 4


def test_one_byte_at_a_time() -> None:
    buf = ReceiveBuffer()
    got = _cut(STREAM, list(range(len(STREAM))), buf)
    assert b"".join(got) == STREAM
    assert len(buf) == 0


@given(st.lists(st.integers(0, len(STREAM)), max_size=10))
def test_any_splits(positions: list[int]) -> None:
    assert b"".join(_cut(STREAM, positions, ReceiveBuffer())) == STREAM


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"\x02\x00\x00\x14", ResultCode.DIAMETER_UNSUPPORTED_VERSION),
        (b"\x01\x00\x00\x10", ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH),  # below 20
        (b"\x01\x00\x00\x15", ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH),  # not a multiple of 4
        (b"\x01\xff\xff\xfc", ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH),  # above the limit
    ],
)
def test_lies_are_refused_after_four_bytes(head: bytes, code: ResultCode) -> None:
    buf = ReceiveBuffer(max_message_size=4096)
    buf.feed(head)  # nothing more arrives: the lie is caught before buffering
    with pytest.raises(RemoteProtocolError) as info:
        buf.next_message()
    assert info.value.result_code == code
    assert info.value.fatal


def test_messages_after_a_valid_one_still_come_out() -> None:
    buf = ReceiveBuffer()
    buf.feed(STREAM + b"\x01\x00")
    assert len(buf.messages()) == 4
    assert len(buf) == 2


def test_limit_must_fit_a_header() -> None:
    with pytest.raises(ValueError):
        ReceiveBuffer(max_message_size=10)


def test_peek_does_not_consume() -> None:
    buf = ReceiveBuffer()
    buf.feed(STREAM[:10])
    assert buf.peek(20) == STREAM[:10]
    assert len(buf) == 10
