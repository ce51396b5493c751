"""Configuration: config.yaml with ${ENV} substitution, BARAZA_* overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_settings
from testkit.paths import ROOT


def test_shipped_config_defaults_to_sqlite_and_the_web_chat_only() -> None:
    settings = load_settings(ROOT / "config.yaml", environ={})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert not settings.telegram.enabled
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)
    assert settings.surveys_directory == ROOT / "office" / "surveys"
    assert settings.telegram.webhook_max_connections == 100


def test_environment_overrides_the_file() -> None:
    settings = load_settings(
        ROOT / "config.yaml",
        environ={
            "BARAZA_DATABASE_URL": "postgresql://u@127.0.0.1/baraza",
            "BARAZA_TELEGRAM_TOKEN": "1:abc",
            "BARAZA_TELEGRAM_BASE_URL": "http://127.0.0.1:9000/bot",
            "BARAZA_WEB_PORT": "9090",
        },
    )
    assert settings.database_url == "postgresql://u@127.0.0.1/baraza"
    assert settings.telegram.enabled and settings.telegram.token == "1:abc"
    assert settings.telegram.base_url == "http://127.0.0.1:9000/bot"
    assert settings.web.port == 9090


def test_variable_without_default_must_be_set(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("web:\n  host: 127.0.0.1\n  port: ${PORT_FOR_TEST}\n")
    with pytest.raises(ConfigError, match=r"config.yaml:3: environment variable PORT_FOR_TEST is not set"):
        load_settings(config, environ={})
    assert load_settings(config, environ={"PORT_FOR_TEST": "8181"}).web.port == 8181


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("telegram:\n  mode: carrier_pigeon\n", "telegram.mode must be 'polling' or 'webhook'"),
        ("web: {prot: 1}\n", "unknown key(s) prot in web"),
        (
            "telegram: {token: '1:a', mode: webhook, webhook: {url: 'https://x.example/hook'}}\n",
            "secret_token is required",
        ),
        ("privacy: {pseudonym_key: short}\n", "at least 16 characters"),
        ("web: [1, 2\n", "YAML syntax error"),
        ("telegram: {rate_limit: {messages_per_second: 0}}\n", "must be greater than 0"),
        ("telegram: {webhook: {max_connections: 500}}\n", "max_connections must be between 1 and 100"),
    ],
)
def test_invalid_configuration_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert message in str(caught.value)
