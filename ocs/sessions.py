"""Credit-control sessions and duplicate detection (RFC 8506 §7, RFC 6733 §3, App. C).

What lives here: the server session state machine as a table, the session table with
Tcc supervision deadlines, the answer cache keyed by (Origin-Host, End-to-End id) and
the charging-key cache keyed by (Session-Id, CC-Request-Type, CC-Request-Number, body
digest). What must not: money (the ledger), rating, or I/O; time comes in as ``now``.

Two levels of idempotency, because real clients defeat each one alone:

* The answer cache replays the identical answer to a retransmission (same Origin-Host
  and End-to-End id, T flag or not, RFC 6733 §3 and Appendix C), for at least
  four minutes, which is how long End-to-End ids stay unique.
* The charging key catches the same charging request sent again under a new
  End-to-End id (a client failing over to another connection). It includes a digest
  of the request body because some clients send CC-Request-Number 0 on every request
  (PyHSS's Gy test client, gy-standards.md §3 item 15): two different requests with
  number 0 differ in their bodies and are both charged; a byte-identical body is the
  same request and is not charged twice.
"""

from __future__ import annotations

import enum
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from protocol.codes import CcRequestType


class CcState(enum.Enum):
    IDLE = "idle"
    OPEN = "open"


_T = CcRequestType

#: RFC 8506 §7, server side: (state, request type) -> state after a successful answer.
#: A failed CCR-I leaves the session Idle; a failed CCR-U closes it (the caller ends
#: it); Tcc expiry is `SessionTable.expired`. Anything not listed is answered 5002.
TRANSITIONS: dict[tuple[CcState, CcRequestType], CcState] = {
    (CcState.IDLE, _T.INITIAL_REQUEST): CcState.OPEN,
    (CcState.IDLE, _T.EVENT_REQUEST): CcState.IDLE,
    (CcState.OPEN, _T.UPDATE_REQUEST): CcState.OPEN,
    (CcState.OPEN, _T.TERMINATION_REQUEST): CcState.IDLE,
    (CcState.OPEN, _T.EVENT_REQUEST): CcState.OPEN,
    # A CCR-T without a CCR-I (the server lost the session, or the client never sent
    # one) still reports usage: charge it rather than lose it (issue 4, item 3).
    (CcState.IDLE, _T.TERMINATION_REQUEST): CcState.IDLE,
    # A repeated CCR-I on an open session re-authorizes (clients that restart the
    # session under the same Session-Id); the old holds are settled first.
    (CcState.OPEN, _T.INITIAL_REQUEST): CcState.OPEN,
}


@dataclass(slots=True)
class CcSession:
    """One credit-control session the server keeps (state Open)."""

    session_id: str
    account_id: int
    origin_host: str
    service_context_id: str
    last_request_number: int = 0
    #: Tcc deadline (RFC 8506 §13): holds are released if nothing arrives before it
    expires_at: float = float("inf")
    #: rating groups holding a reservation (-1 stands for "no Rating-Group")
    rating_groups: set[int] = field(default_factory=set)
    #: rating groups answered with Final-Unit-Indication or 4012: a top-up re-authorizes them
    exhausted: set[int] = field(default_factory=set)
    state: CcState = CcState.OPEN
    #: Unix seconds of the first request: time is rated from the start of the call
    started_at: float = 0.0
    #: units already charged per rating group, for services rated per call (time)
    used: dict[int, int] = field(default_factory=dict)


#: the rating-group key of a session's end marker row in SQL (real keys are >= -1)
ENDED = -2


