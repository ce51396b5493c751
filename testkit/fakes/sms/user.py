"""A simulated feature phone, and the SMS the bot sent it as the person reads them.

The interface follows :class:`testkit.fakes.telegram.FakeUser` where it can (``send_text``,
``press``, ``wait_for_message``, ``bot_messages``, messages with ``text``, ``buttons`` and
``message_id``), so the survey respondents of ``testkit/fakes/survey_respondent.py`` answer by
SMS too: a person reads ``3. label`` lines as choices and ``[Skip]`` as a word to reply, and
"pressing" one is replying its number (or word).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from testkit.fakes.inbox import wait_in_inbox
from testkit.fakes.telegram.model import Signal

_NUMBERED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)
_WORD = re.compile(r"\[([^\]\n]+)\]")


@dataclass
class SmsText:
    """One SMS the bot sent (a concatenated one as the phone shows it)."""

    message_id: str
    text: str

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """One row per choice a person can reply: (the label read, what to reply)."""
        rows = [[(label, number)] for number, label in _NUMBERED.findall(self.text)]
        return rows + [[(word, word)] for word in _WORD.findall(self.text)]

    @property
    def button_texts(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]


class IncomingSender(Protocol):
    """The fake gateway as a person's messages reach the bot."""

    signal: Signal

    async def deliver_incoming(self, phone: str, text: str) -> tuple[str, int]: ...


class FakeSmsUser:
    """A person texting the office's number; each action returns once the bot answered it (the
    gateway's webhook is answered after the replies are sent)."""

    def __init__(self, gateway: IncomingSender, phone: str) -> None:
        self.gateway = gateway
        self.phone = phone
        self.messages: list[SmsText] = []
        #: The HTTP status the bot answered each of the person's messages with.
        self.statuses: list[int] = []
        self._read = 0

    @property
    def bot_messages(self) -> list[SmsText]:
        return self.messages

    @property
    def last_message(self) -> SmsText | None:
        return self.messages[-1] if self.messages else None

    @property
    def replies(self) -> list[SmsText]:
        """The bot's messages since the person's last action."""
        return self.messages[self._read :]

    def receive(self, message: SmsText) -> None:
        self.messages.append(message)

    async def send_text(self, text: str) -> str:
        """Text the office; returns the gateway's message id once the bot has answered."""
        self._read = len(self.messages)
        message_id, status = await self.gateway.deliver_incoming(self.phone, text)
        self.statuses.append(status)
        return message_id

    async def send_text_and_wait(self, text: str) -> list[SmsText]:
        await self.send_text(text)
        return self.replies

    async def press(self, reply: str, message_id: str | None = None) -> str:
        """ "Press" a choice: reply with its number (or word), as the message says."""
        return await self.send_text(reply)

    async def wait_for_message(
        self,
        predicate: Callable[[SmsText], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 (the same interface as the Telegram fake)
    ) -> SmsText:
        """The first message since the last action (or the last one returned) matching ``predicate``."""
        index = await wait_in_inbox(self.messages, self._read, self.gateway.signal, predicate, timeout, self.phone)
        self._read = index + 1
        return self.messages[index]
