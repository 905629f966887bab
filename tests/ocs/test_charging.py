"""Charger: the CCR logic against the demo tariff (0.01 EUR/MB in 1 KB steps, voice
0.05 EUR per started minute, SMS 0.05 EUR), with amounts worked out by hand."""

from __future__ import annotations

import pytest

from ocs.charging import Charger, FinalAction, Policy
from ocs.demo import DEMO_TARIFFS
from ocs.directory import Directory, Subscriber
from ocs.errors import AccountBlocked, RatingFailed, UnknownSession, UnknownSubscriber
from ocs.ledger import Account, Ledger
from ocs.sessions import SessionTable
from protocol.cc_client import MsccRequest, encode_ccr
from protocol.codec import decode_avps, decode_message
from protocol.codes import (
    AvpCode,
    CcRequestType,
    FinalUnitAction,
    RequestedAction,
    ResultCode,
    SubscriptionIdType,
)
from protocol.credit_control import CreditControlRequest, parse_ccr
from protocol.units import ServiceUnits
from rating.money import currency
from rating.plans import load_plans
from storage.records import AccountStatus, BucketKind

EUR = 1_000_000
MB = 1_000_000
WALL = 1_800_000_000.0  # 2027-01-15, inside the demo tariff's validity
T = CcRequestType


def charger(
    *accounts: tuple[int, str, int, int | None],
    policy: Policy | None = None,
    tariffs: str = DEMO_TARIFFS,
) -> Charger:
    catalog = load_plans(tariffs, "test.toml")
    ledger, directory = Ledger(), Directory()
    for account_id, msisdn, balance, credit_limit in accounts:
        ledger.add_account(Account(account_id, balance=balance, credit_limit=credit_limit))
        directory.add(
            Subscriber(account_id, msisdn, None, "demo", catalog.plan("demo"), currency("EUR"))
        )
    return Charger(
        ledger=ledger,
        sessions=SessionTable(),
        directory=directory,
        policy=policy or Policy(threshold_percent=20),
    )


def ccr(
    kind: CcRequestType,
    number: int,
    *,
    session: str = "gw;1",
    msisdn: str = "4917001",
    msccs: list[MsccRequest] | None = None,
    context: str = "32251@3gpp.org",
    action: RequestedAction | None = None,
    requested: ServiceUnits | None = None,
) -> CreditControlRequest:
    raw = encode_ccr(
        session_id=session,
        origin_host="gw.test",
        origin_realm="test",
        destination_realm="ocs",
        service_context_id=context,
        cc_request_type=kind,
        cc_request_number=number,
        hop_by_hop=1,
        end_to_end=1,
        subscription_ids=[(SubscriptionIdType.END_USER_E164, msisdn)],
        msccs=msccs if msccs is not None else [MsccRequest(rating_group=10)],
        requested_action=action,
        requested_service_unit=requested,
    )
    return parse_ccr(decode_message(raw))


def used(octets: int, *, again: bool = True) -> list[MsccRequest]:
    return [
        MsccRequest(
            rating_group=10,
            used=(ServiceUnits(total_octets=octets),),
            requested=ServiceUnits() if again else None,
        )
    ]


def test_initial_update_termination_charges_exactly_what_was_used() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    (mscc,) = out.msccs
    assert mscc.result_code == ResultCode.DIAMETER_SUCCESS
    assert mscc.granted == ServiceUnits(total_octets=10 * MB)  # the default quota
    assert (mscc.validity_time, mscc.volume_quota_threshold) == (3600, 2 * MB)
    assert mscc.final_unit_indication is None
    assert c.ledger.account(1).reserved == 100_000  # 10 MB x 0.01 EUR
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(5 * MB)), now=1, wall=WALL)
    assert out.msccs[0].granted == ServiceUnits(total_octets=10 * MB)
    assert c.ledger.account(1).balance == 10 * EUR - 50_000
    out = c.credit_control(
        ccr(T.TERMINATION_REQUEST, 2, msccs=used(1_500, again=False)), now=2, wall=WALL
    )
    # 1 500 octets = 2 started KB = 2 000 octets x 0.01 EUR/MB = 20 micro-EUR
    assert c.ledger.account(1).balance == 10 * EUR - 50_000 - 20
    assert c.ledger.account(1).reserved == 0
    assert len(c.sessions) == 0
    assert {k.rating_group for k in out.closed} == {10, -1}  # its rows go...
    assert [(r.rating_group, r.state, r.request_number) for r in out.sessions] == [(-2, "ended", 2)]


