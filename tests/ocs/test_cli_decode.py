"""``ocs decode`` on the independent test vectors and on pcap captures built from them.

The captures are made here, byte by byte (Ethernet/Linux-cooked, IPv4/IPv6, TCP with
split, retransmitted and reordered segments, SCTP), so the reader is checked against
what the bytes must yield rather than against itself.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ocs import cli_decode
from ocs.cli import app
from ocs.cli_decode import oracle_problems
from ocs.cli_pcap import read_pcap, write_pcap
from protocol.codec import Header
from protocol.tree import DecodedAvp, decode_tree

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ALL = sorted(VECTORS.glob("*.hex"))


def load(name: str) -> bytes:
    text = (VECTORS / name).read_text()
    return bytes.fromhex(
        "".join(line.split("#", 1)[0] for line in text.splitlines()).replace(" ", "")
    )


def ocs(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("vector", ALL, ids=[p.name for p in ALL])
def test_every_vector_decodes_and_the_oracle_agrees(vector: Path) -> None:
    result = ocs("decode", str(vector))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "construct oracle: agrees" in result.stdout
    assert "Session-Id" in result.stdout or "Origin-Host" in result.stdout


def test_hex_argument_json_and_enumerated_names() -> None:
    raw = load("otp_ccr_initial.hex")
    result = ocs("decode", raw.hex(), "--json")
    assert result.exit_code == 0, result.stderr
    [message] = json.loads(result.stdout)["messages"]
    assert (message["command"], message["request"], message["oracle"]) == (
        "CREDIT_CONTROL",
        True,
        [],
    )
    request_type = next(a for a in message["avps"] if a["name"] == "CC-Request-Type")
    assert request_type["value_name"] == "INITIAL_REQUEST"
    # two messages back to back in one argument, spaced and with a 0x prefix
    two = "0x" + raw.hex() + " " + load("otp_dwr.hex").hex()
    assert ocs("decode", two).stdout.count("--- message") == 2


def test_the_oracle_catches_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = load("otp_ccr_initial.hex")
    assert oracle_problems(raw) == []

    def lossy(message: bytes) -> tuple[Header, tuple[DecodedAvp, ...]]:
        """A codec with a bug: it loses the last AVP of every message."""
        header, avps = decode_tree(message)
        return header, avps[:-1]

    monkeypatch.setattr(cli_decode, "decode_tree", lossy)
    [problem] = oracle_problems(raw)
    assert "construct sees 14 AVPs, codec 13" in problem
    result = ocs("decode", raw.hex())
    assert result.exit_code == 1 and "construct oracle DISAGREES" in result.stdout


@pytest.mark.parametrize(
    ("argument", "code", "message"),
    [
        ("zz", 2, "neither a file nor hex"),
        ("0100001", 2, "odd number of hex digits"),
        ("0100001c", 1, "truncated input"),
        ("0200001c" + "00" * 24, 1, "is not a Diameter message"),
    ],
)
def test_bad_input(argument: str, code: int, message: str) -> None:
    result = ocs("decode", argument)
    assert result.exit_code == code and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_message_the_codec_refuses_is_shown_and_fails(tmp_path: Path) -> None:
    raw = bytearray(load("otp_dwr.hex"))
    raw[20 + 7] = 0xFF  # first AVP's length far beyond the message
    bad = tmp_path / "bad.hex"
    bad.write_text("# broken on purpose\n" + raw.hex() + "\n")
    result = ocs("decode", str(bad))
    assert result.exit_code == 1
    assert "cannot decode" in result.stdout and "1 of 1 messages" in result.stderr


# --- pcap ------------------------------------------------------------------------------------


def checksum_free_ipv4(src: bytes, dst: bytes, protocol: int, payload: bytes) -> bytes:
    return (
        struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), 1, 0, 64, protocol, 0)
        + src
        + dst
        + payload
    )


def tcp(sport: int, dport: int, seq: int, payload: bytes, *, syn: bool = False) -> bytes:
    flags = 0x02 if syn else 0x18
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ethernet(ip: bytes, *, v6: bool = False) -> bytes:
    return b"\x02" * 6 + b"\x04" * 6 + (b"\x86\xdd" if v6 else b"\x08\x00") + ip


def ipv6(src: bytes, dst: bytes, protocol: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(payload), protocol, 64) + src + dst + payload


GW, OCS = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])


def test_pcap_with_split_retransmitted_and_reordered_tcp(tmp_path: Path) -> None:
    ccr, cca, dwr = load("otp_ccr_initial.hex"), load("otp_cca_initial.hex"), load("otp_dwr.hex")
    stream = ccr + dwr
    a, b, c = stream[:100], stream[100:300], stream[300:]
    frames = [
        ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(40000, 3868, 999, b"", syn=True))),
        ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(40000, 3868, 1000, a))),
        ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(40000, 3868, 1000 + 300, c))),  # early
        ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(40000, 3868, 1000 + 100, b))),
        ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(40000, 3868, 1000, a))),  # retransmitted
        ethernet(checksum_free_ipv4(OCS, GW, 6, tcp(3868, 40000, 5000, cca))),
    ]
    capture = tmp_path / "gy.pcap"
    capture.write_bytes(write_pcap(frames))
    parsed = read_pcap(capture.read_bytes())
    assert [m.raw for m in parsed.messages] == [ccr, dwr, cca]
    assert [m.frame for m in parsed.messages] == [4, 4, 6] and parsed.problems == []
    result = ocs("decode", str(capture))
    assert result.exit_code == 0, result.stderr
    assert "192.0.2.1:40000 -> 192.0.2.2:3868 (tcp)" in result.stdout
    assert result.stdout.count("construct oracle: agrees") == 3
    data = json.loads(ocs("decode", str(capture), "--json").stdout)
    assert [m["command"] for m in data["messages"]] == [
        "CREDIT_CONTROL",
        "DEVICE_WATCHDOG",
        "CREDIT_CONTROL",
    ]


def test_pcap_linux_cooked_ipv6_and_sctp() -> None:
    cer = load("otp_cer.hex")
    src, dst = bytes(15) + b"\x01", bytes(15) + b"\x02"
    cooked = struct.pack("!HHH8sH", 0, 772, 6, b"", 0x86DD)
    chunk = struct.pack("!BBHIHHI", 0, 0x03, 16 + len(cer), 1, 0, 0, 46) + cer
    sctp = struct.pack("!HHII", 3868, 3868, 0, 0) + chunk + b"\0" * (-len(chunk) % 4)
    over_tcp = tcp(1, 3868, 7, cer)
    frames = [cooked + ipv6(src, dst, 132, sctp), cooked + ipv6(src, dst, 6, over_tcp)]
    parsed = read_pcap(write_pcap(frames, link=113))
    assert [(m.transport, m.raw) for m in parsed.messages] == [("sctp", cer), ("tcp", cer)]
    assert parsed.messages[0].source == "[::1]:3868"


def test_pcap_garbage_stream_pcapng_and_empty(tmp_path: Path) -> None:
    garbage = ethernet(checksum_free_ipv4(GW, OCS, 6, tcp(1, 2, 5, b"GET / HTTP/1.1\r\n\r\n")))
    capture = tmp_path / "http.pcap"
    capture.write_bytes(write_pcap([garbage]))
    result = ocs("decode", str(capture))
    assert result.exit_code == 1 and "not Diameter" in result.stderr
    pcapng = tmp_path / "x.pcapng"
    pcapng.write_bytes(bytes.fromhex("0a0d0d0a") + bytes(40))
    result = ocs("decode", str(pcapng))
    assert result.exit_code == 2 and "editcap -F pcap" in result.stderr
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(write_pcap([]))
    result = ocs("decode", str(empty))
    assert result.exit_code == 1 and "no Diameter message" in result.stderr
