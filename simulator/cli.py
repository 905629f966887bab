"""The ``ocs-sim`` command: run a scenario against an OCS, for a demo, a check or a load.

What lives here: the typer ``app`` and ``main()`` (the console script), option parsing
and the printed report. What must not: Diameter work (`driver`) or checks (`checks`,
`verify`).

Exit status: 0 done (and, with ``--verify``, every answer and balance was right);
1 the run failed: the OCS could not be reached, a request got no usable answer, or verify
found a problem; 2 bad usage. Errors print one ``error: ...`` line on stderr. ``--json``
prints one JSON object as the last line of stdout; the progress line goes to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from decimal import Decimal
from typing import Annotated, NoReturn

import trio
import typer

from protocol.errors import PeerClosedError

from .app import Report, simulate
from .balances import DEFAULT_COMMAND, BalanceError, CommandBalances, parse_amount
from .driver import RunConfig
from .pricing import PriceTable, Rounding
from .profiles import PROFILES
from .scenarios import Scenario, ScenarioParams

EXIT_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A Gy/Ro client simulator: data, voice and SMS scenarios, real gateway quirks, load.",
)


@app.callback()
def _root() -> None:
    """ocs-sim: play the host network's gateways against an OCS."""


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        _fail(f"--target must be HOST:PORT, got {text!r}", EXIT_USAGE)
    return host.strip("[]"), int(port)


def _msisdns(given: list[str], ranges: list[str]) -> tuple[str, ...]:
    numbers = list(given)
    for text in ranges:
        start, sep, count = text.partition(":")
        if not sep or not start.isdigit() or not count.isdigit() or int(count) < 1:
            _fail(f"--msisdn-range must be FIRST:COUNT, got {text!r}", EXIT_USAGE)
        width = len(start)
        numbers += [str(int(start) + k).zfill(width) for k in range(int(count))]
    for number in numbers:
        if not number.isdigit() or not 5 <= len(number) <= 15:
            _fail(f"{number!r} is not an E.164 MSISDN (digits only)", EXIT_USAGE)
    if not numbers:
        _fail("give at least one --msisdn or --msisdn-range", EXIT_USAGE)
    return tuple(numbers)


