"""Reading updates from the Bot API's JSON (bot/channels/telegram/updates.py).

The channel reads the fields it needs from the JSON instead of python-telegram-bot's
``Update.de_json``; these tests hold it to what PTB reads from the same JSON, on updates shaped by
the fake Bot API as Telegram sends them, and to ``None`` / :class:`NotAnUpdate` for the rest.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from telegram import Bot, Message, Update

from bot.channels.telegram import ptb_compat
from bot.channels.telegram.updates import NotAnUpdate, TelegramUpdate, read_update
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import TOKEN


def as_ptb_reads_it(data: dict[str, Any], bot: Bot) -> dict[str, Any]:
    """What the channel used to take from PTB's ``Update`` of the same JSON."""
    update = Update.de_json(data, bot)
    assert update is not None and update.effective_user is not None and update.effective_chat is not None
    query, message = update.callback_query, update.message
    seen: dict[str, Any] = {
        "user_key": str(update.effective_user.id),
        "chat_key": str(update.effective_chat.id),
        "update_key": str(update.update_id),
        "language_hint": update.effective_user.language_code,
        "payload": (query.data or "") if query is not None else None,
    }
    if query is not None:
        shown = query.message
        # PTB 22.8 builds a Message even for date 0; the Bot API says such a message is
        # inaccessible (too old to edit), and the channel sends a new message instead of trying.
        accessible = isinstance(shown, Message) and shown.date.timestamp() != 0
        seen["pressed"] = shown.message_id if accessible else None
        return seen
    assert message is not None
    seen["received_at"] = message.date.astimezone(UTC)
    location = message.location
    seen["location"] = (
        None if location is None else (location.latitude, location.longitude, location.horizontal_accuracy)
    )
    files = [message.voice, message.document, message.video]
    largest = max(message.photo, key=lambda size: size.width * size.height) if message.photo else None
    file_ids = [part.file_id for part in [largest, *files] if part is not None]
    seen["file_id"] = file_ids[0] if file_ids else None
    seen["text"] = None if location is not None or file_ids else message.text or ""
    return seen


def as_read(update: TelegramUpdate) -> dict[str, Any]:
    inbound = update.inbound
    seen: dict[str, Any] = {
        "user_key": inbound.user_key,
        "chat_key": inbound.chat_key,
        "update_key": inbound.update_key,
        "language_hint": inbound.language_hint,
        "payload": inbound.payload,
    }
    if update.query_id is not None:
        seen["pressed"] = update.pressed_message_id
        return seen
    seen["received_at"] = inbound.received_at
    location = inbound.location
    seen["location"] = None if location is None else (location.latitude, location.longitude, location.accuracy)
    seen["file_id"] = update.sent.file_id if update.sent is not None else None
    seen["text"] = inbound.text
    return seen


async def test_every_kind_of_update_a_person_sends_reads_as_python_telegram_bot_reads_it(
    server: FakeTelegramServer,
) -> None:
    person = server.user(4242, language_code="fr")
    await person.send_text("12")
    await person.send_text("/start usat2026")
    await person.send_photo(b"\xff\xd8 a photo", 1280, 960)
    await person.send_voice(b"OggS a voice note")
    await person.send_document(b"%PDF a file", "form.pdf", "application/pdf")
    await person.send_location(-1.2921, 36.8219, horizontal_accuracy=12.5)
    sticker = {
        "file_id": "s1",
        "file_unique_id": "u1",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    }
    await person.send_raw_message(sticker={**sticker, "type": "regular"})
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        sent = await bot.send_message(
            person.id, "Pick", reply_markup={"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
        )
        await person.press("Yes", sent.message_id)
        await person.press_raw("old", 999_999)  # a message Telegram no longer shows: date 0
        updates = await ptb_compat.get_update_data(
            bot, offset=None, poll_seconds=0, allowed_updates=["message", "callback_query"]
        )
        assert len(updates) == 9
        for data in updates:
            read = read_update(data)
            assert read is not None
            assert as_read(read) == as_ptb_reads_it(data, bot), data
    photo = read_update(updates[2])
    assert photo is not None and photo.sent is not None and photo.sent.kind == "image"
    assert photo.sent.file_id == updates[2]["message"]["photo"][-1]["file_id"]  # the largest size
    voice = read_update(updates[3])
    assert (
        voice is not None
        and voice.sent is not None
        and (voice.sent.kind, voice.sent.mime_type) == ("audio", "audio/ogg")
    )
    document = read_update(updates[4])
    assert document is not None and document.sent is not None and document.sent.filename == "form.pdf"
    sticker_update = read_update(updates[6])
    assert sticker_update is not None and sticker_update.inbound.text == ""  # "please type an answer"
    press, stale = read_update(updates[7]), read_update(updates[8])
    assert press is not None and press.query_id and press.pressed_message_id == sent.message_id
    assert stale is not None and stale.pressed_message_id is None and stale.inbound.payload == "old"


@pytest.mark.parametrize(
    "data",
    [
        {"update_id": 1, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}}},
        {
            "update_id": 2,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": True, "first_name": "b"},
                "text": "hi",
            },
        },
        {
            "update_id": 3,
            "callback_query": {
                "id": "q",
                "from": {"id": 7, "is_bot": False, "first_name": "a"},
                "chat_instance": "c",
                "inline_message_id": "i",
                "data": "x",
            },
        },
        {
            "update_id": 4,
            "message": {"message_id": 1, "date": 1, "chat": {"id": "seven"}, "from": {"id": 7, "is_bot": False}},
        },
    ],
    ids=["channel post", "from a bot", "inline message press", "chat id not a number"],
)
def test_an_update_that_is_not_from_a_person_in_a_chat_reads_as_none(data: dict[str, Any]) -> None:
    assert read_update(data) is None


@pytest.mark.parametrize("data", [[1, 2], "update", None, {"message": {}}, {"update_id": "1"}, {"update_id": True}])
def test_json_that_is_no_update_at_all_is_refused(data: object) -> None:
    with pytest.raises(NotAnUpdate):
        read_update(data)
