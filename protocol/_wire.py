"""The wire layout of RFC 6733 §3 (header) and §4.1 (AVP header), declared with construct.

What lives here: the only construct import of the protocol package, used as the
independent oracle in tests and by the `decode` debug command. What must not: the hot
path. construct costs 500-650 µs per CCR against a few µs for the hand codec
(reference/perf-budget.md), so `codec` is hand-written and checked against this.

Not `GreedyRange` for AVP lists: it silently stops at the first malformed AVP, which
Diameter must answer with 5014, so `parse_avps` loops and fails loudly instead.
"""

from __future__ import annotations

from typing import Any

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    Const,
    Flag,
    If,
    Int8ub,
    Int24ub,
    Int32ub,
    Struct,
    this,
)

#: RFC 6733 §3: the 20-byte message header
HEADER = Struct(
    "version" / Const(1, Int8ub),
    "length" / Int24ub,
    "flags"
    / BitStruct(
        "request" / Flag,
        "proxiable" / Flag,
        "error" / Flag,
        "retransmitted" / Flag,
        "reserved" / BitsInteger(4),
    ),
    "command_code" / Int24ub,
    "application_id" / Int32ub,
    "hop_by_hop" / Int32ub,
    "end_to_end" / Int32ub,
)

#: RFC 6733 §4.1: AVP header, optional Vendor-ID, data, and padding to 32 bits
AVP = Struct(
    "code" / Int32ub,
    "flags"
    / BitStruct(
        "vendor" / Flag,
        "mandatory" / Flag,
        "protected" / Flag,
        "reserved" / BitsInteger(5),
    ),
    "length" / Int24ub,  # header + data, padding excluded
    "vendor_id" / If(this.flags.vendor, Int32ub),
    "data" / Bytes(lambda ctx: ctx.length - (12 if ctx.flags.vendor else 8)),
    "padding" / Bytes(lambda ctx: -ctx.length % 4),
)


def parse_header(raw: bytes) -> Any:
    """The header as a construct Container (version, length, flags.*, ids)."""
    return HEADER.parse(raw)


def parse_avps(raw: bytes) -> list[Any]:
    """Every AVP of a run of AVPs, failing on the first malformed one (no GreedyRange)."""
    avps: list[Any] = []
    offset = 0
    while offset < len(raw):
        avp = AVP.parse(raw[offset:])
        avps.append(avp)
        offset += avp.length + (-avp.length % 4)
    return avps


def parse_message(raw: bytes) -> tuple[Any, list[Any]]:
    """Header and top-level AVPs of one whole message."""
    header = parse_header(raw)
    return header, parse_avps(raw[20 : header.length])


def build_avp(
    code: int, data: bytes, *, vendor_id: int | None = None, mandatory: bool = True
) -> bytes:
    """Encode one AVP through construct: an encoder independent of `codec`."""
    length = len(data) + (12 if vendor_id is not None else 8)
    return bytes(
        AVP.build(
            {
                "code": code,
                "flags": {
                    "vendor": vendor_id is not None,
                    "mandatory": mandatory,
                    "protected": False,
                    "reserved": 0,
                },
                "length": length,
                "vendor_id": vendor_id,
                "data": data,
                "padding": b"\0" * (-length % 4),
            }
        )
    )
