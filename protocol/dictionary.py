"""The AVP dictionary and the command grammars, as data.

What lives here: one row per AVP (code, vendor, name, type, M-bit rule, enumerated
value names) for RFC 6733 (base), RFC 8506 (credit control, including 653-669), the
few other IETF AVPs the Gy/Ro profile carries (RFC 7155, RFC 5777, RFC 7683,
RFC 7944) and the TS 32.299 / TS 29.061 / TS 29.212 / TS 29.214 / TS 29.229
vendor-10415 set that Gy and Ro clients send; the grouped AVP and command grammars
(which children, how many, which are required, which are fixed in position) from the
RFCs' CCF/ABNF and TS 32.299 §6.4 / §7; the generic answer-message of RFC 6733 §7.2;
O(1) lookups by (code, vendor), by name, by grouped name and by command. Everything
is checked for consistency at import (no (code, vendor) or name twice, every grammar
name defined, every Grouped AVP has a grammar), so a bad table fails loudly and early.
What must not: any decoding or encoding (that is `codec`) and any validation logic
beyond lookups (that is `grammar`).

The tables are plain text so they diff line by line against the RFC tables
(RFC 6733 §4.5, RFC 8506 §8, TS 32.299 §7) and the CCFs. This is a table file: it is
longer than the usual module (over 800 lines) because it is mostly data.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .codes import VENDOR_3GPP


class AvpType(enum.Enum):
    """Basic and derived AVP data formats (RFC 6733 §4.2, §4.3)."""

    OCTET_STRING = "OctetString"
    INTEGER32 = "Integer32"
    INTEGER64 = "Integer64"
    UNSIGNED32 = "Unsigned32"
    UNSIGNED64 = "Unsigned64"
    FLOAT32 = "Float32"
    FLOAT64 = "Float64"
    GROUPED = "Grouped"
    ADDRESS = "Address"
    TIME = "Time"
    UTF8_STRING = "UTF8String"
    DIAMETER_IDENTITY = "DiameterIdentity"
    DIAMETER_URI = "DiameterURI"
    ENUMERATED = "Enumerated"
    IP_FILTER_RULE = "IPFilterRule"


class FlagRule(enum.Enum):
    """What the definition says of the M bit (RFC 6733 §4.5 "AVP Flag rules")."""

    MUST = "M"
    MAY = "-"
    MUST_NOT = "none"


@dataclass(frozen=True, slots=True)
class AvpDef:
    code: int
    name: str
    type: AvpType
    vendor_id: int = 0
    mandatory: FlagRule = FlagRule.MUST
    #: value -> RFC name, for Enumerated AVPs
    values: Mapping[int, str] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> tuple[int, int]:
        return (self.code, self.vendor_id)


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of a CCF: ``< Name >`` fixed, ``{ Name }`` required, ``[ Name ]`` optional.

    ``min``/``max`` carry the ``n*m`` qualifiers; ``max=None`` is unbounded.
    """

    name: str
    min: int = 0
    max: int | None = 1
    fixed: bool = False

    @property
    def required(self) -> bool:
        return self.min > 0


@dataclass(frozen=True, slots=True)
class Grammar:
    """The CCF of a command or the ABNF of a grouped AVP.

    ``extensible`` is the ``*[ AVP ]`` wildcard: AVPs not named by a rule may follow.
    ``avp_min``/``avp_max`` bound how many such AVPs the wildcard admits: ``*[ AVP ]``
    is 0..unbounded, Failed-AVP's ``1* { AVP }`` needs one, RFC 8506's ``[ AVP ]`` in
    Subscription-Id-Extension admits one. Without a wildcard ``avp_max`` is 0.
    """

    name: str
    rules: tuple[Rule, ...]
    extensible: bool = True
    avp_min: int = 0
    avp_max: int | None = None
    _by_name: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so set the index the way dataclasses do; rule() is then one dict lookup.
        object.__setattr__(self, "_by_name", {rule.name: rule for rule in self.rules})

    def rule(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    @property
    def required_names(self) -> frozenset[str]:
        return frozenset(rule.name for rule in self.rules if rule.required)


@dataclass(frozen=True, slots=True)
class CommandDef:
    code: int
    name: str  #: e.g. "Credit-Control-Request"
    abbreviation: str  #: e.g. "CCR"
    request: bool
    application_id: int
    proxiable: bool
    grammar: Grammar


# ---------------------------------------------------------------------------
# Parsers of the three text formats: AVP rows, grammar rules, command headers.

_ENUM_ITEM = re.compile(r"(-?\d+)=(\S+)")


def parse_avp_table(text: str) -> list[AvpDef]:
    """Parse ``code name type vendor flags [value=NAME ...]`` rows; '#' starts a comment.

    ``flags`` is ``M`` (M bit must be set), ``-`` (may) or ``none`` (must not); the V
    bit follows from ``vendor`` being non-zero. A line made only of ``value=NAME``
    items continues the enumeration of the row above it, so long enumerations stay
    readable.
    """
    rows: list[AvpDef] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            tokens = line.split()
            if _ENUM_ITEM.fullmatch(tokens[0]):
                if not rows or rows[-1].type is not AvpType.ENUMERATED:
                    raise ValueError("enumerated values continue no Enumerated row")
                previous = rows[-1]
                values = dict(previous.values)
                values.update(_enum_items(tokens, values))
                rows[-1] = AvpDef(
                    previous.code,
                    previous.name,
                    previous.type,
                    previous.vendor_id,
                    previous.mandatory,
                    values,
                )
                continue
            if len(tokens) < 5:
                raise ValueError("expected code, name, type, vendor and flags")
            code, name, type_, vendor, flags, *items = tokens
            avp_type = AvpType(type_)
            if items and avp_type is not AvpType.ENUMERATED:
                raise ValueError("only Enumerated AVPs take values")
            rows.append(
                AvpDef(
                    int(code), name, avp_type, int(vendor), FlagRule(flags), _enum_items(items, {})
                )
            )
        except ValueError as exc:
            raise ValueError(f"dictionary line {number}: {exc}: {line!r}") from None
    return rows


def _enum_items(items: Iterable[str], known: Mapping[int, str]) -> dict[int, str]:
    values: dict[int, str] = {}
    for item in items:
        match = _ENUM_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"{item!r} is not value=NAME")
        value = int(match.group(1))
        if value in values or value in known:
            raise ValueError(f"value {value} listed twice")
        values[value] = match.group(2)
    return values


# One CCF/ABNF rule: optional qualifier ``[min] "*" [max]`` (RFC 6733 §3.2: the star
# is part of every qualifier), then ``<``, ``{`` or ``[`` around an AVP name.
_RULE = re.compile(
    r"(?:(?P<min>\d*)\*(?P<max>\d*))?\s*"
    r"(?P<open>[<{\[])\s*(?P<name>[A-Za-z0-9][A-Za-z0-9-]*)\s*(?P<close>[>}\]])"
)
_CLOSE = {"<": ">", "{": "}", "[": "]"}
_WILDCARD = "AVP"


