"""The OCS's settings: frozen dataclasses, their defaults, and where each value came from.

What lives here: ``OcsConfig`` and its sections, the table of every option (TOML key,
environment variable, command-line flag, parser), and ``load_config``, which merges, in
increasing precedence, the defaults, a TOML file, ``OCS_*`` environment variables and
command-line flags. What must not: opening sockets or databases (``ocs serve`` does that
with the result), or reading ``os.environ`` itself (the caller passes the mapping, so
tests need no monkeypatching).

The file, with every default (``ocs config check`` prints the effective values and the
source of each)::

    log_level = "info"                    # OCS_LOG_LEVEL
    admin_port = 9465                     # OCS_ADMIN_PORT, --admin-port: on 127.0.0.1 (0: off)

    [database]
    url = "sqlite:///ocs.db"              # OCS_DB, --db
    ack = "durable"                       # OCS_ACK, --ack: durable | fast
    flush_interval_ms = 10                # OCS_FLUSH_INTERVAL_MS: fast ack's loss window
    unavailable = "5012"                  # OCS_DB_UNAVAILABLE: 5012 | drop

    [listen]
    hosts = ["127.0.0.1", "::1"]          # OCS_HOST (comma-separated), --host (repeatable)
    port = 3868                           # OCS_PORT, --port (0: the OS picks one)
    tls_port = 5868                       # OCS_TLS_PORT
    tls_cert = ""                         # OCS_TLS_CERT: TLS is on when cert AND key are set
    tls_key = ""                          # OCS_TLS_KEY

    [diameter]
    origin_host = "ocs.localdomain"       # OCS_ORIGIN_HOST, --origin-host
    origin_realm = "localdomain"          # OCS_ORIGIN_REALM, --origin-realm
    product_name = "mvno-ocs"             # OCS_PRODUCT_NAME
    vendor_id = 0                         # OCS_VENDOR_ID
    firmware_revision = 1                 # OCS_FIRMWARE_REVISION
    allowed_realms = []                   # OCS_ALLOWED_REALMS: empty = any realm
    allowed_hosts = []                    # OCS_ALLOWED_HOSTS: explicit Origin-Host allow-list
    watchdog_interval = 30                # OCS_WATCHDOG_INTERVAL: Tw, seconds (>= 6)
    answer_cache_seconds = 300            # OCS_ANSWER_CACHE_SECONDS (>= 240)
    max_pending_requests = 10000          # OCS_MAX_PENDING_REQUESTS: beyond it, 3004

    [metrics]
    host = "127.0.0.1"                    # OCS_METRICS_HOST
    port = 9464                           # OCS_METRICS_PORT, --metrics-port (0: off)

    [credit]
    validity_time = 3600                  # OCS_VALIDITY_TIME, seconds
    quota_holding_time = 0                # OCS_QUOTA_HOLDING_TIME, seconds (0: not sent)
    tcc = 0                               # OCS_TCC, seconds (0: 2 x validity_time)
    volume_quota_threshold = 20           # OCS_VOLUME_QUOTA_THRESHOLD, % of the grant
    time_quota_threshold = 20             # OCS_TIME_QUOTA_THRESHOLD, % of the grant
    final_unit_action = "terminate"       # OCS_FINAL_UNIT_ACTION: terminate | redirect
    redirect_url = ""                     # OCS_REDIRECT_URL (required for redirect)
    low_balance_threshold = "1.00"        # OCS_LOW_BALANCE_THRESHOLD, account currency
    service_context_ids = []              # OCS_SERVICE_CONTEXT_IDS: empty = any the tariff knows

    [credit.quota]                        # the most one grant carries, per unit kind
    data_octets = "10 MB"                 # OCS_QUOTA_DATA_OCTETS
    voice_seconds = "10 min"              # OCS_QUOTA_VOICE_SECONDS
    events = 1                            # OCS_QUOTA_EVENTS

    [peer."pgw1.example"]                 # per-peer quirks, by Origin-Host (file only)
    rise_mscc_result_code = true          # copy an MSCC-level 4012 to the command level

Decisions:

- ``listen.hosts`` defaults to loopback only (IPv4 and IPv6). A zero-setup run must not
  expose a charging server to the network; an operator opens it with
  ``hosts = ["0.0.0.0", "::"]`` or ``--host 0.0.0.0 --host ::``.
- Quota thresholds are a *percentage of each grant*, not an absolute amount, so one value
  suits a 10 MB data grant and a 600 s voice grant alike; the OCS converts it into the
  absolute Volume-/Time-Quota-Threshold AVP (TS 32.299 §7.2.229, §7.2.232) per grant.
  0 means the AVP is not sent.
- Money is a decimal string (``"1.00"``) read through ``rating.money``; a TOML float is
  refused, as in tariff files. ``low_balance_threshold`` is in micro-units of whatever
  currency the account is billed in.
- Tcc: RFC 8506 §13 says it SHOULD be based on Validity-Time and MAY be twice it.
- ``answer_cache_seconds`` must cover the 4 minutes a client may retransmit with the same
  End-to-End-Identifier (RFC 6733 §3, Appendix C).
- Unknown keys in the file are errors (a typo must not silently mean the default); unknown
  ``OCS_*`` environment variables are only reported by ``unknown_env`` (other tools may
  share the prefix), which ``ocs config check`` prints as warnings.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from rating.money import MoneyError, Rounding, from_micros, parse_decimal, to_micros
from rating.units import TIME_UNITS, VOLUME_UNITS


class ConfigError(ValueError):
    """One or more invalid settings; each problem names its source (file:key, env, flag)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class AckMode(enum.Enum):
    DURABLE = "durable"  #: a CCA that moves money leaves after its postings are committed
    FAST = "fast"  #: answer first; at most ``flush_interval_ms`` of postings can be lost


