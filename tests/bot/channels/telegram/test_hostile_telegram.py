"""Hostile and odd input over Telegram: the real python-telegram-bot Application, the fake Bot
API server and a real database (SQLite file and PostgreSQL). Nothing crashes, nothing odd is
stored, and what a person types is stored exactly as typed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.telegram.adapter import SECRET_HEADER
from surveys.loader import load_survey_directory
from testkit import paths
from testkit.databases import copy_migrated_sqlite
from testkit.exports import export_rows
from testkit.fakes.db_rows import row_counts
from testkit.fakes.telegram import FakeTelegramServer
from testkit.fakes.telegram.user import FakeUser
from testkit.telegram_harness import bot_in_process, free_port

HOSTILE_FORMS = paths.HOSTILE_FORMS
SURVEY = load_survey_directory(HOSTILE_FORMS)["hostile"]

#: Message kinds a person can send that carry no text.
NON_TEXT: dict[str, dict[str, Any]] = {
    "sticker": {
        "sticker": {
            "file_id": "st1",
            "file_unique_id": "stu1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    "photo": {"photo": [{"file_id": "ph1", "file_unique_id": "phu1", "width": 90, "height": 90}]},
    "voice": {"voice": {"file_id": "vo1", "file_unique_id": "vou1", "duration": 3}},
    "document": {"document": {"file_id": "do1", "file_unique_id": "dou1", "file_name": "x.pdf"}},
    "location": {"location": {"latitude": -1.28, "longitude": 36.82}},
    "contact": {"contact": {"phone_number": "+254700000001", "first_name": "Someone"}},
}

#: What the bot takes as answers to media and location questions (a sticker or a contact is not).
MEDIA_KINDS = frozenset({"photo", "voice", "document", "location"})


_message_ids = iter(range(10_000, 10**9))


def raw_message(user: FakeUser, **fields: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "from": user.api_user,
        "chat": user.api_chat,
        "date": int(time.time()),
        **fields,
    }


async def send_raw(user: FakeUser, **fields: Any) -> str:
    """Send a message with ``fields``; returns the texts of the bot's replies, joined."""
    await user.send_raw_message(**fields)
    return "\n".join(m.text for m in await user.wait_until_quiet())


async def exported(database_url: str) -> list[dict[str, str]]:
    return await export_rows(database_url, SURVEY)


async def test_stickers_photos_voice_documents_locations_get_a_polite_reply_and_store_nothing(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4101)
        await user.send_text_and_wait("/help")
        before = await row_counts(database_url)
        for kind, fields in NON_TEXT.items():
            reply = await send_raw(user, **fields)
            assert "please type your message or press a button" in reply, kind
        assert await row_counts(database_url) == before, "outside a survey nothing is stored"

        replies = await user.send_text_and_wait("/survey hostile")
        assert replies[-1].text.endswith("Any comment?")
        before = await row_counts(database_url)
        for kind, fields in NON_TEXT.items():
            reply = await send_raw(user, **fields)
            # A file or a place for a text question: what it takes (issue 16); the rest: type.
            expected = "answered by typing" if kind in MEDIA_KINDS else "Please type an answer."
            assert expected in reply, kind
        assert await row_counts(database_url) == before, "inside a survey nothing is stored either"
        replies = await user.send_text_and_wait("fine")
        assert replies[-1].text.endswith("Favourite colour?"), "the survey goes on where it was"


@pytest.mark.parametrize(
    "typed",
    [
        "مرحبا، الإحصاءات مفيدة جدا 👍🏽",  # Arabic with an emoji and a skin tone modifier
        "שלום\u200f עולם",  # Hebrew with a right-to-left mark
        "👨‍👩‍👧‍👦🇰🇪 family & flag",  # zero-width joiners, regional indicators
        "tab\there\r\nand a bell\x07 and \x1b[31mANSI\x1b[0m",
        "x" * 2000,  # the longest text answer the bot accepts
    ],
    ids=["arabic-emoji", "hebrew-rlm", "zwj-flag", "control-chars", "2000-chars"],
)
async def test_odd_text_answers_are_stored_exactly_as_typed(
    server: FakeTelegramServer, tmp_path: Path, typed: str
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url, forms=HOSTILE_FORMS):
        user = server.user(4102)
        await user.send_text_and_wait("/survey hostile")
        replies = await user.send_text_and_wait(typed)
        assert replies[-1].text.endswith("Favourite colour?")
    (row,) = await exported(url)
    assert row["comment"] == typed


async def test_odd_text_is_stored_exactly_on_both_backends(server: FakeTelegramServer, database_url: str) -> None:
    typed = "Réponse: مرحبا 👍🏽 \u202etxt.exe\u202c " + "é" * 1900
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4103)
        await user.send_text_and_wait("/survey hostile")
        await user.send_text_and_wait(typed)
    (row,) = await exported(database_url)
    assert row["comment"] == typed


async def test_a_4096_character_message_is_refused_politely_and_keeps_the_question(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4111)
        await user.send_text_and_wait("/survey hostile")
        before = await row_counts(database_url)
        replies = await user.send_text_and_wait("y" * 4096)
        assert "under 2000 characters" in replies[0].text
        assert replies[-1].text.endswith("Any comment?")
        assert await row_counts(database_url) == before
        replies = await user.send_text_and_wait("z" * 4096)  # outside the survey it is a lookup
        await user.send_text_and_wait("/cancel")
        replies = await user.send_text_and_wait("w" * 4096)
        assert replies, "a long free text gets an answer"


async def test_empty_and_blank_text_keep_the_question_and_store_nothing(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4104)
        await user.send_text_and_wait("/survey hostile")
        before = await row_counts(database_url)
        for blank in ("", "   ", "\n\t"):
            reply = await send_raw(user, text=blank)
            assert "Please type an answer." in reply
        assert await row_counts(database_url) == before


