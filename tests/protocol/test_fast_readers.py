"""The fast readers against their reference readers, on valid and damaged messages.

`credit_control._fast_ccr` and `tree._fast_tree` are the hot-path twins of
`_parse_ccr_checked` and the `decode_avp` decode. Their contract: either give up (by
one of the exceptions their caller catches) or return exactly what the reference
returns. These properties feed both readers real CCRs with AVPs inserted, removed and
damaged (flags, vendor ids, lengths, UTF-8, nesting), so a fast path that accepts what
the reference refuses, or reads a value differently, fails here.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from protocol import credit_control, tree
from protocol.codec import decode_avps, decode_header, decode_message
from protocol.codes import CcRequestType, SubscriptionIdType
from protocol.errors import AvpError, ProtocolError
from protocol.units import ServiceUnits

from .test_credit_control import ccr, mscc_requests

#: codes the readers treat specially, at the top level and inside MSCC, RSU/USU and
#: Subscription-Id, then a few they do not know
CODES = (
    *(263, 264, 296, 283, 293, 258, 259, 461, 416, 415, 55, 443, 450, 444, 455, 456),
    *(437, 446, 421, 412, 414, 417, 420, 413, 872, 432, 439, 873, 874, 1, 25, 27),
    *(277, 278, 411, 418, 480, 458, 295, 436, 2, 3, 30, 1227, 999_999, 2**32 - 1),
)

#: the Grouped AVPs the readers look into, as the first word of their header
GROUPS = {struct.pack(">I", code) for code in (443, 456, 437, 446, 873, 874)}


def raw_avp(code: int, flags: int, vendor: int, data: bytes, length_delta: int = 0) -> bytes:
    """An AVP as bytes, exactly as told: any flags, and a length field that may lie."""
    header = 12 if flags & 0x80 else 8
    length = max(0, header + len(data) + length_delta)
    out = struct.pack(">II", code, flags << 24 | length)
    if flags & 0x80:
        out += struct.pack(">I", vendor)
    return out + data + b"\0" * (-len(data) % 4)


leaf_data = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: struct.pack(">I", v)),
    st.integers(0, 2**64 - 1).map(lambda v: struct.pack(">Q", v)),
    st.text(max_size=6).map(str.encode),
    st.just(b"\xff\xfe"),  # not UTF-8
    st.binary(max_size=10),
    st.sampled_from([b"\0\x01\x0a\0\0\x02", b"\0\x02" + bytes(16), b""]),
)


@st.composite
def avp_with(draw: st.DrawFn, data: st.SearchStrategy[bytes]) -> bytes:
    """Mostly a well-formed AVP (V bit iff a vendor, true length), sometimes not."""
    vendor = draw(st.sampled_from([0, 0, 10415, 5535]))
    flags = draw(st.sampled_from([0x40, 0x00, 0x60])) | (0x80 if vendor else 0)
    if draw(st.integers(0, 4)) == 0:
        flags = draw(st.integers(0, 255))
    delta = draw(st.integers(-12, 12)) if draw(st.integers(0, 4)) == 0 else 0
    return raw_avp(draw(st.sampled_from(CODES)), flags, vendor, draw(data), delta)


damaged_avps = st.recursive(
    avp_with(leaf_data),
    lambda children: avp_with(st.lists(children, max_size=4).map(b"".join)),
    max_leaves=8,
)

units = st.builds(
    ServiceUnits,
    time=st.none() | st.integers(0, 2**32 - 1),
    total_octets=st.none() | st.integers(0, 2**64 - 1),
    input_octets=st.none() | st.integers(0, 2**64 - 1),
    output_octets=st.none(),
    service_specific=st.none() | st.integers(0, 9),
    money=st.none(),
    reporting_reason=st.none() | st.integers(0, 9),
    tariff_change_usage=st.none(),
)
msccs = st.lists(mscc_requests(units), min_size=1, max_size=2)


@st.composite
def with_a_child_inserted(draw: st.DrawFn, raw: bytes) -> bytes:
    """A Grouped AVP (MSCC, USU/RSU, Subscription-Id...) with a damaged child inside,
    at any depth; other AVPs as they are."""
    try:
        (avp,) = decode_avps(raw)
        children = [child.encode() for child in decode_avps(avp.data)]
    except (AvpError, ValueError):  # damaged already, or not one AVP
        return raw
    if avp.code not in (443, 456, 437, 446, 873, 874):
        return raw
    nested = [i for i, child in enumerate(children) if child[:4] in GROUPS]
    go_deeper: bool = draw(st.booleans())
    if nested and go_deeper:
        at = draw(st.sampled_from(nested))
        children[at] = draw(with_a_child_inserted(children[at]))
    else:
        children.insert(draw(st.integers(0, len(children))), draw(damaged_avps))
    return avp._replace(data=b"".join(children)).encode()


@st.composite
def damaged_ccrs(draw: st.DrawFn) -> bytes:
    """A real CCR whose AVP list is then edited, and perhaps one byte of it flipped."""
    raw = ccr(
        cc_request_type=draw(st.sampled_from(list(CcRequestType))),
        msccs=draw(msccs),
        subscription_ids=draw(
            st.lists(
                st.tuples(st.sampled_from(list(SubscriptionIdType)), st.text(max_size=16)),
                max_size=2,
            )
        ),
    )
    header, body = raw[:20], raw[20:]
    avps = [avp.encode() for avp in decode_avps(body)]
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(["insert", "delete", "duplicate", "insert into a group"]))
        at = draw(st.integers(0, len(avps)))
        if edit == "insert":
            avps.insert(at, draw(damaged_avps))
        elif edit == "insert into a group":
            groups = [i for i, avp in enumerate(avps) if avp[:4] in GROUPS]
            if groups:
                at = draw(st.sampled_from(groups))
                avps[at] = draw(with_a_child_inserted(avps[at]))
        elif avps and at < len(avps):
            if edit == "delete":
                del avps[at]
            else:
                avps.insert(at, avps[at])
    body = b"".join(avps)
    if body and draw(st.booleans()):
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
    size = 20 + len(body)
    return struct.pack(">I", 0x01000000 | size) + header[4:] + body


def outcome(read: object, raw: bytes) -> tuple[object, ...]:
    try:
        return ("value", read(raw))  # type: ignore[operator]
    except AvpError as error:
        return ("error", error.result_code, error.failed_avp)


@settings(max_examples=400, deadline=None)
@given(damaged_ccrs())
def test_fast_ccr_reader_returns_what_the_checked_reader_returns(raw: bytes) -> None:
    reference = outcome(credit_control._parse_ccr_checked, raw)
    event(f"reference: {reference[0]}")
    try:
        fast = credit_control._fast_ccr(raw)
    except credit_control._GIVE_UPS:  # anything else would escape parse_ccr
        event("fast reader gave up")
        return
    assert reference == ("value", fast)


def reference_tree(raw: bytes) -> tuple[object, ...]:
    message = decode_message(raw)
    return decode_header(raw), tuple(tree.decode_avp(avp) for avp in message.avps)


@settings(max_examples=400, deadline=None)
@given(damaged_ccrs())
def test_fast_tree_returns_what_the_reference_decode_returns(raw: bytes) -> None:
    try:
        reference: tuple[object, ...] = ("value", reference_tree(raw))
    except ProtocolError as error:
        reference = ("error", error.result_code)
    try:
        fast = tree._fast_tree(raw)
    except tree._GIVE_UPS:  # anything else would escape decode_tree
        return
    # repr: NaN floats are unequal to themselves but print alike
    assert repr(reference) == repr(("value", fast))


@pytest.mark.parametrize("rich", [False, True])
def test_the_benchmark_messages_take_the_fast_paths(rich: bool) -> None:
    """The figures in bench_codec.py are the fast readers' figures."""
    # benchmarks/ holds scripts, not a package: load the file itself
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_codec.py"
    spec = importlib.util.spec_from_file_location("bench_codec_under_test", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    raw = bench.realistic_ccr_update(rich=rich)
    assert credit_control._fast_ccr(raw) == credit_control._parse_ccr_checked(raw)
    assert repr(tree._fast_tree(raw)) == repr(reference_tree(raw))
