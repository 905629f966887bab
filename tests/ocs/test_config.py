"""ocs.config: defaults, precedence (file < env < flags), and errors that name their source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocs.config import (
    OPTIONS,
    AckMode,
    ConfigError,
    FinalUnitAction,
    OcsConfig,
    Option,
    UnavailableAction,
    load_config,
    resolve_config,
    settings,
    unknown_env,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(text)
    return path


def problems(
    path: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env or {}, overrides or {})
    return str(info.value)


def test_defaults_are_what_an_operator_expects() -> None:
    config = load_config(None, {}, {})
    assert config == OcsConfig()
    assert config.database.url == "sqlite:///ocs.db"
    assert config.database.ack is AckMode.DURABLE
    assert config.database.unavailable is UnavailableAction.ANSWER_5012
    assert config.listen.hosts == ("127.0.0.1", "::1")  # loopback until opened on purpose
    assert (config.listen.port, config.listen.tls_port) == (3868, 5868)
    assert not config.listen.tls_enabled
    assert (config.diameter.origin_host, config.diameter.origin_realm) == (
        "ocs.localdomain",
        "localdomain",
    )
    assert config.diameter.vendor_id == 0
    assert config.diameter.watchdog_interval == 30
    assert config.diameter.answer_cache_seconds == 300
    assert config.metrics.port == 9464 and config.metrics.enabled
    assert config.credit.validity_time == 3600
    assert config.credit.tcc == 7200  # 2 x Validity-Time (RFC 8506 §13)
    assert config.credit.final_unit_action is FinalUnitAction.TERMINATE
    assert config.credit.low_balance_threshold == 1_000_000
    assert (
        config.credit.quota.data_octets,
        config.credit.quota.voice_seconds,
        config.credit.quota.events,
    ) == (10_000_000, 600, 1)
    assert config.log_level == "INFO"
    assert config.peer_profile("pgw.example").rise_mscc_result_code is False


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
[database]
url = "sqlite:///from-file.db"
ack = "fast"

[listen]
port = 1111
hosts = ["10.0.0.1"]

[diameter]
origin_host = "ocs.file.example"
origin_realm = "file.example"
""",
    )
    env = {"OCS_PORT": "2222", "OCS_ORIGIN_HOST": "ocs.env.example", "OCS_HOST": "10.0.0.2, ::"}
    flags: dict[str, object] = {
        "listen.port": 3333,
        "listen.hosts": None,
        "diameter.origin_realm": None,
    }
    resolved = resolve_config(path, env, flags)
    config = resolved.config
    assert config.database.url == "sqlite:///from-file.db"  # file only
    assert config.database.ack is AckMode.FAST
    assert config.diameter.origin_realm == "file.example"  # flag not given: file wins
    assert config.diameter.origin_host == "ocs.env.example"  # env beats file
    assert config.listen.hosts == ("10.0.0.2", "::")  # env list, comma-separated
    assert config.listen.port == 3333  # flag beats env and file
    assert resolved.sources["listen.port"] == "flag --port"
    assert resolved.sources["diameter.origin_host"] == "env OCS_ORIGIN_HOST"
    assert resolved.sources["database.url"] == f"{path}:2"
    assert resolved.sources["credit.validity_time"] == "default"
    repeated = load_config(path, env, {"listen.hosts": ["192.0.2.1", "192.0.2.2"]})
    assert repeated.listen.hosts == ("192.0.2.1", "192.0.2.2")


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.key)
def test_every_option_is_reachable_from_file_and_env(tmp_path: Path, option: Option) -> None:
    default = settings(OcsConfig())[option.key]
    section, _, name = option.key.rpartition(".")
    value = "" if default is None else default
    text = (f"[{section}]\n" if section else "") + f"{name} = {json.dumps(value)}\n"
    from_file = resolve_config(write(tmp_path, text), {}, {})
    assert from_file.sources[option.key] == f"{tmp_path / 'ocs.toml'}:{2 if section else 1}"
    assert settings(from_file.config)[option.key] == default
    env_value = ",".join(value) if isinstance(value, list) else str(value)
    from_env = resolve_config(None, {option.env: env_value}, {})
    assert from_env.sources[option.key] == f"env {option.env}"
    assert settings(from_env.config)[option.key] == default


