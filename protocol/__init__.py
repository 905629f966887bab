"""Sans-IO Diameter for a Gy/Ro credit-control server and its clients.

RFC 6733 (base), RFC 8506 (credit control) and the 3GPP TS 32.299 Gy/Ro profile,
with no sockets and no clock: bytes in, events and bytes out, time passed in. The
only trio code is `protocol.trio_peer`; construct appears only in `protocol._wire`,
the test oracle. See protocol/README.md for the data flow.
"""

from __future__ import annotations

from .answers import IdGenerator, answer_header_flags, error_answer
from .capabilities import Capabilities
from .cc_client import CreditControlAnswer, MsccRequest, encode_ccr, parse_cca
from .cca import CcaEncoder, FinalUnitIndication, MsccAnswer
from .codec import Avp, Message, decode_avps, decode_message, encode_avp, encode_message
from .codes import (
    ApplicationId,
    AvpCode,
    CcRequestType,
    CommandCode,
    FinalUnitAction,
    RequestedAction,
    ResultCode,
    SubscriptionIdType,
)
from .credit_control import CreditControlRequest, MultipleServicesCreditControl, parse_ccr
from .errors import (
    AvpError,
    DiameterError,
    LocalProtocolError,
    PeerClosedError,
    ProtocolError,
    RemoteProtocolError,
)
from .events import (
    NEED_DATA,
    AnswerReceived,
    ConnectionClosed,
    PeerClosing,
    PeerOpened,
    RequestReceived,
    RequestRejected,
    WatchdogFailed,
)
from .framing import ReceiveBuffer
from .layouts import CcrReader
from .peer import PeerConfig, PeerConnection, Role
from .units import Money, ServiceUnits

__all__ = [
    "NEED_DATA",
    "AnswerReceived",
    "ApplicationId",
    "Avp",
    "AvpCode",
    "AvpError",
    "Capabilities",
    "CcRequestType",
    "CcaEncoder",
    "CcrReader",
    "CommandCode",
    "ConnectionClosed",
    "CreditControlAnswer",
    "CreditControlRequest",
    "DiameterError",
    "FinalUnitAction",
    "FinalUnitIndication",
    "IdGenerator",
    "LocalProtocolError",
    "Message",
    "Money",
    "MsccAnswer",
    "MsccRequest",
    "MultipleServicesCreditControl",
    "PeerClosedError",
    "PeerClosing",
    "PeerConfig",
    "PeerConnection",
    "PeerOpened",
    "ProtocolError",
    "ReceiveBuffer",
    "RemoteProtocolError",
    "RequestReceived",
    "RequestRejected",
    "RequestedAction",
    "ResultCode",
    "Role",
    "ServiceUnits",
    "SubscriptionIdType",
    "WatchdogFailed",
    "answer_header_flags",
    "decode_avps",
    "decode_message",
    "encode_avp",
    "encode_ccr",
    "encode_message",
    "error_answer",
    "parse_cca",
    "parse_ccr",
]