def parse_grammar(name: str, text: str) -> Grammar:
    """Parse a CCF/ABNF body, one rule per line: ``< Session-Id >``, ``{ Origin-Host }``,
    ``1* { Host-IP-Address }``, ``* [ Proxy-Info ]``, ``0*2 [ Foo ]``, ``* [ AVP ]``.

    Defaults follow RFC 6733 §3.2: with no qualifier a fixed or required rule means
    exactly one and an optional rule zero or one; in a qualifier ``min`` defaults to 0
    (1 for a required rule, where it may not be 0) and ``max`` to unbounded. Fixed
    rules must precede the others, since their position is what makes them fixed.
    An optional named rule may not have ``min`` > 0 (RFC 6733 §3.2); the ``AVP``
    wildcard may, because RFC 6733 itself writes E2E-Sequence as ``2* [ AVP ]``.
    '#' starts a comment. Raises ValueError naming the grammar and line on bad input.
    """
    rules: list[Rule] = []
    seen: set[str] = set()
    wildcard: tuple[int, int | None] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue

        def fail(problem: str, number: int = number, line: str = line) -> ValueError:
            return ValueError(f"grammar {name!r} line {number}: {problem}: {line!r}")

        match = _RULE.fullmatch(line)
        if match is None:
            raise fail("not a rule of the form [qual] <|{|[ Name >|}|]")
        opening, avp_name = match["open"], match["name"]
        if match["close"] != _CLOSE[opening]:
            raise fail(f"{opening!r} closed by {match['close']!r}")
        qualified = match.group("min") is not None
        if qualified:
            default_min = 1 if opening == "{" else 0
            lo = int(match["min"]) if match["min"] else default_min
            hi = int(match["max"]) if match["max"] else None
        else:
            lo, hi = (0, 1) if opening == "[" else (1, 1)
        if hi is not None and hi < lo:
            raise fail(f"max {hi} below min {lo}")
        if opening == "{" and lo < 1:
            raise fail("a required rule needs min >= 1")
        if avp_name == _WILDCARD:
            if opening == "<":
                raise fail("the AVP wildcard cannot be fixed")
            if wildcard is not None:
                raise fail("AVP wildcard given twice")
            wildcard = (lo, hi)
            continue
        if opening == "[" and lo > 0:
            raise fail("an optional rule must have min 0")
        if avp_name in seen:
            raise fail(f"{avp_name} listed twice")
        if opening == "<" and any(not rule.fixed for rule in rules):
            raise fail("a fixed rule must come before the required and optional ones")
        seen.add(avp_name)
        rules.append(Rule(avp_name, lo, hi, fixed=opening == "<"))
    if not rules and wildcard is None:
        raise ValueError(f"grammar {name!r}: no rules")
    if wildcard is None:
        return Grammar(name, tuple(rules), extensible=False, avp_min=0, avp_max=0)
    return Grammar(name, tuple(rules), extensible=True, avp_min=wildcard[0], avp_max=wildcard[1])


_BLOCK_HEAD = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9-]*)\s*::=")


def parse_grammars(text: str) -> dict[str, Grammar]:
    """Parse blocks headed ``Name ::=`` (on a line of its own), each body a CCF/ABNF."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        code_part = raw.split("#", 1)[0].strip()
        head = _BLOCK_HEAD.fullmatch(code_part)
        if head is not None:
            if head["name"] in blocks:
                raise ValueError(f"grammar line {number}: {head['name']} defined twice")
            current = blocks[head["name"]] = []
        elif current is not None:
            current.append(raw)
        elif code_part:
            raise ValueError(f"grammar line {number}: rule outside a 'Name ::=' block")
    return {name: parse_grammar(name, "\n".join(lines)) for name, lines in blocks.items()}


# ---------------------------------------------------------------------------
# The AVP tables. Columns: code, name, type, vendor, flags (M / - / none), then the
# enumerated values as value=NAME. Names keep the defining document's spelling;
# where that spelling has spaces (e.g. "IPv4 Address") the value name uses
# underscores and upper case, as codes.py does.

# RFC 6733 §4.5 (and §8.15 etc. for the values). Error-Message, Error-Reporting-Host,
# Firmware-Revision and Product-Name are the four whose M bit MUST NOT be set.
_BASE = """
85   Acct-Interim-Interval            Unsigned32       0  M
483  Accounting-Realtime-Required     Enumerated       0  M  1=DELIVER_AND_GRANT 2=GRANT_AND_STORE
     3=GRANT_AND_LOSE
50   Acct-Multi-Session-Id            UTF8String       0  M
485  Accounting-Record-Number         Unsigned32       0  M
480  Accounting-Record-Type           Enumerated       0  M  1=EVENT_RECORD 2=START_RECORD
     3=INTERIM_RECORD 4=STOP_RECORD
44   Acct-Session-Id                  OctetString      0  M
287  Accounting-Sub-Session-Id        Unsigned64       0  M
259  Acct-Application-Id              Unsigned32       0  M
258  Auth-Application-Id              Unsigned32       0  M
274  Auth-Request-Type                Enumerated       0  M  1=AUTHENTICATE_ONLY 2=AUTHORIZE_ONLY
     3=AUTHORIZE_AUTHENTICATE
291  Authorization-Lifetime           Unsigned32       0  M
276  Auth-Grace-Period                Unsigned32       0  M
277  Auth-Session-State               Enumerated       0  M  0=STATE_MAINTAINED 1=NO_STATE_MAINTAINED
285  Re-Auth-Request-Type             Enumerated       0  M  0=AUTHORIZE_ONLY 1=AUTHORIZE_AUTHENTICATE
25   Class                            OctetString      0  M
293  Destination-Host                 DiameterIdentity 0  M
283  Destination-Realm                DiameterIdentity 0  M
273  Disconnect-Cause                 Enumerated       0  M  0=REBOOTING 1=BUSY
     2=DO_NOT_WANT_TO_TALK_TO_YOU
300  E2E-Sequence                     Grouped          0  M
281  Error-Message                    UTF8String       0  none
294  Error-Reporting-Host             DiameterIdentity 0  none
55   Event-Timestamp                  Time             0  M
297  Experimental-Result              Grouped          0  M
298  Experimental-Result-Code         Unsigned32       0  M
279  Failed-AVP                       Grouped          0  M
267  Firmware-Revision                Unsigned32       0  none
257  Host-IP-Address                  Address          0  M
299  Inband-Security-Id               Unsigned32       0  M
272  Multi-Round-Time-Out             Unsigned32       0  M
264  Origin-Host                      DiameterIdentity 0  M
296  Origin-Realm                     DiameterIdentity 0  M
278  Origin-State-Id                  Unsigned32       0  M
269  Product-Name                     UTF8String       0  none
280  Proxy-Host                       DiameterIdentity 0  M
284  Proxy-Info                       Grouped          0  M
33   Proxy-State                      OctetString      0  M
292  Redirect-Host                    DiameterURI      0  M
261  Redirect-Host-Usage              Enumerated       0  M  0=DONT_CACHE 1=ALL_SESSION 2=ALL_REALM
     3=REALM_AND_APPLICATION 4=ALL_APPLICATION 5=ALL_HOST 6=ALL_USER
262  Redirect-Max-Cache-Time          Unsigned32       0  M
268  Result-Code                      Unsigned32       0  M
282  Route-Record                     DiameterIdentity 0  M
263  Session-Id                       UTF8String       0  M
27   Session-Timeout                  Unsigned32       0  M
270  Session-Binding                  Unsigned32       0  M
271  Session-Server-Failover          Enumerated       0  M  0=REFUSE_SERVICE 1=TRY_AGAIN
     2=ALLOW_SERVICE 3=TRY_AGAIN_ALLOW_SERVICE
265  Supported-Vendor-Id              Unsigned32       0  M
# RFC 6733 §8.15 spells these with the DIAMETER_ prefix (OTP's dictionary drops it).
295  Termination-Cause                Enumerated       0  M  1=DIAMETER_LOGOUT
     2=DIAMETER_SERVICE_NOT_PROVIDED 3=DIAMETER_BAD_ANSWER 4=DIAMETER_ADMINISTRATIVE
     5=DIAMETER_LINK_BROKEN 6=DIAMETER_AUTH_EXPIRED 7=DIAMETER_USER_MOVED
     8=DIAMETER_SESSION_TIMEOUT
1    User-Name                        UTF8String       0  M
266  Vendor-Id                        Unsigned32       0  M
260  Vendor-Specific-Application-Id   Grouped          0  M
"""

# RFC 8506 §8 table (which obsoletes RFC 4006's): 653-669 are new; Service-Parameter-*
# and User-Equipment-Info* carry the M bit only as "MAY".
_CREDIT_CONTROL = """
411  CC-Correlation-Id                  OctetString   0  -
412  CC-Input-Octets                    Unsigned64    0  M
413  CC-Money                           Grouped       0  M
414  CC-Output-Octets                   Unsigned64    0  M
415  CC-Request-Number                  Unsigned32    0  M
416  CC-Request-Type                    Enumerated    0  M  1=INITIAL_REQUEST 2=UPDATE_REQUEST
     3=TERMINATION_REQUEST 4=EVENT_REQUEST
417  CC-Service-Specific-Units          Unsigned64    0  M
418  CC-Session-Failover                Enumerated    0  M  0=FAILOVER_NOT_SUPPORTED
     1=FAILOVER_SUPPORTED
