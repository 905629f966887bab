"""The AVP dictionary and grammars: the tables against the standards, and the parsers."""

from __future__ import annotations

import enum
import pathlib
import re
from dataclasses import replace

import pytest

from protocol import codes
from protocol import dictionary as d
from protocol.dictionary import AvpType, FlagRule, Rule

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: the project reference, kept next to the repository (absent in a bare checkout)
GY_STANDARDS = ROOT.parent / "shared" / "reference" / "gy-standards.md"

V = codes.VENDOR_3GPP


# --- the tables -----------------------------------------------------------------------


def test_real_tables_list_no_code_vendor_or_name_twice() -> None:
    keys = [a.key for a in d.AVPS]
    names = [a.name for a in d.AVPS]
    assert len(keys) == len(set(keys))
    assert len(names) == len(set(names))
    assert len(d.BY_KEY) == len(d.BY_NAME) == len(d.AVPS)


def test_duplicate_code_vendor_is_refused() -> None:
    session_id = d.avp("Session-Id")
    with pytest.raises(ValueError, match=r"code 263, vendor 0\) listed twice"):
        d.build_indexes([*d.AVPS, replace(session_id, name="Session-Id-Again")])


def test_duplicate_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name Session-Id listed twice"):
        d.build_indexes([*d.AVPS, replace(d.avp("Session-Id"), code=99999)])


def test_duplicate_row_in_table_text_is_refused() -> None:
    rows = d.parse_avp_table("263 Session-Id UTF8String 0 M\n263 Session-Id UTF8String 0 M\n")
    with pytest.raises(ValueError, match="listed twice"):
        d.build_indexes(rows)


def test_same_code_in_two_vendor_spaces_is_allowed() -> None:
    assert d.lookup(1) is d.avp("User-Name")
    assert d.lookup(1, V) is d.avp("3GPP-IMSI")
    assert d.lookup(509) is d.avp("Filter-Rule")
    assert d.lookup(509, V) is d.avp("Flow-Number")


#: (name, code, vendor, type, M-bit rule), independent of the reference file
SPOT_CHECKS = [
    ("User-Name", 1, 0, AvpType.UTF8_STRING, FlagRule.MUST),
    ("Class", 25, 0, AvpType.OCTET_STRING, FlagRule.MUST),
    ("Event-Timestamp", 55, 0, AvpType.TIME, FlagRule.MUST),
    ("Host-IP-Address", 257, 0, AvpType.ADDRESS, FlagRule.MUST),
    ("Session-Id", 263, 0, AvpType.UTF8_STRING, FlagRule.MUST),
    ("Origin-Host", 264, 0, AvpType.DIAMETER_IDENTITY, FlagRule.MUST),
    ("Product-Name", 269, 0, AvpType.UTF8_STRING, FlagRule.MUST_NOT),
    ("Failed-AVP", 279, 0, AvpType.GROUPED, FlagRule.MUST),
    ("Error-Message", 281, 0, AvpType.UTF8_STRING, FlagRule.MUST_NOT),
    ("Redirect-Host", 292, 0, AvpType.DIAMETER_URI, FlagRule.MUST),
    ("Termination-Cause", 295, 0, AvpType.ENUMERATED, FlagRule.MUST),
    ("E2E-Sequence", 300, 0, AvpType.GROUPED, FlagRule.MUST),
    ("DRMP", 301, 0, AvpType.ENUMERATED, FlagRule.MAY),
    ("CC-Correlation-Id", 411, 0, AvpType.OCTET_STRING, FlagRule.MAY),
    ("CC-Request-Type", 416, 0, AvpType.ENUMERATED, FlagRule.MUST),
    ("CC-Total-Octets", 421, 0, AvpType.UNSIGNED64, FlagRule.MUST),
    ("Exponent", 429, 0, AvpType.INTEGER32, FlagRule.MUST),
    ("Restriction-Filter-Rule", 438, 0, AvpType.IP_FILTER_RULE, FlagRule.MUST),
    ("Value-Digits", 447, 0, AvpType.INTEGER64, FlagRule.MUST),
    ("Multiple-Services-Credit-Control", 456, 0, AvpType.GROUPED, FlagRule.MUST),
    ("User-Equipment-Info", 458, 0, AvpType.GROUPED, FlagRule.MAY),
    ("Service-Context-Id", 461, 0, AvpType.UTF8_STRING, FlagRule.MUST),
    ("User-Equipment-Info-Extension", 653, 0, AvpType.GROUPED, FlagRule.MAY),
    ("Subscription-Id-E164", 660, 0, AvpType.UTF8_STRING, FlagRule.MAY),
    ("Redirect-Address-IPAddress", 666, 0, AvpType.ADDRESS, FlagRule.MAY),
    ("QoS-Final-Unit-Indication", 669, 0, AvpType.GROUPED, FlagRule.MAY),
    ("3GPP-IMSI", 1, V, AvpType.UTF8_STRING, FlagRule.MUST_NOT),
    ("3GPP-RAT-Type", 21, V, AvpType.OCTET_STRING, FlagRule.MUST_NOT),
    ("Supported-Features", 628, V, AvpType.GROUPED, FlagRule.MUST_NOT),
    ("CG-Address", 846, V, AvpType.ADDRESS, FlagRule.MUST),
    ("Reporting-Reason", 872, V, AvpType.ENUMERATED, FlagRule.MUST),
    ("Service-Information", 873, V, AvpType.GROUPED, FlagRule.MUST),
    ("QoS-Information", 1016, V, AvpType.GROUPED, FlagRule.MUST),
    ("Requested-Party-Address", 1251, V, AvpType.UTF8_STRING, FlagRule.MUST),
    ("Event-Charging-TimeStamp", 1258, V, AvpType.TIME, FlagRule.MUST),
    ("Data-Coding-Scheme", 2001, V, AvpType.INTEGER32, FlagRule.MUST),
    ("Recipient-Info", 2026, V, AvpType.GROUPED, FlagRule.MUST),
    ("PDN-Connection-Charging-ID", 2050, V, AvpType.UNSIGNED32, FlagRule.MUST),
    ("AoC-Request-Type", 2055, V, AvpType.ENUMERATED, FlagRule.MUST),
]