def _price(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = parse_amount(text)
    except ValueError as exc:
        _fail(f"{option}: {exc}", EXIT_USAGE)
    if value < 0:
        _fail(f"{option} must not be negative", EXIT_USAGE)
    return value


def _print_report(report: Report, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_json(), separators=(",", ":")))
        return
    s = report.summary
    lat = s["latency_ms"]
    typer.echo(
        f"{s['answered']}/{s['sent']} answered in {s['elapsed_s']} s: "
        f"{s['throughput_per_s']} CCR/s, errors {s['errors']}"
    )
    typer.echo(
        f"latency ms: p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} "
        f"p99.9 {lat['p99.9']} max {lat['max']}"
    )
    sessions = s["sessions"]
    typer.echo(
        f"sessions: {sessions['started']} started, {sessions['completed']} completed, "
        f"{sessions['failed']} failed; RAR {s['rar']}, ASR {s['asr']}"
    )
    typer.echo(f"Result-Codes: {s['result_codes']}  MSCC: {s['mscc_result_codes']}")
    if s["failures"]:
        typer.echo(f"session failures: {s['failures']}")
    for msisdn, row in report.balances.items():
        typer.echo(f"balance {msisdn}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    for problem in report.problems:
        typer.echo(f"problem: {problem}")
    typer.echo("verify: OK" if report.ok else "FAILED")


@app.command()
def profiles() -> None:
    """List the client profiles and what each reproduces."""
    for name, p in PROFILES.items():
        typer.echo(
            f"{name:<9} rating-group-in-MSCC={p.rating_group_in_mscc} "
            f"MSI={p.multiple_services_indicator} in-flight={p.max_in_flight} "
            f"answers-RAR={p.answers_rar} number-zero={p.request_number_zero} "
            f"voice-interim={p.voice_interim}s"
        )


@app.command()
def run(
    target: Annotated[str, typer.Option("--target", metavar="HOST:PORT", help="The OCS.")],
    scenario: Annotated[Scenario, typer.Option("--scenario")] = Scenario.DATA,
    profile: Annotated[
        str, typer.Option("--profile", help="rfc | open5gs | kamailio | pyhss")
    ] = "rfc",
    msisdn: Annotated[
        list[str] | None, typer.Option("--msisdn", help="Subscriber (repeatable).")
    ] = None,
    msisdn_range: Annotated[
        list[str] | None,
        typer.Option("--msisdn-range", metavar="FIRST:COUNT", help="Consecutive MSISDNs."),
    ] = None,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="Sessions open at once.")] = 10,
    count: Annotated[
        int, typer.Option("--count", min=0, help="Sessions in all (0: until --duration).")
    ] = 0,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Open loop: CCR/s at fixed intended times.")
    ] = None,
    in_flight: Annotated[
        int | None, typer.Option("--in-flight", min=1, help="Closed loop: CCRs in flight.")
    ] = None,
    duration: Annotated[float, typer.Option("--duration", help="Seconds (a hard bound).")] = 10.0,
    connections: Annotated[int, typer.Option("--connections", min=1, max=1000)] = 1,
    max_requests: Annotated[int, typer.Option("--max-requests", min=1)] = 10_000_000,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per CCR (Tx).")] = 5.0,
    updates: Annotated[int, typer.Option("--updates", min=0, help="Data: CCR-Us.")] = 3,
    usage_octets: Annotated[
        int, typer.Option("--usage-octets", min=0, help="Data: octets per interim.")
    ] = 1_000_000,
    requested_octets: Annotated[
        int | None, typer.Option("--requested-octets", min=1, help="Data RSU (default empty).")
    ] = None,
    rating_group: Annotated[
        list[int] | None, typer.Option("--rating-group", help="Data rating groups (repeatable).")
    ] = None,
    call_seconds: Annotated[int, typer.Option("--call-seconds", min=1)] = 90,
    interim: Annotated[
        int | None, typer.Option("--interim", min=1, help="Voice interim s (profile default).")
    ] = None,
    sms_count: Annotated[int, typer.Option("--sms-count", min=1)] = 1,
    overrun: Annotated[
        int, typer.Option("--overrun", min=0, help="Units reported beyond the grant, once.")
    ] = 0,
    rar_wait: Annotated[
        float,
        typer.Option("--rar-wait", min=0, help="Seconds a session out of credit waits for RAR."),
    ] = 0.0,
    verify: Annotated[bool, typer.Option("--verify", help="Check answers and balances.")] = False,
    price_per_mb: Annotated[str | None, typer.Option("--price-per-mb", metavar="AMOUNT")] = None,
    price_per_minute: Annotated[
        str | None, typer.Option("--price-per-minute", metavar="AMOUNT")
    ] = None,
    price_per_sms: Annotated[str | None, typer.Option("--price-per-sms", metavar="AMOUNT")] = None,
    octet_increment: Annotated[int, typer.Option("--octet-increment", min=1)] = 1000,
    first_interval: Annotated[int, typer.Option("--first-interval", min=1)] = 60,
    next_interval: Annotated[int, typer.Option("--next-interval", min=1)] = 60,
    rounding: Annotated[Rounding, typer.Option("--rounding")] = Rounding.SESSION,
    balance_cmd: Annotated[
        str,
        typer.Option(
            "--balance-cmd",
            help="Operator command printing an account as JSON ({msisdn} substituted); "
            "'' skips the balance check.",
        ),
    ] = DEFAULT_COMMAND,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, last line.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress line.")] = False,
) -> None:
    """Run a scenario: functional (--count, --verify) or load (--rate or --in-flight)."""
    host, port = _target(target)
    if profile not in PROFILES:
        _fail(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})", EXIT_USAGE)
    if rate is not None and in_flight is not None:
        _fail("--rate (open loop) and --in-flight (closed loop) exclude each other", EXIT_USAGE)
    numbers = _msisdns(msisdn or [], msisdn_range or [])
    prices = PriceTable(
        per_mb=_price(price_per_mb, "--price-per-mb"),
        per_minute=_price(price_per_minute, "--price-per-minute"),
        per_sms=_price(price_per_sms, "--price-per-sms"),
        octet_increment=octet_increment,
        first_interval=first_interval,
        next_interval=next_interval,
        rounding=rounding,
    )
    money_moves = scenario not in (Scenario.BALANCE, Scenario.PRICE)
    needed = {
        Scenario.DATA: prices.per_mb,
        Scenario.VOICE: prices.per_minute,
        Scenario.SMS: prices.per_sms,
        Scenario.REFUND: prices.per_sms,
    }
    if verify and money_moves and needed[scenario] is None:
        _fail(
            "--verify needs the tariff's price for this scenario "
            "(--price-per-mb, --price-per-minute or --price-per-sms)",
            EXIT_USAGE,
        )
    try:
        params = ScenarioParams(
            updates=updates,
            usage_octets=usage_octets,
            requested_octets=requested_octets,
            rating_groups=tuple(rating_group or (1,)),
            call_seconds=call_seconds,
            interim_seconds=interim,
            sms_count=sms_count,
            overrun=overrun,
            rar_wait=rar_wait,
        )
        config = RunConfig(
            host=host,
            port=port,
            scenario=scenario,
            profile=PROFILES[profile],
            msisdns=numbers,
            params=params,
            sessions=sessions,
            count=count,
            rate=rate,
            in_flight=in_flight,
            duration=duration,
            max_requests=max_requests,
            connections=connections,
            verify=verify,
            prices=prices,
            timeout=timeout,
        )
        reader = CommandBalances(balance_cmd) if verify and balance_cmd else None
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)

    # The peer layer logs connection events at INFO/WARNING; a CLI user wants the report.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    def progress(line: str) -> None:
        end = "\r" if sys.stderr.isatty() else "\n"
        sys.stderr.write(line + end)
        sys.stderr.flush()

    try:
        report = trio.run(
            lambda: simulate(config, balances=reader, progress=None if quiet else progress)
        )
    except OSError as exc:
        _fail(f"cannot reach the OCS at {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
    except PeerClosedError as exc:
        _fail(f"the OCS closed the connection: {exc}", EXIT_FAILED)
    except BalanceError as exc:
        _fail(f"reading a balance: {exc}", EXIT_FAILED)
    _print_report(report, as_json=as_json)
    failed = (
        (verify and not report.ok) or report.summary["errors"] or not report.summary["answered"]
    )
    if failed:
        raise typer.Exit(EXIT_FAILED)


def main() -> None:
    app()
