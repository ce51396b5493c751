"""Channel-agnostic message values: what the core receives and what it answers.

Channel adapters (``bot/channels/telegram/adapter.py``, ``bot/channels/webchat/adapter.py``) translate their platform's
updates into :class:`Inbound` and render :class:`Outbound` within their platform's limits.
Nothing here knows about a particular messaging app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

Delivered = TypeVar("Delivered")


@dataclass(frozen=True)
class Inbound:
    """One message or button press from a user, as any channel delivers it.

    ``update_key`` identifies the delivery on its channel (Telegram ``update_id``, the web chat's
    client message id); the engine processes each ``(channel, update_key)`` once.
    Exactly one of ``text`` and ``payload`` is set: ``payload`` is the token of a pressed button.
    ``newer_waiting`` says a later update of the same chat has already arrived and waits its turn:
    a redelivered copy then needs no reply, as the later update's reply shows where the user is.
    """

    channel: str
    user_key: str
    chat_key: str
    update_key: str
    text: str | None = None
    payload: str | None = None
    language_hint: str | None = None
    received_at: datetime | None = None
    newer_waiting: bool = False


@dataclass(frozen=True)
class Button:
    """A choice the user can press; ``payload`` comes back as :attr:`Inbound.payload`.

    With ``url`` the button opens that address instead (release notices: "Open release"); the
    press never reaches the bot and ``payload`` is unused.
    """

    label: str
    payload: str
    url: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to send: a picture (``kind='image'``) or a document."""

    kind: str
    filename: str
    content: bytes
    mime_type: str
    #: What a picture shows, in words (its alt text), e.g. a chart's series, period and latest value.
    alt: str | None = None


@dataclass(frozen=True)
class Outbound:
    """One message for the user.

    ``buttons`` are laid out in rows. When ``replaces_pressed`` is true and the inbound was a
    button press, the adapter updates the message that carried the pressed button instead of
    sending a new one (ticking a select_multiple choice, closing an answered question).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    replaces_pressed: bool = False

    @property
    def flat_buttons(self) -> tuple[Button, ...]:
        return tuple(button for row in self.buttons for button in row)


#: Payload a channel sends when a user comes back (web chat page reload): the core answers with
#: the question the user is on, or the greeting when no conversation is under way.
RESUME_PAYLOAD = "resume"


async def as_they_are(replies: list[Outbound]) -> list[Outbound]:
    """The delivery that hands the replies back: ``serve(inbound, as_they_are)`` is ``handle``."""
    return replies


class MessageProcessor(Protocol):
    """The core as channel adapters see it: one inbound in, the replies out.

    When ``handle`` returns, everything the inbound changed is committed, so the replies may be
    shown to the user as acknowledged.

    ``serve`` does the same and then hands the replies to ``deliver`` (the adapter sending them)
    while the chat is still held: the updates of one chat are handled and their replies sent one
    at a time, in the order the updates reached ``serve``, so a reply never overtakes an earlier
    one. The place in line is taken before ``serve`` first awaits. It returns what ``deliver``
    returns.
    """

    async def handle(self, inbound: Inbound) -> list[Outbound]: ...

    async def serve(self, inbound: Inbound, deliver: Callable[[list[Outbound]], Awaitable[Delivered]]) -> Delivered: ...
