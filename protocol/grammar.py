"""Check a message against its command grammar (RFC 6733 §3.2, §7.5).

What lives here: `validate` (occurrence counts, unknown mandatory AVPs, value checks,
descending into Grouped AVPs) and `example_avp` (the Failed-AVP of a missing AVP).
What must not: the grammars themselves (`dictionary`) or anything a command does with
its values.

The faults and their answers (RFC 6733 §7.1.5):

* 5001 DIAMETER_AVP_UNSUPPORTED: an AVP with the M bit that the dictionary lacks;
* 5004 DIAMETER_INVALID_AVP_VALUE / 5014 DIAMETER_INVALID_AVP_LENGTH: a value its type
  refuses, or an Enumerated value with the M bit that the dictionary does not name;
* 5005 DIAMETER_MISSING_AVP: a required AVP is absent; Failed-AVP is an example of it
  with a zero-filled value of minimum length;
* 5008 DIAMETER_AVP_NOT_ALLOWED: an AVP the grammar forbids (not listed, no ``*[AVP]``);
* 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES: more occurrences than the rule allows;
  Failed-AVP is the first one over the limit.

An AVP inside a Grouped AVP that fails is reported inside its parent, as §7.5 allows,
so the peer sees which group it came from.

Deliberately lenient: a fixed-position AVP out of place and an M bit set where the
definition says "must not" are accepted. Deployed clients do both (python-diameter
clears M on Origin-Host in CCRs; others set it on Product-Name) and refusing them
would cut off real gateways for no gain in safety.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import codec
from .codec import Avp, decode_avps, encode_avp
from .codes import ResultCode
from .dictionary import BY_KEY, BY_NAME, GROUPED, AvpDef, AvpType, FlagRule, Grammar, command
from .errors import AvpError

#: minimum value length of each fixed-size type, for 5005 examples (RFC 6733 §7.5)
_MIN_SIZE = {
    AvpType.UNSIGNED32: 4,
    AvpType.INTEGER32: 4,
    AvpType.ENUMERATED: 4,
    AvpType.FLOAT32: 4,
    AvpType.TIME: 4,
    AvpType.UNSIGNED64: 8,
    AvpType.INTEGER64: 8,
    AvpType.FLOAT64: 8,
    AvpType.ADDRESS: 6,
}

#: a decoded value of any type but Grouped
ScalarValue = int | float | str | bytes | codec.AddressValue
#: how each type's value is decoded (and so checked: a decoder raises the 5004/5014 of
#: a value its type refuses); Grouped is split, not decoded. `tree` decodes with it too.
VALUE_DECODERS: dict[AvpType, Callable[[Avp], ScalarValue]] = {
    AvpType.OCTET_STRING: lambda a: a.data,
    AvpType.INTEGER32: codec.decode_integer32,
    AvpType.INTEGER64: codec.decode_integer64,
    AvpType.UNSIGNED32: codec.decode_unsigned32,
    AvpType.UNSIGNED64: codec.decode_unsigned64,
    AvpType.FLOAT32: codec.decode_float32,
    AvpType.FLOAT64: codec.decode_float64,
    AvpType.ADDRESS: codec.decode_address,
    AvpType.TIME: codec.decode_time_unix,
    AvpType.UTF8_STRING: codec.decode_utf8,
    AvpType.DIAMETER_IDENTITY: codec.decode_identity,
    AvpType.DIAMETER_URI: codec.decode_uri,
    AvpType.ENUMERATED: codec.decode_integer32,
    AvpType.IP_FILTER_RULE: codec.decode_ip_filter_rule,
}


def example_avp(definition: AvpDef) -> bytes:
    """A Failed-AVP example of a missing AVP: header and a zero value of minimum size."""
    mandatory = definition.mandatory is FlagRule.MUST
    flags = (0x80 if definition.vendor_id else 0) | (0x40 if mandatory else 0)
    size = _MIN_SIZE.get(definition.type, 0)
    return encode_avp(definition.code, bytes(size), flags=flags, vendor_id=definition.vendor_id)


def missing(name: str | tuple[int, int], why: str | None = None) -> AvpError:
    """The 5005 error for an AVP, by RFC name or by (code, vendor)."""
    definition = BY_NAME[name] if isinstance(name, str) else BY_KEY[name]
    why = why or f"missing {definition.name}"
    return AvpError(
        why,
        result_code=ResultCode.DIAMETER_MISSING_AVP,
        failed_avp=example_avp(definition),
    )


def validate_message(message: codec.Message) -> None:
    """Check a message against the grammar of its command, if we define the command.

    Raises:
        AvpError: the first fault found, with its Result-Code and Failed-AVP.
    """
    definition = command(message.command_code, message.is_request)
    if definition is not None and not message.is_error:
        validate(message.avps, definition.grammar)


def validate(avps: Sequence[Avp], grammar: Grammar, *, deep: bool = True) -> None:
    """Check one run of AVPs (a message body or a group's children) against ``grammar``.

    Raises:
        AvpError: the first fault found, with its Result-Code and Failed-AVP.
    """
    counts: dict[str, int] = {}
    unnamed = 0
    for avp in avps:
        definition = BY_KEY.get((avp.code, avp.vendor_id))
        if definition is None:
            if avp.flags & 0x40:
                raise _fault(ResultCode.DIAMETER_AVP_UNSUPPORTED, avp, "unknown mandatory AVP")
            unnamed += 1
            continue
        rule = grammar.rule(definition.name)
        if rule is None:
            if not grammar.extensible:
                raise _fault(
                    ResultCode.DIAMETER_AVP_NOT_ALLOWED, avp, f"not allowed in {grammar.name}"
                )
            unnamed += 1
        else:
            count = counts.get(definition.name, 0) + 1
            counts[definition.name] = count
            if rule.max is not None and count > rule.max:
                code = (
                    ResultCode.DIAMETER_AVP_NOT_ALLOWED
                    if rule.max == 0
                    else ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES
                )
                raise _fault(code, avp, f"{definition.name} occurs more than {rule.max} times")
        if deep:
            _check_value(avp, definition)
    if grammar.avp_max is not None and unnamed > grammar.avp_max:
        extra = next(a for a in reversed(avps) if grammar.rule(_name(a)) is None)
        raise _fault(ResultCode.DIAMETER_AVP_NOT_ALLOWED, extra, f"too many AVPs in {grammar.name}")
    for rule in grammar.rules:
        if counts.get(rule.name, 0) < rule.min:
            raise missing(rule.name, f"{grammar.name} without {rule.name}")


def _name(avp: Avp) -> str:
    definition = BY_KEY.get((avp.code, avp.vendor_id))
    return definition.name if definition else ""


def _check_value(avp: Avp, definition: AvpDef) -> None:
    kind = definition.type
    if kind is AvpType.GROUPED:
        try:
            validate(decode_avps(avp), GROUPED[definition.name])
        except AvpError as exc:
            # Report the fault inside its parent (RFC 6733 §7.5).
            parent = encode_avp(avp.code, exc.failed_avp, flags=avp.flags, vendor_id=avp.vendor_id)
            raise AvpError(
                f"in {definition.name}: {exc}", result_code=exc.result_code, failed_avp=parent
            ) from None
        return
    if kind is AvpType.ENUMERATED:
        value = codec.decode_integer32(avp)
        if avp.flags & 0x40 and definition.values and value not in definition.values:
            raise _fault(
                ResultCode.DIAMETER_INVALID_AVP_VALUE, avp, f"{definition.name} value {value}"
            )
        return
    check = VALUE_DECODERS.get(kind)
    if check is not None:
        check(avp)


def _fault(code: ResultCode, avp: Avp, why: str) -> AvpError:
    return AvpError(f"AVP {avp.code}: {why}", result_code=code, failed_avp=avp.encode())
