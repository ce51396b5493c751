"""Media and location answers over Telegram: the real python-telegram-bot Application fetches the
files people send through the fake Bot API (getFile + the file download), the core keeps them in
the media store under names of its own, and the answers are stored as contract16 says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import running_bot
from storage.media import STORED_NAME, MediaSettings
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.media import (
    PDF,
    VOICE_NOTE,
    picture,
    size_of,
    stored_answers,
    write_household_media_form,
)
from testkit.telegram_harness import bot_settings


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    return write_household_media_form(tmp_path)


async def test_photo_voice_note_document_and_location_are_fetched_kept_and_stored(
    server: FakeTelegramServer, database_url: str, forms: Path, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    settings = replace(
        bot_settings(server, database_url, forms=forms), media=MediaSettings(directory=media, max_bytes=300_000)
    )
    async with running_bot(settings):
        user = server.user(4242, first_name="Amina")
        await user.send_text_and_wait("/survey household")
        replies = await user.send_text_and_wait("Amina Diallo")
        assert "📷 Send a photo." in replies[-1].text

        # Too big for the configured limit: refused with the reason, the same question after it.
        await user.send_photo(picture(2400, 2400, "BMP"), 2400, 2400)
        replies = await user.wait_until_quiet()
        assert "too big" in replies[0].text and "Photo of the house" in replies[-1].text
        # A PDF for a photo question: refused with its type.
        await user.send_document(PDF, "house plan.pdf", "application/pdf")
        replies = await user.wait_until_quiet()
        assert "(application/pdf) is not accepted" in replies[0].text and "Photo of the house" in replies[-1].text

        await user.send_photo(picture(1280, 960), 1280, 960)
        replies = await user.wait_until_quiet()
        assert "🎤" in replies[-1].text
        await user.send_voice(VOICE_NOTE)
        replies = await user.wait_until_quiet()
        assert "Where is the house" in replies[-1].text
        assert user.reply_keyboard == [["📍 Send my location"]]  # Telegram's request_location button
        await user.send_location(-1.2921, 36.8219, horizontal_accuracy=12.5)
        replies = await user.wait_until_quiet()
        assert "certificate" in replies[-1].text
        await user.send_document(PDF, "certificate of Amina Diallo.pdf", "application/pdf")
        await user.wait_until_quiet()
        await user.send_location(-1.2921, 36.8219)
        await user.wait_until_quiet()
        await user.send_location(-1.2930, 36.8240)
        replies = await user.wait_until_quiet()
        assert "Points so far: 2." in replies[-1].text
        replies = await user.press_and_wait("Done ✔")
        assert "How many people" in replies[-1].text
        replies = await user.send_text_and_wait("4")

    answers = await stored_answers(database_url)
    kept = sorted(path.name for path in (media / "household").iterdir())
    assert sorted([answers["house"], answers["story"], answers["paper"]]) == kept  # type: ignore[type-var]
    assert all(STORED_NAME.match(name) and "amina" not in name.lower() for name in kept)
    assert answers["where"] == "-1.2921 36.8219 0 12.5"
    assert answers["path"] == "-1.2921 36.8219;-1.293 36.824"
    assert answers["size"] == "4"
    # The largest photo size was fetched, then scaled to max_pixels (640): the aspect kept.
    assert size_of((media / "household" / str(answers["house"])).read_bytes()) == (640, 480)
    assert (media / "household" / str(answers["story"])).read_bytes() == VOICE_NOTE
    assert (media / "household" / str(answers["paper"])).read_bytes() == PDF
    fetched = [call.params.get("file_id") for call in server.calls_to("getFile")]
    assert len(fetched) == 4  # the PDF refused for the photo was fetched; the too-big photo was not


async def test_a_photo_where_text_is_expected_says_so_and_loses_nothing(
    server: FakeTelegramServer, database_url: str, forms: Path, tmp_path: Path
) -> None:
    settings = replace(bot_settings(server, database_url, forms=forms), media=MediaSettings(directory=tmp_path / "m"))
    async with running_bot(settings):
        user = server.user(4343)
        await user.send_text_and_wait("/survey household")
        await user.send_photo(picture(40, 30), 40, 30)
        replies = await user.wait_until_quiet()
        assert "answered by typing" in replies[0].text and "Name of the household head" in replies[-1].text
        await user.send_location(1.0, 2.0)
        replies = await user.wait_until_quiet()
        assert "answered by typing" in replies[0].text
        await user.send_text_and_wait("Kofi")
        replies = await user.send_text_and_wait("a photo of my house")
        assert replies[0].text == "📷 Send a photo." and "Photo of the house" in replies[-1].text
    assert await stored_answers(database_url) == {"head": "Kofi"}
    assert not (tmp_path / "m").exists()


async def test_a_text_sent_while_a_photo_is_fetched_waits_for_it(
    server: FakeTelegramServer, tmp_path: Path, forms: Path
) -> None:
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    settings = replace(bot_settings(server, url, forms=forms), media=MediaSettings(directory=tmp_path / "m"))
    async with running_bot(settings):
        user = server.user(4444)
        await user.send_text_and_wait("/survey household")
        await user.send_text_and_wait("Kofi")
        server.delay_next("getFile", 0.5)  # a slow download of the photo...
        await user.send_photo(picture(64, 48), 64, 48)
        await user.send_text("that was my house")  # ...and a text right after it
        await user.wait_until_quiet(quiet=1.0)
    texts = [message.text for message in user.bot_messages[-3:]]
    # The photo answered its question first; the text then met the voice-note question.
    assert "Tell us about the household" in texts[0]
    assert texts[1] == "🎤 Send a voice note or an audio file."
    answers = await stored_answers(url)
    assert answers.keys() == {"head", "house"} and answers["head"] == "Kofi" and answers["house"] is not None
