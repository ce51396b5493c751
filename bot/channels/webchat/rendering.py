"""The core's :class:`~handlers.messages.Outbound` as the web chat page's JSON.

Pure functions, no I/O. A reply is ``{"text", "buttons", "attachment", "replaces_pressed",
"expects"}``: buttons as rows of ``{"label", "payload"}``, an attachment inline as a ``data:`` URL
(the page's Content-Security-Policy allows ``data:`` images and nothing from elsewhere), and
``expects`` the media or location answer a question wants (the page then offers a file picker or
a button sharing the position, labelled ``location_button``), else null.
A formatted reply (survey labels with bold, italic, links) also has ``"rich"``: its spans as
``{"text", "bold", "italic", "link"}``, which the page draws as elements whose text is set as
text (``<strong>``, ``<em>``, ``<a>``), never as HTML; ``"text"`` stays its clean text.
"""

from __future__ import annotations

import base64
from typing import Any

from handlers.messages import Attachment, Button, Outbound
from handlers.texts import Texts, supported_language
from surveys.markup import SAFE_SCHEMES, Span


def serialize_outbound(outbound: Outbound) -> dict[str, Any]:
    """One reply as the page's JSON."""
    reply: dict[str, Any] = {
        "text": outbound.text,
        "buttons": [[_serialize_button(button) for button in row] for row in outbound.buttons],
        "attachment": _serialize_attachment(outbound.attachment),
        "replaces_pressed": outbound.replaces_pressed,
        "expects": outbound.expects,
        "location_button": outbound.location_button,
    }
    if outbound.rich:
        reply["rich"] = [_serialize_span(span) for span in outbound.rich]
    return reply


def _serialize_button(button: Button) -> dict[str, str]:
    """A button; a link button (``url``) has its address and no payload: the page opens it."""
    if button.url is not None:
        safe = button.url.lower().startswith(("https:", "http:"))
        return {"label": button.label, "url": button.url if safe else "", "payload": ""}
    return {"label": button.label, "payload": button.payload}


#: The page's own words (catalogue keys ``webchat_<name>``), sent with every answer so that the
#: text box, the Send button, the page's notes (file too large, too fast, too long), the "Notify
#: me" button of push.js, the embed panel's "Close" (embed.js), the file pickers and the typed
#: position's hint of media and location questions, and ``<html lang dir>`` follow the
#: conversation's language.
INTERFACE_TEXTS = (
    "placeholder", "send", "message_label", "you_said", "bot_said", "choices", "typing", "try_again",
    "not_sent", "network_error", "server_error", "geo_placeholder", "file_too_large", "too_many_requests",
    "text_too_long", "close", "notify_offer", "notify_on", "notify_write", "notify_denied", "notify_failed",
    "take_photo", "choose_photo", "record_audio", "choose_recording", "record_video", "choose_video", "choose_file",
    "typed_position",
)  # fmt: skip


def interface(language: str) -> dict[str, str]:
    """The page's interface in ``language``: ``lang``, ``dir`` and its texts (English where missing)."""
    texts = Texts(supported_language(language) or language)
    words = {name: texts(f"webchat_{name}") for name in INTERFACE_TEXTS}
    return {"lang": texts.language, "dir": "rtl" if texts.is_rtl else "ltr", **words}


def _serialize_span(span: Span) -> dict[str, Any]:
    link = span.link if span.link is not None and span.link.lower().startswith(SAFE_SCHEMES) else None
    return {"text": span.text, "bold": span.bold, "italic": span.italic, "link": link}


def _serialize_attachment(attachment: Attachment | None) -> dict[str, str] | None:
    if attachment is None:
        return None
    mime_type = attachment.mime_type or "application/octet-stream"
    encoded = base64.b64encode(attachment.content).decode("ascii")
    return {
        "kind": attachment.kind,
        "filename": attachment.filename,
        "mime_type": mime_type,
        "data_url": f"data:{mime_type};base64,{encoded}",
        # What the picture shows in words (a chart's series, period and latest value) when known.
        "alt": attachment.alt or f"Image: {attachment.filename}",
    }
