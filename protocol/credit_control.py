"""Typed credit-control views: CCR and CCA (RFC 8506 §3.1-3.2, TS 32.299 §6.4).

What lives here: `parse_ccr` (the OCS hot path: one pass over the request's bytes,
reading only what an OCS needs, with the mandatory-AVP checks of RFC 8506 §3.1),
`CcaEncoder` (answers from cached constant AVPs), and the client-side pair
`encode_ccr`/`parse_cca` used by the simulator. What must not: charging decisions;
the OCS decides grants, this module only says what was asked and writes what was
decided. Re-Auth and Abort-Session live in `reauth`.

Faults raise `AvpError` with the RFC 6733 §7 Result-Code and Failed-AVP: 5005 for a
missing mandatory AVP (an example AVP with a zero-filled value), 5004 for a value out
of range, 5014 for a wrong length, 5009 for a single AVP sent twice, 5001 for an AVP
with the M bit that the dictionary does not know.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .codec import Avp, Message, decode_avps, encode_avp, encode_message
from .codes import (
    VENDOR_3GPP,
    ApplicationId,
    Avp3gpp,
    AvpCode,
    CcRequestType,
    CommandCode,
    FinalUnitAction,
    HeaderFlag,
    RedirectAddressType,
    RequestedAction,
    ResultCode,
    SubscriptionIdType,
)
from .dictionary import lookup
from .errors import AvpError
from .grammar import missing
from .units import (
    Money,
    ServiceUnits,
    decode_units,
    encode_currency_code,
    encode_unit_value,
    encode_units,
)

_U32 = struct.Struct(">I")

#: AVPs whose absence is a 5005 in a CCR (RFC 8506 §3.1)
_CCR_REQUIRED = (
    AvpCode.SESSION_ID,
    AvpCode.ORIGIN_HOST,
    AvpCode.ORIGIN_REALM,
    AvpCode.DESTINATION_REALM,
    AvpCode.AUTH_APPLICATION_ID,
    AvpCode.SERVICE_CONTEXT_ID,
    AvpCode.CC_REQUEST_TYPE,
    AvpCode.CC_REQUEST_NUMBER,
)


# Plain ints for the hot path: an IntEnum attribute lookup costs ~45 ns, a global ~4 ns.
_3GPP_REPORTING_REASON = int(Avp3gpp.REPORTING_REASON)
_3GPP_SERVICE_INFORMATION = int(Avp3gpp.SERVICE_INFORMATION)
_AUTH_APPLICATION_ID = int(AvpCode.AUTH_APPLICATION_ID)
_CC_REQUEST_NUMBER = int(AvpCode.CC_REQUEST_NUMBER)
_CC_REQUEST_TYPE = int(AvpCode.CC_REQUEST_TYPE)
_DESTINATION_HOST = int(AvpCode.DESTINATION_HOST)
_DESTINATION_REALM = int(AvpCode.DESTINATION_REALM)
_EVENT_TIMESTAMP = int(AvpCode.EVENT_TIMESTAMP)
_MULTIPLE_SERVICES_CREDIT_CONTROL = int(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL)
_MULTIPLE_SERVICES_INDICATOR = int(AvpCode.MULTIPLE_SERVICES_INDICATOR)
_ORIGIN_HOST = int(AvpCode.ORIGIN_HOST)
_ORIGIN_REALM = int(AvpCode.ORIGIN_REALM)
_ORIGIN_STATE_ID = int(AvpCode.ORIGIN_STATE_ID)
_RATING_GROUP = int(AvpCode.RATING_GROUP)
_REQUESTED_ACTION = int(AvpCode.REQUESTED_ACTION)
_REQUESTED_SERVICE_UNIT = int(AvpCode.REQUESTED_SERVICE_UNIT)
_SERVICE_CONTEXT_ID = int(AvpCode.SERVICE_CONTEXT_ID)
_SERVICE_IDENTIFIER = int(AvpCode.SERVICE_IDENTIFIER)
_SESSION_ID = int(AvpCode.SESSION_ID)
_SUBSCRIPTION_ID = int(AvpCode.SUBSCRIPTION_ID)
_SUBSCRIPTION_ID_DATA = int(AvpCode.SUBSCRIPTION_ID_DATA)
_SUBSCRIPTION_ID_TYPE = int(AvpCode.SUBSCRIPTION_ID_TYPE)
_TERMINATION_CAUSE = int(AvpCode.TERMINATION_CAUSE)
_USED_SERVICE_UNIT = int(AvpCode.USED_SERVICE_UNIT)
_USER_NAME = int(AvpCode.USER_NAME)


class MultipleServicesCreditControl(NamedTuple):
    """One MSCC of a CCR. ``rating_group`` None is the default group (Open5GS sends none)."""

    rating_group: int | None
    service_identifiers: tuple[int, ...] = ()
    #: None: no Requested-Service-Unit, so debit the used units and grant nothing
    #: (RFC 8506 §5.1.1); an RSU without units asks the server to pick the amount.
    requested: ServiceUnits | None = None
    used: tuple[ServiceUnits, ...] = ()
    reporting_reason: int | None = None  #: 3GPP Reporting-Reason at MSCC level
    avp: Avp | None = None  #: the MSCC as received, for a Failed-AVP


class CreditControlRequest(NamedTuple):
    """What an OCS reads from a CCR. NamedTuples here, as in `units`, for build speed."""

    session_id: str
    origin_host: str
    origin_realm: str
    destination_realm: str
    auth_application_id: int
    service_context_id: str
    cc_request_type: CcRequestType
    cc_request_number: int
    destination_host: str | None = None
    requested_action: RequestedAction | None = None
    event_timestamp: Avp | None = None
    #: (Subscription-Id-Type, Subscription-Id-Data) in the order received
    subscription_ids: tuple[tuple[int, str], ...] = ()
    user_name: str | None = None
    origin_state_id: int | None = None
    termination_cause: int | None = None
    multiple_services_indicator: int | None = None
    multiple_services_credit_control: tuple[MultipleServicesCreditControl, ...] = ()
    #: single-service credit control (RFC 8506 §5.1): units at command level
    requested_service_unit: ServiceUnits | None = None
    used_service_units: tuple[ServiceUnits, ...] = ()
    service_identifier: int | None = None
    rating_group: int | None = None
    #: Service-Information (3GPP, kept raw: decoded only if rating needs it)
    service_information: Avp | None = None
    #: the request's own Session-Id AVP bytes, echoed verbatim in the answer
    session_id_avp: bytes = b""

    @property
    def msisdn(self) -> str | None:
        return self.subscription(SubscriptionIdType.END_USER_E164)

    @property
    def imsi(self) -> str | None:
        return self.subscription(SubscriptionIdType.END_USER_IMSI)

    def subscription(self, kind: SubscriptionIdType) -> str | None:
        for sub_type, data in self.subscription_ids:
            if sub_type == kind:
                return data
        return None


def _bad(result_code: ResultCode, avp: Avp, why: str) -> AvpError:
    return AvpError(why, result_code=result_code, failed_avp=avp.encode())


def _unknown_mandatory(avp: Avp) -> None:
    if avp.flags & 0x40 and lookup(avp.code, avp.vendor_id) is None:
        raise _bad(ResultCode.DIAMETER_AVP_UNSUPPORTED, avp, f"unknown mandatory AVP {avp.code}")


def text_value(avp: Avp) -> str:
    """A UTF8String value; 5004 with the AVP when it is not UTF-8."""
    try:
        return avp.data.decode()
    except UnicodeDecodeError:
        raise _bad(ResultCode.DIAMETER_INVALID_AVP_VALUE, avp, "invalid UTF-8") from None


def u32_value(avp: Avp) -> int:
    """An Unsigned32/Enumerated value; 5014 with the AVP when it is not 4 bytes."""
    if len(avp.data) != 4:
        raise _bad(ResultCode.DIAMETER_INVALID_AVP_LENGTH, avp, f"AVP {avp.code} is not 4 bytes")
    return int(_U32.unpack(avp.data)[0])


def parse_mscc(avp: Avp) -> MultipleServicesCreditControl:
    rating_group: int | None = None
    services: list[int] = []
    requested: ServiceUnits | None = None
    used: list[ServiceUnits] = []
    reason: int | None = None
    for child in decode_avps(avp):
        code = child.code
        if child.vendor_id:
            if child.vendor_id == VENDOR_3GPP and code == _3GPP_REPORTING_REASON:
                reason = u32_value(child)
            else:
                _unknown_mandatory(child)
        elif code == _RATING_GROUP:
            rating_group = u32_value(child)
        elif code == _USED_SERVICE_UNIT:
            used.append(decode_units(child))
        elif code == _REQUESTED_SERVICE_UNIT:
            requested = decode_units(child)
        elif code == _SERVICE_IDENTIFIER:
            services.append(u32_value(child))
        else:
            _unknown_mandatory(child)
    return _new(
        MultipleServicesCreditControl,
        (rating_group, tuple(services), requested, tuple(used), reason, avp),
    )


def _subscription_id(avp: Avp) -> tuple[int, str]:
    sub_type: int | None = None
    data: str | None = None
    for child in decode_avps(avp):
        if child.code == _SUBSCRIPTION_ID_TYPE and not child.vendor_id:
            sub_type = u32_value(child)
        elif child.code == _SUBSCRIPTION_ID_DATA and not child.vendor_id:
            data = text_value(child)
    if sub_type is None:
        raise missing("Subscription-Id-Type")
    if data is None:
        raise missing("Subscription-Id-Data")
    return sub_type, data


def parse_ccr(message: Message) -> CreditControlRequest:
    """Read a Credit-Control-Request in one pass over its bytes.

    The top level is scanned in place: single-valued AVPs are remembered by offset and
    read straight from the bytes, so no `Avp` is built for them (the OCS hot path;
    see benchmarks/bench_codec.py). Grouped AVPs are split with `decode_avps`.

    Raises:
        AvpError: 5005/5004/5014/5009/5001/3009 with the Failed-AVP to answer with.
    """
    raw = message.raw if message.raw is not None else message.encode()
    end = len(raw)
    offset = 20
    at: dict[int, int] = {}  # code -> offset of the single-valued AVPs
    subs: list[tuple[int, str]] = []
    msccs: list[MultipleServicesCreditControl] = []
    used: list[ServiceUnits] = []
    requested: ServiceUnits | None = None
    service_information: Avp | None = None
    single = _SINGLE
    while offset < end:
        if end - offset < 8:
            decode_avps(raw, offset, end)  # raises the 5014 with its Failed-AVP
        code, fl = _HEADER(raw, offset)
        length = fl & 0xFFFFFF
        if fl & 0x9F000000 or length < 8 or offset + length > end:
            # vendor AVPs, reserved bits and bad lengths take the general path
            (avp,) = decode_avps(raw[offset : offset + ((length + 3) & ~3)])
            if avp.vendor_id == _VENDOR_3GPP and code == _3GPP_SERVICE_INFORMATION:
                service_information = avp
            else:
                _unknown_mandatory(avp)
        elif code in single:
            if code in at:
                raise _bad(
                    ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                    _avp_at(raw, offset),
                    f"AVP {code} occurs twice",
                )
            at[code] = offset
        elif code == _MULTIPLE_SERVICES_CREDIT_CONTROL:
            msccs.append(parse_mscc(_avp_at(raw, offset)))
        elif code == _SUBSCRIPTION_ID:
            subs.append(_subscription_id(_avp_at(raw, offset)))
        elif code == _USED_SERVICE_UNIT:
            used.append(decode_units(_avp_at(raw, offset)))
        elif code == _REQUESTED_SERVICE_UNIT:
            requested = decode_units(_avp_at(raw, offset))
        elif fl & 0x40000000 and lookup(code, 0) is None:
            _unknown_mandatory(_avp_at(raw, offset))
        offset += (length + 3) & ~3
    if len(at) < 8 or not at.keys() >= _REQUIRED_CODES:
        for code in _CCR_REQUIRED:
            if code not in at:
                raise missing((code, 0))
    request_type = _u32_at(raw, at[_CC_REQUEST_TYPE])
    if not 1 <= request_type <= 4:
        raise _bad(
            ResultCode.DIAMETER_INVALID_AVP_VALUE,
            _avp_at(raw, at[_CC_REQUEST_TYPE]),
            "CC-Request-Type",
        )
    action: RequestedAction | None = None
    if (action_at := at.get(_REQUESTED_ACTION)) is not None:
        value = _u32_at(raw, action_at)
        if not 0 <= value <= 3:
            raise _bad(
                ResultCode.DIAMETER_INVALID_AVP_VALUE, _avp_at(raw, action_at), "Requested-Action"
            )
        action = _REQUESTED_ACTIONS[value]
    session_at = at[_SESSION_ID]
    get = at.get
    # positional, in field order: tuple.__new__ skips NamedTuple's keyword handling
    return _new(
        CreditControlRequest,
        (
            _text_at(raw, session_at),
            _text_at(raw, at[_ORIGIN_HOST]),
            _text_at(raw, at[_ORIGIN_REALM]),
            _text_at(raw, at[_DESTINATION_REALM]),
            _u32_at(raw, at[_AUTH_APPLICATION_ID]),
            _text_at(raw, at[_SERVICE_CONTEXT_ID]),
            _REQUEST_TYPES[request_type],
            _u32_at(raw, at[_CC_REQUEST_NUMBER]),
            _optional_text(raw, get(_DESTINATION_HOST)),
            action,
            None if (ts := get(_EVENT_TIMESTAMP)) is None else _avp_at(raw, ts),
            tuple(subs),
            _optional_text(raw, get(_USER_NAME)),
            _optional_u32(raw, get(_ORIGIN_STATE_ID)),
            _optional_u32(raw, get(_TERMINATION_CAUSE)),
            _optional_u32(raw, get(_MULTIPLE_SERVICES_INDICATOR)),
            tuple(msccs),
            requested,
            tuple(used),
            _optional_u32(raw, get(_SERVICE_IDENTIFIER)),
            _optional_u32(raw, get(_RATING_GROUP)),
            service_information,
            raw[session_at : session_at + ((_HEADER(raw, session_at)[1] & 0xFFFFFF) + 3 & ~3)],
        ),
    )


def _avp_at(raw: bytes, offset: int) -> Avp:
    """The vendor-less AVP at ``offset`` (its length was checked by the scan)."""
    code, fl = _HEADER(raw, offset)
    return Avp(code, fl >> 24, raw[offset + 8 : offset + (fl & 0xFFFFFF)], 0)


def _u32_at(raw: bytes, offset: int) -> int:
    code, fl = _HEADER(raw, offset)
    if fl & 0xFFFFFF != 12:
        raise _bad(
            ResultCode.DIAMETER_INVALID_AVP_LENGTH,
            _avp_at(raw, offset),
            f"AVP {code} is not 4 bytes",
        )
    return int(_U32.unpack_from(raw, offset + 8)[0])


def _text_at(raw: bytes, offset: int) -> str:
    length = _HEADER(raw, offset)[1] & 0xFFFFFF
    try:
        return raw[offset + 8 : offset + length].decode()
    except UnicodeDecodeError:
        raise _bad(
            ResultCode.DIAMETER_INVALID_AVP_VALUE, _avp_at(raw, offset), "invalid UTF-8"
        ) from None


def _optional_text(raw: bytes, offset: int | None) -> str | None:
    return None if offset is None else _text_at(raw, offset)


def _optional_u32(raw: bytes, offset: int | None) -> int | None:
    return None if offset is None else _u32_at(raw, offset)


_REQUEST_TYPES = {t.value: t for t in CcRequestType}
_REQUESTED_ACTIONS = {a.value: a for a in RequestedAction}
_REQUIRED_CODES = frozenset(_CCR_REQUIRED)
_VENDOR_3GPP = VENDOR_3GPP
_HEADER = struct.Struct(">II").unpack_from
_new = tuple.__new__


#: command-level AVPs that may occur at most once in a CCR (RFC 8506 §3.1)
_SINGLE = frozenset(
    {
        AvpCode.SESSION_ID,
        AvpCode.ORIGIN_HOST,
        AvpCode.ORIGIN_REALM,
        AvpCode.DESTINATION_REALM,
        AvpCode.AUTH_APPLICATION_ID,
        AvpCode.SERVICE_CONTEXT_ID,
        AvpCode.CC_REQUEST_TYPE,
        AvpCode.CC_REQUEST_NUMBER,
        AvpCode.DESTINATION_HOST,
        AvpCode.USER_NAME,
        AvpCode.CC_SUB_SESSION_ID,
        AvpCode.ACCT_APPLICATION_ID,
        AvpCode.ORIGIN_STATE_ID,
        AvpCode.EVENT_TIMESTAMP,
        AvpCode.TERMINATION_CAUSE,
        AvpCode.REQUESTED_ACTION,
        AvpCode.MULTIPLE_SERVICES_INDICATOR,
        AvpCode.SERVICE_IDENTIFIER,
        AvpCode.RATING_GROUP,
        AvpCode.CC_CORRELATION_ID,
        AvpCode.USER_EQUIPMENT_INFO,
    }
)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class RedirectServer:
    address_type: RedirectAddressType
    address: str


@dataclass(frozen=True, slots=True)
class FinalUnitIndication:
    action: FinalUnitAction
    redirect_server: RedirectServer | None = None
    restriction_filter_rules: tuple[str, ...] = ()
    filter_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MsccAnswer:
    """What the OCS decided for one rating group."""

    rating_group: int | None
    result_code: int = ResultCode.DIAMETER_SUCCESS
    service_identifiers: tuple[int, ...] = ()
    granted: ServiceUnits | None = None
    validity_time: int | None = None
    final_unit_indication: FinalUnitIndication | None = None
    volume_quota_threshold: int | None = None
    time_quota_threshold: int | None = None
    quota_holding_time: int | None = None


def _u32_avp(code: int, value: int) -> bytes:
    return encode_avp(code, _U32.pack(value))


def _vendor_u32_avp(code: int, value: int) -> bytes:
    return encode_avp(code, _U32.pack(value), flags=0xC0, vendor_id=VENDOR_3GPP)


def encode_final_unit_indication(fui: FinalUnitIndication) -> bytes:
    body = _u32_avp(AvpCode.FINAL_UNIT_ACTION, fui.action)
    body += b"".join(
        encode_avp(AvpCode.RESTRICTION_FILTER_RULE, r.encode())
        for r in fui.restriction_filter_rules
    )
    body += b"".join(encode_avp(11, f.encode()) for f in fui.filter_ids)  # Filter-Id
    if fui.redirect_server is not None:
        body += encode_avp(
            AvpCode.REDIRECT_SERVER,
            _u32_avp(AvpCode.REDIRECT_ADDRESS_TYPE, fui.redirect_server.address_type)
            + encode_avp(AvpCode.REDIRECT_SERVER_ADDRESS, fui.redirect_server.address.encode()),
        )
    return encode_avp(AvpCode.FINAL_UNIT_INDICATION, body)


def encode_mscc(answer: MsccAnswer) -> bytes:
    """One answer MSCC in the RFC 8506 §8.16 order, with the TS 32.299 additions."""
    body = []
    if answer.granted is not None:
        body.append(encode_units(AvpCode.GRANTED_SERVICE_UNIT, answer.granted))
    body.extend(_u32_avp(AvpCode.SERVICE_IDENTIFIER, s) for s in answer.service_identifiers)
    if answer.rating_group is not None:
        body.append(_u32_avp(AvpCode.RATING_GROUP, answer.rating_group))
    if answer.validity_time is not None:
        body.append(_u32_avp(AvpCode.VALIDITY_TIME, answer.validity_time))
    body.append(_u32_avp(AvpCode.RESULT_CODE, answer.result_code))
    if answer.final_unit_indication is not None:
        body.append(encode_final_unit_indication(answer.final_unit_indication))
    if answer.time_quota_threshold is not None:
        body.append(_vendor_u32_avp(Avp3gpp.TIME_QUOTA_THRESHOLD, answer.time_quota_threshold))
    if answer.volume_quota_threshold is not None:
        body.append(_vendor_u32_avp(Avp3gpp.VOLUME_QUOTA_THRESHOLD, answer.volume_quota_threshold))
    if answer.quota_holding_time is not None:
        body.append(_vendor_u32_avp(Avp3gpp.QUOTA_HOLDING_TIME, answer.quota_holding_time))
    return encode_avp(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL, b"".join(body))


def encode_cost_information(money: Money, cost_unit: str | None = None) -> bytes:
    """Cost-Information (RFC 8506 §8.7) for PRICE_ENQUIRY and advice of charge."""
    if money.currency_code is None:
        raise ValueError("Cost-Information needs a Currency-Code")
    body = encode_unit_value(money) + encode_currency_code(money)
    if cost_unit is not None:
        body += encode_avp(AvpCode.COST_UNIT, cost_unit.encode())
    return encode_avp(AvpCode.COST_INFORMATION, body)


def encode_remaining_balance(money: Money) -> bytes:
    """3GPP Remaining-Balance (TS 32.299 §7.2.183): Unit-Value + Currency-Code."""
    return encode_avp(
        Avp3gpp.REMAINING_BALANCE,
        encode_unit_value(money) + encode_currency_code(money),
        flags=0xC0,
        vendor_id=VENDOR_3GPP,
    )


class CcaEncoder:
    """Writes Credit-Control-Answers; the AVPs that never change are encoded once."""

    def __init__(
        self, *, origin_host: str, origin_realm: str, origin_state_id: int | None = None
    ) -> None:
        self._identity = encode_avp(AvpCode.ORIGIN_HOST, origin_host.encode()) + encode_avp(
            AvpCode.ORIGIN_REALM, origin_realm.encode()
        )
        self._auth_application = _u32_avp(
            AvpCode.AUTH_APPLICATION_ID, ApplicationId.DIAMETER_CREDIT_CONTROL
        )
        self._state = (
            _u32_avp(AvpCode.ORIGIN_STATE_ID, origin_state_id)
            if origin_state_id is not None
            else b""
        )
        self._results: dict[int, bytes] = {
            code: _u32_avp(AvpCode.RESULT_CODE, code) for code in ResultCode
        }
        self._request_types = {t: _u32_avp(AvpCode.CC_REQUEST_TYPE, t) for t in CcRequestType}

    def encode(
        self,
        request: CreditControlRequest,
        *,
        flags: int,
        hop_by_hop: int,
        end_to_end: int,
        result_code: int = ResultCode.DIAMETER_SUCCESS,
        msccs: Sequence[MsccAnswer] = (),
        extra: bytes = b"",
    ) -> bytes:
        """The CCA for ``request``; ``flags`` are the request's (P is copied, R cleared).

        ``extra`` carries already-encoded optional AVPs (Cost-Information,
        Low-Balance-Indication, Remaining-Balance, Check-Balance-Result, Failed-AVP...).
        """
        result = self._results.get(result_code) or _u32_avp(AvpCode.RESULT_CODE, result_code)
        body = b"".join(
            [
                request.session_id_avp
                or encode_avp(AvpCode.SESSION_ID, request.session_id.encode()),
                result,
                self._identity,
                self._auth_application,
                self._request_types[request.cc_request_type],
                _u32_avp(AvpCode.CC_REQUEST_NUMBER, request.cc_request_number),
                self._state,
                *[encode_mscc(m) for m in msccs],
                extra,
            ]
        )
        answer_flags = flags & HeaderFlag.PROXIABLE
        if ResultCode.DIAMETER_COMMAND_UNSUPPORTED <= result_code < 4000:
            answer_flags |= HeaderFlag.ERROR
        return encode_message(
            CommandCode.CREDIT_CONTROL,
            answer_flags,
            ApplicationId.DIAMETER_CREDIT_CONTROL,
            hop_by_hop,
            end_to_end,
            body,
        )
