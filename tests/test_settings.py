"""Settings: defaults < config file < environment < flags, and clear errors for bad values."""

from __future__ import annotations

import pytest

from mockserver.settings import Settings, SettingsError, load_settings


def test_defaults():
    settings = load_settings({}, environ={})

    assert (settings.host, settings.port, settings.seed, settings.credits) == ("127.0.0.1", 8000, 0, 1000)
    assert settings.strict_keys is False


def test_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "mock.toml"
    config.write_text('port = 9001\nseed = 5\ncredits = 50\nstrict-keys = true\n[accounts]\n"k1" = 20\n')
    environ = {"IMAGEGEN_MOCK_SEED": "6", "IMAGEGEN_MOCK_CREDITS": "60"}

    settings = load_settings({"credits": "70"}, environ=environ, config_file=str(config))

    assert (settings.port, settings.seed, settings.credits) == (9001, 6, 70)
    assert settings.strict_keys is True
    assert settings.accounts == {"k1": 20}


def test_config_file_from_the_environment_in_yaml_and_json(tmp_path):
    yaml_file = tmp_path / "mock.yaml"
    yaml_file.write_text("latency: 25\naccounts:\n  k: 3\n")
    json_file = tmp_path / "mock.json"
    json_file.write_text('{"journal_size": 7}')

    assert load_settings({}, environ={"IMAGEGEN_MOCK_CONFIG": str(yaml_file)}).latency == 25
    assert load_settings({}, environ={}, config_file=str(json_file)).journal_size == 7


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({"port": "eighty"}, {}, "--port: expected a whole number"),
        ({}, {"IMAGEGEN_MOCK_STRICT_KEYS": "perhaps"}, "IMAGEGEN_MOCK_STRICT_KEYS: expected true or false"),
        ({"credits": "-1"}, {}, "credits must not be negative"),
        ({"credits": str(2**63)}, {}, "credits must be at most 9223372036854775807"),
        ({"port": "70000"}, {}, "port must be at most 65535"),
        ({"journal_body_kib": "-1"}, {}, "journal_body_kib must not be negative"),
        ({"image_cache_mib": "-5"}, {}, "image_cache_mib must not be negative"),
    ],
)
def test_bad_values_say_what_is_wrong(flags, environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(flags, environ=environ)


def test_config_file_problems_say_what_is_wrong(tmp_path):
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    bad_balance = tmp_path / "balance.toml"
    bad_balance.write_text("[accounts]\nk = -3\n")

    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings({}, environ={}, config_file=str(unknown))
    with pytest.raises(SettingsError, match="is not valid"):
        load_settings({}, environ={}, config_file=str(broken))
    with pytest.raises(SettingsError, match="balance of 'k'"):
        load_settings({}, environ={}, config_file=str(bad_balance))
    fractional = tmp_path / "fractional.toml"
    fractional.write_text("credits = 2.9\n")
    with pytest.raises(SettingsError, match=r"credits: expected a whole number, got 2\.9"):
        load_settings({}, environ={}, config_file=str(fractional))
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings({}, environ={}, config_file=str(tmp_path / "missing.toml"))


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]
