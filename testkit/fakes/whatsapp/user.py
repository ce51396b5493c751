"""A simulated WhatsApp user, and the messages the bot sent them as they see them.

The interface follows :class:`testkit.fakes.telegram.FakeUser` where it can (``send_text``,
``press``, ``wait_for_message``, ``bot_messages``, messages with ``text``, ``buttons`` and
``message_id``), so the survey respondents of ``testkit/fakes/survey_respondent.py`` answer over
WhatsApp too. A person reads numbered choices in the text: a button or list row titled ``3``
shows as the label of the ``3. label`` line.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testkit.fakes.inbox import wait_in_inbox

from .graph_side import UploadedMedia, WebhookSender

_NUMBERED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)
_message_numbers = itertools.count(1)


@dataclass
class WaMessage:
    """A message the bot sent: text, button, list, image, document or template."""

    message_id: str
    kind: str
    text: str  # the text, body, caption, or the template's name
    raw: dict[str, Any] = field(default_factory=dict)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (title, id) of buttons or rows
    descriptions: list[str | None] = field(default_factory=list)
    media: UploadedMedia | None = None
    template_parameters: list[Any] = field(default_factory=list)

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """One row per button or list row: (the label a person reads, its id)."""
        numbered = dict(_NUMBERED.findall(self.text))
        return [[(numbered.get(title, title), choice_id)] for title, choice_id in self.choices]

    @property
    def button_texts(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    @property
    def titles(self) -> list[str]:
        return [title for title, _ in self.choices]


class FakeWhatsAppUser:
    """A person chatting with the business number. Actions are webhook calls signed like Meta's;
    each returns once the bot answered it (the webhook answers after the replies are sent)."""

    def __init__(self, server: WebhookSender, phone: str, name: str) -> None:
        self.server = server
        self.phone = phone
        self.name = name
        self.messages: list[WaMessage] = []
        #: When the person last wrote (None: never); WhatsApp's 24-hour window starts there.
        self.last_inbound_at: float | None = None
        self.sent_payloads: dict[str, dict[str, Any]] = {}
        self._read = 0

    # ------------------------------------------------------------------ what the person sees

    @property
    def bot_messages(self) -> list[WaMessage]:
        return self.messages

    @property
    def last_message(self) -> WaMessage | None:
        return self.messages[-1] if self.messages else None

    def find(self, message_id: str) -> WaMessage | None:
        return next((m for m in self.messages if m.message_id == message_id), None)

    def in_window(self) -> bool:
        return self.last_inbound_at is not None and time.time() - self.last_inbound_at < 24 * 3600

    def receive(self, message: WaMessage) -> None:
        self.messages.append(message)

    # ------------------------------------------------------------------ actions

    def _message(self, kind: str, content: dict[str, Any], context: str | None = None) -> dict[str, Any]:
        wamid = f"wamid.IN{self.phone}{next(_message_numbers):08d}"
        message: dict[str, Any] = {"from": self.phone, "id": wamid, "timestamp": str(int(time.time())), "type": kind}
        message.update(content)
        if context is not None:
            message["context"] = {"from": "15550000000", "id": context}
        return self.server.envelope(
            {"contacts": [{"profile": {"name": self.name}, "wa_id": self.phone}], "messages": [message]}
        )

    async def _act(self, payload: dict[str, Any]) -> str:
        wamid = str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])
        self.sent_payloads[wamid] = payload
        self._read = len(self.messages)
        self.last_inbound_at = time.time()
        await self.server.deliver(payload)
        return wamid

    async def send_text(self, text: str) -> str:
        """Type a message; returns its wamid once the bot has answered it."""
        return await self._act(self._message("text", {"text": {"body": text}}))

    async def send_other(self, kind: str, content: dict[str, Any]) -> str:
        """Send a picture, sticker, location... (``content`` is the message's ``kind`` object)."""
        return await self._act(self._message(kind, {kind: content}))

    async def send_media(
        self, kind: str, content: bytes, mime_type: str, *, filename: str | None = None, voice: bool = False
    ) -> str:
        """Send a picture, voice note (``kind`` "audio", ``voice``), video or document as the Cloud
        API's webhook shows it: the media id, MIME type and sha256, the file fetched by the bot."""
        media_id = self.server.keep_sent_media(content, mime_type, filename)
        media: dict[str, Any] = {"id": media_id, "mime_type": mime_type, "sha256": hashlib.sha256(content).hexdigest()}
        if filename is not None and kind == "document":
            media["filename"] = filename
        if kind == "audio":
            media["voice"] = voice
        return await self.send_other(kind, media)

    async def send_location(self, latitude: float, longitude: float, *, name: str | None = None) -> str:
        """Share a location (a place's name and address may come with it)."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name is not None:
            location["name"] = name
        return await self.send_other("location", location)

    async def press(self, choice_id: str, message_id: str | None = None) -> str:
        """Press the button or pick the list row with id ``choice_id`` (of ``message_id``)."""
        message = self.find(message_id) if message_id is not None else None
        if message is None:
            message = next((m for m in reversed(self.messages) if any(c == choice_id for _, c in m.choices)), None)
        title = next((t for t, c in message.choices if c == choice_id), choice_id) if message else choice_id
        if message is not None and message.kind == "list":
            reply = {"type": "list_reply", "list_reply": {"id": choice_id, "title": title}}
        else:
            reply = {"type": "button_reply", "button_reply": {"id": choice_id, "title": title}}
        context = message.message_id if message is not None else None
        return await self._act(self._message("interactive", {"interactive": reply}, context))

    async def press_label(self, label: str) -> list[WaMessage]:
        """Press the newest button (or list row) a person reads as ``label`` (ticks and icons
        aside); returns the replies."""
        for message in reversed(self.messages):
            for row in message.buttons:
                for shown, choice_id in row:
                    if shown == label or shown.endswith(f" {label}") or shown.startswith(f"{label} "):
                        await self.press(choice_id, message.message_id)
                        return self.messages[self._read :]
        raise LookupError(
            f"no button {label!r}; last buttons: {self.messages[-1].button_texts if self.messages else []}"
        )

    @property
    def replies(self) -> list[WaMessage]:
        """The bot's messages since the person's last action."""
        return self.messages[self._read :]

    async def send_text_and_wait(self, text: str) -> list[WaMessage]:
        """Type a message; returns the bot's replies to it."""
        await self.send_text(text)
        return self.messages[self._read :]

    async def redeliver(self, wamid: str) -> int:
        """Meta delivers the webhook of an earlier message again; returns the HTTP status."""
        self._read = len(self.messages)
        return await self.server.deliver(self.sent_payloads[wamid])

    async def wait_for_message(
        self,
        predicate: Callable[[WaMessage], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 (the same interface as the Telegram fake)
    ) -> WaMessage:
        """The first message since the last action (or the last one returned) matching ``predicate``."""
        index = await wait_in_inbox(self.messages, self._read, self.server.signal, predicate, timeout, self.phone)
        self._read = index + 1
        return self.messages[index]