def test_the_last_grant_carries_fui_then_4012_without_fui() -> None:
    c = charger((1, "4917001", 30_000, None))  # 0.03 EUR buys 3 MB
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    (mscc,) = out.msccs
    assert mscc.granted == ServiceUnits(total_octets=3 * MB)
    assert mscc.final_unit_indication is not None
    assert mscc.final_unit_indication.action is FinalUnitAction.TERMINATE
    assert out.exhausted == [10]
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(3 * MB)), now=1, wall=WALL)
    (mscc,) = out.msccs
    assert mscc.result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED
    assert mscc.final_unit_indication is None and mscc.granted is None
    assert out.result_code == ResultCode.DIAMETER_SUCCESS  # 4012 stays at MSCC level
    assert c.ledger.account(1).balance == 0


def test_redirect_fui_and_rise_result_code_for_a_peer_profile() -> None:
    policy = Policy(
        final_action=FinalAction.REDIRECT,
        redirect_url="https://top.up/",
        rise_mscc_result_code=frozenset({"gw.test"}),
    )
    c = charger((1, "4917001", 0, None), policy=policy)
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    assert out.msccs[0].result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED
    assert out.result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED  # copied up for this peer
    c2 = charger((1, "4917001", 20_000, None), policy=policy)
    fui = (
        c2.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
        .msccs[0]
        .final_unit_indication
    )
    assert fui is not None and fui.action is FinalUnitAction.REDIRECT
    assert fui.redirect_server is not None and fui.redirect_server.address == "https://top.up/"


def test_overrun_is_charged_and_the_next_grant_fails() -> None:
    c = charger((1, "4917001", 100_000, None))  # exactly 10 MB
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(15 * MB)), now=1, wall=WALL)
    assert c.ledger.account(1).balance == -50_000  # the service was used: charged anyway
    assert any(p.overrun for p in out.postings)
    assert out.msccs[0].result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED


def test_postpaid_goes_down_to_its_credit_limit() -> None:
    c = charger((1, "4917001", 0, 50_000))  # 0.05 EUR of credit = 5 MB
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    assert out.msccs[0].granted == ServiceUnits(total_octets=5 * MB)


def test_no_rsu_debits_and_grants_nothing() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(MB, again=False)), now=1, wall=WALL)
    assert out.msccs[0].granted is None
    assert c.ledger.account(1).reserved == 0
    assert c.ledger.account(1).balance == 10 * EUR - 10_000


def test_open5gs_mscc_without_rating_group_is_the_default_group() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0, msccs=[MsccRequest()]), now=0, wall=WALL)
    assert out.msccs[0].rating_group is None
    assert out.msccs[0].granted == ServiceUnits(total_octets=10 * MB)
    assert out.sessions[0].rating_group == -1


def test_command_level_failures() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    with pytest.raises(UnknownSubscriber):
        c.credit_control(ccr(T.INITIAL_REQUEST, 0, msisdn="999"), now=0, wall=WALL)
    with pytest.raises(RatingFailed) as info:
        c.credit_control(ccr(T.INITIAL_REQUEST, 0, context="unknown@example"), now=0, wall=WALL)
    assert info.value.failed_avp is not None
    assert decode_avps(info.value.failed_avp)[0].code == AvpCode.SERVICE_CONTEXT_ID
    with pytest.raises(UnknownSession):
        c.credit_control(ccr(T.UPDATE_REQUEST, 1), now=0, wall=WALL)
    c.ledger.set_status(1, AccountStatus.BLOCKED)
    with pytest.raises(AccountBlocked):
        c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)


