"""The client side of credit control: `encode_ccr` and `parse_cca` (RFC 8506 §3).

What lives here: what a gateway (our simulator) needs to ask for credit and read the
answer. What must not: anything the OCS hot path uses (that is `credit_control`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from . import codec
from .codec import Avp, Message, decode_avps, decode_unsigned32, encode_avp, encode_message
from .codes import (
    VENDOR_3GPP,
    ApplicationId,
    Avp3gpp,
    AvpCode,
    CcRequestType,
    CommandCode,
    FinalUnitAction,
    HeaderFlag,
    RequestedAction,
)
from .credit_control import text_value
from .grammar import missing
from .units import Money, ServiceUnits, decode_units, encode_units

_U32 = struct.Struct(">I")


def _u32_avp(code: int, value: int) -> bytes:
    return encode_avp(code, _U32.pack(value))


def _vendor_u32_avp(code: int, value: int) -> bytes:
    return encode_avp(code, _U32.pack(value), flags=0xC0, vendor_id=VENDOR_3GPP)


@dataclass(frozen=True, slots=True)
class MsccResult:
    """One MSCC of a CCA as a client reads it."""

    rating_group: int | None
    result_code: int | None
    service_identifiers: tuple[int, ...] = ()
    granted: ServiceUnits | None = None
    validity_time: int | None = None
    final_unit_action: FinalUnitAction | None = None
    redirect_address: str | None = None
    volume_quota_threshold: int | None = None
    time_quota_threshold: int | None = None
    quota_holding_time: int | None = None


@dataclass(frozen=True, slots=True)
class CreditControlAnswer:
    session_id: str
    result_code: int
    origin_host: str
    origin_realm: str
    auth_application_id: int
    cc_request_type: int
    cc_request_number: int
    multiple_services_credit_control: tuple[MsccResult, ...] = ()
    granted_service_unit: ServiceUnits | None = None
    validity_time: int | None = None
    check_balance_result: int | None = None
    cost_information: Money | None = None
    low_balance_indication: int | None = None
    remaining_balance: Money | None = None
    failed_avp: Avp | None = None


def _fui(avp: Avp) -> tuple[FinalUnitAction | None, str | None]:
    action: FinalUnitAction | None = None
    address: str | None = None
    for child in decode_avps(avp):
        if child.code == AvpCode.FINAL_UNIT_ACTION and not child.vendor_id:
            action = FinalUnitAction(decode_unsigned32(child))
        elif child.code == AvpCode.REDIRECT_SERVER and not child.vendor_id:
            for part in decode_avps(child):
                if part.code == AvpCode.REDIRECT_SERVER_ADDRESS:
                    address = text_value(part)
    return action, address


def _mscc_result(avp: Avp) -> MsccResult:
    rating_group = result = validity = volume = time = holding = None
    granted: ServiceUnits | None = None
    action: FinalUnitAction | None = None
    address: str | None = None
    services: list[int] = []
    for child in decode_avps(avp):
        code, vendor = child.code, child.vendor_id
        if vendor == VENDOR_3GPP:
            if code == Avp3gpp.VOLUME_QUOTA_THRESHOLD:
                volume = decode_unsigned32(child)
            elif code == Avp3gpp.TIME_QUOTA_THRESHOLD:
                time = decode_unsigned32(child)
            elif code == Avp3gpp.QUOTA_HOLDING_TIME:
                holding = decode_unsigned32(child)
        elif vendor:
            continue
        elif code == AvpCode.RATING_GROUP:
            rating_group = decode_unsigned32(child)
        elif code == AvpCode.RESULT_CODE:
            result = decode_unsigned32(child)
        elif code == AvpCode.SERVICE_IDENTIFIER:
            services.append(decode_unsigned32(child))
        elif code == AvpCode.GRANTED_SERVICE_UNIT:
            granted = decode_units(child)
        elif code == AvpCode.VALIDITY_TIME:
            validity = decode_unsigned32(child)
        elif code == AvpCode.FINAL_UNIT_INDICATION:
            action, address = _fui(child)
    return MsccResult(
        rating_group,
        result,
        tuple(services),
        granted,
        validity,
        action,
        address,
        volume_quota_threshold=volume,
        time_quota_threshold=time,
        quota_holding_time=holding,
    )


def _money_group(avp: Avp) -> Money:
    digits, exponent, currency = 0, 0, None
    for child in decode_avps(avp):
        if child.code == AvpCode.UNIT_VALUE and not child.vendor_id:
            for part in decode_avps(child):
                if part.code == AvpCode.VALUE_DIGITS and len(part.data) == 8:
                    digits = int.from_bytes(part.data, "big", signed=True)
                elif part.code == AvpCode.EXPONENT and len(part.data) == 4:
                    exponent = int.from_bytes(part.data, "big", signed=True)
        elif child.code == AvpCode.CURRENCY_CODE and not child.vendor_id:
            currency = decode_unsigned32(child)
    return Money(digits, exponent, currency)


_CCA_REQUIRED = (
    AvpCode.SESSION_ID,
    AvpCode.RESULT_CODE,
    AvpCode.ORIGIN_HOST,
    AvpCode.ORIGIN_REALM,
    AvpCode.AUTH_APPLICATION_ID,
    AvpCode.CC_REQUEST_TYPE,
    AvpCode.CC_REQUEST_NUMBER,
)


_ERROR_REQUIRED = (AvpCode.RESULT_CODE, AvpCode.ORIGIN_HOST, AvpCode.ORIGIN_REALM)


def parse_cca(message: Message) -> CreditControlAnswer:
    """Read a Credit-Control-Answer (RFC 8506 §3.2) as a client does.

    An error answer (E bit, RFC 6733 §7.2) may lack Session-Id, Auth-Application-Id and
    CC-Request-Type/Number: those read as "" and 0 rather than being refused, so the
    client can still match the answer by hop-by-hop id.
    """
    single: dict[int, Avp] = {}
    msccs: list[MsccResult] = []
    extra: dict[str, object] = {}
    for avp in message.avps:
        code, vendor = avp.code, avp.vendor_id
        if vendor == VENDOR_3GPP:
            if code == Avp3gpp.LOW_BALANCE_INDICATION:
                extra["low_balance_indication"] = decode_unsigned32(avp)
            elif code == Avp3gpp.REMAINING_BALANCE:
                extra["remaining_balance"] = _money_group(avp)
        elif vendor:
            continue
        elif code == AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL:
            msccs.append(_mscc_result(avp))
        elif code == AvpCode.GRANTED_SERVICE_UNIT:
            extra["granted_service_unit"] = decode_units(avp)
        elif code == AvpCode.COST_INFORMATION:
            extra["cost_information"] = _money_group(avp)
        elif code == AvpCode.FAILED_AVP:
            extra["failed_avp"] = avp
        else:
            single.setdefault(code, avp)
    # An error answer is the generic answer-message (RFC 6733 §7.2): only Origin-Host,
    # Origin-Realm and Result-Code are certain to be there.
    required = _ERROR_REQUIRED if message.is_error else _CCA_REQUIRED
    for code in required:
        if code not in single:
            raise missing((code, 0))

    def number(code: int) -> int | None:
        avp = single.get(code)
        return None if avp is None else decode_unsigned32(avp)

    return CreditControlAnswer(
        session_id=text_value(single[AvpCode.SESSION_ID]) if AvpCode.SESSION_ID in single else "",
        result_code=decode_unsigned32(single[AvpCode.RESULT_CODE]),
        origin_host=text_value(single[AvpCode.ORIGIN_HOST]),
        origin_realm=text_value(single[AvpCode.ORIGIN_REALM]),
        auth_application_id=number(AvpCode.AUTH_APPLICATION_ID) or 0,
        cc_request_type=number(AvpCode.CC_REQUEST_TYPE) or 0,
        cc_request_number=number(AvpCode.CC_REQUEST_NUMBER) or 0,
        multiple_services_credit_control=tuple(msccs),
        validity_time=number(AvpCode.VALIDITY_TIME),
        check_balance_result=number(AvpCode.CHECK_BALANCE_RESULT),
        **extra,  # type: ignore[arg-type]
    )


#: an empty Requested-Service-Unit: "grant what you see fit"
ASK = ServiceUnits()


@dataclass(frozen=True, slots=True)
class MsccRequest:
    """One MSCC a client sends: what it used and what it asks for."""

    rating_group: int | None = None
    service_identifiers: tuple[int, ...] = ()
    #: None sends no RSU (RFC 8506 §5.1.1: debit only); the default asks for a grant
    requested: ServiceUnits | None = ASK
    used: tuple[ServiceUnits, ...] = ()
    reporting_reason: int | None = None


def encode_ccr(
    *,
    session_id: str,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    service_context_id: str,
    cc_request_type: CcRequestType,
    cc_request_number: int,
    hop_by_hop: int,
    end_to_end: int,
    destination_host: str | None = None,
    subscription_ids: Sequence[tuple[int, str]] = (),
    requested_action: RequestedAction | None = None,
    multiple_services_indicator: int | None = None,
    msccs: Sequence[MsccRequest] = (),
    requested_service_unit: ServiceUnits | None = None,
    used_service_units: Sequence[ServiceUnits] = (),
    termination_cause: int | None = None,
    event_timestamp: int | None = None,
    origin_state_id: int | None = None,
    retransmission: bool = False,
    extra: bytes = b"",
) -> bytes:
    """A Credit-Control-Request in the RFC 8506 §3.1 order (the simulator's encoder)."""
    parts = [
        encode_avp(AvpCode.SESSION_ID, session_id.encode()),
        encode_avp(AvpCode.ORIGIN_HOST, origin_host.encode()),
        encode_avp(AvpCode.ORIGIN_REALM, origin_realm.encode()),
        encode_avp(AvpCode.DESTINATION_REALM, destination_realm.encode()),
        _u32_avp(AvpCode.AUTH_APPLICATION_ID, ApplicationId.DIAMETER_CREDIT_CONTROL),
        encode_avp(AvpCode.SERVICE_CONTEXT_ID, service_context_id.encode()),
        _u32_avp(AvpCode.CC_REQUEST_TYPE, cc_request_type),
        _u32_avp(AvpCode.CC_REQUEST_NUMBER, cc_request_number),
    ]
    if destination_host is not None:
        parts.append(encode_avp(AvpCode.DESTINATION_HOST, destination_host.encode()))
    if origin_state_id is not None:
        parts.append(_u32_avp(AvpCode.ORIGIN_STATE_ID, origin_state_id))
    if event_timestamp is not None:
        parts.append(encode_avp(AvpCode.EVENT_TIMESTAMP, codec.encode_time(event_timestamp)))
    for sub_type, data in subscription_ids:
        parts.append(
            encode_avp(
                AvpCode.SUBSCRIPTION_ID,
                _u32_avp(AvpCode.SUBSCRIPTION_ID_TYPE, sub_type)
                + encode_avp(AvpCode.SUBSCRIPTION_ID_DATA, data.encode()),
            )
        )
    if termination_cause is not None:
        parts.append(_u32_avp(AvpCode.TERMINATION_CAUSE, termination_cause))
    if requested_service_unit is not None:
        parts.append(encode_units(AvpCode.REQUESTED_SERVICE_UNIT, requested_service_unit))
    if requested_action is not None:
        parts.append(_u32_avp(AvpCode.REQUESTED_ACTION, requested_action))
    parts.extend(encode_units(AvpCode.USED_SERVICE_UNIT, u) for u in used_service_units)
    if multiple_services_indicator is not None:
        parts.append(_u32_avp(AvpCode.MULTIPLE_SERVICES_INDICATOR, multiple_services_indicator))
    for mscc in msccs:
        body = []
        if mscc.requested is not None:
            body.append(encode_units(AvpCode.REQUESTED_SERVICE_UNIT, mscc.requested))
        body.extend(encode_units(AvpCode.USED_SERVICE_UNIT, u) for u in mscc.used)
        body.extend(_u32_avp(AvpCode.SERVICE_IDENTIFIER, s) for s in mscc.service_identifiers)
        if mscc.rating_group is not None:
            body.append(_u32_avp(AvpCode.RATING_GROUP, mscc.rating_group))
        if mscc.reporting_reason is not None:
            body.append(_vendor_u32_avp(Avp3gpp.REPORTING_REASON, mscc.reporting_reason))
        parts.append(encode_avp(AvpCode.MULTIPLE_SERVICES_CREDIT_CONTROL, b"".join(body)))
    parts.append(extra)
    flags = HeaderFlag.REQUEST | HeaderFlag.PROXIABLE
    if retransmission:
        flags |= HeaderFlag.RETRANSMITTED
    return encode_message(
        CommandCode.CREDIT_CONTROL,
        flags,
        ApplicationId.DIAMETER_CREDIT_CONTROL,
        hop_by_hop,
        end_to_end,
        b"".join(parts),
    )
