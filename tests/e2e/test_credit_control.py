"""A data session end to end over loopback: grants, debits, durable balances."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ocs.cli import app as cli
from protocol.cc_client import MsccRequest, parse_cca
from protocol.codes import CcRequestType, ResultCode
from protocol.units import ServiceUnits

from .conftest import MSISDN, gateway, ocs_config, running_ocs

MB = 1_000_000


async def test_data_session_is_granted_and_charged(any_db_url: str) -> None:
    config = ocs_config(any_db_url)
    async with running_ocs(config) as bound, gateway(bound) as gw:
        sid = "pgw.test;1;1"
        cca = parse_cca(
            await gw.ask(
                gw.ccr(sid, CcRequestType.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=10)])
            )
        )
        assert cca.result_code == ResultCode.DIAMETER_SUCCESS
        (mscc,) = cca.multiple_services_credit_control
        assert mscc.result_code == ResultCode.DIAMETER_SUCCESS
        assert (
            mscc.granted is not None
            and mscc.granted.total_octets == config.credit.quota.data_octets
        )
        used = ServiceUnits(total_octets=5 * MB)
        cca = parse_cca(
            await gw.ask(
                gw.ccr(
                    sid,
                    CcRequestType.UPDATE_REQUEST,
                    1,
                    msccs=[MsccRequest(rating_group=10, used=(used,))],
                )
            )
        )
        assert cca.result_code == ResultCode.DIAMETER_SUCCESS
        cca = parse_cca(
            await gw.ask(
                gw.ccr(
                    sid,
                    CcRequestType.TERMINATION_REQUEST,
                    2,
                    msccs=[MsccRequest(rating_group=10, requested=None, used=(used,))],
                )
            )
        )
        assert cca.result_code == ResultCode.DIAMETER_SUCCESS
        server = bound.server
        account = server.book.ledger.account(server.book.directory.by_msisdn(MSISDN).account_id)  # type: ignore[union-attr]
        assert account.reserved == 0
        # two reports of 5 MB at 0.01 EUR/MB, each charged exactly once
        assert account.balance == 10_000_000 - 100_000
    shown = CliRunner().invoke(cli, ["account", "show", MSISDN, "--db", any_db_url, "--json"])
    assert json.loads(shown.output)["balance"] == "9.90"
