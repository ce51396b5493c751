"""The core's :class:`~handlers.messages.Outbound` as WhatsApp Cloud API messages, within its limits.

Pure functions, no I/O: :func:`render` returns the message bodies to send in order (the part of
a ``/{phone-number-id}/messages`` request after ``messaging_product``, ``recipient_type`` and
``to``), with :class:`MediaPart` standing for a picture or document that must be uploaded first.

The rules, from WhatsApp's limits (Cloud API reference, "Messages" and "Interactive messages"):

- at most 3 choices whose labels fit 20 characters: **reply buttons**;
- more choices, labels within 24 characters: a **list message** of at most 10 rows; longer
  choice lists are paginated over several list messages of 10 rows each;
- any label longer than that: **numbered text choices**: the labels are written into the text
  as ``1. label`` lines and the buttons or list rows carry the numbers (and the label, cut to
  72 characters, as the row's description);
- formatted texts (:attr:`~handlers.messages.Outbound.rich`) use WhatsApp's own markers,
  ``*bold*`` and ``_italic_`` (put around the words of each line, as WhatsApp wants them next to
  letters), and a link is its text with the address after it;
- buttons that open a web page become ``label: address`` lines of the text;
- texts are cut at 4,096 characters (1,024 for the body of an interactive message and for
  captions), preferring line breaks (:func:`bot.channels.text.split_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.channels.text import shortened, split_text
from handlers.messages import Attachment, Button, Outbound
from surveys.markup import Span

MAX_TEXT = 4096
MAX_BODY = 1024  # interactive message body
MAX_CAPTION = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_ID = 200  # list row ids (reply button ids may have 256)
LIST_ICON = "☰"
MORE_BODY = "…"

JSON = dict[str, Any]


@dataclass(frozen=True)
class MediaPart:
    """A picture or document to upload (``/{phone-number-id}/media``) and then send by its id."""

    attachment: Attachment
    caption: str | None = None

    def body(self, media_id: str) -> JSON:
        kind = "image" if self.attachment.kind == "image" else "document"
        media: JSON = {"id": media_id}
        if self.caption:
            media["caption"] = self.caption
        if kind == "document":
            media["filename"] = self.attachment.filename
        return {"type": kind, kind: media}


Part = JSON | MediaPart


def text_message(text: str) -> JSON:
    return {"type": "text", "text": {"body": text, "preview_url": "http://" in text or "https://" in text}}


_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)


def _marked(text: str, marker: str) -> str:
    """``text`` between ``marker``s line by line, the spaces around each line's words outside them."""
    lines = []
    for line in text.split("\n"):
        match = _EDGES.match(line)
        assert match is not None
        before, words, after = match.groups()
        lines.append(f"{before}{marker}{words}{marker}{after}" if words else line)
    return "\n".join(lines)


def whatsapp_text(spans: Iterable[Span]) -> str:
    """Spans in WhatsApp's formatting: ``*bold*``, ``_italic_``, ``text (address)`` for a link."""
    out = []
    for span in spans:
        text = span.text
        if span.italic:
            text = _marked(text, "_")
        if span.bold:
            text = _marked(text, "*")
        if span.link is not None and span.link not in span.text:
            text = f"{text} ({span.link})"
        out.append(text)
    return "".join(out)


def _with_links(outbound: Outbound) -> tuple[str, list[Button]]:
    """The text with the web-page buttons written into it, and the buttons that reach the bot."""
    links = [f"{button.label}: {button.url}" for button in outbound.flat_buttons if button.url is not None]
    choices = [button for button in outbound.flat_buttons if button.url is None and len(button.payload) <= MAX_ID]
    text = whatsapp_text(outbound.rich) if outbound.rich else outbound.text
    if links:
        text = "\n\n".join(part for part in (text, "\n".join(links)) if part)
    return text, choices


def _reply_buttons(body: str, choices: list[tuple[str, str]]) -> JSON:
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": payload, "title": title}} for title, payload in choices]
            },
        },
    }


def _lists(body: str, rows: list[JSON]) -> list[JSON]:
    """One list message per 10 rows; the first carries the text, the others continue it."""
    pages = [rows[start : start + MAX_ROWS] for start in range(0, len(rows), MAX_ROWS)]
    messages = []
    for number, page in enumerate(pages):
        first = number * MAX_ROWS + 1
        label = LIST_ICON if len(pages) == 1 else f"{LIST_ICON} {first}–{first + len(page) - 1}"
        messages.append(
            {
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": body if number == 0 else MORE_BODY},
                    "action": {"button": label[:MAX_LIST_BUTTON], "sections": [{"rows": page}]},
                },
            }
        )
    return messages


def _choice_messages(text: str, choices: list[Button]) -> list[JSON]:
    labels = [button.label for button in choices]
    unique = len(set(labels)) == len(labels)
    if len(choices) <= MAX_BUTTONS and unique and all(0 < len(label) <= MAX_BUTTON_TITLE for label in labels):
        *before, body = split_text(text, MAX_BODY)
        return [text_message(part) for part in before] + [_reply_buttons(body, [(b.label, b.payload) for b in choices])]
    if unique and all(0 < len(label) <= MAX_ROW_TITLE for label in labels):
        *before, body = split_text(text, MAX_BODY)
        rows: list[JSON] = [{"id": b.payload, "title": b.label} for b in choices]
        return [text_message(part) for part in before] + _lists(body, rows)
    # Numbered text choices: the labels are read in the text, the numbers are pressed.
    numbered = "\n".join(f"{number}. {button.label}" for number, button in enumerate(choices, start=1))
    *before, body = split_text("\n\n".join(part for part in (text, numbered) if part), MAX_BODY)
    messages = [text_message(part) for part in before]
    if len(choices) <= MAX_BUTTONS:
        return [*messages, _reply_buttons(body, [(str(n), b.payload) for n, b in enumerate(choices, start=1)])]
    rows = [
        {"id": b.payload, "title": str(n), "description": shortened(b.label, MAX_ROW_DESCRIPTION)}
        for n, b in enumerate(choices, start=1)
    ]
    return messages + _lists(body, rows)


def render(outbound: Outbound) -> list[Part]:
    """The WhatsApp messages that show ``outbound``, in the order to send them."""
    text, choices = _with_links(outbound)
    parts: list[Part] = []
    if outbound.attachment is not None:
        if not choices and len(text) <= MAX_CAPTION:
            return [MediaPart(outbound.attachment, text or None)]
        parts.append(MediaPart(outbound.attachment))
        if not text and not choices:
            return parts
    if not choices and outbound.location_button is not None and outbound.attachment is None:
        *before, body = split_text(text, MAX_BODY)
        return [*(text_message(part) for part in before), location_request(body)]
    if not choices:
        return parts + [text_message(part) for part in split_text(text, MAX_TEXT)]
    return parts + list(_choice_messages(text, choices))


def location_request(body: str) -> JSON:
    """A question asking for a location: WhatsApp shows a *Send location* button under it."""
    return {
        "type": "interactive",
        "interactive": {
            "type": "location_request_message",
            "body": {"text": body},
            "action": {"name": "send_location"},
        },
    }


def template_message(name: str, language: str, parameters: tuple[str, ...]) -> JSON:
    """An approved template (the only message WhatsApp accepts outside the 24-hour window)."""
    template: JSON = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": value} for value in parameters]}
        ]
    return {"type": "template", "template": template}
