"""Encode and decode Diameter messages and AVP values (RFC 6733 §3, §4).

What lives here: the `Avp` and `Message` values, the hand-written `struct` codec for
the header and AVP layer, and the typed value codecs in `encode_x`/`decode_x` pairs
for every basic and derived type (§4.2, §4.3). What must not: I/O, clocks, or the
grammar checks of a command (that is `grammar`).

Decoding is lazy by design: `decode_message` splits the top level into `Avp`s whose
``data`` stays raw; a Grouped AVP's children are split only when `decode_avps` is
called on it, and a value is typed only when the reader asks for it. An OCS therefore
pays only for the fields it reads (DESIGN.md hot-path budget). An AVP we do not know
survives untouched and re-encodes byte-identically (its flags, vendor id and data are
kept as received; padding is regenerated as zeros, which RFC 6733 §4 requires).

Every fault raises `RemoteProtocolError`/`AvpError` carrying the Result-Code and the
Failed-AVP that RFC 6733 §7 prescribes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from .codes import AVP_RESERVED_BITS, HEADER_RESERVED_BITS, AvpFlag, HeaderFlag, ResultCode
from .errors import AvpError, LocalProtocolError, RemoteProtocolError

HEADER_LENGTH = 20
VERSION = 1

_HEADER = struct.Struct(">IIIII")  # version|length, flags|code, app id, hop-by-hop, end-to-end
_AVP = struct.Struct(">II")  # code, flags|length
_AVP_VENDOR = struct.Struct(">III")  # code, flags|length, vendor id
_AVP_UNPACK = _AVP.unpack_from
_U32 = struct.Struct(">I")
_U32_UNPACK = _U32.unpack_from
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by len % 4

_V = int(AvpFlag.VENDOR)
_M = int(AvpFlag.MANDATORY)
# plain ints: an IntFlag ``&`` runs Flag.__and__ in Python (4% of a loaded OCS, py-spy)
_R_FLAG = int(HeaderFlag.REQUEST)
_E_FLAG = int(HeaderFlag.ERROR)
_P_FLAG = int(HeaderFlag.PROXIABLE)
_T_FLAG = int(HeaderFlag.RETRANSMITTED)


class Avp(NamedTuple):
    """One AVP as on the wire: ``flags`` holds V/M/P as received, ``data`` excludes padding.

    A NamedTuple rather than a dataclass: the decoder makes one per AVP and a tuple is
    the cheapest immutable value Python can build (perf-budget §7 item 1).
    """

    code: int
    flags: int
    data: bytes
    vendor_id: int = 0

    @classmethod
    def make(cls, code: int, data: bytes, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
        """An AVP with V set iff it has a vendor, M as asked, P clear."""
        flags = (_V if vendor_id else 0) | (_M if mandatory else 0)
        return cls(code, flags, data, vendor_id)

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & _M)

    def encode(self) -> bytes:
        return encode_avp(self.code, self.data, flags=self.flags, vendor_id=self.vendor_id)


class Message:
    """One Diameter message: the header fields and the top-level AVPs in order.

    A decoded message keeps its bytes (``raw``) and splits its AVPs on first access
    to ``avps``: the OCS hot path reads the fields it needs straight from ``raw``
    (`credit_control.parse_ccr`) and never pays for an AVP tuple it does not use.
    Immutable by convention; equality compares header fields and AVPs.
    """

    __slots__ = (
        "_avps",
        "application_id",
        "command_code",
        "end_to_end",
        "flags",
        "hop_by_hop",
        "raw",
    )

    def __init__(
        self,
        command_code: int,
        flags: int,
        application_id: int,
        hop_by_hop: int,
        end_to_end: int,
        avps: tuple[Avp, ...] | None = (),
        *,
        raw: bytes | None = None,
    ) -> None:
        self.command_code = command_code
        self.flags = flags
        self.application_id = application_id
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self._avps = avps
        #: the bytes this message was decoded from; None for a message we built
        self.raw = raw

    @property
    def avps(self) -> tuple[Avp, ...]:
        if self._avps is None:
            assert self.raw is not None
            self._avps = decode_avps(self.raw, HEADER_LENGTH)
        return self._avps

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.command_code == other.command_code
            and self.flags == other.flags
            and self.application_id == other.application_id
            and self.hop_by_hop == other.hop_by_hop
            and self.end_to_end == other.end_to_end
            and self.avps == other.avps
        )

    __hash__ = None  # type: ignore[assignment]  # mutable cache; equality by value

    def __repr__(self) -> str:
        return (
            f"Message(command_code={self.command_code}, flags=0x{self.flags:02x}, "
            f"application_id={self.application_id}, hop_by_hop={self.hop_by_hop}, "
            f"end_to_end={self.end_to_end}, avps={self.avps!r})"
        )

    @property
    def is_request(self) -> bool:
        return bool(self.flags & _R_FLAG)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & _E_FLAG)

    @property
    def is_proxiable(self) -> bool:
        return bool(self.flags & _P_FLAG)

    @property
    def is_retransmission(self) -> bool:
        return bool(self.flags & _T_FLAG)

    def find(self, code: int, vendor_id: int = 0) -> Avp | None:
        """The first top-level AVP with this code and vendor, or None."""
        return find(self.avps, code, vendor_id)

    def find_all(self, code: int, vendor_id: int = 0) -> list[Avp]:
        return [a for a in self.avps if a.code == code and a.vendor_id == vendor_id]

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_message(
            self.command_code,
            self.flags,
            self.application_id,
            self.hop_by_hop,
            self.end_to_end,
            b"".join([a.encode() for a in self.avps]),
        )


def find(avps: Iterable[Avp], code: int, vendor_id: int = 0) -> Avp | None:
    for a in avps:
        if a.code == code and a.vendor_id == vendor_id:
            return a
    return None


# --------------------------------------------------------------------------- header/AVP layer


def encode_avp(code: int, data: bytes, *, flags: int = _M, vendor_id: int = 0) -> bytes:
    """One AVP with its padding. V in ``flags`` decides whether Vendor-ID is written."""
    if flags & _V:
        head = _AVP_VENDOR.pack(code, (flags << 24) | (12 + len(data)), vendor_id)
    else:
        head = _AVP.pack(code, (flags << 24) | (8 + len(data)))
    return head + data + _PAD[len(data) & 3]


def encode_message(
    command_code: int,
    flags: int,
    application_id: int,
    hop_by_hop: int,
    end_to_end: int,
    body: bytes,
) -> bytes:
    """A whole message from its header fields and already-encoded AVPs."""
    length = HEADER_LENGTH + len(body)
    if length > 0xFFFFFF:
        raise LocalProtocolError(f"message of {length} bytes exceeds the 24-bit length field")
    return (
        _HEADER.pack(
            (VERSION << 24) | length,
            (flags << 24) | command_code,
            application_id,
            hop_by_hop,
            end_to_end,
        )
        + body
    )


class Header(NamedTuple):
    length: int
    command_code: int
    flags: int
    application_id: int
    hop_by_hop: int
    end_to_end: int


def decode_header(raw: bytes | bytearray | memoryview) -> Header:
    """The 20-byte header; version and length checks belong to `framing`."""
    if len(raw) < HEADER_LENGTH:
        raise RemoteProtocolError(
            f"{len(raw)} bytes is shorter than a Diameter header",
            result_code=ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH,
            fatal=True,
        )
    vl, fc, app, hbh, e2e = _HEADER.unpack_from(raw)
    return Header(vl & 0xFFFFFF, fc & 0xFFFFFF, fc >> 24, app, hbh, e2e)


def decode_message(raw: bytes, *, lazy: bool = False) -> Message:
    """Decode one whole message (as cut by `framing.ReceiveBuffer`).

    Raises:
        RemoteProtocolError: 5011 bad version, 5015 bad length, 3008 bad header bits.
        AvpError: 5014 for an AVP whose length does not fit, 3009 for reserved AVP bits;
            with ``lazy`` these surface on first access to ``avps`` instead.
    """
    size = len(raw)
    vl, fc, app, hbh, e2e = _HEADER.unpack_from(raw) if size >= 20 else (0, 0, 0, 0, 0)
    if size < HEADER_LENGTH or vl & 0xFFFFFF != size or size & 3:
        raise RemoteProtocolError(
            f"message length field {vl & 0xFFFFFF} for {len(raw)} bytes",
            result_code=ResultCode.DIAMETER_INVALID_MESSAGE_LENGTH,
            fatal=True,
        )
    if vl >> 24 != VERSION:
        raise RemoteProtocolError(
            f"Diameter version {vl >> 24}",
            result_code=ResultCode.DIAMETER_UNSUPPORTED_VERSION,
            fatal=True,
        )
    flags = fc >> 24
    # RFC 6733 §3: reserved bits must be zero; E set in a request and P... only E is
    # illegal in a request (an error answer cannot be a request).
    if flags & HEADER_RESERVED_BITS or (flags & 0xA0) == 0xA0:
        raise RemoteProtocolError(
            f"invalid command flags 0x{flags:02x}", result_code=ResultCode.DIAMETER_INVALID_HDR_BITS
        )
    # Message.__init__ bypassed: storing the slots here costs 80 ns against 180 ns for the
    # call with its keyword argument, once per request on the OCS hot path
    message = _new_object(Message)
    message.command_code = fc & 0xFFFFFF
    message.flags = flags
    message.application_id = app
    message.hop_by_hop = hbh
    message.end_to_end = e2e
    message._avps = None if lazy else decode_avps(raw, HEADER_LENGTH)
    message.raw = raw
    return message


_new_object = object.__new__


def decode_avps(raw: bytes | Avp, start: int = 0, end: int | None = None) -> tuple[Avp, ...]:
    """Split a run of AVPs (a message body or a Grouped AVP's data) into `Avp`s.

    Passing an `Avp` splits its data: ``decode_avps(mscc)`` gives MSCC's children.
    """
    if isinstance(raw, Avp):
        raw = raw.data
    if end is None:
        end = len(raw)
    out: list[Avp] = []
    append = out.append
    unpack = _AVP_UNPACK
    u32 = _U32_UNPACK
    new = tuple.__new__  # skips NamedTuple's Python-level __new__: 40% of the split cost
    offset = start
    while offset < end:
        if end - offset < 8:
            raise _length_error(raw, offset, end, "truncated AVP header")
        code, fl = unpack(raw, offset)
        length = fl & 0xFFFFFF
        if fl & 0x9F000000:  # V, or a reserved bit: both rare enough to test together
            if fl & 0x1F000000:
                raise _bits_error(raw, offset, end, code, fl)
            if length < 12 or offset + length > end:
                raise _length_error(raw, offset, end, f"AVP {code} length {length}")
            append(
                new(
                    Avp,
                    (code, fl >> 24, raw[offset + 12 : offset + length], u32(raw, offset + 8)[0]),
                )
            )
        else:
            if length < 8 or offset + length > end:
                raise _length_error(raw, offset, end, f"AVP {code} length {length}")
            append(new(Avp, (code, fl >> 24, raw[offset + 8 : offset + length], 0)))
        offset += (length + 3) & ~3
    return tuple(out)


def _bits_error(raw: bytes, offset: int, end: int, code: int, fl: int) -> AvpError:
    """3009 for reserved AVP flag bits (RFC 6733 §4.1), echoing the AVP as received."""
    length = fl & 0xFFFFFF
    head = 12 if fl & 0x80000000 else 8
    if length < head or offset + length > end:
        return _length_error(raw, offset, end, f"AVP {code} length {length}")
    vendor = _U32.unpack_from(raw, offset + 8)[0] if head == 12 else 0
    failed = encode_avp(
        code, raw[offset + head : offset + length], flags=fl >> 24, vendor_id=vendor
    )
    return AvpError(
        f"AVP {code} has reserved flag bits 0x{fl >> 24:02x}",
        result_code=ResultCode.DIAMETER_INVALID_AVP_BITS,
        failed_avp=failed,
    )


def _length_error(raw: bytes, offset: int, end: int, why: str) -> AvpError:
    """5014 with the offending header and a zero payload (RFC 6733 §7.1.5, 5014)."""
    head = bytes(raw[offset : min(offset + 12, end)]).ljust(8, b"\0")
    code, fl = _AVP.unpack_from(head)
    flags = (fl >> 24) & ~AVP_RESERVED_BITS
    vendor = _U32.unpack_from(head, 8)[0] if flags & _V and len(head) >= 12 else 0
    if flags & _V and len(head) < 12:
        flags &= ~_V
    return AvpError(
        why,
        result_code=ResultCode.DIAMETER_INVALID_AVP_LENGTH,
        failed_avp=encode_avp(code, b"", flags=flags, vendor_id=vendor),
    )


# --------------------------------------------------------------------------- typed values


def _value_error(avp: Avp, why: str, *, length: bool = False) -> AvpError:
    code = (
        ResultCode.DIAMETER_INVALID_AVP_LENGTH if length else ResultCode.DIAMETER_INVALID_AVP_VALUE
    )
    return AvpError(f"AVP {avp.code}: {why}", result_code=code, failed_avp=avp.encode())


def encode_unsigned32(value: int) -> bytes:
    return _U32.pack(value)


def decode_unsigned32(avp: Avp) -> int:
    if len(avp.data) != 4:
        raise _value_error(avp, f"Unsigned32 of {len(avp.data)} bytes", length=True)
    return int.from_bytes(avp.data, "big")


def encode_integer32(value: int) -> bytes:
    return _I32.pack(value)


def decode_integer32(avp: Avp) -> int:
    if len(avp.data) != 4:
        raise _value_error(avp, f"Integer32 of {len(avp.data)} bytes", length=True)
    return int.from_bytes(avp.data, "big", signed=True)


def encode_unsigned64(value: int) -> bytes:
    return _U64.pack(value)


def decode_unsigned64(avp: Avp) -> int:
    if len(avp.data) != 8:
        raise _value_error(avp, f"Unsigned64 of {len(avp.data)} bytes", length=True)
    return int.from_bytes(avp.data, "big")


def encode_integer64(value: int) -> bytes:
    return _I64.pack(value)


def decode_integer64(avp: Avp) -> int:
    if len(avp.data) != 8:
        raise _value_error(avp, f"Integer64 of {len(avp.data)} bytes", length=True)
    return int.from_bytes(avp.data, "big", signed=True)


# Float32/Float64 exist on the wire (RFC 6733 §4.2); no money or unit travels in them.
def encode_float32(value: float) -> bytes:
    return _F32.pack(value)


def decode_float32(avp: Avp) -> float:
    if len(avp.data) != 4:
        raise _value_error(avp, f"Float32 of {len(avp.data)} bytes", length=True)
    return float(_F32.unpack(avp.data)[0])


def encode_float64(value: float) -> bytes:
    return _F64.pack(value)


def decode_float64(avp: Avp) -> float:
    if len(avp.data) != 8:
        raise _value_error(avp, f"Float64 of {len(avp.data)} bytes", length=True)
    return float(_F64.unpack(avp.data)[0])


def encode_utf8(value: str) -> bytes:
    return value.encode()


def decode_utf8(avp: Avp) -> str:
    """UTF8String (RFC 6733 §4.3.1): invalid UTF-8 is a 5004."""
    try:
        return avp.data.decode()
    except UnicodeDecodeError:
        raise _value_error(avp, "invalid UTF-8") from None


def decode_identity(avp: Avp) -> str:
    """DiameterIdentity: an FQDN or realm, ASCII (RFC 6733 §4.3.1)."""
    try:
        text = avp.data.decode("ascii")
    except UnicodeDecodeError:
        raise _value_error(avp, "DiameterIdentity is not ASCII") from None
    if not text:
        raise _value_error(avp, "empty DiameterIdentity")
    return text


def decode_uri(avp: Avp) -> str:
    """DiameterURI: ``aaa://`` or ``aaas://`` FQDN[:port][;params] (RFC 6733 §4.3.1)."""
    text = decode_identity(avp)
    if not text.startswith(("aaa://", "aaas://")):
        raise _value_error(avp, "DiameterURI must start with aaa:// or aaas://")
    return text


def decode_ip_filter_rule(avp: Avp) -> str:
    """IPFilterRule (RFC 6733 §4.3.1): ASCII text starting with an action."""
    try:
        text = avp.data.decode("ascii")
    except UnicodeDecodeError:
        raise _value_error(avp, "IPFilterRule is not ASCII") from None
    if text.split(" ", 1)[0] not in ("permit", "deny"):
        raise _value_error(avp, "IPFilterRule must start with permit or deny")
    return text


AddressValue = ipaddress.IPv4Address | ipaddress.IPv6Address | tuple[int, bytes]


def encode_address(value: AddressValue | str) -> bytes:
    """Address (RFC 6733 §4.3.1): a 2-byte IANA address family, then the address."""
    if isinstance(value, tuple):
        family, data = value
        return family.to_bytes(2, "big") + data
    ip = ipaddress.ip_address(value)
    return (b"\0\x01" if ip.version == 4 else b"\0\x02") + ip.packed


def decode_address(avp: Avp) -> AddressValue:
    """IPv4/IPv6 as ipaddress objects; any other family as (family, bytes)."""
    data = avp.data
    if len(data) < 2:
        raise _value_error(avp, "Address shorter than its family", length=True)
    family = int.from_bytes(data[:2], "big")
    if family == 1:
        if len(data) != 6:
            raise _value_error(avp, "IPv4 Address of wrong length", length=True)
        return ipaddress.IPv4Address(data[2:])
    if family == 2:
        if len(data) != 18:
            raise _value_error(avp, "IPv6 Address of wrong length", length=True)
        return ipaddress.IPv6Address(data[2:])
    return (family, data[2:])


# Time (RFC 6733 §4.3.1) is NTP seconds since 1900 in 32 bits, which wrap on
# 2036-02-07 06:28:16 UTC. Following RFC 4330 §3, a value with the top bit clear is in
# the next era, so the representable span is 1968-01-20 .. 2104-02-26.
_NTP_TO_UNIX = 2_208_988_800
_ERA = 1 << 32
_TIME_MIN = (1 << 31) - _NTP_TO_UNIX  # 1968-01-20 03:14:08 UTC
_TIME_MAX = _ERA + (1 << 31) - 1 - _NTP_TO_UNIX  # 2104-02-26 09:42:23 UTC


def encode_time(value: datetime | int) -> bytes:
    """A datetime (aware) or Unix seconds, as NTP seconds with era rollover."""
    unix = value if isinstance(value, int) else int(value.timestamp())
    if not _TIME_MIN <= unix <= _TIME_MAX:
        raise LocalProtocolError(f"time {unix} is outside the Diameter Time range (1968-2104)")
    return _U32.pack((unix + _NTP_TO_UNIX) % _ERA)


def decode_time_unix(avp: Avp) -> int:
    """Unix seconds of a Time AVP."""
    if len(avp.data) != 4:
        raise _value_error(avp, f"Time of {len(avp.data)} bytes", length=True)
    ntp = int.from_bytes(avp.data, "big")
    return ntp - _NTP_TO_UNIX if ntp & 0x80000000 else ntp + _ERA - _NTP_TO_UNIX


def decode_time(avp: Avp) -> datetime:
    return datetime.fromtimestamp(decode_time_unix(avp), UTC)


# --------------------------------------------------------------------------- AVP builders
# Small constructors used when building messages; RFC spelling lives in the callers.


def avp_unsigned32(code: int, value: int, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, _U32.pack(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_unsigned64(code: int, value: int, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, _U64.pack(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_integer32(code: int, value: int, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, _I32.pack(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_integer64(code: int, value: int, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, _I64.pack(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_utf8(code: int, value: str, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, value.encode(), vendor_id=vendor_id, mandatory=mandatory)


def avp_octets(code: int, value: bytes, *, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp.make(code, value, vendor_id=vendor_id, mandatory=mandatory)


def avp_address(
    code: int, value: AddressValue | str, *, vendor_id: int = 0, mandatory: bool = True
) -> Avp:
    return Avp.make(code, encode_address(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_time(
    code: int, value: datetime | int, *, vendor_id: int = 0, mandatory: bool = True
) -> Avp:
    return Avp.make(code, encode_time(value), vendor_id=vendor_id, mandatory=mandatory)


def avp_grouped(
    code: int, children: Iterable[Avp], *, vendor_id: int = 0, mandatory: bool = True
) -> Avp:
    data = b"".join([c.encode() for c in children])
    return Avp.make(code, data, vendor_id=vendor_id, mandatory=mandatory)
