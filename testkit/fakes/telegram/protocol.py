"""Wire-level helpers: decoding Bot API requests, encoding answers, Telegram-like validation.

How python-telegram-bot 22 sends a request (``telegram/request/_requestdata.py``):

* never a JSON body: ``application/x-www-form-urlencoded`` when there are no files,
  ``multipart/form-data`` when there are (files are parts named after the parameter, e.g.
  ``photo``; only InputMedia & co use ``attach://<name>``);
* every value that is a ``str`` is sent *as is*, every other value is ``json.dumps``-ed
  (``chat_id=123``, ``disable_notification=true``, ``reply_markup={"inline_keyboard": ...}``);
  ``None`` values are omitted.

So a form value cannot be blindly ``json.loads``-ed: ``text="123"`` would become an int.
Decoding is therefore field-aware (:data:`STRING_FIELDS`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .model import Button, JSONDict, UploadedFile

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

#: Parameters whose value is always a string and must never be JSON-decoded.
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "language_code",
        "file_id",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
    }
)

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_BOT_COMMAND_IN_TEXT_RE = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_HTML_TAG_RE = re.compile(r"<[^>]*>")


@dataclass
class CallContext:
    """One decoded Bot API call, as passed to a method handler."""

    params: JSONDict
    files: dict[str, UploadedFile]
    request: web.Request


#: A Bot API method implementation: returns the ``result`` or raises :class:`ApiError`.
Handler = Callable[[CallContext], Awaitable[Any]]


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": N, "description": ...}``."""

    def __init__(
        self,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> JSONDict:
        """The JSON body Telegram would answer with."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        parameters: JSONDict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def bad_request(detail: str) -> ApiError:
    """``400 Bad Request: <detail>``."""
    return ApiError(400, f"Bad Request: {detail}")


def ok_payload(result: Any) -> JSONDict:
    """The JSON body of a successful call."""
    return {"ok": True, "result": result}


def json_response(payload: JSONDict) -> web.Response:
    """An aiohttp response carrying ``payload`` with the status Telegram would use."""
    status = 200 if payload.get("ok") else int(payload.get("error_code", 500))
    return web.json_response(payload, status=status)


def default_description(error_code: int, retry_after: int | None) -> str:
    """The description Telegram uses for a bare error code."""
    if error_code == 429:
        return f"Too Many Requests: retry after {retry_after or 0}"
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return known.get(error_code, "Error")


def decode_value(name: str, value: Any) -> Any:
    """Decode one parameter value the way the Bot API does (see module docstring)."""
    if name in STRING_FIELDS:
        # a JSON body may carry e.g. "text": 42; Telegram treats it as the string "42"
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
    """Decode query string + JSON / urlencoded / multipart body into params and files.

    Raises :class:`ApiError` (400) for an unparsable body.
    """
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        field_name=key,
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                else:
                    raw[key] = value
    return {key: decode_value(key, value) for key, value in raw.items()}, files


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the user sees: HTML tags stripped and entities unescaped for ``parse_mode=HTML``.

    Markdown is not rendered (the raw text is returned).
    """
    if parse_mode and parse_mode.lower() == "html":
        return html.unescape(_HTML_TAG_RE.sub("", text))
    return text


def check_text(text: Any) -> str:
    """Validate a message text like Telegram; return it as str."""
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return text


def check_caption(caption: Any) -> str | None:
    """Validate an optional caption like Telegram."""
    if caption is None:
        return None
    text = str(caption)
    if len(text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return text


def parse_reply_markup(markup: Any) -> tuple[JSONDict | None, list[list[Button]]]:
    """Validate ``reply_markup``; return ``(markup_or_None, inline_buttons)``."""
    if markup is None:
        return None, []
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup, []
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('can\'t parse inline keyboard button: field "inline_keyboard" must be of type Array')
    buttons: list[list[Button]] = []
    for row in rows:
        if not isinstance(row, list):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        parsed_row: list[Button] = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
            data = button.get("callback_data")
            if data is not None:
                data = str(data)
                if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif len(button) == 1:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            parsed_row.append((button["text"], data))
        buttons.append(parsed_row)
    return markup, buttons


def check_command(command: Any) -> None:
    """Validate one BotCommand like setMyCommands does."""
    if not isinstance(command, dict):
        raise bad_request("can't parse BotCommand")
    name = command.get("command")
    if not isinstance(name, str) or not _COMMAND_RE.match(name.lstrip("/").lower()):
        raise bad_request("BOT_COMMAND_INVALID")
    description = command.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= 256:
        raise bad_request("command description is empty")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram measures entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities Telegram attaches to a user's text (needed by CommandHandler)."""
    entities: list[JSONDict] = []
    for match in _BOT_COMMAND_IN_TEXT_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities
