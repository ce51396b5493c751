"""Bot API methods that act on private chats: messages, edits, files, callback answers, commands."""

from __future__ import annotations

import json
import mimetypes
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .model import CallbackAnswer, ChatMessage, JSONDict
from .protocol import (
    CHAT_ACTIONS,
    ApiError,
    CallContext,
    Handler,
    bad_request,
    check_caption,
    check_command,
    check_text,
    parse_reply_markup,
    visible_text,
)
from .user import FakeUser

#: The largest file a bot may fetch with getFile.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class StoredFile:
    """A file the bot or a user sent; downloadable under ``base_file_url`` + ``file_path``."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None
    mime_type: str | None
    file_path: str


class ServerForChats(Protocol):
    """The fake server as the chat methods need it (``FakeTelegramServer`` implements it; a protocol
    so that this module does not import the server): its users, the bot's own user, new ids."""

    _users: dict[int, FakeUser]

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a Telegram ``User`` object."""
        ...

    def _new_id(self) -> str: ...


class ChatMethods:
    """sendMessage & co. Chats exist only for users created with ``FakeTelegramServer.user``."""

    def __init__(self, server: ServerForChats) -> None:
        self._server = server
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.callback_owner: dict[str, int] = {}
        self._answered_callbacks: set[str] = set()

    def handlers(self) -> dict[str, Handler]:
        """Bot API methods implemented here, keyed by lower-case name."""
        return {
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "sendphoto": self.send_photo,
            "senddocument": self.send_document,
            "getfile": self.get_file,
            "sendchataction": self.send_chat_action,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
        }

    # ------------------------------------------------------------------ helpers

    def _chat(self, params: JSONDict) -> FakeUser:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        user = self._server._users.get(chat_id) if isinstance(chat_id, int) else None
        if user is None:
            raise bad_request("chat not found")
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return user

    def _editable(self, params: JSONDict) -> tuple[FakeUser, ChatMessage]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        user = self._chat(params)
        message = user.find_message(_message_id(params))
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return user, message

    def _render(self, user: FakeUser, message: ChatMessage) -> JSONDict:
        api: JSONDict = {
            "message_id": message.message_id,
            "from": self._server.bot_user if message.from_bot else user.api_user,
            "chat": user.api_chat,
            "date": message.date,
        }
        if message.edit_date is not None:
            api["edit_date"] = message.edit_date
        if message.media_type is not None:
            stored = self.files[message.file_id or ""]
            if message.media_type == "photo":
                api["photo"] = [_photo_size(stored)]
            else:
                api["document"] = _document(stored)
            if message.text is not None:
                api["caption"] = message.text
        elif message.text is not None:
            api["text"] = message.text
        if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
            api["reply_markup"] = message.reply_markup
        return api

    def _add_bot_message(self, user: FakeUser, message: ChatMessage, params: JSONDict) -> JSONDict:
        reply_to = _reply_to_id(params)
        replied = user.find_message(reply_to) if reply_to is not None else None
        user._append(message)  # assigns message_id and notifies waiters
        message.api = self._render(user, message)
        if replied is not None:
            message.api["reply_to_message"] = replied.api
        markup = message.reply_markup or {}
        if "keyboard" in markup:
            user.reply_keyboard = [
                [b if isinstance(b, str) else str(b.get("text")) for b in row] for row in markup["keyboard"]
            ]
        elif markup.get("remove_keyboard"):
            user.reply_keyboard = None
        return message.api

    def _edited(self, user: FakeUser, message: ChatMessage) -> JSONDict:
        message.edited = True
        message.edit_count += 1
        message.edit_date = int(time.time())
        message.api = self._render(user, message)
        user._event("edited", message.message_id)
        return message.api

    # ------------------------------------------------------------------ messages

    async def send_message(self, ctx: CallContext) -> JSONDict:
        """sendMessage: validates text (empty / > 4096) and inline keyboards."""
        params = ctx.params
        user = self._chat(params)
        raw = params.get("text")
        text = check_text(visible_text(raw, params.get("parse_mode")) if isinstance(raw, str) else raw)
        return self._add_bot_message(user, _bot_message(user.id, params, text, raw), params)

    async def edit_message_text(self, ctx: CallContext) -> JSONDict:
        """editMessageText; omitting reply_markup removes the inline keyboard, as in Telegram."""
        return self._edit_shown_text(ctx.params, "text")

    async def edit_message_caption(self, ctx: CallContext) -> JSONDict:
        """editMessageCaption of a photo/document message."""
        return self._edit_shown_text(ctx.params, "caption")

    def _edit_shown_text(self, params: JSONDict, field: Literal["text", "caption"]) -> JSONDict:
        """Replace the text of a text message or the caption of a media message (and its keyboard);
        Telegram refuses the other kind of message and an edit that changes nothing."""
        user, message = self._editable(params)
        if (message.media_type is not None) != (field == "caption"):
            raise bad_request(f"there is no {field} in the message to edit")
        raw, parse_mode = params.get(field), params.get("parse_mode")
        shown = visible_text(raw, parse_mode) if isinstance(raw, str) else raw
        text = check_caption(shown) if field == "caption" else check_text(shown)
        markup, buttons = _inline_markup(params)
        if (text, raw) == (message.text, message.raw_text) and _same(markup, message.reply_markup):
            raise _not_modified()
        message.text, message.raw_text, message.parse_mode = text, raw, parse_mode
        message.reply_markup, message.buttons = markup, buttons
        return self._edited(user, message)

    async def edit_message_reply_markup(self, ctx: CallContext) -> JSONDict:
        """editMessageReplyMarkup; no reply_markup removes the keyboard."""
        user, message = self._editable(ctx.params)
        markup, buttons = _inline_markup(ctx.params)
        if _same(markup, message.reply_markup):
            raise _not_modified()
        message.reply_markup, message.buttons = markup, buttons
        return self._edited(user, message)

    async def delete_message(self, ctx: CallContext) -> bool:
        """deleteMessage: the message disappears from the user's chat."""
        user = self._chat(ctx.params)
        message_id = _message_id(ctx.params)
        if user.find_message(message_id) is None:
            raise bad_request("message to delete not found")
        user._remove(message_id)
        return True

    async def answer_callback_query(self, ctx: CallContext) -> bool:
        """answerCallbackQuery: each query of a FakeUser press can be answered once."""
        params = ctx.params
        query_id = str(params.get("callback_query_id"))
        owner = self.callback_owner.get(query_id)
        if owner is None or query_id in self._answered_callbacks:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self._answered_callbacks.add(query_id)
        user = self._server._users[owner]
        user.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=params.get("text"),
                show_alert=bool(params.get("show_alert", False)),
                url=params.get("url"),
            )
        )
        user._event("callback_answer", None)
        return True

    async def send_chat_action(self, ctx: CallContext) -> bool:
        """sendChatAction ("typing", ...)."""
        user = self._chat(ctx.params)
        if ctx.params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        user._event("action", None)
        return True

    # ------------------------------------------------------------------ files

    async def send_photo(self, ctx: CallContext) -> JSONDict:
        """sendPhoto with an uploaded file, a known file_id or an http(s) URL."""
        return await self._send_media(ctx, "photo")

    async def send_document(self, ctx: CallContext) -> JSONDict:
        """sendDocument with an uploaded file, a known file_id or an http(s) URL."""
        return await self._send_media(ctx, "document")

    async def _send_media(self, ctx: CallContext, kind: Literal["photo", "document"]) -> JSONDict:
        params = ctx.params
        user = self._chat(params)
        stored = self._media_source(ctx, kind)
        raw = params.get("caption")
        caption = check_caption(visible_text(raw, params.get("parse_mode")) if isinstance(raw, str) else raw)
        message = _bot_message(user.id, params, caption, raw)
        message.media_type = kind
        message.photo = stored.data if kind == "photo" else None
        message.document = stored.data if kind == "document" else None
        message.filename = stored.filename if kind == "document" else None
        message.file_id = stored.file_id
        return self._add_bot_message(user, message, params)

    def _media_source(self, ctx: CallContext, kind: str) -> StoredFile:
        value = ctx.params.get(kind)
        upload = ctx.files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = ctx.files.get(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            return self._store_file(upload.data, upload.filename, upload.content_type, kind)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store_file(None, value.rsplit("/", 1)[-1] or None, None, kind)
        if value is None:
            raise bad_request(f"there is no {kind} in the request")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _store_file(self, data: bytes | None, filename: str | None, mime_type: str | None, kind: str) -> StoredFile:
        number = len(self.files) + 1
        file_id = f"{kind[:3].upper()}{self._server._new_id()}"
        if mime_type in (None, "application/octet-stream") and filename:
            mime_type = mimetypes.guess_type(filename)[0] or mime_type
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"U{file_id}",
            data=data,
            filename=filename,
            mime_type=mime_type,
            file_path=f"{kind}s/file_{number}" + (f"_{filename}" if filename else ""),
        )
        self.files[file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        """The stored file served at ``base_file_url/<token>/<path>``."""
        return next((f for f in self.files.values() if f.file_path == path and f.data is not None), None)

    async def get_file(self, ctx: CallContext) -> JSONDict:
        """getFile for files the bot sent earlier and files users sent; as on Telegram, a bot
        cannot fetch a file over 20 MB."""
        stored = self.files.get(str(ctx.params.get("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.data is not None and len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        result: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data is not None:
            result["file_size"] = len(stored.data)
            result["file_path"] = stored.file_path
        return result

    # ------------------------------------------------------------------ commands

    async def set_my_commands(self, ctx: CallContext) -> bool:
        """setMyCommands per (scope, language_code); an empty list deletes."""
        commands = ctx.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            check_command(command)
        key = commands_key(ctx.params.get("scope"), ctx.params.get("language_code") or "")
        if commands:
            self.commands[key] = [
                {"command": c["command"].lstrip("/").lower(), "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    async def get_my_commands(self, ctx: CallContext) -> list[JSONDict]:
        """getMyCommands for exactly that (scope, language_code)."""
        key = commands_key(ctx.params.get("scope"), ctx.params.get("language_code") or "")
        return list(self.commands.get(key, []))

    async def delete_my_commands(self, ctx: CallContext) -> bool:
        """deleteMyCommands for (scope, language_code)."""
        key = commands_key(ctx.params.get("scope"), ctx.params.get("language_code") or "")
        self.commands.pop(key, None)
        return True


def commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    """Storage key of a command list."""
    if not scope or scope == {"type": "default"}:
        return ("default", language_code)
    return (json.dumps(scope, sort_keys=True), language_code)


def _message_id(params: JSONDict) -> int:
    message_id = params.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise bad_request("message identifier is not specified")
    return message_id


def _inline_markup(params: JSONDict) -> tuple[JSONDict | None, list[list[tuple[str, str | None]]]]:
    markup, buttons = parse_reply_markup(params.get("reply_markup"))
    if markup is None or "inline_keyboard" not in markup:
        return None, []
    return markup, buttons


def _same(a: JSONDict | None, b: JSONDict | None) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _not_modified() -> ApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are exactly the same as a "
        "current content and reply markup of the message"
    )


def _reply_to_id(params: JSONDict) -> int | None:
    reply_parameters = params.get("reply_parameters")
    if isinstance(reply_parameters, dict) and isinstance(reply_parameters.get("message_id"), int):
        return int(reply_parameters["message_id"])
    reply_to = params.get("reply_to_message_id")
    return reply_to if isinstance(reply_to, int) else None


def _photo_size(stored: StoredFile) -> JSONDict:
    size: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "width": 90, "height": 90}
    if stored.data is not None:
        size["file_size"] = len(stored.data)
    return size


def _document(stored: StoredFile) -> JSONDict:
    document: JSONDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.filename:
        document["file_name"] = stored.filename
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    if stored.data is not None:
        document["file_size"] = len(stored.data)
    return document


def _bot_message(chat_id: int, params: JSONDict, text: str | None, raw: object) -> ChatMessage:
    """A new bot message with the text and inline keyboard of a send call."""
    markup, buttons = parse_reply_markup(params.get("reply_markup"))
    return ChatMessage(
        message_id=0,
        chat_id=chat_id,
        from_bot=True,
        date=int(time.time()),
        text=text,
        raw_text=raw if isinstance(raw, str) else None,  # the checks let only text or None through
        parse_mode=params.get("parse_mode"),
        buttons=buttons,
        reply_markup=markup,
    )
