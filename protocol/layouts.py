"""Compiled readers for the CCR layouts a gateway repeats (the OCS hot path).

What lives here: `CcrReader`, which reads CCRs as `credit_control.parse_ccr` does,
through a bounded cache of compiled readers, one per CCR layout seen more than once.
What must not: judging faults or reading anything new. A compiled reader returns
exactly what `credit_control._fast_ccr` (the walking reader) returns for a message of
its layout, or None, and then `parse_ccr`'s readers take over.

Why: a gateway repeats itself. The CCR-Updates of one SAE-GW's data sessions differ
in values (usage, request number, identities) and at most in the length of a few
strings, not in which AVPs come where. Walking such a message costs ~0.4 µs per AVP in
Python; a layout known in advance is read by two ``struct`` calls in C.

How: the layout of a message is the sequence of its AVP headers (code, flags and
length, and Vendor-ID) at their offsets, nesting included. A compiled reader reads
every header word of the message at the layout's offsets in one ``struct`` call and
compares them with the layout's in one tuple comparison. Equal headers at equal
offsets in a message of equal length mean the same walk: the same AVPs in the same
groups, so every structural verdict of the walking reader (lengths, reserved bits, a
single AVP twice, unknown M-bit AVPs, missing mandatory AVPs) is the one it gave the
message the layout was learnt from: no fault. What depends on values is checked again
on every read: UTF-8 (``bytes.decode`` raises) and the enumerations the reader
converts (a dict lookup raises KeyError); either makes the reader return None. A
second ``struct`` call reads every value, and generated code (as `collections.
namedtuple` generates its methods) builds the request, positionally.

A layout is compiled on the second walk of its key (message length, Session-Id length),
at most once per 64 walks, so one-off layouts cost little more than a count; each
compiled reader is checked against the walking reader on the message it was learnt
from before it is used. Only simple shapes are compiled (CC-Money in units, or a
Subscription-Id other than Type then Data, stay with `parse_ccr`'s readers).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from .codec import Avp, Message
from .codes import VENDOR_3GPP, Avp3gpp, AvpCode
from .credit_control import (
    _GIVE_UPS,
    _NO_UNITS,
    _RAW_SLOTS,
    _REQUEST_TYPES,
    _REQUESTED_ACTIONS,
    _TEXT_SLOTS,
    _U32_SLOTS,
    _UNIT_U32_SLOTS,
    _UNIT_U64_SLOTS,
    CreditControlRequest,
    MultipleServicesCreditControl,
    _fast_ccr,
    _parse_ccr_checked,
)
from .units import ServiceUnits

#: (raw, values) -> request; UnicodeDecodeError or KeyError for a value to judge
_Build = Callable[[bytes, tuple[Any, ...]], CreditControlRequest]
#: header reader, the headers it must read, value reader, builder
_Layout = tuple[
    Callable[[bytes], tuple[Any, ...]],
    tuple[int, ...],
    Callable[[bytes], tuple[Any, ...]],
    _Build,
]


class CcrReader:
    """`parse_ccr` with compiled readers for repeated layouts; see the module docstring.

    One per server (the OCS handler holds it). ``capacity`` bounds the compiled
    readers (the oldest goes first); ``learn_after`` is how many walks of one key
    (message length and Session-Id length) it takes to compile its layout. A compile
    costs ~220 µs, twenty walks: ``compile_every`` walks must pass between two, so
    traffic whose layouts never repeat pays at most a few µs per request for them.
    """

    def __init__(
        self,
        *,
        capacity: int = 256,
        learn_after: int = 2,
        compile_every: int = 64,
        max_bytes: int = 4096,
    ) -> None:
        self.capacity = capacity
        #: longer messages are always walked: a layout keeps a few ints per AVP, and a
        #: CCR-Update is well under 1 KB, so 256 layouts stay within a few MB
        self.max_bytes = max_bytes
        self.learn_after = learn_after
        self.compile_every = compile_every
        self._next_compile = 0  # the walk count from which a compile is allowed
        #: (version|length word, Session-Id flags|length word) -> readers of that key
        self._layouts: dict[tuple[int, int], list[_Layout]] = {}
        self._count = 0
        self._walks: dict[tuple[int, int], int] = {}  # walks per key not yet compiled
        self.hits = 0  #: requests read by a compiled reader
        self.walks = 0  #: requests the walking reader read
        #: requests left to the checked reader: faults, and shapes the walker declines
        self.checked = 0
        self.compiled = 0  #: readers compiled since start
        self.refused = 0  #: compiled readers that failed their check (a bug: never used)

    def parse(self, message: Message) -> CreditControlRequest:
        """What `parse_ccr` returns for ``message``, and the same `AvpError`s.

        Raises:
            AvpError: 5005/5004/5014/5009/5001/3009 with the Failed-AVP to answer with.
        """
        raw = message.raw if message.raw is not None else message.encode()
        key = _key(raw)
        if key is not None:
            request = self._read(raw, key)
            if request is not None:
                return request
        try:
            request = _fast_ccr(raw)
        except _GIVE_UPS:
            self.checked += 1
            return _parse_ccr_checked(raw)
        self.walks += 1
        if key is not None and len(raw) <= self.max_bytes:
            self._learn(raw, key, request)
        return request

    def _read(self, raw: bytes, key: tuple[int, int]) -> CreditControlRequest | None:
        """The request, if ``key`` has a compiled layout that fits ``raw`` and its
        values pass; else None."""
        layouts = self._layouts.get(key)
        if layouts is not None:
            for headers, expected, values, build in layouts:
                if headers(raw) == expected:
                    try:
                        request = build(raw, values(raw))
                    except (UnicodeDecodeError, KeyError):
                        return None  # a value for the walking readers to judge
                    self.hits += 1
                    return request
        return None

    def _learn(self, raw: bytes, key: tuple[int, int], request: CreditControlRequest) -> None:
        """The walking reader read ``request`` from ``raw``: compile its layout when
        that has happened ``learn_after`` times for its key."""
        walks = self._walks.get(key, 0) + 1
        if walks < self.learn_after or self.walks < self._next_compile:
            if len(self._walks) >= 16 * self.capacity:  # one-off keys: forget them all
                self._walks.clear()
            self._walks[key] = walks
            return
        self._walks.pop(key, None)
        self._next_compile = self.walks + self.compile_every
        layout = compile_layout(raw)
        if layout is None:
            return
        headers, expected, values, build = layout
        if headers(raw) != expected or build(raw, values(raw)) != request:
            self.refused += 1  # a compiler bug; the walking reader stays right
            return
        readers = self._layouts.setdefault(key, [])
        if len(readers) >= 4:  # one key, many layouts: keep the newest few
            readers.pop(0)
            self._count -= 1
        readers.append(layout)
        self._count += 1
        self.compiled += 1
        while self._count > self.capacity:
            oldest = next(iter(self._layouts))
            self._count -= len(self._layouts.pop(oldest))


class _Unsupported(Exception):
    """A shape the compiler leaves to the walking reader (it stays correct, only slower)."""


class _Compiler:
    """Walks one message the walking reader accepted and writes its reader."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.header_format: list[str] = []
        self.header_at = 0  # where the header reader stands
        self.expected: list[int] = []
        self.value_format: list[str] = []
        self.value_at = 0  # where the value reader stands
        self.values = 0  # values read so far

    def header(self, offset: int) -> tuple[int, int, int, int, int]:
        """Read the AVP header at ``offset`` into the layout: code, flags, length,
        vendor (0 when the V bit is clear) and where the data starts."""
        code, fl = _HEADER(self.raw, offset)
        self._skip(self.header_format, offset - self.header_at)
        if fl & 0x80000000:
            vendor = _U32(self.raw, offset + 8)[0]
            self.header_format.append("III")
            self.expected += (code, fl, vendor)
            self.header_at = offset + 12
        else:
            vendor = 0
            self.header_format.append("II")
            self.expected += (code, fl)
            self.header_at = offset + 8
        if fl & 0x1F000000:
            raise _Unsupported
        return code, fl >> 24, fl & 0xFFFFFF, vendor, self.header_at

    def value(self, offset: int, kind: str) -> str:
        """Read a value at ``offset`` (``kind``: a struct code); its expression."""
        self._skip(self.value_format, offset - self.value_at)
        self.value_format.append(kind)
        self.value_at = offset + struct.calcsize(">" + kind)
        self.values += 1
        return f"v[{self.values - 1}]"

    def octets(self, start: int, stop: int) -> str:
        return self.value(start, f"{stop - start}s")

    @staticmethod
    def _skip(parts: list[str], gap: int) -> None:
        if gap < 0:
            raise AssertionError("layout read out of order")
        if gap:
            parts.append(f"{gap}x")

    def message(self) -> str:
        """The builder's expression: the request's fields by position."""
        raw = self.raw
        end = len(raw)
        fields = ["None"] * 23
        subs: list[str] = []
        msccs: list[str] = []
        used: list[str] = []
        offset = 20
        while offset < end:
            code, flags, length, vendor, start = self.header(offset)
            stop = offset + length
            if flags & 0x80:
                if vendor == VENDOR_3GPP and code == _SERVICE_INFORMATION:
                    data = self.octets(start, stop)
                    fields[21] = f"_new(_Avp, ({code}, {flags}, {data}, {vendor}))"
                # any other vendor AVP: the walking reader passed it, so it is ignored
            elif code in _TEXT_SLOTS:
                fields[_TEXT_SLOTS[code]] = f"{self.octets(start, stop)}.decode()"
            elif code in _U32_SLOTS:
                value = self.value(start, "I")
                slot = _U32_SLOTS[code]
                if slot == 6:
                    value = f"_REQUEST_TYPES[{value}]"
                elif slot == 9:
                    value = f"_REQUESTED_ACTIONS[{value}]"
                fields[slot] = value
            elif code == _SUBSCRIPTION_ID:
                subs.append(self.subscription_id(start, stop))
            elif code == _MSCC:
                msccs.append(self.mscc(offset, flags, start, stop))
            elif code in _RAW_SLOTS:
                data = self.octets(start, stop)
                slot = _RAW_SLOTS[code]
                if slot < len(fields):
                    fields[slot] = f"_new(_Avp, ({code}, {flags}, {data}, 0))"
            elif code == _USED_SERVICE_UNIT:
                used.append(self.units(start, stop))
            elif code == _REQUESTED_SERVICE_UNIT:
                fields[17] = self.units(start, stop)
            offset = (stop + 3) & ~3
        fields[11] = _tuple(subs)
        fields[16] = _tuple(msccs)
        fields[18] = _tuple(used)
        session_length = _HEADER(raw, 20)[1] & 0xFFFFFF
        fields[22] = f"raw[20:{20 + ((session_length + 3) & ~3)}]"
        return f"_new(_CCR, {_tuple(fields)})"

    def subscription_id(self, start: int, stop: int) -> str:
        # the shape the walking reader reads inline: Type, then Data, nothing else
        code, _, length, vendor, value_at = self.header(start)
        if code != _SUBSCRIPTION_ID_TYPE or vendor or length != 12:
            raise _Unsupported
        sub_type = self.value(value_at, "I")
        data_at = start + 12
        code, _, length, vendor, value_at = self.header(data_at)
        data_end = data_at + length
        if code != _SUBSCRIPTION_ID_DATA or vendor or not data_end <= stop <= (data_end + 3) & ~3:
            raise _Unsupported
        return f"({sub_type}, {self.octets(value_at, data_end)}.decode())"

    def mscc(self, offset: int, flags: int, start: int, end: int) -> str:
        rating_group = reason = "None"
        services: list[str] = []
        requested = "None"
        used: list[str] = []
        while start < end:
            code, _, length, vendor, value_at = self.header(start)
            stop = start + length
            if vendor:
                if vendor == VENDOR_3GPP and code == _REPORTING_REASON:
                    reason = self.value(value_at, "I")
            elif code == _RATING_GROUP:
                rating_group = self.value(value_at, "I")
            elif code == _USED_SERVICE_UNIT:
                used.append(self.units(value_at, stop))
            elif code == _REQUESTED_SERVICE_UNIT:
                requested = self.units(value_at, stop)
            elif code == _SERVICE_IDENTIFIER:
                services.append(self.value(value_at, "I"))
            start = (stop + 3) & ~3
        avp = f"_new(_Avp, ({_MSCC}, {flags}, raw[{offset + 8}:{end}], 0))"
        fields = (rating_group, _tuple(services), requested, _tuple(used), reason, avp)
        return f"_new(_MSCC, {_tuple(fields)})"

    def units(self, start: int, end: int) -> str:
        if start == end:
            return "_NO_UNITS"
        fields = ["None"] * 8
        while start < end:
            code, _, length, vendor, value_at = self.header(start)
            if vendor:
                if vendor == VENDOR_3GPP and code == _REPORTING_REASON:
                    fields[6] = self.value(value_at, "I")
            elif code in _UNIT_U64_SLOTS:
                fields[_UNIT_U64_SLOTS[code]] = self.value(value_at, "Q")
            elif code in _UNIT_U32_SLOTS:
                fields[_UNIT_U32_SLOTS[code]] = self.value(value_at, "I")
            elif code == _CC_MONEY:
                raise _Unsupported  # rare: left to the walking reader
            start = (start + length + 3) & ~3
        return f"_new(_SU, {_tuple(fields)})"


