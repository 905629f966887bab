"""Capabilities exchange content: what a node advertises in CER/CEA (RFC 6733 §5.3).

What lives here: `Capabilities` (our side, encoded once), `parse_capabilities` (the
remote's, from its CER or CEA) and `common_applications`. What must not: the state
machine that sends and answers them (`peer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import (
    Message,
    decode_address,
    decode_avps,
    decode_identity,
    decode_unsigned32,
    decode_utf8,
    encode_address,
    encode_avp,
)
from .codes import VENDOR_3GPP, ApplicationId, AvpCode
from .events import PeerOpened
from .grammar import missing

_M = 0x40


_RELAY = int(ApplicationId.RELAY)


def _u32(code: int, value: int, *, mandatory: bool = True) -> bytes:
    return encode_avp(code, (value & 0xFFFFFFFF).to_bytes(4, "big"), flags=_M if mandatory else 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a node advertises in CER and CEA (RFC 6733 §5.3.1, §5.3.2).

    ``host_ip_addresses`` lists every local address, one Host-IP-Address each (SCTP
    requires them all). The default advertises Auth-Application-Id 4, the
    credit-control application, and 3GPP as a supported vendor (TS 32.299).
    Inband-Security-Id is not sent: RFC 6733 deprecates it in favour of TLS on 5868.
    """

    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...]
    product_name: str = "mvno-ocs"
    vendor_id: int = 0
    firmware_revision: int | None = None
    origin_state_id: int | None = None
    supported_vendor_ids: tuple[int, ...] = (VENDOR_3GPP,)
    auth_application_ids: tuple[int, ...] = (ApplicationId.DIAMETER_CREDIT_CONTROL,)
    acct_application_ids: tuple[int, ...] = ()
    #: (Vendor-Id, Auth-Application-Id) pairs sent as Vendor-Specific-Application-Id
    vendor_specific_application_ids: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.host_ip_addresses:
            raise ValueError("at least one Host-IP-Address is required (RFC 6733 §5.3.1)")

    @property
    def applications(self) -> frozenset[int]:
        vsai = (app for _vendor, app in self.vendor_specific_application_ids)
        return frozenset((*self.auth_application_ids, *self.acct_application_ids, *vsai))

    def encode(self) -> bytes:
        """The AVPs of CER, and of CEA after its Result-Code, in CCF order."""
        parts = [
            encode_avp(AvpCode.ORIGIN_HOST, self.origin_host.encode()),
            encode_avp(AvpCode.ORIGIN_REALM, self.origin_realm.encode()),
            *(
                encode_avp(AvpCode.HOST_IP_ADDRESS, encode_address(a))
                for a in self.host_ip_addresses
            ),
            _u32(AvpCode.VENDOR_ID, self.vendor_id),
            encode_avp(AvpCode.PRODUCT_NAME, self.product_name.encode(), flags=0),
        ]
        if self.origin_state_id is not None:
            parts.append(_u32(AvpCode.ORIGIN_STATE_ID, self.origin_state_id))
        parts += [_u32(AvpCode.SUPPORTED_VENDOR_ID, v) for v in self.supported_vendor_ids]
        parts += [_u32(AvpCode.AUTH_APPLICATION_ID, a) for a in self.auth_application_ids]
        parts += [_u32(AvpCode.ACCT_APPLICATION_ID, a) for a in self.acct_application_ids]
        parts += [
            encode_avp(
                AvpCode.VENDOR_SPECIFIC_APPLICATION_ID,
                _u32(AvpCode.VENDOR_ID, vendor) + _u32(AvpCode.AUTH_APPLICATION_ID, app),
            )
            for vendor, app in self.vendor_specific_application_ids
        ]
        if self.firmware_revision is not None:
            parts.append(_u32(AvpCode.FIRMWARE_REVISION, self.firmware_revision, mandatory=False))
        return b"".join(parts)


def common_applications(local: frozenset[int], remote: frozenset[int]) -> frozenset[int]:
    """The applications both sides serve; a relay (0xffffffff) carries every one."""
    if _RELAY in remote:
        return (local - {_RELAY}) or frozenset({_RELAY})
    if _RELAY in local:
        return remote
    return local & remote


def parse_capabilities(message: Message, local_apps: frozenset[int]) -> PeerOpened:
    """The remote capabilities advertised in a CER or CEA (RFC 6733 §5.3.1, §5.3.2).

    Applications count from Auth-Application-Id, Acct-Application-Id and the ones
    inside Vendor-Specific-Application-Id; vendor-specific AVPs are skipped.

    Raises:
        AvpError: 5005 for a missing required AVP, 5004/5014 for a malformed one.
    """
    host = realm = product = None
    vendor = state_id = firmware = None
    ips: list[str] = []
    supported: set[int] = set()
    apps: set[int] = set()
    for avp in message.avps:
        code = avp.code
        if avp.vendor_id:
            continue
        if code == AvpCode.ORIGIN_HOST:
            host = decode_identity(avp)
        elif code == AvpCode.ORIGIN_REALM:
            realm = decode_identity(avp)
        elif code == AvpCode.HOST_IP_ADDRESS:
            addr = decode_address(avp)
            ips.append(f"{addr[0]}:{addr[1].hex()}" if isinstance(addr, tuple) else str(addr))
        elif code == AvpCode.VENDOR_ID:
            vendor = decode_unsigned32(avp)
        elif code == AvpCode.PRODUCT_NAME:
            product = decode_utf8(avp)
        elif code == AvpCode.ORIGIN_STATE_ID:
            state_id = decode_unsigned32(avp)
        elif code == AvpCode.FIRMWARE_REVISION:
            firmware = decode_unsigned32(avp)
        elif code == AvpCode.SUPPORTED_VENDOR_ID:
            supported.add(decode_unsigned32(avp))
        elif code in (AvpCode.AUTH_APPLICATION_ID, AvpCode.ACCT_APPLICATION_ID):
            apps.add(decode_unsigned32(avp))
        elif code == AvpCode.VENDOR_SPECIFIC_APPLICATION_ID:
            apps.update(
                decode_unsigned32(child)
                for child in decode_avps(avp)
                if child.code in (AvpCode.AUTH_APPLICATION_ID, AvpCode.ACCT_APPLICATION_ID)
                and not child.vendor_id
            )
    if host is None:
        raise missing((AvpCode.ORIGIN_HOST, 0))
    if realm is None:
        raise missing((AvpCode.ORIGIN_REALM, 0))
    if not ips:
        raise missing((AvpCode.HOST_IP_ADDRESS, 0))
    if vendor is None:
        raise missing((AvpCode.VENDOR_ID, 0))
    if product is None:
        raise missing((AvpCode.PRODUCT_NAME, 0))
    return PeerOpened(
        origin_host=host,
        origin_realm=realm,
        origin_state_id=state_id,
        applications=frozenset(apps),
        common_applications=common_applications(local_apps, frozenset(apps)),
        vendor_id=vendor,
        supported_vendor_ids=frozenset(supported),
        host_ip_addresses=tuple(ips),
        product_name=product,
        firmware_revision=firmware,
    )
