"""A Telegram update, read from the Bot API's JSON into what the channel and the core need.

python-telegram-bot turns every update into a tree of frozen :class:`telegram.TelegramObject`
values (``Update.de_json``): under load that was a sixth of the bot's main thread (py-spy in
``bench.load --survey numeric``), for the half-dozen fields the core reads. The channel reads
those fields from the JSON itself, for long polling and the webhook alike, with the field names
of the Bot API's documented ``Update``, ``Message`` and ``CallbackQuery`` objects
(https://core.telegram.org/bots/api#update). Anything not shaped like an update from a person in a
chat (a channel post, a bot, a malformed body) reads as ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from common.errors import BarazaError
from handlers.messages import Inbound, Location

CHANNEL = "telegram"


@dataclass(frozen=True)
class SentFile:
    """A file in a message, before it is fetched: the Bot API file id, what it is, its announced size."""

    file_id: str
    kind: str
    mime_type: str
    filename: str | None
    size: int | None


@dataclass(frozen=True)
class TelegramUpdate:
    """One update from a person: the core's :class:`Inbound`, the chat to answer in, the file to
    fetch first (if any), and for a button press the callback query to answer and the message
    whose button was pressed (``None`` when Telegram no longer shows it: it cannot be edited)."""

    inbound: Inbound
    chat_id: int
    sent: SentFile | None = None
    query_id: str | None = None
    pressed_message_id: int | None = None


class NotAnUpdate(BarazaError, ValueError):
    """The JSON is not an update object (the webhook answers 400)."""


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return value if isinstance(value, Mapping) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


#: The file fields of a message: (field, kind, MIME type when none is given, whether the Bot API
#: object carries ``file_name`` and ``mime_type``). Voice notes have no name, video notes neither.
_FILES = (
    ("voice", "audio", "audio/ogg", False, True),
    ("audio", "audio", "audio/mpeg", True, True),
    ("video", "video", "video/mp4", True, True),
    ("video_note", "video", "video/mp4", False, False),
    ("document", "file", "application/octet-stream", True, True),
)


def sent_file(message: Mapping[str, Any]) -> SentFile | None:
    """The photo (its largest size), voice note, audio, video, video note or document of ``message``."""
    photo = message.get("photo")
    if isinstance(photo, list) and photo:
        sizes = [size for size in photo if isinstance(size, Mapping) and _text(size.get("file_id"))]
        if sizes:
            largest = max(
                sizes, key=lambda size: (_integer(size.get("width")) or 0) * (_integer(size.get("height")) or 0)
            )
            return SentFile(largest["file_id"], "image", "image/jpeg", None, _integer(largest.get("file_size")))
    for key, kind, default_mime, named, typed in _FILES:
        part = _object(message, key)
        file_id = _text(part.get("file_id")) if part is not None else None
        if part is not None and file_id is not None:
            mime_type = (_text(part.get("mime_type")) if typed else None) or default_mime
            filename = _text(part.get("file_name")) if named else None
            return SentFile(file_id, kind, mime_type, filename, _integer(part.get("file_size")))
    return None


def location_of(location: Mapping[str, Any]) -> Location | None:
    """A shared location (Telegram gives no altitude; ``horizontal_accuracy`` is the accuracy)."""
    latitude, longitude = _number(location.get("latitude")), _number(location.get("longitude"))
    if latitude is None or longitude is None:
        return None
    return Location(latitude, longitude, accuracy=_number(location.get("horizontal_accuracy")))


def read_update(data: object) -> TelegramUpdate | None:
    """The update ``data`` (a decoded Bot API ``Update``) as the channel handles it; ``None`` for
    updates that are not from a person in a chat. Raises :class:`NotAnUpdate` for JSON that is no
    update at all (not an object, no integer ``update_id``)."""
    if not isinstance(data, Mapping):
        raise NotAnUpdate("not an object")
    update_id = _integer(data.get("update_id"))
    if update_id is None:
        raise NotAnUpdate("no update_id")
    query = _object(data, "callback_query")
    message = _object(data, "message")
    if query is not None:
        user = _object(query, "from")
        shown = _object(query, "message")
        chat = _object(shown, "chat") if shown is not None else None
    elif message is not None:
        user = _object(message, "from")
        chat = _object(message, "chat")
    else:
        return None
    if user is None or chat is None or user.get("is_bot") is True:
        return None
    user_id, chat_id = _integer(user.get("id")), _integer(chat.get("id"))
    if user_id is None or chat_id is None:
        return None
    language = _text(user.get("language_code"))
    person = Inbound(CHANNEL, str(user_id), str(chat_id), str(update_id), language_hint=language)
    if query is not None:
        assert shown is not None
        # An inaccessible message (too old to be shown) comes with date 0: its buttons cannot be edited.
        pressed = _integer(shown.get("message_id")) if _integer(shown.get("date")) else None
        return TelegramUpdate(
            replace(person, payload=_text(query.get("data")) or ""),
            chat_id,
            query_id=_text(query.get("id")),
            pressed_message_id=pressed,
        )
    assert message is not None
    date = _integer(message.get("date"))
    received = datetime.fromtimestamp(date, UTC) if date else None
    shared = _object(message, "location")
    location = location_of(shared) if shared is not None else None
    sent = sent_file(message)
    # Stickers and the like: an empty text gets "please type an answer". Files are fetched by the
    # channel before the core sees them.
    text = None if shared is not None or sent is not None else _text(message.get("text")) or ""
    inbound = replace(person, text=text, received_at=received, location=location)
    return TelegramUpdate(inbound, chat_id, sent=sent)