class UnavailableAction(enum.Enum):
    """What the OCS does with a credit request while the database is unreachable."""

    ANSWER_5012 = "5012"  #: DIAMETER_UNABLE_TO_COMPLY: the client applies its failure handling
    DROP = "drop"  #: no answer: the client's Tx timer fires and it may fail over to another OCS


class FinalUnitAction(enum.Enum):
    """Final-Unit-Action of the last grant (RFC 8506 §8.35)."""

    TERMINATE = "terminate"
    REDIRECT = "redirect"  #: to ``CreditConfig.redirect_url``, the top-up page


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "sqlite:///ocs.db"
    ack: AckMode = AckMode.DURABLE
    flush_interval_ms: int = 10  #: ack = fast: the longest a posting waits for its commit
    unavailable: UnavailableAction = UnavailableAction.ANSWER_5012


@dataclass(frozen=True, slots=True)
class ListenConfig:
    #: loopback by default: see the module docstring
    hosts: tuple[str, ...] = ("127.0.0.1", "::1")
    port: int = 3868  #: RFC 6733 §2.1 Diameter over TCP; 0 lets the OS pick (tests)
    tls_port: int = 5868  #: RFC 6733 §2.1 Diameter over TLS
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None


@dataclass(frozen=True, slots=True)
class DiameterConfig:
    origin_host: str = "ocs.localdomain"
    origin_realm: str = "localdomain"
    product_name: str = "mvno-ocs"
    vendor_id: int = 0  #: CEA Vendor-Id; 0 until the operator has an IANA enterprise number
    firmware_revision: int = 1
    allowed_realms: tuple[str, ...] = ()  #: empty: any Origin-Realm
    allowed_hosts: tuple[str, ...] = ()  #: Origin-Hosts always accepted, whatever the realm
    watchdog_interval: int = 30  #: Tw, RFC 3539 §3.4.1 (default 30 s, never below 6 s)
    answer_cache_seconds: int = 300
    max_pending_requests: int = 10_000  #: beyond it new requests get 3004 (TOO_BUSY)

    def peer_allowed(self, origin_host: str, origin_realm: str) -> bool:
        """The peer policy: an allow-listed host, or any host of an allowed realm."""
        if origin_host in self.allowed_hosts:
            return True
        if self.allowed_realms:
            return origin_realm in self.allowed_realms
        return not self.allowed_hosts  # an explicit host list alone admits only those hosts


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    host: str = "127.0.0.1"
    port: int = 9464  #: the port Prometheus assigns to its exporters' default; 0: off

    @property
    def enabled(self) -> bool:
        return self.port != 0