419  CC-Sub-Session-Id                  Unsigned64    0  M
420  CC-Time                            Unsigned32    0  M
421  CC-Total-Octets                    Unsigned64    0  M
454  CC-Unit-Type                       Enumerated    0  M  0=TIME 1=MONEY 2=TOTAL-OCTETS
     3=INPUT-OCTETS 4=OUTPUT-OCTETS 5=SERVICE-SPECIFIC-UNITS
422  Check-Balance-Result               Enumerated    0  M  0=ENOUGH_CREDIT 1=NO_CREDIT
423  Cost-Information                   Grouped       0  M
424  Cost-Unit                          UTF8String    0  M
426  Credit-Control                     Enumerated    0  M  0=CREDIT_AUTHORIZATION 1=RE_AUTHORIZATION
427  Credit-Control-Failure-Handling    Enumerated    0  M  0=TERMINATE 1=CONTINUE
     2=RETRY_AND_TERMINATE
425  Currency-Code                      Unsigned32    0  M
428  Direct-Debiting-Failure-Handling   Enumerated    0  M  0=TERMINATE_OR_BUFFER 1=CONTINUE
429  Exponent                           Integer32     0  M
449  Final-Unit-Action                  Enumerated    0  M  0=TERMINATE 1=REDIRECT 2=RESTRICT_ACCESS
430  Final-Unit-Indication              Grouped       0  M
669  QoS-Final-Unit-Indication          Grouped       0  -
431  Granted-Service-Unit               Grouped       0  M
453  G-S-U-Pool-Identifier              Unsigned32    0  M
457  G-S-U-Pool-Reference               Grouped       0  M
456  Multiple-Services-Credit-Control   Grouped       0  M
455  Multiple-Services-Indicator        Enumerated    0  M  0=MULTIPLE_SERVICES_NOT_SUPPORTED
     1=MULTIPLE_SERVICES_SUPPORTED
432  Rating-Group                       Unsigned32    0  M
# RFC 8506 §8.38 names these "IPv4 Address", "IPv6 Address", "URL", "SIP URI".
433  Redirect-Address-Type              Enumerated    0  M  0=IPV4_ADDRESS 1=IPV6_ADDRESS 2=URL
     3=SIP_URI
434  Redirect-Server                    Grouped       0  M
435  Redirect-Server-Address            UTF8String    0  M
665  Redirect-Server-Extension          Grouped       0  -
666  Redirect-Address-IPAddress         Address       0  -
667  Redirect-Address-URL               UTF8String    0  -
668  Redirect-Address-SIP-URI           UTF8String    0  -
436  Requested-Action                   Enumerated    0  M  0=DIRECT_DEBITING 1=REFUND_ACCOUNT
     2=CHECK_BALANCE 3=PRICE_ENQUIRY
437  Requested-Service-Unit             Grouped       0  M
438  Restriction-Filter-Rule            IPFilterRule  0  M
461  Service-Context-Id                 UTF8String    0  M
439  Service-Identifier                 Unsigned32    0  M
440  Service-Parameter-Info             Grouped       0  -
441  Service-Parameter-Type             Unsigned32    0  -
442  Service-Parameter-Value            OctetString   0  -
443  Subscription-Id                    Grouped       0  M
444  Subscription-Id-Data               UTF8String    0  M
450  Subscription-Id-Type               Enumerated    0  M  0=END_USER_E164 1=END_USER_IMSI
     2=END_USER_SIP_URI 3=END_USER_NAI 4=END_USER_PRIVATE
659  Subscription-Id-Extension          Grouped       0  -
660  Subscription-Id-E164               UTF8String    0  -
661  Subscription-Id-IMSI               UTF8String    0  -
662  Subscription-Id-SIP-URI            UTF8String    0  -
663  Subscription-Id-NAI                UTF8String    0  -
664  Subscription-Id-Private            UTF8String    0  -
452  Tariff-Change-Usage                Enumerated    0  M  0=UNIT_BEFORE_TARIFF_CHANGE
     1=UNIT_AFTER_TARIFF_CHANGE 2=UNIT_INDETERMINATE
451  Tariff-Time-Change                 Time          0  M
445  Unit-Value                         Grouped       0  M
446  Used-Service-Unit                  Grouped       0  M
458  User-Equipment-Info                Grouped       0  -
459  User-Equipment-Info-Type           Enumerated    0  -  0=IMEISV 1=MAC 2=EUI64 3=MODIFIED_EUI64
460  User-Equipment-Info-Value          OctetString   0  -
653  User-Equipment-Info-Extension      Grouped       0  -
654  User-Equipment-Info-IMEISV         OctetString   0  -
655  User-Equipment-Info-MAC            OctetString   0  -
656  User-Equipment-Info-EUI64          OctetString   0  -
657  User-Equipment-Info-ModifiedEUI64  OctetString   0  -
658  User-Equipment-Info-IMEI           OctetString   0  -
447  Value-Digits                       Integer64     0  M
448  Validity-Time                      Unsigned32    0  M
"""

# Other IETF AVPs a Gy/Ro peer sends: NASREQ attributes reused by Gy (RFC 7155 §4.4),
# the Filter-Rule that QoS-Final-Unit-Indication carries (RFC 5777 §4.1), DOIC
# overload control (RFC 7683 §7; flags as OTP's doic_rfc7683.dia and the project
# reference: M bit not required) and DRMP (RFC 7944 §9.1, PRIORITY_0 is the highest).
_IETF_OTHER = """
8    Framed-IP-Address        OctetString  0  M
11   Filter-Id                UTF8String   0  M
30   Called-Station-Id        UTF8String   0  M
301  DRMP                     Enumerated   0  -  0=PRIORITY_0 1=PRIORITY_1 2=PRIORITY_2
     3=PRIORITY_3 4=PRIORITY_4 5=PRIORITY_5 6=PRIORITY_6 7=PRIORITY_7 8=PRIORITY_8
     9=PRIORITY_9 10=PRIORITY_10 11=PRIORITY_11 12=PRIORITY_12 13=PRIORITY_13
     14=PRIORITY_14 15=PRIORITY_15
509  Filter-Rule              Grouped      0  M
510  Filter-Rule-Precedence   Unsigned32   0  M
621  OC-Supported-Features    Grouped      0  -
622  OC-Feature-Vector        Unsigned64   0  -
623  OC-OLR                   Grouped      0  -
624  OC-Sequence-Number       Unsigned64   0  -
625  OC-Validity-Duration     Unsigned32   0  -
626  OC-Report-Type           Enumerated   0  -  0=HOST_REPORT 1=REALM_REPORT
627  OC-Reduction-Percentage  Unsigned32   0  -
"""

# Vendor 10415. The TS 29.061 "3GPP-" AVPs (RADIUS VSAs carried in Diameter) and the
# TS 29.212 ARP/APN-AMBR family and TS 29.229 Supported-Features set V and must not set
# M; everything from TS 32.299 and TS 29.214 sets V and M.
_TGPP = """
# TS 29.061 §16.4.7
1     3GPP-IMSI                        UTF8String   10415  none
2     3GPP-Charging-Id                 OctetString  10415  none
3     3GPP-PDP-Type                    Enumerated   10415  none  0=IPv4 1=PPP 2=IPv6 3=IPv4v6
      4=Non-IP
