"""Plain data objects recorded and exposed by the fake Telegram Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

#: One inline keyboard button as the user sees it: ``(text, callback_data)``.
#: ``callback_data`` is ``None`` for URL / web-app / other non-callback buttons.
Button = tuple[str, str | None]


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` request (e.g. the ``photo`` of sendPhoto)."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedCall:
    """One HTTP call the bot made to the fake Bot API.

    ``params`` are decoded to Python values (``chat_id`` is an ``int``, ``reply_markup`` a
    ``dict``, ...), ``files`` holds uploaded multipart parts by field name, ``time`` is
    ``time.monotonic()`` at arrival, ``content_type`` the request's. ``status`` is the HTTP
    status that was answered (``0`` when the connection was dropped on purpose) and
    ``response`` the JSON body sent back (``None`` when dropped).
    """

    method: str
    params: JSONDict
    files: dict[str, UploadedFile]
    token: str
    time: float
    content_type: str
    status: int = 0
    response: JSONDict | None = None
    #: The fault injected into this call (``"429"``, ``"timeout"``, ``"drop"``...), ``None`` if none.
    fault: str | None = None
    #: ``time.monotonic()`` when the call took effect (or failed); ``None`` while still held.
    finished: float | None = None

    @property
    def ok(self) -> bool:
        """True if the call was answered with ``{"ok": true, ...}``."""
        return self.response is not None and bool(self.response.get("ok"))


@dataclass
class ChatMessage:
    """A message in a private chat, as the user currently sees it.

    Bot edits update the object in place (``edited`` / ``edit_count``). ``text`` is the visible
    text (or caption); for ``parse_mode="HTML"`` tags are stripped and entities unescaped,
    ``raw_text`` keeps what the bot sent. ``media_type`` is ``"photo"`` / ``"document"`` for
    media messages; ``photo`` / ``document`` hold the uploaded bytes (``None`` if sent by URL).
    """

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    buttons: list[list[Button]] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    media_type: str | None = None
    photo: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    file_id: str | None = None
    edited: bool = False
    edit_count: int = 0
    edit_date: int | None = None
    api: JSONDict = field(default_factory=dict, repr=False)

    @property
    def button_texts(self) -> list[str]:
        """All inline button labels, row by row, flattened."""
        return [text for row in self.buttons for text, _ in row]

    def find_button(self, text_or_data: str) -> Button | None:
        """The button whose label or callback_data equals ``text_or_data`` (label wins)."""
        flat = [button for row in self.buttons for button in row]
        for button in flat:
            if button[0] == text_or_data:
                return button
        for button in flat:
            if button[1] == text_or_data:
                return button
        return None


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the registered webhook URL."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    time: float

    @property
    def ok(self) -> bool:
        """True if the webhook answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300


class Signal:
    """Broadcast "something changed" notification, usable from sync code.

    ``notify()`` wakes every coroutine currently inside ``wait_for``; waiters re-check their
    predicate, so no state is ever missed and nobody busy-loops.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], within: float | None) -> bool:
        """Wait until ``predicate()`` is true; return False if ``within`` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while not predicate():
            event = self._event
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True
