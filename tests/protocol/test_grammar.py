"""Grammar checks: each RFC 6733 §7 fault with its Result-Code and Failed-AVP."""

from __future__ import annotations

import pytest

from protocol import codec
from protocol.codec import Avp, Message, decode_avps, decode_message
from protocol.codes import ResultCode
from protocol.dictionary import GROUPED, command
from protocol.dictionary import avp as avp_def
from protocol.errors import AvpError
from protocol.grammar import example_avp, missing, validate, validate_message

from .vectors import load_hex, names


@pytest.mark.parametrize("name", [n for n in names("otp_") if "error" not in n])
def test_every_otp_vector_satisfies_its_grammar(name: str) -> None:
    validate_message(decode_message(load_hex(name)))


def _dwr(*avps: Avp) -> Message:
    return Message(280, 0x80, 0, 1, 2, avps)


ORIGIN = (codec.avp_utf8(264, "gw.test"), codec.avp_utf8(296, "test"))


def test_missing_required_is_5005_with_a_zero_example() -> None:
    with pytest.raises(AvpError) as info:
        validate_message(_dwr(ORIGIN[0]))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.failed_avp == codec.encode_avp(296, b"")


def test_too_many_is_5009_with_the_extra_avp() -> None:
    extra = codec.avp_utf8(264, "again")
    with pytest.raises(AvpError) as info:
        validate_message(_dwr(*ORIGIN, extra))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES
    assert info.value.failed_avp == extra.encode()


def test_unknown_mandatory_is_5001_and_unknown_optional_passes() -> None:
    validate_message(_dwr(*ORIGIN, Avp.make(77777, b"", mandatory=False)))
    with pytest.raises(AvpError) as info:
        validate_message(_dwr(*ORIGIN, Avp.make(77777, b"")))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED


def test_not_allowed_in_a_closed_grammar_is_5008() -> None:
    closed = [g for g in GROUPED.values() if not g.extensible]
    assert closed, "the dictionary has closed grammars (e.g. Unit-Value)"
    unit_value = GROUPED["Unit-Value"]
    assert not unit_value.extensible
    stray = codec.avp_unsigned32(432, 1)
    with pytest.raises(AvpError) as info:
        validate((codec.avp_integer64(447, 5), stray), unit_value)
    assert info.value.result_code == ResultCode.DIAMETER_AVP_NOT_ALLOWED
    assert info.value.failed_avp == stray.encode()


def test_fault_inside_a_group_is_reported_inside_its_parent() -> None:
    sub = codec.avp_grouped(443, [codec.avp_utf8(444, "4917")])  # no Subscription-Id-Type
    ccr = decode_message(load_hex("otp_ccr_update.hex"))
    message = Message(272, ccr.flags, 4, 1, 2, (*ccr.avps, sub))
    with pytest.raises(AvpError) as info:
        validate_message(message)
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    (parent,) = decode_avps(info.value.failed_avp)
    assert parent.code == 443
    assert decode_avps(parent)[0].code == 450


def test_bad_enumerated_value_with_m_bit_is_5004() -> None:
    bad = codec.avp_unsigned32(273, 77)  # Disconnect-Cause 77
    message = Message(282, 0x80, 0, 1, 2, (*ORIGIN, bad))
    with pytest.raises(AvpError) as info:
        validate_message(message)
    assert info.value.result_code == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert info.value.failed_avp == bad.encode()


def test_examples_have_minimum_size() -> None:
    assert example_avp(avp_def("Auth-Application-Id")) == codec.encode_avp(258, bytes(4))
    assert example_avp(avp_def("Host-IP-Address")) == codec.encode_avp(257, bytes(6))
    assert missing("Session-Id").failed_avp == codec.encode_avp(263, b"")
    assert missing((415, 0)).failed_avp == codec.encode_avp(415, bytes(4))


def test_error_answers_are_not_checked_against_the_command_grammar() -> None:
    validate_message(Message(272, 0x20, 4, 1, 2, (codec.avp_unsigned32(268, 3001),)))
    assert command(272, False) is not None