async def test_nul_and_lone_surrogates_are_stored_as_replacement_characters_on_both_backends(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4105)
        await user.send_text_and_wait("/survey hostile")
        replies = await user.send_text_and_wait("before\x00after")
        assert replies[-1].text.endswith("Favourite colour?")
        await user.press("Red")
        await user.wait_until_quiet()
        await user.send_raw_message(text="lone \ud800 surrogate")  # JSON allows "\ud800"
        replies = await user.wait_until_quiet()
    (row,) = await exported(database_url)
    assert row["comment"] == "before\ufffdafter", "PostgreSQL text cannot hold NUL: it becomes U+FFFD"
    assert row["last"] == "lone \ufffd surrogate", "UTF-8 cannot hold a lone surrogate: it becomes U+FFFD"


async def test_a_forwarded_message_counts_as_what_the_user_typed(server: FakeTelegramServer, tmp_path: Path) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url, forms=HOSTILE_FORMS):
        user = server.user(4106)
        await user.send_text_and_wait("/survey hostile")
        origin = {"type": "hidden_user", "date": int(time.time()), "sender_user_name": "Someone else"}
        reply = await send_raw(user, text="forwarded words", forward_origin=origin)
        assert reply.endswith("Favourite colour?")
    (row,) = await exported(url)
    assert row["comment"] == "forwarded words"


async def test_repeated_fast_taps_on_one_button_apply_once(server: FakeTelegramServer, database_url: str) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS):
        user = server.user(4107)
        await user.send_text_and_wait("/survey hostile")
        await user.send_text_and_wait("a comment")
        question = user.bot_messages[-1]
        for _ in range(8):
            await user.press("Red", question.message_id)
        await user.wait_until_quiet(quiet=0.5)
        await user.send_text_and_wait("the end")
    (row,) = await exported(database_url)
    assert (row["comment"], row["colour"], row["last"]) == ("a comment", "red", "the end")


async def test_callback_data_never_issued_or_from_another_user_or_survey_changes_nothing(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url, forms=HOSTILE_FORMS, chat_burst=1000):
        alice, bob = server.user(4108), server.user(4109)
        await alice.send_text_and_wait("/survey hostile")
        await alice.send_text_and_wait("alice's comment")
        alice_question = alice.bot_messages[-1]
        red = alice_question.find_button("Red")
        assert red is not None and red[1] is not None
        await bob.send_text_and_wait("/survey hostile")
        bob_question = bob.bot_messages[-1]
        before = await row_counts(database_url)
        forged = [
            "",
            "q:",
            "q:999999999:c:0",
            "q:1:c:99999999999999999999",
            "q:²:d",
            "s:no-such-survey",
            "s:usat2026",
            "d:" + "x" * 62,
            "r:../../etc/passwd",
            "\x00\x01",
            "🙂" * 16,
            "k:-1",
            "c:999",
            red[1],  # Alice's button, pressed by Bob on his own message
        ]
        for data in forged:
            await bob.press_raw(data, bob_question.message_id)
            await bob.wait_until_quiet(require_reply=False, quiet=0.2)
        await bob.press_raw(red[1], alice_question.message_id)  # Alice's message id, in Bob's chat
        await bob.wait_until_quiet(require_reply=False, quiet=0.2)
        assert await row_counts(database_url) == before, "no forged press stored anything"
        replies = await bob.send_text_and_wait("bob's comment")
        assert replies[-1].text.endswith("Favourite colour?"), "Bob is still on his first question"
        await alice.press("Blue", alice_question.message_id)
        await alice.wait_until_quiet()
        await alice.send_text_and_wait("done")
    rows = {row["comment"]: row for row in await exported(database_url)}
    assert rows["alice's comment"]["colour"] == "blue"
    assert rows["alice's comment"]["last"] == "done"


async def test_edited_and_unknown_updates_over_the_webhook_are_ignored(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
    secret = {SECRET_HEADER: "s3cret-token"}
    async with bot_in_process(
        server, url, port, forms=HOSTILE_FORMS, mode="webhook", webhook_secret="s3cret-token", webhook_url=endpoint
    ):
        user = server.user(4110)
        await user.send_text_and_wait("/survey hostile")
        await user.send_text_and_wait("first answer")
        first = next(m for m in user.messages if not m.from_bot and m.text == "first answer")
        before = await row_counts(url)
        sent = len(server.calls_to("sendMessage"))
        edited = {**raw_message(user, text="edited answer"), "message_id": first.message_id, "edit_date": 2}
        bodies: list[Any] = [
            {"update_id": 900_001, "edited_message": edited},
            {"update_id": 900_002, "some_future_update": {"x": 1}},
            {"update_id": 900_003, "message_reaction": {"chat": user.api_chat, "message_id": 1, "date": 1}},
            {"update_id": 900_004, "poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0}},
            {"update_id": 900_005, "message": {"message_id": 1, "date": 1, "chat": user.api_chat}},  # no sender
        ]
        async with aiohttp.ClientSession() as client:
            for body in bodies:
                async with client.post(endpoint, json=body, headers=secret) as response:
                    assert response.status in (200, 400), body
            for junk in (b"not json", b"[]", b"null", b'{"update_id": "x"}', b"{" * 10_000):
                async with client.post(endpoint, data=junk, headers=secret) as response:
                    assert response.status in (200, 400), junk[:20]
        await asyncio.sleep(0.3)
        assert len(server.calls_to("sendMessage")) == sent, "no reply to edits or unknown updates"
        assert await row_counts(url) == before
    (row,) = await exported(url)
    assert row["comment"] == "first answer", "an edit does not change a stored answer"
