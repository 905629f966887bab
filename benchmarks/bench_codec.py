"""Codec benchmark on a realistic CCR-Update (616 bytes, and a richer one of 696).

The message is what issue 2 specifies: one MSCC with RSU and USU, a Subscription-Id
and Service-Information/PS-Information with seven vendor AVPs (616 bytes), what an
SAE-GW sends mid-session. The ``rich_`` figures are for a richer update (696 bytes:
a second Subscription-Id, the IMSI, and nine vendor AVPs), the one this benchmark
used alone until 2026-11-25. The server path reads a stream of 4096 updates from different
sessions (Session-Ids of 1 to 7 digits, MSISDN, IMSI, usage, request numbers and
ids all vary), as an OCS receives them, not one message again and again. Figures
(medians of several timing runs, µs per message):

* server_path_us: decode the fields an OCS needs and encode the CCA, as the OCS
  does (`protocol.layouts.CcrReader`: compiled readers for the layouts it has seen)
* server_path_walk_us: the same with `parse_ccr`, which walks every message: what
  a layout the reader has not compiled costs
* layout_hit_ratio: share of the timed stream read by a compiled reader
* full_decode_us: dictionary-driven eager decode of every AVP and value (protocol.tree)
* construct_decode_us: the construct declaration (protocol/_wire.py) splitting every
  AVP, Grouped ones included (no value typing): the reference the hand codec beats

Run by hand: ``python benchmarks/bench_codec.py [--json]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from protocol import _wire, codec, tree
from protocol.cca import CcaEncoder, MsccAnswer
from protocol.codec import Message, decode_message
from protocol.codes import VENDOR_3GPP, ResultCode
from protocol.credit_control import CreditControlRequest, parse_ccr
from protocol.dictionary import AvpType, lookup
from protocol.layouts import CcrReader
from protocol.units import ServiceUnits

V = VENDOR_3GPP


def realistic_ccr_update(
    session: int = 42,
    *,
    rich: bool = True,
    msisdn: str = "4917012345678",
    imsi: str = "262011234567890",
    number: int = 3,
    octets: tuple[int, int] = (524_288, 2_621_440),
    ids: tuple[int, int] = (0x12345678, 0x9ABCDEF0),
) -> bytes:
    c = codec
    avps = (
        c.avp_utf8(263, f"pgw01.epc.mnc001.mcc262.3gppnetwork.org;1796050123;{session};gy"),
        c.avp_utf8(264, "pgw01.epc.mnc001.mcc262.3gppnetwork.org"),
        c.avp_utf8(296, "epc.mnc001.mcc262.3gppnetwork.org"),
        c.avp_utf8(283, "ocs.mvno.example"),
        c.avp_unsigned32(258, 4),
        c.avp_utf8(461, "32251@3gpp.org"),
        c.avp_unsigned32(416, 2),
        c.avp_unsigned32(415, number),
        c.avp_time(55, 1_795_600_000),
        c.avp_grouped(443, [c.avp_unsigned32(450, 0), c.avp_utf8(444, msisdn)]),
        *([c.avp_grouped(443, [c.avp_unsigned32(450, 1), c.avp_utf8(444, imsi)])] * rich),
        c.avp_unsigned32(455, 1),
        c.avp_grouped(
            456,
            [
                c.avp_grouped(437, []),
                c.avp_grouped(
                    446,
                    [
                        c.avp_unsigned64(421, sum(octets)),
                        c.avp_unsigned64(412, octets[0]),
                        c.avp_unsigned64(414, octets[1]),
                        c.avp_unsigned32(872, 0, vendor_id=V),
                    ],
                ),
                c.avp_unsigned32(432, 10),
                c.avp_unsigned32(439, 1),
            ],
        ),
        c.avp_grouped(
            873,
            [
                c.avp_grouped(
                    874,
                    [
                        c.avp_octets(2, b"\x1a\x2b\x3c\x4d", vendor_id=V, mandatory=False),
                        *[c.avp_unsigned32(3, 0, vendor_id=V, mandatory=False)] * rich,
                        c.avp_address(1227, "10.45.0.2", vendor_id=V),
                        c.avp_address(1228, "192.0.2.10", vendor_id=V),
                        c.avp_address(847, "192.0.2.20", vendor_id=V),
                        *[c.avp_utf8(18, "26201", vendor_id=V, mandatory=False)] * rich,
                        c.avp_utf8(30, "internet"),
                        c.avp_octets(21, b"\x06", vendor_id=V, mandatory=False),
                        c.avp_octets(
                            22,
                            bytes.fromhex("8262f210a1b262f21000c3d4e5"),
                            vendor_id=V,
                            mandatory=False,
                        ),
                        c.avp_octets(23, b"\x80\x00", vendor_id=V, mandatory=False),
                    ],
                    vendor_id=V,
                )
            ],
            vendor_id=V,
        ),
    )
    return Message(272, 0xC0, 4, *ids, avps).encode()


def update_stream(count: int, *, rich: bool, seed: int = 1) -> list[bytes]:
    """``count`` CCR-Updates of different sessions, values and ids."""
    rng = random.Random(seed)
    return [
        realistic_ccr_update(
            rng.randrange(10 ** rng.randrange(1, 8)),
            rich=rich,
            msisdn=f"49170{rng.randrange(10**8):08d}",
            imsi=f"26201{rng.randrange(10**10):010d}",
            number=rng.randrange(1, 200),
            octets=(rng.randrange(10**7), rng.randrange(10**8)),
            ids=(rng.randrange(2**32), rng.randrange(2**32)),
        )
        for _ in range(count)
    ]


def median_us(fn: Callable[[], object], number: int, repeat: int = 7) -> float:
    runs = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on the last line"
    )
    parser.add_argument("--number", type=int, default=20_000, help="iterations per timing run")
    args = parser.parse_args()

    figures: dict[str, object] = {}
    # the message first (figures without prefix), then the richer one ("rich_")
    for prefix, rich in (("", False), ("rich_", True)):
        figures |= {prefix + key: value for key, value in measure(rich, args.number).items()}
    figures |= {"python": platform.python_version(), "machine": platform.machine()}
    for key, value in figures.items():
        print(f"{key:>30}: {value}")
    if args.json:
        print(json.dumps(figures))


def measure(rich: bool, n: int) -> dict[str, object]:
    encoder = CcaEncoder(origin_host="ocs.mvno.example", origin_realm="mvno.example")
    grant = ServiceUnits(total_octets=10_485_760)
    raw = realistic_ccr_update(rich=rich)
    stream = update_stream(4096, rich=rich)
    arrivals = itertools.cycle(stream)
    reader = CcrReader()
    for message_bytes in stream:  # what the OCS has seen before the timed runs
        reader.parse(decode_message(message_bytes, lazy=True))

    def server_path(parse: Callable[[Message], CreditControlRequest]) -> bytes:
        message = decode_message(next(arrivals), lazy=True)
        request = parse(message)
        answers = [
            MsccAnswer(
                m.rating_group, ResultCode.DIAMETER_SUCCESS, granted=grant, validity_time=3600
            )
            for m in request.multiple_services_credit_control
        ]
        return encoder.encode(
            request,
            flags=message.flags,
            hop_by_hop=message.hop_by_hop,
            end_to_end=message.end_to_end,
            msccs=answers,
        )

    hits, walks = reader.hits, reader.walks
    server_us = median_us(lambda: server_path(reader.parse), n)
    hit_ratio = (reader.hits - hits) / (reader.hits - hits + reader.walks - walks)
    walk_us = median_us(lambda: server_path(parse_ccr), n)
    full_us = median_us(lambda: tree.decode_tree(raw), n // 2)
    construct_us = median_us(lambda: construct_tree(raw), max(n // 100, 20), 5)
    return {
        "message_bytes": len(raw),
        "server_path_us": round(server_us, 2),
        "server_path_walk_us": round(walk_us, 2),
        "layout_hit_ratio": round(hit_ratio, 4),
        "layouts_compiled": reader.compiled,
        "full_decode_us": round(full_us, 2),
        "construct_decode_us": round(construct_us, 1),
        "construct_vs_full_ratio": round(construct_us / full_us, 1),
    }


def construct_tree(raw: bytes) -> list[Any]:
    """Split every AVP, Grouped ones included, with the construct declaration."""
    _, avps = _wire.parse_message(raw)
    pending = list(avps)
    while pending:
        avp = pending.pop()
        definition = lookup(avp.code, avp.vendor_id or 0)
        if definition is not None and definition.type is AvpType.GROUPED:
            pending.extend(_wire.parse_avps(avp.data))
    return avps


if __name__ == "__main__":
    main()
