"""Exceptions raised by protocol/.

* DiameterError
  * ProtocolError               the bytes or the message sequence break RFC 6733
    * LocalProtocolError        we asked for something illegal: a bug in our code
    * RemoteProtocolError       the peer sent something illegal: answer it, maybe close
      * AvpError                one AVP is at fault; carries the Failed-AVP (RFC 6733 §7.5)
  * PeerClosedError             a request cannot be answered: the connection is not open

Every fault carries the Result-Code to answer with (h11's ``error_status_hint``),
so the caller never has to guess. ``fatal`` says whether the byte stream can still be
trusted: a lying length or a bad version leaves no way to find the next message, and
the connection must be closed after the error answer, if any.
"""

from __future__ import annotations

from .codes import ResultCode


class DiameterError(Exception):
    """Base of every exception this package raises on purpose."""


class ProtocolError(DiameterError):
    def __init__(
        self,
        message: str,
        *,
        result_code: ResultCode = ResultCode.DIAMETER_UNABLE_TO_COMPLY,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.result_code = result_code
        self.fatal = fatal


class LocalProtocolError(ProtocolError):
    """Our own code asked for something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes or a message sequence the protocol forbids."""


class AvpError(RemoteProtocolError):
    """One AVP is at fault.

    ``failed_avp`` is the encoded AVP to echo inside Failed-AVP: the offending AVP as
    received (5001, 5004, 5008, 5009, 3009, 5014) or, for 5005, an example of the
    missing one with a zero-filled value of minimum length (RFC 6733 §7.5).
    """

    def __init__(
        self,
        message: str,
        *,
        result_code: ResultCode,
        failed_avp: bytes,
        fatal: bool = False,
    ) -> None:
        super().__init__(message, result_code=result_code, fatal=fatal)
        self.failed_avp = failed_avp


class PeerClosedError(DiameterError):
    """The peer connection is closed, or closed before the capabilities exchange."""

    def __init__(self, message: str, *, result_code: int | None = None) -> None:
        super().__init__(message)
        self.result_code = result_code
