"""The three shipped XLSForms, imported with ``baraza survey import`` and answered end to end:
over Telegram (the real python-telegram-bot Application and the fake Bot API) and in the web
chat, with the exported columns and values that the forms' XLSForm logic requires."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import RunningBot
from handlers.texts import Texts
from storage.database import Database
from storage.exports.files import export_responses
from storage.exports.responses import response_columns
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit import paths
from testkit.exports import EVERY_RESPONSE_JOINED
from testkit.fakes.survey_respondent import button_data
from testkit.fakes.telegram import ChatMessage, FakeTelegramServer, FakeUser
from testkit.telegram_harness import NO_FLOOD_LIMIT, ROOT, bot_in_process

XLSFORMS = paths.XLSFORMS
FORMS = ("household_listing", "user_consultation", "stat_literacy_quiz")


@pytest.fixture(scope="module")
def imported_forms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three spreadsheets converted by the real command line, as an office would."""
    directory = tmp_path_factory.mktemp("forms")
    for name in FORMS:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli.main",
                "survey",
                "import",
                str(XLSFORMS / f"{name}.xlsx"),
                "--output",
                str(directory / f"{name}.yaml"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    return directory


class Chat:
    """A person in Telegram: types, presses buttons by their label, waits for the bot."""

    def __init__(self, user: FakeUser, language: str) -> None:
        self.user = user
        self.texts = Texts(language)

    async def say(self, text: str) -> list[ChatMessage]:
        return await self.user.send_text_and_wait(text, quiet=0.15)

    async def press(self, label: str) -> list[ChatMessage]:
        message = next(m for m in reversed(self.user.bot_messages) if m.buttons)
        await self.user.press(button_data(message, label), message.message_id)
        return await self.user.wait_until_quiet(quiet=0.15)

    async def tick(self, *labels: str) -> list[ChatMessage]:
        for label in labels:
            await self.press(label)
        return await self.press(self.texts("button_done").split()[0])

    @property
    def last(self) -> str:
        return (self.user.last_message.text if self.user.last_message else "") or ""


async def export(database_url: str, survey: Survey) -> tuple[list[str], list[dict[str, str]]]:
    database = Database(database_url)
    try:
        out = io.StringIO()
        await export_responses(database, survey, EVERY_RESPONSE_JOINED, "csv", out)
    finally:
        await database.dispose()
    text = out.getvalue()
    return text.splitlines()[0].split(","), list(csv.DictReader(io.StringIO(text)))


def answers_of(row: dict[str, str], survey: Survey) -> dict[str, str]:
    return {q.name: row[q.name] for q in survey.data_questions}


async def test_consultation_in_french_over_telegram_with_back_and_filters(
    server: FakeTelegramServer, database_url: str, imported_forms: Path
) -> None:
    survey = load_survey_directory(imported_forms)["user_consultation_2026"]
    async with bot_in_process(server, database_url, forms=imported_forms):
        chat = Chat(server.user(9001, language_code="fr"), "fr")
        replies = await chat.say("/start user_consultation_2026")
        assert any("Merci de participer" in (m.text or "") for m in replies), "the welcome note, in French"
        assert chat.last.startswith("1/10 · Laquelle de ces catégories")
        await chat.press("Autre")
        assert chat.last.startswith("2/11 · Veuillez décrire"), "skip logic adds the 'other' question"
        await chat.say("Statisticienne")
        await chat.press("Sud")
        district = chat.user.last_message
        assert district is not None and district.button_texts == ["Méandre", "Plaines"], "choice filter"
        replies = await chat.say("Colline")
        assert replies[0].text == chat.texts("problem_unknown_choice", count="2")
        await chat.press("Plaines")
        await chat.press("Chaque mois")
        replies = await chat.tick("Prix et inflation", "Marché du travail", "Santé", "Population")
        assert "Choisissez trois thèmes au plus." in [m.text for m in replies], "constraint message of the form"
        await chat.press("Population")  # untick
        await chat.press("Terminé")
        await chat.tick("Notre site web")
        await chat.press("2")
        await chat.press("Non")
        assert chat.last.split(" · ")[1].startswith("Qu'est-ce qui a rendu"), "the nested group is now relevant"
        await chat.tick("Les données n'existaient pas")
        await chat.press("Oui")
        replies = await chat.say("pas une adresse")
        assert replies[0].text == "Cela ne ressemble pas à une adresse électronique."
        await chat.say("ana@example.org")
        assert "Que devrions-nous améliorer" in chat.last
        # /back four times: e-mail, contact, difficulties, then "found easily", which changes to yes.
        for expected in ("Votre adresse", "Pouvons-nous", "Qu'est-ce qui a rendu", "Avez-vous trouvé"):
            await chat.say("/back")
            assert expected in chat.last, (expected, chat.last)
        await chat.press("Oui")
        assert "Que devrions-nous améliorer" in chat.last, "answers that stay relevant are kept, not asked again"
        await chat.say("Plus de données par district")
        assert chat.last.endswith(chat.texts("finished"))
    header, rows = await export(database_url, survey)
    assert header == [column.name for column in response_columns(survey, EVERY_RESPONSE_JOINED)]
    assert header[7:-4] == [
        "user_type", "user_type_other", "region", "district", "frequency", "topics", "channels", "satisfaction",
        "found_easily", "difficulty_reasons", "contact_ok", "contact_email", "topic_count", "suggestions",
    ]  # fmt: skip
    (row,) = rows
    assert (row["language"], row["complete"]) == ("fr", "true")
    assert answers_of(row, survey) == {
        "user_type": "other",
        "user_type_other": "Statisticienne",
        "region": "south",
        "district": "plains",
        "frequency": "monthly",
        "topics": "prices labour health",
        "channels": "website",
        "satisfaction": "2",
        "found_easily": "yes",
        "difficulty_reasons": "",  # answered, then no longer relevant after /back: emptied
        "contact_ok": "yes",
        "contact_email": "ana@example.org",
        "topic_count": "3",
        "suggestions": "Plus de données par district",
    }


async def test_consultation_in_arabic_reads_right_to_left(
    server: FakeTelegramServer, tmp_path: Path, imported_forms: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    survey = load_survey_directory(imported_forms)["user_consultation_2026"]
    async with bot_in_process(server, url, forms=imported_forms):
        chat = Chat(server.user(9002, language_code="ar"), "ar")
        await chat.say("/survey user_consultation_2026")
        assert chat.last.startswith("\u200f1/10 · أيّ مما يلي يصفك")
        await chat.press("طالب")
        await chat.press("الساحل")
        await chat.say("1")  # the first district shown for the coast: harbour
        await chat.press("أبدًا")
        await chat.press("لا")
        await chat.say("/skip")
    (row,) = (await export(url, survey))[1]
    assert (row["language"], row["complete"]) == ("ar", "true")
    assert answers_of(row, survey) == {
        "user_type": "student", "user_type_other": "", "region": "coast", "district": "harbour",
        "frequency": "never", "topics": "", "channels": "", "satisfaction": "", "found_easily": "",
        "difficulty_reasons": "", "contact_ok": "no", "contact_email": "", "topic_count": "0", "suggestions": "",
    }  # fmt: skip


async def test_household_listing_checks_constraints_and_calculates(
    server: FakeTelegramServer, database_url: str, imported_forms: Path
) -> None:
    survey = load_survey_directory(imported_forms)["household_listing"]
    async with bot_in_process(server, database_url, forms=imported_forms):
        chat = Chat(server.user(9003), "en")
        await chat.say("/survey household_listing")
        replies = await chat.say("12a")
        assert replies[0].text == "The code has exactly four digits."
        await chat.say("1234")
        replies = await chat.say("2099-01-01")
        assert replies[0].text == "The visit date cannot be in the future."
        await chat.say("15/03/2026")
        await chat.say("Amina Njeri")
        await chat.press("Female")
        await chat.say("34")
        await chat.say("5")
        replies = await chat.say("5")
        assert replies[0].text == "There must be fewer children than people in the household."
        await chat.say("2")
        await chat.press("Other")
        await chat.say("Shipping container")
        await chat.press("Rented")
        replies = await chat.say("0")
        assert replies[0].text == "The rent must be more than 0."
        await chat.say("1 500,50")
        replies = await chat.press("Yes")
        assert any(m.text == "Thank you. The household is listed." for m in replies)
    (row,) = (await export(database_url, survey))[1]
    answers = answers_of(row, survey)
    # The start and end metadata: when the response began and when it was last answered.
    start, end = datetime.fromisoformat(answers.pop("start")), datetime.fromisoformat(answers.pop("end"))
    assert start.tzinfo is not None and start <= end
    assert answers == {
        "ea_code": "1234", "visit_date": "2026-03-15", "head_name": "Amina Njeri", "head_sex": "female",
        "head_age": "34", "hh_size": "5", "hh_children": "2", "hh_adults": "3", "dwelling_type": "other",
        "dwelling_other": "Shipping container", "tenure": "rented", "monthly_rent": "1500.5", "has_electricity": "yes",
    }  # fmt: skip


async def test_quiz_gives_feedback_and_a_stored_score(
    server: FakeTelegramServer, tmp_path: Path, imported_forms: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    survey = load_survey_directory(imported_forms)["stat_literacy_quiz"]
    async with bot_in_process(server, url, forms=imported_forms):
        chat = Chat(server.user(9004), "en")
        await chat.say("/survey stat_literacy_quiz")
        replies = await chat.press("The median")
        assert any((m.text or "").startswith("✅ Correct!") for m in replies)
        replies = await chat.press("By 1%")
        wrong = next(m.text or "" for m in replies if (m.text or "").startswith("❌"))
        assert wrong.startswith("❌ Not quite. The answer is: By 1 percentage point")
        await chat.press("Hot weather leads to both")
        await chat.press("Prices fell")
        await chat.press("The true share is probably close to 40%")
        replies = await chat.say("/skip")
        assert any(m.text == "Your score: 3 out of 5." for m in replies)
    header, rows = await export(url, survey)
    assert header[7] == "score"
    assert rows[0]["score"] == "3"


async def test_consultation_in_the_web_chat_in_portuguese_with_back(tmp_path: Path, imported_forms: Path) -> None:
    from bot.app import running_bot
    from bot.config import Settings, WebSettings

    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    settings = Settings(
        database_url=url,
        surveys_directory=imported_forms,
        pseudonym_key="k" * 20,
        web=WebSettings(port=0),
        flood=NO_FLOOD_LIMIT,  # the browser clicks faster than people
    )
    survey = load_survey_directory(imported_forms)["user_consultation_2026"]
    async with running_bot(settings) as bot:
        visitor = WebVisitor(bot, {"Accept-Language": "pt-PT,pt;q=0.9"})
        try:
            await visitor.post(text="/survey user_consultation_2026")
            assert visitor.last_text.startswith("1/10 · Qual destas opções")
            await visitor.press("Empresa")
            await visitor.press("Norte")
            assert visitor.buttons() == ["Encosta", "Beira do lago"]
            await visitor.press("Beira do lago")
            await visitor.press("Todos os meses")
            await visitor.press("Economia e PIB")
            await visitor.press("Concluído")
            await visitor.press("Redes sociais")
            await visitor.press("Concluído")
            await visitor.press("5")
            await visitor.post(text="/back")
            assert visitor.last_text.startswith("7/10 · De um modo geral")
            await visitor.press("4")
            await visitor.press("Sim")
            await visitor.press("Não")
            await visitor.post(text="pular")
        finally:
            await visitor.close()
    (row,) = (await export(url, survey))[1]
    assert (row["channel"], row["language"]) == ("web", "pt")
    assert answers_of(row, survey) == {
        "user_type": "business", "user_type_other": "", "region": "north", "district": "lakeside",
        "frequency": "monthly", "topics": "economy", "channels": "social", "satisfaction": "4",
        "found_easily": "yes", "difficulty_reasons": "", "contact_ok": "no", "contact_email": "",
        "topic_count": "1", "suggestions": "",
    }  # fmt: skip


class WebVisitor:
    """A browser session speaking the web chat's JSON protocol."""

    def __init__(self, bot: RunningBot, headers: dict[str, str]) -> None:
        self.base = f"http://127.0.0.1:{bot.web_port}"
        self.client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
        self.count = 0
        self.messages: list[dict[str, Any]] = []

    async def post(self, **body: str) -> None:
        self.count += 1
        async with self.client.post(f"{self.base}/api/messages", json={"id": f"m{self.count}", **body}) as response:
            assert response.status == 200, await response.text()
            self.messages.extend((await response.json())["messages"])

    @property
    def last_text(self) -> str:
        return str(self.messages[-1]["text"])

    def buttons(self) -> list[str]:
        newest = next(m for m in reversed(self.messages) if m["buttons"])
        return [b["label"] for row in newest["buttons"] for b in row]

    async def press(self, label: str) -> None:
        newest = next(m for m in reversed(self.messages) if m["buttons"])
        for row in newest["buttons"]:
            for button in row:
                text = button["label"]
                if text == label or text.endswith(f" {label}") or text.startswith(f"{label} "):
                    await self.post(payload=button["payload"])
                    return
        raise LookupError(f"no button {label!r} in {self.buttons()}")

    async def close(self) -> None:
        await self.client.close()