8     3GPP-IMSI-MCC-MNC                UTF8String   10415  none
9     3GPP-GGSN-MCC-MNC                UTF8String   10415  none
10    3GPP-NSAPI                       OctetString  10415  none
12    3GPP-Selection-Mode              UTF8String   10415  none
13    3GPP-Charging-Characteristics    UTF8String   10415  none
18    3GPP-SGSN-MCC-MNC                UTF8String   10415  none
21    3GPP-RAT-Type                    OctetString  10415  none
22    3GPP-User-Location-Info          OctetString  10415  none
23    3GPP-MS-TimeZone                 OctetString  10415  none
# TS 29.229 §6.3.29-31
628   Supported-Features               Grouped      10415  none
629   Feature-List-ID                  Unsigned32   10415  none
630   Feature-List                     Unsigned32   10415  none
# TS 29.214 §5.3 (Rx AVPs inside AF-Correlation-Information and QoS-Information)
505   AF-Charging-Identifier           OctetString  10415  M
509   Flow-Number                      Unsigned32   10415  M
510   Flows                            Grouped      10415  M
515   Max-Requested-Bandwidth-DL       Unsigned32   10415  M
516   Max-Requested-Bandwidth-UL       Unsigned32   10415  M
518   Media-Component-Number           Unsigned32   10415  M
# TS 29.212 §5.3 (QoS-Information and its children)
1004  Charging-Rule-Base-Name          UTF8String   10415  M
1016  QoS-Information                  Grouped      10415  M
1020  Bearer-Identifier                OctetString  10415  M
1025  Guaranteed-Bitrate-DL            Unsigned32   10415  M
1026  Guaranteed-Bitrate-UL            Unsigned32   10415  M
1028  QoS-Class-Identifier             Enumerated   10415  M  1=QCI_1 2=QCI_2 3=QCI_3 4=QCI_4
      5=QCI_5 6=QCI_6 7=QCI_7 8=QCI_8 9=QCI_9 65=QCI_65 66=QCI_66 69=QCI_69 70=QCI_70
1034  Allocation-Retention-Priority    Grouped      10415  none
1040  APN-Aggregate-Max-Bitrate-DL     Unsigned32   10415  none
1041  APN-Aggregate-Max-Bitrate-UL     Unsigned32   10415  none
1046  Priority-Level                   Unsigned32   10415  none
1047  Pre-emption-Capability           Enumerated   10415  none
      0=PRE-EMPTION_CAPABILITY_ENABLED 1=PRE-EMPTION_CAPABILITY_DISABLED
1048  Pre-emption-Vulnerability        Enumerated   10415  none
      0=PRE-EMPTION_VULNERABILITY_ENABLED 1=PRE-EMPTION_VULNERABILITY_DISABLED
# TS 32.299 §7.2 (IMS-Information family)
823   Event-Type                       Grouped      10415  M
824   SIP-Method                       UTF8String   10415  M
825   Event                            UTF8String   10415  M
829   Role-Of-Node                     Enumerated   10415  M  0=ORIGINATING_ROLE 1=TERMINATING_ROLE
      2=FORWARDING_ROLE
830   User-Session-Id                  UTF8String   10415  M
831   Calling-Party-Address            UTF8String   10415  M
832   Called-Party-Address             UTF8String   10415  M
833   Time-Stamps                      Grouped      10415  M
834   SIP-Request-Timestamp            Time         10415  M
835   SIP-Response-Timestamp           Time         10415  M
841   IMS-Charging-Identifier          UTF8String   10415  M
861   Cause-Code                       Integer32    10415  M
# TS 32.299 §7.2.118 spells 16 "Proxy Function".
862   Node-Functionality               Enumerated   10415  M  0=S-CSCF 1=P-CSCF 2=I-CSCF 3=MRFC
      4=MGCF 5=BGCF 6=AS 7=IBCF 8=S-GW 9=P-GW 10=HSGW 11=E-CSCF 12=MME 13=TRF 14=TF 15=ATCF
      16=PROXY_FUNCTION 17=ePDG
888   Expires                          Unsigned32   10415  M
1251  Requested-Party-Address          UTF8String   10415  M
2301  SIP-Request-Timestamp-Fraction   Unsigned32   10415  M
2302  SIP-Response-Timestamp-Fraction  Unsigned32   10415  M
# TS 32.299 §7.2 (PS-Information family)
846   CG-Address                       Address      10415  M
847   GGSN-Address                     Address      10415  M
865   PS-Furnish-Charging-Information  Grouped      10415  M
866   PS-Free-Format-Data              OctetString  10415  M
867   PS-Append-Free-Format-Data       Enumerated   10415  M  0=APPEND 1=OVERWRITE
874   PS-Information                   Grouped      10415  M
1227  PDP-Address                      Address      10415  M
1228  SGSN-Address                     Address      10415  M
2041  Start-Time                       Time         10415  M
2042  Stop-Time                        Time         10415  M
2047  Serving-Node-Type                Enumerated   10415  M  0=SGSN 1=PMIPSGW 2=GTPSGW 3=ePDG
      4=hSGW 5=MME 6=TWAN
# TS 32.299 §7.2.137 spells it "-ID" (the project reference writes "-Id").
2050  PDN-Connection-Charging-ID       Unsigned32   10415  M
2064  Node-Id                          UTF8String   10415  M
# TS 32.299 §7.2 (SMS-Information family)
897   Address-Data                     UTF8String   10415  M
898   Address-Domain                   Grouped      10415  M
# TS 32.299 §7.2.9 names: "e-mail address", "MSISDN", "IPv4 Address", "IPv6 Address",
# "Numeric Shortcode", "Alphanumeric Shortcode", "Other", "IMSI".
899   Address-Type                     Enumerated   10415  M  0=EMAIL_ADDRESS 1=MSISDN
      2=IPV4_ADDRESS 3=IPV6_ADDRESS 4=NUMERIC_SHORTCODE 5=ALPHANUMERIC_SHORTCODE 6=OTHER
      7=IMSI
1200  Domain-Name                      UTF8String   10415  M
1201  Recipient-Address                Grouped      10415  M
1208  Addressee-Type                   Enumerated   10415  M  0=TO 1=CC 2=BCC
2000  SMS-Information                  Grouped      10415  M
2001  Data-Coding-Scheme               Integer32    10415  M
2007  SM-Message-Type                  Enumerated   10415  M  0=SUBMISSION 1=DELIVERY_REPORT
      2=SM_SERVICE_REQUEST
2008  Originator-SCCP-Address          Address      10415  M
2010  Recipient-SCCP-Address           Address      10415  M
2011  Reply-Path-Requested             Enumerated   10415  M  0=NO_REPLY_PATH_SET 1=REPLY_PATH_SET
2012  SM-Discharge-Time                Time         10415  M
2013  SM-Protocol-ID                   OctetString  10415  M
2014  SM-Status                        OctetString  10415  M
2015  SM-User-Data-Header              OctetString  10415  M
2016  SMS-Node                         Enumerated   10415  M  0=SMS_ROUTER 1=IP_SM_GW
      2=SMS_ROUTER_AND_IP_SM_GW 3=SMS_SC
2017  SMSC-Address                     Address      10415  M
2018  Client-Address                   Address      10415  M
2019  Number-Of-Messages-Sent          Unsigned32   10415  M
2026  Recipient-Info                   Grouped      10415  M
2027  Originator-Received-Address      Grouped      10415  M
2028  Recipient-Received-Address       Grouped      10415  M
# TS 32.299 §7.2 (online charging: MSCC additions, CCA additions)
863   Service-Specific-Data            UTF8String   10415  M
868   Time-Quota-Threshold             Unsigned32   10415  M
869   Volume-Quota-Threshold           Unsigned32   10415  M
870   Trigger-Type                     Enumerated   10415  M  1=CHANGE_IN_SGSN_IP_ADDRESS
      2=CHANGE_IN_QOS 3=CHANGE_IN_LOCATION 4=CHANGE_IN_RAT 5=CHANGE_IN_UE_TIMEZONE
      10=CHANGEINQOS_TRAFFIC_CLASS 11=CHANGEINQOS_RELIABILITY_CLASS 12=CHANGEINQOS_DELAY_CLASS
      13=CHANGEINQOS_PEAK_THROUGHPUT 14=CHANGEINQOS_PRECEDENCE_CLASS
      15=CHANGEINQOS_MEAN_THROUGHPUT 16=CHANGEINQOS_MAXIMUM_BIT_RATE_FOR_UPLINK
      17=CHANGEINQOS_MAXIMUM_BIT_RATE_FOR_DOWNLINK 18=CHANGEINQOS_RESIDUAL_BER
      19=CHANGEINQOS_SDU_ERROR_RATIO 20=CHANGEINQOS_TRANSFER_DELAY
      21=CHANGEINQOS_TRAFFIC_HANDLING_PRIORITY 22=CHANGEINQOS_GUARANTEED_BIT_RATE_FOR_UPLINK
      23=CHANGEINQOS_GUARANTEED_BIT_RATE_FOR_DOWNLINK
      24=CHANGEINQOS_APN_AGGREGATE_MAXIMUM_BIT_RATE 30=CHANGEINLOCATION_MCC
      31=CHANGEINLOCATION_MNC 32=CHANGEINLOCATION_RAC 33=CHANGEINLOCATION_LAC
      34=CHANGEINLOCATION_CellId 35=CHANGEINLOCATION_TAC 36=CHANGEINLOCATION_ECGI
      40=CHANGE_IN_MEDIA_COMPOSITION 50=CHANGE_IN_PARTICIPANTS_NMB
      51=CHANGE_IN_THRSHLD_OF_PARTICIPANTS_NMB 52=CHANGE_IN_USER_PARTICIPATING_TYPE
      60=CHANGE_IN_SERVICE_CONDITION 61=CHANGE_IN_SERVING_NODE
      70=CHANGE_IN_USER_CSG_INFORMATION 71=CHANGE_IN_HYBRID_SUBSCRIBED_USER_CSG_INFORMATION
      72=CHANGE_IN_HYBRID_UNSUBSCRIBED_USER_CSG_INFORMATION
      73=CHANGE_OF_UE_PRESENCE_IN_PRESENCE_REPORTING_AREA
