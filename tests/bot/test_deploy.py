"""The deployment files in ``deploy/`` are not run here (no Docker in CI), so they are checked:
the compose file is valid YAML with the expected services, every variable it passes to the bot
is one Baraza reads, every secret it needs is in ``env.example``, and the image contains every
package the project ships."""

from __future__ import annotations

import configparser
import re
import tomllib
from typing import Any

import yaml

from testkit import paths

ROOT = paths.ROOT
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def variables_read_by_baraza() -> set[str]:
    source = (ROOT / "bot" / "config.py").read_text()
    return set(re.findall(r"\"(BARAZA_[A-Z_]+)\"", source))


def test_the_compose_file_runs_postgres_redis_workers_and_an_https_proxy() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "bot", "proxy"} <= set(services)
    bot = services["bot"]
    assert bot["command"] == ["run"]
    assert "replicas" in bot["deploy"], "N workers"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    environment = bot["environment"]
    assert environment["BARAZA_TELEGRAM_MODE"] == "webhook"
    assert environment["BARAZA_DATABASE_URL"].startswith("postgresql://")
    assert environment["BARAZA_REDIS_URL"].startswith("redis://")
    assert environment["BARAZA_TELEGRAM_WEBHOOK_URL"].startswith("https://")
    assert set(services["proxy"]["ports"]) == {"80:80", "443:443"}
    assert "8080" not in str(services["bot"].get("ports", "")), "workers are only reachable through the proxy"


def test_every_variable_given_to_the_bot_is_one_baraza_reads() -> None:
    given = set(compose()["services"]["bot"]["environment"])
    unknown = given - variables_read_by_baraza()
    assert not unknown, f"compose sets variables Baraza ignores: {sorted(unknown)}"


def test_every_secret_the_compose_file_requires_is_in_env_example() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required and required <= example, f"missing from env.example: {sorted(required - example)}"
    assert not (DEPLOY / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def test_the_image_contains_every_package_and_runs_as_a_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in packages:
        name = package.rstrip("*")
        assert re.search(rf"^COPY {name} {name}$", dockerfile, re.MULTILINE), f"the image lacks {name}/"
    assert re.search(r"^USER baraza$", dockerfile, re.MULTILINE)
    assert "/healthz" in dockerfile


def test_the_systemd_unit_runs_a_worker_and_restarts_it() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "systemd" / "baraza@.service").read_text())
    assert unit["Service"]["UMask"] == "0077", "files the worker creates are its user's only"
    service = unit["Service"]
    assert service["ExecStart"].endswith(" run")
    assert "db upgrade" in service["ExecStartPre"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"].startswith("/etc/")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_proxy_sends_the_webhook_to_the_workers() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert "{$BARAZA_DOMAIN}" in caddyfile and "name bot" in caddyfile and "port 8080" in caddyfile
    assert caddyfile.count("{") == caddyfile.count("}")


def test_the_proxies_do_not_serve_the_metrics_to_the_internet() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"^\s*respond /metrics 404\s*$", caddyfile, re.MULTILINE)
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"location = /metrics \{\s*return 404;\s*\}", nginx)
