"""Forwarded headers count only from web.trusted_proxies (issue 18, finding 2): the client
address and scheme a handler sees, and the settings that list the proxies and the limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.config import ConfigError, WebLimits, load_settings
from bot.limits import KeyedBuckets, Rate
from bot.proxies import client_view, parse_networks

PROXIES = parse_networks(["10.0.0.1", "10.1.0.0/16", "::1"])


def seen(peer: str, headers: dict[str, str]) -> tuple[str | None, str]:
    request = make_mocked_request("GET", "/", headers=headers)
    request = request.clone(remote=peer)  # the connection's address
    view = client_view(request, PROXIES)
    return view.remote, view.scheme


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("10.0.0.1", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, ("203.0.113.7", "https")),
        # A client cannot put an address in front of the proxy's: the nearest untrusted one counts.
        ("10.0.0.1", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}, ("203.0.113.7", "http")),
        ("10.0.0.1", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 10.1.2.3"}, ("203.0.113.7", "http")),
        ("10.0.0.1", {"X-Forwarded-For": "garbage, 10.1.2.3"}, ("10.1.2.3", "http")),
        ("10.0.0.1", {"X-Forwarded-For": "[2001:db8::1]:4711"}, ("2001:db8::1", "http")),
        ("::1", {"Forwarded": 'for="[2001:db8::2]";proto=https'}, ("2001:db8::2", "https")),
        ("10.0.0.1", {"Forwarded": "for=1.2.3.4, for=198.51.100.3:80;proto=https"}, ("198.51.100.3", "https")),
        ("10.0.0.1", {"X-Forwarded-Proto": "ftp"}, ("10.0.0.1", "http")),
        # Garbage from a trusted proxy (raw bytes: tests/bot/test_hostile_http.py).
        ("10.0.0.1", {"Forwarded": "for=ÿþ;proto=é, ;;=,"}, ("10.0.0.1", "http")),
        ("10.0.0.1", {"X-Forwarded-For": "ÿþ, ,", "X-Forwarded-Proto": "é"}, ("10.0.0.1", "http")),
        # Not from a trusted proxy: the headers are anyone's words and change nothing.
        ("203.0.113.9", {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}, ("203.0.113.9", "http")),
        ("10.0.0.2", {"Forwarded": "for=1.2.3.4;proto=https"}, ("10.0.0.2", "http")),
    ],
)
def test_forwarded_headers_count_only_from_trusted_proxies(
    peer: str, headers: dict[str, str], expected: tuple[str, str]
) -> None:
    assert seen(peer, headers) == expected


def test_no_trusted_proxies_means_no_forwarded_header_counts() -> None:
    request = make_mocked_request("GET", "/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
    assert client_view(request, ()) is request


def test_trusted_proxies_and_limits_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "web:\n  trusted_proxies: [127.0.0.1, 172.16.0.0/12]\n"
        "  limits:\n    login_per_address: {burst: 3, per_second: 0.5}\n    enabled: true\n"
    )
    settings = load_settings(config, environ={})
    assert [str(n) for n in settings.web.trusted_proxies] == ["127.0.0.1/32", "172.16.0.0/12"]
    assert settings.web.limits.login_per_address == Rate(3, 0.5)
    assert settings.web.limits.chat_per_address == WebLimits().chat_per_address
    from_env = load_settings(config, environ={"BARAZA_TRUSTED_PROXIES": "::1, 10.0.0.0/8"})
    assert [str(n) for n in from_env.web.trusted_proxies] == ["::1/128", "10.0.0.0/8"]
    assert load_settings(None, environ={}).web.trusted_proxies == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("web:\n  trusted_proxies: [localhost]\n", "'localhost' is not an IP address"),
        ("web:\n  trusted_proxies: 5\n", "must be a list"),
        ("web:\n  limits:\n    chat_per_session: {burst: 0}\n", "burst must be at least 1"),
        ("web:\n  limits:\n    chat_per_sesion: {burst: 3}\n", "unknown key(s) chat_per_sesion"),
        ("web:\n  limits:\n    enabled: maybe\n", "true or false"),
    ],
)
def test_bad_proxy_and_limit_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, environ={})


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    now = [0.0]
    buckets = KeyedBuckets(Rate(3, 0.5), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)
    assert buckets.take("b") == 0.0, "each key has its own bucket"
    now[0] = 2.0
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
