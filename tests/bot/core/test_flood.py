"""The per-user flood limit (bot/core/flood.py): a token bucket per (channel, user) in front of the
engine, one polite notice per flood, and the survey untouched by what was dropped."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.core.flood import FloodGuard, FloodSettings
from handlers.messages import Delivered, Inbound, Outbound
from storage.database import Database
from storage.exports.files import export_responses
from surveys.loader import load_survey_directory
from testkit import paths
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_in_process

HOSTILE_FORMS = paths.HOSTILE_FORMS
NOTICE_EN = "You are sending messages very fast; please wait a moment."


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Echo:
    """The core stand-in: counts what reaches it."""

    def __init__(self) -> None:
        self.seen: list[Inbound] = []

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.seen.append(inbound)
        return [Outbound(text=f"echo {inbound.text}")]

    async def serve(self, inbound: Inbound, deliver: Callable[[list[Outbound]], Awaitable[Delivered]]) -> Delivered:
        return await deliver(await self.handle(inbound))


def message(user: str, text: str = "hi", channel: str = "telegram", language: str | None = "en") -> Inbound:
    return Inbound(channel=channel, user_key=user, chat_key=user, update_key=text, text=text, language_hint=language)


async def test_a_burst_passes_then_excess_is_dropped_with_exactly_one_notice() -> None:
    echo, clock = Echo(), Clock()
    guard = FloodGuard(echo, FloodSettings(burst=10, per_second=2.0), clock=clock)
    replies = [await guard.handle(message("u1", str(i))) for i in range(100)]
    assert len(echo.seen) == 10
    notices = [r for r in replies if r and NOTICE_EN in r[0].text]
    assert len(notices) == 1
    assert replies[10] == notices[0], "the first dropped message gets the notice"
    assert all(r == [] for r in replies[11:]), "the rest of the flood is dropped silently"
    assert guard.dropped == 90


async def test_the_bucket_refills_at_the_sustained_rate_without_a_second_notice() -> None:
    echo, clock = Echo(), Clock()
    guard = FloodGuard(echo, FloodSettings(burst=10, per_second=2.0), clock=clock)
    for i in range(20):
        await guard.handle(message("u1", str(i)))
    clock.now += 1.0  # two tokens
    replies = [await guard.handle(message("u1", f"later {i}")) for i in range(5)]
    assert [r[0].text for r in replies[:2]] == ["echo later 0", "echo later 1"]
    assert replies[2:] == [[], [], []], "still the same flood: no second notice"


async def test_after_a_quiet_pause_a_new_flood_gets_its_own_notice() -> None:
    echo, clock = Echo(), Clock()
    guard = FloodGuard(echo, FloodSettings(burst=4, per_second=1.0), clock=clock)
    first = [await guard.handle(message("u1", str(i))) for i in range(10)]
    clock.now += 4.0  # the bucket is full again
    second = [await guard.handle(message("u1", str(i))) for i in range(10)]
    for flood in (first, second):
        assert sum(1 for r in flood if r and NOTICE_EN in r[0].text) == 1


async def test_users_and_channels_have_separate_buckets() -> None:
    echo, clock = Echo(), Clock()
    guard = FloodGuard(echo, FloodSettings(burst=3, per_second=1.0), clock=clock)
    for i in range(10):
        await guard.handle(message("flooder", str(i)))
    assert (await guard.handle(message("calm", "hello")))[0].text == "echo hello"
    assert (await guard.handle(message("flooder", "web", channel="web")))[0].text == "echo web"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "Vous envoyez des messages très vite"), ("pt", "Está a enviar mensagens"), ("ar", "أنت ترسل الرسائل")],
)
async def test_the_notice_is_in_the_users_language(language: str, expected: str) -> None:
    guard = FloodGuard(Echo(), FloodSettings(burst=1, per_second=1.0), clock=Clock())
    await guard.handle(message("u1", "1", language=language))
    (notice,) = await guard.handle(message("u1", "2", language=language))
    assert expected in notice.text


async def test_a_disabled_limit_passes_everything() -> None:
    echo = Echo()
    guard = FloodGuard(echo, FloodSettings(enabled=False, burst=1, per_second=1.0), clock=Clock())
    for i in range(50):
        await guard.handle(message("u1", str(i)))
    assert len(echo.seen) == 50


async def test_idle_buckets_are_forgotten_beyond_the_user_limit() -> None:
    clock = Clock()
    guard = FloodGuard(Echo(), FloodSettings(burst=2, per_second=1.0), clock=clock, max_users=100)
    for i in range(100):
        await guard.handle(message(f"user{i}"))
    clock.now += 10
    await guard.handle(message("one more"))
    assert len(guard._buckets) < 100


def test_the_flood_section_of_the_configuration_is_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("flood: {burst: 5, per_second: 0.5}\n")
    assert load_settings(config, environ={}).flood == FloodSettings(enabled=True, burst=5, per_second=0.5)
    assert load_settings(None, environ={}).flood == FloodSettings(), "on by default"
    config.write_text("flood: {enabled: false}\n")
    assert not load_settings(config, environ={}).flood.enabled
    for bad in ("flood: {burst: 0}\n", "flood: {per_second: -1}\n", "flood: {rate: 3}\n", "flood: {enabled: maybe}\n"):
        config.write_text(bad)
        with pytest.raises(ConfigError, match="flood"):
            load_settings(config, environ={})


async def test_a_user_sending_100_messages_a_second_gets_one_notice_and_the_survey_is_intact(
    server: FakeTelegramServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    flood = FloodSettings(enabled=True, burst=10, per_second=2.0)
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS, flood=flood):
        user, bystander = server.user(4201), server.user(4202)
        await user.send_text_and_wait("/survey hostile")
        for i in range(100):
            await user.send_text(f"spam {i}")
            await asyncio.sleep(0.01)
        await user.wait_until_quiet(quiet=0.5, timeout=30, require_reply=False)
        notices = [m for m in user.bot_messages if NOTICE_EN in m.text]
        assert len(notices) == 1
        answered = [m for m in user.bot_messages if m.text.endswith("Favourite colour?")]
        assert 1 <= len(answered) < 30, "most of the flood never reached the survey"
        replies = await bystander.send_text_and_wait("/survey hostile")
        assert replies[-1].text.endswith("Any comment?"), "other users are served meanwhile"
        await asyncio.sleep(1.5)  # let a few tokens come back
        await user.press("Red")
        await user.wait_until_quiet()
        await user.send_text_and_wait("bye")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "nothing crashed"
    database = Database(database_url)
    try:
        out = io.StringIO()
        await export_responses(
            database, load_survey_directory(HOSTILE_FORMS)["hostile"], EVERY_RESPONSE_JOINED, "csv", out
        )
    finally:
        await database.dispose()
    rows = [row for row in csv.DictReader(io.StringIO(out.getvalue())) if row["complete"] == "true"]
    assert [(r["comment"], r["colour"], r["last"]) for r in rows] == [("spam 0", "red", "bye")]
