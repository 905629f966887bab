"""Diameter messages out of a classic pcap file, for ``ocs decode``; standard library only.

What lives here: `read_pcap` (the libpcap file format: global header, then records) and
the layers beneath Diameter: Ethernet (with 802.1Q tags), Linux cooked capture v1/v2,
raw IP and BSD loopback; IPv4 and IPv6; TCP, reassembled per direction and cut into
messages by `protocol.framing.ReceiveBuffer`; SCTP DATA chunks (one message each). What
must not: Diameter decoding (``ocs.cli_decode`` does that with the dictionary).

Decisions: pcapng is refused with the editcap command that converts it (a second file
format is more code than its value here); IPv4 fragments are skipped (Diameter over TCP
is never fragmented by sane stacks); a TCP stream that carries garbage is reported once
and its direction is dropped, so one bad capture does not hide the others.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from protocol.errors import RemoteProtocolError
from protocol.framing import ReceiveBuffer

PCAPNG_MAGIC = 0x0A0D0D0A
#: magic -> (byte order, timestamp fraction per second)
_MAGICS = {
    0xA1B2C3D4: 1_000_000,
    0xA1B23C4D: 1_000_000_000,
}
_LINK_ETHERNET, _LINK_NULL, _LINK_RAW, _LINK_SLL, _LINK_SLL2 = 1, 0, 101, 113, 276
_LINK_RAW_ALIASES = {12, 14, _LINK_RAW, 228, 229}  # DLT_RAW and LINKTYPE_IPV4/IPV6
_IPPROTO_TCP, _IPPROTO_SCTP = 6, 132
_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options


class PcapError(ValueError):
    """Not a pcap file this reader understands; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Captured:
    """One Diameter message found in a capture."""

    frame: int  #: 1-based record number of the packet that completed it
    time: float  #: capture timestamp, seconds since the epoch
    source: str  #: "address:port"
    destination: str
    transport: str  #: "tcp" or "sctp"
    raw: bytes


@dataclass(slots=True)
class _Flow:
    """One direction of a TCP connection being reassembled."""

    buffer: ReceiveBuffer = field(default_factory=lambda: ReceiveBuffer(1 << 24))
    next_seq: int | None = None
    pending: dict[int, bytes] = field(default_factory=dict)  #: out-of-order segments
    broken: bool = False


@dataclass(slots=True)
class PcapResult:
    messages: list[Captured] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  #: streams that were not Diameter
    packets: int = 0


def read_pcap(data: bytes) -> PcapResult:
    """Every Diameter message of a classic pcap capture, in capture order.

    Raises:
        PcapError: not a pcap file, pcapng, or a link type this reader lacks.
    """
    if len(data) < 24:
        raise PcapError("too short for a pcap file")
    magic_le = struct.unpack_from("<I", data)[0]
    if magic_le == PCAPNG_MAGIC:
        raise PcapError(
            "this is a pcapng file; convert it with: editcap -F pcap IN.pcapng OUT.pcap"
        )
    order = "<" if magic_le in _MAGICS else ">"
    magic = struct.unpack_from(order + "I", data)[0]
    if magic not in _MAGICS:
        raise PcapError("not a pcap file (unknown magic number)")
    fraction = _MAGICS[magic]
    link = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    known = {_LINK_ETHERNET, _LINK_NULL, _LINK_SLL, _LINK_SLL2} | _LINK_RAW_ALIASES
    if link not in known:
        raise PcapError(f"link type {link} is not supported (Ethernet, Linux cooked, raw IP are)")
    result = PcapResult()
    flows: dict[tuple[str, int, str, int], _Flow] = {}
    for frame, (time, packet) in enumerate(_records(data, order, fraction), start=1):
        result.packets += 1
        ip = _network(link, packet, order)
        if ip is None:
            continue
        for t in _transport(ip):
            source, destination = _endpoint(t.src, t.sport), _endpoint(t.dst, t.dport)
            if t.protocol == _IPPROTO_SCTP:
                result.messages.extend(
                    Captured(frame, time, source, destination, "sctp", chunk) for chunk in t.chunks
                )
                continue
            flow = flows.setdefault((t.src, t.sport, t.dst, t.dport), _Flow())
            label = f"{source} -> {destination}"
            for raw in _reassemble(flow, t.seq, t.syn, t.payload, label, result):
                result.messages.append(Captured(frame, time, source, destination, "tcp", raw))
    return result


def _records(data: bytes, order: str, fraction: int) -> Iterator[tuple[float, bytes]]:
    offset = 24
    while offset + 16 <= len(data):
        seconds, part, captured, _original = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        if offset + captured > len(data):
            return  # a capture cut short while writing: keep what is complete
        yield seconds + part / fraction, data[offset : offset + captured]
        offset += captured