class SessionTable:
    """Open sessions by Session-Id, with Tcc deadlines, and recently ended ones.

    An ended session is remembered (its last CC-Request-Number, until a deadline) so
    that a retransmitted CCR-T arriving after a restart, when the answer caches are
    empty, is recognised and not charged again. Its marker is persisted like a session
    row (rating group `ENDED`).
    """

    def __init__(self) -> None:
        self._sessions: dict[str, CcSession] = {}
        #: session id -> (last CC-Request-Number, forget-after deadline on the `now` clock)
        self.ended: dict[str, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[CcSession]:
        return iter(list(self._sessions.values()))

    def get(self, session_id: str) -> CcSession | None:
        return self._sessions.get(session_id)

    def state(self, session_id: str) -> CcState:
        return CcState.OPEN if session_id in self._sessions else CcState.IDLE

    def open(self, session: CcSession) -> None:
        self._sessions[session.session_id] = session

    def close(self, session_id: str) -> CcSession | None:
        return self._sessions.pop(session_id, None)

    def touch(self, session: CcSession, *, now: float, tcc: float) -> None:
        session.expires_at = now + tcc

    def end(self, session_id: str, number: int, *, until: float) -> None:
        self.ended[session_id] = (number, until)

    def was_ended(self, session_id: str, number: int) -> bool:
        """Whether this request number of an ended session was already answered."""
        found = self.ended.get(session_id)
        return found is not None and number <= found[0]

    def forget_ended(self, now: float) -> list[str]:
        """Drop end markers past their deadline; returns their session ids."""
        gone = [sid for sid, (_, until) in self.ended.items() if until <= now]
        for sid in gone:
            del self.ended[sid]
        return gone

    def expired(self, now: float) -> list[CcSession]:
        """Sessions whose Tcc ran out, removed from the table (RFC 8506 §7: -> Idle)."""
        gone = [s for s in self._sessions.values() if s.expires_at <= now]
        for session in gone:
            del self._sessions[session.session_id]
        return gone

    def of_peer(self, origin_host: str) -> list[CcSession]:
        return [s for s in self._sessions.values() if s.origin_host == origin_host]

    def of_account(self, account_id: int) -> list[CcSession]:
        return [s for s in self._sessions.values() if s.account_id == account_id]


def next_state(state: CcState, request_type: CcRequestType) -> CcState | None:
    """The state after a successful answer, or None when the request is not allowed."""
    return TRANSITIONS.get((state, request_type))


@dataclass(slots=True)
class CachedAnswer:
    """An answer kept for replay, and the durability it waits for (if still pending)."""

    answer: bytes
    expires_at: float
    #: what the original answer waited for; a replay must not overtake it
    pending: object | None = None


class ReplayCache:
    """Answers by key, kept ``ttl`` seconds (insertion order is expiry order).

    Bounded by ``max_entries`` too: at 15 000 CCR/s four minutes are 3.6 M answers of
    ~0.5 kB each, so past the bound the oldest entry goes first (``evicted`` counts
    them; a duplicate older than that is then charged by its End-to-End id alone).
    """

    def __init__(self, ttl: float, *, max_entries: int = 2_000_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.evicted = 0
        self._entries: OrderedDict[object, CachedAnswer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: object, now: float) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            return None
        return entry

    def put(self, key: object, answer: bytes, now: float, pending: object | None = None) -> None:
        entries = self._entries
        entries[key] = CachedAnswer(answer, now + self.ttl, pending)
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)
            self.evicted += 1

    def expire(self, now: float) -> int:
        """Drop entries past their time; returns how many."""
        dropped = 0
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if entry.expires_at > now:
                break
            del entries[key]
            dropped += 1
        return dropped


def charging_key(
    session_id: str, request_type: int, request_number: int, body: bytes
) -> tuple[str, int, int, bytes]:
    """The identity of a charging request, independent of End-to-End id and T flag.

    ``body`` is the message after its 20-byte header: a retransmission repeats it
    byte for byte; a new request differs in at least its usage or timestamp.
    """
    return (
        session_id,
        request_type,
        request_number,
        hashlib.blake2b(body, digest_size=16).digest(),
    )


def with_ids(answer: bytes, hop_by_hop: int, end_to_end: int) -> bytes:
    """A cached answer re-addressed to a request: its own Hop-by-Hop and End-to-End ids."""
    return answer[:12] + hop_by_hop.to_bytes(4, "big") + end_to_end.to_bytes(4, "big") + answer[20:]
