"""Running the real bot against the fake WhatsApp Cloud API (``testkit/fakes/whatsapp``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.app import RunningBot, running_bot
from bot.config import RegisterSettings, Settings, WebSettings, WhatsAppSettings
from bot.core.flood import FloodSettings
from storage.media import MediaSettings
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, free_port

VERIFY_TOKEN = "fake-verify-token"
WEBHOOK_PATH = "/whatsapp/webhook"


def whatsapp_settings(server: FakeGraphServer) -> WhatsAppSettings:
    return WhatsAppSettings(
        phone_number_id=server.phone_number_id,
        access_token=server.access_token,
        app_secret=server.app_secret,
        verify_token=VERIFY_TOKEN,
        graph_base_url=server.base_url,
        api_version=server.api_version,
        webhook_path=WEBHOOK_PATH,
        max_retries=4,
        retry_delay=0.05,
    )


@contextlib.asynccontextmanager
async def whatsapp_bot(
    server: FakeGraphServer,
    database_url: str,
    *,
    forms: Path = FORMS,
    register: RegisterSettings | None = None,
    admins: frozenset[tuple[str, str]] = frozenset(),
    media: MediaSettings | None = None,
) -> AsyncIterator[RunningBot]:
    """The bot with only its WhatsApp channel (and the web server it lives on), wired to ``server``."""
    port = free_port()
    settings = Settings(
        database_url=database_url,
        surveys_directory=forms,
        pseudonym_key=PSEUDONYM_KEY,
        whatsapp=whatsapp_settings(server),
        web=WebSettings(host="127.0.0.1", port=port),
        register=register or RegisterSettings(),
        admins=admins,
        flood=FloodSettings(enabled=False),  # simulated users answer faster than people
        media=media or MediaSettings(),
    )
    async with running_bot(settings) as bot:
        server.webhook_url = f"http://127.0.0.1:{bot.web_port}{WEBHOOK_PATH}"
        yield bot
