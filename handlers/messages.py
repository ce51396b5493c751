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

from surveys.markup import Rich

Delivered = TypeVar("Delivered")


@dataclass(frozen=True)
class Inbound:
    """One message or button press from a user, as any channel delivers it.

    ``update_key`` identifies the delivery on its channel (Telegram ``update_id``, the web chat's
    client message id); the engine processes each ``(channel, update_key)`` once.
    At most one of ``text``, ``payload``, ``location`` and ``upload`` is set: ``payload`` is the token of
    a pressed button, ``location`` a shared position, ``upload`` a file the adapter already fetched.
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
    location: Location | None = None
    upload: Upload | None = None


@dataclass(frozen=True)
class Location:
    """A position the person shared (decimal degrees; altitude and accuracy in metres when known)."""

    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None


#: The kinds of :class:`Upload` (a voice note is ``"audio"``).
UPLOAD_KINDS = ("image", "audio", "video", "file")


@dataclass(frozen=True)
class KeptFile:
    """Where the core kept an :class:`Upload` before the transaction that answers with it: ``name``
    among the media files of ``survey_id``, for its ``question`` (set by the core, never by a channel)."""

    survey_id: str
    question: str
    name: str


@dataclass(frozen=True)
class Upload:
    """A file the person sent, already fetched from the platform by the channel adapter.

    ``kind`` is one of :data:`UPLOAD_KINDS`. ``filename`` is the name as sent; it is never used to
    name the stored file (it may carry personal data). ``size`` is the size the platform announced,
    set (with empty ``content``) when the adapter did not fetch a file over the size limit, so
    that the core can say the file is too big.
    """

    kind: str
    content: bytes
    mime_type: str
    filename: str | None = None
    size: int | None = None
    kept: KeptFile | None = None


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
    ``expects`` names the answer a question wants when it is neither text nor a button: a media
    or location question type (``"image"``, ``"audio"``, ``"video"``, ``"file"``, ``"geopoint"``,
    ``"geotrace"``, ``"geoshape"``), so that a channel can offer its own control (the web chat's
    file picker and "Share my location").

    ``rich`` is the same message with its formatting (bold, italic, links from a survey's
    labels: :mod:`surveys.markup`), set only when it has some; ``text`` is then its clean text,
    which channels without formatting show.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    replaces_pressed: bool = False
    expects: str | None = None
    #: The label of a button that shares the person's position (a geopoint question), for the
    #: channels that have one (Telegram's ``request_location``); the others ignore it.
    location_button: str | None = None
    rich: Rich = ()
    #: The conversation's language when the reply was made (set by the engine), so that a channel
    #: with its own interface texts (the web chat's box, Send button, ``<html lang>``) can follow it.
    language: str | None = None

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
