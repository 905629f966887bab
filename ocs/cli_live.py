"""``ocs session``, ``ocs peer`` and ``ocs status``: the running server's live state.

What lives here: the commands that ask a running ``ocs serve`` through its admin endpoint
(``ocs.admin``, line-delimited JSON on 127.0.0.1:admin_port) rather than the database:
open sessions and their reservations live in the OCS's memory, and peer connections
exist only there. What must not: anything that needs the database.

The port is ``--admin-port``, else ``OCS_ADMIN_PORT``, else the ``--config`` file's
``admin_port``, else 9465: the same precedence as ``ocs serve``, so passing the server's
config file finds it. Exit status 1 with one line when no server answers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ocs.admin import AdminClient, AdminError, AdminUnavailable
from ocs.cli import (
    ConfigOption,
    JsonOption,
    _Failure,
    _money,
    _print_fields,
    _print_json,
    _print_list,
    _reported,
    _usage,
    app,
)
from ocs.config import load_config

session_app = typer.Typer(
    no_args_is_help=True, help="Open credit-control sessions of the running OCS."
)
peer_app = typer.Typer(no_args_is_help=True, help="Diameter peers connected to the running OCS.")
app.add_typer(session_app, name="session")
app.add_typer(peer_app, name="peer")

AdminPortOption = Annotated[
    int | None,
    typer.Option(
        "--admin-port",
        metavar="PORT",
        show_default=False,
        help="The running OCS's admin port on 127.0.0.1 "
        "[default: OCS_ADMIN_PORT, the config file, else 9465]",
    ),
]


def _ask(config_file: Path | None, port: int | None, op: str, **arguments: object) -> Any:
    config = load_config(config_file, os.environ, {"admin_port": port})
    if config.admin_port == 0:
        _usage(
            "the admin endpoint is off (admin_port = 0): give the running server's "
            "--admin-port, or start it with one"
        )
    try:
        return AdminClient(config.admin_port).request(op, **arguments)
    except AdminUnavailable as e:
        raise _Failure(str(e)) from None
    except AdminError as e:
        raise _Failure(str(e)) from None


def _money_or_dash(micros: int, code: str | None) -> str:
    return f"{_money(micros, code)} {code}" if code else str(micros)


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


# --- sessions ------------------------------------------------------------------------------


@session_app.command("list")
def session_list(
    msisdn: Annotated[
        str | None, typer.Option("--msisdn", metavar="MSISDN", help="Only this account's.")
    ] = None,
    config_file: ConfigOption = None,
    admin_port: AdminPortOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the open sessions: subscriber, gateway, rating groups, money held."""
    with _reported():
        number = None if msisdn is None else msisdn.strip().removeprefix("+")
        sessions = _ask(config_file, admin_port, "sessions", msisdn=number)
        if as_json:
            for s in sessions:
                if s["currency"]:
                    s["reserved"] = _money(s["reserved_micros"], s["currency"])
        _print_list(
            "sessions",
            sessions,
            as_json,
            ["SESSION-ID", "MSISDN", "GATEWAY", "RG", "CCR#", "HELD", "EXPIRES", "EXHAUSTED"],
            lambda s: [
                s["session_id"],
                s["msisdn"],
                s["origin_host"] + ("" if s["peer_connected"] else " (gone)"),
                ",".join(map(str, s["rating_groups"])) or "-",
                s["last_request_number"],
                _money_or_dash(s["reserved_micros"], s["currency"]),
                _age(s["expires_in_s"]),
                ",".join(map(str, s["exhausted"])) or "-",
            ],
            empty="no open sessions" + (f" for {number}" if number else ""),
        )


