"""The core's :class:`~handlers.messages.Outbound` as Telegram Bot API calls, within Telegram's limits.

- texts are split into messages of at most 4,096 characters, preferring line breaks
  (:func:`bot.channels.text.split_text`); the keyboard goes with the last one;
- captions of pictures and documents are cut at 1,024 characters;
- formatted texts (:attr:`~handlers.messages.Outbound.rich`: bold, italic, links of survey
  labels) are sent as Telegram HTML (``parse_mode="HTML"``), every text escaped; one that would
  need more than one message goes as its clean text;
- buttons become an inline keyboard: a button with a ``url`` opens that page, any other sends
  its ``payload`` back as callback data (:mod:`handlers.payloads` keeps payloads within
  Telegram's 64 bytes);
- a question asking for a location (``location_button``) and without inline buttons gets a
  reply keyboard with one ``request_location`` button (a message has one keyboard or the other).

:func:`send_file` is the one place that sends a picture or document, for replies
(:mod:`bot.channels.telegram.adapter`) and broadcasts (:mod:`bot.channels.telegram.sender`) alike.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup

from bot.channels.text import split_text
from handlers.messages import Button, Outbound
from surveys.markup import Span

MAX_TEXT = 4096
MAX_CAPTION = 1024


def keyboard(outbound: Outbound) -> InlineKeyboardMarkup | None:
    """The inline keyboard of ``outbound`` (None without buttons)."""
    if not outbound.buttons:
        return None
    try:
        return _shared_markup(outbound.buttons)
    except TypeError:  # rows given as lists (unhashable): built for this message alone
        return _markup(outbound.buttons)


@lru_cache(maxsize=1024)
def _shared_markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    # Every respondent gets the same few keyboards, and building one costs about 50 µs (PTB
    # objects validate and freeze themselves); being frozen, one markup serves any number of sends.
    return _markup(rows)


def _markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.url)
                if button.url is not None
                else InlineKeyboardButton(button.label, callback_data=button.payload)
                for button in row
            ]
            for row in rows
        ]
    )


def location_keyboard(outbound: Outbound) -> ReplyKeyboardMarkup | None:
    """The one-button "share my location" keyboard of a location question without inline buttons."""
    if outbound.location_button is None or outbound.buttons:
        return None
    return ReplyKeyboardMarkup(
        [[KeyboardButton(outbound.location_button, request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


HTML = "HTML"
WEB_LINKS = ("http://", "https://")


def html_text(spans: Iterable[Span]) -> str:
    """Spans as Telegram HTML: ``<b>``, ``<i>``, ``<a href>`` (web addresses; a ``mailto:`` or
    ``tel:`` one is written after its text), everything else escaped."""
    out = []
    for span in spans:
        text = html.escape(span.text, quote=False)
        if span.italic:
            text = f"<i>{text}</i>"
        if span.bold:
            text = f"<b>{text}</b>"
        if span.link is not None and span.link.lower().startswith(WEB_LINKS):
            text = f'<a href="{html.escape(span.link, quote=True)}">{text}</a>'
        elif span.link is not None and span.link not in span.text:
            text = f"{text} ({html.escape(span.link, quote=False)})"
        out.append(text)
    return "".join(out)


def formatted(outbound: Outbound) -> tuple[str, str | None]:
    """The text of ``outbound`` for one message and its ``parse_mode``: Telegram HTML when it is
    formatted and fits one message, else the clean text (None: no parse mode)."""
    if outbound.rich and len(outbound.text) <= MAX_TEXT:
        return html_text(outbound.rich), HTML
    return outbound.text, None


def text_messages(outbound: Outbound) -> list[tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup | None]]:
    """The texts of the sendMessage calls that show ``outbound`` (no attachment), each with its
    keyboard: the last message carries the buttons (or a location question's reply keyboard). A
    formatted text (one message) is HTML: :func:`parse_mode` says so."""
    markup = keyboard(outbound) or location_keyboard(outbound)
    text, mode = formatted(outbound)
    if mode is not None:
        return [(text, markup)]
    parts = split_text(outbound.text, MAX_TEXT)
    return [(part, markup if index == len(parts) - 1 else None) for index, part in enumerate(parts)]


def parse_mode(outbound: Outbound) -> str | None:
    """The ``parse_mode`` of the texts :func:`text_messages` gives for ``outbound``."""
    return formatted(outbound)[1]


def caption(outbound: Outbound) -> str | None:
    """The caption of ``outbound``'s attachment: its text cut to Telegram's limit (None if empty)."""
    return outbound.text[:MAX_CAPTION] or None


def editable(outbound: Outbound) -> bool:
    """Whether ``outbound`` can replace the text of the message whose button was pressed
    (one text message, no attachment)."""
    return outbound.attachment is None and len(outbound.text) <= MAX_TEXT and location_keyboard(outbound) is None


async def send_file(
    bot: Bot,
    chat_id: int | str,
    kind: str,
    content: bytes | str,
    *,
    filename: str | None,
    caption: str | None,
    markup: InlineKeyboardMarkup | None,
    **extra: Any,
) -> Message:
    """Send a picture (``kind`` "image") or a document: ``content`` is the file itself or the
    Telegram file id of one sent before. ``extra`` goes to PTB (timeouts, rate-limit arguments)."""
    if kind == "image":
        return await bot.send_photo(chat_id, content, caption=caption, reply_markup=markup, filename=filename, **extra)
    return await bot.send_document(chat_id, content, caption=caption, reply_markup=markup, filename=filename, **extra)