@pytest.mark.parametrize(("name", "code", "vendor", "type_", "flags"), SPOT_CHECKS)
def test_spot_check(name: str, code: int, vendor: int, type_: AvpType, flags: FlagRule) -> None:
    definition = d.lookup(code, vendor)
    assert definition is not None, f"{name} ({code}, {vendor}) missing"
    assert definition.name == name
    assert definition.type is type_
    assert definition.mandatory is flags
    assert d.avp(name) is definition


def _reference_rows() -> list[tuple[tuple[str, ...], int, int, str, str]]:
    """(name spellings, code, vendor, type, flags) for every AVP of the §2.4 table.

    Cells like ``User-Equipment-Info / -Type / -Value | 458 / 459 / 460`` expand to
    three AVPs. The shorthand is ambiguous: a leading '-' extends the first name
    (User-Equipment-Info-Type) or replaces its last word (Service-Parameter-Info /
    -Type is Service-Parameter-Type), so both spellings are offered. A parenthesis
    after a name (``DRMP (RFC 7944)``) is a note.
    """
    text = GY_STANDARDS.read_text(encoding="utf-8")
    section = text.split("### 2.4", 1)[1].split("\n### ", 1)[0]
    rows: list[tuple[tuple[str, ...], int, int, str, str]] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not re.fullmatch(r"[\d /]+", cells[1]):
            continue  # prose, the header or the separator row
        names = [n.strip() for n in re.sub(r"\(.*?\)", "", cells[0]).split("/")]
        spellings = [
            (names[0] + n, names[0].rsplit("-", 1)[0] + n) if n.startswith("-") else (n,)
            for n in names
        ]
        numbers = [int(c) for c in cells[1].split("/")]
        types = [t.strip() for t in cells[3].split("/")]
        types = types * len(names) if len(types) == 1 else types
        assert len(names) == len(numbers) == len(types), line
        rows += [
            (spelling, number, int(cells[2]), type_, cells[4])
            for spelling, number, type_ in zip(spellings, numbers, types, strict=True)
        ]
    return rows


def _flag_rule(cell: str) -> FlagRule:
    """The reference writes M, V,M (must), - (may), none / V (must not)."""
    if cell in ("M", "V,M"):
        return FlagRule.MUST
    if cell == "-":
        return FlagRule.MAY
    assert cell.startswith("none") or cell == "V", cell
    return FlagRule.MUST_NOT


@pytest.mark.skipif(not GY_STANDARDS.exists(), reason=f"{GY_STANDARDS} not present")
def test_every_reference_row_is_in_the_dictionary() -> None:
    rows = _reference_rows()
    assert len(rows) > 120  # the table parsed, middle rows included
    problems = []
    for spellings, code, vendor, type_, flags in rows:
        name = spellings[0]
        definition = d.lookup(code, vendor)
        if definition is None:
            problems.append(f"{name} ({code}, {vendor}) missing")
            continue
        # The reference writes PDN-Connection-Charging-Id; TS 32.299 spells it -ID.
        if definition.name.lower() not in {s.lower() for s in spellings}:
            problems.append(f"({code}, {vendor}) is {definition.name}, reference: {spellings}")
        if definition.type.value != type_:
            problems.append(f"{name}: {definition.type.value}, reference says {type_}")
        if definition.mandatory is not _flag_rule(flags):
            problems.append(f"{name}: M bit {definition.mandatory}, reference says {flags}")
    assert not problems, "\n".join(problems)


def test_every_enumerated_avp_has_values_and_no_other_has() -> None:
    for definition in d.AVPS:
        if definition.type is AvpType.ENUMERATED:
            assert definition.values, definition.name
            assert all(re.fullmatch(r"\S+", n) for n in definition.values.values())
        else:
            assert not definition.values, definition.name


def test_requested_enumerations_are_present() -> None:
    for name in [
        "Disconnect-Cause",
        "Auth-Session-State",
        "Re-Auth-Request-Type",
        "Redirect-Host-Usage",
        "Termination-Cause",
        "CC-Request-Type",
        "CC-Session-Failover",
        "Check-Balance-Result",
        "Credit-Control-Failure-Handling",
        "Direct-Debiting-Failure-Handling",
        "Final-Unit-Action",
        "Redirect-Address-Type",
        "Requested-Action",
        "Subscription-Id-Type",
        "Tariff-Change-Usage",
        "CC-Unit-Type",
        "Multiple-Services-Indicator",
        "User-Equipment-Info-Type",
        "Reporting-Reason",
        "Trigger-Type",
        "Time-Quota-Type",
        "Envelope-Reporting",
        "Low-Balance-Indication",
        "Serving-Node-Type",
        "Role-Of-Node",
        "Node-Functionality",
        "3GPP-PDP-Type",
        "AoC-Request-Type",
        "DRMP",
    ]:
        definition = d.avp(name)
        assert definition.type is AvpType.ENUMERATED
        assert definition.values, name
    assert d.avp("Reporting-Reason").values[9] == "UNUSED_QUOTA_TIMER"
    assert d.avp("DRMP").values == {n: f"PRIORITY_{n}" for n in range(16)}


def _normal(name: str) -> str:
    return name.upper().replace("-", "_")


@pytest.mark.parametrize(
    ("enum_type", "avp_name"),
    [
        (codes.DisconnectCause, "Disconnect-Cause"),
        (codes.CcRequestType, "CC-Request-Type"),
        (codes.RequestedAction, "Requested-Action"),
        (codes.CheckBalanceResult, "Check-Balance-Result"),
        (codes.FinalUnitAction, "Final-Unit-Action"),
        (codes.RedirectAddressType, "Redirect-Address-Type"),
        (codes.SubscriptionIdType, "Subscription-Id-Type"),
        (codes.MultipleServicesIndicator, "Multiple-Services-Indicator"),
        (codes.CreditControlFailureHandling, "Credit-Control-Failure-Handling"),
        (codes.DirectDebitingFailureHandling, "Direct-Debiting-Failure-Handling"),
        (codes.CcSessionFailover, "CC-Session-Failover"),
        (codes.TerminationCause, "Termination-Cause"),
        (codes.ReAuthRequestType, "Re-Auth-Request-Type"),
        (codes.AuthSessionState, "Auth-Session-State"),
        (codes.CcUnitType, "CC-Unit-Type"),
        (codes.ReportingReason, "Reporting-Reason"),
        (codes.LowBalanceIndication, "Low-Balance-Indication"),
    ],
)
def test_codes_enums_agree_with_the_dictionary(
    enum_type: type[enum.IntEnum], avp_name: str
) -> None:
    values = {v: _normal(n) for v, n in d.avp(avp_name).values.items()}
    assert values == {member.value: member.name for member in enum_type}


