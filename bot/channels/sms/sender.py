"""Broadcasts and outbox messages by SMS: :class:`SmsSender`, the durable sender's sender for SMS.

A notice goes out as :mod:`bot.channels.sms.rendering` lays it out (its chart or file left out),
through the channel's gateway and at its rate (:class:`~bot.channels.sms.adapter.SmsPacer`), so
replies and broadcasts together stay within what the gateway allows. A notice's buttons (*Take
the survey*) become the chat's menu: replying "1" presses it.
"""

from __future__ import annotations

from bot.channels.sms.adapter import PartlySent, SmsChannel
from bot.channels.sms.gateways import CHANNEL, GatewayError, GatewayUnreachable
from bot.channels.sms.rendering import render
from bot.sending.channel_sender import MaybeSent, NotSent, RecipientBlocked, Rejected
from handlers.messages import Outbound


class SmsSender:
    """Sends one message by SMS for the durable sender (:mod:`bot.sending.sender`)."""

    channel = CHANNEL

    def __init__(self, sms: SmsChannel) -> None:
        self.sms = sms

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        rendered = render(message, self.sms.settings.max_segments)
        if rendered is None:
            raise Rejected("nothing of this message can go by SMS (a file alone)")
        try:
            if rendered.menu:
                await self.sms.remember(chat_key, rendered.menu)
            return await self.sms.send_rendered(chat_key, rendered)
        except GatewayError as error:
            if error.blocked:
                raise RecipientBlocked(str(error)) from error
            if error.retriable:
                raise NotSent(str(error), retry_after=self.sms.settings.retry_delay * 4) from error
            raise Rejected(str(error)) from error
        except GatewayUnreachable as error:
            if error.maybe_sent:
                raise MaybeSent(str(error)) from error
            raise NotSent(str(error)) from error
        except PartlySent as error:
            raise MaybeSent(f"partly sent: {error}") from error
