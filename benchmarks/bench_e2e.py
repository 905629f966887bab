"""End to end: `ocs serve` in its own process on one core, the simulator on the other.

What lives here: the benchmark that proves the OCS's speed the way an operator would see
it: a fresh database (SQLite, durable acks, the default; then PostgreSQL), enough demo
subscribers for the load, ``python -m ocs serve`` pinned to core 0, and the simulator
(realistic data sessions: CCR-I, CCR-Us with MSCC and used units, CCR-T) in this process
pinned to core 1. What must not: any shortcut the real path does not take (no in-process
OCS, no fast acks).

Figures (``--json`` prints them as one JSON object on the last line):

- ``ccr_per_s``: closed-loop saturation throughput of data sessions (CCR-I, 5 CCR-U
  with used units, CCR-T; one MSCC with rating, durable acks); ``server_cpu`` the cores
  the server process used meanwhile (from /proc); ``ccr_per_s_per_core`` = ccr_per_s /
  server_cpu, i.e. CCRs per server CPU-second. ``2rg_*``: the same with two rating
  groups per CCR (twice the ledger and rating work).
- ``p50_ms_1k``/``p99_ms_1k``/``p50_ms_10k``/``p99_ms_10k``: open loop at 1 000 and
  10 000 CCR/s, latency from each CCR's intended send time; ``achieved_*`` the rate
  really offered.
- ``sim_*``: one closed-loop run of the simulator itself (gateway behaviour, every
  answer checked). The saturation and open-loop figures use `blast` (pre-encoded
  sessions on raw sockets) because the simulator spends ~150 µs of client CPU per CCR
  and would measure itself, not the server.
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

import blast
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


def blast_run(port: int, server_pid: int, work: list[list[bytearray]], *, mode: str,
              seconds: float, **options: Any) -> dict[str, Any]:  # fmt: skip
    """One run of the lean generator; server CPU from /proc, client CPU from rusage."""
    tally = blast.Tally()
    server0 = cpu_seconds(server_pid)
    client0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    if mode == "closed":
        trio.run(lambda: blast.closed_loop(port, work, seconds=seconds, tally=tally, **options))
    else:
        trio.run(lambda: blast.open_loop(port, work, seconds=seconds, tally=tally, **options))
    wall = time.monotonic() - wall0
    client1 = resource.getrusage(resource.RUSAGE_SELF)
    client = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    server = (cpu_seconds(server_pid) - server0) / wall
    return {
        "answered": tally.answered,
        "failed": tally.failed,
        "per_s": round(tally.answered / wall, 1),
        "server_cpu": round(server, 3),
        "client_cpu": round(client / wall, 3),
        "latency_ms": blast.percentiles(tally.latencies),
    }


def bench_backend(url: str, *, quick: bool, subscribers: int) -> dict[str, Any]:
    log(f"initialising {url.split('?')[0]} with {subscribers} subscribers")
    msisdns = init_database(url, subscribers)
    seconds = 3.0 if quick else 8.0
    out: dict[str, Any] = {}
    with ocs_server(url) as (port, pid):
        # The simulator: realistic gateways (thresholds, FUI, RAR), every answer checked.
        log("simulator: closed loop, 4 connections, 16 in flight")
        sim = one_run(port, pid, msisdns, sessions=64, in_flight=16, duration=seconds / 2,
                      connections=4)  # fmt: skip
        out["sim_ccr_per_s"] = sim["throughput_per_s"]
        out["sim_errors"] = sim["errors"]
        out["sim_client_cpu"] = sim["client_cpu"]
        # The lean generator: pre-encoded sessions, so the server, not the client, limits.
        run_id = 0
        for label, groups in (("", (1,)), ("2rg_", (1, 2))):
            run_id += 1
            per_session = 7  # CCR-I, 5 x CCR-U, CCR-T
            count = int(40_000 * seconds / per_session) + 1
            work = blast.sessions(msisdns, count, updates=5, prefix=f"sat{run_id}.{os.getpid()}",
                                  rating_groups=groups)  # fmt: skip
            log(f"saturation, {len(groups)} rating group(s) per CCR: 1 connection, 128 in flight")
            sat = blast_run(port, pid, work, mode="closed", seconds=seconds, connections=1,
                            window=128)  # fmt: skip
            out[f"{label}ccr_per_s"] = sat["per_s"]
            out[f"{label}server_cpu"] = sat["server_cpu"]
            out[f"{label}client_cpu"] = sat["client_cpu"]
            out[f"{label}ccr_per_s_per_core"] = (
                round(sat["per_s"] / sat["server_cpu"], 1) if sat["server_cpu"] else None
            )
            out[f"{label}saturation_p50_ms"] = sat["latency_ms"].get("p50")
            out[f"{label}failed"] = sat["failed"]
        for rate, tag in ((1000.0, "1k"), (10_000.0, "10k")):
            run_id += 1
            work = blast.sessions(msisdns, int(rate * seconds / 7) + 8, updates=5,
                                  prefix=f"open{run_id}.{os.getpid()}", rating_groups=(1,))  # fmt: skip
            log(f"open loop {rate:.0f} CCR/s for {seconds} s")
            run = blast_run(port, pid, work, mode="open", seconds=seconds, connections=4, rate=rate)
            lat = run["latency_ms"]
            for q in ("p50", "p90", "p99", "p99.9"):
                out[f"{q.replace('.', '')}_ms_{tag}"] = lat.get(q)
            out[f"achieved_{tag}"] = run["per_s"]
            out[f"server_cpu_{tag}"] = run["server_cpu"]
            out[f"failed_{tag}"] = run["failed"]
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
