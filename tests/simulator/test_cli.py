"""`ocs-sim` through typer's CliRunner: a verified run, JSON output, and the error paths.

The OCS runs in its own thread (its own trio loop), because the CLI calls trio.run."""

from __future__ import annotations

import json
import shlex
import socket
import sys
import threading
from collections.abc import Iterator

import pytest
import trio
from typer.testing import CliRunner

from simulator.cli import app

from .conftest import PREPAID, ocs


@pytest.fixture
def target(db_url: str) -> Iterator[str]:
    ready = threading.Event()
    found: list[str] = []
    stop: list[tuple[trio.CancelScope, trio.lowlevel.TrioToken]] = []

    async def serve() -> None:
        with trio.CancelScope() as scope:
            stop.append((scope, trio.lowlevel.current_trio_token()))
            async with ocs(db_url) as bound:
                host, port = bound.diameter[0]
                found.append(f"{host}:{port}")
                ready.set()
                await trio.sleep_forever()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield found[0]
    scope, token = stop[0]
    trio.from_thread.run_sync(scope.cancel, trio_token=token)
    thread.join(30)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def balance_cmd(db_url: str) -> str:
    return f"{shlex.quote(sys.executable)} -m ocs account show {{msisdn}} --db {db_url} --json"


def test_verified_sms_run_prints_json_last(target: str, db_url: str) -> None:
    code, out, err = invoke(
        "run", "--target", target, "--scenario", "sms", "--msisdn", PREPAID, "--count", "2",
        "--sessions", "1", "--verify", "--price-per-sms", "0.05",
        "--balance-cmd", balance_cmd(db_url), "--json", "--quiet",
    )  # fmt: skip
    assert code == 0, (out, err)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["balances"][PREPAID]["charged"] == "0.1"
    assert report["result_codes"] == {"2001": 2}


def test_wrong_price_fails_with_exit_1(target: str, db_url: str) -> None:
    code, out, _ = invoke(
        "run", "--target", target, "--scenario", "data", "--msisdn", PREPAID, "--count", "1",
        "--verify", "--price-per-mb", "0.02", "--balance-cmd", balance_cmd(db_url), "--quiet",
    )  # fmt: skip
    assert code == 1
    assert "problem: 491700000001: balance moved by 0.04, the tariff says 0.08" in out
    assert "FAILED" in out


def test_load_run_shows_progress_and_percentiles(target: str) -> None:
    code, out, err = invoke(
        "run", "--target", target, "--msisdn-range", "491700000001:2", "--rate", "200",
        "--duration", "1.2", "--sessions", "10", "--connections", "2",
    )  # fmt: skip
    assert code == 0, (out, err)
    assert "p50" in out and "p99.9" in out
    assert "answered" in err  # the progress line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nohostport"], "HOST:PORT"),
        (["--target", "127.0.0.1:1", "--profile", "ericsson"], "unknown profile"),
        (["--target", "127.0.0.1:1", "--rate", "5", "--in-flight", "2"], "exclude"),
        (["--target", "127.0.0.1:1", "--verify"], "--verify needs"),
        (["--target", "127.0.0.1:1", "--msisdn-range", "49x:3"], "FIRST:COUNT"),
        (["--target", "127.0.0.1:1", "--price-per-mb", "cheap"], "--price-per-mb"),
        (["--target", "127.0.0.1:1", "--duration", "0"], "duration"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    extra = [] if "--msisdn-range" in args else ["--msisdn", PREPAID]
    code, _, err = invoke("run", *args, *extra)
    assert code == 2
    assert message in err


def test_unreachable_ocs_exits_1() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = invoke("run", "--target", f"127.0.0.1:{port}", "--msisdn", PREPAID)
    assert code == 1
    assert "cannot reach the OCS" in err


def test_profiles_lists_the_four() -> None:
    code, out, _ = invoke("profiles")
    assert code == 0
    assert all(name in out for name in ("rfc", "open5gs", "kamailio", "pyhss"))