def _network(link: int, packet: bytes, order: str) -> bytes | None:
    """The IP packet inside a link-layer frame, or None for anything else."""
    if link == _LINK_ETHERNET:
        if len(packet) < 14:
            return None
        offset, ethertype = 14, struct.unpack_from("!H", packet, 12)[0]
        while ethertype in (0x8100, 0x88A8) and len(packet) >= offset + 4:  # VLAN tags
            ethertype = struct.unpack_from("!H", packet, offset + 2)[0]
            offset += 4
    elif link == _LINK_SLL:
        if len(packet) < 16:
            return None
        offset, ethertype = 16, struct.unpack_from("!H", packet, 14)[0]
    elif link == _LINK_SLL2:
        if len(packet) < 20:
            return None
        offset, ethertype = 20, struct.unpack_from("!H", packet, 0)[0]
    elif link == _LINK_NULL:
        if len(packet) < 4:
            return None
        family = struct.unpack_from(order + "I", packet)[0]
        offset, ethertype = 4, 0x86DD if family in (24, 28, 30) else 0x0800
    else:
        return packet
    return packet[offset:] if ethertype in (0x0800, 0x86DD) else None


class _Segment(NamedTuple):
    protocol: int
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes = b""  #: TCP
    seq: int = 0  #: TCP
    syn: bool = False  #: TCP
    chunks: tuple[bytes, ...] = ()  #: SCTP: one whole message per DATA chunk


def _transport(ip: bytes) -> Iterator[_Segment]:
    """The TCP or SCTP segment of an IP packet, if it carries one."""
    if not ip:
        return
    version = ip[0] >> 4
    if version == 4 and len(ip) >= 20:
        header = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        fragment = struct.unpack_from("!H", ip, 6)[0]
        if fragment & 0x3FFF:  # more fragments, or not the first one
            return
        protocol = ip[9]
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        body = ip[header : total or len(ip)]
    elif version == 6 and len(ip) >= 40:
        protocol = ip[6]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        length = struct.unpack_from("!H", ip, 4)[0]
        body = ip[40 : 40 + length]
        while protocol in _IPV6_EXTENSIONS and len(body) >= 8:
            protocol, body = body[0], body[(body[1] + 1) * 8 :]
    else:
        return
    if protocol == _IPPROTO_TCP and len(body) >= 20:
        sport, dport, seq = struct.unpack_from("!HHI", body)
        offset = (body[12] >> 4) * 4
        syn = bool(body[13] & 0x02)
        yield _Segment(_IPPROTO_TCP, src, sport, dst, dport, body[offset:], seq, syn)
    elif protocol == _IPPROTO_SCTP and len(body) >= 12:
        sport, dport = struct.unpack_from("!HH", body)
        yield _Segment(_IPPROTO_SCTP, src, sport, dst, dport, chunks=tuple(_sctp_data(body[12:])))


def _sctp_data(chunks: bytes) -> Iterator[bytes]:
    """User data of unfragmented SCTP DATA chunks (RFC 4960 §3.3.1); RFC 6733 §2.1 PPID 46."""
    offset = 0
    while offset + 4 <= len(chunks):
        kind, flags, length = struct.unpack_from("!BBH", chunks, offset)
        if length < 4:
            return
        if kind == 0 and length >= 16 and flags & 0x03 == 0x03:  # B and E: whole message
            yield chunks[offset + 16 : offset + length]
        offset += length + (-length % 4)


def _reassemble(
    flow: _Flow, seq: int, syn: bool, payload: bytes, label: str, result: PcapResult
) -> list[bytes]:
    """Whole messages completed by one TCP segment, handling retransmits and reordering."""
    if flow.broken:
        return []
    if syn:
        flow.next_seq = (seq + 1) & 0xFFFFFFFF
        return []
    if not payload:
        return []
    if flow.next_seq is None:  # capture started mid-connection
        flow.next_seq = seq
    flow.pending.setdefault(seq, payload)
    out: list[bytes] = []
    while True:
        expected = flow.next_seq
        assert expected is not None
        segment = flow.pending.pop(expected, None)
        if segment is None:
            # a retransmission overlapping what we already have: keep only the new tail
            overlapping = [
                s for s in flow.pending if 0 < (expected - s) & 0xFFFFFFFF < len(flow.pending[s])
            ]
            if not overlapping:
                stale = [s for s in flow.pending if 0 < (expected - s) & 0xFFFFFFFF < 1 << 31]
                for s in stale:
                    del flow.pending[s]
                break
            start = overlapping[0]
            segment = flow.pending.pop(start)[(expected - start) & 0xFFFFFFFF :]
        flow.next_seq = (expected + len(segment)) & 0xFFFFFFFF
        flow.buffer.feed(segment)
        try:
            out += flow.buffer.messages()
        except RemoteProtocolError as exc:
            result.problems.append(
                f"{label}: not Diameter, or bytes missing from the capture ({exc}); "
                "skipped the rest of this stream"
            )
            flow.broken = True
            break
    return out


def _endpoint(address: str, port: int) -> str:
    text = str(address)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def write_pcap(packets: list[bytes], *, link: int = _LINK_ETHERNET) -> bytes:
    """A classic pcap file of the given link-layer frames (for tests and bug reports)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)]
    for number, frame in enumerate(packets):
        out.append(struct.pack("<IIII", 1_700_000_000 + number, 0, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)
