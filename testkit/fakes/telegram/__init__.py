"""Fake Telegram Bot API for tests: a server speaking the real HTTP protocol, and simulated users.

Usage::

    async with FakeTelegramServer() as server:
        app = Application.builder().token("123:ABC").base_url(server.base_url).build()
        ...  # start the app and its polling
        alice = server.user(1001, first_name="Alice")
        replies = await alice.send_text_and_wait("/start")
        await alice.press_and_wait("Yes")

``server.py``: HTTP and Bot API methods; ``chats.py``: messages per chat; ``updates.py``: the
update queue, long polling and webhook delivery; ``user.py``: simulated users; ``protocol.py``:
request decoding and Telegram-like validation; ``model.py``: recorded data objects.
"""

from .chaos import RandomFaults
from .model import (
    Button,
    CallbackAnswer,
    ChatMessage,
    JSONDict,
    RecordedCall,
    UploadedFile,
    WebhookDelivery,
)
from .protocol import ApiError
from .server import FakeTelegramServer
from .user import FakeUser

__all__ = [
    "ApiError",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "FakeTelegramServer",
    "FakeUser",
    "JSONDict",
    "RandomFaults",
    "RecordedCall",
    "UploadedFile",
    "WebhookDelivery",
]
