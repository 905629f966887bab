"""The in-memory ledger: balances, unit buckets and open reservations, and their postings.

What lives here: ``Account`` (money balance in micro-units, reserved part, status,
prepaid floor 0 or postpaid floor ``-credit_limit``, unit buckets), ``Reservation`` (the
hold of one ``(session_id, rating_group)``; it holds the account object so a commit never
looks the account up again) and ``Ledger``, the single writer of all of it. What must not:
``await``, locks, the clock (callers pass ``now_us``), SQL, rating (prices come in as
callables), ``Decimal`` or float. DESIGN.md "The ledger and durability" is the contract.

Operations ``reserve``/``reserve_money``, ``commit``/``commit_money``, ``release`` and
``adjust`` are synchronous, so under trio each is atomic without locks, and all or
nothing: every input is checked and every price computed before the first balance
changes. Each returns the ``Posting`` records it produced, one per balance touched (the
money balance, or one bucket), with strictly increasing ``posting_id``. The ledger never
writes them: the group-commit writer makes them durable before the CCA that reports them
leaves.

Invariants (checked after every step by ``tests/ocs/test_ledger.py``), per account:

1. ``balance == initial + credits - committed debits``, and the sum of the ``amount`` of
   its money postings equals the balance change; same for every bucket, in units.
2. ``available == balance - reserved``; ``reserved`` equals the sum of the ``reserved`` of
   its money postings and the sum of ``micros`` over its open reservations; same for each
   bucket, and ``0 <= bucket.reserved <= bucket.balance``.
3. A reservation never takes ``available`` below the floor (0 prepaid, ``-credit_limit``
   postpaid). Only a posting with ``overrun=True`` can: a commit that charges more money
   than its hold held (the service was used; DESIGN.md overrun policy), or a negative
   ``adjust`` (an imported charge, a correction) that crosses the floor. While below the
   floor the account gets no money-priced grant (4012); buckets still serve, since they
   are paid for already.

Decisions:

- ``reserve`` on a key that already holds credit *tops up* the hold (same account
  required). That is what replaying RESERVE postings after a crash does anyway, and a
  hold cannot leak past Tcc because ``release`` frees all of it.
- ``commit`` charges the used units: the units held on buckets first (even if the bucket
  expired since the grant: they were granted while it was valid), then other usable
  buckets, then money for the rest through ``price_of``. By default it closes the
  reservation and frees whatever the charge did not use; ``keep_rest=True`` keeps the
  remainder held (interim reporting). Without a hold (a CCR-T whose CCR-I was lost) it
  needs ``account_id`` and charges all of it as an overrun.
- ``adjust`` is idempotent by ``cause``. The set of applied causes costs ~100 bytes per
  key (1 M top-ups ~ 100 MB); after a restart it is rebuilt from the ADJUST postings
  (``replay`` or ``load(applied_causes=...)``). Causes older than the account-event
  consumer's durable cursor can never be delivered again, so ``forget_causes`` may drop
  them.
- ``price_of`` prices only the units of the call at hand; a tariff that depends on what
  the session used before (a connection fee charged once, stepped rates) is the
  caller's closure. ``units_for`` must return units that ``price_of`` prices within the
  budget; the ledger checks that and refuses otherwise.
- Lowering a credit limit (``set_credit_limit``) may leave an account below its new
  floor without an overrun posting: no money moved. It then gets no grant, as in debt.

Size: this module passes the 450-line aim on purpose. The operations share the private
state (holds, counter, causes) and the invariants above; split by responsibility it
would spread one invariant over several files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from ocs.buckets import Bucket, plan_take, with_bucket
from rating.money import Micros
from storage.records import AccountStatus, BucketKind, Posting, PostingKind

#: ``price_of(units) -> micros``: the money price of units no bucket covers
PriceOf = Callable[[int], Micros]
#: ``units_for(budget) -> units``: the most units ``budget`` buys (``price_of`` of it <= budget)
UnitsFor = Callable[[Micros], int]

_RESERVE = PostingKind.RESERVE
_RELEASE = PostingKind.RELEASE
_COMMIT = PostingKind.COMMIT
_ADJUST = PostingKind.ADJUST


def new_posting(
    posting_id: int,
    account_id: int,
    kind: PostingKind,
    amount: int,
    reserved: int,
    bucket_id: int | None,
    session_id: str | None,
    rating_group: int | None,
    at_us: int,
    cause: str | None,
    overrun: bool,
) -> Posting:
    """A Posting, positionally: ``tuple.__new__`` skips NamedTuple's keyword handling."""
    return _new(
        Posting,
        (
            posting_id,
            account_id,
            kind,
            amount,
            reserved,
            bucket_id,
            session_id,
            rating_group,
            at_us,
            cause,
            overrun,
        ),
    )


