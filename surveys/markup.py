"""The formatting of survey texts, as a small neutral model every channel can render.

ODK and KoBoToolbox labels carry a little markdown and HTML: ``**bold**``, ``*italic*`` /
``_italic_``, ``# headings``, ``[text](url)``, ``<br>``, ``<b>``/``<i>``, ``<span style=...>``,
``<a href>``, HTML entities. :func:`parse` turns such a text into :class:`Span` values (text with
bold, italic and a link); each channel's ``rendering.py`` draws them in its own terms (Telegram
HTML, WhatsApp ``*bold*``, the web chat's elements) and :func:`plain` gives the clean text for
channels without formatting. No tag and no markdown marker survives either way.

Pure and small: what ODK shows as colour or size (``<span style>``, ``<font>``) keeps its text
and loses its look; a heading is bold on a line of its own; a link whose address is not
``http(s)``, ``mailto`` or ``tel`` keeps its text only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from html.parser import HTMLParser


@dataclass(frozen=True)
class Span:
    """A run of text in one style; ``link``: the address the text opens (already checked)."""

    text: str
    bold: bool = False
    italic: bool = False
    link: str | None = None

    @property
    def styled(self) -> bool:
        return self.bold or self.italic or self.link is not None


#: A formatted text: spans in reading order ("\n" inside a span's text breaks the line).
Rich = tuple[Span, ...]

SAFE_SCHEMES = ("http://", "https://", "mailto:", "tel:")

# Markdown escapes (\* \_ \# ...) stand for the character itself: kept aside in private-use
# characters while the markers are read, and put back in the spans.
_ESCAPE = re.compile(r"\\([\\*_#\[\]()<>&`])")
_ESCAPE_BASE = 0xF0000  # plane-15 private use: never in a survey text
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\[\]\n]*)\]\(\s*([^()\s]+)\s*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_EM_STAR = re.compile(r"\*(?=[^\s*])(.+?)(?<=[^\s*])\*", re.DOTALL)
# An underscore inside a word (snake_case) is no marker, as in CommonMark.
_EM_UNDERSCORE = re.compile(r"(?<![\w\\])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)", re.DOTALL)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_SPACE_AT_BREAK = re.compile(r"[ \t]*\n[ \t]*")

# A text without any of these has no markup to read (most labels): one span, no parser.
_MARKERS = re.compile(r"[<&*_#\[\\]")
# Survey texts are few and read again for every respondent: each is read once.
CACHED_TEXTS = 8192

_BOLD_TAGS = frozenset({"b", "strong", "h1", "h2", "h3", "h4", "h5", "h6"})
_ITALIC_TAGS = frozenset({"i", "em"})
_BLOCK_TAGS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr"})


def _hide_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(_ESCAPE_BASE + ord(m.group(1))), text)


def _show_escapes(text: str) -> str:
    return re.sub("[\U000f0000-\U000f00ff]", lambda m: chr(ord(m.group(0)) - _ESCAPE_BASE), text)


def _markdown_as_html(text: str) -> str:
    """ODK's markdown written as the HTML tags it stands for (the HTML already there stays)."""
    text = _HEADING.sub(lambda m: f"<h{len(m.group(1))}>{m.group(2)}</h{len(m.group(1))}>", text)
    text = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', text)
    text = _STRONG.sub(r"<b>\2</b>", text)
    text = _EM_STAR.sub(r"<i>\1</i>", text)
    return _EM_UNDERSCORE.sub(r"<i>\1</i>", text)


class _SpanReader(HTMLParser):
    """Tags to styles: bold and italic nest, a link holds until its end tag, others are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[Span] = []
        self.bold = 0
        self.italic = 0
        self.link: str | None = None
        #: A block just ended with a line break: the source's own line break after it is that one.
        self.after_block = False

    def _add(self, text: str) -> None:
        if text:
            self.spans.append(Span(text, bold=self.bold > 0, italic=self.italic > 0, link=self.link))

    def _break(self) -> None:
        if self.spans and not self.spans[-1].text.endswith("\n"):
            self.spans.append(Span("\n"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.spans.append(Span("\n"))
            return
        if tag in _BLOCK_TAGS:
            self._break()
        if tag == "li":
            self._break()
            self.spans.append(Span("• "))
        if tag in _BOLD_TAGS:
            self.bold += 1
        elif tag in _ITALIC_TAGS:
            self.italic += 1
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.link = href if href.lower().startswith(SAFE_SCHEMES) else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.spans.append(Span("\n"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BOLD_TAGS:
            self.bold = max(0, self.bold - 1)
        elif tag in _ITALIC_TAGS:
            self.italic = max(0, self.italic - 1)
        elif tag == "a":
            self.link = None
        if tag in _BLOCK_TAGS:
            self._break()
            self.after_block = True

    def handle_data(self, data: str) -> None:
        if self.after_block and data.startswith("\n"):
            data = data[1:]
        self.after_block = False
        self._add(data)


def parse(text: str) -> Rich:
    """``text`` (a survey label, hint or message with ODK markdown/HTML) as spans."""
    if not text:
        return ()
    return _parse(text)


@lru_cache(maxsize=CACHED_TEXTS)
def _parse(text: str) -> Rich:
    if not _MARKERS.search(text):
        return tidy((Span(text.replace("\r\n", "\n")),))
    reader = _SpanReader()
    reader.feed(_markdown_as_html(_hide_escapes(text.replace("\r\n", "\n"))))
    reader.close()
    spans = [replace(span, text=_show_escapes(span.text)) for span in reader.spans]
    return tidy(spans)


def tidy(spans: Iterable[Span]) -> Rich:
    """Neighbouring spans of one style joined, spaces around line breaks and more than one
    blank line removed, the whole trimmed; empty spans dropped."""
    joined: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if joined and _same_style(joined[-1], span):
            joined[-1] = replace(joined[-1], text=joined[-1].text + span.text)
        else:
            joined.append(span)
    cleaned = [replace(span, text=_BLANK_LINES.sub("\n\n", _SPACE_AT_BREAK.sub("\n", span.text))) for span in joined]
    if cleaned:
        cleaned[0] = replace(cleaned[0], text=cleaned[0].text.lstrip())
        cleaned[-1] = replace(cleaned[-1], text=cleaned[-1].text.rstrip())
    return tuple(span for span in cleaned if span.text)


def _same_style(a: Span, b: Span) -> bool:
    return (a.bold, a.italic, a.link) == (b.bold, b.italic, b.link)


def plain(rich: Iterable[Span]) -> str:
    """The clean text of ``rich`` (no formatting; a link's address follows its text if it differs)."""
    parts = []
    for span in rich:
        if span.link is not None and span.link not in span.text:
            parts.append(f"{span.text} ({span.link})")
        else:
            parts.append(span.text)
    return "".join(parts)


def plain_text(text: str) -> str:
    """A survey text without its markdown and tags (button labels, titles, file names)."""
    return plain(parse(text))


def literal(text: str) -> Rich:
    """A text shown as it is (the bot's own words, an answer): one unstyled span."""
    return (Span(text),) if text else ()


def is_styled(rich: Iterable[Span]) -> bool:
    """Whether ``rich`` has anything a plain text cannot show."""
    return any(span.styled for span in rich)