@dataclass(frozen=True, slots=True)
class QuotaCaps:
    """The most one grant carries, per unit kind, however much credit there is."""

    data_octets: int = 10_000_000
    voice_seconds: int = 600
    events: int = 1


@dataclass(frozen=True, slots=True)
class CreditConfig:
    validity_time: int = 3600  #: seconds; RFC 8506 §8.33
    quota_holding_time: int = 0  #: seconds; 0: not sent (TS 32.299 §7.2.160)
    tcc: int = 0  #: seconds; 0 in the input means 2 x validity_time, resolved on creation
    volume_quota_threshold: int = 20  #: percent of the granted octets; 0: not sent
    time_quota_threshold: int = 20  #: percent of the granted seconds; 0: not sent
    final_unit_action: FinalUnitAction = FinalUnitAction.TERMINATE
    redirect_url: str = ""
    low_balance_threshold: int = 1_000_000  #: micro-units; Low-Balance-Indication below it
    service_context_ids: tuple[str, ...] = ()  #: empty: any context the tariff prices
    quota: QuotaCaps = field(default_factory=QuotaCaps)

    def __post_init__(self) -> None:
        if self.tcc == 0:
            # Frozen: resolve the derived default once, so every reader sees a number.
            object.__setattr__(self, "tcc", 2 * self.validity_time)


@dataclass(frozen=True, slots=True)
class PeerProfile:
    """Per-peer quirks, selected by the peer's Origin-Host."""

    origin_host: str
    #: also put an MSCC-level result (4012) into the command-level Result-Code, for clients
    #: that only look there
    rise_mscc_result_code: bool = False


