"""Exceptions that abort one credit-control request.

* ChargingError                 answered with its ``result_code`` (+ Failed-AVP)
  * ChargeAborted               an unexpected fault: 5012 DIAMETER_UNABLE_TO_COMPLY
  * UnknownSubscriber           5030 DIAMETER_USER_UNKNOWN
  * AccountBlocked              5003 DIAMETER_AUTHORIZATION_REJECTED
  * RatingFailed                5031 DIAMETER_RATING_FAILED, Failed-AVP Service-Context-Id
  * UnknownSession              5002 DIAMETER_UNKNOWN_SESSION_ID

A rating group out of credit is not an exception: it is an MSCC with 4012 inside a
successful answer (style-anchors §0.5).
"""

from __future__ import annotations

from typing import ClassVar

from protocol.codes import ResultCode


class ChargingError(Exception):
    """Aborts one CCR; the handler answers it with ``result_code``."""

    result_code: ClassVar[ResultCode] = ResultCode.DIAMETER_UNABLE_TO_COMPLY

    def __init__(
        self, message: str, *, failed_avp: bytes | None = None, partial: object = None
    ) -> None:
        super().__init__(message)
        self.failed_avp = failed_avp
        #: the `charging.Outcome` of the ledger work done before the fault: its
        #: postings must still be written, so SQL keeps matching memory
        self.partial = partial


class ChargeAborted(ChargingError):
    """Anything unexpected while charging one CCR (a bug, or an input we did not foresee)."""


class UnknownSubscriber(ChargingError):
    result_code = ResultCode.DIAMETER_USER_UNKNOWN


class AccountBlocked(ChargingError):
    result_code = ResultCode.DIAMETER_AUTHORIZATION_REJECTED


class RatingFailed(ChargingError):
    result_code = ResultCode.DIAMETER_RATING_FAILED


class UnknownSession(ChargingError):
    result_code = ResultCode.DIAMETER_UNKNOWN_SESSION_ID