871   Quota-Holding-Time               Unsigned32   10415  M
# 9 UNUSED_QUOTA_TIMER is in TS 32.299 §7.2.175 though go-diameter's testdata stops at 8.
872   Reporting-Reason                 Enumerated   10415  M  0=THRESHOLD 1=QHT 2=FINAL
      3=QUOTA_EXHAUSTED 4=VALIDITY_TIME 5=OTHER_QUOTA_TYPE 6=RATING_CONDITION_CHANGE
      7=FORCED_REAUTHORISATION 8=POOL_EXHAUSTED 9=UNUSED_QUOTA_TIMER
873   Service-Information              Grouped      10415  M
876   IMS-Information                  Grouped      10415  M
881   Quota-Consumption-Time           Unsigned32   10415  M
1226  Unit-Quota-Threshold             Unsigned32   10415  M
1249  Service-Specific-Info            Grouped      10415  M
1257  Service-Specific-Type            Unsigned32   10415  M
1258  Event-Charging-TimeStamp         Time         10415  M
1264  Trigger                          Grouped      10415  M
1265  Base-Time-Interval               Unsigned32   10415  M
1266  Envelope                         Grouped      10415  M
1267  Envelope-End-Time                Time         10415  M
1268  Envelope-Reporting               Enumerated   10415  M  0=DO_NOT_REPORT_ENVELOPES
      1=REPORT_ENVELOPES 2=REPORT_ENVELOPES_WITH_VOLUME 3=REPORT_ENVELOPES_WITH_EVENTS
      4=REPORT_ENVELOPES_WITH_VOLUME_AND_EVENTS
1269  Envelope-Start-Time              Time         10415  M
1270  Time-Quota-Mechanism             Grouped      10415  M
1271  Time-Quota-Type                  Enumerated   10415  M  0=DISCRETE_TIME_PERIOD
      1=CONTINUOUS_TIME_PERIOD
1276  AF-Correlation-Information       Grouped      10415  M
2020  Low-Balance-Indication           Enumerated   10415  M  0=NOT-APPLICABLE 1=YES
2021  Remaining-Balance                Grouped      10415  M
2022  Refund-Information               OctetString  10415  M
2055  AoC-Request-Type                 Enumerated   10415  M  0=AoC_NOT_REQUESTED 1=AoC_FULL
      2=AoC_COST_ONLY 3=AoC_TARIFF_ONLY
"""

# ---------------------------------------------------------------------------
# Grouped AVP grammars (the ABNF after "< AVP Header: code >").

_GROUPED_BASE = """
# RFC 6733 §6.11. "One of Auth-Application-Id or Acct-Application-Id" is prose the
# grammar cannot say; a validator checks it.
Vendor-Specific-Application-Id ::=
    { Vendor-Id }
    [ Auth-Application-Id ]
    [ Acct-Application-Id ]

# RFC 6733 §7.5
Failed-AVP ::=
    1* { AVP }

# RFC 6733 §7.6
Experimental-Result ::=
    { Vendor-Id }
    { Experimental-Result-Code }

# RFC 6733 §6.7.2
Proxy-Info ::=
    { Proxy-Host }
    { Proxy-State }
    * [ AVP ]

# RFC 6733 §6.15 (deprecated, still defined)
E2E-Sequence ::=
    2* [ AVP ]
"""

_GROUPED_CREDIT_CONTROL = """
# RFC 8506 §8.16 plus the TS 32.299 §7.1 additions (lines marked 32.299).
Multiple-Services-Credit-Control ::=
    [ Granted-Service-Unit ]
    [ Requested-Service-Unit ]
    * [ Used-Service-Unit ]
    [ Tariff-Change-Usage ]
    * [ Service-Identifier ]
    [ Rating-Group ]
    * [ G-S-U-Pool-Reference ]
    [ Validity-Time ]
    [ Result-Code ]
    [ Final-Unit-Indication ]
    [ QoS-Final-Unit-Indication ]
    [ Time-Quota-Threshold ]              # 32.299
    [ Volume-Quota-Threshold ]            # 32.299
    [ Unit-Quota-Threshold ]              # 32.299
    [ Quota-Holding-Time ]                # 32.299
    [ Quota-Consumption-Time ]            # 32.299
    * [ Reporting-Reason ]                # 32.299
    [ Trigger ]                           # 32.299
    [ PS-Furnish-Charging-Information ]   # 32.299
    [ Refund-Information ]                # 32.299
    * [ AF-Correlation-Information ]      # 32.299
    * [ Envelope ]                        # 32.299
    [ Envelope-Reporting ]                # 32.299
    [ Time-Quota-Mechanism ]              # 32.299
    * [ Service-Specific-Info ]           # 32.299
    [ QoS-Information ]                   # 32.299
    [ 3GPP-RAT-Type ]                     # 32.299
    * [ AVP ]

# RFC 8506 §8.17
Granted-Service-Unit ::=
    [ Tariff-Time-Change ]
    [ CC-Time ]
    [ CC-Money ]
    [ CC-Total-Octets ]
    [ CC-Input-Octets ]
    [ CC-Output-Octets ]
    [ CC-Service-Specific-Units ]
    * [ AVP ]

# RFC 8506 §8.18
Requested-Service-Unit ::=
    [ CC-Time ]
    [ CC-Money ]
    [ CC-Total-Octets ]
    [ CC-Input-Octets ]
    [ CC-Output-Octets ]
    [ CC-Service-Specific-Units ]
    * [ AVP ]

# RFC 8506 §8.19 plus TS 32.299 §7.1 (Reporting-Reason for THRESHOLD, QUOTA_EXHAUSTED,
# OTHER_QUOTA_TYPE; one Event-Charging-TimeStamp per reported event).
Used-Service-Unit ::=
    [ Tariff-Change-Usage ]
    [ CC-Time ]
    [ CC-Money ]
    [ CC-Total-Octets ]
    [ CC-Input-Octets ]
    [ CC-Output-Octets ]
    [ CC-Service-Specific-Units ]
    [ Reporting-Reason ]                  # 32.299
    * [ Event-Charging-TimeStamp ]        # 32.299
    * [ AVP ]

# RFC 8506 §8.7. go-diameter's testdata makes Cost-Unit required; the RFC does not.
Cost-Information ::=
    { Unit-Value }
    { Currency-Code }
    [ Cost-Unit ]

# RFC 8506 §8.8
Unit-Value ::=
    { Value-Digits }
    [ Exponent ]

# RFC 8506 §8.22. go-diameter's testdata makes Currency-Code required; the RFC says SHOULD.
CC-Money ::=
    { Unit-Value }
    [ Currency-Code ]

# RFC 8506 §8.30
G-S-U-Pool-Reference ::=
    { G-S-U-Pool-Identifier }
    { CC-Unit-Type }
    { Unit-Value }

