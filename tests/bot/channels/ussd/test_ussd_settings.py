"""``ussd:`` in config.yaml: on with its secret, then only with the gateway's addresses."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

SECRET = "s3cret-path-0123456789"


def test_ussd_is_off_without_its_secret(tmp_path: Path) -> None:
    settings = load_settings(None, {})
    assert not settings.ussd.enabled


def test_the_secret_from_the_environment_turns_it_on(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("ussd:\n  allowed_ips: [196.201.214.0/24]\n  survey: usat2026\n  default_region: ke\n")
    settings = load_settings(config, {"BARAZA_USSD_SECRET": SECRET})
    ussd = settings.ussd
    assert ussd.enabled and ussd.callback_path == f"/ussd/{SECRET}"
    assert ussd.allowed_ips == (ipaddress.ip_network("196.201.214.0/24"),)
    assert (ussd.survey, ussd.default_region, ussd.continue_by_sms) == ("usat2026", "KE", False)
    assert SECRET not in repr(ussd)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"ussd:\n  secret: {SECRET}\n", "ussd.allowed_ips is required"),
        ("ussd:\n  secret: short\n  allowed_ips: [127.0.0.1]\n", "ussd.secret must be at least 16"),
        (f"ussd:\n  secret: {SECRET}\n  allowed_ips: [not-an-address]\n", "ussd.allowed_ips"),
        ("ussd:\n  sms_after_seconds: 200\n", "ussd.sms_after_seconds must lie between 0 and 180"),
        ("ussd:\n  continue_by_sms: maybe\n", "ussd.continue_by_sms must be true or false"),
        ("ussd:\n  secrett: x\n", "unknown setting"),
    ],
)
def test_a_wrong_ussd_setting_is_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, {})
