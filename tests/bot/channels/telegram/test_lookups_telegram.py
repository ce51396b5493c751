"""Lookups end to end over Telegram (the real python-telegram-bot Application and the fake Bot
API server) and the web chat (real HTTP), on a real database (SQLite file, and PostgreSQL when
reachable) holding the sample catalogue loaded by the real loader."""

from __future__ import annotations

import base64
import csv
import io

import aiohttp
import pytest

from bot.app import running_bot
from bot.config import Settings, WebSettings
from storage.database import Database
from storage.repositories import Repositories
from testkit.fakes.indicators import sample_catalogue_url
from testkit.fakes.telegram import FakeTelegramServer, FakeUser
from testkit.fakes.telegram.model import ChatMessage
from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, bot_in_process
from testkit.webchat_harness import WebVisitor


async def press(user: FakeUser, label: str, message_id: int | None = None) -> ChatMessage:
    """Press a button and return the bot's message that follows (sent or edited).

    The callback query is answered at once and the message comes after it, maybe later than
    ``press_and_wait``'s quiet period on a busy machine: wait for the message itself.
    """
    await user.press(label, message_id)
    return await user.wait_for_message(timeout=30)


@pytest.fixture
async def catalogue_url(database_url: str) -> str:
    """A migrated database of each backend with the sample catalogue as the active load."""
    return await sample_catalogue_url(database_url)


async def test_questions_with_typos_in_english_and_french_get_the_figure_chart_csv_and_rating(
    server: FakeTelegramServer, catalogue_url: str
) -> None:
    async with bot_in_process(server, catalogue_url):
        english = server.user(901, language_code="en")
        (reply,) = await english.send_text_and_wait("/data unemplyment rate womn northern")
        assert reply.text is not None
        assert reply.text.split("\n")[:5] == [
            "Unemployment rate",
            "Northern · Female",
            "13.6 % in 2024 (estimated)",
            "Previous period (2023): 14.1 %",
            "Change: -0.5 percentage points",
        ]
        assert "Source: Labour Force Survey" in reply.text
        assert ("Open the release", None) in [button for row in reply.buttons for button in row]

        chart = await press(english, "📈 Chart")
        assert chart.media_type == "photo" and chart.photo is not None and chart.photo.startswith(b"\x89PNG")
        assert chart.text == "Unemployment rate\nNorthern · Female"
        download = await press(english, "📥 Download (CSV)")
        assert download.media_type == "document" and download.filename == "UNEMP_RATE_N_F.csv"
        assert download.document is not None
        rows = list(csv.DictReader(io.StringIO(download.document.decode("utf-8-sig"))))
        assert [(r["time_period"], r["obs_value"], r["obs_status"]) for r in rows][-2:] == [
            ("2023", "14.1", "A"),
            ("2024", "13.6", "E"),
        ]
        thanks = await press(english, "👍 Useful", reply.message_id)
        assert thanks.text is not None and thanks.text.startswith("Thank you")

        french = server.user(902, language_code="fr")
        (reply,) = await french.send_text_and_wait("taux d'inflaton")
        assert reply.text is not None
        assert reply.text.split("\n")[:4] == [
            "Taux d'inflation (glissement annuel)",
            "4,2 % en mars 2024 (provisoire)",
            "Période précédente (février 2024) : 4,6 %",
            "Variation : -0,4 points de pourcentage",
        ]
        assert "Source : Indice des prix à la consommation — IPC, mars 2024" in reply.text

        # Dimensions not given: asked with buttons, national total first, in the same message.
        (ask,) = await french.send_text_and_wait("chomage en 2022")
        assert ask.text == "Taux de chômage\nChoisissez : Région"
        assert ask.button_texts == ["Ensemble du pays", "Nord", "Sud"]
        ask_sex = await press(french, "Ensemble du pays")
        assert ask_sex.message_id == ask.message_id and ask_sex.edited
        assert ask_sex.button_texts == ["Total", "Féminin", "Masculin"]
        answer = await press(french, "Masculin")
        assert answer.text is not None and answer.text.split("\n")[1:3] == [
            "Ensemble du pays · Masculin",
            "8,9 % en 2022",
        ]

    database = Database(catalogue_url)
    try:
        async with database.reading() as connection:
            repos = Repositories(connection)
            queries = sorted((q.text, q.indicator_code, q.matched) for q in await repos.lookups.queries())
            ratings = await repos.lookups.ratings()
    finally:
        await database.dispose()
    assert queries == [
        ("chomage en 2022", "UNEMP_RATE", True),
        ("taux d'inflaton", "CPI_YOY", True),
        ("unemplyment rate womn northern", "UNEMP_RATE", True),
    ]
    assert [(r.indicator_code, r.series_key, r.useful) for r in ratings] == [("UNEMP_RATE", "A.N.F", True)]


async def test_web_chat_lookup_gets_the_figure_the_chart_and_the_csv(catalogue_url: str) -> None:
    settings = Settings(
        database_url=catalogue_url, surveys_directory=FORMS, pseudonym_key=PSEUDONYM_KEY, web=WebSettings(port=0)
    )
    async with running_bot(settings) as bot, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        visitor = WebVisitor(client, f"http://127.0.0.1:{bot.web_port}")
        (answer,) = await visitor.post(text="populaton northern")
        assert answer["text"].split("\n")[:3] == ["Population", "Northern", "10,104,221 persons in 2024"]
        payloads = {button["label"]: button["payload"] for row in answer["buttons"] for button in row}
        (chart,) = await visitor.post(payload=payloads["📈 Chart"])
        assert chart["attachment"]["kind"] == "image" and chart["attachment"]["data_url"].startswith(
            "data:image/png;base64,"
        )
        (download,) = await visitor.post(payload=payloads["📥 Download (CSV)"])
        data_url = download["attachment"]["data_url"]
        assert download["attachment"]["filename"] == "POP_N.csv" and data_url.startswith("data:text/csv;base64,")
        rows = list(csv.DictReader(io.StringIO(base64.b64decode(data_url.split(",", 1)[1]).decode("utf-8-sig"))))
        assert [row["obs_value"] for row in rows] == ["9870000", "10104221"]
