"""An in-process OCS on 127.0.0.1:0 (tests/e2e/conftest) and helpers to run the simulator
against it. Tests may import ocs/storage; the simulator itself may not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ocs.app import Bound
from ocs.cli import app as ocs_cli
from simulator.driver import RunConfig, Runner
from simulator.pricing import PriceTable
from simulator.profiles import PROFILES
from simulator.scenarios import Scenario, ScenarioParams
from tests.e2e.conftest import init_db, ocs_config, running_ocs

#: the demo tariff (ocs/demo-tariffs.toml) as the simulator reads it off the tariff sheet
DEMO_PRICES = PriceTable(
    per_mb=Decimal("0.01"), per_minute=Decimal("0.05"), per_sms=Decimal("0.05")
)
PREPAID = "491700000001"  # demo prepaid accounts with 10.00 EUR
PREPAID_2 = "491700000002"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return init_db(tmp_path)


@asynccontextmanager
async def ocs(db_url: str, **credit: Any) -> AsyncIterator[Bound]:
    config = ocs_config(db_url)
    if credit:
        config = replace(config, credit=replace(config.credit, **credit))
    async with running_ocs(config) as bound:
        yield bound


def sim_config(bound: Bound, **options: Any) -> RunConfig:
    host, port = bound.diameter[0]
    params = options.pop("params", ScenarioParams())
    defaults: dict[str, Any] = {
        "scenario": Scenario.DATA,
        "profile": PROFILES["rfc"],
        "msisdns": (PREPAID,),
        "sessions": 2,
        "count": 4,
        "duration": 20.0,
        "timeout": 5.0,
        "verify": True,
        "prices": DEMO_PRICES,
    }
    defaults.update(options)
    return RunConfig(host=host, port=port, params=params, **defaults)


async def run_sim(bound: Bound, **options: Any) -> Runner:
    runner = Runner(sim_config(bound, **options))
    await runner.run()
    return runner


class CliBalances:
    """A BalanceReader over `ocs account show --json`, in process (typer's CliRunner)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def balance(self, msisdn: str) -> Decimal:
        result = CliRunner().invoke(
            ocs_cli, ["account", "show", msisdn, "--db", self.db_url, "--json"]
        )
        assert result.exit_code == 0, result.output
        return Decimal(json.loads(result.stdout)["balance"])