def test_codes_avp_codes_are_all_defined() -> None:
    for member in codes.AvpCode:
        assert d.lookup(member.value) is not None, member
    for member3 in codes.Avp3gpp:
        assert d.lookup(member3.value, V) is not None, member3


# --- grammars ------------------------------------------------------------------------


def _all_grammars() -> list[d.Grammar]:
    return [*d.GROUPED.values(), *(c.grammar for c in d.COMMANDS.values()), d.ANSWER_MESSAGE]


def test_every_grammar_name_resolves() -> None:
    for grammar in _all_grammars():
        for rule in grammar.rules:
            assert rule.name in d.BY_NAME, f"{grammar.name}: {rule.name}"


def test_every_grouped_avp_has_a_grammar_and_only_those() -> None:
    grouped_names = {a.name for a in d.AVPS if a.type is AvpType.GROUPED}
    assert set(d.GROUPED) == grouped_names
    for grammar in _all_grammars():
        for rule in grammar.rules:
            if d.avp(rule.name).type is AvpType.GROUPED:
                assert d.grouped(rule.name).name == rule.name


def test_check_grammars_fires_on_undefined_name() -> None:
    bad = d.parse_grammar("Subscription-Id", "{ Subscription-Id-Type }\n{ No-Such-AVP }")
    with pytest.raises(ValueError, match="undefined AVP No-Such-AVP"):
        d.check_grammars(d.BY_NAME, {**d.GROUPED, "Subscription-Id": bad}, d.COMMANDS.values())


def test_check_grammars_fires_on_grouped_without_grammar() -> None:
    without = {k: v for k, v in d.GROUPED.items() if k != "Unit-Value"}
    with pytest.raises(ValueError, match="Grouped AVP Unit-Value has no grammar"):
        d.check_grammars(d.BY_NAME, without, d.COMMANDS.values())


def test_check_grammars_fires_on_enumerated_without_values() -> None:
    by_name = {**d.BY_NAME, "CC-Request-Type": replace(d.avp("CC-Request-Type"), values={})}
    with pytest.raises(ValueError, match="CC-Request-Type has no values"):
        d.check_grammars(by_name, d.GROUPED, d.COMMANDS.values())


def test_check_grammars_fires_on_grammar_for_non_grouped() -> None:
    extra = {**d.GROUPED, "Session-Id": d.parse_grammar("Session-Id", "* [ AVP ]")}
    with pytest.raises(ValueError, match="grammar Session-Id is not for a Grouped AVP"):
        d.check_grammars(d.BY_NAME, extra, d.COMMANDS.values())


def test_ccr_required_set_is_exactly_rfc_8506() -> None:
    ccr = d.command(272, True)
    assert ccr is not None
    assert ccr.grammar.required_names == {
        "Session-Id",
        "Origin-Host",
        "Origin-Realm",
        "Destination-Realm",
        "Auth-Application-Id",
        "Service-Context-Id",
        "CC-Request-Type",
        "CC-Request-Number",
    }
    assert ccr.grammar.rules[0] == Rule("Session-Id", 1, 1, fixed=True)
    assert ccr.grammar.extensible
    for name in ("Multiple-Services-Credit-Control", "Used-Service-Unit", "Subscription-Id"):
        assert ccr.grammar.rule(name) == Rule(name, 0, None)
    for name in ("Service-Information", "AoC-Request-Type", "Requested-Action"):
        assert ccr.grammar.rule(name) == Rule(name, 0, 1)


def test_cca_fixed_and_required_rules() -> None:
    cca = d.command(272, False)
    assert cca is not None
    assert [r.name for r in cca.grammar.rules if r.fixed] == ["Session-Id"]
    assert cca.grammar.rules[0] == Rule("Session-Id", 1, 1, fixed=True)
    assert cca.grammar.required_names == {
        "Session-Id",
        "Result-Code",
        "Origin-Host",
        "Origin-Realm",
        "Auth-Application-Id",
        "CC-Request-Type",
        "CC-Request-Number",
    }
    for name in ("Multiple-Services-Credit-Control", "Failed-AVP", "Redirect-Host"):
        assert cca.grammar.rule(name) == Rule(name, 0, None)
    for name in (
        "Granted-Service-Unit",
        "Cost-Information",
        "Final-Unit-Indication",
        "QoS-Final-Unit-Indication",
        "Check-Balance-Result",
        "Credit-Control-Failure-Handling",
        "Direct-Debiting-Failure-Handling",
        "Validity-Time",
        "CC-Session-Failover",
        "Low-Balance-Indication",
        "Remaining-Balance",
        "Service-Information",
    ):
        assert cca.grammar.rule(name) == Rule(name, 0, 1)


