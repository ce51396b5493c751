"""Running the real bot with its USSD channel, reached through the fake Africa's Talking gateway
(``testkit/fakes/ussd.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.app import RunningBot, running_bot
from bot.config import RegisterSettings, Settings, UssdSettings, WebSettings
from bot.core.flood import FloodSettings
from bot.proxies import parse_networks
from testkit.fakes.ussd import FakeUssdGateway
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, free_port

SECRET = "fake-ussd-secret-0123456789"


def ussd_settings(**overrides: object) -> UssdSettings:
    """USSD on, reachable from 127.0.0.1 only, numbers without a country code read as Kenyan."""
    values: dict[str, object] = {
        "secret": SECRET,
        "allowed_ips": parse_networks(["127.0.0.1"]),
        "default_region": "KE",
        **overrides,
    }
    return UssdSettings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def ussd_bot(
    database_url: str,
    *,
    forms: Path = FORMS,
    ussd: UssdSettings | None = None,
    register: RegisterSettings | None = None,
) -> AsyncIterator[tuple[RunningBot, FakeUssdGateway]]:
    """The bot with its USSD channel (and the web server it lives on), and a gateway posting to it."""
    port = free_port()
    settings = Settings(
        database_url=database_url,
        surveys_directory=forms,
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(host="127.0.0.1", port=port),
        register=register or RegisterSettings(),
        flood=FloodSettings(enabled=False),  # simulated phones answer faster than people
        ussd=ussd or ussd_settings(),
    )
    async with running_bot(settings) as bot:
        callback = f"http://127.0.0.1:{bot.web_port}{settings.ussd.callback_path}"
        async with FakeUssdGateway(callback) as gateway:
            yield bot, gateway