def test_every_option_has_its_own_env_name() -> None:
    names = [o.env for o in OPTIONS]
    assert len(set(names)) == len(names)
    assert all(n.startswith("OCS_") for n in names)
    assert {
        "OCS_DB",
        "OCS_PORT",
        "OCS_HOST",
        "OCS_ORIGIN_HOST",
        "OCS_ORIGIN_REALM",
        "OCS_METRICS_PORT",
        "OCS_ACK",
    } <= set(names)


def test_file_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
[listen]
port = "many"

[credit]
validity_time = 0
low_balance_threshold = 1.5
""",
    )
    message = problems(path)
    assert f"{path}:2: listen.port: must be an integer from 0 to 65535, got 'many'" in message
    assert f"{path}:5: credit.validity_time: must be an integer" in message
    assert f"{path}:6: credit.low_balance_threshold: 1.5 is a TOML float" in message


def test_unknown_keys_and_sections_in_the_file_are_errors(tmp_path: Path) -> None:
    message = problems(write(tmp_path, "[listen]\nprot = 3868\n\n[lisen]\nport = 1\n"))
    assert f"{tmp_path / 'ocs.toml'}:2: listen.prot: unknown setting" in message
    assert "listen.port" in message  # the known keys are listed
    assert f"{tmp_path / 'ocs.toml'}:4: lisen: unknown setting" in message


def test_unreadable_or_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert "cannot read the configuration file" in problems(tmp_path / "missing.toml")
    assert f"{tmp_path / 'ocs.toml'}: not valid TOML" in problems(write(tmp_path, "port = \n"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"OCS_PORT": "70000"},
            "environment variable OCS_PORT: must be an integer from 0 to 65535",
        ),
        (
            {"OCS_ACK": "eventually"},
            "environment variable OCS_ACK: must be one of ['durable', 'fast']",
        ),
        ({"OCS_DB": "mysql://x"}, "environment variable OCS_DB: must be sqlite:///path.db"),
        (
            {"OCS_ORIGIN_HOST": "not a host"},
            "environment variable OCS_ORIGIN_HOST: must be a DiameterIdentity",
        ),
        ({"OCS_HOST": "300.1.1.1,"}, "environment variable OCS_HOST: must be an IP address"),
        ({"OCS_HOST": ""}, "environment variable OCS_HOST: must not be empty"),
        (
            {"OCS_ANSWER_CACHE_SECONDS": "60"},
            "OCS_ANSWER_CACHE_SECONDS: must be an integer from 240",
        ),
        ({"OCS_WATCHDOG_INTERVAL": "5"}, "OCS_WATCHDOG_INTERVAL: must be an integer from 6"),
        (
            {"OCS_LOW_BALANCE_THRESHOLD": "1.0000001"},
            "OCS_LOW_BALANCE_THRESHOLD: must be a non-negative amount with at most 6 decimals",
        ),
        ({"OCS_LOW_BALANCE_THRESHOLD": "-1"}, "OCS_LOW_BALANCE_THRESHOLD: must be a non-negative"),
        ({"OCS_LOW_BALANCE_THRESHOLD": "lots"}, "OCS_LOW_BALANCE_THRESHOLD: not an amount"),
        (
            {"OCS_VOLUME_QUOTA_THRESHOLD": "100"},
            "OCS_VOLUME_QUOTA_THRESHOLD: must be an integer from 0 to 99",
        ),
        (
            {"OCS_QUOTA_DATA_OCTETS": "10 parsecs"},
            "OCS_QUOTA_DATA_OCTETS: must be a positive integer or a quantity such as '10 MB'",
        ),
        ({"OCS_TLS_CERT": "/no/such/cert.pem"}, "OCS_TLS_CERT: no such file: /no/such/cert.pem"),
        ({"OCS_REDIRECT_URL": "top up here"}, "OCS_REDIRECT_URL: must be a URL"),
        ({"OCS_LOG_LEVEL": "loud"}, "OCS_LOG_LEVEL: must be one of"),
    ],
)
def test_env_errors_name_the_variable(env: dict[str, str], expected: str) -> None:
    assert expected in problems(env=env)


def test_flag_errors_name_the_flag() -> None:
    assert "option --port: must be an integer from 0 to 65535, got 99999" in problems(
        overrides={"listen.port": 99999}
    )
    assert "option --host: must be an IP address or a host name" in problems(
        overrides={"listen.hosts": ["bad host!"]}
    )
    assert "override nope.key: unknown setting" in problems(overrides={"nope.key": 1})


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    message = problems(
        write(tmp_path, "[listen]\nport = -1\n"),
        env={"OCS_METRICS_PORT": "x"},
        overrides={"diameter.origin_host": "?"},
    )
    assert len(message.splitlines()) == 3


def test_rules_between_options_name_every_source(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    message = problems(env={"OCS_TLS_CERT": str(cert)})
    assert "listen.tls_cert (env OCS_TLS_CERT) and listen.tls_key (default)" in message
    path = write(tmp_path, '[credit]\nfinal_unit_action = "redirect"\n')
    assert (
        f"credit.final_unit_action ({path}:2) is redirect but credit.redirect_url "
        "(default) is empty"
    ) in problems(path)
    assert (
        "metrics.port (flag --metrics-port) and listen.port (env OCS_PORT) are both 4000"
        in problems(env={"OCS_PORT": "4000"}, overrides={"metrics.port": 4000})
    )


def test_tls_on_with_both_files_and_port_zero_allowed(tmp_path: Path) -> None:
    for name in ("cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    config = load_config(
        None,
        {
            "OCS_TLS_CERT": str(tmp_path / "cert.pem"),
            "OCS_TLS_KEY": str(tmp_path / "key.pem"),
            "OCS_PORT": "0",
            "OCS_METRICS_PORT": "0",
        },
        {},
    )
    assert config.listen.tls_enabled and config.listen.port == 0
    assert not config.metrics.enabled


def test_credit_settings_money_quantities_and_tcc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
[credit]
validity_time = 900
tcc = 1000
volume_quota_threshold = "15%"
low_balance_threshold = "2.50"
final_unit_action = "redirect"
redirect_url = "https://topup.example/"
service_context_ids = ["32251@3gpp.org"]

[credit.quota]
data_octets = "5 MB"
voice_seconds = "2 min"
events = 3
""",
    )
    credit = load_config(path, {}, {}).credit
    assert (credit.validity_time, credit.tcc) == (900, 1000)
    assert credit.volume_quota_threshold == 15
    assert credit.low_balance_threshold == 2_500_000
    assert credit.final_unit_action is FinalUnitAction.REDIRECT
    assert credit.service_context_ids == ("32251@3gpp.org",)
    assert (credit.quota.data_octets, credit.quota.voice_seconds, credit.quota.events) == (
        5_000_000,
        120,
        3,
    )
    assert load_config(None, {"OCS_VALIDITY_TIME": "600"}, {}).credit.tcc == 1200


