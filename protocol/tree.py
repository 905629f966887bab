"""Dictionary-driven eager decode of a whole message, and its pretty-printer.

What lives here: `decode_tree` (every AVP named and typed, Grouped AVPs expanded,
Enumerated values named) and `format_tree` (the text the `decode` debug command and
test failures show, close to what Wireshark users read). What must not: the OCS hot
path, which reads only the fields it needs (`credit_control.parse_ccr`).

An AVP the dictionary does not know is kept as raw bytes, never dropped.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import NamedTuple, Union

from . import codec
from .codec import Avp, Header, decode_avps, decode_header
from .codes import CommandCode, HeaderFlag
from .dictionary import BY_KEY, AvpDef, AvpType
from .errors import AvpError
from .grammar import VALUE_DECODERS, ScalarValue

Value = Union[ScalarValue, "tuple[DecodedAvp, ...]"]


class DecodedAvp(NamedTuple):
    """One AVP, named and typed. A NamedTuple: decode_tree builds one per AVP."""

    name: str  #: RFC name, or "Unknown-AVP" when the dictionary lacks it
    code: int
    vendor_id: int
    flags: int
    value: Value
    #: the Enumerated value's RFC name, when the dictionary has it
    value_name: str | None = None


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
    value = VALUE_DECODERS[kind](avp)
    values = definition.values
    value_name = values.get(value) if values and isinstance(value, int) else None
    return _new(DecodedAvp, (definition.name, code, vendor_id, flags, value, value_name))


_BY_KEY = BY_KEY
_GROUPED = AvpType.GROUPED
_new = tuple.__new__


def decode_tree(raw: bytes) -> tuple[Header, tuple[DecodedAvp, ...]]:
    """Header and every AVP of one whole message, typed.

    Raises:
        RemoteProtocolError: the header faults of `codec.decode_message`.
        AvpError: 5014/3009 for the AVP layer, 5004/5014 for a value its type refuses.
    """
    try:
        return _fast_tree(raw)
    except _GIVE_UPS:
        pass
    # the reference decode: raises the fault RFC 6733 §7 prescribes, in its order
    message = codec.decode_message(raw)
    return decode_header(raw), tuple([decode_avp(avp) for avp in message.avps])


class _Slow(Exception):
    """`_fast_tree` met a fault: the reference decode says which."""


#: how `_fast_tree` says "no": its own signal, or a read that failed on damaged bytes
#: (IndexError: a header or value word past the end of the message; AvpError and
#: struct.error: from a codec decoder `decode_avp` runs)
_GIVE_UPS = (_Slow, AvpError, UnicodeDecodeError, struct.error, IndexError)


def _fast_tree(raw: bytes) -> tuple[Header, tuple[DecodedAvp, ...]]:
    """`decode_tree` for a well-formed message, or an exception to say "no".

    The message is read once into 32-bit words (AVPs are 4-byte aligned), so a header
    field or a number is an index, not a ``struct`` call, and one dict lookup per AVP
    gives all `_fast_avps` needs. ~21 µs for the benchmark's CCR-Update (27 µs with a
    ``struct`` read per field), against ~47 µs for `decode_avp` over `decode_message`
    (bench_codec.py, 2-core VM); a quarter of it is the 37 ``tuple.__new__`` calls
    that build the `DecodedAvp` tuples, the cheapest way to make a NamedTuple.
    Every check the reference decode makes is a reason to give up here.
    """
    size = len(raw)
    if size < 20 or size & 3:
        raise _Slow
    words = _array("I")
    words.frombytes(raw)  # not array("I", raw): that reads a memoryview byte by byte
    if _SWAP:
        words.byteswap()
    vl, fc, app, hbh, e2e = words[:5]
    flags = fc >> 24
    if vl != 0x01000000 | size or flags & 0x0F or flags & 0xA0 == 0xA0:
        raise _Slow  # version, length, reserved or E-in-request: decode_message's faults
    header = _new(Header, (size, fc & 0xFFFFFF, flags, app, hbh, e2e))
    return header, _fast_avps(raw, words, 5, size >> 2)


def _fast_avps(raw: bytes, w: _array[int], i: int, end: int) -> tuple[DecodedAvp, ...]:
    """Every AVP of words ``w[i:end]``, Grouped ones expanded without recursion.

    ``i`` and ``end`` index 32-bit words: a header is ``w[i]``, ``w[i + 1]``, a 32-bit
    value ``w[i + 2]`` (after the Vendor-ID, ``i`` moves one word on). A Grouped AVP
    pushes its parent's state and the loop goes on with its children; the group is
    built when its ``end`` is reached (a call per group costs as much, and would
    recurse as deep as the message nests).

    A bytecode costs ~5 ns here, so the checks are folded into few. ``shape`` is the
    reserved flag bits and the length (``fl & 0x1FFFFFFF``): a fixed-size type checks
    both by one compare with the shape its info expects. For the others the info holds
    minus the header length, which never equals a shape and, added to one, gives ``n``,
    the data length: negative for a length shorter than the header, 2**24 - 12 or more
    for a reserved bit, past any message, so that AVP overruns like one whose length
    lies. There is no test against ``end`` per AVP either: each AVP ends before the
    next starts, so only the last one of a run can overrun, and the ``i != end`` test
    when the run is done sees it (or reading past the message raises IndexError first).
    Values read meanwhile from past the run are thrown away.
    """
    out: list[DecodedAvp] = []
    by_code, by_vendor = _BY_CODE, _BY_VENDOR
    new, decoded = _new, DecodedAvp  # locals: cheaper to load than globals
    #: per open group: its parent's list and end, the group's name, code, vendor, flags
    stack: list[tuple[list[DecodedAvp], int, str, int, int, int]] = []
    while True:
        while i < end:
            code = w[i]
            fl = w[i + 1]  # flags << 24 | length
            flags = fl >> 24
            if flags < 0x80:
                vendor = 0
                try:
                    name, kind, expected, names = by_code[code]
                except KeyError:
                    name, kind, expected, names = _UNKNOWN
            else:
                vendor = w[i + 2]
                i += 1  # past the Vendor-ID: the data starts at w[i + 2] either way
                try:
                    name, kind, expected, names = by_vendor[vendor][code]
                except KeyError:
                    name, kind, expected, names = _UNKNOWN_V
            if (shape := fl & 0x1FFFFFFF) == expected:  # fixed size, length and bits right
                if kind == _K_INT32:  # Enumerated and Integer32: signed
                    number = w[i + 2]
                    # the first compare is of one-digit ints, the fast one
                    if number > 0x3FFFFFFF and number > 0x7FFFFFFF:
                        number -= 0x100000000
                    out.append(new(decoded, (name, code, vendor, flags, number, names(number))))
                    i += 3
                    continue
                if kind == _K_UINT32:
                    out.append(new(decoded, (name, code, vendor, flags, w[i + 2], None)))
                    i += 3
                    continue
                if kind == _K_UINT64:
                    number = w[i + 2] << 32 | w[i + 3]
                    out.append(new(decoded, (name, code, vendor, flags, number, None)))
                    i += 4
                    continue
                if kind == _K_IPV4 and w[i + 2] >> 16 == 1:  # Address, IPv4 family
                    # IPv4Address(int) without its two Python-level calls (_IP_SLOT)
                    address = _new_object(IPv4Address)
                    address._ip = (w[i + 2] & 0xFFFF) << 16 | w[i + 3] >> 16  # type: ignore[attr-defined]
                    out.append(new(decoded, (name, code, vendor, flags, address, None)))
                    i += 4
                    continue
                if kind == _K_TIME:
                    ntp = w[i + 2]
                    unix = ntp - _NTP_TO_UNIX if ntp & 0x80000000 else ntp + _ERA - _NTP_TO_UNIX
                    out.append(new(decoded, (name, code, vendor, flags, unix, None)))
                    i += 3
                    continue
            # variable size; or fixed, but another address family or a wrong length
            n = shape + expected  # the data length, if the header is sound
            if n < 0:
                raise _Slow
            if kind == _K_GROUPED:
                if n & 3:
                    raise _Slow  # unpadded: the ``i != end`` test needs whole words
                stack.append((out, end, name, code, vendor, flags))
                out = []
                i += 2
                end = i + (n >> 2)
            elif kind == _K_UTF8:
                start = 4 * i + 8
                text = raw[start : start + n].decode()
                out.append(new(decoded, (name, code, vendor, flags, text, None)))
                i += (n + 11) >> 2
            elif kind == _K_OCTETS:
                start = 4 * i + 8
                out.append(new(decoded, (name, code, vendor, flags, raw[start : start + n], None)))
                i += (n + 11) >> 2
            elif kind == _K_IDENTITY and n:  # an empty DiameterIdentity is a fault
                start = 4 * i + 8
                text = raw[start : start + n].decode("ascii")
                out.append(new(decoded, (name, code, vendor, flags, text, None)))
                i += (n + 11) >> 2
            else:  # the other types, and faults in a value: the reference decoder
                n = shape - (12 if flags & 0x80 else 8)
                start = 4 * i + 8
                if n < 0 or start + n > 4 * end:
                    raise _Slow  # a fault in the header: decode_avps must report it first
                out.append(decode_avp(new(Avp, (code, flags, raw[start : start + n], vendor))))
                i += (n + 11) >> 2
        if i != end:
            raise _Slow  # the last AVP ran past its group or the message
        children = tuple(out)
        if not stack:
            return children
        out, end, name, code, vendor, flags = stack.pop()
        out.append(new(decoded, (name, code, vendor, flags, children, None)))


# Type tags of the inline decoders, tested in this order (the most frequent first in a
# Gy CCR); _K_OTHER types go through `decode_avp` itself.
_K_INT32, _K_UINT32, _K_UINT64, _K_IPV4, _K_TIME = range(5)  # fixed size
_K_GROUPED, _K_UTF8, _K_OCTETS, _K_IDENTITY, _K_OTHER = range(5, 10)


def _ip_slot_works() -> bool:
    """Whether an IPv4Address made by setting its one slot, ``_ip``, is the one
    ``IPv4Address(int)`` makes, as in CPython's ipaddress: checked, not assumed."""
    try:
        address = _new_object(IPv4Address)
        address._ip = 0x0A2D0002  # type: ignore[attr-defined]
    except AttributeError:
        return False
    reference = IPv4Address(0x0A2D0002)
    return (address, hash(address), str(address)) == (reference, hash(reference), str(reference))


