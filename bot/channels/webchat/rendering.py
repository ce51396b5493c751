"""The core's :class:`~handlers.messages.Outbound` as the web chat page's JSON.

Pure functions, no I/O. A reply is ``{"text", "buttons", "attachment", "replaces_pressed",
"expects"}``: buttons as rows of ``{"label", "payload"}``, an attachment inline as a ``data:`` URL
(the page's Content-Security-Policy allows ``data:`` images and nothing from elsewhere), and
``expects`` the media or location answer a question wants (the page then offers a file picker or
a button sharing the position, labelled ``location_button``), else null.
"""

from __future__ import annotations

import base64
from typing import Any

from handlers.messages import Attachment, Outbound


def serialize_outbound(outbound: Outbound) -> dict[str, Any]:
    """One reply as the page's JSON."""
    return {
        "text": outbound.text,
        "buttons": [[{"label": button.label, "payload": button.payload} for button in row] for row in outbound.buttons],
        "attachment": _serialize_attachment(outbound.attachment),
        "replaces_pressed": outbound.replaces_pressed,
        "expects": outbound.expects,
        "location_button": outbound.location_button,
    }


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
    }
