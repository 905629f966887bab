"""The operator's CLI against a running in-process OCS: what issue 6 promises end to end.

A CLI top-up reaches an exhausted live session as a RAR; ``session list``, ``session show``,
``peer list`` and ``status`` read the server's memory through the admin endpoint;
``session disconnect`` makes the server send ASR; a CLI block aborts the remaining
session with ASR. The CLI runs in a worker thread (``trio.to_thread``), as a separate
process would, while the server and the test gateway run on the trio loop.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import trio
from typer.testing import CliRunner, Result

from ocs.cli import app as cli
from protocol.cc_client import MsccRequest, parse_cca
from protocol.codec import Message
from protocol.codes import CcRequestType, ResultCode
from protocol.reauth import encode_asa, encode_raa, parse_asr, parse_rar
from protocol.units import ServiceUnits
from tests.loopback import free_port

from .conftest import GW, MSISDN, Gateway, gateway, ocs_config, running_ocs

T = CcRequestType
MB = 1_000_000


class Recorder:
    """A gateway's answers to the OCS: RAA 2002 to RAR, ASA 2001 to ASR."""

    def __init__(self) -> None:
        self.rars: list[str] = []
        self.asrs: list[str] = []
        self.changed = trio.Event()

    def __call__(self, requests: list[Message]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for request in requests:
            host, realm = GW.origin_host, GW.origin_realm
            hop, end = request.hop_by_hop, request.end_to_end
            if request.command_code == 258:
                rar = parse_rar(request)
                self.rars.append(rar.session_id)
                out.append(
                    encode_raa(
                        rar,
                        result_code=2002,
                        origin_host=host,
                        origin_realm=realm,
                        hop_by_hop=hop,
                        end_to_end=end,
                    )
                )
            else:
                asr = parse_asr(request)
                self.asrs.append(asr.session_id)
                out.append(
                    encode_asa(
                        asr,
                        result_code=2001,
                        origin_host=host,
                        origin_realm=realm,
                        hop_by_hop=hop,
                        end_to_end=end,
                    )
                )
        self.changed.set()
        self.changed = trio.Event()
        return out

    async def wait_for(self, seen: list[str], session_id: str) -> None:
        with trio.fail_after(10):
            while session_id not in seen:
                await self.changed.wait()


async def ocs_cli(*args: str) -> Result:
    return await trio.to_thread.run_sync(lambda: CliRunner().invoke(cli, list(args)))


async def ocs_json(*args: str) -> dict[str, Any]:
    result = await ocs_cli(*args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


async def exhaust(gw: Gateway, session: str) -> None:
    await gw.ask(gw.ccr(session, T.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=7)]))
    used = MsccRequest(rating_group=7, used=(ServiceUnits(total_octets=1000 * MB),))
    cca = parse_cca(await gw.ask(gw.ccr(session, T.UPDATE_REQUEST, 1, msccs=[used])))
    mscc = cca.multiple_services_credit_control[0]
    assert mscc.result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED


async def test_operator_cli_against_a_live_server(db_url: str) -> None:
    port = free_port()
    admin = ("--admin-port", str(port))
    config = replace(ocs_config(db_url), admin_port=port)
    recorder = Recorder()
    async with running_ocs(config) as bound, gateway(bound, handler=recorder) as gw:
        assert bound.admin == ("127.0.0.1", port)
        await gw.ask(gw.ccr("pgw;two", T.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=8)]))
        await exhaust(gw, "pgw;op")

        listed = (await ocs_json("session", "list", *admin))["sessions"]
        assert isinstance(listed, list)
        by_id = {s["session_id"]: s for s in listed}
        assert set(by_id) == {"pgw;op", "pgw;two"}
        assert by_id["pgw;op"]["exhausted"] == [7] and by_id["pgw;op"]["msisdn"] == MSISDN
        assert by_id["pgw;two"]["reserved_micros"] > 0 and by_id["pgw;two"]["peer_connected"]
        mine = await ocs_json("session", "list", "--msisdn", f"+{MSISDN}", *admin)
        assert len(mine["sessions"]) == 2
        human = (await ocs_cli("session", "list", *admin)).stdout
        assert "pgw;op" in human and "pgw.test" in human

        shown = await ocs_json("session", "show", "pgw;two", *admin)
        [hold] = shown["reservations"]
        assert hold["rating_group"] == 8 and hold["micros"] > 0
        assert "reservation" in (await ocs_cli("session", "show", "pgw;two", *admin)).stdout

        [peer] = (await ocs_json("peer", "list", *admin))["peers"]
        assert (peer["origin_host"], peer["origin_realm"], peer["state"]) == (
            "pgw.test",
            "test",
            "open",
        )
        assert peer["sessions"] == 2 and peer["last_traffic_s"] < 5
        assert "pgw.test" in (await ocs_cli("peer", "list", *admin)).stdout
        status = await ocs_json("status", *admin)
        assert status["sessions"] == 2 and status["peers_open"] == 1

        # a CLI top-up reaches the exhausted session as a RAR scoped to its rating group
        topup = await ocs_cli("account", "topup", MSISDN, "20", "--db", db_url)
        assert topup.exit_code == 0, topup.output
        await recorder.wait_for(recorder.rars, "pgw;op")
        again = MsccRequest(rating_group=7)
        cca = parse_cca(await gw.ask(gw.ccr("pgw;op", T.UPDATE_REQUEST, 2, msccs=[again])))
        assert cca.multiple_services_credit_control[0].result_code == ResultCode.DIAMETER_SUCCESS

        # session disconnect: the server sends ASR and reports the gateway's ASA
        result = await ocs_cli("session", "disconnect", "pgw;two", *admin)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert "ASA Result-Code 2001" in result.stdout
        assert recorder.asrs == ["pgw;two"]
        released = await ocs_json("session", "disconnect", "pgw;two", "--release", *admin)
        assert released["released"] is True and released["still_open"] is False

        # a CLI block aborts the account's remaining session with ASR
        block = await ocs_cli("account", "block", MSISDN, "--db", db_url)
        assert block.exit_code == 0, block.output
        await recorder.wait_for(recorder.asrs, "pgw;op")

        for args, message in (
            (("session", "show", "nope"), "no open session 'nope'"),
            (("session", "disconnect", "nope"), "no open session 'nope'"),
            (("session", "list", "--msisdn", "4999999"), "knows no account with MSISDN"),
        ):
            failed = await ocs_cli(*args, *admin)
            assert failed.exit_code == 1 and message in failed.stderr, failed.stderr


async def test_disconnect_when_the_gateway_is_gone(db_url: str) -> None:
    port = free_port()
    admin = ("--admin-port", str(port))
    async with running_ocs(replace(ocs_config(db_url), admin_port=port)) as bound:
        async with gateway(bound) as gw:
            await gw.ask(gw.ccr("pgw;gone", T.INITIAL_REQUEST, 0, msccs=[MsccRequest(1)]))
        peers = await ocs_json("peer", "list", *admin)
        assert peers["peers"] == []  # the gateway sent DPR and left
        refused = await ocs_cli("session", "disconnect", "pgw;gone", *admin)
        assert refused.exit_code == 1 and "not connected" in refused.stderr
        assert "--release" in refused.stderr
        listed = (await ocs_cli("session", "list", *admin)).stdout
        assert "pgw.test (gone)" in listed
        freed = await ocs_cli("session", "disconnect", "pgw;gone", "--release", *admin)
        assert freed.exit_code == 0 and "released" in freed.stdout
        assert "no open sessions" in (await ocs_cli("session", "list", *admin)).stdout


async def test_live_commands_without_a_server_say_what_to_do() -> None:
    port = free_port()
    result = await ocs_cli("session", "list", "--admin-port", str(port))
    assert result.exit_code == 1
    assert f"no OCS admin endpoint on 127.0.0.1 port {port}" in result.stderr
    assert "is ocs serve running" in result.stderr
    off = await ocs_cli("peer", "list", "--admin-port", "0")
    assert off.exit_code == 2 and "admin endpoint is off" in off.stderr