# RFC 8506 §8.34 (RFC 4006 allowed one Restriction-Filter-Rule/Filter-Id; 8506 any)
Final-Unit-Indication ::=
    { Final-Unit-Action }
    * [ Restriction-Filter-Rule ]
    * [ Filter-Id ]
    [ Redirect-Server ]

# RFC 8506 §8.68
QoS-Final-Unit-Indication ::=
    { Final-Unit-Action }
    * [ Filter-Rule ]
    * [ Filter-Id ]
    [ Redirect-Server-Extension ]
    * [ AVP ]

# RFC 8506 §8.37
Redirect-Server ::=
    { Redirect-Address-Type }
    { Redirect-Server-Address }

# RFC 8506 §8.64: "exactly one AVP MUST be included" - hence [ AVP ], not * [ AVP ].
Redirect-Server-Extension ::=
    [ Redirect-Address-IPAddress ]
    [ Redirect-Address-URL ]
    [ Redirect-Address-SIP-URI ]
    [ AVP ]

# RFC 8506 §8.43
Service-Parameter-Info ::=
    { Service-Parameter-Type }
    { Service-Parameter-Value }

# RFC 8506 §8.46
Subscription-Id ::=
    { Subscription-Id-Type }
    { Subscription-Id-Data }

# RFC 8506 §8.58 ("exactly one sub-AVP")
Subscription-Id-Extension ::=
    [ Subscription-Id-E164 ]
    [ Subscription-Id-IMSI ]
    [ Subscription-Id-SIP-URI ]
    [ Subscription-Id-NAI ]
    [ Subscription-Id-Private ]
    [ AVP ]

# RFC 8506 §8.49
User-Equipment-Info ::=
    { User-Equipment-Info-Type }
    { User-Equipment-Info-Value }

# RFC 8506 §8.52 ("exactly one AVP")
User-Equipment-Info-Extension ::=
    [ User-Equipment-Info-IMEISV ]
    [ User-Equipment-Info-MAC ]
    [ User-Equipment-Info-EUI64 ]
    [ User-Equipment-Info-ModifiedEUI64 ]
    [ User-Equipment-Info-IMEI ]
    [ AVP ]
"""

_GROUPED_IETF_OTHER = """
# RFC 5777 §4.1.1. Only the precedence is named: Classifier, Time-Of-Day-Condition,
# Treatment-Action and the QoS children are not modelled and pass as * [ AVP ].
Filter-Rule ::=
    [ Filter-Rule-Precedence ]
    * [ AVP ]

# RFC 7683 §7.1
OC-Supported-Features ::=
    [ OC-Feature-Vector ]
    * [ AVP ]

# RFC 7683 §7.3
OC-OLR ::=
    < OC-Sequence-Number >
    < OC-Report-Type >
    [ OC-Reduction-Percentage ]
    [ OC-Validity-Duration ]
    * [ AVP ]
"""

_GROUPED_TGPP = """
# TS 29.229 §6.3.29
Supported-Features ::=
    { Vendor-Id }
    { Feature-List-ID }
    { Feature-List }
    * [ AVP ]

# TS 29.214 §5.3.10; Content-Version, Final-Unit-Action, Media-Component-Status pass as AVP.
Flows ::=
    { Media-Component-Number }
    * [ Flow-Number ]
    * [ AVP ]

# TS 29.212 §5.3.16, extensible: the Extended-*, Conditional-APN-Aggregate-Max-Bitrate
# and later children are not modelled.
QoS-Information ::=
    [ QoS-Class-Identifier ]
    [ Max-Requested-Bandwidth-UL ]
    [ Max-Requested-Bandwidth-DL ]
    [ Guaranteed-Bitrate-UL ]
    [ Guaranteed-Bitrate-DL ]
    [ Bearer-Identifier ]
    [ Allocation-Retention-Priority ]
    [ APN-Aggregate-Max-Bitrate-UL ]
    [ APN-Aggregate-Max-Bitrate-DL ]
    * [ AVP ]

# TS 29.212 §5.3.32
Allocation-Retention-Priority ::=
    { Priority-Level }
    [ Pre-emption-Capability ]
    [ Pre-emption-Vulnerability ]

# TS 32.299 §7.2.192. Only the PS, IMS and SMS branches are modelled; AoC-, MMS-, LCS-,
# PoC-, MBMS-, VCS-, MMTel-, ProSe-... -Information pass as * [ AVP ].
Service-Information ::=
    * [ Subscription-Id ]
    [ PS-Information ]
    [ IMS-Information ]
    [ SMS-Information ]
    * [ AVP ]

# TS 32.299 §7.2.158, main children in TS order; the rest pass as * [ AVP ].
PS-Information ::=
    [ 3GPP-Charging-Id ]
    [ PDN-Connection-Charging-ID ]
    [ Node-Id ]
    [ 3GPP-PDP-Type ]
    * [ PDP-Address ]
    [ QoS-Information ]
    * [ SGSN-Address ]
    * [ GGSN-Address ]
    [ CG-Address ]
    [ Serving-Node-Type ]
    [ 3GPP-IMSI-MCC-MNC ]
    [ 3GPP-GGSN-MCC-MNC ]
    [ 3GPP-NSAPI ]
    [ Called-Station-Id ]
    [ 3GPP-Selection-Mode ]
    [ 3GPP-Charging-Characteristics ]
    [ 3GPP-SGSN-MCC-MNC ]
    [ 3GPP-MS-TimeZone ]
    [ Charging-Rule-Base-Name ]
    [ 3GPP-User-Location-Info ]
    [ 3GPP-RAT-Type ]
    [ PS-Furnish-Charging-Information ]
    [ User-Equipment-Info ]
    [ Start-Time ]
    [ Stop-Time ]
    * [ AVP ]

# TS 32.299 §7.2.159
PS-Furnish-Charging-Information ::=
    { 3GPP-Charging-Id }
    { PS-Free-Format-Data }
    [ PS-Append-Free-Format-Data ]

# TS 32.299 §7.2.77, main children; Node-Functionality is required by the TS.
IMS-Information ::=
    [ Event-Type ]
    [ Role-Of-Node ]
    { Node-Functionality }
    [ User-Session-Id ]
    * [ Calling-Party-Address ]
    [ Called-Party-Address ]
    * [ Requested-Party-Address ]
    [ Time-Stamps ]
    [ IMS-Charging-Identifier ]
    [ Cause-Code ]
    * [ AVP ]

# TS 32.299 §7.2.53. go-diameter's testdata makes Expires required; the TS does not.
Event-Type ::=
    [ SIP-Method ]
    [ Event ]
    [ Expires ]

# TS 32.299 §7.2.230
Time-Stamps ::=
    [ SIP-Request-Timestamp ]
    [ SIP-Response-Timestamp ]
    [ SIP-Request-Timestamp-Fraction ]
    [ SIP-Response-Timestamp-Fraction ]

# TS 32.299 §7.2.205, main children; Originator-Interface, SM-Sequence-Number,
# SM-Service-Type, SMS-Result and the device-trigger AVPs pass as * [ AVP ].
SMS-Information ::=
    [ SMS-Node ]
    [ Client-Address ]
    [ Originator-SCCP-Address ]
    [ SMSC-Address ]
    [ Data-Coding-Scheme ]
    [ SM-Discharge-Time ]
    [ SM-Message-Type ]
    [ SM-Protocol-ID ]
    [ Reply-Path-Requested ]
    [ SM-Status ]
    [ SM-User-Data-Header ]
    [ Number-Of-Messages-Sent ]
    * [ Recipient-Info ]
    [ Originator-Received-Address ]
    * [ AVP ]

# TS 32.299 §7.2.182a; Destination-Interface passes as * [ AVP ].
Recipient-Info ::=
    * [ Recipient-Address ]
    * [ Recipient-Received-Address ]
    [ Recipient-SCCP-Address ]
    [ SM-Protocol-ID ]
    * [ AVP ]

# TS 32.299 §7.2.182
Recipient-Address ::=
    [ Address-Type ]
    [ Address-Data ]
    [ Address-Domain ]
    [ Addressee-Type ]

# TS 32.299 §7.2.182b
Recipient-Received-Address ::=
    [ Address-Type ]
    [ Address-Data ]
    [ Address-Domain ]

