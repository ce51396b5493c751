"""What a simulated WhatsApp user relies on of the fake Graph server: the media it stores and how
it delivers webhook calls. Apart from both so that the user and the server do not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from testkit.fakes.telegram.model import Signal

JSON = dict[str, Any]


@dataclass
class UploadedMedia:
    media_id: str
    filename: str
    mime_type: str
    content: bytes


class WebhookSender(Protocol):
    """The fake Graph server as a user's actions reach the bot: wrapped, signed and delivered."""

    signal: Signal

    def envelope(self, value: JSON) -> JSON:
        """A webhook body holding ``value`` as Meta wraps a change."""
        ...

    async def deliver(self, payload: JSON) -> int:
        """Delivers a webhook call (retried like Meta's); returns the bot's last HTTP status."""
        ...

    def keep_sent_media(self, content: bytes, mime_type: str, filename: str | None) -> str:
        """Keeps a file a user sends for the bot to fetch; returns its media id."""
        ...
