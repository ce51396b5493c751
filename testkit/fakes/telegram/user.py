"""``FakeUser``: a simulated Telegram user chatting privately with the bot under test."""

from __future__ import annotations

import bisect
import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .model import CallbackAnswer, ChatMessage, JSONDict, RecordedCall, Signal
from .protocol import command_entities

#: Chat events that are the bot's reply to an action. The answer to a callback query is not one:
#: the bot answers a press at once (it only stops the button's spinner) and then does the work
#: whose edit or message is the reply, which can come long after under load.
_REPLY_KINDS = frozenset({"sent", "edited", "deleted"})
#: Chat events that show the bot is still busy (replies, answered presses, chat actions such as "typing").
_ACTIVITY_KINDS = _REPLY_KINDS | {"callback_answer", "action"}


#: message_ids of raw messages, far above the ids the fake server gives.
_raw_message_ids = itertools.count(1_000_000_000)


@dataclass(frozen=True)
class _ChatEvent:
    seq: int
    kind: str
    message_id: int | None
    time: float


def _seq_of(event: _ChatEvent) -> int:
    return event.seq


class ServerForUsers(Protocol):
    """The fake server as a user acts through it (``FakeTelegramServer`` implements it; a protocol so
    that this module does not import the server): queueing updates, ids, delivery state."""

    calls: list[RecordedCall]
    _signal: Signal

    def is_delivered(self, update_id: int) -> bool:
        """True once the bot received ``update_id``."""
        ...

    def _delivered_time(self, update_id: int) -> float | None: ...

    def _next_seq(self) -> int: ...

    async def _enqueue(self, body: JSONDict) -> int: ...

    def _new_id(self) -> str: ...

    def _register_callback(self, query_id: str, user_id: int) -> None: ...

    def _upload(self, data: bytes, kind: str, mime_type: str | None, filename: str | None) -> JSONDict:
        """Keep a file the user sends; its ``file_id``, ``file_unique_id`` and ``file_size``."""
        ...