def test_mscc_allows_rating_group_rsu_and_any_number_of_usu() -> None:
    mscc = d.grouped("Multiple-Services-Credit-Control")
    assert mscc.rule("Rating-Group") == Rule("Rating-Group", 0, 1)
    assert mscc.rule("Requested-Service-Unit") == Rule("Requested-Service-Unit", 0, 1)
    assert mscc.rule("Used-Service-Unit") == Rule("Used-Service-Unit", 0, None)
    assert mscc.rule("Service-Identifier") == Rule("Service-Identifier", 0, None)
    assert mscc.rule("Reporting-Reason") == Rule("Reporting-Reason", 0, None)
    assert not mscc.required_names
    assert mscc.extensible
    for name in (
        "Time-Quota-Threshold",
        "Volume-Quota-Threshold",
        "Quota-Holding-Time",
        "Trigger",
        "Envelope-Reporting",
        "QoS-Information",
        "3GPP-RAT-Type",
    ):
        assert mscc.rule(name) == Rule(name, 0, 1)


def test_grouped_grammars_from_the_rfcs() -> None:
    usu = d.grouped("Used-Service-Unit")
    assert usu.rule("Event-Charging-TimeStamp") == Rule("Event-Charging-TimeStamp", 0, None)
    assert usu.rule("Reporting-Reason") == Rule("Reporting-Reason", 0, 1)
    assert d.grouped("Cost-Information").required_names == {"Unit-Value", "Currency-Code"}
    assert d.grouped("CC-Money").required_names == {"Unit-Value"}
    assert not d.grouped("Unit-Value").extensible
    fui = d.grouped("Final-Unit-Indication")
    assert fui.required_names == {"Final-Unit-Action"}
    assert not fui.extensible
    failed = d.grouped("Failed-AVP")
    assert failed.rules == ()
    assert failed.extensible
    assert failed.avp_min == 1
    sie = d.grouped("Subscription-Id-Extension")
    assert sie.extensible
    assert (sie.avp_min, sie.avp_max) == (0, 1)
    vsai = d.grouped("Vendor-Specific-Application-Id")
    assert vsai.required_names == {"Vendor-Id"}
    assert not vsai.extensible
    assert d.grouped("E2E-Sequence").avp_min == 2
    olr = d.grouped("OC-OLR")
    assert [r.name for r in olr.rules if r.fixed] == ["OC-Sequence-Number", "OC-Report-Type"]
    assert d.grouped("IMS-Information").required_names == {"Node-Functionality"}
    assert d.grouped("Recipient-Info").rule("Recipient-Address") == Rule(
        "Recipient-Address", 0, None
    )


def test_answer_message_is_rfc_6733_section_7_2() -> None:
    answer = d.ANSWER_MESSAGE
    assert answer.rules[0] == Rule("Session-Id", 0, 1, fixed=True)
    assert answer.required_names == {"Origin-Host", "Origin-Realm", "Result-Code"}
    assert answer.rule("Proxy-Info") == Rule("Proxy-Info", 0, None)
    assert {
        "Error-Message",
        "Error-Reporting-Host",
        "Failed-AVP",
        "Experimental-Result",
        "Origin-State-Id",
    } <= answer.names
    assert answer.extensible


def test_rar_may_scope_the_reauthorization() -> None:
    rar = d.command(258, True)
    assert rar is not None
    for name in ("Rating-Group", "Service-Identifier", "G-S-U-Pool-Identifier"):
        assert rar.grammar.rule(name) == Rule(name, 0, 1)
    assert "Re-Auth-Request-Type" in rar.grammar.required_names
    assert rar.grammar.extensible


