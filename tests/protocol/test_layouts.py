"""Compiled CCR readers (protocol.layouts): the same answers as parse_ccr, always.

The property tests share one reader that compiles every layout it walks, so later
examples are read by readers compiled from earlier ones; each damaged message is
read after its undamaged twin taught the reader its layout.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from protocol import codec, layouts
from protocol.cc_client import MsccRequest
from protocol.codec import Avp, decode_message
from protocol.codes import CcRequestType
from protocol.credit_control import parse_ccr
from protocol.errors import AvpError
from protocol.layouts import CcrReader, compile_layout
from protocol.units import Money, ServiceUnits

from .test_credit_control import ccr
from .test_fast_readers import damaged_ccrs


def outcome(read: object, raw: bytes) -> tuple[object, ...]:
    return outcome_of(read, decode_message(raw, lazy=True))


def outcome_of(read: object, message: codec.Message) -> tuple[object, ...]:
    try:
        return ("value", read(message))  # type: ignore[operator]
    except AvpError as error:
        return ("error", error.result_code, error.failed_avp)


SHARED = CcrReader(learn_after=1, compile_every=1)


@settings(max_examples=600, deadline=None)
@given(
    damaged_ccrs(),
    st.lists(st.tuples(st.integers(0), st.booleans(), st.integers(0, 255)), max_size=4),
)
def test_a_compiled_reader_answers_as_parse_ccr(
    raw: bytes, flips: list[tuple[int, bool, int]]
) -> None:
    """Teach the reader ``raw`` (when parse_ccr accepts it), then read a copy with some
    bytes changed: values, padding or headers, whatever the flips hit; half of them hit
    the low byte of a word, where small integer values live."""
    assert outcome(SHARED.parse, raw) == outcome(parse_ccr, raw)
    damaged = bytearray(raw)
    for at, low_byte, value in flips:
        if len(damaged) > 20:
            at = 20 + at % (len(damaged) - 20)
            damaged[at | 3 if low_byte else at] = value
    hits = SHARED.hits
    assert outcome(SHARED.parse, bytes(damaged)) == outcome(parse_ccr, bytes(damaged))
    event("read by a compiled reader" if SHARED.hits > hits else "walked or refused")
    assert SHARED.refused == 0


def test_the_property_reaches_compiled_readers() -> None:
    """The property above is only worth something if compiled readers answer in it."""
    if not SHARED.hits:  # run alone or first: run the property here
        test_a_compiled_reader_answers_as_parse_ccr()
    assert SHARED.compiled > 0 and SHARED.hits > 0


def data_ccr(session: str = "gw.test;1;2", number: int = 1, used: int = 1000) -> bytes:
    return ccr(
        session_id=session,
        cc_request_number=number,
        msccs=[
            MsccRequest(
                rating_group=10,
                requested=ServiceUnits(),
                used=(ServiceUnits(total_octets=used, reporting_reason=2),),
            )
        ],
    )


def test_a_layout_is_compiled_on_its_second_walk_and_read_from_then_on() -> None:
    reader = CcrReader(compile_every=1)
    first, second, third = (data_ccr(number=n, used=n * 100) for n in (1, 2, 3))
    for raw in (first, second):
        assert reader.parse(decode_message(raw)) == parse_ccr(decode_message(raw))
    assert (reader.walks, reader.compiled, reader.hits) == (2, 1, 0)
    request = reader.parse(decode_message(third))
    assert (reader.walks, reader.hits) == (2, 1)
    assert request.cc_request_number == 3
    assert request.multiple_services_credit_control[0].used[0].total_octets == 300
    assert request == parse_ccr(decode_message(third))


def test_another_session_id_length_is_another_layout() -> None:
    reader = CcrReader(learn_after=1, compile_every=1)
    reader.parse(decode_message(data_ccr("gw.test;1;2")))
    request = reader.parse(decode_message(data_ccr("gw.test;1;20")))
    assert reader.hits == 0 and request.session_id == "gw.test;1;20"
    reader.parse(decode_message(data_ccr("gw.test;1;30")))
    assert reader.hits == 1


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        ((b"gw.test;1;2", b"gw.test;1;\xff"), 5004),  # Session-Id not UTF-8
        ((struct.pack(">III", 416, 0x4000000C, 2), struct.pack(">III", 416, 0x4000000C, 9)), 5004),
    ],
)
def test_a_value_the_layout_cannot_vouch_for_is_judged_as_parse_ccr_judges_it(
    damage: tuple[bytes, bytes], code: int
) -> None:
    reader = CcrReader(learn_after=1, compile_every=1)
    good = data_ccr()
    reader.parse(decode_message(good))
    bad = good.replace(*damage)
    assert bad != good and len(bad) == len(good)
    with pytest.raises(AvpError) as caught:
        reader.parse(decode_message(bad))
    assert caught.value.result_code == code
    assert outcome(reader.parse, bad) == outcome(parse_ccr, bad)
    assert reader.hits == 0


def test_cc_money_is_left_to_the_walking_reader() -> None:
    raw = ccr(msccs=[MsccRequest(rating_group=1, used=(ServiceUnits(money=Money(5, -2, 978)),))])
    assert compile_layout(raw) is None
    reader = CcrReader(learn_after=1, compile_every=1)
    for _ in range(3):
        assert reader.parse(decode_message(raw)) == parse_ccr(decode_message(raw))
    assert (reader.compiled, reader.hits, reader.walks) == (0, 0, 3)


def test_capacity_bounds_the_compiled_readers() -> None:
    reader = CcrReader(capacity=3, learn_after=1, compile_every=1)
    for length in range(1, 8):  # seven Session-Id lengths: seven keys
        reader.parse(decode_message(data_ccr("s" * length)))
    assert reader.compiled == 7
    assert sum(len(layouts) for layouts in reader._layouts.values()) == 3
    reader.parse(decode_message(data_ccr("t" * 7)))  # the newest key is kept
    assert reader.hits == 1


def test_one_key_keeps_its_newest_layouts() -> None:
    """Same message length, same Session-Id: layouts differing elsewhere share a key."""
    reader = CcrReader(learn_after=1, compile_every=1)
    base = data_ccr()
    variants = [
        base.replace(struct.pack(">II", 258, 0x4000000C), struct.pack(">II", 258, flags))
        for flags in (0x4000000C, 0x0000000C, 0x6000000C, 0x2000000C, 0x4000000C)
    ]
    for raw in variants:
        assert reader.parse(decode_message(raw)) == parse_ccr(decode_message(raw))
    assert len(reader._layouts) == 1 and len(next(iter(reader._layouts.values()))) == 4
    assert reader.hits == 1  # the last variant is the first one's layout


def test_a_message_too_short_for_a_key_is_walked() -> None:
    raw = codec.Message(272, 0x80, 4, 1, 1, ()).encode()
    reader = CcrReader(learn_after=1, compile_every=1)
    with pytest.raises(AvpError):
        reader.parse(decode_message(raw))
    assert layouts._key(raw) is None  # too short for a key: never compiled


def test_compiles_are_spaced_by_compile_every_walks() -> None:
    reader = CcrReader(learn_after=1, compile_every=3)
    for length in range(1, 8):  # seven keys, each walked once
        reader.parse(decode_message(data_ccr("s" * length)))
    assert reader.compiled == 3  # at walks 1, 4 and 7
    reader.parse(decode_message(data_ccr("s" * 2)))  # its count was kept: compiles now?
    assert reader.compiled == 3  # no: the next compile is allowed from walk 10
    for _ in range(2):
        reader.parse(decode_message(data_ccr("s" * 2)))
    assert reader.compiled == 4 and reader.hits == 0
    reader.parse(decode_message(data_ccr("s" * 2)))
    assert reader.hits == 1


@pytest.mark.parametrize("change", ["longer", "shorter"])
def test_raw_bytes_that_disagree_with_their_length_field_are_walked(change: str) -> None:
    """decode_message refuses such bytes; a Message built with raw= does not."""
    good = data_ccr()
    second_session_id = struct.pack(">II", 263, 0x4000000C) + b"abcd"
    raw = good + second_session_id if change == "longer" else good[:-4]
    reader = CcrReader(learn_after=1, compile_every=1)
    reader.parse(codec.Message(272, 0x80, 4, 1, 1, None, raw=good))
    message = codec.Message(272, 0x80, 4, 1, 1, None, raw=raw)
    assert outcome_of(reader.parse, message) == outcome_of(parse_ccr, message)
    assert reader.hits == 0 and reader.compiled == 1


def test_long_messages_are_walked_not_compiled() -> None:
    reader = CcrReader(learn_after=1, compile_every=1, max_bytes=200)
    raw = data_ccr()
    assert len(raw) > 200
    for _ in range(3):
        assert reader.parse(decode_message(raw)) == parse_ccr(decode_message(raw))
    assert (reader.compiled, reader.hits, reader.walks) == (0, 0, 3)


def test_the_generated_source_holds_no_message_text() -> None:
    """Only offsets, lengths and codes reach the generated code, as ints."""
    raw = data_ccr(session="x'),__import__('os')#")
    layout = compile_layout(raw)
    assert layout is not None
    request = layout[3](raw, layout[2](raw))
    assert request.session_id == "x'),__import__('os')#"


@given(st.sampled_from(list(CcRequestType)), st.integers(0, 2**32 - 1))
def test_request_types_and_numbers(kind: CcRequestType, number: int) -> None:
    raw = ccr(cc_request_type=kind, cc_request_number=number)
    assert SHARED.parse(decode_message(raw)) == parse_ccr(decode_message(raw))


def test_single_service_and_subscription_shapes() -> None:
    reader = CcrReader(learn_after=1, compile_every=1)
    raw = ccr(
        requested_service_unit=ServiceUnits(time=60),
        used_service_units=[ServiceUnits(time=30)],
        extra=Avp(873, 0xC0, b"", 10415).encode(),
    )
    for _ in range(2):
        assert reader.parse(decode_message(raw)) == parse_ccr(decode_message(raw))
    assert reader.hits == 1
