"""Generic answers, header flags and identifiers (RFC 6733 §3, §7.1.3, §7.2)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.answers import IdGenerator, answer_header_flags, error_answer
from protocol.capabilities import Capabilities, common_applications, parse_capabilities
from protocol.codec import (
    Avp,
    decode_avps,
    decode_header,
    decode_message,
    decode_unsigned32,
    encode_avp,
    encode_message,
)
from protocol.codes import AvpCode as BaseAvp
from protocol.codes import HeaderFlag, ResultCode
from protocol.errors import AvpError

R, P, E, T = (int(f) for f in (HeaderFlag.REQUEST, HeaderFlag.PROXIABLE, HeaderFlag.ERROR,
                                HeaderFlag.RETRANSMITTED))  # fmt: skip


def ccr(*, flags: int = R | P, session: bytes | None = b"gw;1;2") -> bytes:
    body = b"".join([
        *([encode_avp(BaseAvp.SESSION_ID, session)] if session is not None else []),
        encode_avp(BaseAvp.ORIGIN_HOST, b"gw.test"),
        encode_avp(BaseAvp.ORIGIN_REALM, b"test"),
        encode_avp(BaseAvp.AUTH_APPLICATION_ID, (4).to_bytes(4, "big")),
    ])  # fmt: skip
    return encode_message(272, flags, 4, 0x11223344, 0x55667788, body)


@given(flags=st.integers(0, 255), code=st.integers(1000, 5999))
def test_answer_flags_clear_r_copy_p_and_set_e_only_for_3xxx(flags: int, code: int) -> None:
    answer = answer_header_flags(flags, code)
    assert not answer & R
    assert not answer & T  # T marks retransmitted requests only
    assert answer & P == flags & P
    assert bool(answer & E) == (3000 <= code < 4000)
    assert not answer & 0x0F


@pytest.mark.parametrize(
    ("code", "e_bit"),
    [(2001, False), (3001, True), (3007, True), (3010, True), (4012, False), (5012, False)],
)
def test_error_answer_echoes_ids_and_sets_e_per_class(code: int, e_bit: bool) -> None:
    request = decode_message(ccr())
    raw = error_answer(request, result_code=code, origin_host="ocs.test", origin_realm="test")
    answer = decode_message(raw)
    assert (answer.command_code, answer.application_id) == (272, 4)
    assert (answer.hop_by_hop, answer.end_to_end) == (0x11223344, 0x55667788)
    assert not answer.is_request
    assert answer.is_proxiable
    assert answer.is_error is e_bit
    result = answer.find(BaseAvp.RESULT_CODE)
    assert result is not None and decode_unsigned32(result) == code


def test_generic_format_order_session_id_first_and_failed_avp() -> None:
    failed = encode_avp(416, (9).to_bytes(4, "big"))
    raw = error_answer(
        decode_message(ccr()),
        result_code=ResultCode.DIAMETER_INVALID_AVP_VALUE,
        origin_host=b"ocs.test",
        origin_realm=b"test",
        failed_avp=failed,
        error_message="CC-Request-Type 9",
        error_reporting_host="relay.test",
    )
    avps = decode_message(raw).avps
    # a 5xxx to a CCR also echoes what the CCA format requires (RFC 8506 §3.2): the
    # request's Auth-Application-Id (this test CCR carries no type or number)
    assert [a.code for a in avps] == [263, 264, 296, 268, 281, 294, 279, 258]
    assert avps[0].data == b"gw;1;2"
    assert not avps[4].mandatory and not avps[5].mandatory  # Error-Message, Error-Reporting-Host
    assert avps[6].mandatory
    assert decode_avps(avps[6]) == (Avp(416, 0x40, (9).to_bytes(4, "big")),)


def test_explicit_session_id_and_none_without_one() -> None:
    request = decode_message(ccr(session=None))
    raw = error_answer(request, result_code=3001, origin_host="o", origin_realm="r")
    assert decode_message(raw).find(BaseAvp.SESSION_ID) is None
    raw = error_answer(request, result_code=3001, origin_host="o", origin_realm="r", session_id="x")
    assert decode_message(raw).avps[0] == Avp(263, 0x40, b"x")


def test_error_answer_from_a_header_alone() -> None:
    header = decode_header(ccr(flags=R | P | 0x01))
    answer = decode_message(
        error_answer(header, result_code=3008, origin_host="o", origin_realm="r")
    )
    assert answer.flags == P | E
    assert (answer.hop_by_hop, answer.end_to_end) == (header.hop_by_hop, header.end_to_end)
    assert answer.find(BaseAvp.SESSION_ID) is None


def test_error_answer_survives_a_request_with_broken_avps() -> None:
    raw = bytearray(ccr())
    raw[20 + 5 : 20 + 8] = (999).to_bytes(3, "big")  # Session-Id length runs past the end
    request = decode_message(bytes(raw), lazy=True)
    answer = decode_message(
        error_answer(request, result_code=5014, origin_host="o", origin_realm="r")
    )
    assert answer.find(BaseAvp.SESSION_ID) is None


@given(seed=st.integers(0, 2**32), now=st.floats(0, 2**33), count=st.integers(1, 50))
def test_hop_by_hop_is_monotonic_and_wraps(seed: int, now: float, count: int) -> None:
    ids = IdGenerator(now=now, seed=seed)
    hops = [ids.next_hop_by_hop() for _ in range(count)]
    assert all(b == (a + 1) & 0xFFFFFFFF for a, b in itertools.pairwise(hops))
    assert all(0 <= h < 2**32 for h in hops)


@given(seed=st.integers(0, 2**32), now=st.integers(0, 2**33))
def test_end_to_end_high_bits_are_the_start_time(seed: int, now: int) -> None:
    ids = IdGenerator(now=now, seed=seed)
    first, second = ids.next_end_to_end(), ids.next_end_to_end()
    assert first >> 20 == second >> 20 == now & 0xFFF
    assert second & 0xFFFFF == ((first & 0xFFFFF) + 1) & 0xFFFFF


def test_ids_are_reproducible_from_a_seed_and_random_otherwise() -> None:
    a, b = IdGenerator(now=5, seed=42), IdGenerator(now=5, seed=42)
    assert [a.next_hop_by_hop(), a.next_end_to_end()] == [b.next_hop_by_hop(), b.next_end_to_end()]
    starts = {IdGenerator(now=5).next_hop_by_hop() for _ in range(8)}
    assert len(starts) > 1


def test_low_twenty_bits_wrap_without_touching_the_time() -> None:
    ids = IdGenerator(now=0xABC, seed=0)
    ids._e2e_low = 0xFFFFF
    assert ids.next_end_to_end() == 0xABC << 20 | 0xFFFFF
    assert ids.next_end_to_end() == 0xABC << 20


def test_capabilities_round_trip() -> None:
    caps = Capabilities(
        origin_host="gw.test",
        origin_realm="test",
        host_ip_addresses=("10.0.0.1", "2001:db8::1"),
        vendor_id=10415,
        origin_state_id=9,
        firmware_revision=3,
        acct_application_ids=(3,),
        vendor_specific_application_ids=((10415, 4),),
        auth_application_ids=(),
    )
    message = decode_message(encode_message(257, R, 0, 1, 1, caps.encode()))
    info = parse_capabilities(message, frozenset({4}))
    assert info.origin_host == "gw.test" and info.origin_realm == "test"
    assert info.host_ip_addresses == ("10.0.0.1", "2001:db8::1")
    assert (info.vendor_id, info.origin_state_id, info.firmware_revision) == (10415, 9, 3)
    assert info.applications == {3, 4} and info.common_applications == {4}
    assert info.supported_vendor_ids == {10415}


def test_missing_required_avp_is_5005_with_an_example() -> None:
    caps = Capabilities(origin_host="gw", origin_realm="r", host_ip_addresses=("10.0.0.1",))
    body = b"".join(
        encode_avp(a.code, a.data, flags=a.flags)
        for a in decode_avps(caps.encode())
        if a.code != BaseAvp.VENDOR_ID
    )
    with pytest.raises(AvpError) as info:
        parse_capabilities(decode_message(encode_message(257, R, 0, 1, 1, body)), frozenset({4}))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.failed_avp == encode_avp(BaseAvp.VENDOR_ID, bytes(4))


@pytest.mark.parametrize(
    ("local", "remote", "common"),
    [
        ({4}, {4}, {4}),
        ({4}, {3}, set()),
        ({4}, {0xFFFFFFFF}, {4}),
        ({0xFFFFFFFF}, {4, 3}, {3, 4}),
        ({4}, set(), set()),
    ],
)
def test_common_applications(local: set[int], remote: set[int], common: set[int]) -> None:
    assert common_applications(frozenset(local), frozenset(remote)) == common


def test_capabilities_need_an_address() -> None:
    with pytest.raises(ValueError, match="Host-IP-Address"):
        Capabilities(origin_host="o", origin_realm="r", host_ip_addresses=())


def test_a_5xxx_to_a_ccr_keeps_the_cca_format() -> None:
    from protocol.cc_client import encode_ccr, parse_cca
    from protocol.codes import CcRequestType

    raw_ccr = encode_ccr(
        session_id="s", origin_host="gw", origin_realm="r", destination_realm="ocs",
        service_context_id="32251@3gpp.org", cc_request_type=CcRequestType.UPDATE_REQUEST,
        cc_request_number=7, hop_by_hop=1, end_to_end=2,
    )  # fmt: skip
    answer = error_answer(
        decode_message(raw_ccr), result_code=5012, origin_host="ocs", origin_realm="r"
    )
    cca = parse_cca(decode_message(answer))  # a strict client's parse: 5005 if anything is missing
    assert (cca.result_code, cca.cc_request_type, cca.cc_request_number) == (5012, 2, 7)
    assert cca.auth_application_id == 4