@pytest.mark.parametrize(
    ("code", "abbreviations", "application", "proxiable"),
    [
        (257, ("CER", "CEA"), 0, False),
        (280, ("DWR", "DWA"), 0, False),
        (282, ("DPR", "DPA"), 0, False),
        (272, ("CCR", "CCA"), 4, True),
        (258, ("RAR", "RAA"), 4, True),
        (274, ("ASR", "ASA"), 4, True),
        (275, ("STR", "STA"), 4, True),
    ],
)
def test_command_headers(
    code: int, abbreviations: tuple[str, str], application: int, proxiable: bool
) -> None:
    for request, abbreviation in zip((True, False), abbreviations, strict=True):
        definition = d.command(code, request)
        assert definition is not None
        assert definition.abbreviation == abbreviation
        assert definition.request is request
        assert definition.application_id == application
        assert definition.proxiable is proxiable
        assert definition.grammar.name == abbreviation
        assert definition.name.endswith("-Request" if request else "-Answer")


def test_every_command_code_has_request_and_answer() -> None:
    assert {c for c, _ in d.COMMANDS} == {int(c) for c in codes.CommandCode}
    assert len(d.COMMANDS) == 2 * len(codes.CommandCode)


def test_cer_needs_at_least_one_host_ip_address() -> None:
    cer = d.command(257, True)
    assert cer is not None
    assert cer.grammar.rule("Host-IP-Address") == Rule("Host-IP-Address", 1, None)


# --- lookups -------------------------------------------------------------------------


def test_lookups() -> None:
    assert d.lookup(263) is d.avp("Session-Id")
    assert len({d.avp("CC-Request-Type"), d.avp("Session-Id")}) == 2  # hashable
    assert d.lookup(263, V) is None
    assert d.lookup(99999) is None
    assert d.command(999, True) is None
    with pytest.raises(KeyError):
        d.avp("Sesion-Id")
    with pytest.raises(KeyError):
        d.grouped("Session-Id")  # defined, but not Grouped
    with pytest.raises(KeyError):
        d.grouped("No-Such-AVP")


# --- parse_grammar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("< Session-Id >", Rule("Session-Id", 1, 1, fixed=True)),
        ("<Session-Id>", Rule("Session-Id", 1, 1, fixed=True)),
        ("0*1 < Session-Id >", Rule("Session-Id", 0, 1, fixed=True)),
        ("{ Origin-Host }", Rule("Origin-Host", 1, 1)),
        ("1* { Host-IP-Address }", Rule("Host-IP-Address", 1, None)),
        ("*{ Host-IP-Address }", Rule("Host-IP-Address", 1, None)),
        ("2*3 { Foo }", Rule("Foo", 2, 3)),
        ("*4 { Foo }", Rule("Foo", 1, 4)),
        ("[ User-Name ]", Rule("User-Name", 0, 1)),
        ("* [ Proxy-Info ]", Rule("Proxy-Info", 0, None)),
        ("*[Proxy-Info]", Rule("Proxy-Info", 0, None)),
        ("0*2 [ Foo ]", Rule("Foo", 0, 2)),
        ("*0 [ Foo ]", Rule("Foo", 0, 0)),
        ("  [ 3GPP-IMSI ]   # a comment", Rule("3GPP-IMSI", 0, 1)),
    ],
)
def test_parse_grammar_rule_forms(line: str, expected: Rule) -> None:
    grammar = d.parse_grammar("G", line)
    assert grammar.rules == (expected,)
    assert not grammar.extensible
    assert grammar.avp_max == 0


@pytest.mark.parametrize(
    ("line", "bounds"),
    [
        ("* [ AVP ]", (0, None)),
        ("*[AVP]", (0, None)),
        ("[ AVP ]", (0, 1)),
        ("1* { AVP }", (1, None)),
        ("2* [ AVP ]", (2, None)),
    ],
)
def test_parse_grammar_wildcard(line: str, bounds: tuple[int, int | None]) -> None:
    grammar = d.parse_grammar("G", "{ Foo }\n" + line)
    assert grammar.rules == (Rule("Foo", 1, 1),)
    assert grammar.extensible
    assert (grammar.avp_min, grammar.avp_max) == bounds


