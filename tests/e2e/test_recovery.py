"""kill -9 the OCS mid-session: after a restart, balances and the open session are back
from SQL, and the CCR-U/T of the session opened before the crash are charged exactly."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import trio
from typer.testing import CliRunner

from ocs.cli import app as cli
from protocol.cc_client import MsccRequest, parse_cca
from protocol.codes import CcRequestType, ResultCode
from protocol.peer import PeerConfig, PeerConnection, Role
from protocol.trio_peer import open_peer
from protocol.units import ServiceUnits
from tests.loopback import free_port

from .conftest import GW, MSISDN, Gateway, init_db

T = CcRequestType
MB = 1_000_000


@contextmanager
def ocs_process(db_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable,
        "-m",
        "ocs",
        "serve",
        "--db",
        db_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-port",
        "0",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCS_")}
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()  # only the PID we started
        process.wait(timeout=10)


async def connect(port: int) -> trio.abc.Stream:
    for _ in range(200):  # the child needs a moment to load and listen
        try:
            return await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            await trio.sleep(0.05)
    raise AssertionError(f"the OCS never listened on port {port}")


async def session_step(
    port: int, requests: Callable[[Gateway], list[bytes]], first_id: int
) -> list[int]:
    """Wait for the OCS to listen, then send the requests on one connection."""
    await (await connect(port)).aclose()
    conn = PeerConnection(PeerConfig(capabilities=GW), role=Role.INITIATOR, now=trio.current_time())
    async with open_peer("127.0.0.1", port, conn) as handle:
        answers = await handle.request_many(requests(Gateway(handle, itertools.count(first_id))))
        return [parse_cca(a).result_code for a in answers]


def balance(db_url: str) -> dict[str, str]:
    shown = CliRunner().invoke(cli, ["account", "show", MSISDN, "--db", db_url, "--json"])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)  # type: ignore[no-any-return]


async def test_sigkill_then_restart_resumes_the_session(tmp_path: Path) -> None:
    db_url = init_db(tmp_path)
    port = free_port()
    log = tmp_path / "ocs.log"
    sid = "pgw.test;crash;1"
    used = (ServiceUnits(total_octets=4 * MB),)
    with ocs_process(db_url, port, log) as first, trio.fail_after(60):
        codes = await session_step(
            port,
            lambda gw: [
                gw.ccr(sid, T.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=10)]),
                gw.ccr(sid, T.UPDATE_REQUEST, 1, msccs=[MsccRequest(rating_group=10, used=used)]),
            ],
            first_id=1,
        )
        assert codes == [ResultCode.DIAMETER_SUCCESS] * 2
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    # Every answered debit survived: 4 MB charged, 10 MB still held for the session.
    shown = balance(db_url)
    assert (shown["balance"], shown["reserved"]) == ("9.96", "0.10")
    with ocs_process(db_url, port, log), trio.fail_after(60):
        # The gateway never saw the answer to CCR-U 1 and retransmits it (T flag) to
        # the restarted OCS, whose answer caches are empty: it must not charge again.
        codes = await session_step(
            port,
            lambda gw: [
                gw.ccr(
                    sid,
                    T.UPDATE_REQUEST,
                    1,
                    msccs=[MsccRequest(rating_group=10, used=used)],
                    retransmission=True,
                )
            ],
            first_id=2,
        )
        assert codes == [ResultCode.DIAMETER_SUCCESS]
        assert balance(db_url)["balance"] == "9.96", log.read_text()
        codes = await session_step(
            port,
            lambda gw: [
                gw.ccr(sid, T.UPDATE_REQUEST, 2, msccs=[MsccRequest(rating_group=10, used=used)]),
                gw.ccr(
                    sid,
                    T.TERMINATION_REQUEST,
                    3,
                    msccs=[MsccRequest(rating_group=10, requested=None, used=used)],
                ),
            ],
            first_id=100,  # new End-to-End ids: not a retransmission of anything
        )
        assert codes == [ResultCode.DIAMETER_SUCCESS] * 2, log.read_text()
    shown = balance(db_url)
    assert (shown["balance"], shown["reserved"]) == ("9.88", "0.00"), log.read_text()
