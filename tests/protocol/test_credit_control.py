"""CCR/CCA views: round trips through the client encoder, every fault's Result-Code and
Failed-AVP, and the quirks of real clients (gy-standards.md §3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import codec
from protocol.cc_client import MsccRequest, encode_ccr, parse_cca
from protocol.cca import (
    CcaEncoder,
    FinalUnitIndication,
    MsccAnswer,
    RedirectServer,
    encode_cost_information,
    encode_remaining_balance,
)
from protocol.codec import Avp, Message, decode_avps, decode_message
from protocol.codes import (
    CcRequestType,
    FinalUnitAction,
    RedirectAddressType,
    RequestedAction,
    ResultCode,
    SubscriptionIdType,
)
from protocol.credit_control import parse_ccr
from protocol.errors import AvpError
from protocol.units import Money, ServiceUnits

BASE = {
    "session_id": "gw.test;1;2",
    "origin_host": "gw.test",
    "origin_realm": "test",
    "destination_realm": "ocs.test",
    "service_context_id": "32251@3gpp.org",
    "hop_by_hop": 7,
    "end_to_end": 9,
}


def ccr(**overrides: object) -> bytes:
    args: dict[str, object] = {
        **BASE,
        "cc_request_type": CcRequestType.UPDATE_REQUEST,
        "cc_request_number": 1,
        "subscription_ids": [(SubscriptionIdType.END_USER_E164, "491701234567")],
    }
    args.update(overrides)
    return encode_ccr(**args)  # type: ignore[arg-type]


units = st.builds(
    ServiceUnits,
    time=st.none() | st.integers(0, 2**32 - 1),
    total_octets=st.none() | st.integers(0, 2**64 - 1),
    input_octets=st.none() | st.integers(0, 2**64 - 1),
    output_octets=st.none() | st.integers(0, 2**64 - 1),
    service_specific=st.none() | st.integers(0, 2**64 - 1),
    money=st.none()
    | st.builds(
        Money,
        st.integers(-(2**63), 2**63 - 1),
        st.integers(-(2**31), 2**31 - 1),
        st.none() | st.integers(0, 999),
    ),
    reporting_reason=st.none() | st.integers(0, 9),
    tariff_change_usage=st.none() | st.integers(0, 2),
)


def mscc_requests(units: st.SearchStrategy[ServiceUnits]) -> st.SearchStrategy[MsccRequest]:
    return st.builds(
        MsccRequest,
        rating_group=st.none() | st.integers(0, 2**32 - 1),
        service_identifiers=st.lists(st.integers(0, 2**32 - 1), max_size=2).map(tuple),
        requested=st.none() | units,
        used=st.lists(units, max_size=2).map(tuple),
    )


@given(
    st.sampled_from(list(CcRequestType)),
    st.integers(0, 2**32 - 1),
    st.lists(mscc_requests(units), max_size=3),
)
def test_ccr_round_trip(kind: CcRequestType, number: int, msccs: list[MsccRequest]) -> None:
    raw = ccr(cc_request_type=kind, cc_request_number=number, msccs=msccs)
    request = parse_ccr(decode_message(raw, lazy=True))
    assert (request.cc_request_type, request.cc_request_number) == (kind, number)
    assert request.msisdn == "491701234567"
    assert request.session_id_avp == codec.avp_utf8(263, BASE["session_id"]).encode()  # type: ignore[arg-type]
    assert len(request.multiple_services_credit_control) == len(msccs)
    for got, sent in zip(request.multiple_services_credit_control, msccs, strict=True):
        assert got.rating_group == sent.rating_group
        assert got.service_identifiers == sent.service_identifiers
        assert got.requested == sent.requested
        assert got.used == sent.used


def test_open5gs_mscc_without_rating_group_and_no_rsu_means_debit_only() -> None:
    raw = ccr(
        multiple_services_indicator=0,
        msccs=[
            MsccRequest(rating_group=None, requested=None, used=(ServiceUnits(total_octets=5),))
        ],
    )
    (mscc,) = parse_ccr(decode_message(raw)).multiple_services_credit_control
    assert mscc.rating_group is None
    assert mscc.requested is None  # RFC 8506 §5.1.1: debit the used units, grant nothing
    assert mscc.used[0].octets == 5


def test_single_service_units_at_command_level() -> None:
    raw = ccr(
        requested_service_unit=ServiceUnits(time=60),
        used_service_units=[ServiceUnits(time=30)],
        requested_action=RequestedAction.CHECK_BALANCE,
    )
    request = parse_ccr(decode_message(raw))
    assert request.requested_service_unit == ServiceUnits(time=60)
    assert request.used_service_units == (ServiceUnits(time=30),)
    assert request.requested_action is RequestedAction.CHECK_BALANCE


def test_input_plus_output_when_total_is_missing() -> None:
    assert ServiceUnits(input_octets=3, output_octets=4).octets == 7
    assert ServiceUnits().octets is None


def _strip(raw: bytes, code: int) -> bytes:
    message = decode_message(raw)
    avps = tuple(a for a in message.avps if a.code != code)
    return Message(272, message.flags, 4, 7, 9, avps).encode()


@pytest.mark.parametrize("code", [263, 264, 296, 283, 258, 461, 416, 415])
def test_each_missing_mandatory_avp_is_5005_with_an_example(code: int) -> None:
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(_strip(ccr(), code)))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    (example,) = decode_avps(info.value.failed_avp)
    assert example.code == code
    assert example.data == bytes(len(example.data))  # zero-filled (RFC 6733 §7.5)


def _with(raw: bytes, *extra: Avp) -> bytes:
    message = decode_message(raw)
    return Message(272, message.flags, 4, 7, 9, message.avps + extra).encode()


def test_unknown_mandatory_avp_is_5001_with_the_avp() -> None:
    stranger = Avp.make(99999, b"x", vendor_id=0)
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(_with(ccr(), stranger)))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED
    assert info.value.failed_avp == stranger.encode()


def test_unknown_optional_avps_are_ignored_at_any_level() -> None:
    quiet = Avp.make(99999, b"x", mandatory=False)
    vendor = Avp.make(4242, b"y", vendor_id=28458, mandatory=False)
    parse_ccr(decode_message(_with(ccr(), quiet, vendor)))


def test_unknown_mandatory_avp_inside_mscc_is_5001() -> None:
    mscc = codec.avp_grouped(456, [codec.avp_unsigned32(432, 1), Avp.make(99998, b"")])
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(_with(ccr(), mscc)))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED


def test_single_avp_twice_is_5009() -> None:
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(_with(ccr(), codec.avp_unsigned32(415, 2))))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES
    assert decode_avps(info.value.failed_avp)[0].code == 415


@pytest.mark.parametrize(
    ("avp", "code"),
    [
        (codec.avp_unsigned32(416, 9), ResultCode.DIAMETER_INVALID_AVP_VALUE),
        (codec.avp_unsigned32(436, 7), ResultCode.DIAMETER_INVALID_AVP_VALUE),
        (Avp.make(415, b"\x00\x01"), ResultCode.DIAMETER_INVALID_AVP_LENGTH),
        (Avp.make(263, b"\xff\xfe"), ResultCode.DIAMETER_INVALID_AVP_VALUE),
    ],
)
def test_bad_values(avp: Avp, code: ResultCode) -> None:
    raw = _with(_strip(ccr(), avp.code), avp)
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(raw))
    assert info.value.result_code == code
    assert info.value.failed_avp == avp.encode()


def test_subscription_id_without_type_is_5005() -> None:
    sub = codec.avp_grouped(443, [codec.avp_utf8(444, "4917")])
    with pytest.raises(AvpError) as info:
        parse_ccr(decode_message(_with(_strip(ccr(), 443), sub)))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert decode_avps(info.value.failed_avp)[0].code == 450


def test_cca_round_trip_through_the_client_view() -> None:
    message = decode_message(ccr(msccs=[MsccRequest(rating_group=10)]))
    request = parse_ccr(message)
    encoder = CcaEncoder(origin_host="ocs.test", origin_realm="test", origin_state_id=5)
    fui = FinalUnitIndication(
        FinalUnitAction.REDIRECT, RedirectServer(RedirectAddressType.URL, "https://topup.test/")
    )
    money = Money(1234, -2, 978)
    raw = encoder.encode(
        request,
        flags=message.flags,
        hop_by_hop=message.hop_by_hop,
        end_to_end=message.end_to_end,
        msccs=[
            MsccAnswer(
                10,
                granted=ServiceUnits(total_octets=1000),
                validity_time=60,
                final_unit_indication=fui,
                volume_quota_threshold=100,
                quota_holding_time=30,
            ),
            MsccAnswer(20, ResultCode.DIAMETER_CREDIT_LIMIT_REACHED),
        ],
        extra=encode_cost_information(money, "EUR") + encode_remaining_balance(money),
    )
    answer_message = decode_message(raw)
    assert not answer_message.is_request and answer_message.is_proxiable
    assert (answer_message.hop_by_hop, answer_message.end_to_end) == (7, 9)
    answer = parse_cca(answer_message)
    assert answer.session_id == BASE["session_id"]
    assert answer.result_code == ResultCode.DIAMETER_SUCCESS
    assert (answer.cc_request_type, answer.cc_request_number) == (2, 1)
    first, second = answer.multiple_services_credit_control
    assert first.granted == ServiceUnits(total_octets=1000)
    assert (first.rating_group, first.validity_time, first.result_code) == (10, 60, 2001)
    assert first.final_unit_action is FinalUnitAction.REDIRECT
    assert first.redirect_address == "https://topup.test/"
    assert (first.volume_quota_threshold, first.quota_holding_time) == (100, 30)
    assert (second.rating_group, second.result_code, second.granted) == (20, 4012, None)
    assert answer.cost_information == money
    assert answer.remaining_balance == money


def test_protocol_error_result_sets_the_e_bit() -> None:
    message = decode_message(ccr())
    encoder = CcaEncoder(origin_host="ocs.test", origin_realm="test")
    raw = encoder.encode(
        parse_ccr(message), flags=message.flags, hop_by_hop=1, end_to_end=2, result_code=3004
    )
    assert decode_message(raw).is_error
    raw = encoder.encode(
        parse_ccr(message), flags=message.flags, hop_by_hop=1, end_to_end=2, result_code=5030
    )
    assert not decode_message(raw).is_error


def test_cca_without_result_code_is_5005() -> None:
    raw = Message(272, 0x40, 4, 1, 2, (codec.avp_utf8(263, "s"),)).encode()
    with pytest.raises(AvpError) as info:
        parse_cca(decode_message(raw))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP


@pytest.mark.parametrize("money", [Money(5, 0, 978), Money(-12_345, -6, 840), Money(0, 0, 392)])
def test_remaining_balance_round_trips(money: Money) -> None:
    from protocol.cca import encode_remaining_balance
    from protocol.codec import Avp

    (avp,) = decode_avps(encode_remaining_balance(money))
    assert (avp.code, avp.vendor_id, avp.flags) == (2021, 10415, 0xC0)
    from protocol.cc_client import _money_group

    assert _money_group(Avp(avp.code, avp.flags, avp.data, avp.vendor_id)) == money