def compile_layout(raw: bytes) -> _Layout | None:
    """The reader of ``raw``'s layout, or None when the compiler leaves it to the
    walking readers. ``raw`` must be a CCR the walking reader accepted."""
    compiler = _Compiler(raw)
    try:
        expression = compiler.message()
    except _Unsupported:
        return None
    # the source holds only ints and names of this module: nothing from the message
    # but offsets, lengths and codes, all formatted as ints
    source = f"def build(raw, v):\n    return {expression}\n"
    namespace: dict[str, Any] = dict(_BUILD_GLOBALS)
    exec(compile(source, "<compiled CCR layout>", "exec"), namespace)
    headers = struct.Struct(">" + "".join(compiler.header_format)).unpack_from
    values = struct.Struct(">" + "".join(compiler.value_format)).unpack_from
    return headers, tuple(compiler.expected), values, namespace["build"]


def _key(raw: bytes) -> tuple[int, int] | None:
    """(version|length word, first AVP's flags|length word), or None when ``raw`` is
    too short for one AVP header or lies about its length (a Message built with raw=:
    decode_message refuses those bytes); the readers walk to len(raw)."""
    try:
        key = _KEY(raw)
    except struct.error:
        return None
    return key if key[0] & 0xFFFFFF == len(raw) else None


