"""Channel-agnostic text rendering: what every channel does to fit the core's texts into its limits.

Each channel names its own limits (Telegram's 4,096 characters a message and 1,024 a caption,
WhatsApp's 4,096 a text and 1,024 an interactive body); the cutting is the same everywhere.
"""

from __future__ import annotations

#: What an empty text is sent as: channels refuse empty messages.
EMPTY_TEXT = "…"


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, in order, preferring line breaks.

    A piece ends at the last line break of its ``limit`` characters when that break lies in the
    second half (the breaks themselves are dropped); otherwise it is cut at ``limit``. An empty
    text is one piece, :data:`EMPTY_TEXT`. Joining the pieces with line breaks gives the text back
    but for the dropped breaks.
    """
    if not text:
        return [EMPTY_TEXT]
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def shortened(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else its start ending in "…" (``limit`` in all)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
