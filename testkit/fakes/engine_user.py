"""A simulated user talking to the core directly (no channel): for conversation tests and the
engine-only benchmark."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from handlers.messages import Inbound, Location, MessageProcessor, Outbound, Upload

_update_ids = itertools.count(1)


@dataclass
class EngineUser:
    """One person on one channel. Keeps the conversation as they saw it."""

    processor: MessageProcessor
    user_key: str
    channel: str = "test"
    language: str | None = "en"
    seen: list[Outbound] = field(default_factory=list)

    async def _send(
        self,
        *,
        text: str | None = None,
        payload: str | None = None,
        update_key: str | None = None,
        location: Location | None = None,
        upload: Upload | None = None,
    ) -> list[Outbound]:
        key = update_key or str(next(_update_ids))
        inbound = Inbound(
            channel=self.channel,
            user_key=self.user_key,
            chat_key=self.user_key,
            update_key=key,
            text=text,
            payload=payload,
            language_hint=self.language,
            location=location,
            upload=upload,
        )
        self.last_update_key = key
        replies = await self.processor.handle(inbound)
        self.seen.extend(replies)
        return replies

    async def say(self, text: str, *, update_key: str | None = None) -> list[Outbound]:
        return await self._send(text=text, update_key=update_key)

    async def send_file(self, upload: Upload, *, update_key: str | None = None) -> list[Outbound]:
        """Send a file (a photo, a voice note, a document), as a channel adapter hands it over."""
        return await self._send(upload=upload, update_key=update_key)

    async def share_location(self, location: Location, *, update_key: str | None = None) -> list[Outbound]:
        return await self._send(location=location, update_key=update_key)

    async def press_payload(self, payload: str, *, update_key: str | None = None) -> list[Outbound]:
        return await self._send(payload=payload, update_key=update_key)

    def last_with_buttons(self) -> Outbound:
        return next(message for message in reversed(self.seen) if message.buttons)

    async def press(self, label: str) -> list[Outbound]:
        """Press the button whose label contains ``label`` on the newest message with buttons."""
        message = self.last_with_buttons()
        button = next((b for b in message.flat_buttons if label in b.label), None)
        if button is None:
            raise AssertionError(f"no button {label!r} among {[b.label for b in message.flat_buttons]}")
        return await self.press_payload(button.payload)

    @property
    def last_text(self) -> str:
        return self.seen[-1].text if self.seen else ""
