"""The shipped survey answered in the web chat with the real engine: stored like Telegram's."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app import RunningBot
from storage.exports.files import export_responses
from surveys.model import Survey
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.webchat_harness import WebVisitor, web_chat_bot


@pytest.fixture
async def web_bot(database_url: str) -> AsyncIterator[RunningBot]:
    async with web_chat_bot(database_url) as bot:
        yield bot


async def test_web_chat_survey_is_stored_and_exported_like_telegram(web_bot: RunningBot, usat: Survey) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        greeting = await visitor.post(payload="resume")
        assert greeting[0]["text"].startswith("Hello!")
        await visitor.press("User satisfaction survey 2026")
        await visitor.press("Researcher or analyst")
        await visitor.post(text="weekly")
        await visitor.press("Research or teaching")
        replies = await visitor.press("Done")
        assert replies[0]["replaces_pressed"]
        await visitor.post(text="1,2")
        for score in "54321":
            await visitor.press(score)
        replies = await visitor.post(text="lots")
        assert replies[0]["text"] == "Please type a whole number, for example 12."
        await visitor.post(text="12")
        await visitor.press("Skip")
        replies = await visitor.post(text="Keep up the good work")
        assert replies[-1]["text"].startswith("Thank you!")

    out = io.StringIO()
    await export_responses(web_bot.database, usat, EVERY_RESPONSE_JOINED, "csv", out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["channel"] == "web" and row["complete"] == "true"
    assert (row["user_group"], row["frequency"], row["purposes"], row["topics"]) == (
        "researcher",
        "weekly",
        "research",
        "prices labour",
    )
    assert [row[f"sat_{n}"] for n in ("relevance", "timeliness", "accessibility", "clarity", "overall")] == list(
        "54321"
    )
    assert (row["releases_used"], row["last_use"], row["comments"]) == ("12", "", "Keep up the good work")


async def test_reloading_the_page_resumes_at_the_same_question(web_bot: RunningBot) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        await visitor.post(text="/survey usat2026")
        await visitor.press("Media")
        replies = await visitor.post(payload="resume")
        assert replies[-1]["text"].startswith("2/12 · How often")
