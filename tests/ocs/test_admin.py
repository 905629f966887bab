"""The admin endpoint (ocs.admin) at the protocol level, and its configuration.

The e2e suite (tests/e2e/test_operator.py) drives it through the CLI; here the raw
line protocol: several requests on one connection, malformed ones answered rather than
fatal, the port being taken not stopping the OCS, and ``admin_port`` from file, env
and flag.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import types
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from typer.testing import CliRunner

from ocs.admin import AdminClient, AdminError, AdminUnavailable
from ocs.cli import app
from ocs.config import ConfigError, OcsConfig, load_config
from tests.e2e.conftest import init_db, ocs_config, running_ocs
from tests.loopback import free_port


def exchange(port: int, lines: list[bytes]) -> list[dict[str, object]]:
    """Send raw lines on one connection; the decoded answer lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"".join(lines))
        data = b""
        wanted = sum(1 for line in b"".join(lines).split(b"\n") if line.strip())
        while data.count(b"\n") < wanted:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


async def test_the_line_protocol(tmp_path: Path) -> None:
    port = free_port()
    config = replace(ocs_config(init_db(tmp_path)), admin_port=port)
    async with running_ocs(config) as bound:
        assert bound.admin == ("127.0.0.1", port)
        answers = await trio.to_thread.run_sync(
            exchange,
            port,
            [
                b'{"op": "status"}\n',
                b"\n",  # blank lines are ignored
                b"not json\n",
                b'{"op": "reboot"}\n',
                b'["status"]\n',
                b'{"op": "session"}\n',
                b'{"op": "sessions"}\n{"op": "peers"}\n',
            ],
        )
        status, garbage, unknown, not_object, no_id, sessions, peers = answers
        assert status["ok"] is True
        result = status["result"]
        assert isinstance(result, dict)
        assert result["origin_host"] == "ocs.localdomain" and result["accounts"] == 3
        assert result["storage"] == "healthy" and result["sessions"] == 0
        assert (garbage["ok"], garbage["code"]) == (False, "bad_request")
        assert "unknown op 'reboot'" in str(unknown["error"]) and "disconnect" in str(
            unknown["error"]
        )
        assert not_object["code"] == "bad_request"
        assert "session_id is required" in str(no_id["error"])
        assert sessions == {"ok": True, "result": []} and peers == {"ok": True, "result": []}

        client = AdminClient(port)
        assert (await trio.to_thread.run_sync(client.request, "status"))["sessions"] == 0
        with pytest.raises(AdminError) as refused:
            await trio.to_thread.run_sync(lambda: client.request("session", session_id="x"))
        assert refused.value.code == "not_found"


async def test_a_taken_port_leaves_the_ocs_charging(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = replace(ocs_config(init_db(tmp_path)), admin_port=port)
        async with running_ocs(config) as bound:
            assert bound.admin is None and bound.diameter


async def test_admin_port_zero_is_off(tmp_path: Path) -> None:
    async with running_ocs(replace(ocs_config(init_db(tmp_path)), admin_port=0)) as bound:
        assert bound.admin is None


def test_the_client_reports_a_missing_server_and_a_foreign_one() -> None:
    port = free_port()
    with pytest.raises(AdminUnavailable, match="is ocs serve running"):
        AdminClient(port).request("status")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        foreign = int(server.getsockname()[1])

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        with pytest.raises(AdminUnavailable, match="does not speak the OCS admin protocol"):
            AdminClient(foreign, timeout=5).request("status")
        thread.join()


def test_admin_port_from_file_env_and_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert OcsConfig().admin_port == 9465
    config = tmp_path / "ocs.toml"
    config.write_text("admin_port = 7001\n")
    assert load_config(config, {}, {}).admin_port == 7001
    assert load_config(config, {"OCS_ADMIN_PORT": "7002"}, {}).admin_port == 7002
    assert load_config(config, {"OCS_ADMIN_PORT": "7002"}, {"admin_port": 7003}).admin_port == 7003
    with pytest.raises(ConfigError, match="OCS_ADMIN_PORT: must be an integer"):
        load_config(None, {"OCS_ADMIN_PORT": "x"}, {})
    with pytest.raises(ConfigError, match=r"admin_port .* are both 3868"):
        load_config(None, {"OCS_ADMIN_PORT": "3868"}, {})
    # ocs serve passes --admin-port on to the server
    seen: list[OcsConfig] = []
    module = types.ModuleType("ocs.app")
    module.serve = seen.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ocs.app", module)
    for name in [n for n in os.environ if n.startswith("OCS_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve", "--admin-port", "0", "--metrics-port", "0"])
    assert result.exit_code == 0, result.output
    assert seen[0].admin_port == 0
    checked = CliRunner().invoke(app, ["config", "check", "--json"], env={"OCS_ADMIN_PORT": "7004"})
    data = json.loads(checked.stdout)
    assert data["settings"]["admin_port"] == 7004
    assert data["sources"]["admin_port"] == "env OCS_ADMIN_PORT"
