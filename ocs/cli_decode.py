"""``ocs decode``: Diameter messages pretty-printed through the dictionary, and checked.

What lives here: the command, its inputs (hex on the command line, a ``.hex`` file in the
tests/vectors format with ``#`` comments, or a classic pcap capture read by
``ocs.cli_pcap``) and the oracle check. What must not: a second decoder: the text is
``protocol.tree.format_tree``, the layout check is ``protocol._wire`` (construct).

Each message is decoded twice, independently: by the project's codec through the
dictionary (names, types, Enumerated values, Grouped AVPs expanded) and by the construct
declaration of RFC 6733 §3 and §4.1. The two must agree on the header and on every AVP's
code, flags, vendor and length, Grouped ones included; a disagreement, or a message
either cannot decode, is reported and makes the exit status 1, which is what a bug
report needs ("Wireshark says malformed" becomes a precise line).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ocs.cli import JsonOption, _Failure, _print_json, _reported, _usage, app
from ocs.cli_pcap import PCAPNG_MAGIC, Captured, PcapError, read_pcap
from protocol import _wire
from protocol.codec import decode_header
from protocol.codes import CommandCode
from protocol.errors import ProtocolError
from protocol.framing import ReceiveBuffer
from protocol.tree import DecodedAvp, decode_tree, format_tree

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    PCAPNG_MAGIC.to_bytes(4, "little"),
}


def _hex_bytes(text: str, where: str) -> bytes:
    """Hex digits with whitespace, ``#`` comments and an optional 0x prefix."""
    digits = "".join(line.split("#", 1)[0] for line in text.splitlines())
    digits = "".join(digits.split()).removeprefix("0x")
    if not digits:
        _usage(f"{where} holds no hex digits")
    bad = next((c for c in digits if c not in string.hexdigits), None)
    if bad is not None:
        _usage(f"{where} is not hex: unexpected {bad!r} (give hex digits, a .hex or .pcap file)")
    if len(digits) % 2:
        _usage(f"{where} has an odd number of hex digits: a byte is missing")
    return bytes.fromhex(digits)


def _split(data: bytes, where: str) -> list[bytes]:
    """Whole messages of a byte run (a hex vector may hold several)."""
    buffer = ReceiveBuffer(1 << 24)
    buffer.feed(data)
    try:
        messages = buffer.messages()
    except ProtocolError as exc:
        raise _Failure(f"{where} is not a Diameter message: {exc}") from None
    if len(buffer):
        announced = int.from_bytes(data[1:4], "big") if len(data) >= 4 else 0
        raise _Failure(
            f"{where}: {len(buffer)} bytes after the last whole message (the header "
            f"announces {announced} bytes, {len(data)} given): truncated input?"
        )
    return messages


def oracle_problems(raw: bytes) -> list[str]:
    """Where construct's reading of ``raw`` disagrees with the codec's (empty: none)."""
    problems: list[str] = []
    try:
        header, avps = _wire.parse_message(raw)
    except Exception as exc:  # construct raises its own hierarchy
        return [f"construct cannot parse it: {exc}"]
    mine = decode_header(raw)
    flags = (
        (0x80 if header.flags.request else 0)
        | (0x40 if header.flags.proxiable else 0)
        | (0x20 if header.flags.error else 0)
        | (0x10 if header.flags.retransmitted else 0)
        | header.flags.reserved
    )
    theirs = (
        header.length,
        header.command_code,
        flags,
        header.application_id,
        header.hop_by_hop,
        header.end_to_end,
    )
    if theirs != tuple(mine):
        problems.append(f"header: construct {theirs} != codec {tuple(mine)}")
    _, tree = decode_tree(raw)
    _compare(avps, tree, "", problems)
    return problems


def _compare(
    theirs: list[Any], mine: tuple[DecodedAvp, ...], path: str, problems: list[str]
) -> None:
    if len(theirs) != len(mine):
        problems.append(
            f"{path or 'message'}: construct sees {len(theirs)} AVPs, codec {len(mine)}"
        )
    for index, (c, d) in enumerate(zip(theirs, mine, strict=False)):
        where = f"{path}/{d.name}[{index}]"
        flags = (
            (0x80 if c.flags.vendor else 0)
            | (0x40 if c.flags.mandatory else 0)
            | (0x20 if c.flags.protected else 0)
            | c.flags.reserved
        )
        if (c.code, c.vendor_id or 0, flags) != (d.code, d.vendor_id, d.flags):
            problems.append(
                f"{where}: construct code={c.code} vendor={c.vendor_id} flags=0x{flags:02x}, "
                f"codec code={d.code} vendor={d.vendor_id} flags=0x{d.flags:02x}"
            )
        if isinstance(d.value, tuple) and all(isinstance(v, DecodedAvp) for v in d.value):
            try:
                children = _wire.parse_avps(bytes(c.data))
            except Exception as exc:
                problems.append(f"{where}: construct cannot parse the Grouped data: {exc}")
                continue
            _compare(children, d.value, where, problems)


