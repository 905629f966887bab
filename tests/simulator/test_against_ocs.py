"""Every scenario and profile against an in-process OCS, in verify mode: answers checked,
balances compared with what the demo tariff says the traffic cost."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
import trio

from simulator.app import simulate
from simulator.driver import Runner
from simulator.pricing import Rounding
from simulator.profiles import PROFILES
from simulator.scenarios import Scenario, ScenarioParams
from storage.db import create_engine, write_transaction
from storage.events import set_status, topup
from storage.records import AccountStatus

from .conftest import DEMO_PRICES, PREPAID, PREPAID_2, CliBalances, ocs, sim_config

MB = 1_000_000


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_every_scenario_verifies(db_url: str, profile: str) -> None:
    balances = CliBalances(db_url)
    async with ocs(db_url) as bound:
        for scenario in Scenario:
            if (profile, scenario) == ("pyhss", Scenario.DATA):
                continue  # see test_pyhss_equal_updates_are_each_charged
            config = sim_config(bound, scenario=scenario, profile=PROFILES[profile], count=3)
            report = await simulate(config, balances=balances)
            assert report.ok, (scenario, report.problems, report.summary)
            summary = report.summary
            assert summary["sessions"] == {"started": 3, "completed": 3, "failed": 0}
            row = report.balances[PREPAID]
            assert Decimal(row["charged"]) == Decimal(row["expected"])
            if scenario in (Scenario.DATA, Scenario.VOICE):
                assert summary["requests_by_type"]["TERMINATION_REQUEST"] == 3


async def test_pyhss_equal_updates_are_each_charged(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(bound, profile=PROFILES["pyhss"], count=1)
        report = await simulate(config, balances=CliBalances(db_url))
        assert report.ok, report.problems


async def test_open5gs_sends_four_in_flight_without_rating_group(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            profile=PROFILES["open5gs"],
            params=ScenarioParams(updates=8, usage_octets=500_000),
            count=2,
        )
        report = await simulate(config, balances=CliBalances(db_url))
        assert report.ok, report.problems
        assert report.summary["requests_by_type"]["UPDATE_REQUEST"] == 16


async def test_kamailio_interims_every_30_s_cost_the_call_not_three_minutes(db_url: str) -> None:
    """A 90 s call in three 30 s interims on a per-started-minute tariff costs two
    minutes (0.10 EUR): the OCS rates time per call, not per interim report."""
    async with ocs(db_url) as bound:
        per_report = sim_config(bound, scenario=Scenario.VOICE, profile=PROFILES["kamailio"])
        report = await simulate(replace(per_report, count=1), balances=CliBalances(db_url))
        assert report.ok, report.problems
        assert report.balances[PREPAID]["charged"] == "0.1"
        per_call = replace(
            per_report, count=1, prices=replace(DEMO_PRICES, rounding=Rounding.SESSION)
        )
        report = await simulate(per_call, balances=CliBalances(db_url))
        assert report.ok, report.problems


async def test_verify_catches_a_wrong_price_and_passes_the_right_one(db_url: str) -> None:
    async with ocs(db_url) as bound:
        right = sim_config(bound, scenario=Scenario.SMS, count=2)
        assert (await simulate(right, balances=CliBalances(db_url))).ok
        wrong = replace(right, prices=replace(DEMO_PRICES, per_sms=Decimal("0.04")))
        report = await simulate(wrong, balances=CliBalances(db_url))
        assert not report.ok
        assert report.problems == [
            f"{PREPAID}: balance moved by 0.1, the tariff says 0.08 (difference 0.02)"
        ]
        data = sim_config(bound, count=1, prices=replace(DEMO_PRICES, per_mb=Decimal("0.011")))
        assert not (await simulate(data, balances=CliBalances(db_url))).ok


async def test_price_enquiry_checks_cost_information(db_url: str) -> None:
    async with ocs(db_url) as bound:
        wrong = sim_config(
            bound,
            scenario=Scenario.PRICE,
            count=1,
            prices=replace(DEMO_PRICES, per_sms=Decimal("0.06")),
        )
        report = await simulate(wrong)
        assert any("Cost-Information 0.05 != expected 0.06" in p for p in report.problems)


async def _parked(runner: Runner) -> None:
    with trio.fail_after(10):
        await runner.parked.wait()


async def test_rar_after_topup_reopens_an_exhausted_session(db_url: str) -> None:
    # The first CCR-U overruns by 1000 MB (10 EUR): the account is dry, the rating group
    # gets 4012 and the session waits for a RAR; the top-up brings it.
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            msisdns=(PREPAID_2,),
            count=1,
            sessions=1,
            params=ScenarioParams(updates=3, overrun=1000 * MB, rar_wait=10.0),
        )
        runner = Runner(config)
        reports = []
        async with trio.open_nursery() as nursery:

            async def run() -> None:
                reports.append(await simulate(config, balances=CliBalances(db_url), runner=runner))

            nursery.start_soon(run)
            await _parked(runner)

            def credit() -> None:
                with write_transaction(create_engine(db_url)) as conn:
                    topup(conn, PREPAID_2, 20_000_000, "sim-test-topup")

            await trio.to_thread.run_sync(credit)
        (report,) = reports
        stats = runner.stats
        assert stats.rar == 1
        assert stats.sessions_completed == 1, stats.summary()
        assert stats.mscc_result_codes[4012] == 1
        assert stats.problem_count == 0, stats.problems
        # after the RAR: a CCR-U that gets a grant, the remaining interims, the CCR-T
        assert stats.by_type["UPDATE_REQUEST"] >= 3
        assert runner.expected is not None
        # 1 MB + the 1000 MB overrun, then two more interims and the CCR-T of 1 MB each
        assert runner.expected.by_msisdn[PREPAID_2] == Decimal("10.04")
        # the top-up shows in the balance too: 10 + 20 - 10.04
        assert report.balances[PREPAID_2]["after"] == "19.96"
        # verify knows nothing of the top-up: exactly its 20 EUR are unexplained
        assert report.problems == [
            f"{PREPAID_2}: balance moved by -9.96, the tariff says 10.04 (difference -20)"
        ]


async def test_open5gs_ignores_rar_and_ends_after_its_wait(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            profile=PROFILES["open5gs"],
            msisdns=(PREPAID_2,),
            count=1,
            sessions=1,
            # 4 CCR-Us in flight, the first overruns: all 4 get 4012, the session waits
            params=ScenarioParams(updates=8, overrun=1000 * MB, rar_wait=2.0),
        )
        runner = Runner(config)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.run)
            await _parked(runner)

            def credit() -> None:
                with write_transaction(create_engine(db_url)) as conn:
                    topup(conn, PREPAID_2, 20_000_000, "sim-test-topup-2")

            await trio.to_thread.run_sync(credit)
        assert runner.stats.rar >= 1
        assert runner.stats.by_type["TERMINATION_REQUEST"] == 1
        assert runner.stats.by_type["UPDATE_REQUEST"] == 4  # no re-authorization


async def test_asr_on_block_ends_the_session_with_ccr_t(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            msisdns=(PREPAID_2,),
            count=1,
            sessions=1,
            params=ScenarioParams(updates=3, overrun=1000 * MB, rar_wait=10.0),
        )
        runner = Runner(config)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.run)
            await _parked(runner)

            def block() -> None:
                with write_transaction(create_engine(db_url)) as conn:
                    set_status(conn, PREPAID_2, AccountStatus.BLOCKED, "sim-test-block")

            await trio.to_thread.run_sync(block)
        stats = runner.stats
        assert stats.asr == 1
        assert stats.by_type["TERMINATION_REQUEST"] == 1
        assert stats.sessions_completed == 1, stats.summary()


async def test_open_loop_load_counters(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            msisdns=("491700000001", "491700000002", "491700000003"),
            sessions=20,
            count=0,
            rate=300.0,
            duration=1.5,
            connections=3,
            verify=False,
        )
        report = await simulate(config)
        s = report.summary
        assert s["errors"] == 0 and s["answered"] == s["sent"]
        # 1.5 s at 300/s, plus the CCR-Ts that close the sessions in progress
        assert 300 <= s["sent"] <= 450 + 3 * 20
        assert s["latency_ms"]["p50"] is not None
        assert s["latency_ms"]["p50"] <= s["latency_ms"]["p99"] <= s["latency_ms"]["max"]
        assert s["sessions"]["failed"] == 0
        assert json.dumps(report.as_json())


async def test_closed_loop_load_counters(db_url: str) -> None:
    async with ocs(db_url) as bound:
        config = sim_config(
            bound,
            msisdns=("491700000001", "491700000002"),
            sessions=16,
            count=0,
            in_flight=8,
            duration=1.0,
            connections=2,
            verify=True,
        )
        lines: list[str] = []
        report = await simulate(config, balances=CliBalances(db_url), progress=lines.append)
        assert report.ok, report.problems
        assert report.summary["answered"] > 50
        assert lines and "answered" in lines[0]
