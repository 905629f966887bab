"""The sans-IO scenarios with hand-made answers: what a real gateway sends next."""

from __future__ import annotations

from protocol.cc_client import CreditControlAnswer, MsccResult
from protocol.codes import CcRequestType, FinalUnitAction, ReportingReason
from protocol.units import ServiceUnits
from simulator.profiles import PROFILES
from simulator.scenarios import CcrPlan, ScenarioParams, UnitSession

T = CcRequestType
MB = 1_000_000


def cca(plan: CcrPlan, *msccs: MsccResult, code: int = 2001) -> CreditControlAnswer:
    return CreditControlAnswer(
        "s", code, "ocs", "realm", 4, plan.request_type, plan.number, tuple(msccs)
    )


def grant(octets: int, **extra: object) -> MsccResult:
    return MsccResult(1, 2001, (), ServiceUnits(total_octets=octets), **extra)  # type: ignore[arg-type]


def data(profile: str = "rfc", **params: object) -> UnitSession:
    return UnitSession(
        session_id="s",
        msisdn="491700000001",
        profile=PROFILES[profile],
        params=ScenarioParams(**params),  # type: ignore[arg-type]
        voice=False,
    )


def test_data_session_reports_within_grants_and_gives_reasons() -> None:
    s = data(updates=3, usage_octets=4 * MB)
    (first,) = s.pending()
    assert first.request_type is T.INITIAL_REQUEST and first.number == 0
    s.answered(first, cca(first, grant(10 * MB, volume_quota_threshold=2 * MB)))
    (u1,) = s.pending()
    assert u1.used == {1: 4 * MB} and u1.msccs[0].reporting_reason is None
    s.answered(u1, cca(u1, grant(5 * MB, volume_quota_threshold=1 * MB)))
    (u2,) = s.pending()
    assert u2.used == {1: 4 * MB}
    assert u2.msccs[0].reporting_reason == ReportingReason.THRESHOLD
    s.answered(u2, cca(u2, grant(3 * MB)))
    (u3,) = s.pending()
    # only 3 MB were granted: the gateway reports no more, and says the quota ran out
    assert u3.used == {1: 3 * MB}
    assert u3.msccs[0].reporting_reason == ReportingReason.QUOTA_EXHAUSTED
    s.answered(u3, cca(u3, grant(10 * MB)))
    (t,) = s.pending()
    assert t.request_type is T.TERMINATION_REQUEST and t.msccs[0].requested is None
    s.answered(t, cca(t))
    assert s.done and s.failed is None
    assert s.reports() == {1: [4 * MB, 4 * MB, 3 * MB, 4 * MB]}


def test_final_unit_terminate_ends_with_ccr_t() -> None:
    s = data(updates=5, usage_octets=2 * MB)
    (i,) = s.pending()
    s.answered(i, cca(i, grant(3 * MB, final_unit_action=FinalUnitAction.TERMINATE)))
    (u,) = s.pending()
    assert u.request_type is T.UPDATE_REQUEST and u.used == {1: 2 * MB}
    s.answered(u, cca(u, grant(1 * MB, final_unit_action=FinalUnitAction.TERMINATE)))
    (t,) = s.pending()
    assert t.request_type is T.TERMINATION_REQUEST and t.used == {1: 1 * MB}
    assert t.msccs[0].reporting_reason == ReportingReason.FINAL


def test_credit_limit_parks_until_rar_then_reauthorizes() -> None:
    s = data(updates=2, rar_wait=5.0)
    (i,) = s.pending()
    s.answered(i, cca(i, MsccResult(1, 4012)))
    waiting = s.pending() == [] and s.parked
    assert waiting
    assert s.on_rar() == 2002
    (u,) = s.pending()  # unparked by the RAR
    assert u.request_type is T.UPDATE_REQUEST and u.used == {}
    assert u.msccs[0].reporting_reason == ReportingReason.FORCED_REAUTHORISATION
    assert u.msccs[0].requested is not None


def test_parked_session_without_rar_terminates_and_asr_aborts() -> None:
    s = data(updates=2, rar_wait=5.0)
    (i,) = s.pending()
    s.answered(i, cca(i, MsccResult(1, 4012)))
    assert s.pending() == []
    s.wake()
    (t,) = s.pending()
    assert t.request_type is T.TERMINATION_REQUEST
    s2 = data(updates=2)
    (i2,) = s2.pending()
    s2.answered(i2, cca(i2, grant(MB)))
    assert s2.on_asr() == 2001
    (t2,) = s2.pending()
    assert t2.request_type is T.TERMINATION_REQUEST and t2.used == {}


def test_open5gs_pipelines_without_rating_group_and_pyhss_numbers_zero() -> None:
    s = data("open5gs", updates=6, usage_octets=MB)
    (i,) = s.pending()
    assert i.msccs[0].rating_group is None
    s.answered(i, cca(i, MsccResult(None, 2001, (), ServiceUnits(total_octets=10 * MB))))
    batch = s.pending()
    assert len(batch) == 4 and [p.number for p in batch] == [1, 2, 3, 4]
    # the first answer's fresh grant is reduced by what the three later CCRs already used
    s.answered(
        batch[0], cca(batch[0], MsccResult(None, 2001, (), ServiceUnits(total_octets=4 * MB)))
    )
    assert s.rgs[-1].credit == 1 * MB
    p = data("pyhss", updates=2)
    numbers = []
    while not p.done:
        for plan in p.pending():
            numbers.append(plan.number)
            p.answered(plan, cca(plan, grant(10 * MB)))
    assert numbers == [0, 0, 0, 0]


def test_overrun_is_deliberate_and_once() -> None:
    s = data(updates=2, usage_octets=MB, overrun=50 * MB)
    (i,) = s.pending()
    s.answered(i, cca(i, grant(10 * MB)))
    (u,) = s.pending()
    assert u.used == {1: 51 * MB}
    s.answered(u, cca(u, grant(10 * MB)))
    (u2,) = s.pending()
    assert u2.used == {1: MB}
