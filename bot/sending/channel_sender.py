"""What a channel implements to send for the durable sender (:mod:`bot.sending.sender`).

A :class:`Sender` per channel sends one message (Telegram's is
:class:`bot.channels.telegram.adapter.TelegramSender`, WhatsApp's
:class:`bot.channels.whatsapp.adapter.WhatsAppSender`); when it does not succeed it raises the
:class:`SendError` that says what is known about the message, and the durable sender records
``failed``, ``unknown`` or tries again accordingly.
"""

from __future__ import annotations

from typing import Protocol

from common.errors import BarazaError
from handlers.messages import Outbound


class SendError(BarazaError):
    """A send did not succeed; the subclass says what is known about the message."""


class RecipientBlocked(SendError):
    """The person blocked the bot (or deleted their account): never send to them again."""


class Rejected(SendError):
    """The platform refused this message for good (chat not found, bad request...)."""


class NotSent(SendError):
    """The message certainly did not leave (no connection, a server error): safe to try again."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class MaybeSent(SendError):
    """The request left but no answer came back: the person may or may not have the message."""


class Sender(Protocol):
    """Sends one message on one channel; implemented per channel."""

    @property
    def channel(self) -> str: ...

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        """Send ``message`` to the chat; returns the platform's message id.

        ``cache_key`` is the same for every message of a broadcast (a sender may reuse an
        uploaded file). Raises a :class:`SendError` subclass when it does not succeed.
        """
        ...
