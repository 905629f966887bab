"""E.164 normalisation and longest-prefix match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating.destinations import PrefixTable, normalise_e164
from rating.errors import DestinationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+4930123456", "4930123456"),
        ("004930123456", "4930123456"),  # the international prefix
        ("4930123456", "4930123456"),  # already international, as Diameter carries it
        ("+49 (30) 123-456", "4930123456"),  # visual separators
        ("tel:+49-30-123456", "4930123456"),
        ("tel:+4930123456;phone-context=example.com", "4930123456"),
        ("TEL:+4930123456", "4930123456"),
        ("sip:+4930123456@ims.example.net;user=phone", "4930123456"),
        ("sips:004930123456@ims.example.net", "4930123456"),
        ("  +1 212 555 0100 ", "12125550100"),
    ],
)
def test_normalise_e164_accepts_the_forms_networks_send(text: str, expected: str) -> None:
    assert normalise_e164(text) == expected


def test_a_national_number_becomes_international_with_a_country_code() -> None:
    assert normalise_e164("030123456", country_code="49") == "4930123456"
    assert normalise_e164("tel:030-123456", country_code="49") == "4930123456"
    # the international prefix is recognised before the national one
    assert normalise_e164("0033123456", country_code="49") == "33123456"
    # another national prefix (e.g. "8" in some CIS numbering plans)
    assert (
        normalise_e164(
            "84951234567", country_code="7", national_prefix="8", international_prefix="810"
        )
        == "74951234567"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        ("tel:", "empty"),
        ("+49 30 12a456", "'a'"),
        ("+49#30", "'#'"),
        ("49*30", "'*'"),
        ("030123456", "country code"),  # national, and no country code given
        ("+0123", "never start with 0"),
        ("+1234567890123456", "more than 15"),
        ("+٤٩٣٠", "unexpected"),  # Arabic-Indic digits are digits to str.isdigit, not to E.164
    ],
)
def test_normalise_e164_rejects_clearly(text: str, complaint: str) -> None:
    with pytest.raises(DestinationError, match=complaint.replace("*", r"\*")):
        normalise_e164(text)


@given(st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True))
def test_every_form_of_a_number_normalises_to_the_same_digits(digits: str) -> None:
    for form in (f"+{digits}", f"00{digits}", digits, f"tel:+{digits}", f"sip:+{digits}@h"):
        assert normalise_e164(form) == digits


def test_longest_prefix_wins() -> None:
    table = PrefixTable.of([("", "world"), ("4", "europe?"), ("49", "DE"), ("4915", "DE mobile")])
    assert table.longest_match("4915112345678") == ("4915", "DE mobile")
    assert table.longest_match("4930123") == ("49", "DE")
    assert table.longest_match("44207") == ("4", "europe?")
    assert table.longest_match("12125550100") == ("", "world")
    assert table.longest_match("491") == ("49", "DE")  # shorter than the longest prefix


def test_without_a_default_an_unknown_destination_matches_nothing() -> None:
    table = PrefixTable.of([("49", 1)])
    assert table.longest_match("33") is None
    assert table.longest_match("") is None


def test_prefix_table_refuses_bad_prefixes() -> None:
    with pytest.raises(DestinationError, match="twice"):
        PrefixTable.of([("49", 1), ("49", 2)])
    with pytest.raises(DestinationError, match="digits"):
        PrefixTable({"+49": 1})


@given(
    st.dictionaries(st.from_regex(r"[0-9]{0,6}", fullmatch=True), st.integers(), max_size=30),
    st.from_regex(r"[0-9]{0,12}", fullmatch=True),
)
def test_longest_match_agrees_with_a_linear_scan(prefixes: dict[str, int], number: str) -> None:
    matching = [p for p in prefixes if number.startswith(p)]
    expected = max(matching, key=len) if matching else None
    found = PrefixTable(prefixes).longest_match(number)
    assert (found[0] if found else None) == expected
