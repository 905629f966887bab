"""Dictionary-driven eager decode of a whole message, and its pretty-printer.

What lives here: `decode_tree` (every AVP named and typed, Grouped AVPs expanded,
Enumerated values named) and `format_tree` (the text the `decode` debug command and
test failures show, close to what Wireshark users read). What must not: the OCS hot
path, which reads only the fields it needs (`credit_control.parse_ccr`).

An AVP the dictionary does not know is kept as raw bytes, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Union

from . import codec
from .codec import Avp, Header, decode_avps, decode_header
from .codes import CommandCode, HeaderFlag
from .dictionary import BY_KEY, AvpType

Value = Union[int, float, str, bytes, codec.AddressValue, "tuple[DecodedAvp, ...]"]


class DecodedAvp(NamedTuple):
    """One AVP, named and typed. A NamedTuple: decode_tree builds one per AVP."""

    name: str  #: RFC name, or "Unknown-AVP" when the dictionary lacks it
    code: int
    vendor_id: int
    flags: int
    value: Value
    #: the Enumerated value's RFC name, when the dictionary has it
    value_name: str | None = None


_DECODERS: dict[AvpType, Callable[[Avp], Value]] = {
    AvpType.OCTET_STRING: lambda a: a.data,
    AvpType.INTEGER32: codec.decode_integer32,
    AvpType.INTEGER64: codec.decode_integer64,
    AvpType.UNSIGNED32: codec.decode_unsigned32,
    AvpType.UNSIGNED64: codec.decode_unsigned64,
    AvpType.FLOAT32: codec.decode_float32,
    AvpType.FLOAT64: codec.decode_float64,
    AvpType.ADDRESS: codec.decode_address,
    AvpType.TIME: codec.decode_time_unix,
    AvpType.UTF8_STRING: codec.decode_utf8,
    AvpType.DIAMETER_IDENTITY: codec.decode_identity,
    AvpType.DIAMETER_URI: codec.decode_uri,
    AvpType.ENUMERATED: codec.decode_integer32,
    AvpType.IP_FILTER_RULE: codec.decode_ip_filter_rule,
}


def decode_avp(avp: Avp) -> DecodedAvp:
    """Type one AVP (and its children) through the dictionary.

    Raises:
        AvpError: 5004/5014 for a value its type does not allow.
    """
    code, flags, data, vendor_id = avp
    definition = _BY_KEY.get((code, vendor_id))
    if definition is None:
        return _new(DecodedAvp, ("Unknown-AVP", code, vendor_id, flags, data, None))
    kind = definition.type
    if kind is _GROUPED:
        value: Value = tuple([decode_avp(child) for child in decode_avps(data)])
        return _new(DecodedAvp, (definition.name, code, vendor_id, flags, value, None))
    value = _DECODERS[kind](avp)
    values = definition.values
    value_name = values.get(value) if values and isinstance(value, int) else None
    return _new(DecodedAvp, (definition.name, code, vendor_id, flags, value, value_name))


_BY_KEY = BY_KEY
_GROUPED = AvpType.GROUPED
_new = tuple.__new__


def decode_tree(raw: bytes) -> tuple[Header, tuple[DecodedAvp, ...]]:
    """Header and every AVP of one whole message, typed."""
    message = codec.decode_message(raw)
    return decode_header(raw), tuple([decode_avp(avp) for avp in message.avps])


def format_tree(raw: bytes) -> str:
    """A readable, indented rendering of one message."""
    header, avps = decode_tree(raw)
    try:
        command = CommandCode(header.command_code).name
    except ValueError:
        command = f"command {header.command_code}"
    kind = "Request" if header.flags & HeaderFlag.REQUEST else "Answer"
    flags = "".join(
        letter
        for bit, letter in ((0x80, "R"), (0x40, "P"), (0x20, "E"), (0x10, "T"))
        if header.flags & bit
    )
    lines = [
        f"{command} {kind} ({header.command_code}) flags={flags or '-'} "
        f"application={header.application_id} length={header.length} "
        f"hop-by-hop=0x{header.hop_by_hop:08x} end-to-end=0x{header.end_to_end:08x}"
    ]
    _format_avps(avps, 1, lines)
    return "\n".join(lines)


def _format_avps(avps: tuple[DecodedAvp, ...], depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for avp in avps:
        vendor = f" vendor={avp.vendor_id}" if avp.vendor_id else ""
        flags = "".join(
            letter for bit, letter in ((0x80, "V"), (0x40, "M"), (0x20, "P")) if avp.flags & bit
        )
        label = f"{indent}{avp.name}({avp.code}{vendor}) [{flags or '-'}]"
        if isinstance(avp.value, tuple) and all(isinstance(v, DecodedAvp) for v in avp.value):
            lines.append(label)
            _format_avps(avp.value, depth + 1, lines)
            continue
        shown = avp.value.hex() if isinstance(avp.value, bytes) else repr(avp.value)
        if avp.value_name:
            shown += f" ({avp.value_name})"
        lines.append(f"{label} = {shown}")
