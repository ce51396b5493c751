"""Running the real bot against a fake SMS gateway (``testkit/fakes/sms``)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.app import RunningBot, running_bot
from bot.config import RegisterSettings, Settings, SmsSettings, WebSettings
from bot.core.flood import FloodSettings
from testkit.fakes.sms import FakeAfricasTalking, FakeSmsGateway
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, free_port

WEBHOOK_PATH = "/sms"


def sms_settings(gateway: FakeSmsGateway, port: int, **changes: Any) -> SmsSettings:
    """The ``sms:`` settings of a bot on ``port`` that uses ``gateway``."""
    settings = SmsSettings(
        provider=gateway.provider,
        account=gateway.account,
        secret=gateway.secret,
        sender=gateway.sender,
        base_url=gateway.base_url,
        webhook_path=WEBHOOK_PATH,
        webhook_secret=gateway.webhook_secret if isinstance(gateway, FakeAfricasTalking) else None,
        public_url=f"http://127.0.0.1:{port}",
        messages_per_second=1000.0,
        max_retries=2,
        retry_delay=0.05,
    )
    return dataclasses.replace(settings, **changes)


@contextlib.asynccontextmanager
async def sms_bot(
    gateway: FakeSmsGateway,
    database_url: str,
    *,
    forms: Path = FORMS,
    register: RegisterSettings | None = None,
    **sms: Any,
) -> AsyncIterator[RunningBot]:
    """The bot with only its SMS channel (and the web server it lives on), wired to ``gateway``;
    ``sms`` changes the SMS settings (``messages_per_second``, ``max_segments``...)."""
    port = free_port()
    settings = Settings(
        database_url=database_url,
        surveys_directory=forms,
        pseudonym_key=PSEUDONYM_KEY,
        sms=sms_settings(gateway, port, **sms),
        web=WebSettings(host="127.0.0.1", port=port),
        register=register or RegisterSettings(),
        flood=FloodSettings(enabled=False),  # simulated users answer faster than people
    )
    async with running_bot(settings) as bot:
        gateway.webhook_base = f"http://127.0.0.1:{bot.web_port}{WEBHOOK_PATH}"
        yield bot