def _tuple(items: list[str] | tuple[str, ...]) -> str:
    return f"({', '.join(items)},)" if items else "()"


_KEY = struct.Struct(">I20xI").unpack_from  # version|length, first AVP's flags|length
_HEADER = struct.Struct(">II").unpack_from
_U32 = struct.Struct(">I").unpack_from
_BUILD_GLOBALS = {
    "__builtins__": {},
    "_new": tuple.__new__,
    "_Avp": Avp,
    "_CCR": CreditControlRequest,
    "_MSCC": MultipleServicesCreditControl,
    "_SU": ServiceUnits,
    "_NO_UNITS": _NO_UNITS,
    "_REQUEST_TYPES": _REQUEST_TYPES,
    "_REQUESTED_ACTIONS": _REQUESTED_ACTIONS,
}
_CC_MONEY = int(AvpCode.CC_MONEY)
_MSCC = int(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL)
_RATING_GROUP = int(AvpCode.RATING_GROUP)
_REPORTING_REASON = int(Avp3gpp.REPORTING_REASON)
_REQUESTED_SERVICE_UNIT = int(AvpCode.REQUESTED_SERVICE_UNIT)
_SERVICE_IDENTIFIER = int(AvpCode.SERVICE_IDENTIFIER)
_SERVICE_INFORMATION = int(Avp3gpp.SERVICE_INFORMATION)
_SUBSCRIPTION_ID = int(AvpCode.SUBSCRIPTION_ID)
_SUBSCRIPTION_ID_DATA = int(AvpCode.SUBSCRIPTION_ID_DATA)
_SUBSCRIPTION_ID_TYPE = int(AvpCode.SUBSCRIPTION_ID_TYPE)
_USED_SERVICE_UNIT = int(AvpCode.USED_SERVICE_UNIT)
