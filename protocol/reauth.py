"""Typed Re-Auth and Abort-Session views: RAR/RAA and ASR/ASA.

RFC 6733 §8.3 (Re-Auth) and §8.5 (Abort-Session), scoped for credit control by RFC 8506
§5.5: the OCS sends a RAR (AUTHORIZE_ONLY, optionally narrowed to a Rating-Group,
Service-Identifier or G-S-U-Pool-Identifier), the client answers 2002 LIMITED_SUCCESS
(2001 if a re-auth was already under way) and sends a CCR-Update; after an ASR it
answers and sends a CCR-Termination. Encoders and parsers for both ends live here;
sans-IO, no clock, no timers or session state.

Faults raise `AvpError` with the RFC 6733 §7 Result-Code and Failed-AVP: 5005 for a
missing required AVP (an example, `grammar.missing`), 5004 a bad value, 5014 a wrong
length, 5009 a single AVP twice, 5001 an unknown AVP with the M bit. A message of
another command is a `LocalProtocolError`: dispatch is the caller's job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .answers import answer_header_flags
from .codec import Avp, Message, decode_identity, decode_unsigned32, decode_utf8, encode_avp
from .codec import encode_message as _encode_message
from .codes import ApplicationId, AvpCode, CommandCode, HeaderFlag, ReAuthRequestType, ResultCode
from .dictionary import lookup
from .errors import AvpError, LocalProtocolError
from .grammar import missing

_U32 = struct.Struct(">I")
_REQUEST_FLAGS = int(HeaderFlag.REQUEST | HeaderFlag.PROXIABLE)
_APP = int(ApplicationId.DIAMETER_CREDIT_CONTROL)
_C = AvpCode

#: the identities every RAR and ASR carries as DiameterIdentity, in CCF order
_IDENTITIES = (_C.ORIGIN_HOST, _C.ORIGIN_REALM, _C.DESTINATION_REALM, _C.DESTINATION_HOST)
#: required in an ASR (RFC 6733 §8.5.1); a RAR adds Re-Auth-Request-Type (§8.3.1)
_ASR_REQUIRED = (_C.SESSION_ID, *_IDENTITIES, _C.AUTH_APPLICATION_ID)
_RAR_REQUIRED = (*_ASR_REQUIRED, _C.RE_AUTH_REQUEST_TYPE)
_ANSWER_REQUIRED = (_C.SESSION_ID, _C.RESULT_CODE, _C.ORIGIN_HOST, _C.ORIGIN_REALM)
#: an E-bit answer is the generic answer-message (RFC 6733 §7.2): Session-Id optional
_ERROR_REQUIRED = _ANSWER_REQUIRED[1:]
#: AVPs that occur at most once at the top level of all four commands (5009)
_SINGLE = frozenset(_RAR_REQUIRED) | {_C.RESULT_CODE, _C.USER_NAME, _C.ORIGIN_STATE_ID}
_SINGLE |= {_C.CC_SUB_SESSION_ID, _C.G_S_U_POOL_IDENTIFIER, _C.SERVICE_IDENTIFIER}
_SINGLE |= {_C.RATING_GROUP, _C.ERROR_MESSAGE, _C.ERROR_REPORTING_HOST, _C.FAILED_AVP}
_REQUEST_TYPES = {t.value: t for t in ReAuthRequestType}


@dataclass(frozen=True, slots=True)
class _Request:
    session_id: str
    origin_host: str
    origin_realm: str
    destination_realm: str
    destination_host: str
    auth_application_id: int


@dataclass(frozen=True, slots=True)
class ReAuthRequest(_Request):
    """A RAR (RFC 6733 §8.3.1, RFC 8506 §5.5); ``flags`` are its header flags."""

    re_auth_request_type: ReAuthRequestType = ReAuthRequestType.AUTHORIZE_ONLY
    rating_group: int | None = None
    service_identifier: int | None = None
    g_s_u_pool_identifier: int | None = None
    origin_state_id: int | None = None
    flags: int = _REQUEST_FLAGS


@dataclass(frozen=True, slots=True)
class AbortSessionRequest(_Request):
    """An ASR (RFC 6733 §8.5.1); ``flags`` are its header flags."""

    origin_state_id: int | None = None
    flags: int = _REQUEST_FLAGS


@dataclass(frozen=True, slots=True)
class _Answer:
    session_id: str  #: "" in an E-bit answer without one (RFC 6733 §7.2)
    result_code: int
    origin_host: str
    origin_realm: str


class ReAuthAnswer(_Answer):
    """A RAA (RFC 6733 §8.3.2)."""

    __slots__ = ()


class AbortSessionAnswer(_Answer):
    """An ASA (RFC 6733 §8.5.2)."""

    __slots__ = ()


# --------------------------------------------------------------------------- helpers


def _text(code: int, value: str) -> bytes:
    return encode_avp(code, value.encode())


def _u32(code: int, value: int) -> bytes:
    return encode_avp(code, _U32.pack(value))


def _scan(
    message: Message, command: CommandCode, required: tuple[AvpCode, ...], *, request: bool
) -> dict[int, Avp]:
    """The single-valued top-level AVPs by code, after the 5009, 5001 and 5005 checks."""
    if message.command_code != command or message.is_request != request:
        raise LocalProtocolError(
            f"{message!r} is not a {command.name} {'request' if request else 'answer'}"
        )
    found: dict[int, Avp] = {}
    for avp in message.avps:
        if avp.vendor_id == 0 and avp.code in _SINGLE:
            if avp.code in found:
                raise _fault(ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, avp, "occurs twice")
            found[avp.code] = avp
        elif avp.mandatory and lookup(avp.code, avp.vendor_id) is None:
            raise _fault(ResultCode.DIAMETER_AVP_UNSUPPORTED, avp, "unknown with the M bit")
    if message.is_error:
        required = _ERROR_REQUIRED
    for code in required:
        if code not in found:
            raise missing((code, 0))
    return found


def _fault(result_code: ResultCode, avp: Avp, why: str) -> AvpError:
    return AvpError(f"AVP {avp.code}: {why}", result_code=result_code, failed_avp=avp.encode())


def _optional_u32(found: dict[int, Avp], code: int) -> int | None:
    avp = found.get(code)
    return None if avp is None else decode_unsigned32(avp)


def _request_fields(found: dict[int, Avp]) -> tuple[str, str, str, str, str, int]:
    """Session-Id, Origin-Host/-Realm, Destination-Realm/-Host, Auth-Application-Id."""
    session = decode_utf8(found[_C.SESSION_ID])
    host, realm, dest_realm, dest_host = (decode_identity(found[c]) for c in _IDENTITIES)
    app = decode_unsigned32(found[_C.AUTH_APPLICATION_ID])
    return session, host, realm, dest_realm, dest_host, app


def _request(
    command: CommandCode, ids: tuple[str, ...], extra: list[bytes], hbh: int, e2e: int
) -> bytes:
    """< Session-Id > { Origin-Host } { Origin-Realm } { Destination-Realm }
    { Destination-Host } { Auth-Application-Id } and then ``extra`` (the CCF order)."""
    parts = [_text(code, value) for code, value in zip(_ASR_REQUIRED[:5], ids, strict=True)]
    body = b"".join([*parts, _u32(_C.AUTH_APPLICATION_ID, _APP), *extra])
    return _encode_message(command, _REQUEST_FLAGS, _APP, hbh, e2e, body)


def _encode_answer(
    command: CommandCode,
    request: ReAuthRequest | AbortSessionRequest | Message,
    values: tuple[int, str, str, int, int, bytes],
) -> bytes:
    """P copied from the request, R clear, E only for a 3xxx (RFC 6733 §3, §7.1.3)."""
    result_code, origin_host, origin_realm, hop_by_hop, end_to_end, extra = values
    if isinstance(request, _Request):
        session_id = request.session_id
    else:  # only Session-Id is read: any RAR/ASR we can answer, we answer
        found = _scan(request, command, (_C.SESSION_ID,), request=True)
        session_id = decode_utf8(found[_C.SESSION_ID])
    flags = answer_header_flags(request.flags, result_code)
    body = [_text(_C.SESSION_ID, session_id), _u32(_C.RESULT_CODE, result_code)]
    body += [_text(_C.ORIGIN_HOST, origin_host), _text(_C.ORIGIN_REALM, origin_realm), extra]
    return _encode_message(command, flags, _APP, hop_by_hop, end_to_end, b"".join(body))


def _parse_answer(message: Message, command: CommandCode) -> tuple[str, int, str, str]:
    found = _scan(message, command, _ANSWER_REQUIRED, request=False)
    session = found.get(_C.SESSION_ID)
    return (
        "" if session is None else decode_utf8(session),
        decode_unsigned32(found[_C.RESULT_CODE]),
        decode_identity(found[_C.ORIGIN_HOST]),
        decode_identity(found[_C.ORIGIN_REALM]),
    )


# --------------------------------------------------------------------------- Re-Auth


def encode_rar(
    *,
    session_id: str,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    destination_host: str,
    hop_by_hop: int,
    end_to_end: int,
    re_auth_request_type: ReAuthRequestType = ReAuthRequestType.AUTHORIZE_ONLY,
    rating_group: int | None = None,
    service_identifier: int | None = None,
    g_s_u_pool_identifier: int | None = None,
    origin_state_id: int | None = None,
) -> bytes:
    """A Re-Auth-Request in the order of its CCF (RFC 6733 §8.3.1, RFC 8506 §5.5)."""
    extra = [_u32(_C.RE_AUTH_REQUEST_TYPE, re_auth_request_type)]
    for code, value in (
        (_C.ORIGIN_STATE_ID, origin_state_id),
        (_C.G_S_U_POOL_IDENTIFIER, g_s_u_pool_identifier),
        (_C.SERVICE_IDENTIFIER, service_identifier),
        (_C.RATING_GROUP, rating_group),
    ):
        if value is not None:
            extra.append(_u32(code, value))
    ids = (session_id, origin_host, origin_realm, destination_realm, destination_host)
    return _request(CommandCode.RE_AUTH, ids, extra, hop_by_hop, end_to_end)


def parse_rar(message: Message) -> ReAuthRequest:
    """Read a Re-Auth-Request. Raises `AvpError` (5005/5004/5014/5009/5001)."""
    found = _scan(message, CommandCode.RE_AUTH, _RAR_REQUIRED, request=True)
    type_avp = found[_C.RE_AUTH_REQUEST_TYPE]
    request_type = _REQUEST_TYPES.get(decode_unsigned32(type_avp))
    if request_type is None:
        raise _fault(ResultCode.DIAMETER_INVALID_AVP_VALUE, type_avp, "Re-Auth-Request-Type")
    return ReAuthRequest(
        *_request_fields(found),
        re_auth_request_type=request_type,
        rating_group=_optional_u32(found, _C.RATING_GROUP),
        service_identifier=_optional_u32(found, _C.SERVICE_IDENTIFIER),
        g_s_u_pool_identifier=_optional_u32(found, _C.G_S_U_POOL_IDENTIFIER),
        origin_state_id=_optional_u32(found, _C.ORIGIN_STATE_ID),
        flags=message.flags,
    )


def encode_raa(
    request: ReAuthRequest | Message,
    *,
    result_code: int,
    origin_host: str,
    origin_realm: str,
    hop_by_hop: int,
    end_to_end: int,
    extra: bytes = b"",
) -> bytes:
    """The Re-Auth-Answer to ``request`` (RFC 6733 §8.3.2); ``extra`` holds already
    encoded optional AVPs (Origin-State-Id, Error-Message, Failed-AVP...)."""
    values = (result_code, origin_host, origin_realm, hop_by_hop, end_to_end, extra)
    return _encode_answer(CommandCode.RE_AUTH, request, values)


def parse_raa(message: Message) -> ReAuthAnswer:
    """Read a Re-Auth-Answer; an E-bit one may lack Session-Id (RFC 6733 §7.2)."""
    return ReAuthAnswer(*_parse_answer(message, CommandCode.RE_AUTH))


# --------------------------------------------------------------------------- Abort-Session


def encode_asr(
    *,
    session_id: str,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    destination_host: str,
    hop_by_hop: int,
    end_to_end: int,
    origin_state_id: int | None = None,
) -> bytes:
    """An Abort-Session-Request in the order of its CCF (RFC 6733 §8.5.1)."""
    extra = [] if origin_state_id is None else [_u32(_C.ORIGIN_STATE_ID, origin_state_id)]
    ids = (session_id, origin_host, origin_realm, destination_realm, destination_host)
    return _request(CommandCode.ABORT_SESSION, ids, extra, hop_by_hop, end_to_end)


def parse_asr(message: Message) -> AbortSessionRequest:
    """Read an Abort-Session-Request. Raises `AvpError` (5005/5004/5014/5009/5001)."""
    found = _scan(message, CommandCode.ABORT_SESSION, _ASR_REQUIRED, request=True)
    return AbortSessionRequest(
        *_request_fields(found),
        origin_state_id=_optional_u32(found, _C.ORIGIN_STATE_ID),
        flags=message.flags,
    )


def encode_asa(
    request: AbortSessionRequest | Message,
    *,
    result_code: int,
    origin_host: str,
    origin_realm: str,
    hop_by_hop: int,
    end_to_end: int,
    extra: bytes = b"",
) -> bytes:
    """The Abort-Session-Answer to ``request`` (RFC 6733 §8.5.2); ``extra`` as for RAA."""
    values = (result_code, origin_host, origin_realm, hop_by_hop, end_to_end, extra)
    return _encode_answer(CommandCode.ABORT_SESSION, request, values)


def parse_asa(message: Message) -> AbortSessionAnswer:
    """Read an Abort-Session-Answer; an E-bit one may lack Session-Id (RFC 6733 §7.2)."""
    return AbortSessionAnswer(*_parse_answer(message, CommandCode.ABORT_SESSION))