def test_block_during_a_session_charges_used_units_and_ends_it() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    c.ledger.set_status(1, AccountStatus.BLOCKED)
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(MB)), now=1, wall=WALL)
    assert out.result_code == ResultCode.DIAMETER_AUTHORIZATION_REJECTED
    assert c.ledger.account(1).balance == 10 * EUR - 10_000
    assert c.ledger.account(1).reserved == 0
    assert len(c.sessions) == 0


def test_termination_without_initial_is_still_charged() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    out = c.credit_control(
        ccr(T.TERMINATION_REQUEST, 5, msccs=used(2 * MB, again=False)), now=0, wall=WALL
    )
    assert out.result_code == ResultCode.DIAMETER_SUCCESS
    assert c.ledger.account(1).balance == 10 * EUR - 20_000


def test_a_rating_group_the_tariff_does_not_sell_is_4010() -> None:
    only_rg_10 = DEMO_TARIFFS.replace('price = "0.01"', 'price = "0.01"\nrating_group = 10', 1)
    c = charger((1, "4917001", 10 * EUR, None), tariffs=only_rg_10)
    out = c.credit_control(
        ccr(
            T.INITIAL_REQUEST, 0, msccs=[MsccRequest(rating_group=10), MsccRequest(rating_group=99)]
        ),
        now=0,
        wall=WALL,
    )
    assert [m.result_code for m in out.msccs] == [2001, 4010]


def test_tcc_expiry_releases_the_holds() -> None:
    c = charger((1, "4917001", 10 * EUR, None), policy=Policy(tcc=60))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    assert c.sessions.expired(59) == []
    (session,) = c.sessions.expired(61)
    out = c.expire(session, WALL)
    assert c.ledger.account(1).reserved == 0
    assert c.ledger.account(1).balance == 10 * EUR
    assert out.closed[-1].session_id == "gw;1"


def test_voice_is_rated_per_started_minute() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    c.credit_control(
        ccr(T.INITIAL_REQUEST, 0, context="32260@3gpp.org", msccs=[MsccRequest()]), now=0, wall=WALL
    )
    voice = [MsccRequest(used=(ServiceUnits(time=61),), requested=None)]
    c.credit_control(
        ccr(T.TERMINATION_REQUEST, 1, context="32260@3gpp.org", msccs=voice), now=1, wall=WALL
    )
    assert c.ledger.account(1).balance == 10 * EUR - 100_000  # 2 started minutes x 0.05


def sms(action: RequestedAction, session: str = "sms;1") -> CreditControlRequest:
    one = [MsccRequest(requested=ServiceUnits(service_specific=1))]
    return ccr(
        T.EVENT_REQUEST, 0, session=session, context="32274@3gpp.org", action=action, msccs=one
    )


def check_balance_result(extra: bytes) -> int:
    (result,) = [a for a in decode_avps(extra) if a.code == AvpCode.CHECK_BALANCE_RESULT]
    return int.from_bytes(result.data, "big")


def test_sms_event_direct_debit_all_or_nothing() -> None:
    c = charger((1, "4917001", 60_000, None))
    out = c.credit_control(sms(RequestedAction.DIRECT_DEBITING), now=0, wall=WALL)
    assert out.msccs[0].granted == ServiceUnits(service_specific=1)
    assert c.ledger.account(1).balance == 10_000
    out = c.credit_control(sms(RequestedAction.DIRECT_DEBITING, "sms;2"), now=0, wall=WALL)
    assert out.msccs[0].result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED
    assert out.result_code == ResultCode.DIAMETER_CREDIT_LIMIT_REACHED
    assert (c.ledger.account(1).balance, c.ledger.account(1).reserved) == (10_000, 0)