# TS 32.299 §7.2.137b
Originator-Received-Address ::=
    [ Address-Type ]
    [ Address-Data ]
    [ Address-Domain ]

# TS 32.299 §7.2.8
Address-Domain ::=
    [ Domain-Name ]
    [ 3GPP-IMSI-MCC-MNC ]

# TS 32.299 §7.2.228
Trigger ::=
    * [ Trigger-Type ]

# TS 32.299 §7.2.232
Time-Quota-Mechanism ::=
    { Time-Quota-Type }
    { Base-Time-Interval }

# TS 32.299 §7.2.178
Remaining-Balance ::=
    { Unit-Value }
    { Currency-Code }

# TS 32.299 §7.2.44. go-diameter's testdata makes CC-Total-Octets optional; the TS
# ABNF has it required.
Envelope ::=
    { Envelope-Start-Time }
    [ Envelope-End-Time ]
    { CC-Total-Octets }
    [ CC-Input-Octets ]
    [ CC-Output-Octets ]
    * [ CC-Service-Specific-Units ]
    * [ AVP ]

# TS 32.299 §7.2.10
AF-Correlation-Information ::=
    { AF-Charging-Identifier }
    * [ Flows ]
    * [ AVP ]

# TS 32.299 §7.2.195
Service-Specific-Info ::=
    [ Service-Specific-Data ]
    [ Service-Specific-Type ]
"""

# ---------------------------------------------------------------------------
# Commands. Header table columns: code, abbreviation, R bit (REQ or -), P bit (PXY or
# -), application id, name. RAR/ASR/STR are base-protocol commands but travel in the
# session's application, which for Gy/Ro is credit control (4), so their headers say 4.

_COMMAND_HEADERS = """
257  CER  REQ  -    0  Capabilities-Exchange-Request
257  CEA  -    -    0  Capabilities-Exchange-Answer
280  DWR  REQ  -    0  Device-Watchdog-Request
280  DWA  -    -    0  Device-Watchdog-Answer
282  DPR  REQ  -    0  Disconnect-Peer-Request
282  DPA  -    -    0  Disconnect-Peer-Answer
272  CCR  REQ  PXY  4  Credit-Control-Request
272  CCA  -    PXY  4  Credit-Control-Answer
258  RAR  REQ  PXY  4  Re-Auth-Request
258  RAA  -    PXY  4  Re-Auth-Answer
274  ASR  REQ  PXY  4  Abort-Session-Request
274  ASA  -    PXY  4  Abort-Session-Answer
275  STR  REQ  PXY  4  Session-Termination-Request
275  STA  -    PXY  4  Session-Termination-Answer
"""

_COMMAND_GRAMMARS = """
# RFC 6733 §5.3.1
CER ::=
    { Origin-Host }
    { Origin-Realm }
    1* { Host-IP-Address }
    { Vendor-Id }
    { Product-Name }
    [ Origin-State-Id ]
    * [ Supported-Vendor-Id ]
    * [ Auth-Application-Id ]
    * [ Inband-Security-Id ]
    * [ Acct-Application-Id ]
    * [ Vendor-Specific-Application-Id ]
    [ Firmware-Revision ]
    * [ AVP ]

# RFC 6733 §5.3.2
CEA ::=
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    1* { Host-IP-Address }
    { Vendor-Id }
    { Product-Name }
    [ Origin-State-Id ]
    [ Error-Message ]
    [ Failed-AVP ]
    * [ Supported-Vendor-Id ]
    * [ Auth-Application-Id ]
    * [ Inband-Security-Id ]
    * [ Acct-Application-Id ]
    * [ Vendor-Specific-Application-Id ]
    [ Firmware-Revision ]
    * [ AVP ]

# RFC 6733 §5.5.1
DWR ::=
    { Origin-Host }
    { Origin-Realm }
    [ Origin-State-Id ]
    * [ AVP ]

# RFC 6733 §5.5.2
DWA ::=
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    [ Error-Message ]
    [ Failed-AVP ]
    [ Origin-State-Id ]
    * [ AVP ]

# RFC 6733 §5.4.1
DPR ::=
    { Origin-Host }
    { Origin-Realm }
    { Disconnect-Cause }
    * [ AVP ]

# RFC 6733 §5.4.2
DPA ::=
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    [ Error-Message ]
    [ Failed-AVP ]
    * [ AVP ]

# RFC 8506 §3.1 plus TS 32.299 §6.4.2 (lines marked 32.299). DRMP sits after
# Session-Id as RFC 7944 §9.1 and TS 32.299 (Rel-14 on) place it.
CCR ::=
    < Session-Id >
    [ DRMP ]                              # 32.299
    { Origin-Host }
    { Origin-Realm }
    { Destination-Realm }
    { Auth-Application-Id }
    { Service-Context-Id }
    { CC-Request-Type }
    { CC-Request-Number }
    [ Destination-Host ]
    [ User-Name ]
    [ CC-Sub-Session-Id ]
    [ Acct-Multi-Session-Id ]
    [ Origin-State-Id ]
    [ Event-Timestamp ]
    * [ Subscription-Id ]
    * [ Subscription-Id-Extension ]
    [ Service-Identifier ]
    [ Termination-Cause ]
    [ Requested-Service-Unit ]
    [ Requested-Action ]
    [ AoC-Request-Type ]                  # 32.299
    * [ Used-Service-Unit ]
    [ Multiple-Services-Indicator ]
    * [ Multiple-Services-Credit-Control ]
    * [ Service-Parameter-Info ]
    [ CC-Correlation-Id ]
    [ User-Equipment-Info ]
    [ User-Equipment-Info-Extension ]
    [ OC-Supported-Features ]             # 32.299
    * [ Proxy-Info ]
    * [ Route-Record ]
    [ Service-Information ]               # 32.299
    * [ AVP ]

# RFC 8506 §3.2 plus TS 32.299 §6.4.3 (lines marked 32.299).
CCA ::=
    < Session-Id >
    [ DRMP ]                              # 32.299
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    { Auth-Application-Id }
    { CC-Request-Type }
    { CC-Request-Number }
    [ User-Name ]
    [ CC-Session-Failover ]
    [ CC-Sub-Session-Id ]
    [ Acct-Multi-Session-Id ]
    [ Origin-State-Id ]
    [ Event-Timestamp ]
    [ Granted-Service-Unit ]
    * [ Multiple-Services-Credit-Control ]
    [ Cost-Information ]
    [ Low-Balance-Indication ]            # 32.299
    [ Remaining-Balance ]                 # 32.299
    [ Final-Unit-Indication ]
    [ QoS-Final-Unit-Indication ]
    [ Check-Balance-Result ]
    [ Credit-Control-Failure-Handling ]
    [ Direct-Debiting-Failure-Handling ]
    [ Validity-Time ]
    [ OC-Supported-Features ]             # 32.299
    [ OC-OLR ]                            # 32.299
    * [ Redirect-Host ]
    [ Redirect-Host-Usage ]
    [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ]
    * [ Route-Record ]
    * [ Failed-AVP ]
    [ Service-Information ]               # 32.299
    * [ AVP ]

# RFC 6733 §8.3.1. RFC 8506 §5.5 scopes a credit re-authorization with at most one of
# G-S-U-Pool-Identifier, Service-Identifier, Rating-Group (and CC-Sub-Session-Id for a
# sub-session); the RFC carries them in * [ AVP ], they are named here so a server
# can encode and a client validate them.
RAR ::=
    < Session-Id >
    { Origin-Host }
    { Origin-Realm }
    { Destination-Realm }
    { Destination-Host }
    { Auth-Application-Id }
    { Re-Auth-Request-Type }
    [ User-Name ]
    [ Origin-State-Id ]
    [ CC-Sub-Session-Id ]                 # RFC 8506 §5.5
    [ G-S-U-Pool-Identifier ]             # RFC 8506 §5.5
    [ Service-Identifier ]                # RFC 8506 §5.5
    [ Rating-Group ]                      # RFC 8506 §5.5
    * [ Proxy-Info ]
    * [ Route-Record ]
    * [ AVP ]