@session_app.command("show")
def session_show(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID", help="The Session-Id.")],
    config_file: ConfigOption = None,
    admin_port: AdminPortOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one open session with its reservation per rating group."""
    with _reported():
        s = _ask(config_file, admin_port, "session", session_id=session_id)
        code = s["currency"]
        if as_json:
            if code:
                s["reserved"] = _money(s["reserved_micros"], code)
                for r in s["reservations"]:
                    r["reserved"] = _money(r["micros"], code)
            _print_json(s)
            return
        _print_fields(
            (
                ("session", s["session_id"]),
                ("MSISDN", s["msisdn"] or f"account {s['account_id']}"),
                ("gateway", s["origin_host"] + ("" if s["peer_connected"] else " (not connected)")),
                ("context", s["service_context_id"] or "-"),
                ("state", s["state"]),
                ("last CCR#", s["last_request_number"]),
                ("held", _money_or_dash(s["reserved_micros"], code)),
                ("Tcc expires", f"in {_age(s['expires_in_s'])}"),
                ("exhausted", ",".join(map(str, s["exhausted"])) or "-"),
            )
        )
        for r in s["reservations"]:
            group = "no rating group" if r["rating_group"] is None else f"rg {r['rating_group']}"
            buckets = ", ".join(f"bucket {b}: {n}" for b, n in r["bucket_units"].items())
            typer.echo(
                f"{'reservation':<14}{group}: {_money_or_dash(r['micros'], code)}, "
                f"{r['units_granted']} units granted" + (f", {buckets}" if buckets else "")
            )


@session_app.command("disconnect")
def session_disconnect(
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID", help="The Session-Id.")],
    release: Annotated[
        bool,
        typer.Option(
            "--release",
            help="Also free the session's reservations now, without waiting for the "
            "gateway's CCR-T (needed when the gateway is gone).",
        ),
    ] = False,
    config_file: ConfigOption = None,
    admin_port: AdminPortOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a session: the OCS sends Abort-Session-Request to its gateway.

    The gateway answers ASA and then reports the final usage with CCR-T, which is
    charged as usual. Exit status 1 if the gateway is not connected (unless --release)
    or refused the ASR.
    """
    with _reported():
        r = _ask(config_file, admin_port, "disconnect", session_id=session_id, release=release)
        if as_json:
            _print_json(r)
        else:
            if r["asr_sent"]:
                code = r["asa_result_code"]
                typer.echo(
                    f"ASR sent to {r['origin_host']} for {r['session_id']}: "
                    + ("no answer" if code is None else f"ASA Result-Code {code}")
                )
            if r["released"]:
                typer.echo(f"released the reservations of {r['session_id']}")
            elif r["still_open"]:
                typer.echo("the session stays open until the gateway's CCR-T (or Tcc)")
        if r["asr_sent"] and r["asa_result_code"] != 2001 and not r["released"]:
            raise _Failure(
                f"gateway {r['origin_host']} did not accept the ASR; retry, or add --release"
            )


# --- peers and status ----------------------------------------------------------------------


@peer_app.command("list")
def peer_list(
    config_file: ConfigOption = None,
    admin_port: AdminPortOption = None,
    as_json: JsonOption = False,
) -> None:
    """List connected peers: state, Origin-Host/Realm, Origin-State-Id, watchdog."""
    with _reported():
        peers = _ask(config_file, admin_port, "peers")
        _print_list(
            "peers",
            peers,
            as_json,
            [
                "ORIGIN-HOST",
                "REALM",
                "STATE",
                "ADDRESS",
                "ORIGIN-STATE-ID",
                "LAST TRAFFIC",
                "WATCHDOG",
                "SESSIONS",
            ],
            lambda p: [
                p["origin_host"],
                p["origin_realm"],
                p["state"],
                p["address"],
                p["origin_state_id"],
                f"{_age(p['last_traffic_s'])} ago",
                "DWR sent, awaiting DWA"
                if p["dwr_pending"]
                else f"ok, next DWR in {_age(p['next_watchdog_s'])}",
                p["sessions"],
            ],
            empty="no peers connected",
        )


@app.command("status")
def status(
    config_file: ConfigOption = None,
    admin_port: AdminPortOption = None,
    as_json: JsonOption = False,
) -> None:
    """Is the OCS running? Its identity, load and storage health, from the admin endpoint."""
    with _reported():
        s = _ask(config_file, admin_port, "status")
        if as_json:
            _print_json(s)
            return
        _print_fields(
            (
                ("OCS", f"{s['origin_host']} ({s['origin_realm']}), up {s['uptime_s']:.0f} s"),
                ("Origin-State", s["origin_state_id"]),
                ("accounts", s["accounts"]),
                ("sessions", s["sessions"]),
                ("peers open", s["peers_open"]),
                ("held", f"{s['reserved_micros']} micro-units (all currencies)"),
                ("storage", f"{s['storage']}, {s['queued_rows']} rows waiting for commit"),
                ("events", f"applied up to event {s['event_cursor']}"),
            )
        )
