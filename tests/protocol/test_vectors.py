"""Bytes from independent implementations (python-diameter 0.9.0, Erlang/OTP 25
diameter 2.2.7; tests/vectors/README.md) through our codec, views and framing."""

from __future__ import annotations

import pytest

from protocol import _wire
from protocol.cc_client import parse_cca
from protocol.codec import decode_message
from protocol.codes import CcRequestType, RequestedAction, ResultCode, SubscriptionIdType
from protocol.credit_control import parse_ccr
from protocol.framing import ReceiveBuffer
from protocol.tree import decode_tree, format_tree

from .vectors import load_hex, names

SOURCES = ["pydiameter", "otp"]
SESSION = "ctf01.example.net;1795608000;42;pdp-7"


@pytest.mark.parametrize("name", names())
def test_vector_decodes_and_re_encodes_identically(name: str) -> None:
    raw = load_hex(name)
    message = decode_message(raw)
    rebuilt = type(message)(
        message.command_code,
        message.flags,
        message.application_id,
        message.hop_by_hop,
        message.end_to_end,
        message.avps,
    )
    assert rebuilt.encode() == raw


@pytest.mark.parametrize("name", names())
def test_vector_agrees_with_construct(name: str) -> None:
    raw = load_hex(name)
    header, avps = _wire.parse_message(raw)
    message = decode_message(raw)
    assert (header.command_code, header.length) == (message.command_code, len(raw))
    assert [(a.code, a.vendor_id or 0, a.data) for a in avps] == [
        (a.code, a.vendor_id, a.data) for a in message.avps
    ]


@pytest.mark.parametrize("name", names())
def test_vector_decodes_fully_through_the_dictionary(name: str) -> None:
    _, avps = decode_tree(load_hex(name))
    assert all(avp.name != "Unknown-AVP" for avp in avps), [a.code for a in avps]
    assert format_tree(load_hex(name)).count("\n") >= len(avps)


def test_framing_cuts_all_vectors_from_one_stream_at_any_split() -> None:
    stream = b"".join(load_hex(n) for n in names())
    for chunk in (1, 3, 7, 64, 1000):
        buf, got = ReceiveBuffer(), []
        for i in range(0, len(stream), chunk):
            buf.feed(stream[i : i + chunk])
            got.extend(buf.messages())
        assert b"".join(got) == stream


@pytest.mark.parametrize("source", SOURCES)
def test_ccr_update_fields(source: str) -> None:
    message = decode_message(load_hex(f"{source}_ccr_update.hex"))
    ccr = parse_ccr(message)
    assert ccr.session_id == SESSION
    assert ccr.origin_host == "ctf01.example.net"
    assert ccr.cc_request_type is CcRequestType.UPDATE_REQUEST
    assert ccr.cc_request_number == 1
    assert ccr.service_context_id == "32251@3gpp.org"
    assert ccr.msisdn == "15551230001"
    assert ccr.subscription(SubscriptionIdType.END_USER_IMSI) == "001010000000001"
    (mscc,) = ccr.multiple_services_credit_control
    assert (mscc.rating_group, mscc.service_identifiers) == (100, (1000,))
    assert mscc.requested is not None and mscc.requested.total_octets == 10_485_760
    (used,) = mscc.used
    assert (used.total_octets, used.input_octets, used.output_octets) == (
        5_242_880,
        1_048_576,
        4_194_304,
    )
    assert used.reporting_reason == 3
    assert ccr.service_information is not None
    assert ccr.event_timestamp is not None and ccr.event_timestamp.data == bytes.fromhex("eeb14c40")


@pytest.mark.parametrize("source", SOURCES)
def test_ccr_initial_termination_and_event(source: str) -> None:
    initial = parse_ccr(decode_message(load_hex(f"{source}_ccr_initial.hex")))
    (mscc,) = initial.multiple_services_credit_control
    assert mscc.requested is not None and mscc.requested.is_empty
    final = parse_ccr(decode_message(load_hex(f"{source}_ccr_termination.hex")))
    assert (final.cc_request_type, final.cc_request_number) == (
        CcRequestType.TERMINATION_REQUEST,
        2,
    )
    assert final.multiple_services_credit_control[0].used[0].reporting_reason == 2
    sms = parse_ccr(decode_message(load_hex(f"{source}_ccr_event_sms.hex")))
    assert sms.cc_request_type is CcRequestType.EVENT_REQUEST
    assert sms.requested_action is RequestedAction.DIRECT_DEBITING
    assert sms.service_context_id == "32274@3gpp.org"
    requested = sms.multiple_services_credit_control[0].requested
    assert requested is not None and requested.service_specific == 1


@pytest.mark.parametrize("source", SOURCES)
def test_cca_vectors(source: str) -> None:
    initial = parse_cca(decode_message(load_hex(f"{source}_cca_initial.hex")))
    assert initial.result_code == ResultCode.DIAMETER_SUCCESS
    (mscc,) = initial.multiple_services_credit_control
    assert mscc.granted is not None and mscc.granted.total_octets == 10_485_760
    assert (mscc.rating_group, mscc.validity_time, mscc.result_code) == (100, 3600, 2001)
    fui = parse_cca(decode_message(load_hex(f"{source}_cca_update_fui.hex")))
    assert fui.multiple_services_credit_control[0].final_unit_action == 0
    error = parse_cca(decode_message(load_hex(f"{source}_error_3009_failed_avp.hex")))
    assert error.result_code == ResultCode.DIAMETER_INVALID_AVP_BITS
    assert error.failed_avp is not None
