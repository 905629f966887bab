"""Closed sets of the Diameter base and credit-control applications, as IntEnums.

What lives here: Result-Codes with their class (RFC 6733 §7.1, RFC 8506 §9),
command codes, application ids, header flag bits and the enumerations a
credit-control server reads or writes. Names keep RFC spelling. No logic beyond
classifying a code; the AVP table lives in `dictionary`.
"""

from __future__ import annotations

import enum


class ResultClass(enum.Enum):
    """The class of a Result-Code, from its thousands digit (RFC 6733 §7.1)."""

    INFORMATIONAL = 1
    SUCCESS = 2
    PROTOCOL_ERROR = 3  #: sent with the E bit, in the generic answer format
    TRANSIENT_FAILURE = 4
    PERMANENT_FAILURE = 5


class ResultCode(enum.IntEnum):
    """Every Result-Code of RFC 6733 §7.1 and RFC 8506 §9 (RFC 4006 §9)."""

    DIAMETER_MULTI_ROUND_AUTH = 1001
    DIAMETER_SUCCESS = 2001
    DIAMETER_LIMITED_SUCCESS = 2002
    DIAMETER_COMMAND_UNSUPPORTED = 3001
    DIAMETER_UNABLE_TO_DELIVER = 3002
    DIAMETER_REALM_NOT_SERVED = 3003
    DIAMETER_TOO_BUSY = 3004
    DIAMETER_LOOP_DETECTED = 3005
    DIAMETER_REDIRECT_INDICATION = 3006
    DIAMETER_APPLICATION_UNSUPPORTED = 3007
    DIAMETER_INVALID_HDR_BITS = 3008
    DIAMETER_INVALID_AVP_BITS = 3009
    DIAMETER_UNKNOWN_PEER = 3010
    DIAMETER_AUTHENTICATION_REJECTED = 4001
    DIAMETER_OUT_OF_SPACE = 4002
    ELECTION_LOST = 4003
    DIAMETER_END_USER_SERVICE_DENIED = 4010
    DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE = 4011
    DIAMETER_CREDIT_LIMIT_REACHED = 4012
    DIAMETER_AVP_UNSUPPORTED = 5001
    DIAMETER_UNKNOWN_SESSION_ID = 5002
    DIAMETER_AUTHORIZATION_REJECTED = 5003
    DIAMETER_INVALID_AVP_VALUE = 5004
    DIAMETER_MISSING_AVP = 5005
    DIAMETER_RESOURCES_EXCEEDED = 5006
    DIAMETER_CONTRADICTING_AVPS = 5007
    DIAMETER_AVP_NOT_ALLOWED = 5008
    DIAMETER_AVP_OCCURS_TOO_MANY_TIMES = 5009
    DIAMETER_NO_COMMON_APPLICATION = 5010
    DIAMETER_UNSUPPORTED_VERSION = 5011
    DIAMETER_UNABLE_TO_COMPLY = 5012
    DIAMETER_INVALID_BIT_IN_HEADER = 5013
    DIAMETER_INVALID_AVP_LENGTH = 5014
    DIAMETER_INVALID_MESSAGE_LENGTH = 5015
    DIAMETER_INVALID_AVP_BIT_COMBO = 5016
    DIAMETER_NO_COMMON_SECURITY = 5017
    DIAMETER_USER_UNKNOWN = 5030
    DIAMETER_RATING_FAILED = 5031

    @property
    def result_class(self) -> ResultClass:
        return ResultClass(self.value // 1000)

    @property
    def is_success(self) -> bool:
        return self.result_class is ResultClass.SUCCESS

    @property
    def is_protocol_error(self) -> bool:
        """True for 3xxx: the answer sets the E bit (RFC 6733 §7.1.3)."""
        return self.result_class is ResultClass.PROTOCOL_ERROR

    @property
    def is_transient(self) -> bool:
        return self.result_class is ResultClass.TRANSIENT_FAILURE

    @property
    def is_permanent(self) -> bool:
        return self.result_class is ResultClass.PERMANENT_FAILURE


def result_class(code: int) -> ResultClass | None:
    """The class of any Result-Code value, known to us or not; None if out of range."""
    digit = code // 1000
    return ResultClass(digit) if 1 <= digit <= 5 else None


class CommandCode(enum.IntEnum):
    """Command codes (RFC 6733 §3.1, RFC 8506 §3)."""

    CAPABILITIES_EXCHANGE = 257  #: CER/CEA
    RE_AUTH = 258  #: RAR/RAA
    CREDIT_CONTROL = 272  #: CCR/CCA
    ABORT_SESSION = 274  #: ASR/ASA
    SESSION_TERMINATION = 275  #: STR/STA
    DEVICE_WATCHDOG = 280  #: DWR/DWA
    DISCONNECT_PEER = 282  #: DPR/DPA


class ApplicationId(enum.IntEnum):
    COMMON_MESSAGES = 0  #: base protocol (CER, DWR, DPR)
    DIAMETER_CREDIT_CONTROL = 4  #: RFC 8506, the Gy/Ro application
    RELAY = 0xFFFFFFFF


class HeaderFlag(enum.IntFlag):
    """Command flags of the header (RFC 6733 §3)."""

    REQUEST = 0x80  #: R
    PROXIABLE = 0x40  #: P
    ERROR = 0x20  #: E
    RETRANSMITTED = 0x10  #: T (potentially retransmitted after failover)


#: reserved command-flag bits; a request that sets any of them gets 3008
HEADER_RESERVED_BITS = 0x0F


class AvpFlag(enum.IntFlag):
    """AVP flags (RFC 6733 §4.1)."""

    VENDOR = 0x80  #: V: the Vendor-ID field is present
    MANDATORY = 0x40  #: M
    PROTECTED = 0x20  #: P (end-to-end security; deprecated, kept on the wire)


#: reserved AVP-flag bits; set in a received AVP they are a 3009 (RFC 6733 §4.1)
AVP_RESERVED_BITS = 0x1F

VENDOR_3GPP = 10415


class DisconnectCause(enum.IntEnum):
    REBOOTING = 0
    BUSY = 1
    DO_NOT_WANT_TO_TALK_TO_YOU = 2


class CcRequestType(enum.IntEnum):
    INITIAL_REQUEST = 1
    UPDATE_REQUEST = 2
    TERMINATION_REQUEST = 3
    EVENT_REQUEST = 4


class RequestedAction(enum.IntEnum):
    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class CheckBalanceResult(enum.IntEnum):
    ENOUGH_CREDIT = 0
    NO_CREDIT = 1


class FinalUnitAction(enum.IntEnum):
    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


class RedirectAddressType(enum.IntEnum):
    IPV4_ADDRESS = 0
    IPV6_ADDRESS = 1
    URL = 2
    SIP_URI = 3


class SubscriptionIdType(enum.IntEnum):
    END_USER_E164 = 0
    END_USER_IMSI = 1
    END_USER_SIP_URI = 2
    END_USER_NAI = 3
    END_USER_PRIVATE = 4


class MultipleServicesIndicator(enum.IntEnum):
    MULTIPLE_SERVICES_NOT_SUPPORTED = 0
    MULTIPLE_SERVICES_SUPPORTED = 1


class CreditControlFailureHandling(enum.IntEnum):
    TERMINATE = 0
    CONTINUE = 1
    RETRY_AND_TERMINATE = 2


class DirectDebitingFailureHandling(enum.IntEnum):
    TERMINATE_OR_BUFFER = 0
    CONTINUE = 1


class CcSessionFailover(enum.IntEnum):
    FAILOVER_NOT_SUPPORTED = 0
    FAILOVER_SUPPORTED = 1


class TerminationCause(enum.IntEnum):
    """Termination-Cause (RFC 6733 §8.15)."""

    DIAMETER_LOGOUT = 1
    DIAMETER_SERVICE_NOT_PROVIDED = 2
    DIAMETER_BAD_ANSWER = 3
    DIAMETER_ADMINISTRATIVE = 4
    DIAMETER_LINK_BROKEN = 5
    DIAMETER_AUTH_EXPIRED = 6
    DIAMETER_USER_MOVED = 7
    DIAMETER_SESSION_TIMEOUT = 8


class ReAuthRequestType(enum.IntEnum):
    AUTHORIZE_ONLY = 0
    AUTHORIZE_AUTHENTICATE = 1


class AuthSessionState(enum.IntEnum):
    STATE_MAINTAINED = 0
    NO_STATE_MAINTAINED = 1


class CcUnitType(enum.IntEnum):
    TIME = 0
    MONEY = 1
    TOTAL_OCTETS = 2
    INPUT_OCTETS = 3
    OUTPUT_OCTETS = 4
    SERVICE_SPECIFIC_UNITS = 5


class ReportingReason(enum.IntEnum):
    """Reporting-Reason (TS 32.299 §7.2.175)."""

    THRESHOLD = 0
    QHT = 1
    FINAL = 2
    QUOTA_EXHAUSTED = 3
    VALIDITY_TIME = 4
    OTHER_QUOTA_TYPE = 5
    RATING_CONDITION_CHANGE = 6
    FORCED_REAUTHORISATION = 7
    POOL_EXHAUSTED = 8
    UNUSED_QUOTA_TIMER = 9


class LowBalanceIndication(enum.IntEnum):
    NOT_APPLICABLE = 0
    YES = 1


class AvpCode(enum.IntEnum):
    """Codes of the vendor-0 AVPs that code reads or writes by name (the full table,
    with types and flag rules, is `dictionary`)."""

    USER_NAME = 1
    CLASS = 25
    EVENT_TIMESTAMP = 55
    HOST_IP_ADDRESS = 257
    AUTH_APPLICATION_ID = 258
    ACCT_APPLICATION_ID = 259
    VENDOR_SPECIFIC_APPLICATION_ID = 260
    SESSION_ID = 263
    ORIGIN_HOST = 264
    SUPPORTED_VENDOR_ID = 265
    VENDOR_ID = 266
    FIRMWARE_REVISION = 267
    RESULT_CODE = 268
    PRODUCT_NAME = 269
    DISCONNECT_CAUSE = 273
    AUTH_SESSION_STATE = 277
    ORIGIN_STATE_ID = 278
    FAILED_AVP = 279
    ERROR_MESSAGE = 281
    ROUTE_RECORD = 282
    DESTINATION_REALM = 283
    PROXY_INFO = 284
    RE_AUTH_REQUEST_TYPE = 285
    DESTINATION_HOST = 293
    ERROR_REPORTING_HOST = 294
    TERMINATION_CAUSE = 295
    ORIGIN_REALM = 296
    EXPERIMENTAL_RESULT = 297
    EXPERIMENTAL_RESULT_CODE = 298
    INBAND_SECURITY_ID = 299
    CC_CORRELATION_ID = 411
    CC_INPUT_OCTETS = 412
    CC_MONEY = 413
    CC_OUTPUT_OCTETS = 414
    CC_REQUEST_NUMBER = 415
    CC_REQUEST_TYPE = 416
    CC_SERVICE_SPECIFIC_UNITS = 417
    CC_SESSION_FAILOVER = 418
    CC_SUB_SESSION_ID = 419
    CC_TIME = 420
    CC_TOTAL_OCTETS = 421
    CHECK_BALANCE_RESULT = 422
    COST_INFORMATION = 423
    COST_UNIT = 424
    CURRENCY_CODE = 425
    CREDIT_CONTROL_FAILURE_HANDLING = 427
    DIRECT_DEBITING_FAILURE_HANDLING = 428
    EXPONENT = 429
    FINAL_UNIT_INDICATION = 430
    GRANTED_SERVICE_UNIT = 431
    RATING_GROUP = 432
    REDIRECT_ADDRESS_TYPE = 433
    REDIRECT_SERVER = 434
    REDIRECT_SERVER_ADDRESS = 435
    REQUESTED_ACTION = 436
    REQUESTED_SERVICE_UNIT = 437
    RESTRICTION_FILTER_RULE = 438
    SERVICE_IDENTIFIER = 439
    SUBSCRIPTION_ID = 443
    SUBSCRIPTION_ID_DATA = 444
    UNIT_VALUE = 445
    USED_SERVICE_UNIT = 446
    VALUE_DIGITS = 447
    VALIDITY_TIME = 448
    FINAL_UNIT_ACTION = 449
    SUBSCRIPTION_ID_TYPE = 450
    TARIFF_TIME_CHANGE = 451
    TARIFF_CHANGE_USAGE = 452
    G_S_U_POOL_IDENTIFIER = 453
    CC_UNIT_TYPE = 454
    MULTIPLE_SERVICES_INDICATOR = 455
    MULTIPLE_SERVICES_CREDIT_CONTROL = 456
    G_S_U_POOL_REFERENCE = 457
    USER_EQUIPMENT_INFO = 458
    SERVICE_CONTEXT_ID = 461
    SUBSCRIPTION_ID_EXTENSION = 659
    SUBSCRIPTION_ID_E164 = 660
    SUBSCRIPTION_ID_IMSI = 661


class Avp3gpp(enum.IntEnum):
    """Codes of the vendor-10415 AVPs that code reads or writes by name."""

    IMSI = 1  #: 3GPP-IMSI
    TIME_QUOTA_THRESHOLD = 868
    VOLUME_QUOTA_THRESHOLD = 869
    QUOTA_HOLDING_TIME = 871
    REPORTING_REASON = 872
    SERVICE_INFORMATION = 873
    PS_INFORMATION = 874
    IMS_INFORMATION = 876
    QUOTA_CONSUMPTION_TIME = 881
    UNIT_QUOTA_THRESHOLD = 1226
    TRIGGER = 1264
    TRIGGER_TYPE = 870
    SMS_INFORMATION = 2000
    LOW_BALANCE_INDICATION = 2020
    REMAINING_BALANCE = 2021
    CALLED_PARTY_ADDRESS = 832
    CALLING_PARTY_ADDRESS = 831