_new = tuple.__new__


class LedgerError(Exception):
    """A call the ledger refuses: the caller's bug or an inconsistent input, never a
    business outcome (no credit is an empty grant, not an error)."""


class UnknownAccount(LedgerError, KeyError):
    """No account with that id is loaded."""


class UnknownReservation(LedgerError, KeyError):
    """A commit found no hold for the key and was given no account to charge."""


_ACTIVE = AccountStatus.ACTIVE


class Account:
    """One subscriber's balances. Mutated only by ``Ledger``; read freely."""

    __slots__ = ("account_id", "balance", "buckets", "credit_limit", "floor", "reserved", "status")

    def __init__(
        self,
        account_id: int,
        *,
        balance: Micros = 0,
        credit_limit: Micros | None = None,
        status: AccountStatus = _ACTIVE,
        buckets: Iterable[Bucket] = (),
    ) -> None:
        if credit_limit is not None and credit_limit < 0:
            raise ValueError(f"account {account_id}: negative credit limit")
        self.account_id = account_id
        self.balance = balance
        # Rebuilt from the open holds (reserve, restore_hold, replay), never loaded as a
        # number, so it always equals the sum over the holds.
        self.reserved: Micros = 0
        self.credit_limit = credit_limit  #: None = prepaid
        self.floor: Micros = 0 if credit_limit is None else -credit_limit
        self.status = status
        # A tuple kept in consumption order: most accounts have none, and () is shared.
        self.buckets: tuple[Bucket, ...] = ()
        for bucket in buckets:
            self.buckets = with_bucket(self.buckets, bucket)

    @property
    def prepaid(self) -> bool:
        return self.credit_limit is None

    @property
    def available(self) -> Micros:
        """``balance - reserved``: what a CHECK_BALANCE would report."""
        return self.balance - self.reserved

    @property
    def headroom(self) -> Micros:
        """What a new reservation may still take: ``available - floor`` (may be negative)."""
        return self.balance - self.reserved - self.floor

    def bucket(self, bucket_id: int) -> Bucket:
        for bucket in self.buckets:
            if bucket.bucket_id == bucket_id:
                return bucket
        raise LedgerError(f"account {self.account_id} has no bucket {bucket_id}")

    def __repr__(self) -> str:
        return (
            f"Account({self.account_id}, balance={self.balance}, reserved={self.reserved}, "
            f"floor={self.floor}, status={self.status.name}, buckets={len(self.buckets)})"
        )


class Reservation:
    """The open hold of one ``(session_id, rating_group)``."""

    __slots__ = ("account", "buckets", "granted", "micros", "rating_group", "session_id", "units")

    def __init__(self, account: Account, session_id: str, rating_group: int) -> None:
        self.account = account
        self.session_id = session_id
        self.rating_group = rating_group
        self.micros: Micros = 0  #: money held
        #: units held per bucket, in the order they were drawn; None until the first one
        self.buckets: dict[Bucket, int] | None = None
        self.units = 0  #: service units granted on this key so far (not rebuilt by replay)
        self.granted = 0  #: units granted by the latest ``reserve`` call (the GSU to send)

    def __repr__(self) -> str:
        held = {b.bucket_id: n for b, n in (self.buckets or {}).items()}
        return (
            f"Reservation({self.session_id!r}, {self.rating_group}, "
            f"account={self.account.account_id}, micros={self.micros}, buckets={held})"
        )


