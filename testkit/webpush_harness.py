"""The whole bot with its web server and browser notifications on: a key file for the VAPID key,
and push endpoints on http://127.0.0.1 accepted (the fake push service of
:mod:`testkit.fakes.webpush`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.app import PUSH_LOOPBACK_ENV, RunningBot, running_bot
from bot.config import Settings, WebSettings
from bot.keys import ENVIRONMENT, VAPID_KEY
from testkit.telegram_harness import FORMS, NO_FLOOD_LIMIT, PSEUDONYM_KEY


@asynccontextmanager
async def web_push_bot(database_url: str, key_file: Path) -> AsyncIterator[RunningBot]:
    """The real bot on ``database_url`` (web server only, free port), its keys in ``key_file``."""
    saved = {name: os.environ.get(name) for name in (PUSH_LOOPBACK_ENV, ENVIRONMENT[VAPID_KEY])}
    os.environ[PUSH_LOOPBACK_ENV] = "1"
    os.environ.pop(ENVIRONMENT[VAPID_KEY], None)
    settings = Settings(
        database_url=database_url,
        surveys_directory=FORMS,
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(port=0),
        flood=NO_FLOOD_LIMIT,
        key_file=key_file,
    )
    try:
        async with running_bot(settings) as bot:
            yield bot
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
