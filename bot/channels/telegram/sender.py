"""Broadcasts and outbox messages through Telegram: :class:`TelegramSender`.

It sends one message per recipient for the durable sender (:mod:`bot.sending.sender`),
through the same bot as the replies, and tells the dispatcher what Telegram's errors mean for the
message (blocked, refused, certainly not sent, or perhaps sent).
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.channels.telegram.rate_limiter import BROADCAST, retry_seconds
from bot.channels.telegram.rendering import MAX_TEXT, caption, keyboard, send_file
from bot.channels.telegram.transport import certainly_not_sent, send_text
from bot.channels.telegram.updates import CHANNEL
from bot.sending.channel_sender import MaybeSent, NotSent, RecipientBlocked, Rejected
from handlers.messages import Outbound

#: Above Telegram's free rate of about 30 messages a second, broadcasts are paid broadcasts.
FREE_BROADCAST_RATE = 30.0


class TelegramSender:
    """The dispatcher's :class:`~bot.sending.channel_sender.Sender` for Telegram: one message per recipient.

    Notices are plain text (no parse mode), so no text can break Telegram's formatting. A picture
    or document is uploaded once per broadcast and then sent by its Telegram file id.
    """

    channel = CHANNEL

    def __init__(self, bot: Bot, *, paid_broadcast: bool = False, read_timeout: float = 20.0) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast
        self.read_timeout = read_timeout
        self._file_ids: dict[tuple[str, str], str] = {}
        self._uploads: dict[tuple[str, str], asyncio.Lock] = {}

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        try:
            sent = await self._send(int(chat_key), message, cache_key)
        except Forbidden as error:  # "bot was blocked by the user", "user is deactivated"
            raise RecipientBlocked(str(error)) from error
        except RetryAfter as error:  # still rate limited after the rate limiter's retries
            raise NotSent(str(error), retry_seconds(error)) from error
        except BadRequest as error:  # "chat not found"... (PTB makes it a NetworkError: catch it first)
            raise Rejected(str(error)) from error
        except NetworkError as error:  # TimedOut included
            if certainly_not_sent(error):
                # No connection, or Telegram answered with a server error (5xx): nothing was sent.
                raise NotSent(str(error)) from error
            raise MaybeSent(str(error)) from error
        except TelegramError as error:  # ChatMigrated, InvalidToken...
            raise Rejected(str(error)) from error
        return str(sent["message_id"] if isinstance(sent, dict) else sent.message_id)

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"read_timeout": self.read_timeout}
        if self.paid_broadcast:
            extra["allow_paid_broadcast"] = True
        if isinstance(self.bot, ExtBot):
            extra["rate_limit_args"] = BROADCAST
        return extra

    async def _send(self, chat_id: int, message: Outbound, cache_key: str) -> Message | dict[str, Any]:
        markup = keyboard(message)
        attachment = message.attachment
        if attachment is None:
            # Telegram's answer stays JSON: building a telegram.Message of each costs CPU at 1,000/s.
            result: dict[str, Any] = await send_text(
                self.bot,
                chat_id,
                message.text[:MAX_TEXT],
                reply_markup=markup,
                read_timeout=self.read_timeout,
                api_kwargs={"allow_paid_broadcast": True} if self.paid_broadcast else None,
                rate_limit_args=BROADCAST if isinstance(self.bot, ExtBot) else None,
            )
            return result
        key = (cache_key, attachment.filename)
        file_id = self._file_ids.get(key)
        if file_id is None:
            async with self._uploads.setdefault(key, asyncio.Lock()):
                file_id = self._file_ids.get(key)
                if file_id is None:
                    sent = await self._send_file(chat_id, message, attachment.content, attachment.filename, markup)
                    found = sent.photo[-1].file_id if sent.photo else sent.document.file_id if sent.document else None
                    if found is not None:
                        self._file_ids[key] = found
                    return sent
        return await self._send_file(chat_id, message, file_id, None, markup)

    async def _send_file(
        self,
        chat_id: int,
        message: Outbound,
        content: bytes | str,
        filename: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Message:
        assert message.attachment is not None
        return await send_file(
            self.bot,
            chat_id,
            message.attachment.kind,
            content,
            filename=filename,
            caption=caption(message),
            markup=markup,
            **self._extra(),
        )
