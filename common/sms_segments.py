"""What an SMS costs: its encoding (GSM-7 or UCS-2) and how many segments it is sent as.

An SMS carries 140 bytes. A text made only of the GSM 03.38 default alphabet is packed in 7-bit
septets: 160 in one message, 153 per segment once it is split (the concatenation header takes the
rest); the characters of the extension table (``^ { } \\ [ ~ ] | €`` and form feed) take two
septets, and the pair is never split across segments. Any other character (``ê``, ``ô``, Arabic,
an emoji) makes the whole text UCS-2: 70 UTF-16 units in one message, 67 per segment, a surrogate
pair never split. Note that ``é`` is in the GSM alphabet and ``ê`` is not: one accent can double a
French text's cost.

Pure functions, used by the SMS channel's rendering and rate (segments), by the broadcast preview
("12,400 recipients x 2 segments") and by the fake gateways of the tests.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the extension table: sent as an escape and the character, two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7, UCS2 = "GSM-7", "UCS-2"
#: Units (septets or UTF-16 units) in one message alone, and per segment of a longer text.
SINGLE = {GSM7: 160, UCS2: 70}
PER_SEGMENT = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsCost:
    """How a text travels: its encoding, its length in units of that encoding, and its segments."""

    encoding: str
    units: int
    segments: int


#: Punctuation outside GSM-7 with a GSM-7 look-alike (and invisible marks, dropped): one "’" or
#: "·" would make a whole text UCS-2.
LOOK_ALIKES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "·": "-", "•": "-",
                             "…": "...", "→": "->", "\u00a0": " ", "\u200e": None, "\u200f": None,
                             "\ufe0f": None})  # fmt: skip


def gsm_friendly(text: str) -> str:
    """``text`` with typographic punctuation written in GSM-7 when that makes the whole text GSM-7
    (halving its cost); unchanged when it needs UCS-2 anyway (``ê``, Arabic), so nothing is lost."""
    if is_gsm7(text):
        return text
    # Symbols (emoji such as ⏭ 👍 📈, ticks) are decoration: left out rather than paid for.
    plain = "".join(ch for ch in text.translate(LOOK_ALIKES) if unicodedata.category(ch) != "So")
    return plain if is_gsm7(plain) else text


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 default alphabet or its extension."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def encoding_of(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def _unit_sizes(text: str, encoding: str) -> list[int]:
    """Each character's size in units: septets for GSM-7, UTF-16 units for UCS-2."""
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _segments(sizes: list[int], encoding: str) -> int:
    total = sum(sizes)
    if total <= SINGLE[encoding]:
        return 1
    # Fill each segment without splitting a two-unit character (an escape pair, a surrogate pair).
    segments, used = 1, 0
    for size in sizes:
        if used + size > PER_SEGMENT[encoding]:
            segments, used = segments + 1, 0
        used += size
    return segments


def sms_cost(text: str) -> SmsCost:
    """The encoding, length and segments of ``text`` sent as one (concatenated) SMS."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    return SmsCost(encoding, sum(sizes), _segments(sizes, encoding))


def segments_of(text: str) -> int:
    """How many segments ``text`` is sent (and billed) as."""
    return sms_cost(text).segments


def fitting_prefix(text: str, max_segments: int) -> int:
    """The length (in characters) of the longest start of ``text`` that fits ``max_segments``."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    if _segments(sizes, encoding) <= max_segments:
        return len(text)
    segments, used = 1, 0
    for index, size in enumerate(sizes):
        if max_segments == 1:
            if used + size > SINGLE[encoding]:
                return index
        elif used + size > PER_SEGMENT[encoding]:
            if segments == max_segments:
                return index
            segments, used = segments + 1, 0
        used += size
    return len(text)


def split_to_segments(text: str, max_segments: int) -> list[str]:
    """``text`` as messages of at most ``max_segments`` segments each, in order.

    A piece ends at the last line break (else space) of what fits when that lies in its second
    half, otherwise where it stops fitting; the spaces and breaks around a cut are dropped. The encoding is decided
    per piece, so an ``ê`` only makes its own piece UCS-2.
    """
    pieces: list[str] = []
    while True:
        fits = fitting_prefix(text, max_segments)
        if fits >= len(text):
            pieces.append(text)
            return pieces
        cut = text.rfind("\n", 0, fits + 1)
        if cut <= fits // 2:
            cut = text.rfind(" ", 0, fits + 1)
        if cut <= fits // 2:
            cut = fits
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
        if not text:
            return pieces
