"""Media and location answers over WhatsApp: the real adapter receives the Cloud API's image,
audio (voice), document and location messages, fetches each file from the fake Graph API
(``GET /{media-id}`` for its URL, then the URL, both with the bearer token), and the core keeps
it in the media store under a name of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.whatsapp.adapter import parse_webhook
from bot.channels.whatsapp.rendering import render
from handlers.messages import Button, Outbound
from storage.media import STORED_NAME, MediaSettings
from testkit.fakes.whatsapp import FakeGraphServer
from testkit.media import (
    PDF,
    VOICE_NOTE,
    picture,
    size_of,
    stored_answers,
    write_household_media_form,
)
from testkit.whatsapp_harness import whatsapp_bot


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer() as fake:
        yield fake


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    return write_household_media_form(tmp_path)


def texts(messages: list) -> str:  # type: ignore[type-arg]
    return "\n".join(message.text for message in messages)


async def test_picture_voice_note_document_and_location_over_whatsapp(
    graph: FakeGraphServer, database_url: str, forms: Path, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    async with whatsapp_bot(graph, database_url, forms=forms, media=MediaSettings(media, max_bytes=300_000)):
        user = graph.user("254700001111", name="Amina Diallo")
        await user.send_text("/survey household")
        await user.send_text("Amina Diallo")
        assert "📷 Send a photo." in texts(user.replies)

        await user.send_media("image", picture(2400, 2400, "BMP"), "image/bmp")
        assert "too big: the limit is 0.286102 MB" in texts(user.replies)
        await user.send_media("document", PDF, "application/pdf", filename="Amina house.pdf")
        assert "(application/pdf) is not accepted" in texts(user.replies)
        assert "Photo of the house" in user.replies[-1].text

        await user.send_media("image", picture(1000, 800), "image/jpeg")
        assert "🎤" in user.replies[-1].text
        await user.send_media("audio", VOICE_NOTE, "audio/ogg; codecs=opus", voice=True)
        assert "Where is the house" in user.replies[-1].text
        assert user.replies[-1].kind == "location_request"  # WhatsApp's Send location button
        await user.send_location(-1.2921, 36.8219, name="Home")
        assert "certificate" in user.replies[-1].text
        await user.send_media("document", PDF, "application/pdf", filename="certificate Amina Diallo.pdf")
        await user.send_text("-1.2921 36.8219")
        await user.send_location(-1.2930, 36.8240)
        assert "Points so far: 2." in user.replies[-1].text
        await user.send_text("done")
        assert "How many people" in user.replies[-1].text
        await user.send_text("6")

    answers = await stored_answers(database_url)
    kept = sorted(path.name for path in (media / "household").iterdir())
    assert sorted([answers["house"], answers["story"], answers["paper"]]) == kept  # type: ignore[type-var]
    assert all(STORED_NAME.match(name) and "amina" not in name.lower() for name in kept)
    assert answers["story"].endswith(".ogg") and answers["paper"].endswith(".pdf")  # type: ignore[union-attr]
    assert answers["where"] == "-1.2921 36.8219"
    assert answers["path"] == "-1.2921 36.8219;-1.293 36.824"
    assert size_of((media / "household" / str(answers["house"])).read_bytes()) == (640, 512)
    assert (media / "household" / str(answers["story"])).read_bytes() == VOICE_NOTE
    # The too-big picture was never downloaded (its size came with its URL); the others were.
    assert len(graph.downloads) == 4


def test_webhook_media_and_location_messages_become_uploads_and_locations() -> None:
    def webhook(message: dict[str, object]) -> dict[str, object]:
        base = {"from": "254700000001", "id": "wamid.X1", "timestamp": "1760000000"}
        return {"entry": [{"changes": [{"field": "messages", "value": {"messages": [{**base, **message}]}}]}]}

    content = parse_webhook(
        webhook({"type": "document", "document": {"id": "123", "mime_type": "application/pdf", "filename": "a b.pdf"}})
    )
    (inbound,) = content.messages
    assert inbound.upload is not None and inbound.upload.kind == "file" and inbound.upload.filename == "a b.pdf"
    assert inbound.text is None and content.media == {"wamid.X1": "123"}
    voice = parse_webhook(webhook({"type": "audio", "audio": {"id": "9", "mime_type": "audio/ogg", "voice": True}}))
    assert voice.messages[0].upload is not None and voice.messages[0].upload.kind == "audio"
    placed = parse_webhook(webhook({"type": "location", "location": {"latitude": -1.5, "longitude": 36.25}}))
    assert placed.messages[0].location is not None
    assert (placed.messages[0].location.latitude, placed.messages[0].location.longitude) == (-1.5, 36.25)
    broken = parse_webhook(webhook({"type": "location", "location": {"latitude": "north"}}))
    assert broken.messages[0].location is None and broken.messages[0].text == ""
    sticker = parse_webhook(webhook({"type": "sticker", "sticker": {"id": "5", "mime_type": "image/webp"}}))
    assert sticker.messages[0].upload is None and sticker.messages[0].text == ""


def test_a_location_question_is_a_location_request_unless_it_has_buttons() -> None:
    asking = Outbound(text="Where is the house?", location_button="📍 Send my location")
    (part,) = render(asking)
    assert isinstance(part, dict) and part["interactive"]["type"] == "location_request_message"
    assert part["interactive"]["body"]["text"] == "Where is the house?"
    optional = Outbound(text="Where?", buttons=((Button("Skip", "q:1:k"),),), location_button="📍 Send my location")
    (with_skip,) = render(optional)
    assert isinstance(with_skip, dict) and with_skip["interactive"]["type"] == "button"