class FakeUser:
    """A Telegram user; their private chat with the bot has ``chat_id == id``.

    Obtain one with :meth:`FakeTelegramServer.user`. Actions (:meth:`send_text`,
    :meth:`press`, ...) queue updates for the bot; the waiting helpers then observe what the bot
    did in this chat *after the latest action*.
    """

    def __init__(
        self,
        server: ServerForUsers,
        user_id: int,
        *,
        first_name: str,
        language_code: str,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        self._server = server
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        #: When True every bot call to this chat fails with 403 "bot was blocked by the user".
        self.blocked = False
        #: Every answerCallbackQuery the bot made for this user's presses, in order.
        self.callback_answers: list[CallbackAnswer] = []
        #: The reply keyboard (rows of labels) the bot last attached, ``None`` if removed/never.
        self.reply_keyboard: list[list[str]] | None = None
        self._messages: list[ChatMessage] = []
        # Looked up on every reply a simulated person waits for: by id, not by scanning the chat
        # (a long load run made the scans most of the load generator's CPU).
        self._by_id: dict[int, ChatMessage] = {}
        self._events: list[_ChatEvent] = []
        self._next_message_id = 1
        self._action_seq = 0
        self._read_seq = 0
        self._last_update_id: int | None = None
        # Woken by this chat's events only: with thousands of users waiting at once, one
        # server-wide signal would wake every waiter on every message (quadratic CPU).
        self._signal = Signal()

    # ------------------------------------------------------------------ Telegram objects

    @property
    def api_user(self) -> JSONDict:
        """This user as a Telegram ``User`` object."""
        user: JSONDict = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        return user

    @property
    def api_chat(self) -> JSONDict:
        """The private chat as a Telegram ``Chat`` object."""
        chat: JSONDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    # ------------------------------------------------------------------ the chat

    @property
    def messages(self) -> list[ChatMessage]:
        """The whole chat as the user sees it (their own messages too, ``from_bot=False``)."""
        return list(self._messages)

    @property
    def bot_messages(self) -> list[ChatMessage]:
        """Only the messages the bot sent (current state, edits applied), oldest first."""
        return [message for message in self._messages if message.from_bot]

    @property
    def last_message(self) -> ChatMessage | None:
        """The newest message *from the bot* (``None`` if it never wrote)."""
        bot_messages = self.bot_messages
        return bot_messages[-1] if bot_messages else None

    def find_message(self, message_id: int) -> ChatMessage | None:
        """The message ``message_id`` of this chat, or ``None`` if missing/deleted."""
        return self._by_id.get(message_id)

    def message(self, message_id: int) -> ChatMessage:
        """The message ``message_id``; ``LookupError`` if it does not exist."""
        message = self.find_message(message_id)
        if message is None:
            raise LookupError(f"chat {self.id} has no message {message_id}")
        return message

    def block(self) -> None:
        """The user blocks the bot: further bot calls to this chat get 403 Forbidden."""
        self.blocked = True

    def unblock(self) -> None:
        """The user unblocks the bot."""
        self.blocked = False

    # ------------------------------------------------------------------ actions

    async def send_text(self, text: str) -> int:
        """Send ``text`` to the bot (``/commands`` get ``bot_command`` entities like in
        Telegram). Returns the update_id of the queued Message update."""
        self.blocked = False
        message = ChatMessage(
            message_id=0,
            chat_id=self.id,
            from_bot=False,
            date=int(time.time()),
            text=text,
            raw_text=text,
        )
        self._append(message)
        api: JSONDict = {
            "message_id": message.message_id,
            "from": self.api_user,
            "chat": self.api_chat,
            "date": message.date,
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            api["entities"] = entities
        message.api = api
        return await self._act({"message": api})

    async def send_raw_message(self, **fields: Any) -> int:
        """Send a message update from this user with arbitrary ``fields`` (a sticker, a photo,
        no text at all, a forward origin...); nothing is validated. Returns the update_id."""
        api: JSONDict = {
            "message_id": next(_raw_message_ids),
            "from": self.api_user,
            "chat": self.api_chat,
            "date": int(time.time()),
            **fields,
        }
        return await self._act({"message": api})

    async def send_photo(self, data: bytes, width: int, height: int, *, caption: str | None = None) -> int:
        """Send a photo as Telegram delivers one: several sizes, the largest last. The smaller
        size is a different (tiny) file, so a bot that fetches the wrong one is caught."""
        thumbnail = self._server._upload(data[:64] or b"x", "photo", "image/jpeg", None)
        full = self._server._upload(data, "photo", "image/jpeg", None)
        small = max(1, width // 10), max(1, height // 10)
        sizes = [
            {**thumbnail, "width": small[0], "height": small[1]},
            {**full, "width": width, "height": height},
        ]
        fields: JSONDict = {"photo": sizes}
        if caption is not None:
            fields["caption"] = caption
        return await self.send_raw_message(**fields)

    async def send_voice(self, data: bytes, *, duration: int = 3, mime_type: str = "audio/ogg") -> int:
        """Send a voice note (Opus in Ogg, as Telegram's apps record them)."""
        voice = self._server._upload(data, "voice", mime_type, None)
        return await self.send_raw_message(voice={**voice, "duration": duration, "mime_type": mime_type})

    async def send_document(self, data: bytes, filename: str, mime_type: str) -> int:
        """Send a file as a document (a PDF, or a picture sent "as a file")."""
        document = self._server._upload(data, "document", mime_type, filename)
        return await self.send_raw_message(document={**document, "file_name": filename, "mime_type": mime_type})

    async def send_video(self, data: bytes, *, duration: int = 5, mime_type: str = "video/mp4") -> int:
        video = self._server._upload(data, "video", mime_type, None)
        fields = {**video, "duration": duration, "width": 640, "height": 360, "mime_type": mime_type}
        return await self.send_raw_message(video=fields)

    async def send_location(
        self, latitude: float, longitude: float, *, horizontal_accuracy: float | None = None
    ) -> int:
        """Share a location (the attachment menu's "Location", or a ``request_location`` button)."""
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self.send_raw_message(location=location)

    async def press(self, button: str, message_id: int | None = None) -> int:
        """Press the inline button labelled ``button`` (or with that callback_data).

        Without ``message_id`` the newest bot message carrying such a button is used. Raises
        ``LookupError`` listing the available buttons if there is no match, or if the button
        has no callback_data (URL buttons never reach the bot). Returns the update_id.
        """
        candidates = [self.message(message_id)] if message_id is not None else self.bot_messages[::-1]
        for candidate in candidates:
            found = candidate.find_button(button)
            if found is None:
                continue
            if found[1] is None:
                raise LookupError(f"button {found[0]!r} has no callback_data; pressing it would not reach the bot")
            return await self._send_callback(found[1], candidate.api)
        available = {m.message_id: m.button_texts for m in candidates if m.buttons}
        where = f"message {message_id}" if message_id is not None else f"chat {self.id}"
        raise LookupError(f"no button {button!r} in {where}; buttons by message: {available}")

    async def press_raw(self, callback_data: str, message_id: int) -> int:
        """Send a callback_query with arbitrary ``callback_data`` for ``message_id`` (stale or
        forged presses; nothing is validated). A missing message is sent as an inaccessible
        message (``date == 0``), as Telegram does. Returns the update_id."""
        message = self.find_message(message_id)
        message_api = (
            message.api if message is not None else {"chat": self.api_chat, "message_id": message_id, "date": 0}
        )
        return await self._send_callback(callback_data, message_api)

    async def send_text_and_wait(
        self,
        text: str,
        *,
        quiet: float = 0.25,
        timeout: float = 10.0,  # noqa: ASYNC109
        require_reply: bool = True,
    ) -> list[ChatMessage]:
        """:meth:`send_text` then :meth:`wait_until_quiet`; returns the bot messages that were
        sent or edited in response."""
        await self.send_text(text)
        return await self.wait_until_quiet(quiet, timeout, require_reply=require_reply)

    async def press_and_wait(
        self,
        button: str,
        message_id: int | None = None,
        *,
        quiet: float = 0.25,
        timeout: float = 10.0,  # noqa: ASYNC109
        require_reply: bool = True,
    ) -> list[ChatMessage]:
        """:meth:`press` then :meth:`wait_until_quiet`; returns the bot messages that were
        sent or edited in response (answering the callback query alone is not a reply: with
        ``require_reply`` the edit or message that follows it is waited for)."""
        await self.press(button, message_id)
        return await self.wait_until_quiet(quiet, timeout, require_reply=require_reply)

    # ------------------------------------------------------------------ waiting

    async def wait_for_message(
        self,
        predicate: Callable[[ChatMessage], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> ChatMessage:
        """Wait until the bot sends or edits a message in this chat after the user's last
        action (and after any message already returned by this method) that satisfies
        ``predicate``; return it (live object). ``TimeoutError`` otherwise."""
        found: list[tuple[int, ChatMessage]] = []

        def check() -> bool:
            for event in self._events_after(self._read_seq):
                if event.kind not in ("sent", "edited"):
                    continue
                message = self.find_message(event.message_id or 0)
                if message is not None and (predicate is None or predicate(message)):
                    found.append((event.seq, message))
                    return True
            return False

        if not await self._signal.wait_for(check, timeout):
            raise TimeoutError(self._diagnose(f"no matching bot message within {timeout}s"))
        self._read_seq, message = found[0]
        return message

    async def wait_until_quiet(
        self,
        quiet: float = 0.25,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        require_reply: bool = True,
    ) -> list[ChatMessage]:
        """Wait until the bot has dealt with the user's latest update, then return the bot
        messages sent or edited since that action (current state, in order of first change).

        Done means: the update was delivered to the bot, (with ``require_reply``) the bot
        replied in this chat (a message sent, edited or deleted: the answer to a press's callback
        query alone is not a reply), and then did nothing in this chat - typing and answering
        callback queries included - for ``quiet`` seconds. Raises
        ``TimeoutError`` if delivery or the reply does not happen within ``timeout``.
        """
        server = self._server
        signal = server._signal
        start = self._action_seq
        deadline = time.monotonic() + timeout
        update_id = self._last_update_id

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        if update_id is not None and not await signal.wait_for(lambda: server.is_delivered(update_id), remaining()):
            raise TimeoutError(self._diagnose(f"the bot never fetched update {update_id}"))
        if require_reply and not await signal.wait_for(
            lambda: any(e.kind in _REPLY_KINDS for e in self._events_after(start)),
            remaining(),
        ):
            raise TimeoutError(self._diagnose(f"the bot did not reply within {timeout}s"))
        delivered = server._delivered_time(update_id) if update_id is not None else None
        settled_since = delivered if delivered is not None else time.monotonic()
        while remaining() > 0:
            activity = [e for e in self._events_after(start) if e.kind in _ACTIVITY_KINDS]
            last_seq = activity[-1].seq if activity else start
            last_time = max(activity[-1].time if activity else 0.0, settled_since)
            wait = quiet - (time.monotonic() - last_time)
            if wait <= 0:
                break
            await signal.wait_for(functools.partial(self._active_after, last_seq), min(wait, remaining()))
        changed: list[int] = []
        for event in self._events_after(start):
            if event.kind in ("sent", "edited") and event.message_id not in changed:
                changed.append(event.message_id or 0)
        if self._events:
            self._read_seq = max(self._read_seq, self._events[-1].seq)
        return [m for m in (self.find_message(i) for i in changed) if m is not None]

    # ------------------------------------------------------------------ internals (server)

    def _active_after(self, seq: int) -> bool:
        return any(e.kind in _ACTIVITY_KINDS for e in self._events_after(seq))

    def _events_after(self, seq: int) -> list[_ChatEvent]:
        """This chat's events numbered after ``seq``, oldest first (events are appended in the
        order of their numbers, so a binary search finds the first)."""
        return self._events[bisect.bisect_right(self._events, seq, key=_seq_of) :]

    def _append(self, message: ChatMessage) -> None:
        message.message_id = self._next_message_id
        self._next_message_id += 1
        self._messages.append(message)
        self._by_id[message.message_id] = message
        self._event("sent" if message.from_bot else "user", message.message_id)

    def _remove(self, message_id: int) -> None:
        self._messages = [m for m in self._messages if m.message_id != message_id]
        self._by_id.pop(message_id, None)
        self._event("deleted", message_id)

    def _event(self, kind: str, message_id: int | None) -> None:
        self._events.append(_ChatEvent(self._server._next_seq(), kind, message_id, time.monotonic()))
        self._signal.notify()
        self._server._signal.notify()

    async def _act(self, body: JSONDict) -> int:
        update_id = await self._server._enqueue(body)
        self._action_seq = self._server._next_seq()
        self._read_seq = self._action_seq
        self._last_update_id = update_id
        return update_id

    async def _send_callback(self, data: str, message_api: JSONDict) -> int:
        query_id = self._server._new_id()
        self._server._register_callback(query_id, self.id)
        return await self._act(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.api_user,
                    "message": message_api,
                    "chat_instance": str(self.id * 7919 + 1),
                    "data": data,
                }
            }
        )

    def _diagnose(self, problem: str) -> str:
        recent = ", ".join(
            f"{c.method}->{c.status}" + (f" ({c.response.get('description')})" if c.response and not c.ok else "")
            for c in [c for c in self._server.calls if c.method != "getUpdates"][-8:]
        )
        return f"user {self.id}: {problem}. Last bot calls: [{recent}]"
