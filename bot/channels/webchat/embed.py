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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yarl import URL

from common.errors import BarazaError

STATIC_DIR = Path(__file__).resolve().parent / "static"
_COLOUR_RE = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?")
_LOOK_KEYS = {"office_name", "colour", "text_colour", "logo", "greeting"}


class EmbedError(BarazaError):
    """``web.embed`` in the configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class EmbedSettings:
    """``web.embed`` in ``config.yaml``: who may embed the chat, and how it looks.

    ``allowed_origins`` are ``scheme://host[:port]`` of the websites that may frame the chat
    (empty: embedding is off). ``colour`` and ``text_colour`` are ``#rgb``/``#rrggbb``; ``logo``
    an https (or same-site path) address of an image; ``greeting`` the line shown beside the
    bubble and under the office's name.
    """

    allowed_origins: tuple[str, ...] = ()
    office_name: str = "Baraza"
    colour: str = "#0b57a4"
    text_colour: str = "#ffffff"
    logo: str | None = None
    greeting: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.allowed_origins)

    def look(self) -> dict[str, str | None]:
        """What the page and ``embed.js`` draw with (no secrets: it is public)."""
        return {
            "office_name": self.office_name,
            "colour": self.colour,
            "text_colour": self.text_colour,
            "logo": self.logo,
            "greeting": self.greeting,
        }


def embed_settings(section: Mapping[str, Any], where: str = "web.embed") -> EmbedSettings:
    """The settings of a ``web.embed`` mapping, checked (:class:`EmbedError` names the key)."""
    unknown = sorted(set(section) - _LOOK_KEYS - {"allowed_origins"})
    if unknown:
        raise EmbedError(f"unknown key(s) {', '.join(unknown)} in {where}")
    origins = section.get("allowed_origins") or ()
    if isinstance(origins, str) or not isinstance(origins, list | tuple):
        raise EmbedError(f"{where}.allowed_origins must be a list of origins such as https://www.example.org")
    defaults = EmbedSettings()
    colour = str(section.get("colour") or defaults.colour)
    text_colour = str(section.get("text_colour") or defaults.text_colour)
    for name, value in (("colour", colour), ("text_colour", text_colour)):
        if not _COLOUR_RE.fullmatch(value):
            raise EmbedError(f"{where}.{name} must be a colour such as #0b5cad, not {value!r}")
    logo = section.get("logo") or None
    if logo is not None and not (str(logo).startswith("https://") or str(logo).startswith("/")):
        raise EmbedError(f"{where}.logo must be an https:// address or a path on the chat's server")
    return EmbedSettings(
        allowed_origins=tuple(_origin(str(origin), where) for origin in origins),
        office_name=str(section.get("office_name") or defaults.office_name),
        colour=colour,
        text_colour=text_colour,
        logo=None if logo is None else str(logo),
        greeting=None if not section.get("greeting") else str(section["greeting"]),
    )


def _origin(value: str, where: str) -> str:
    """``value`` as an origin (``https://www.example.org``, port kept when not the default)."""
    try:
        url = URL(value.strip())
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        raise EmbedError(f"{where}.allowed_origins: {value!r} is not an origin such as https://www.example.org")
    if url.query_string or url.fragment or url.user:
        raise EmbedError(f"{where}.allowed_origins: {value!r} is not an origin such as https://www.example.org")
    return str(url.origin())


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
