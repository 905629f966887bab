"""RAR/RAA and ASR/ASA views: the captured vectors of both sources, our encoders against
the dictionary grammar and the parsers, 5005 examples and the answer flag rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import Avp, Message, decode_message, encode_avp
from protocol.codes import AvpCode, CommandCode, HeaderFlag, ReAuthRequestType, ResultCode
from protocol.dictionary import BY_KEY
from protocol.errors import AvpError, LocalProtocolError
from protocol.grammar import example_avp, validate_message
from protocol.reauth import (
    AbortSessionAnswer,
    AbortSessionRequest,
    ReAuthAnswer,
    ReAuthRequest,
    encode_asa,
    encode_asr,
    encode_raa,
    encode_rar,
    parse_asa,
    parse_asr,
    parse_raa,
    parse_rar,
)

from .vectors import load_hex

SESSION = "ctf01.example.net;1795608000;42;pdp-7"
SOURCES = {"pydiameter": 0xA0, "otp": 0xB0}  #: hop-by-hop 0x0000SSnn, end-to-end 0x5E00SSnn


class Identities(TypedDict):
    session_id: str
    origin_host: str
    origin_realm: str
    destination_realm: str
    destination_host: str


class Origin(TypedDict):
    origin_host: str
    origin_realm: str


#: the requests the OCS sends in the vectors (the RAR/ASR of tests/vectors/README.md)
IDS = Identities(
    session_id=SESSION,
    origin_host="ocs01.example.org",
    origin_realm="example.org",
    destination_realm="example.net",
    destination_host="ctf01.example.net",
)
CTF = Origin(origin_host="ctf01.example.net", origin_realm="example.net")
RP = HeaderFlag.REQUEST | HeaderFlag.PROXIABLE


def ids(source: str, nn: int) -> tuple[int, int]:
    low = (SOURCES[source] << 8) | nn
    return low, 0x5E000000 | low


def vector(source: str, name: str) -> Message:
    return decode_message(load_hex(f"{source}_{name}.hex"))


def without(raw: bytes, code: int) -> Message:
    m = decode_message(raw)
    avps = tuple(a for a in m.avps if a.code != code)
    return Message(m.command_code, m.flags, m.application_id, m.hop_by_hop, m.end_to_end, avps)


def with_avp(raw: bytes, avp: Avp) -> Message:
    m = decode_message(raw)
    avps = (*m.avps, avp)
    return Message(m.command_code, m.flags, m.application_id, m.hop_by_hop, m.end_to_end, avps)


def rar(**overrides: object) -> bytes:
    return encode_rar(**{**IDS, "hop_by_hop": 1, "end_to_end": 2, **overrides})  # type: ignore[arg-type]


def asr(**overrides: object) -> bytes:
    return encode_asr(**{**IDS, "hop_by_hop": 3, "end_to_end": 4, **overrides})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("source", SOURCES)
def test_vector_rar(source: str) -> None:
    message = vector(source, "rar")
    assert (message.hop_by_hop, message.end_to_end) == ids(source, 0x20)
    assert parse_rar(message) == ReAuthRequest(
        **IDS,
        auth_application_id=4,
        re_auth_request_type=ReAuthRequestType.AUTHORIZE_ONLY,
        flags=RP,
    )


@pytest.mark.parametrize("source", SOURCES)
def test_vector_asr(source: str) -> None:
    message = vector(source, "asr")
    assert (message.hop_by_hop, message.end_to_end) == ids(source, 0x21)
    assert parse_asr(message) == AbortSessionRequest(**IDS, auth_application_id=4, flags=RP)


@pytest.mark.parametrize("source", SOURCES)
def test_vector_answers(source: str) -> None:
    raa, asa = vector(source, "raa"), vector(source, "asa")
    assert raa.flags == asa.flags == HeaderFlag.PROXIABLE
    assert parse_raa(raa) == ReAuthAnswer(SESSION, ResultCode.DIAMETER_LIMITED_SUCCESS, **CTF)
    assert parse_asa(asa) == AbortSessionAnswer(SESSION, ResultCode.DIAMETER_SUCCESS, **CTF)


def test_encoders_reproduce_otp_bytes() -> None:
    """OTP sets M everywhere and uses the CCF order, as we do: byte-identical."""
    hbh, e2e = ids("otp", 0x20)
    assert rar(hop_by_hop=hbh, end_to_end=e2e) == load_hex("otp_rar.hex")
    request = parse_rar(vector("otp", "rar"))
    raa = encode_raa(request, result_code=2002, **CTF, hop_by_hop=hbh, end_to_end=e2e)
    assert raa == load_hex("otp_raa.hex")
    hbh, e2e = ids("otp", 0x21)
    assert asr(hop_by_hop=hbh, end_to_end=e2e) == load_hex("otp_asr.hex")
    asa = encode_asa(vector("otp", "asr"), result_code=2001, **CTF, hop_by_hop=hbh, end_to_end=e2e)
    assert asa == load_hex("otp_asa.hex")


def test_answer_to_a_pydiameter_request_matches_its_answer() -> None:
    """python-diameter clears M on Destination-Host in the request; its answers are ours."""
    for name, encode, nn in (("raa", encode_raa, 0x20), ("asa", encode_asa, 0x21)):
        hbh, e2e = ids("pydiameter", nn)
        request = vector("pydiameter", "rar" if name == "raa" else "asr")
        code = 2002 if name == "raa" else 2001
        answer = encode(request, result_code=code, **CTF, hop_by_hop=hbh, end_to_end=e2e)
        assert answer == load_hex(f"pydiameter_{name}.hex")


# --------------------------------------------------------------------------- round trips


@given(
    st.sampled_from(list(ReAuthRequestType)),
    *[st.none() | st.integers(0, 2**32 - 1) for _ in range(4)],
)
def test_rar_round_trip(
    kind: ReAuthRequestType,
    rating_group: int | None,
    service_identifier: int | None,
    pool: int | None,
    state: int | None,
) -> None:
    raw = rar(
        re_auth_request_type=kind,
        rating_group=rating_group,
        service_identifier=service_identifier,
        g_s_u_pool_identifier=pool,
        origin_state_id=state,
    )
    message = decode_message(raw)
    validate_message(message)
    assert message.command_code == CommandCode.RE_AUTH and message.application_id == 4
    assert message.flags == RP and message.avps[0].code == AvpCode.SESSION_ID
    request = parse_rar(message)
    assert request == ReAuthRequest(
        **IDS,
        auth_application_id=4,
        re_auth_request_type=kind,
        rating_group=rating_group,
        service_identifier=service_identifier,
        g_s_u_pool_identifier=pool,
        origin_state_id=state,
    )
    answer = decode_message(
        encode_raa(request, result_code=2002, **CTF, hop_by_hop=1, end_to_end=2)
    )
    validate_message(answer)
    assert parse_raa(answer) == ReAuthAnswer(SESSION, 2002, **CTF)
    assert (answer.hop_by_hop, answer.end_to_end) == (1, 2)


@pytest.mark.parametrize("state", [None, 0, 2**32 - 1])
def test_asr_round_trip(state: int | None) -> None:
    message = decode_message(asr(origin_state_id=state))
    validate_message(message)
    assert message.command_code == CommandCode.ABORT_SESSION and message.application_id == 4
    assert message.flags == RP and message.avps[0].code == AvpCode.SESSION_ID
    request = parse_asr(message)
    assert request == AbortSessionRequest(**IDS, auth_application_id=4, origin_state_id=state)
    answer = decode_message(
        encode_asa(request, result_code=2001, **CTF, hop_by_hop=3, end_to_end=4)
    )
    validate_message(answer)
    assert parse_asa(answer) == AbortSessionAnswer(SESSION, 2001, **CTF)


# --------------------------------------------------------------------------- faults

RAR_REQUIRED = [263, 264, 296, 283, 293, 258, 285]


@pytest.mark.parametrize("code", RAR_REQUIRED)
def test_rar_missing_avp_is_5005_with_example(code: int) -> None:
    with pytest.raises(AvpError) as info:
        parse_rar(without(rar(), code))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.failed_avp == example_avp(BY_KEY[(code, 0)])


@pytest.mark.parametrize("code", RAR_REQUIRED[:-1])
def test_asr_missing_avp_is_5005_with_example(code: int) -> None:
    with pytest.raises(AvpError) as info:
        parse_asr(without(asr(), code))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.failed_avp == example_avp(BY_KEY[(code, 0)])


def test_missing_examples_are_zero_filled() -> None:
    """RFC 6733 §7.5: the Failed-AVP of a 5005 has a zero value of minimum size."""
    cases = [(263, encode_avp(263, b"")), (285, encode_avp(285, bytes(4)))]
    for code, example in cases:
        with pytest.raises(AvpError) as info:
            parse_rar(without(rar(), code))
        assert info.value.failed_avp == example


@pytest.mark.parametrize(
    ("parse", "name", "code"),
    [
        (parse_raa, "raa", 263),
        (parse_raa, "raa", 268),
        (parse_asa, "asa", 264),
        (parse_asa, "asa", 296),
    ],
)
def test_answer_missing_avp_is_5005(
    parse: Callable[[Message], object], name: str, code: int
) -> None:
    with pytest.raises(AvpError) as info:
        parse(without(load_hex(f"otp_{name}.hex"), code))
    assert info.value.result_code == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.failed_avp == example_avp(BY_KEY[(code, 0)])


def test_error_answer_may_lack_session_id() -> None:
    request = parse_rar(decode_message(rar()))
    raw = encode_raa(request, result_code=3004, **CTF, hop_by_hop=1, end_to_end=2)
    m = without(raw, AvpCode.SESSION_ID)
    assert m.is_error
    assert parse_raa(m) == ReAuthAnswer("", 3004, **CTF)


def replaced(raw: bytes, avp: Avp) -> Message:
    """``raw`` with its AVP of ``avp.code`` swapped for ``avp``."""
    m = decode_message(raw)
    avps = tuple(avp if a.code == avp.code else a for a in m.avps)
    return Message(m.command_code, m.flags, m.application_id, m.hop_by_hop, m.end_to_end, avps)


@pytest.mark.parametrize(
    ("avp", "result_code"),
    [
        (Avp.make(285, bytes(3) + b"\x07"), ResultCode.DIAMETER_INVALID_AVP_VALUE),
        (Avp.make(285, bytes(3)), ResultCode.DIAMETER_INVALID_AVP_LENGTH),
        (Avp.make(258, bytes(2)), ResultCode.DIAMETER_INVALID_AVP_LENGTH),
        (Avp.make(263, b"\xff\xfe"), ResultCode.DIAMETER_INVALID_AVP_VALUE),
        (Avp.make(293, b""), ResultCode.DIAMETER_INVALID_AVP_VALUE),
    ],
)
def test_bad_values_echo_the_avp(avp: Avp, result_code: ResultCode) -> None:
    with pytest.raises(AvpError) as info:
        parse_rar(replaced(rar(), avp))
    assert info.value.result_code == result_code
    assert info.value.failed_avp == avp.encode()


def test_single_avp_twice_is_5009() -> None:
    second = Avp.make(263, b"other;1")
    with pytest.raises(AvpError) as info:
        parse_asr(with_avp(asr(), second))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES
    assert info.value.failed_avp == second.encode()


def test_unknown_avps() -> None:
    """* [ AVP ] takes unknown AVPs without M; with M they are a 5001 (RFC 6733 §4.1)."""
    assert parse_rar(with_avp(rar(), Avp.make(64999, b"x", mandatory=False))).session_id == SESSION
    unknown = Avp.make(64999, b"x")
    with pytest.raises(AvpError) as info:
        parse_rar(with_avp(rar(), unknown))
    assert info.value.result_code == ResultCode.DIAMETER_AVP_UNSUPPORTED
    assert info.value.failed_avp == unknown.encode()


def test_wrong_command_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        parse_rar(vector("otp", "asr"))
    with pytest.raises(LocalProtocolError):
        parse_raa(vector("otp", "rar"))  # a request where an answer was expected
    with pytest.raises(LocalProtocolError):
        parse_asa(vector("otp", "raa"))
    with pytest.raises(LocalProtocolError):
        encode_raa(vector("otp", "asr"), result_code=2001, **CTF, hop_by_hop=1, end_to_end=2)


# --------------------------------------------------------------------------- answer flags


@pytest.mark.parametrize(
    ("request_flags", "result_code", "flags"),
    [
        (RP, 2001, HeaderFlag.PROXIABLE),
        (RP, 2002, HeaderFlag.PROXIABLE),
        (RP | HeaderFlag.RETRANSMITTED, 2001, HeaderFlag.PROXIABLE),
        (RP, 3002, HeaderFlag.PROXIABLE | HeaderFlag.ERROR),
        (RP, 3004, HeaderFlag.PROXIABLE | HeaderFlag.ERROR),
        (HeaderFlag.REQUEST, 3004, HeaderFlag.ERROR),
        (HeaderFlag.REQUEST, 2001, 0),
        (RP, 4001, HeaderFlag.PROXIABLE),
        (RP, 5002, HeaderFlag.PROXIABLE),
    ],
)
def test_answer_flags(request_flags: int, result_code: int, flags: int) -> None:
    """P copied from the request, R and T never set, E only for 3xxx (RFC 6733 §3, §7.1.3)."""
    ra = ReAuthRequest(**IDS, auth_application_id=4, flags=request_flags)
    sa = AbortSessionRequest(**IDS, auth_application_id=4, flags=request_flags)
    m = decode_message(rar())
    as_message = Message(m.command_code, request_flags, 4, 1, 2, m.avps)
    answers = [
        encode_raa(ra, result_code=result_code, **CTF, hop_by_hop=1, end_to_end=2),
        encode_raa(as_message, result_code=result_code, **CTF, hop_by_hop=1, end_to_end=2),
        encode_asa(sa, result_code=result_code, **CTF, hop_by_hop=1, end_to_end=2),
    ]
    for raw in answers:
        answer = decode_message(raw)
        assert answer.flags == flags
        assert answer.application_id == 4
        validate_message(answer)
    assert answers[0] == answers[1]
    assert parse_raa(decode_message(answers[0])).result_code == result_code


def test_answer_extra_avps() -> None:
    """Error-Message and Failed-AVP ride in ``extra``; the answer still fits the RAA grammar."""
    extra = encode_avp(281, b"busy", flags=0) + encode_avp(279, encode_avp(263, b""))
    raw = encode_raa(
        parse_rar(decode_message(rar())),
        result_code=5012,
        **CTF,
        hop_by_hop=1,
        end_to_end=2,
        extra=extra,
    )
    answer = decode_message(raw)
    validate_message(answer)
    assert [a.code for a in answer.avps] == [263, 268, 264, 296, 281, 279]
