"""What a `PeerConnection` reports: the events of one Diameter peer connection.

What lives here: one frozen, slotted dataclass per event and the ``NEED_DATA``
sentinel (h11's shape: bytes in, events out). What must not: behaviour. The events
follow the peer state machine of RFC 6733 §5.6: capabilities exchange (§5.3),
application traffic (§6), disconnection (§5.4) and watchdog failure (RFC 3539 §3.4).

Events are never subclassed further; match on the concrete class.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from .codec import Message


class Need(enum.Enum):
    DATA = "need-data"


#: returned by `PeerConnection.next_event` when no event can be produced without more bytes
NEED_DATA: Literal[Need.DATA] = Need.DATA


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every peer event."""


@dataclass(frozen=True, slots=True)
class PeerOpened(Event):
    """The capabilities exchange succeeded (RFC 6733 §5.3); the connection is Open.

    Carries what the remote peer advertised in its CER (responder) or CEA (initiator).
    ``applications`` is every application id it advertised (Auth-, Acct- and inside
    Vendor-Specific-Application-Id); ``common_applications`` the ones both sides serve
    (the relay id 0xffffffff matches everything).
    """

    origin_host: str
    origin_realm: str
    origin_state_id: int | None
    applications: frozenset[int]
    common_applications: frozenset[int]
    vendor_id: int
    supported_vendor_ids: frozenset[int]
    host_ip_addresses: tuple[str, ...]
    product_name: str
    firmware_revision: int | None = None


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """An application request (decoded lazily: read ``message.raw`` or ``message.avps``).

    The application answers it with `PeerConnection.send`. Reading ``message.avps``
    may raise `AvpError` for a malformed AVP list: answer that request with the
    error's Result-Code and Failed-AVP.
    """

    message: Message


@dataclass(frozen=True, slots=True)
class AnswerReceived(Event):
    """An answer to a request we sent, matched by Hop-by-Hop id (RFC 6733 §6.2)."""

    message: Message


@dataclass(frozen=True, slots=True)
class RequestRejected(Event):
    """The connection answered a bad request itself with an error and carries on.

    For example 3001 (unknown base command), 3007 (application not advertised), 3008
    (invalid header bits) or a Failed-AVP error in a base request (RFC 6733 §7.1).
    """

    command_code: int
    application_id: int
    hop_by_hop: int
    end_to_end: int
    result_code: int
    reason: str


@dataclass(frozen=True, slots=True)
class PeerClosing(Event):
    """The peer sent DPR (RFC 6733 §5.4). ``cause`` is its Disconnect-Cause, if readable.

    The DPA goes out once every request already received has been answered (or the
    disconnect timeout passes), then the connection closes. Send no new requests.
    """

    cause: int | None


@dataclass(frozen=True, slots=True)
class WatchdogFailed(Event):
    """No traffic for two watchdog intervals despite a DWR (RFC 3539 §3.4.1).

    ``last_received`` is the time, on the caller's clock, of the last message seen.
    A `ConnectionClosed` follows.
    """

    last_received: float


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The connection reached Closed. Send what `data_to_send` still holds, then close.

    ``result_code`` is set when a protocol error closed it (the Result-Code answered,
    e.g. 5010, 3010, 5011, 5015); ``reason`` is for the log.
    """

    reason: str
    result_code: int | None = None


__all__ = [
    "NEED_DATA",
    "AnswerReceived",
    "ConnectionClosed",
    "Event",
    "Need",
    "PeerClosing",
    "PeerOpened",
    "RequestReceived",
    "RequestRejected",
    "WatchdogFailed",
]