class Ledger:
    """All balances and holds of this OCS process, and the posting counter.

    Args:
        next_posting_id: the id the next posting gets; after recovery, one more than the
            highest durable id (``replay`` advances it by itself).
    """

    def __init__(self, *, next_posting_id: int = 1) -> None:
        self._accounts: dict[int, Account] = {}
        self._holds: dict[tuple[str, int], Reservation] = {}
        self._causes: set[str] = set()
        self._next_id = next_posting_id

    # -- lookups --------------------------------------------------------------------

    @property
    def next_posting_id(self) -> int:
        return self._next_id

    def __len__(self) -> int:
        return len(self._accounts)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._accounts

    def account(self, account_id: int) -> Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise UnknownAccount(account_id) from None

    def accounts(self) -> Iterator[Account]:
        return iter(self._accounts.values())

    def available(self, account_id: int) -> Micros:
        """``balance - reserved`` of the account's money (see ``Account.headroom``)."""
        return self.account(account_id).available

    def reservation(self, session_id: str, rating_group: int) -> Reservation | None:
        return self._holds.get((session_id, rating_group))

    def reservations(self) -> Iterator[Reservation]:
        return iter(self._holds.values())

    def has_applied(self, cause: str) -> bool:
        return cause in self._causes

    # -- loading (recovery and tests): no postings -----------------------------------

    def add_account(self, account: Account) -> None:
        if account.account_id in self._accounts:
            raise LedgerError(f"account {account.account_id} already loaded")
        if account.reserved or any(b.reserved for b in account.buckets):
            raise LedgerError(f"account {account.account_id}: holds load via restore_hold")
        self._accounts[account.account_id] = account

    def load(self, accounts: Iterable[Account], *, applied_causes: Iterable[str] = ()) -> None:
        """Add a snapshot of accounts and the causes already applied to them."""
        for account in accounts:
            self.add_account(account)
        self._causes.update(applied_causes)

    def add_bucket(self, account_id: int, bucket: Bucket) -> None:
        """Attach a bucket (a bundle bought, or loaded); its row is its own record."""
        account = self.account(account_id)
        if bucket.reserved:
            raise LedgerError(f"bucket {bucket.bucket_id}: holds load via restore_hold")
        account.buckets = with_bucket(account.buckets, bucket)

    def set_status(self, account_id: int, status: AccountStatus) -> None:
        self.account(account_id).status = status

    def set_credit_limit(self, account_id: int, credit_limit: Micros | None) -> None:
        """Make the account prepaid (None) or postpaid with this limit; holds stay."""
        if credit_limit is not None and credit_limit < 0:
            raise ValueError("negative credit limit")
        account = self.account(account_id)
        account.credit_limit = credit_limit
        account.floor = 0 if credit_limit is None else -credit_limit

    def forget_causes(self, causes: Iterable[str]) -> None:
        """Drop causes that can never be delivered again (behind the durable cursor)."""
        self._causes.difference_update(causes)

    def restore_hold(
        self,
        account_id: int,
        session_id: str,
        rating_group: int,
        *,
        micros: Micros = 0,
        bucket_units: Mapping[int, int] | None = None,
        units: int = 0,
    ) -> Reservation:
        """Re-create an open hold loaded from SQL (adds to any hold already on the key)."""
        account = self.account(account_id)
        hold = self._hold_for(account, session_id, rating_group)
        hold.micros += micros
        account.reserved += micros
        hold.units += units
        for bucket_id, held in (bucket_units or {}).items():
            bucket = account.bucket(bucket_id)
            bucket.reserved += held
            held_on = hold.buckets if hold.buckets is not None else {}
            held_on[bucket] = held_on.get(bucket, 0) + held
            hold.buckets = held_on
        return hold

    def replay(self, postings: Iterable[Posting]) -> None:
        """Apply durable postings on top of the loaded snapshot they follow.

        Rebuilds balances, bucket balances, open holds (money and bucket parts; a hold
        whose every part is back to zero is closed), the applied causes and the posting
        counter. The units a hold granted are session state and are not in postings.
        A posting numbered below ``next_posting_id`` is already in the snapshot and is
        skipped, so replaying an overlapping journal tail is harmless.
        """
        for p in postings:
            if p.posting_id < self._next_id:
                continue
            account = self.account(p.account_id)
            if p.bucket_id is None:
                account.balance += p.amount
                account.reserved += p.reserved
            else:
                bucket = account.bucket(p.bucket_id)
                bucket.balance += p.amount
                bucket.reserved += p.reserved
            if p.reserved and p.session_id is not None and p.rating_group is not None:
                hold = self._hold_for(account, p.session_id, p.rating_group)
                if p.bucket_id is None:
                    hold.micros += p.reserved
                else:
                    held_on = hold.buckets if hold.buckets is not None else {}
                    bucket = account.bucket(p.bucket_id)
                    held_on[bucket] = held_on.get(bucket, 0) + p.reserved
                    if not held_on[bucket]:
                        del held_on[bucket]
                    hold.buckets = held_on or None
                if hold.micros < 0 or any(n < 0 for n in (hold.buckets or {}).values()):
                    raise LedgerError(
                        f"posting {p.posting_id} frees more than its key held: "
                        "the journal does not follow this snapshot"
                    )
                if not hold.micros and not hold.buckets:
                    del self._holds[(p.session_id, p.rating_group)]
            if p.kind is _ADJUST and p.cause is not None:
                self._causes.add(p.cause)
            self._next_id = p.posting_id + 1

    def _hold_for(self, account: Account, session_id: str, rating_group: int) -> Reservation:
        key = (session_id, rating_group)
        hold = self._holds.get(key)
        if hold is None:
            hold = self._holds[key] = Reservation(account, session_id, rating_group)
        elif hold.account is not account:
            raise LedgerError(
                f"{key} is held by account {hold.account.account_id}, not {account.account_id}"
            )
        return hold

    def _account_for_commit(
        self, hold: Reservation | None, account_id: int | None, key: tuple[str, int]
    ) -> Account:
        if hold is None:
            if account_id is None:
                raise UnknownReservation(key)
            return self.account(account_id)
        if account_id is not None and account_id != hold.account.account_id:
            raise LedgerError(f"{key} is held by account {hold.account.account_id}")
        return hold.account

    # -- money only: the fast path for grants the caller has priced already ------------

    def reserve_money(
        self,
        account_id: int,
        session_id: str,
        rating_group: int,
        micros: Micros,
        *,
        now_us: int,
        cause: str | None = None,
    ) -> list[Posting]:
        """Hold up to ``micros``; the grant is the posting's ``reserved`` ([] means none).

        Grants ``min(micros, headroom)``: nothing to a blocked/suspended/closed account or
        to one at or below its floor. Tops up an open hold on the same key.
        """
        if micros < 0:
            raise ValueError(f"negative reservation {micros}")
        account = self._accounts.get(account_id)
        if account is None:
            raise UnknownAccount(account_id)
        key = (session_id, rating_group)
        hold = self._holds.get(key)
        if hold is not None and hold.account is not account:
            raise LedgerError(f"{key} is held by account {hold.account.account_id}")
        if account.status is not _ACTIVE:
            return []
        headroom = account.balance - account.reserved - account.floor
        if micros > headroom:
            if headroom <= 0:
                return []
            micros = headroom
        elif not micros:
            return []
        if hold is None:
            hold = self._holds[key] = Reservation(account, session_id, rating_group)
        return [self._hold_money(account, hold, micros, session_id, rating_group, now_us, cause)]

    def commit_money(
        self,
        session_id: str,
        rating_group: int,
        micros: Micros,
        *,
        now_us: int,
        account_id: int | None = None,
        keep_rest: bool = False,
        cause: str | None = None,
    ) -> list[Posting]:
        """Charge ``micros`` (already priced) against the key's hold, even beyond it.

        Closes the hold and frees what the charge did not use, unless ``keep_rest``. Any
        units held on buckets are freed uncharged. Without a hold, ``account_id`` is
        charged and the whole charge is an overrun.
        """
        if micros < 0:
            raise ValueError(f"negative charge {micros}")
        key = (session_id, rating_group)
        hold = self._holds.get(key)
        if hold is not None and account_id is None:
            account = hold.account
        else:
            account = self._account_for_commit(hold, account_id, key)
        postings: list[Posting] = []
        if hold is not None and not keep_rest and hold.buckets:
            self._free_buckets(hold, postings, _COMMIT, now_us, cause)
        self._charge_money(account, hold, key, micros, keep_rest, now_us, cause, postings)
        return postings

    # -- units: buckets first, then money, in one operation ---------------------------

    def reserve(
        self,
        account_id: int,
        session_id: str,
        rating_group: int,
        units: int,
        *,
        unit_kind: BucketKind,
        price_of: PriceOf,
        units_for: UnitsFor,
        now_us: int,
        cause: str | None = None,
    ) -> list[Posting]:
        """Hold up to ``units`` service units: usable buckets first, then money.

        Buckets valid at ``now_us`` and applicable to the rating group and unit kind are
        drawn in consumption order; the rest is bought with money up to the headroom,
        sized by ``units_for`` and held at ``price_of``. The units granted (the GSU) are
        ``reservation(session_id, rating_group).granted``; free units (price 0) are
        granted without a money posting.

        Raises:
            LedgerError: ``units_for`` bought more than the budget by ``price_of``, or
                the key is held by another account. Nothing has changed then.
        """
        if units < 0:
            raise ValueError(f"negative reservation {units}")
        account = self.account(account_id)
        key = (session_id, rating_group)
        hold = self._holds.get(key)
        if hold is not None and hold.account is not account:
            raise LedgerError(f"{key} is held by account {hold.account.account_id}")
        if units == 0 or account.status is not _ACTIVE:
            if hold is not None:
                hold.granted = 0
            return []
        plan = (
            plan_take(
                account.buckets,
                units,
                rating_group=rating_group,
                unit_kind=unit_kind,
                now_us=now_us,
            )
            if account.buckets
            else []
        )
        covered = 0
        for _, take in plan:
            covered += take
        rest = units - covered
        money = 0
        if rest:
            headroom = account.balance - account.reserved - account.floor
            if headroom <= 0:
                rest = 0  # in debt or at the floor: no money-priced grant (4012)
            else:
                money = price_of(rest)
                if money > headroom:
                    bought = units_for(headroom)
                    rest = bought if bought < rest else rest
                    money = price_of(rest) if rest > 0 else 0
                    if rest < 0 or money > headroom:
                        raise LedgerError(
                            f"units_for({headroom}) = {bought} costs {money} by price_of"
                        )
                if money < 0:
                    raise LedgerError(f"price_of({rest}) = {money} is negative")
        granted = covered + rest
        if not granted:
            if hold is not None:
                hold.granted = 0
            return []
        if hold is None:
            hold = self._holds[key] = Reservation(account, session_id, rating_group)
        postings: list[Posting] = []
        if plan:
            held_on = hold.buckets if hold.buckets is not None else {}
            for bucket, take in plan:
                bucket.reserved += take
                held_on[bucket] = held_on.get(bucket, 0) + take
                postings.append(
                    self._posting(
                        account,
                        _RESERVE,
                        0,
                        take,
                        bucket.bucket_id,
                        session_id,
                        rating_group,
                        now_us,
                        cause,
                        False,
                    )
                )
            hold.buckets = held_on
        if money:
            postings.append(
                self._hold_money(account, hold, money, session_id, rating_group, now_us, cause)
            )
        hold.units += granted
        hold.granted = granted
        return postings

    def commit(
        self,
        session_id: str,
        rating_group: int,
        used: int,
        *,
        unit_kind: BucketKind,
        price_of: PriceOf,
        now_us: int,
        account_id: int | None = None,
        keep_rest: bool = False,
        cause: str | None = None,
    ) -> list[Posting]:
        """Charge ``used`` units: held bucket units, other usable buckets, then money.

        Units held on a bucket are charged there first (and, past the hold, its free
        units if it is still usable); then other buckets usable at ``now_us``; the rest is
        priced by ``price_of`` and charged in money even beyond the money hold (overrun).
        Closes the hold unless ``keep_rest``; without a hold, ``account_id`` is charged.
        """
        if used < 0:
            raise ValueError(f"negative usage {used}")
        key = (session_id, rating_group)
        hold = self._holds.get(key)
        account = self._account_for_commit(hold, account_id, key)
        rest = used
        steps: list[tuple[Bucket, int, int]] = []  # (bucket, units charged, units freed)
        held_on = None if hold is None else hold.buckets
        if held_on:
            for bucket, held in held_on.items():
                take = held if held < rest else rest
                if rest > held and bucket.usable(rating_group, unit_kind, now_us):
                    free = bucket.balance - bucket.reserved
                    if free > 0:
                        take = min(rest, held + free)
                freed = (take if take < held else held) if keep_rest else held
                steps.append((bucket, take, freed))
                rest -= take
        if rest and account.buckets:
            for bucket, take in plan_take(
                account.buckets,
                rest,
                rating_group=rating_group,
                unit_kind=unit_kind,
                now_us=now_us,
                skip=held_on or (),
            ):
                steps.append((bucket, take, 0))
                rest -= take
        charge = price_of(rest) if rest else 0
        if charge < 0:
            raise LedgerError(f"price_of({rest}) = {charge} is negative")
        # Everything is priced and checked: from here on nothing can fail.
        postings: list[Posting] = []
        for bucket, take, freed in steps:
            bucket.balance -= take
            bucket.reserved -= freed
            if keep_rest and held_on is not None and freed:
                left = held_on[bucket] - freed
                if left:
                    held_on[bucket] = left
                else:
                    del held_on[bucket]
            if take or freed:
                postings.append(
                    self._posting(
                        account,
                        _COMMIT,
                        -take,
                        -freed,
                        bucket.bucket_id,
                        session_id,
                        rating_group,
                        now_us,
                        cause,
                        False,
                    )
                )
        self._charge_money(account, hold, key, charge, keep_rest, now_us, cause, postings)
        if hold is not None and keep_rest:
            hold.buckets = held_on or None
            hold.units = max(0, hold.units - used)
        return postings

    # -- release and adjust ----------------------------------------------------------

    def release(
        self, session_id: str, rating_group: int, *, now_us: int, cause: str | None = None
    ) -> list[Posting]:
        """Free the rest of a hold uncharged (CCR-T without usage, Tcc expiry, failure).

        An unknown key is not an error ([]): Tcc expiry may race a CCR-T that closed it.
        """
        hold = self._holds.pop((session_id, rating_group), None)
        if hold is None:
            return []
        postings: list[Posting] = []
        if hold.buckets:
            self._free_buckets(hold, postings, _RELEASE, now_us, cause)
        if hold.micros:
            hold.account.reserved -= hold.micros
            postings.append(
                self._posting(
                    hold.account,
                    _RELEASE,
                    0,
                    -hold.micros,
                    None,
                    session_id,
                    rating_group,
                    now_us,
                    cause,
                    False,
                )
            )
        return postings

    def adjust(
        self,
        account_id: int,
        amount: int,
        cause: str,
        *,
        now_us: int,
        bucket_id: int | None = None,
    ) -> list[Posting]:
        """Apply a change from outside the OCS once: top-up, correction, imported charge.

        ``amount`` is micro-units, or units of ``bucket_id``. A ``cause`` already applied
        makes this a no-op returning []. A money debit may cross the floor (the charge is
        real); its posting then carries ``overrun=True``.

        Raises:
            LedgerError: a bucket debit would take the bucket below what is held on it.
        """
        if cause in self._causes:
            return []
        account = self.account(account_id)
        overrun = False
        if bucket_id is None:
            overrun = amount < 0 and account.balance - account.reserved + amount < account.floor
            account.balance += amount
        else:
            bucket = account.bucket(bucket_id)
            if bucket.balance + amount < bucket.reserved:
                raise LedgerError(
                    f"bucket {bucket_id}: {amount} would leave less than its {bucket.reserved} held"
                )
            bucket.balance += amount
        self._causes.add(cause)
        if not amount:
            return []
        return [
            self._posting(
                account, _ADJUST, amount, 0, bucket_id, None, None, now_us, cause, overrun
            )
        ]

    # -- helpers ---------------------------------------------------------------------

    def _posting(
        self,
        account: Account,
        kind: PostingKind,
        amount: int,
        reserved: int,
        bucket_id: int | None,
        session_id: str | None,
        rating_group: int | None,
        now_us: int,
        cause: str | None,
        overrun: bool,
    ) -> Posting:
        pid = self._next_id
        self._next_id = pid + 1
        return new_posting(
            pid,
            account.account_id,
            kind,
            amount,
            reserved,
            bucket_id,
            session_id,
            rating_group,
            now_us,
            cause,
            overrun,
        )

    def _hold_money(
        self,
        account: Account,
        hold: Reservation,
        micros: Micros,
        session_id: str,
        rating_group: int,
        now_us: int,
        cause: str | None,
    ) -> Posting:
        """Add ``micros`` (> 0, within the headroom) to the hold: the RESERVE posting."""
        hold.micros += micros
        account.reserved += micros
        pid = self._next_id
        self._next_id = pid + 1
        return new_posting(
            pid,
            account.account_id,
            _RESERVE,
            0,
            micros,
            None,
            session_id,
            rating_group,
            now_us,
            cause,
            False,
        )

    def _charge_money(
        self,
        account: Account,
        hold: Reservation | None,
        key: tuple[str, int],
        charge: Micros,
        keep_rest: bool,
        now_us: int,
        cause: str | None,
        postings: list[Posting],
    ) -> None:
        """The money part of a commit, after any bucket postings: charge ``charge``
        (>= 0, even beyond the money hold: overrun) and free the hold's money, or with
        ``keep_rest`` only what the charge used. Closes the hold unless ``keep_rest``
        (its bucket part is the caller's). Cannot fail."""
        held = 0 if hold is None else hold.micros
        freed = held if not keep_rest else (charge if charge < held else held)
        account.balance -= charge
        account.reserved -= freed
        if charge or freed:
            pid = self._next_id
            self._next_id = pid + 1
            postings.append(
                new_posting(
                    pid,
                    account.account_id,
                    _COMMIT,
                    -charge,
                    -freed,
                    None,
                    key[0],
                    key[1],
                    now_us,
                    cause,
                    charge > held,
                )
            )
        if hold is not None:
            if keep_rest:
                hold.micros = held - freed
            else:
                del self._holds[key]

    def _free_buckets(
        self,
        hold: Reservation,
        postings: list[Posting],
        kind: PostingKind,
        now_us: int,
        cause: str | None,
    ) -> None:
        for bucket, held in (hold.buckets or {}).items():
            bucket.reserved -= held
            postings.append(
                self._posting(
                    hold.account,
                    kind,
                    0,
                    -held,
                    bucket.bucket_id,
                    hold.session_id,
                    hold.rating_group,
                    now_us,
                    cause,
                    False,
                )
            )
        hold.buckets = None
