"""The web chat's first day (issue 17) through the page's JSON protocol, with the real engine:
link buttons, empty payloads, the interface in the conversation's language, finished surveys,
a lookup before the privacy question, and the embed routes' headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import RunningBot
from bot.channels.webchat.rendering import serialize_outbound
from bot.config import ConfigError, EmbedSettings, IndicatorSettings, RegisterSettings, embed_settings
from catalogue.loading import SourceSpec
from handlers.messages import Button, Outbound
from storage.models import ContactRow
from storage.repositories import Repositories
from testkit.webchat_harness import WebVisitor, web_chat_bot

ROOT = Path(__file__).resolve().parents[4]
DEMO = ROOT / "office" / "indicators"
ONBOARDING = ROOT / "office" / "onboarding.yaml"


@pytest.fixture
async def web_bot(database_url: str) -> AsyncIterator[RunningBot]:
    async with web_chat_bot(database_url) as bot:
        yield bot


def test_a_link_button_carries_its_address_and_no_payload() -> None:
    reply = Outbound("New release", buttons=((Button("Open the release", "", url="https://stats.example.org/r/1"),),))
    assert serialize_outbound(reply)["buttons"] == [
        [{"label": "Open the release", "url": "https://stats.example.org/r/1", "payload": ""}]
    ]
    unsafe = Outbound("x", buttons=((Button("Run", "", url="javascript:alert(1)"),),))
    assert serialize_outbound(unsafe)["buttons"][0][0]["url"] == ""


async def test_an_empty_or_unknown_payload_gets_a_clear_answer_in_the_persons_language(web_bot: RunningBot) -> None:
    headers = {"Accept-Language": "fr-FR,fr;q=0.9"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        await visitor.post(payload="resume")
        for payload in ("", "no-such-button"):
            replies = await visitor.post(payload=payload)
            assert len(replies) == 1
            assert "bouton" in replies[0]["text"], replies[0]["text"]  # French, and about the button
            assert "Something went wrong" not in replies[0]["text"]


async def test_every_answer_tells_the_page_its_language_and_words(web_bot: RunningBot) -> None:
    base = f"http://127.0.0.1:{web_bot.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.post(f"{base}/api/messages", json={"id": "1", "payload": "resume"}) as response:
            english = (await response.json())["interface"]
        assert (english["lang"], english["dir"], english["send"]) == ("en", "ltr", "Send")
        visitor = WebVisitor(client, base)
        await visitor.post(text="/language")
        await visitor.post(payload="l:ar")
        async with client.post(f"{base}/api/messages", json={"id": "9", "payload": "resume"}) as response:
            arabic = (await response.json())["interface"]
    assert (arabic["lang"], arabic["dir"], arabic["send"], arabic["placeholder"]) == (
        "ar",
        "rtl",
        "إرسال",
        "اكتب إجابتك",
    )
    # The file pickers of media questions, and the typed position's hint, too.
    assert (english["take_photo"], arabic["take_photo"]) == ("📷 Take a photo", "📷 التقط صورة")
    assert "latitude" in english["typed_position"] and "خط العرض" in arabic["typed_position"]


async def test_a_finished_survey_is_no_longer_listed_as_open(web_bot: RunningBot) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{web_bot.web_port}")
        greeting = await visitor.post(payload="resume")
        listed = [button["label"] for row in greeting[-1]["buttons"] for button in row]
        assert "User satisfaction survey 2026" in listed
        await visitor.press("User satisfaction survey 2026")
        await visitor.press("Teacher, lecturer or student")
        await visitor.post(text="weekly")
        await visitor.press("Research or teaching")
        await visitor.press("Done")
        await visitor.post(text="1,2")
        for score in "54321":
            await visitor.press(score)
        await visitor.post(text="12")
        await visitor.press("Skip")
        replies = await visitor.post(text="Keep up the good work")
        assert replies[-1]["text"].startswith("Thank you!")
        again = await visitor.post(payload="resume")
    listed = [button["label"] for message in again for row in message["buttons"] for button in row]
    assert "User satisfaction survey 2026" not in listed


async def test_a_figure_can_be_looked_up_before_the_privacy_question_and_nothing_personal_is_kept(
    database_url: str,
) -> None:
    indicators = IndicatorSettings(DEMO / "metadata.yaml", (SourceSpec("*.csv"),), DEMO)
    register = RegisterSettings(onboarding=ONBOARDING)
    async with (
        web_chat_bot(database_url, register=register, indicators=indicators) as bot,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client,
    ):
        visitor = WebVisitor(client, f"http://127.0.0.1:{bot.web_port}")
        privacy = await visitor.post(payload="resume")
        assert privacy[-1]["buttons"][0][0]["label"] == "Yes, I agree"
        replies = await visitor.post(text="inflation")
        assert replies[0]["text"].startswith("Inflation rate"), [m["text"] for m in replies]
        assert replies[0]["buttons"][0][0]["payload"].startswith("d:")
        # Then the privacy question again, still unanswered.
        assert replies[-1]["text"] == privacy[-1]["text"]
        async with bot.database.transaction() as connection:
            asked = await Repositories(connection).lookups.queries()
            assert [(query.contact_id, query.text) for query in asked] == [(None, "inflation")]
            people = list(await connection.execute(select(ContactRow.consent_at, ContactRow.declined_at)))
            assert people == [(None, None)]  # the privacy question is still unanswered
        # A typed answer to the privacy question is still an answer, not a lookup.
        answered = await visitor.post(text="1")
        assert answered[-1]["text"] != privacy[-1]["text"]


def test_embed_settings_are_checked_with_the_key_named() -> None:
    settings = embed_settings({"allowed_origins": ["https://www.example.org/", "http://localhost:8000"]}, "c.yaml")
    assert settings.allowed_origins == ("https://www.example.org", "http://localhost:8000")
    assert EmbedSettings().allowed_origins == () and not EmbedSettings().enabled
    with pytest.raises(ConfigError, match=r"c.yaml: web.embed.allowed_origins: 'www.example.org'"):
        embed_settings({"allowed_origins": ["www.example.org"]}, "c.yaml")
    with pytest.raises(ConfigError, match=r"web.embed.colour"):
        embed_settings({"colour": "red"}, "c.yaml")
    with pytest.raises(ConfigError, match=r"web.embed.logo"):
        embed_settings({"logo": "//elsewhere.example/logo.png"}, "c.yaml")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) color"):
        embed_settings({"color": "#fff"}, "c.yaml")


async def test_the_embed_routes_exist_only_for_allowed_origins_with_their_headers(database_url: str) -> None:
    async with web_chat_bot(database_url) as bot, aiohttp.ClientSession() as client:
        base = f"http://127.0.0.1:{bot.web_port}"
        for path in ("/embed", "/embed.js"):
            async with client.get(base + path) as response:
                assert response.status == 404
        async with client.get(base + "/") as response:
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Frame-Options"] == "DENY"
    embed = EmbedSettings(allowed_origins=("https://www.example.org",), office_name="Demoland Statistics")
    async with web_chat_bot(database_url, embed=embed) as bot, aiohttp.ClientSession() as client:
        base = f"http://127.0.0.1:{bot.web_port}"
        async with client.get(base + "/embed") as response:
            assert response.status == 200
            policy = response.headers["Content-Security-Policy"]
            assert "frame-ancestors 'self' https://www.example.org" in policy
            assert "X-Frame-Options" not in response.headers
            assert "<h1>Demoland Statistics</h1>" in await response.text()
            cookie = response.headers["Set-Cookie"]
            assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
        async with client.get(base + "/") as response:  # the chat's own page is still never framed
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert "SameSite=Strict" in response.headers["Set-Cookie"]
        async with client.get(base + "/embed.js") as response:
            assert response.status == 200
            assert response.content_type == "text/javascript"
            assert "Access-Control-Allow-Origin" not in response.headers  # a <script src> needs no CORS
            assert '"office_name": "Demoland Statistics"' in await response.text()