def _json_avps(avps: tuple[DecodedAvp, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for avp in avps:
        item: dict[str, Any] = {
            "name": avp.name,
            "code": avp.code,
            "vendor_id": avp.vendor_id,
            "flags": avp.flags,
        }
        value = avp.value
        if isinstance(value, tuple) and all(isinstance(v, DecodedAvp) for v in value):
            item["avps"] = _json_avps(value)
        elif isinstance(value, bytes):
            item["hex"] = value.hex()
        elif isinstance(value, int | float | str):
            item["value"] = value
        else:
            item["value"] = str(value)
        if avp.value_name:
            item["value_name"] = avp.value_name
        out.append(item)
    return out


@app.command("decode")
def decode(
    source: Annotated[
        str,
        typer.Argument(
            metavar="HEX|FILE",
            help="Hex digits, a .hex file ('#' comments allowed) or a pcap capture.",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Pretty-print Diameter messages and check each against the construct oracle.

    A pcap capture (Ethernet, Linux cooked or raw IP; IPv4/IPv6; TCP reassembled per
    direction, or SCTP) yields every Diameter message in it, with time and endpoints.
    Exit status 1 if a message cannot be decoded or the two decoders disagree.
    """
    with _reported():
        path = Path(source)
        captured: list[Captured] = []
        notes: list[str] = []
        try:
            is_file = path.is_file()
        except OSError:  # e.g. a long hex argument is "File name too long"
            is_file = False
        if is_file:
            try:
                data = path.read_bytes()
            except OSError as e:
                _usage(f"cannot read {path}: {e.strerror or e}")
            if data[:4] in _PCAP_MAGICS:
                try:
                    result = read_pcap(data)
                except PcapError as e:
                    _usage(f"{path}: {e}")
                captured, notes = result.messages, result.problems
                if not captured and not notes:
                    notes.append(f"{path}: {result.packets} packets, no Diameter message in them")
            else:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    _usage(f"{path} is neither hex text nor a pcap capture")
                messages = _split(_hex_bytes(text, str(path)), str(path))
                captured = [Captured(0, 0.0, str(path), "", "", m) for m in messages]
        elif set(source.strip()) <= set(string.hexdigits + " \n\t:x") and source.strip():
            where = "the hex argument"
            messages = _split(_hex_bytes(source.replace(":", ""), where), where)
            captured = [Captured(0, 0.0, "argument", "", "", m) for m in messages]
        else:
            _usage(f"{source!r} is neither a file nor hex digits")
        failed = False
        out: list[dict[str, Any]] = []
        for number, item in enumerate(captured, start=1):
            entry: dict[str, Any] = {"message": number, "length": len(item.raw)}
            if item.frame:
                entry.update(
                    frame=item.frame,
                    time=datetime.fromtimestamp(item.time, UTC).isoformat(),
                    source=item.source,
                    destination=item.destination,
                    transport=item.transport,
                )
            try:
                entry["text"] = format_tree(item.raw)
                header, tree = decode_tree(item.raw)
                try:
                    entry["command"] = CommandCode(header.command_code).name
                except ValueError:
                    entry["command"] = str(header.command_code)
                entry["request"] = bool(header.flags & 0x80)
                entry["avps"] = _json_avps(tree)
                entry["oracle"] = oracle_problems(item.raw)
            except (ProtocolError, ValueError) as e:
                entry["error"] = f"cannot decode: {e}"
                entry["hex"] = item.raw.hex()
            failed |= bool(entry.get("error") or entry.get("oracle"))
            out.append(entry)
        if as_json:
            _print_json({"messages": out, "problems": notes})
        else:
            for entry in out:
                where = (
                    f" frame {entry['frame']} {entry['time']} {entry['source']} -> "
                    f"{entry['destination']} ({entry['transport']})"
                    if "frame" in entry
                    else ""
                )
                typer.echo(f"--- message {entry['message']}{where}")
                if "error" in entry:
                    typer.echo(f"{entry['error']}\n{entry['hex']}")
                    continue
                typer.echo(entry["text"])
                if entry["oracle"]:
                    typer.echo("construct oracle DISAGREES:")
                    for line in entry["oracle"]:
                        typer.echo(f"  {line}")
                else:
                    typer.echo("construct oracle: agrees")
            for note in notes if out else []:
                typer.echo(f"warning: {note}", err=True)
        if not out and notes:
            raise _Failure(notes[0])
        if failed:
            bad = sum(1 for e in out if e.get("error") or e.get("oracle"))
            raise _Failure(f"{bad} of {len(out)} messages failed to decode or disagree")