# RFC 6733 §8.3.2
RAA ::=
    < Session-Id >
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    [ User-Name ]
    [ Origin-State-Id ]
    [ Error-Message ]
    [ Error-Reporting-Host ]
    [ Failed-AVP ]
    * [ Redirect-Host ]
    [ Redirect-Host-Usage ]
    [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ]
    * [ AVP ]

# RFC 6733 §8.5.1
ASR ::=
    < Session-Id >
    { Origin-Host }
    { Origin-Realm }
    { Destination-Realm }
    { Destination-Host }
    { Auth-Application-Id }
    [ User-Name ]
    [ Origin-State-Id ]
    * [ Proxy-Info ]
    * [ Route-Record ]
    * [ AVP ]

# RFC 6733 §8.5.2
ASA ::=
    < Session-Id >
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    [ User-Name ]
    [ Origin-State-Id ]
    [ Error-Message ]
    [ Error-Reporting-Host ]
    [ Failed-AVP ]
    * [ Redirect-Host ]
    [ Redirect-Host-Usage ]
    [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ]
    * [ AVP ]

# RFC 6733 §8.4.1
STR ::=
    < Session-Id >
    { Origin-Host }
    { Origin-Realm }
    { Destination-Realm }
    { Auth-Application-Id }
    { Termination-Cause }
    [ User-Name ]
    [ Destination-Host ]
    * [ Class ]
    [ Origin-State-Id ]
    * [ Proxy-Info ]
    * [ Route-Record ]
    * [ AVP ]

# RFC 6733 §8.4.2
STA ::=
    < Session-Id >
    { Result-Code }
    { Origin-Host }
    { Origin-Realm }
    [ User-Name ]
    * [ Class ]
    [ Error-Message ]
    [ Error-Reporting-Host ]
    [ Failed-AVP ]
    [ Origin-State-Id ]
    * [ Redirect-Host ]
    [ Redirect-Host-Usage ]
    [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ]
    * [ AVP ]

# RFC 6733 §7.2: the body of any answer with the E bit set (protocol errors, 3xxx),
# whatever its command code; the P bit is copied from the request.
answer-message ::=
    0*1 < Session-Id >
    { Origin-Host }
    { Origin-Realm }
    { Result-Code }
    [ Origin-State-Id ]
    [ Error-Message ]
    [ Error-Reporting-Host ]
    [ Failed-AVP ]
    [ Experimental-Result ]
    * [ Proxy-Info ]
    * [ AVP ]
"""


def parse_command_headers(text: str, grammars: Mapping[str, Grammar]) -> list[CommandDef]:
    """Parse ``code abbrev REQ|- PXY|- application name`` rows, joining each grammar."""
    commands: list[CommandDef] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            code, abbreviation, r_bit, p_bit, application, name = line.split()
            if r_bit not in ("REQ", "-") or p_bit not in ("PXY", "-"):
                raise ValueError("R column is REQ or -, P column PXY or -")
            grammar = grammars.get(abbreviation)
            if grammar is None:
                raise ValueError(f"no grammar for {abbreviation}")
            commands.append(
                CommandDef(
                    int(code),
                    name,
                    abbreviation,
                    r_bit == "REQ",
                    int(application),
                    p_bit == "PXY",
                    grammar,
                )
            )
        except ValueError as exc:
            raise ValueError(f"command line {number}: {exc}: {line!r}") from None
    return commands


# ---------------------------------------------------------------------------
# Indexes and the import-time consistency check.


def build_indexes(
    avps: Iterable[AvpDef],
) -> tuple[dict[tuple[int, int], AvpDef], dict[str, AvpDef]]:
    """Index AVPs by (code, vendor) and by name; ValueError if either is listed twice."""
    by_key: dict[tuple[int, int], AvpDef] = {}
    by_name: dict[str, AvpDef] = {}
    problems: list[str] = []
    for definition in avps:
        if definition.key in by_key:
            problems.append(
                f"(code {definition.code}, vendor {definition.vendor_id}) listed twice: "
                f"{by_key[definition.key].name} and {definition.name}"
            )
        if definition.name in by_name:
            problems.append(f"name {definition.name} listed twice")
        by_key.setdefault(definition.key, definition)
        by_name.setdefault(definition.name, definition)
    if problems:
        raise ValueError("AVP table: " + "; ".join(problems))
    return by_key, by_name


def check_grammars(
    by_name: Mapping[str, AvpDef],
    grouped: Mapping[str, Grammar],
    commands: Iterable[CommandDef],
    extra: Iterable[Grammar] = (),
) -> None:
    """Raise ValueError unless every grammar is consistent with the AVP table.

    Every rule name is a defined AVP; every grouped grammar belongs to a Grouped AVP;
    every Grouped AVP has a grammar (so the codec can always descend into one, and
    ``grouped(name)`` never fails for a Grouped name); every Enumerated AVP has
    values; and (code, request) pairs are unique.
    """
    problems: list[str] = []
    grammars = [*grouped.values(), *(c.grammar for c in commands), *extra]
    for grammar in grammars:
        problems += [
            f"{grammar.name} names undefined AVP {rule.name}"
            for rule in grammar.rules
            if rule.name not in by_name
        ]
    for name in grouped:
        definition = by_name.get(name)
        if definition is None or definition.type is not AvpType.GROUPED:
            problems.append(f"grammar {name} is not for a Grouped AVP")
    for definition in by_name.values():
        if definition.type is AvpType.GROUPED and definition.name not in grouped:
            problems.append(f"Grouped AVP {definition.name} has no grammar")
        if definition.type is AvpType.ENUMERATED and not definition.values:
            problems.append(f"Enumerated AVP {definition.name} has no values")
    seen: set[tuple[int, bool]] = set()
    for command in commands:
        key = (command.code, command.request)
        if key in seen:
            problems.append(f"command {key} listed twice")
        seen.add(key)
    if problems:
        raise ValueError("dictionary: " + "; ".join(problems))


AVPS: tuple[AvpDef, ...] = tuple(
    row for table in (_BASE, _CREDIT_CONTROL, _IETF_OTHER, _TGPP) for row in parse_avp_table(table)
)

BY_KEY: Mapping[tuple[int, int], AvpDef]
BY_NAME: Mapping[str, AvpDef]
BY_KEY, BY_NAME = build_indexes(AVPS)

GROUPED: Mapping[str, Grammar] = {
    name: grammar
    for text in (_GROUPED_BASE, _GROUPED_CREDIT_CONTROL, _GROUPED_IETF_OTHER, _GROUPED_TGPP)
    for name, grammar in parse_grammars(text).items()
}

_CCFS = parse_grammars(_COMMAND_GRAMMARS)

#: RFC 6733 §7.2 generic answer: the grammar of every answer with the E bit set
ANSWER_MESSAGE: Grammar = _CCFS["answer-message"]

COMMANDS: Mapping[tuple[int, bool], CommandDef] = {
    (command.code, command.request): command
    for command in parse_command_headers(_COMMAND_HEADERS, _CCFS)
}

check_grammars(BY_NAME, GROUPED, COMMANDS.values(), (ANSWER_MESSAGE,))


def lookup(code: int, vendor_id: int = 0) -> AvpDef | None:
    """The definition of AVP (code, vendor), or None if this dictionary lacks it."""
    return BY_KEY.get((code, vendor_id))


def avp(name: str) -> AvpDef:
    """The definition of an AVP by its RFC name; KeyError names the typo."""
    return BY_NAME[name]


def grouped(name: str) -> Grammar:
    """The grammar of a Grouped AVP; KeyError for any other name."""
    return GROUPED[name]


def command(code: int, request: bool) -> CommandDef | None:
    """The request or answer of a command code, or None if we do not define it."""
    return COMMANDS.get((code, request))


__all__ = [
    "ANSWER_MESSAGE",
    "AVPS",
    "BY_KEY",
    "BY_NAME",
    "COMMANDS",
    "GROUPED",
    "VENDOR_3GPP",
    "AvpDef",
    "AvpType",
    "CommandDef",
    "FlagRule",
    "Grammar",
    "Rule",
    "avp",
    "build_indexes",
    "check_grammars",
    "command",
    "grouped",
    "lookup",
    "parse_avp_table",
    "parse_command_headers",
    "parse_grammar",
    "parse_grammars",
]
