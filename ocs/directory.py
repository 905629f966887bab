"""Who a subscriber is: MSISDN/IMSI to account, and the account's tariff plan.

What lives here: `Subscriber` (an account's identifiers, product, plan and currency)
and `Directory`, the in-memory index the charging logic reads on every CCR. What must
not: balances (the ledger owns them) or SQL (built by `persist` from loaded rows).
"""

from __future__ import annotations

from dataclasses import dataclass

from rating.money import Currency
from rating.tariff import TariffPlan


@dataclass(slots=True)
class Subscriber:
    account_id: int
    msisdn: str
    imsi: str | None
    product: str
    plan: TariffPlan
    currency: Currency


def normalise_msisdn(text: str) -> str:
    """Subscription-Id-Data as gateways send it: strip "+", "tel:" and a "sip:" user part."""
    if text.startswith(("tel:", "sip:")):
        text = text[4:].split("@", 1)[0].split(";", 1)[0]
    return text.lstrip("+")


class Directory:
    def __init__(self) -> None:
        self._by_account: dict[int, Subscriber] = {}
        self._by_msisdn: dict[str, Subscriber] = {}
        self._by_imsi: dict[str, Subscriber] = {}

    def __len__(self) -> int:
        return len(self._by_account)

    def add(self, subscriber: Subscriber) -> None:
        """Add or replace (a product change replaces the plan)."""
        self.remove(subscriber.account_id)
        self._by_account[subscriber.account_id] = subscriber
        self._by_msisdn[subscriber.msisdn] = subscriber
        if subscriber.imsi:
            self._by_imsi[subscriber.imsi] = subscriber

    def remove(self, account_id: int) -> None:
        old = self._by_account.pop(account_id, None)
        if old is not None:
            self._by_msisdn.pop(old.msisdn, None)
            if old.imsi:
                self._by_imsi.pop(old.imsi, None)

    def account(self, account_id: int) -> Subscriber | None:
        return self._by_account.get(account_id)

    def by_msisdn(self, msisdn: str) -> Subscriber | None:
        return self._by_msisdn.get(msisdn) or self._by_msisdn.get(normalise_msisdn(msisdn))

    def by_imsi(self, imsi: str) -> Subscriber | None:
        return self._by_imsi.get(imsi)