def test_check_balance_price_enquiry_and_refund() -> None:
    c = charger((1, "4917001", 40_000, None))
    check = c.credit_control(sms(RequestedAction.CHECK_BALANCE), now=0, wall=WALL)
    assert check_balance_result(check.extra) == 1  # NO_CREDIT: 0.04 EUR < 0.05 EUR
    assert c.ledger.account(1).reserved == 0
    enquiry = c.credit_control(sms(RequestedAction.PRICE_ENQUIRY), now=0, wall=WALL)
    (cost,) = [a for a in decode_avps(enquiry.extra) if a.code == AvpCode.COST_INFORMATION]
    unit_value = decode_avps(decode_avps(cost)[0])
    assert int.from_bytes(unit_value[0].data, "big", signed=True) == 5  # 5 x 10^-2 EUR
    refund = c.credit_control(sms(RequestedAction.REFUND_ACCOUNT), now=0, wall=WALL)
    assert refund.postings
    assert c.ledger.account(1).balance == 90_000
    check = c.credit_control(sms(RequestedAction.CHECK_BALANCE), now=0, wall=WALL)
    assert check_balance_result(check.extra) == 0  # ENOUGH_CREDIT after the refund


def test_bucket_first_then_money() -> None:
    from ocs.buckets import Bucket

    c = charger((1, "4917001", 10 * EUR, None))
    c.ledger.add_bucket(1, Bucket(7, BucketKind.DATA, 4 * MB))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    c.credit_control(
        ccr(T.TERMINATION_REQUEST, 1, msccs=used(6 * MB, again=False)), now=1, wall=WALL
    )
    assert c.ledger.account(1).bucket(7).balance == 0
    assert c.ledger.account(1).balance == 10 * EUR - 20_000  # only 2 MB from money


def test_single_service_session_persists_its_own_rating_group() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    raw = encode_ccr(
        session_id="gw;single",
        origin_host="gw.test",
        origin_realm="test",
        destination_realm="ocs",
        service_context_id="32251@3gpp.org",
        cc_request_type=T.INITIAL_REQUEST,
        cc_request_number=0,
        hop_by_hop=1,
        end_to_end=1,
        subscription_ids=[(SubscriptionIdType.END_USER_E164, "4917001")],
        requested_service_unit=ServiceUnits(),
        extra=bytes.fromhex("000001b04000000c00000021"),  # Rating-Group 33 at command level
    )
    out = c.credit_control(parse_ccr(decode_message(raw)), now=0, wall=WALL)
    assert out.msccs == []  # single-service: the grant is at the command level
    assert any(a.code == AvpCode.GRANTED_SERVICE_UNIT for a in decode_avps(out.extra))
    assert [(row.rating_group, row.reserved) for row in out.sessions] == [(33, 100_000)]


def test_a_call_is_rated_once_per_call_not_once_per_interim_report() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    voice = "32260@3gpp.org"
    c.credit_control(
        ccr(T.INITIAL_REQUEST, 0, context=voice, msccs=[MsccRequest()]), now=0, wall=WALL
    )
    for number in (1, 2, 3):  # Kamailio: an interim every 30 s
        report = [MsccRequest(used=(ServiceUnits(time=30),))]
        c.credit_control(
            ccr(T.UPDATE_REQUEST, number, context=voice, msccs=report), now=number, wall=WALL
        )
    final = [MsccRequest(used=(ServiceUnits(time=0),), requested=None)]
    c.credit_control(ccr(T.TERMINATION_REQUEST, 4, context=voice, msccs=final), now=5, wall=WALL)
    # 90 s on a 60/60 tariff at 0.05 EUR/min is two started minutes: 0.10 EUR, not 0.15
    assert c.ledger.account(1).balance == 10 * EUR - 100_000
    assert c.ledger.account(1).reserved == 0


def test_the_grant_after_an_interim_is_priced_after_the_call_so_far() -> None:
    c = charger((1, "4917001", 75_000, None))  # 0.075 EUR: one minute and a half of credit
    voice = "32260@3gpp.org"
    out = c.credit_control(
        ccr(T.INITIAL_REQUEST, 0, context=voice, msccs=[MsccRequest()]), now=0, wall=WALL
    )
    assert out.msccs[0].granted == ServiceUnits(time=60)  # 0.05 buys the first minute
    report = [MsccRequest(used=(ServiceUnits(time=30),))]
    out = c.credit_control(ccr(T.UPDATE_REQUEST, 1, context=voice, msccs=report), now=1, wall=WALL)
    # 30 s charged = 0.05 (first started minute); 0.025 left buys nothing more than the
    # rest of the minute already paid for: 30 s, free of charge.
    assert c.ledger.account(1).balance == 25_000
    assert out.msccs[0].granted == ServiceUnits(time=30)


