"""End to end: `ocs serve` in its own process on one core, the simulator on the other.

What lives here: the benchmark that proves the OCS's speed the way an operator would see
it: a fresh database (SQLite, durable acks, the default; then PostgreSQL), enough demo
subscribers for the load, ``python -m ocs serve`` pinned to core 0, and the simulator
(realistic data sessions: CCR-I, CCR-Us with MSCC and used units, CCR-T) in this process
pinned to core 1. What must not: any shortcut the real path does not take (no in-process
OCS, no fast acks).

Figures (``--json`` prints them as one JSON object on the last line):

- ``ccr_per_s``: closed-loop saturation throughput; ``server_cpu`` the cores the server
  process used meanwhile (from /proc); ``ccr_per_s_per_core`` = ccr_per_s / server_cpu,
  i.e. CCRs per server CPU-second, so a client-bound run is not mistaken for a server
  limit. ``client_cpu`` shows when the client was the bottleneck (≈ 1.0).
- ``p50_ms_1k``/``p99_ms_1k``/``p50_ms_10k``/``p99_ms_10k``: open loop at 1 000 and
  10 000 CCR/s, latency from each CCR's intended send time; ``achieved_10k`` the rate the
  client really offered (a one-core Python client may not reach 10 000/s).
- the same with a ``pg_`` prefix on PostgreSQL (127.0.0.1:5432, a throw-away schema);
  skipped with a message when the server is unreachable.

Usage: ``python benchmarks/bench_e2e.py [--quick] [--json] [--no-pg]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import trio
from typer.testing import CliRunner

from ocs.cli import app as ocs_cli
from simulator.app import simulate
from simulator.driver import RunConfig
from simulator.profiles import PROFILES
from simulator.scenarios import Scenario, ScenarioParams
from storage import events, queries
from storage.db import create_engine, write_transaction

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
FIRST_MSISDN = 491_770_000_000
SERVER_CORE, CLIENT_CORE = 0, 1
TICKS = os.sysconf("SC_CLK_TCK")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_database(url: str, subscribers: int) -> list[str]:
    """`ocs init --demo`, then ``subscribers`` prepaid demo accounts with 1 000 000 EUR."""
    result = CliRunner().invoke(ocs_cli, ["init", "--db", url, "--demo"])
    if result.exit_code != 0:
        raise RuntimeError(f"ocs init failed: {result.output}")
    engine = create_engine(url)
    msisdns = [str(FIRST_MSISDN + k) for k in range(subscribers)]
    with write_transaction(engine) as conn:
        product = queries.get_product(conn, name="demo")
        for msisdn in msisdns:
            customer = queries.create_customer(conn, name=msisdn, currency="EUR")
            events.create_account(
                conn,
                msisdn=msisdn,
                customer_id=customer.customer_id,
                product_id=product.product_id,
                idempotency_key=f"bench:{msisdn}:create",
            )
            events.topup(conn, msisdn, 1_000_000 * 1_000_000, f"bench:{msisdn}:topup")
    engine.dispose()
    return msisdns


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


@contextmanager
def ocs_server(url: str) -> Iterator[tuple[int, int]]:
    """`python -m ocs serve` pinned to SERVER_CORE; yields (port, pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "ocs", "serve", "--db", url, "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--metrics-port", "0"]
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        os.sched_setaffinity(child.pid, {SERVER_CORE})
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                err = child.stderr.read().decode() if child.stderr else ""
                raise RuntimeError(f"ocs serve exited {child.returncode}: {err[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("ocs serve did not listen within 60 s") from None
                time.sleep(0.1)
        yield port, child.pid
    finally:
        child.terminate()  # only the PID we started
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def one_run(port: int, server_pid: int, msisdns: list[str], **options: Any) -> dict[str, Any]:
    config = RunConfig(
        host="127.0.0.1",
        port=port,
        scenario=Scenario.DATA,
        profile=PROFILES["rfc"],
        msisdns=tuple(msisdns),
        # realistic data sessions: 2 rating groups in the MSCC, 1 MB per interim
        params=ScenarioParams(updates=5, rating_groups=(1, 2), usage_octets=1_000_000),
        timeout=10.0,
        drain_timeout=10.0,
        **options,
    )
    server0 = cpu_seconds(server_pid)
    client0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    report = trio.run(simulate, config)
    wall = time.monotonic() - wall0
    client1 = resource.getrusage(resource.RUSAGE_SELF)
    summary = report.summary
    summary["server_cpu"] = round((cpu_seconds(server_pid) - server0) / wall, 3)
    client = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    summary["client_cpu"] = round(client / wall, 3)
    return summary


def bench_backend(url: str, *, quick: bool, subscribers: int) -> dict[str, Any]:
    log(f"initialising {url.split('?')[0]} with {subscribers} subscribers")
    msisdns = init_database(url, subscribers)
    seconds = 3.0 if quick else 10.0
    out: dict[str, Any] = {}
    with ocs_server(url) as (port, pid):
        # warm up: load the accounts into the OCS's caches, start the writer
        one_run(port, pid, msisdns, sessions=20, in_flight=20, duration=1.0, connections=2)
        # 16 in flight over 4 connections: deeper pipelines (128) measured lower
        # throughput and lower server CPU on this OCS, i.e. not more work, only queueing
        log("saturation (closed loop, 4 connections, 16 in flight)")
        sat = one_run(port, pid, msisdns, sessions=64, in_flight=16, duration=seconds,
                      connections=4)  # fmt: skip
        out["ccr_per_s"] = sat["throughput_per_s"]
        out["server_cpu"] = sat["server_cpu"]
        out["client_cpu"] = sat["client_cpu"]
        out["ccr_per_s_per_core"] = (
            round(sat["throughput_per_s"] / sat["server_cpu"], 1) if sat["server_cpu"] else None
        )
        out["saturation_p50_ms"] = sat["latency_ms"]["p50"]
        out["saturation_errors"] = sat["errors"]
        for rate, tag in ((1000.0, "1k"), (10_000.0, "10k")):
            log(f"open loop {rate:.0f} CCR/s for {seconds} s")
            run = one_run(port, pid, msisdns, sessions=400 if rate > 1000 else 100, rate=rate,
                          duration=seconds, connections=4)  # fmt: skip
            lat = run["latency_ms"]
            out[f"p50_ms_{tag}"] = lat["p50"]
            out[f"p90_ms_{tag}"] = lat["p90"]
            out[f"p99_ms_{tag}"] = lat["p99"]
            out[f"p999_ms_{tag}"] = lat["p99.9"]
            out[f"achieved_{tag}"] = round(run["sent"] / run["elapsed_s"], 1)
            out[f"server_cpu_{tag}"] = run["server_cpu"]
            out[f"client_cpu_{tag}"] = run["client_cpu"]
            out[f"errors_{tag}"] = run["errors"]
    return out


def pg_reason() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split())
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 s per run, under a minute")
    parser.add_argument("--json", action="store_true", help="one JSON object, last line")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--subscribers", type=int, default=0, help="default 200 / 1000")
    args = parser.parse_args()
    subscribers = args.subscribers or (200 if args.quick else 1000)
    if len(os.sched_getaffinity(0)) < 2 or (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores; server and client share one")
    else:
        os.sched_setaffinity(0, {CLIENT_CORE})
    result: dict[str, Any] = {
        "quick": args.quick,
        "python": platform.python_version(),
        "trio": trio.__version__,
        "cores": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        result.update(bench_backend(url, quick=args.quick, subscribers=subscribers))
    if args.no_pg:
        result["pg_skipped"] = "--no-pg"
    elif (reason := pg_reason()) is not None:
        log(f"PostgreSQL skipped: {reason}")
        result["pg_skipped"] = reason
    else:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
            pg = bench_backend(url, quick=args.quick, subscribers=subscribers)
            result.update({f"pg_{key}": value for key, value in pg.items()})
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
