"""E.164 destinations: normalisation and longest-prefix match.

What lives here: ``normalise_e164`` (turns what a switch, an IMS node or a person
writes into bare E.164 digits) and ``PrefixTable`` (longest-prefix lookup of a value by
destination, on the voice hot path). What must not: tariffs or prices (a table maps a
prefix to any value), number portability look-ups, or I/O.

E.164 (ITU-T E.164 §6): at most 15 digits, country code first, no leading zero.
URI forms follow RFC 3966 (``tel:``, whose visual separators ``-.()`` are dropped) and
RFC 3261 §19.1 (``sip:``/``sips:`` user part, ``;user=phone``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rating.errors import DestinationError

V = TypeVar("V")

#: E.164 numbers have at most 15 digits (ITU-T E.164 §6.1)
MAX_E164_DIGITS = 15
#: dropped when people or tel: URIs write them (RFC 3966 visual-separator) and spaces
_SEPARATORS = str.maketrans("", "", " -.()\t")


def normalise_e164(
    text: str,
    *,
    country_code: str | None = None,
    national_prefix: str = "0",
    international_prefix: str = "00",
) -> str:
    """Bare E.164 digits (no '+') of a number in any of the forms a network sends.

    Accepted: ``+4930123``, ``004930123`` (the international prefix), ``4930123``
    (already international, as Diameter Subscription-Id-Data and CDRs usually carry
    it), ``tel:+49-30-123;phone-context=...``, ``sip:+4930123@ims.example;user=phone``.
    With ``country_code`` (e.g. ``"49"``), a number starting with the national prefix
    (``030123``) becomes ``4930123``; without it, such a number is refused, since
    guessing a country would rate the call against the wrong destination.

    Raises:
        DestinationError: empty, a non-digit left after the separators, a national
            number without ``country_code``, or more than 15 digits.
    """
    number = text.strip()
    lowered = number[:5].lower()
    if lowered.startswith(("tel:", "sip:", "sips:")):
        number = number.split(":", 1)[1]
        number = number.split(";", 1)[0]  # parameters: ;phone-context=, ;user=phone, ;ext=
        if not lowered.startswith("tel:"):
            number = number.split("@", 1)[0]
    number = number.translate(_SEPARATORS)
    if not number:
        raise DestinationError(f"empty destination in {text!r}")
    if number[0] == "+":
        digits = number[1:]
        international = True
    elif international_prefix and number.startswith(international_prefix):
        digits = number[len(international_prefix) :]
        international = True
    else:
        digits = number
        international = False
    if not digits.isascii() or not digits.isdigit():
        bad = next((c for c in digits if not ("0" <= c <= "9")), digits[:1])
        raise DestinationError(f"not a phone number: {text!r} (unexpected {bad!r})")
    if not international and national_prefix and digits.startswith(national_prefix):
        if country_code is None:
            raise DestinationError(f"national number {text!r} needs a country code to become E.164")
        digits = country_code + digits[len(national_prefix) :]
    if not digits or digits[0] == "0":
        raise DestinationError(f"not an E.164 number: {text!r} (country codes never start with 0)")
    if len(digits) > MAX_E164_DIGITS:
        raise DestinationError(f"not an E.164 number: {text!r} has more than 15 digits")
    return digits


@dataclass(frozen=True, slots=True)
class PrefixTable(Generic[V]):
    """Longest-prefix match of digit strings, a dict per prefix length.

    A lookup tries each prefix length present in the table, longest first: a dict
    probe per distinct length (typically under ten), no per-digit trie walk in Python.
    The empty prefix ``""`` matches every destination (the tariff's default).
    """

    entries: Mapping[str, V]
    _by_prefix: dict[str, V] = field(init=False, repr=False, compare=False)
    _lengths: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for prefix in self.entries:
            if prefix and not (prefix.isascii() and prefix.isdigit()):
                raise DestinationError(f"prefix {prefix!r} must be digits only")
        object.__setattr__(self, "_by_prefix", dict(self.entries))
        object.__setattr__(
            self, "_lengths", tuple(sorted({len(p) for p in self.entries}, reverse=True))
        )

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, V]]) -> PrefixTable[V]:
        """A table from (prefix, value) pairs; a repeated prefix is an error."""
        table: dict[str, V] = {}
        for prefix, value in pairs:
            if prefix in table:
                raise DestinationError(f"prefix {prefix!r} appears twice")
            table[prefix] = value
        return cls(table)

    def longest_match(self, digits: str) -> tuple[str, V] | None:
        """The (prefix, value) of the longest prefix of ``digits``, or None."""
        by_prefix = self._by_prefix
        size = len(digits)
        for length in self._lengths:
            if length <= size:
                key = digits[:length]
                if key in by_prefix:
                    return key, by_prefix[key]
        return None

    def __len__(self) -> int:
        return len(self._by_prefix)