def test_two_msccs_of_one_rating_group_share_one_hold_and_one_answer() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    twice = [
        MsccRequest(rating_group=10, service_identifiers=(1,)),
        MsccRequest(rating_group=10, service_identifiers=(2,)),
    ]
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0, msccs=twice), now=0, wall=WALL)
    (mscc,) = out.msccs  # one answer MSCC per rating group
    assert mscc.service_identifiers == (1, 2)
    assert mscc.granted == ServiceUnits(total_octets=10 * MB)
    assert c.ledger.account(1).reserved == 100_000  # one hold, not two grants on one
    both_used = [
        MsccRequest(rating_group=10, used=(ServiceUnits(total_octets=MB),), requested=None),
        MsccRequest(rating_group=10, used=(ServiceUnits(total_octets=2 * MB),), requested=None),
    ]
    c.credit_control(ccr(T.TERMINATION_REQUEST, 1, msccs=both_used), now=1, wall=WALL)
    assert c.ledger.account(1).balance == 10 * EUR - 30_000


def test_retransmissions_the_caches_no_longer_hold_are_never_charged_again() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(MB)), now=1, wall=WALL)
    after_update = c.ledger.account(1).balance
    again = c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(MB)), now=2, wall=WALL)
    assert again.postings == [] and c.ledger.account(1).balance == after_update
    assert again.msccs[0].granted == ServiceUnits(total_octets=10 * MB)  # the hold as it stands
    c.credit_control(ccr(T.TERMINATION_REQUEST, 2, msccs=used(MB, again=False)), now=3, wall=WALL)
    final = c.ledger.account(1).balance
    repeat = c.credit_control(
        ccr(T.TERMINATION_REQUEST, 2, msccs=used(MB, again=False)), now=4, wall=WALL
    )
    assert repeat.postings == [] and c.ledger.account(1).balance == final
    # a later-numbered CCR-T for the ended session is new usage (e.g. after Tcc): charged
    c.credit_control(ccr(T.TERMINATION_REQUEST, 3, msccs=used(MB, again=False)), now=5, wall=WALL)
    assert c.ledger.account(1).balance == final - 10_000
    assert c.sessions.forget_ended(now=1_000) == ["gw;1"]


def test_data_increments_apply_to_the_session_not_to_each_report() -> None:
    c = charger((1, "4917001", 10 * EUR, None))
    c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    c.credit_control(ccr(T.UPDATE_REQUEST, 1, msccs=used(1_500)), now=1, wall=WALL)
    c.credit_control(
        ccr(T.TERMINATION_REQUEST, 2, msccs=used(1_500, again=False)), now=2, wall=WALL
    )
    # 3 000 octets in two reports of 1 500: three started KB (30 micro-EUR), not four
    assert c.ledger.account(1).balance == 10 * EUR - 30


def test_a_hold_spanning_two_buckets_is_persisted_whole() -> None:
    from ocs.buckets import Bucket
    from ocs.persist import _bucket_holds

    c = charger((1, "4917001", 10 * EUR, None))
    c.ledger.add_bucket(1, Bucket(7, BucketKind.DATA, 3 * MB, priority=0))
    c.ledger.add_bucket(1, Bucket(8, BucketKind.DATA, 20 * MB, priority=1))
    out = c.credit_control(ccr(T.INITIAL_REQUEST, 0), now=0, wall=WALL)
    (row,) = out.sessions
    assert row.bucket_holds == "7:3000000,8:7000000"
    assert _bucket_holds(row) == {7: 3 * MB, 8: 7 * MB}  # what a restart restores
