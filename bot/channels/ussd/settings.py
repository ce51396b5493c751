"""``ussd:`` in ``config.yaml``: USSD sessions through Africa's Talking (see :mod:`bot.channels.ussd.adapter`).

Africa's Talking signs nothing it posts, so its callback is protected as its documentation
advises: a secret path segment (``BARAZA_USSD_SECRET``, at least 16 characters) and an allow-list
of the gateway's addresses (``allowed_ips``). The channel is on when the secret is set, and then
the allow-list is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.proxies import IPNetwork, ProxyConfigError, parse_networks
from common.errors import BarazaError

#: The characters a USSD screen holds (what Africa's Talking and the operators show).
SCREEN_LIMIT = 182
#: Africa's Talking ends a session after 180 seconds, whatever the person does.
SESSION_SECONDS = 180
MIN_SECRET = 16
KEYS = frozenset(
    {"secret", "path", "allowed_ips", "survey", "default_region", "continue_by_sms", "sms_after_seconds"}
)


class UssdConfigError(BarazaError):
    """A ``ussd:`` setting that cannot be used (the message names it)."""


@dataclass(frozen=True)
class UssdSettings:
    """The USSD channel. ``secret`` never shows in repr."""

    secret: str | None = field(default=None, repr=False)
    #: The callback is ``{path}/{secret}`` on the web server.
    path: str = "/ussd"
    allowed_ips: tuple[IPNetwork, ...] = ()
    #: The survey a dial opens (None: the greeting and the open surveys, as ``/start``).
    survey: str | None = None
    #: The ISO country of numbers the gateway gives without a country code (``KE``).
    default_region: str | None = None
    #: Continue a survey by SMS when a session is about to run out (needs the SMS channel).
    continue_by_sms: bool = False
    #: How long into a session the next question goes by SMS instead (below AT's 180 seconds).
    sms_after_seconds: float = 150.0

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    @property
    def callback_path(self) -> str:
        return f"{self.path.rstrip('/')}/{self.secret}"


def ussd_settings(section: Mapping[str, Any], env: Mapping[str, str]) -> UssdSettings:
    """The ``ussd:`` section; ``BARAZA_USSD_SECRET`` gives (or overrides) the secret."""
    unknown = set(section) - KEYS
    if unknown:
        raise UssdConfigError(f"ussd: unknown setting(s) {', '.join(sorted(unknown))}")
    secret = (env.get("BARAZA_USSD_SECRET") or str(section.get("secret") or "")).strip() or None
    raw_ips = section.get("allowed_ips") or ()
    if isinstance(raw_ips, str):
        raw_ips = [part for part in raw_ips.split(",") if part.strip()]
    if not isinstance(raw_ips, list | tuple) or not all(isinstance(item, str) for item in raw_ips):
        raise UssdConfigError("ussd.allowed_ips must be a list of addresses or networks")
    try:
        allowed = parse_networks(raw_ips)
    except ProxyConfigError as error:
        raise UssdConfigError(f"ussd.allowed_ips: {error}") from None
    continue_by_sms = section.get("continue_by_sms", False)
    if not isinstance(continue_by_sms, bool):
        raise UssdConfigError("ussd.continue_by_sms must be true or false")
    try:
        after = float(section.get("sms_after_seconds", UssdSettings.sms_after_seconds))
    except (TypeError, ValueError):
        raise UssdConfigError("ussd.sms_after_seconds must be a number of seconds") from None
    if not 0 < after < SESSION_SECONDS:
        raise UssdConfigError(f"ussd.sms_after_seconds must lie between 0 and {SESSION_SECONDS}")
    path = str(section.get("path") or UssdSettings.path)
    if not path.startswith("/"):
        raise UssdConfigError("ussd.path must start with /")
    settings = UssdSettings(
        secret=secret,
        path=path,
        allowed_ips=allowed,
        survey=str(section["survey"]) if section.get("survey") else None,
        default_region=str(section["default_region"]).upper() if section.get("default_region") else None,
        continue_by_sms=continue_by_sms,
        sms_after_seconds=after,
    )
    if settings.enabled:
        if len(secret or "") < MIN_SECRET or not (secret or "").replace("-", "").replace("_", "").isalnum():
            raise UssdConfigError(f"ussd.secret must be at least {MIN_SECRET} letters, digits, - or _")
        if not allowed:
            # Africa's Talking signs nothing: without the allow-list a leaked address is enough.
            raise UssdConfigError("ussd.allowed_ips is required when USSD is on (the gateway's addresses)")
    return settings