_new_object = object.__new__
#: else Address goes to decode_avp (_K_OTHER)
_IP_SLOT = _ip_slot_works()
#: the fixed-size types: their tag and data size
_FIXED = {
    AvpType.UNSIGNED32: (_K_UINT32, 4),
    AvpType.INTEGER32: (_K_INT32, 4),
    AvpType.ENUMERATED: (_K_INT32, 4),
    AvpType.UNSIGNED64: (_K_UINT64, 8),
    AvpType.TIME: (_K_TIME, 4),
    **({AvpType.ADDRESS: (_K_IPV4, 6)} if _IP_SLOT else {}),  # IPv4; others: decode_avp
}
_VARIABLE = {
    AvpType.UTF8_STRING: _K_UTF8,
    AvpType.GROUPED: _K_GROUPED,
    AvpType.OCTET_STRING: _K_OCTETS,
    AvpType.DIAMETER_IDENTITY: _K_IDENTITY,
}
#: name, type tag, expected shape, enumerated names' ``get``. The shape is ``flags <<
#: 24 | length`` masked to the reserved bits and the length (``fl & 0x1FFFFFFF``):
#: for a fixed-size type what it must be (reserved bits clear, header + size), for the
#: others minus the header, never equal to a shape, and added to one gives the data
#: length. All below 2**30: CPython's one-digit ints, on which ``&``, ``+`` and ``==``
#: take their fast paths.
_Info = tuple[str, int, int, Callable[[int], "str | None"]]


