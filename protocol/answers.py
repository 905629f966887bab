"""Generic answers and message identifiers of the base protocol.

What lives here: the header flags of an answer (RFC 6733 §3, §7.1.3, §7.2), the
generic answer-message of RFC 6733 §7.2 that any node can build for any request
without knowing its command, and `IdGenerator` for Hop-by-Hop and End-to-End
identifiers (RFC 6733 §3). Capabilities (CER/CEA content) live in `capabilities`.
What must not: the peer state machine (that is `peer`), command grammars (a proper
CCA is the credit-control code's business), I/O, or clock reads (the caller passes
the time in).

The generic format (RFC 6733 §7.2)::

    <answer-message> ::= < Diameter Header: code, ERR [, PXY] >
                      0*1< Session-Id >
                         { Origin-Host }
                         { Origin-Realm }
                         { Result-Code }
                         [ Origin-State-Id ]
                         [ Error-Message ]
                         [ Error-Reporting-Host ]
                         [ Failed-AVP ]
                         [ Experimental-Result ]
                       * [ Proxy-Info ]
                       * [ AVP ]

It is what the peer sends for protocol errors (3xxx, E bit set) and what the trio
adapter sends for 5012 when a handler fails; 4xxx/5xxx answers of a known command
should use that command's own format where the application can build it.
"""

from __future__ import annotations

import random

from .codec import (
    Header,
    Message,
    encode_avp,
    encode_message,
)
from .codes import AvpCode, CommandCode, HeaderFlag
from .errors import ProtocolError

_M = 0x40


def answer_header_flags(request_flags: int, result_code: int) -> int:
    """The command flags of the answer to a request with ``request_flags``.

    R is cleared (it is an answer), P is copied from the request (RFC 6733 §3: "the
    answer ... MUST" keep the request's P bit), T is never set in an answer, and E is
    set only for a protocol error, i.e. a 3xxx Result-Code (RFC 6733 §7.1.3, §7.2).
    """
    flags = request_flags & HeaderFlag.PROXIABLE
    if 3000 <= result_code < 4000:
        flags |= HeaderFlag.ERROR
    return int(flags)


def _identity(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _session_id(request: Message) -> bytes | None:
    """Session-Id of a request if it can be read; a broken AVP list simply has none."""
    try:
        avp = request.find(AvpCode.SESSION_ID)
    except ProtocolError:
        return None
    return None if avp is None else avp.data


#: AVPs an application answer must echo from its request (RFC 8506 §3.2: a CCA carries
#: Auth-Application-Id, CC-Request-Type and CC-Request-Number), so that a 4xxx/5xxx
#: built here, without the application's encoder, still parses as that command's answer
_ECHO = {
    int(CommandCode.CREDIT_CONTROL): (
        AvpCode.AUTH_APPLICATION_ID,
        AvpCode.CC_REQUEST_TYPE,
        AvpCode.CC_REQUEST_NUMBER,
    ),
}


def _echoed(request: Message) -> list[bytes]:
    codes = _ECHO.get(request.command_code)
    if not codes:
        return []
    try:
        return [avp.encode() for avp in request.avps if avp.code in codes and not avp.vendor_id]
    except ProtocolError:  # the body is what failed: the generic answer is all there is
        return []


def error_answer(
    request: Message | Header,
    *,
    result_code: int,
    origin_host: str | bytes,
    origin_realm: str | bytes,
    session_id: str | bytes | None = None,
    failed_avp: bytes | None = None,
    error_message: str | None = None,
    error_reporting_host: str | bytes | None = None,
) -> bytes:
    """Encode the generic answer-message (RFC 6733 §7.2) to ``request``.

    The answer keeps the request's command code, Application-Id, Hop-by-Hop and
    End-to-End identifiers (RFC 6733 §6.2); its flags come from `answer_header_flags`.

    Args:
        request: the request as decoded, or only its header when the body could not
            be trusted (bad header bits, a fatal framing error).
        session_id: defaults to the request's Session-Id when ``request`` is a
            `Message` that has one; it is written first, as the CCF requires.
        failed_avp: one encoded AVP (the offending one as received, or for 5005 an
            example of the missing one), wrapped in Failed-AVP (RFC 6733 §7.5).
        error_reporting_host: only when we are not the Origin-Host that set the
            Result-Code (RFC 6733 §7.3, a relay's case).
    """
    if session_id is None and isinstance(request, Message):
        session_id = _session_id(request)
    parts = []
    if session_id is not None:
        parts.append(encode_avp(AvpCode.SESSION_ID, _identity(session_id)))
    parts.append(encode_avp(AvpCode.ORIGIN_HOST, _identity(origin_host)))
    parts.append(encode_avp(AvpCode.ORIGIN_REALM, _identity(origin_realm)))
    parts.append(encode_avp(AvpCode.RESULT_CODE, (result_code & 0xFFFFFFFF).to_bytes(4, "big")))
    if error_message is not None:
        parts.append(encode_avp(AvpCode.ERROR_MESSAGE, error_message.encode(), flags=0))
    if error_reporting_host is not None:
        parts.append(
            encode_avp(AvpCode.ERROR_REPORTING_HOST, _identity(error_reporting_host), flags=0)
        )
    if failed_avp is not None:
        parts.append(encode_avp(AvpCode.FAILED_AVP, failed_avp, flags=_M))
    if isinstance(request, Message) and result_code // 1000 != 3:
        parts.extend(_echoed(request))
    return encode_message(
        request.command_code,
        answer_header_flags(request.flags, result_code),
        request.application_id,
        request.hop_by_hop,
        request.end_to_end,
        b"".join(parts),
    )


class IdGenerator:
    """Hop-by-Hop and End-to-End identifiers (RFC 6733 §3).

    Hop-by-Hop: "a monotonically increasing number, whose start value was randomly
    generated", unique per connection, wrapping at 2**32.

    End-to-End: "the high-order 12 bits contain the low-order 12 bits of current time,
    and the low-order 20 bits to a random value"; the low 20 bits then increment, so an
    id repeats only after 2**20 requests (§3 asks for 4 minutes of uniqueness), and the
    start time in the high bits keeps a restarted node from reusing its predecessor's ids. Share one generator across connections when
    End-to-End ids must be unique per node.

    No clock is read: ``now`` is the start time in seconds (Unix time is the natural
    choice), ``seed`` makes the random starts reproducible in tests.
    """

    __slots__ = ("_e2e_high", "_e2e_low", "_hop")

    def __init__(self, *, now: float, seed: int | None = None) -> None:
        rng = random.Random(seed)
        self._hop = rng.getrandbits(32)
        self._e2e_high = (int(now) & 0xFFF) << 20
        self._e2e_low = rng.getrandbits(20)

    def next_hop_by_hop(self) -> int:
        value = self._hop
        self._hop = (value + 1) & 0xFFFFFFFF
        return value

    def next_end_to_end(self) -> int:
        value = self._e2e_high | self._e2e_low
        self._e2e_low = (self._e2e_low + 1) & 0xFFFFF
        return value


__all__ = [
    "IdGenerator",
    "answer_header_flags",
    "error_answer",
]