@dataclass(frozen=True, slots=True)
class OcsConfig:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    listen: ListenConfig = field(default_factory=ListenConfig)
    diameter: DiameterConfig = field(default_factory=DiameterConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    credit: CreditConfig = field(default_factory=CreditConfig)
    peers: tuple[PeerProfile, ...] = ()
    log_level: str = "INFO"
    #: the admin endpoint (ocs.admin) that `ocs session`/`ocs peer` read, on 127.0.0.1
    #: only; 0 turns it off
    admin_port: int = 9465

    def peer_profile(self, origin_host: str) -> PeerProfile:
        """The profile configured for ``origin_host``, else the default behaviour."""
        for profile in self.peers:
            if profile.origin_host == origin_host:
                return profile
        return PeerProfile(origin_host)


# --- parsers: each takes a TOML value, an env string or a flag value ---------------------

Parser = Callable[[object], object]


class _Bad(ValueError):
    """A value that does not parse; the message says what is expected."""


def _int(low: int, high: int | None = None) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*\d[\d_]*\s*", value):
            value = int(value.replace("_", ""))
        if type(value) is not int or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f">= {low}"
            raise _Bad(f"must be an integer {span}, got {value!r}")
        return value

    return parse


_PORT = _int(0, 65535)
_UNSIGNED32 = _int(0, 2**32 - 1)


def _quantity(units: Mapping[str, int], example: str) -> Parser:
    """A positive count of units: an integer, or a string with a unit ("10 MB", "10 min")."""

    def parse(value: object) -> int:
        if isinstance(value, str):
            found = re.fullmatch(r"\s*(\d[\d_]*)\s*([A-Za-z]*)\s*", value)
            scale = units.get(found.group(2).upper()) if found and found.group(2) else 1
            if found is None or scale is None:
                raise _Bad(
                    f"must be a positive integer or a quantity such as {example!r}, got {value!r}"
                )
            value = int(found.group(1).replace("_", "")) * scale
        if type(value) is not int or value < 1:
            raise _Bad(
                f"must be a positive integer or a quantity such as {example!r}, got {value!r}"
            )
        return value

    return parse


def _choice(enum_type: type[enum.Enum]) -> Parser:
    def parse(value: object) -> enum.Enum:
        if isinstance(value, enum_type):
            return value
        text = str(value).strip().lower()
        for member in enum_type:
            if member.value == text:
                return member
        raise _Bad(f"must be one of {[m.value for m in enum_type]}, got {value!r}")

    return parse


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a string, got {value!r}")
    return value.strip()


#: RFC 6733 §4.3.1 DiameterIdentity is an FQDN; letters, digits, '-' and '.' in practice
_FQDN = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _identity(value: object) -> str:
    text = _text(value)
    if not _FQDN.match(text):
        raise _Bad(f"must be a DiameterIdentity (an FQDN such as ocs.example.net), got {text!r}")
    return text


def _host(value: object) -> str:
    text = _text(value)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        # "300.1.1.1" is a valid host name by the letter of the FQDN pattern; refuse
        # anything that only looks like an IPv4 address.
        if not _FQDN.match(text) or re.fullmatch(r"[\d.]+", text):
            raise _Bad(f"must be an IP address or a host name, got {text!r}") from None
    return text


def _list(item: Parser, *, empty_ok: bool = True) -> Parser:
    """A TOML array, a comma-separated string (env) or a sequence (repeated flag)."""

    def parse(value: object) -> tuple[Any, ...]:
        if isinstance(value, str):
            parts: Sequence[object] = [p for p in (s.strip() for s in value.split(",")) if p]
        elif isinstance(value, list | tuple):
            parts = value
        else:
            raise _Bad(f"must be a list, got {value!r}")
        items = tuple(item(p) for p in parts)
        if not items and not empty_ok:
            raise _Bad("must not be empty")
        return items

    return parse


def _path(value: object) -> Path | None:
    text = _optional_text(value)
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_file():
        raise _Bad(f"no such file: {text}")
    return path


def _money(value: object) -> int:
    if isinstance(value, float):
        raise _Bad(f'{value!r} is a TOML float, which is inexact: quote it, "{value!r}"')
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(f'must be an amount such as "1.00", got {value!r}')
    try:
        amount = parse_decimal(value) if isinstance(value, str) else Decimal(value)
        micros = to_micros(amount, Rounding.HALF_EVEN)
    except MoneyError as exc:
        raise _Bad(str(exc)) from None
    if micros < 0 or from_micros(micros) != amount:
        raise _Bad(f"must be a non-negative amount with at most 6 decimals, got {value!r}")
    return micros


def _percent(value: object) -> object:
    if isinstance(value, str):
        value = value.strip().removesuffix("%")
    return _int(0, 99)(value)


def _log_level(value: object) -> str:
    text = _text(value).upper()
    if text not in _LOG_LEVELS:
        raise _Bad(f"must be one of {[lvl.lower() for lvl in _LOG_LEVELS]}, got {value!r}")
    return text


def _url(value: object) -> str:
    text = _text(value)
    if not re.match(r"^(sqlite|postgres(ql)?)(\+\w+)?://", text):
        raise _Bad(f"must be sqlite:///path.db or postgresql://user@host/db, got {text!r}")
    return text


def _http_url(value: object) -> str:
    text = _optional_text(value)
    if text and not re.match(r"^(https?|sip|sips|tel):\S+$", text):
        raise _Bad(f"must be a URL such as https://topup.example/, got {text!r}")
    return text


# --- the option table ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    key: str  #: "section.name" in the TOML file (no section: top level); also the override key
    env: str  #: the environment variable
    parse: Parser
    flag: str | None = None  #: the `ocs serve` flag, for messages


OPTIONS: tuple[Option, ...] = (
    Option("log_level", "OCS_LOG_LEVEL", _log_level, "--log-level"),
    Option("admin_port", "OCS_ADMIN_PORT", _PORT, "--admin-port"),
    Option("database.url", "OCS_DB", _url, "--db"),
    Option("database.ack", "OCS_ACK", _choice(AckMode), "--ack"),
    Option("database.flush_interval_ms", "OCS_FLUSH_INTERVAL_MS", _int(1, 10_000)),
    Option("database.unavailable", "OCS_DB_UNAVAILABLE", _choice(UnavailableAction)),
    Option("listen.hosts", "OCS_HOST", _list(_host, empty_ok=False), "--host"),
    Option("listen.port", "OCS_PORT", _PORT, "--port"),
    Option("listen.tls_port", "OCS_TLS_PORT", _PORT),
    Option("listen.tls_cert", "OCS_TLS_CERT", _path),
    Option("listen.tls_key", "OCS_TLS_KEY", _path),
    Option("diameter.origin_host", "OCS_ORIGIN_HOST", _identity, "--origin-host"),
    Option("diameter.origin_realm", "OCS_ORIGIN_REALM", _identity, "--origin-realm"),
    Option("diameter.product_name", "OCS_PRODUCT_NAME", _text),
    Option("diameter.vendor_id", "OCS_VENDOR_ID", _UNSIGNED32),
    Option("diameter.firmware_revision", "OCS_FIRMWARE_REVISION", _UNSIGNED32),
    Option("diameter.allowed_realms", "OCS_ALLOWED_REALMS", _list(_identity)),
    Option("diameter.allowed_hosts", "OCS_ALLOWED_HOSTS", _list(_identity)),
    Option("diameter.watchdog_interval", "OCS_WATCHDOG_INTERVAL", _int(6, 3600)),
    Option("diameter.answer_cache_seconds", "OCS_ANSWER_CACHE_SECONDS", _int(240, 86_400)),
    Option("diameter.max_pending_requests", "OCS_MAX_PENDING_REQUESTS", _int(1)),
    Option("metrics.host", "OCS_METRICS_HOST", _host),
    Option("metrics.port", "OCS_METRICS_PORT", _PORT, "--metrics-port"),
    Option("credit.validity_time", "OCS_VALIDITY_TIME", _int(1, 2**32 - 1)),
    Option("credit.quota_holding_time", "OCS_QUOTA_HOLDING_TIME", _UNSIGNED32),
    Option("credit.tcc", "OCS_TCC", _UNSIGNED32),
    Option("credit.volume_quota_threshold", "OCS_VOLUME_QUOTA_THRESHOLD", _percent),
    Option("credit.time_quota_threshold", "OCS_TIME_QUOTA_THRESHOLD", _percent),
    Option("credit.final_unit_action", "OCS_FINAL_UNIT_ACTION", _choice(FinalUnitAction)),
    Option("credit.redirect_url", "OCS_REDIRECT_URL", _http_url),
    Option("credit.low_balance_threshold", "OCS_LOW_BALANCE_THRESHOLD", _money),
    Option("credit.service_context_ids", "OCS_SERVICE_CONTEXT_IDS", _list(_text)),
    Option("credit.quota.data_octets", "OCS_QUOTA_DATA_OCTETS", _quantity(VOLUME_UNITS, "10 MB")),
    Option(
        "credit.quota.voice_seconds", "OCS_QUOTA_VOICE_SECONDS", _quantity(TIME_UNITS, "10 min")
    ),
    Option("credit.quota.events", "OCS_QUOTA_EVENTS", _int(1)),
)
_BY_KEY = {o.key: o for o in OPTIONS}
_BY_ENV = {o.env: o for o in OPTIONS}
#: environment variables with the OCS_ prefix that are not settings but are ours
_OTHER_ENV = frozenset({"OCS_CONFIG"})
_PEER_KEYS = frozenset(f.name for f in fields(PeerProfile)) - {"origin_host"}


def _default(key: str) -> object:
    """The field's declared default (``credit.tcc`` is 0 here, resolved only when built)."""
    *path, name = key.split(".")
    section: object = OcsConfig()
    for part in path:
        section = getattr(section, part)
    declared = next(f for f in fields(section) if f.name == name)  # type: ignore[arg-type]
    return declared.default if declared.default is not MISSING else getattr(section, name)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The effective configuration and, per option key, where its value came from."""

    config: OcsConfig
    sources: Mapping[str, str]  #: "default", "file.toml:12", "env OCS_PORT", "flag --port"


def load_config(
    path: Path | None, env: Mapping[str, str], overrides: Mapping[str, object]
) -> OcsConfig:
    """Build the configuration: defaults < TOML file < ``OCS_*`` env < flags.

    Args:
        path: the TOML file, or None for none.
        env: the environment (``os.environ``); only the ``OCS_*`` names of ``OPTIONS`` count.
        overrides: option key (``"listen.port"``) -> value from a flag; ``None`` values
            are ignored (an option not given on the command line).

    Raises:
        ConfigError: every invalid value, each naming its source.
    """
    return resolve_config(path, env, overrides).config


def resolve_config(
    path: Path | None, env: Mapping[str, str], overrides: Mapping[str, object]
) -> Resolved:
    """``load_config`` that also says where each value came from (``ocs config check``)."""
    problems: list[str] = []
    values: dict[str, object] = {o.key: _default(o.key) for o in OPTIONS}
    sources: dict[str, str] = dict.fromkeys(values, "default")
    peers: tuple[PeerProfile, ...] = ()

    def take(option: Option, raw: object, source: str, where: str) -> None:
        try:
            values[option.key] = option.parse(raw)
            sources[option.key] = source
        except _Bad as exc:
            problems.append(f"{where}: {exc}")

    if path is not None:
        document, text = _read_file(path)
        lines = _LineIndex(text)
        flat, peer_tables = _flatten(document, path, lines, problems)
        for key, raw in flat.items():
            where = _where(path, lines, key)
            take(_BY_KEY[key], raw, where, f"{where}: {key}")
        peers = _peer_profiles(peer_tables, path, lines, problems)
    for name, raw in env.items():
        option = _BY_ENV.get(name)
        if option is not None:
            take(option, raw, f"env {name}", f"environment variable {name}")
    for key, raw in overrides.items():
        if raw is None or (isinstance(raw, list | tuple) and not raw):
            continue  # the flag was not given
        option = _BY_KEY.get(key)
        if option is None:
            problems.append(f"override {key}: unknown setting")
            continue
        label = f"option {option.flag}" if option.flag else f"override {key}"
        take(option, raw, f"flag {option.flag or key}", label)
    if problems:
        raise ConfigError(problems)
    config = _build(values, peers)
    _cross_check(config, sources, problems)
    if problems:
        raise ConfigError(problems)
    return Resolved(config, sources)


def unknown_env(env: Mapping[str, str]) -> list[str]:
    """``OCS_*`` variables that are not settings (likely typos), for a warning."""
    return sorted(
        n for n in env if n.startswith("OCS_") and n not in _BY_ENV and n not in _OTHER_ENV
    )


def settings(config: OcsConfig) -> dict[str, object]:
    """The effective value of every option, by key, as plain JSON-ready values."""
    out: dict[str, object] = {}
    for option in OPTIONS:
        value: object = config
        for part in option.key.split("."):
            value = getattr(value, part)
        if option.parse is _money and isinstance(value, int):
            value = str(from_micros(value).quantize(Decimal("0.01")))
        elif isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[option.key] = value
    return out


# --- internals -----------------------------------------------------------------------------


def _read_file(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [f"{path}: cannot read the configuration file: {exc.strerror or exc}"]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def _where(path: Path, lines: _LineIndex, key: str) -> str:
    line = lines.line_of(key)
    return f"{path}:{line}" if line else str(path)


def _flatten(
    document: Mapping[str, Any], path: Path, lines: _LineIndex, problems: list[str]
) -> tuple[dict[str, object], Mapping[str, Any]]:
    """TOML tables -> {"section.key": value}; unknown keys are problems."""
    flat: dict[str, object] = {}
    sections = {k.rsplit(".", 1)[0] for k in _BY_KEY if "." in k}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for name, value in table.items():
            key = f"{prefix}{name}"
            if key in _BY_KEY:
                flat[key] = value
            elif key in sections and isinstance(value, dict):
                walk(value, f"{key}.")
            elif key in sections:
                problems.append(f"{_where(path, lines, key)}: {key}: must be a table ([{key}])")
            else:
                known = sorted(k for k in [*_BY_KEY, *sections] if k.startswith(prefix))
                problems.append(
                    f"{_where(path, lines, key)}: {key}: unknown setting (known here: "
                    f"{', '.join(known)})"
                )

    peer_tables = document.get("peer", {})
    walk({k: v for k, v in document.items() if k != "peer"}, "")
    return flat, peer_tables


def _peer_profiles(
    tables: object, path: Path, lines: _LineIndex, problems: list[str]
) -> tuple[PeerProfile, ...]:
    if not isinstance(tables, dict):
        problems.append(f'{path}: peer: must be tables such as [peer."pgw1.example"]')
        return ()
    profiles = []
    for host, table in tables.items():
        key = f"peer.{host}"
        where = _where(path, lines, key)
        if not isinstance(table, dict) or not _FQDN.match(host):
            problems.append(
                f"{where}: {key}: must be a table named by a peer's Origin-Host, "
                f'such as [peer."pgw1.example"]'
            )
            continue
        options: dict[str, bool] = {}
        for name, value in table.items():
            if name not in _PEER_KEYS:
                problems.append(
                    f"{where}: {key}.{name}: unknown peer setting (known: "
                    f"{', '.join(sorted(_PEER_KEYS))})"
                )
            elif not isinstance(value, bool):
                problems.append(f"{where}: {key}.{name}: must be true or false, got {value!r}")
            else:
                options[name] = value
        profiles.append(PeerProfile(host, **options))
    return tuple(profiles)


def _build(values: Mapping[str, object], peers: tuple[PeerProfile, ...]) -> OcsConfig:
    def section(name: str) -> dict[str, Any]:
        return {
            k.split(".", 1)[1]: v
            for k, v in values.items()
            if k.startswith(f"{name}.") and k.count(".") == 1
        }

    quota_values: dict[str, Any] = {
        k.rsplit(".", 1)[1]: v for k, v in values.items() if k.startswith("credit.quota.")
    }
    quota = QuotaCaps(**quota_values)
    return OcsConfig(
        database=DatabaseConfig(**section("database")),
        listen=ListenConfig(**section("listen")),
        diameter=DiameterConfig(**section("diameter")),
        metrics=MetricsConfig(**section("metrics")),
        credit=CreditConfig(**section("credit"), quota=quota),
        peers=peers,
        log_level=str(values["log_level"]),
        admin_port=int(str(values["admin_port"])),
    )


def _cross_check(config: OcsConfig, sources: Mapping[str, str], problems: list[str]) -> None:
    """Rules between options; each message names the sources of the options involved."""

    def named(key: str) -> str:
        return f"{key} ({sources[key]})"

    listen, credit = config.listen, config.credit
    if (listen.tls_cert is None) != (listen.tls_key is None):
        problems.append(
            f"{named('listen.tls_cert')} and {named('listen.tls_key')}: "
            "TLS needs both a certificate and a key, or neither"
        )
    if credit.final_unit_action is FinalUnitAction.REDIRECT and not credit.redirect_url:
        problems.append(
            f"{named('credit.final_unit_action')} is redirect but "
            f"{named('credit.redirect_url')} is empty: give the top-up URL"
        )
    ports = [("listen.port", listen.port)]
    if listen.tls_enabled:
        ports.append(("listen.tls_port", listen.tls_port))
    if config.metrics.enabled:
        ports.append(("metrics.port", config.metrics.port))
    if config.admin_port:
        ports.append(("admin_port", config.admin_port))
    seen: dict[int, str] = {}
    for key, port in ports:
        if port and port in seen:
            problems.append(f"{named(key)} and {named(seen[port])} are both {port}")
        seen[port] = key


class _LineIndex:
    """Line numbers of ``key =`` lines and ``[table]`` headers, by dotted key.

    Enough of TOML for configuration files (tables, dotted headers, quoted names); a key
    it cannot place is reported without a line.
    """

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        section = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header is not None:
                section = ".".join(
                    p.strip().strip("\"'")
                    for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", header.group(1))
                )
                self.lines.setdefault(section, number)
                continue
            key = self._KEY.match(line)
            if key is not None:
                name = key.group(1).strip("\"'")
                self.lines.setdefault(f"{section}.{name}" if section else name, number)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)