def _info(definition: AvpDef, head: int) -> _Info:
    names = dict(definition.values).get
    fixed = _FIXED.get(definition.type)
    if fixed is not None and not (definition.values and fixed[0] != _K_INT32):
        kind, size = fixed
        return (definition.name, kind, head + size, names)
    # names for an unsigned number or a time: decode_avp gives them (_K_OTHER)
    kind = _VARIABLE.get(definition.type, _K_OTHER)
    return (definition.name, kind, -head, names)


#: AVP code -> _Info, for the AVPs without the V bit: those of vendor 0, 8-byte header
_BY_CODE: dict[int, _Info] = {
    code: _info(d, 8) for (code, vendor), d in BY_KEY.items() if vendor == 0
}
#: Vendor-ID -> AVP code -> _Info, for the AVPs with the V bit (12-byte header): two
#: lookups of small ints, cheaper than building a ``vendor << 32 | code`` key. Vendor 0
#: too: decode_avp reads an AVP with the V bit and Vendor-ID 0 by its vendor-0 entry.
_BY_VENDOR: dict[int, dict[int, _Info]] = {}
for (_code, _vendor), _definition in BY_KEY.items():
    _BY_VENDOR.setdefault(_vendor, {})[_code] = _info(_definition, 12)
#: what `_fast_avps` gets for a code the dictionary lacks: kept raw, as decode_avp does
_NO_NAMES: dict[int, str] = {}
_UNKNOWN: _Info = ("Unknown-AVP", _K_OCTETS, -8, _NO_NAMES.get)
_UNKNOWN_V: _Info = ("Unknown-AVP", _K_OCTETS, -12, _NO_NAMES.get)
_NTP_TO_UNIX = 2_208_988_800  # as codec.decode_time_unix
_ERA = 1 << 32
_array = array
assert _array("I").itemsize == 4  # the 32-bit words _fast_avps indexes
#: the words are big-endian on the wire
_SWAP = sys.byteorder == "little"


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
