"""The web chat on the office's own website: its settings, the framed page's headers and ``embed.js``.

An office puts one line on its pages::

    <script src="https://chat.example.org/embed.js" data-mode="bubble" async></script>

``embed.js`` (``static/embed.js``, served with the office's look filled in) adds an ``<iframe>`` of
the chat page at ``/embed``: a round button in a corner that opens the chat (``data-mode="bubble"``,
the default) or a panel inside the element named by ``data-target`` (``data-mode="inline"``).
The chat keeps its own origin inside the frame, so its posts stay same-origin (no CORS) and the
page of the website never sees the conversation.

Only the origins in ``web.embed.allowed_origins`` may frame it: ``/embed`` is served with
``Content-Security-Policy: frame-ancestors`` naming them (the browser refuses the frame anywhere
else), and without any allowed origin ``/embed`` and ``/embed.js`` do not exist. Inside a frame
on another site the session cookie is a third-party cookie: it is sent with ``SameSite=None;
Secure; Partitioned`` (kept per embedding site), which browsers accept over https (and on
localhost), so an embedded chat needs https.
"""

from __future__ import annotations

import json
from pathlib import Path

from yarl import URL

from bot.config import EmbedSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def frame_ancestors(settings: EmbedSettings) -> str:
    """The CSP ``frame-ancestors`` source list of the framed page: the chat itself and the allowed origins."""
    return " ".join(("'self'", *settings.allowed_origins)) if settings.enabled else "'none'"


def img_sources(settings: EmbedSettings) -> str:
    """The CSP ``img-src`` source list: the page's own images, and the logo's site when it has one."""
    sources = ["'self'", "data:", "blob:"]
    if settings.logo is not None and settings.logo.startswith("https://"):
        sources.append(str(URL(settings.logo).origin()))
    return " ".join(sources)


def script_json(value: object) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element or a JavaScript file."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def embed_script(settings: EmbedSettings) -> str:
    """``embed.js`` with the office's look filled in."""
    template = (STATIC_DIR / "embed.js").read_text(encoding="utf-8")
    return template.replace("/*LOOK*/null", script_json(settings.look()), 1)
