"""Verify mode's answer checks and the expected-cost account.

What lives here: `check_answer` (ids echoed, Result-Code expected, grants and Cost-
Information consistent) and `Expected` (what each MSISDN's balance should have moved by,
summed in Decimal from the usage the OCS accepted). What must not: I/O or the way balances
are read (`balances`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from protocol.cc_client import CreditControlAnswer
from protocol.codec import Message
from protocol.codes import ApplicationId, CcRequestType, RequestedAction, ResultCode

from .pricing import PriceTable
from .scenarios import CcrPlan, Session

_OK = frozenset({ResultCode.DIAMETER_SUCCESS, ResultCode.DIAMETER_LIMITED_SUCCESS})
#: MSCC codes a healthy run may see: success, and 4012 once an account runs dry
_MSCC_OK = frozenset({ResultCode.DIAMETER_SUCCESS, ResultCode.DIAMETER_CREDIT_LIMIT_REACHED})


def check_answer(
    plan: CcrPlan,
    *,
    session_id: str,
    end_to_end: int,
    answer: Message,
    cca: CreditControlAnswer,
    prices: PriceTable | None = None,
    units: int = 1,
) -> list[str]:
    """Every way ``answer`` fails to be the right answer to ``plan``; [] when it is."""
    problems: list[str] = []
    what = f"{session_id} {plan.request_type.name}#{plan.number}"
    if answer.end_to_end != end_to_end:
        problems.append(f"{what}: End-to-End {answer.end_to_end} != sent {end_to_end}")
    if cca.session_id != session_id:
        problems.append(f"{what}: Session-Id {cca.session_id!r} not echoed")
    if cca.cc_request_type != plan.request_type:
        problems.append(f"{what}: CC-Request-Type {cca.cc_request_type} not echoed")
    if cca.cc_request_number != plan.number:
        problems.append(f"{what}: CC-Request-Number {cca.cc_request_number} not echoed")
    if cca.auth_application_id != ApplicationId.DIAMETER_CREDIT_CONTROL:
        problems.append(f"{what}: Auth-Application-Id {cca.auth_application_id}")
    if cca.result_code not in _OK:
        problems.append(f"{what}: Result-Code {cca.result_code}")
        return problems
    asked = {m.rating_group for m in plan.msccs}
    for mscc in cca.multiple_services_credit_control:
        if mscc.result_code is not None and mscc.result_code not in _MSCC_OK:
            problems.append(f"{what}: MSCC {mscc.rating_group} Result-Code {mscc.result_code}")
        if mscc.rating_group not in asked:
            problems.append(f"{what}: MSCC for rating group {mscc.rating_group} not asked for")
        if plan.request_type is CcRequestType.TERMINATION_REQUEST and mscc.granted is not None:
            problems.append(f"{what}: a grant in the answer to CCR-T")
    if plan.requested_action is RequestedAction.PRICE_ENQUIRY and prices is not None:
        cost = cca.cost_information
        if cost is None:
            problems.append(f"{what}: no Cost-Information in the price enquiry answer")
        elif prices.per_sms is not None:
            value = Decimal(cost.value_digits).scaleb(cost.exponent)
            if value != prices.per_sms * units:
                problems.append(
                    f"{what}: Cost-Information {value} != expected {prices.per_sms * units}"
                )
    if plan.requested_action is RequestedAction.CHECK_BALANCE and cca.check_balance_result is None:
        problems.append(f"{what}: no Check-Balance-Result")
    return problems


@dataclass(slots=True)
class Expected:
    """The balance change each MSISDN should show: a debit is positive, a refund negative."""

    prices: PriceTable
    by_msisdn: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, session: Session) -> None:
        if not session.sign:
            self.by_msisdn.setdefault(session.msisdn, Decimal(0))
            return
        total = sum(
            (self.prices.cost(session.unit, reports) for reports in session.reports().values()),
            Decimal(0),
        )
        self.by_msisdn[session.msisdn] += session.sign * total