def test_peer_profiles_and_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
[diameter]
allowed_realms = ["epc.example"]
allowed_hosts = ["sim.test.example"]

[peer."pgw1.epc.example"]
rise_mscc_result_code = true
""",
    )
    config = load_config(path, {}, {})
    assert config.peer_profile("pgw1.epc.example").rise_mscc_result_code is True
    assert config.peer_profile("pgw2.epc.example").rise_mscc_result_code is False
    diameter = config.diameter
    assert diameter.peer_allowed("pgw2.epc.example", "epc.example")
    assert diameter.peer_allowed("sim.test.example", "test.example")
    assert not diameter.peer_allowed("intruder.example", "other.example")
    assert load_config(None, {}, {}).diameter.peer_allowed("any.example", "example")
    only_hosts = load_config(None, {"OCS_ALLOWED_HOSTS": "a.example"}, {}).diameter
    assert only_hosts.peer_allowed("a.example", "x") and not only_hosts.peer_allowed("b", "x")
    bad = write(tmp_path, '[peer."pgw1.example"]\nrise_mscc_result_code = "yes"\nfoo = 1\n')
    message = problems(bad)
    assert f"{bad}:1: peer.pgw1.example.rise_mscc_result_code: must be true or false" in message
    assert "peer.pgw1.example.foo: unknown peer setting" in message


def test_unknown_ocs_variables_are_reported_not_fatal() -> None:
    env = {"OCS_PROT": "1", "OCS_PORT": "1", "OCS_CONFIG": "x", "HOME": "/"}
    assert unknown_env(env) == ["OCS_PROT"]
    assert load_config(None, env, {}).listen.port == 1
