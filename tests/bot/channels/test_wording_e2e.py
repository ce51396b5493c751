"""A survey whose labels carry ODK markdown/HTML and ``${name}`` answered through the real bot:
on Telegram (the real python-telegram-bot Application against the fake Bot API) the person
reads the answers in place of the references and the formatting as Telegram HTML; on WhatsApp
(the fake Graph API) as WhatsApp's *bold* and _italic_; in the web chat the same texts come as
clean text with their spans. Nobody sees ``${...}`` or a tag."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.telegram_harness import bot_in_process
from testkit.webchat_harness import WebVisitor, web_chat_bot
from testkit.whatsapp_harness import whatsapp_bot

FORM = """\
id: wording
title: "**Wording** check"
questions:
  - {type: text, name: first_name, label: "What is your **first name**?"}
  - type: select_one
    name: sex
    label: "Is *${first_name}* a woman or a man?<br>_Choose one_"
    choices: [{name: f, label: "**Woman**"}, {name: m, label: Man}]
  - type: integer
    name: age
    label: "# Age\\nHow old is ${first_name}?"
    hint: "${first_name} is a ${sex}"
    constraint: ". < 120"
    constraint_message: "**${first_name}** cannot be that old"
  - type: note
    name: bye
    label: "Thank you, <span style='color:red'>${first_name}</span> (${sex}). [More](https://nso.example/more)"
"""
NAME = "Amina <x> & *co*"


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    folder = tmp_path / "surveys"
    folder.mkdir()
    (folder / "wording.yaml").write_text(FORM)
    return folder


def no_marker(text: str) -> bool:
    return "${" not in text and "**" not in text and "<span" not in text and "<br" not in text


async def test_telegram_shows_answers_in_labels_and_the_formatting_as_html(
    server: FakeTelegramServer, forms: Path, tmp_path: Path
) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite"), forms=forms):
        user = server.user(4242, language_code="en")
        replies = await user.send_text_and_wait("/survey wording")
        assert replies[0].text is not None and replies[0].text.startswith("Wording check")
        question = replies[-1]
        assert question.text == "1/3 · What is your first name?"
        assert question.parse_mode == "HTML" and question.raw_text == "1/3 · What is your <b>first name</b>?"

        replies = await user.send_text_and_wait(NAME)
        question = replies[-1]
        assert question.text == f"2/3 · Is {NAME} a woman or a man?\nChoose one"
        assert question.raw_text == "2/3 · Is <i>Amina &lt;x&gt; &amp; *co*</i> a woman or a man?\n<i>Choose one</i>"
        assert question.button_texts == ["Woman", "Man"]

        replies = await user.press_and_wait("Woman")
        closed = user.message(question.message_id)
        assert closed.edited and closed.text == f"Is {NAME} a woman or a man?\nChoose one\n→ Woman"
        assert replies[-1].text == f"3/3 · Age\nHow old is {NAME}?\n{NAME} is a Woman"
        assert replies[-1].raw_text is not None and replies[-1].raw_text.startswith("3/3 · <b>Age</b>\n")

        replies = await user.send_text_and_wait("150")
        assert replies[0].text == f"{NAME} cannot be that old"
        assert replies[0].raw_text == "<b>Amina &lt;x&gt; &amp; *co*</b> cannot be that old"

        replies = await user.send_text_and_wait("30")
        assert replies[0].text == f"Thank you, {NAME} (Woman). More"
        assert replies[0].raw_text == (
            'Thank you, Amina &lt;x&gt; &amp; *co* (Woman). <a href="https://nso.example/more">More</a>'
        )
        for message in user.bot_messages:
            assert message.text is not None and no_marker(message.text), message.text


async def test_web_chat_gets_clean_text_and_spans(forms: Path, tmp_path: Path) -> None:
    async with (
        web_chat_bot(await copy_migrated_sqlite(tmp_path / "db.sqlite"), surveys_directory=forms) as bot,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client,
    ):
        visitor = WebVisitor(client, f"http://127.0.0.1:{bot.web_port}")
        await visitor.post(payload="resume")
        replies = await visitor.post(text="/survey wording")
        assert replies[-1]["text"] == "1/3 · What is your first name?"
        assert {"text": "first name", "bold": True, "italic": False, "link": None} in replies[-1]["rich"]
        replies = await visitor.post(text="Ali")
        assert replies[-1]["text"] == "2/3 · Is Ali a woman or a man?\nChoose one"
        replies = await visitor.press("Man")
        assert replies[-1]["text"] == "3/3 · Age\nHow old is Ali?\nAli is a Man"
        replies = await visitor.post(text="40")
        assert replies[0]["text"] == "Thank you, Ali (Man). More (https://nso.example/more)"
        assert replies[0]["rich"][-1] == {
            "text": "More",
            "bold": False,
            "italic": False,
            "link": "https://nso.example/more",
        }
        assert all(no_marker(reply["text"]) for reply in replies)


async def test_whatsapp_shows_answers_in_labels_with_its_own_markers(forms: Path, tmp_path: Path) -> None:
    async with (
        FakeGraphServer() as graph,
        whatsapp_bot(graph, await copy_migrated_sqlite(tmp_path / "db.sqlite"), forms=forms),
    ):
        person = graph.user("254700001234")
        replies = await person.send_text_and_wait("/survey wording")
        assert replies[-1].text == "1/3 · What is your *first name*?"
        replies = await person.send_text_and_wait("Juma")
        assert replies[-1].text == "2/3 · Is _Juma_ a woman or a man?\n_Choose one_"
        assert replies[-1].button_texts == ["Woman", "Man"]
        replies = await person.press_label("Man")
        assert replies[-1].text == "3/3 · *Age*\nHow old is Juma?\nJuma is a Man"
        replies = await person.send_text_and_wait("30")
        assert replies[0].text == "Thank you, Juma (Man). More (https://nso.example/more)"
        assert all("${" not in m.text and "<" not in m.text and "**" not in m.text for m in person.bot_messages)


async def test_telegram_refusing_the_formatting_gets_the_clean_text(
    server: FakeTelegramServer, forms: Path, tmp_path: Path
) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite"), forms=forms):
        user = server.user(4343, language_code="en")
        await user.send_text_and_wait("/survey wording")
        server.fail_next("sendMessage", 1, error_code=400, description="Bad Request: can't parse entities")
        replies = await user.send_text_and_wait("Ali")
        assert replies[-1].text == "2/3 · Is Ali a woman or a man?\nChoose one"
        assert replies[-1].parse_mode is None and replies[-1].button_texts == ["Woman", "Man"]
        refused = [call for call in server.calls_to("sendMessage") if call.fault]
        assert len(refused) == 1 and refused[0].params.get("parse_mode") == "HTML"
