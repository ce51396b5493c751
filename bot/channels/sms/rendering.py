"""The core's :class:`~handlers.messages.Outbound` as SMS texts, within a number of segments.

Pure functions, no I/O. SMS has no buttons, no formatting and no files, so:

- the text comes first (a question's first line stays its first line), formatting dropped and a
  link's address written after its words;
- the choices follow as ``1. label`` lines; a reply that is just the number presses that
  choice (the channel keeps the numbers' payloads: :mod:`storage.sms_menus`). One question
  per message: each :class:`Outbound` is its own message.
- a ``select_multiple`` question lists its options without ticks and without *Done*: the person
  replies with all the numbers at once ("1 3"), which the survey reads as the selection; a line
  in the person's language says so (``sms_tick_hint``), as a survey's own hint ("Tick all that
  apply, then press Done.") speaks of buttons;
- *Skip* (and *Keep*, the default) are shown as ``[Skip]`` and answered by typing the word, so
  that a typed number is never taken for them (an optional number question reads "5" as 5);
- buttons that open a web page become ``label: address`` lines; pictures (charts), files and
  the buttons that ask for them are left out: a figure comes as one SMS, without its chart;
- emoji and other symbols are left out when that makes the text GSM-7;
- a message that stands in for the pressed one (the answered question) is left out when
  another follows it (:func:`without_echoes`);
- typographic punctuation (curly quotes, dashes, the middle dot) is written in GSM-7 when that makes the whole text
  GSM-7 (:func:`common.sms_segments.gsm_friendly`), which halves its cost;
- a text longer than ``max_segments`` segments (GSM-7 or UCS-2, :mod:`common.sms_segments`) is
  split into several messages of at most that many segments each, at line breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.sms_segments import gsm_friendly, segments_of, split_to_segments
from handlers import data, payloads
from handlers.messages import Button, Outbound
from handlers.notices import Notice
from handlers.texts import Texts
from surveys.answers import fold

TICKS = ("✅ ", "◻️ ", "✓ ")
#: Buttons that answer with a file (a lookup's chart and CSV): SMS cannot carry them.
FILE_PAYLOADS = (f"{data.PREFIX}{data.CHART}:", f"{data.PREFIX}{data.FILE}:")
#: Prompt buttons answered by typing their word rather than a number.
WORD_OPS = frozenset({payloads.SKIP, payloads.DEFAULT})


@dataclass(frozen=True)
class SmsMessage:
    """What one :class:`Outbound` becomes: the texts to send, and the replies that press a button.

    ``menu`` maps what a person may reply (``"2"``, or a folded word such as ``"skip"``) to the
    payload it stands for; empty when the message offers nothing to press.
    """

    texts: tuple[str, ...]
    menu: tuple[tuple[str, str], ...] = ()

    @property
    def segments(self) -> int:
        return sum(segments_of(text) for text in self.texts)


def _label(button: Button) -> str:
    label = button.label
    for tick in TICKS:
        if label.startswith(tick):
            return label[len(tick) :]
    return label


def _plain(outbound: Outbound) -> str:
    if not outbound.rich:
        return outbound.text
    parts = []
    for span in outbound.rich:
        text = span.text
        if span.link is not None and span.link not in span.text:
            text = f"{text} ({span.link})"
        parts.append(text)
    return "".join(parts)


def _choices(buttons: tuple[Button, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """The lines that show the buttons, and the menu of replies that press them."""
    numbered: list[str] = []
    words: list[str] = []
    links: list[str] = []
    menu: list[tuple[str, str]] = []
    for button in buttons:
        if button.url is not None:
            links.append(f"{button.label}: {button.url}")
            continue
        if button.payload.startswith(FILE_PAYLOADS):
            continue
        press = payloads.parse(button.payload)
        op = press.op if press is not None else None
        if op == payloads.DONE:
            continue  # the numbers replied at once are the selection
        if op in WORD_OPS:
            words.append(f"[{gsm_friendly(button.label).strip()}]")
            menu.append((fold(button.label), button.payload))
            continue
        number = str(len(numbered) + 1)
        numbered.append(f"{number}. {gsm_friendly(_label(button)).strip()}")
        if op != payloads.TOGGLE:  # a ticked option is answered by its number as typed text
            menu.append((number, button.payload))
    lines = numbered + ([" ".join(words)] if words else []) + links
    return lines, menu


def _ticks(outbound: Outbound) -> bool:
    """Whether ``outbound`` asks a ``select_multiple`` question (its options are ticked)."""
    return any(
        (press := payloads.parse(b.payload)) is not None and press.op == payloads.TOGGLE for b in outbound.flat_buttons
    )


def without_echoes(replies: list[Outbound]) -> list[Outbound]:
    """The replies worth an SMS: a message that only stands in for the pressed one (a question
    with its answer, which Telegram edits in place) is left out when another follows it, as the
    next question or the closing text shows where the person is; each SMS costs."""
    return [
        reply
        for index, reply in enumerate(replies)
        if not (reply.replaces_pressed and not reply.buttons and index < len(replies) - 1)
    ]


def render(outbound: Outbound, max_segments: int) -> SmsMessage | None:
    """The SMS texts that show ``outbound`` (None when nothing of it can go by SMS: a file alone)."""
    lines, menu = _choices(outbound.flat_buttons)
    if _ticks(outbound):
        lines.append(Texts(outbound.language or "")("sms_tick_hint"))
    text = gsm_friendly("\n".join(part for part in (_plain(outbound).strip(), "\n".join(lines)) if part))
    if not text:
        return None
    return SmsMessage(tuple(split_to_segments(text, max_segments)), tuple(menu))


def menu_key(text: str) -> str:
    """What a reply is looked up by in a menu: its folded words (a number stays a number)."""
    return fold(text)


def notice_segments(notice: Notice, max_segments: int) -> dict[str, int]:
    """What the notice costs each SMS recipient, in segments, by language (shown before sending)."""
    costs = {}
    for language in notice.languages:
        message = render(notice.outbound(language), max_segments)
        costs[language] = message.segments if message is not None else 0
    return costs
