"""Serving the web chat for tests: the channel alone in front of a stand-in core, or the whole
bot with only its web server; and a visitor speaking the page's JSON protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import RunningBot, running_bot
from bot.channels.webchat.adapter import add_webchat_routes
from bot.config import EmbedSettings, IndicatorSettings, RegisterSettings, Settings, WebLimits, WebSettings
from storage.media import MediaSettings
from testkit.fakes.scripted_survey import ScriptedSurvey
from testkit.telegram_harness import FORMS, NO_FLOOD_LIMIT, PSEUDONYM_KEY

#: The per-client limits of web.limits lifted (tests run many quick sessions from 127.0.0.1).
NO_WEB_LIMITS = WebLimits(enabled=False)


def webchat_app(processor: ScriptedSurvey, **kwargs: Any) -> web.Application:
    """An aiohttp application with only the web chat routes, in front of ``processor``."""
    app = web.Application()
    add_webchat_routes(app, processor, **kwargs)
    return app


@asynccontextmanager
async def serve_webchat(processor: ScriptedSurvey) -> AsyncIterator[str]:
    """The web chat in front of ``processor`` on a free port of 127.0.0.1; yields the page URL."""
    runner = web.AppRunner(webchat_app(processor))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def web_chat_bot(
    database_url: str,
    *,
    surveys_directory: Path = FORMS,
    media: MediaSettings | None = None,
    register: RegisterSettings | None = None,
    indicators: IndicatorSettings | None = None,
    embed: EmbedSettings | None = None,
    limits: WebLimits = NO_WEB_LIMITS,
) -> AsyncIterator[RunningBot]:
    """The real bot on ``database_url`` with only its web server (on a free port), serving the
    surveys of ``surveys_directory`` and keeping files as ``media`` says; with the ``register``
    (onboarding), the ``indicators`` (loaded before it yields), the ``embed`` settings and the
    web ``limits`` given (none by default)."""
    settings = Settings(
        database_url=database_url,
        surveys_directory=surveys_directory,
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(port=0, limits=limits, embed=embed or EmbedSettings()),
        flood=NO_FLOOD_LIMIT,  # the browser clicks faster than people
        media=media or MediaSettings(),
        register=register or RegisterSettings(),
        indicators=indicators or IndicatorSettings(),
    )
    async with running_bot(settings) as bot:
        if bot.indicators is not None:
            await asyncio.wait_for(bot.indicators.first_attempt.wait(), 60)
        yield bot


class WebVisitor:
    """One browser session speaking the page's JSON protocol."""

    def __init__(self, client: aiohttp.ClientSession, base: str) -> None:
        self.client = client
        self.base = base
        self.count = 0
        self.last: list[dict[str, Any]] = []

    async def post(self, **body: str) -> list[dict[str, Any]]:
        self.count += 1
        async with self.client.post(f"{self.base}/api/messages", json={"id": f"m{self.count}", **body}) as response:
            assert response.status == 200, await response.text()
            self.last = (await response.json())["messages"]
        return self.last

    async def press(self, label: str) -> list[dict[str, Any]]:
        for message in reversed(self.last):
            for row in message["buttons"]:
                for button in row:
                    text = button["label"]
                    if text == label or text.endswith(f" {label}") or text.startswith(f"{label} "):
                        return await self.post(payload=button["payload"])
        raise LookupError(f"no button {label!r}")
