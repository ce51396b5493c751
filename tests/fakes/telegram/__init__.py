"""Fake Telegram Bot API for tests (see :mod:`tests.fakes.telegram_api` for the entry point)."""

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
    "RecordedCall",
    "UploadedFile",
    "WebhookDelivery",
]
