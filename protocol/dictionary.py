"""The AVP dictionary and the command grammars, as data.

What lives here: one row per AVP (code, vendor, name, type, M-bit rule, enumerated
value names) for RFC 6733 (base), RFC 8506 (credit control, including 653-669) and
the TS 32.299 / TS 29.061 vendor-10415 set that Gy and Ro clients send; the grouped
AVP and command grammars (which children, how many, which are required) from the
RFCs' CCF/ABNF. What must not: any decoding or encoding (that is `codec`) and any
validation logic beyond lookups (that is `grammar`).

The tables are plain text so they diff line by line against the RFC tables
(RFC 6733 §4.5, RFC 8506 §8, TS 32.299 §7).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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
    values: Mapping[int, str] = field(default_factory=dict)

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

    ``extensible`` is the trailing ``*[ AVP ]``: any other AVP may follow.
    """

    name: str
    rules: tuple[Rule, ...]
    extensible: bool = True

    def rule(self, name: str) -> Rule | None:
        for rule in self.rules:
            if rule.name == name:
                return rule
        return None


@dataclass(frozen=True, slots=True)
class CommandDef:
    code: int
    name: str  #: e.g. "Credit-Control-Request"
    abbreviation: str  #: e.g. "CCR"
    request: bool
    application_id: int
    proxiable: bool
    grammar: Grammar


def parse_avp_table(text: str) -> list[AvpDef]:
    """Parse ``code name type vendor flags [value=NAME ...]`` rows; '#' starts a comment."""
    rows: list[AvpDef] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        code, name, type_, vendor, flags, *values = line.split()
        try:
            enumerated = {int(v): n for v, n in (item.split("=", 1) for item in values)}
            rows.append(
                AvpDef(
                    int(code), name, AvpType(type_), int(vendor), _flag_rule(flags), enumerated
                )
            )
        except ValueError as exc:
            raise ValueError(f"dictionary line {number}: {exc}: {line!r}") from None
    return rows


def _flag_rule(flags: str) -> FlagRule:
    if "M" in flags:
        return FlagRule.MUST
    return FlagRule.MAY if flags == "-" else FlagRule.MUST_NOT


def parse_grammar(name: str, text: str) -> Grammar:
    """Parse a CCF/ABNF body: one rule per line, e.g. ``*[ Subscription-Id ]``."""
    rules: list[Rule] = []
    extensible = False
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        qualifier, _, rest = line.partition(line.lstrip("0123456789*")[:1])
        bracket = line[len(qualifier)]
        inner = rest.strip().rstrip(">]}").strip()
        if inner == "AVP":
            extensible = True
            continue
        lo, hi = _qualifier(qualifier, bracket)
        rules.append(Rule(inner, lo, hi, fixed=bracket == "<"))
    return Grammar(name, tuple(rules), extensible)


def _qualifier(qualifier: str, bracket: str) -> tuple[int, int | None]:
    default_min = 0 if bracket == "[" else 1
    if not qualifier:
        return default_min, 1
    if "*" not in qualifier:
        n = int(qualifier)
        return n, n
    lo_text, _, hi_text = qualifier.partition("*")
    lo = int(lo_text) if lo_text else default_min
    hi = int(hi_text) if hi_text else None
    return lo, hi


# ---------------------------------------------------------------------------
# The tables. Columns: code, name, type, vendor, flags (M / - / none), then the
# enumerated values as value=NAME.

_BASE = """
"""

AVPS: tuple[AvpDef, ...] = tuple(parse_avp_table(_BASE))

BY_KEY: Mapping[tuple[int, int], AvpDef] = {d.key: d for d in AVPS}
BY_NAME: Mapping[str, AvpDef] = {d.name: d for d in AVPS}

GROUPED: Mapping[str, Grammar] = {}
COMMANDS: Mapping[tuple[int, bool], CommandDef] = {}


def lookup(code: int, vendor_id: int = 0) -> AvpDef | None:
    return BY_KEY.get((code, vendor_id))


def avp(name: str) -> AvpDef:
    """The definition of an AVP by its RFC name; KeyError names the typo."""
    return BY_NAME[name]


__all__ = ["VENDOR_3GPP"]
