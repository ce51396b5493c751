"""Running the real bot against a fake SMS gateway (``testkit/fakes/sms``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import RunningBot, running_bot
from bot.config import SMS_CREDENTIALS, RegisterSettings, Settings, SmsSettings, WebSettings
from bot.core.flood import FloodSettings
from testkit.fakes.sms import FakeAfricasTalking, FakeSmsGateway
from testkit.telegram_harness import COOKIE_KEY, FORMS, PSEUDONYM_KEY, ChildBotProcess, free_port

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


class SmsBotProcess(ChildBotProcess):
    """``baraza run`` in a child process with only SMS (and the web chat), configured through the
    environment like production: the credentials of ``gateway``, its address as ``sms.base_url``."""

    def __init__(
        self, gateway: FakeSmsGateway, database_url: str, workdir: Path, *, sms: str = "", extra_config: str = ""
    ) -> None:
        """``sms``: more keys of the ``sms:`` section (``messages_per_second: 50``); ``extra_config``: more sections."""
        self.gateway = gateway
        self.database_url = database_url
        self.log = workdir / "bot.log"
        self.port = free_port()
        self.config = workdir / "config.yaml"
        self.config.write_text(
            f"surveys: {{directory: {FORMS}}}\n"
            f"web: {{host: 127.0.0.1, port: {self.port}}}\n"
            "flood: {enabled: false}\n"
            f"sms: {{provider: {gateway.provider}, webhook_path: {WEBHOOK_PATH}, public_url: 'http://127.0.0.1:{self.port}'"
            + (f", {sms}" if sms else "")
            + "}\n"
            + extra_config
        )

    def environment(self) -> dict[str, str]:
        account_env, secret_env = SMS_CREDENTIALS[self.gateway.provider]
        env = {key: value for key, value in os.environ.items() if not key.startswith("BARAZA_")}
        env.update({
            "BARAZA_DATABASE_URL": self.database_url,
            "BARAZA_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "BARAZA_COOKIE_KEY": COOKIE_KEY,  # so that no key file is written where the process runs
            account_env: self.gateway.account,
            secret_env: self.gateway.secret,
            "BARAZA_SMS_BASE_URL": self.gateway.base_url,
        })  # fmt: skip
        if self.gateway.sender:
            env["BARAZA_SMS_SENDER"] = self.gateway.sender
        if isinstance(self.gateway, FakeAfricasTalking):
            env["BARAZA_SMS_WEBHOOK_SECRET"] = self.gateway.webhook_secret
        return env

    async def start(self) -> None:
        process = self.launch(self.environment())
        self.gateway.webhook_base = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"
        async with aiohttp.ClientSession() as client:
            for _ in range(300):  # ready when /healthz answers
                if process.poll() is not None:
                    raise RuntimeError(f"the bot exited with {process.returncode}:\n{self.log.read_text()[-3000:]}")
                try:
                    async with client.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"the bot did not start:\n{self.log.read_text()[-3000:]}")