def test_parse_grammar_keeps_order_and_skips_blank_and_comment_lines() -> None:
    grammar = d.parse_grammar(
        "G", "\n# header comment\n< A >\n\n{ B }\n  * [ C ]  # trailing\n[ D ]\n* [ AVP ]\n"
    )
    assert [r.name for r in grammar.rules] == ["A", "B", "C", "D"]
    assert grammar.rule("C") == Rule("C", 0, None)
    assert grammar.rule("E") is None
    assert grammar.required_names == {"A", "B"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{ Foo ]", "closed by"),
        ("Foo", "not a rule"),
        ("2 [ Foo ]", "not a rule"),  # RFC 6733 qualifiers always carry the star
        ("[ Foo Bar ]", "not a rule"),
        ("[ ]", "not a rule"),
        ("{ Foo } { Bar }", "not a rule"),
        ("x* [ Foo ]", "not a rule"),
        ("3*2 [ Foo ]", "max 2 below min 3"),
        ("0* { Foo }", "required rule needs min >= 1"),
        ("*0 { Foo }", "max 0 below min 1"),
        ("1* [ Foo ]", "optional rule must have min 0"),
        ("< AVP >", "cannot be fixed"),
        ("* [ AVP ]\n[ AVP ]", "wildcard given twice"),
        ("[ Foo ]\n* [ Foo ]", "Foo listed twice"),
        ("{ Foo }\n< Bar >", "fixed rule must come before"),
    ],
)
def test_parse_grammar_rejects_bad_input(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)) as caught:
        d.parse_grammar("Bad-Grammar", text)
    assert "Bad-Grammar" in str(caught.value)


def test_parse_grammar_error_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"grammar 'G' line 3: .*'\{ C \]'"):
        d.parse_grammar("G", "{ A }\n\n{ C ]\n")


def test_parse_grammar_rejects_empty_body() -> None:
    with pytest.raises(ValueError, match="grammar 'G': no rules"):
        d.parse_grammar("G", "\n  # only a comment\n")


def test_parse_grammars_blocks() -> None:
    grammars = d.parse_grammars("# intro\nA ::=\n  { X }\n\nB ::=  # note\n  * [ AVP ]\n")
    assert set(grammars) == {"A", "B"}
    assert grammars["A"].rules == (Rule("X", 1, 1),)
    assert grammars["B"].extensible
    with pytest.raises(ValueError, match="outside"):
        d.parse_grammars("{ X }\nA ::=\n { Y }\n")
    with pytest.raises(ValueError, match="A defined twice"):
        d.parse_grammars("A ::=\n { X }\nA ::=\n { Y }\n")


# --- parse_avp_table and parse_command_headers ------------------------------------------


def test_parse_avp_table_with_continued_enumeration() -> None:
    (row,) = d.parse_avp_table(
        "# comment\n416 CC-Request-Type Enumerated 0 M 1=INITIAL_REQUEST\n"
        "    2=UPDATE_REQUEST 3=TERMINATION_REQUEST  # more\n"
    )
    assert row == d.AvpDef(
        416,
        "CC-Request-Type",
        AvpType.ENUMERATED,
        0,
        FlagRule.MUST,
        {1: "INITIAL_REQUEST", 2: "UPDATE_REQUEST", 3: "TERMINATION_REQUEST"},
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("263 Session-Id UTF8Strin 0 M", "UTF8Strin"),
        ("263 Session-Id UTF8String 0", "expected code, name, type, vendor and flags"),
        ("263 Session-Id UTF8String 0 X", "'X'"),
        ("x Session-Id UTF8String 0 M", "invalid literal"),
        ("263 Session-Id UTF8String 0 M 1=ONE", "only Enumerated"),
        ("1=ONE", "continue no Enumerated row"),
        ("416 T Enumerated 0 M 1=A 1=B", "value 1 listed twice"),
        ("416 T Enumerated 0 M 1=A\n 1=B", "value 1 listed twice"),
        ("416 T Enumerated 0 M ONE", "not value=NAME"),
    ],
)
def test_parse_avp_table_rejects_bad_rows(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)) as caught:
        d.parse_avp_table(text)
    assert "dictionary line" in str(caught.value)


def test_parse_command_headers_rejects_bad_rows() -> None:
    grammars = {"XXR": d.parse_grammar("XXR", "* [ AVP ]")}
    (ok,) = d.parse_command_headers("999 XXR REQ PXY 4 X-Request", grammars)
    assert (ok.code, ok.request, ok.proxiable, ok.application_id) == (999, True, True, 4)
    with pytest.raises(ValueError, match="no grammar for XXA"):
        d.parse_command_headers("999 XXA - PXY 4 X-Answer", grammars)
    with pytest.raises(ValueError, match="R column"):
        d.parse_command_headers("999 XXR R PXY 4 X-Request", grammars)
