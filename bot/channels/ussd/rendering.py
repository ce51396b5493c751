"""The core's replies as USSD screens: pure functions, no I/O.

A USSD screen is one text of at most 182 characters (:data:`SCREEN_LIMIT`)
and the person answers by typing. :func:`screen_of` turns the replies to one input into a
:class:`Screen` (their texts joined; the last reply's buttons as the menu); :func:`pages` lays it
out in pages that fit, and :func:`read_input` says what a typed input means on a page.

- Buttons are **numbered menu items** ("1. Citizen"); typing the number presses the button.
- A menu too long for one screen is paginated: "9 More" and "0 Back" (the words in the
  person's language); items are numbered 1-8 on each page, so 9 and 0 stay free. Pages break
  between lines, a long text between words; a label is shortened (with "...") only when it cannot
  fit a page on its own.
- A question answered by typing (an integer, a date, a text) has no menu: what is typed goes to
  the core as text. Its Skip button is written as the word that skips ("Skip: skip"), as a
  number would be read as the answer. A scale whose every choice is a number (a ``range``) is
  shown on one line ("1 2 3 4 5") and answered by typing the number itself.
- Ticks of a ``select_multiple`` become ``[x]`` and ``[ ]``, and a line in the person's language
  says how to tick there (``ussd_tick_hint``: a number ticks or unticks, then Done), as a
  survey's own hint speaks of buttons; typographic punctuation its plain
  form (``3/12 - ...``); other symbols (emoji) are dropped, as operators cannot show them.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from handlers import payloads
from handlers.messages import Outbound
from handlers.texts import Texts

#: The characters a USSD screen holds (what Africa's Talking and the operators show).
SCREEN_LIMIT = 182
MORE_KEY, BACK_KEY = "9", "0"
#: Items on one page of a paginated menu (1-8: 9 and 0 turn the pages).
PAGE_ITEMS = 8
_TICKS = {"✅": "[x]", "◻️": "[ ]", "◻": "[ ]"}
#: Punctuation outside the GSM 7-bit alphabet that operators' USSD screens show, as its plain form.
_PLAIN_PUNCTUATION = str.maketrans(
    {"·": "-", "…": "...", "‘": "'", "’": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-",
     "→": "->", "\u00a0": " ", "\u202f": " "}
)  # fmt: skip
#: What a shortened text ends with.
ELLIPSIS = "..."
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\ufe0f\ufe0e\u200d"))
#: Buttons written as a typed word on a screen that takes a typed answer.
_WORD_OPS = frozenset({payloads.SKIP, payloads.DEFAULT})


@dataclass(frozen=True)
class Item:
    """One menu item: what it says and the payload typing its number presses."""

    label: str
    payload: str


@dataclass(frozen=True)
class Screen:
    """What one answer of the core shows on a phone, before it is laid out in pages.

    ``items`` are numbered on each page; ``by_label`` are buttons pressed by typing their label
    (a numeric scale); ``end`` closes the session (END) instead of waiting for input (CON).
    """

    body: str
    items: tuple[Item, ...] = ()
    by_label: tuple[Item, ...] = ()
    end: bool = False
    language: str | None = None
    #: The text of the last reply alone (the question, without the notes and reasons before it).
    last: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "body": self.body,
                "items": [[i.label, i.payload] for i in self.items],
                "by_label": [[i.label, i.payload] for i in self.by_label],
                "end": self.end,
                "language": self.language,
                "last": self.last,
            },
            ensure_ascii=False,
        )

    @staticmethod
    def from_json(text: str) -> Screen:
        raw = json.loads(text)
        return Screen(
            body=str(raw["body"]),
            items=tuple(Item(str(label), str(payload)) for label, payload in raw.get("items", ())),
            by_label=tuple(Item(str(label), str(payload)) for label, payload in raw.get("by_label", ())),
            end=bool(raw.get("end")),
            language=raw.get("language"),
            last=str(raw.get("last", "")),
        )

    @property
    def typed(self) -> bool:
        """Whether the answer is typed (no numbered menu): a lone 0 or 9 may then be an answer."""
        return not self.items


@dataclass(frozen=True)
class Page:
    """One screen as sent: its text (without ``CON``/``END``) and the items numbered on it."""

    text: str
    items: tuple[Item, ...]
    more: bool
    back: bool


def plain(text: str) -> str:
    """``text`` as an operator shows it: ticks as ``[x]``/``[ ]``, typographic punctuation as its
    plain form (``·`` as ``-``, ``…`` as ``...``, curly quotes straight), emoji and direction marks
    dropped."""
    for tick, shown in _TICKS.items():
        text = text.replace(tick, shown)
    text = text.translate(_BIDI_MARKS).translate(_PLAIN_PUNCTUATION)
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Cs", "Co"))
    lines = [" ".join(line.split()) for line in kept.split("\n")]
    return "\n".join(line for line in lines if line)


def _is_number(label: str) -> bool:
    text = label.strip().lstrip("-")
    return bool(text) and text.replace(".", "", 1).isascii() and text.replace(".", "", 1).isdigit()


def skip_word(texts: Texts) -> str:
    """The word that skips a question in the person's language (the first of ``skip_words``)."""
    return texts("skip_words").split(",")[0].strip() or "skip"


def screen_of(replies: Sequence[Outbound], *, waiting: bool, texts: Texts) -> Screen:
    """The screen showing ``replies`` (the answer to one input).

    ``waiting``: the person is in a flow that waits for an answer; else a screen without a
    menu ends the session. A reply that stands in for the pressed message (the answered
    question "→ Citizen") is left out unless it is the last: a USSD screen shows what is next.
    """
    shown = [r for index, r in enumerate(replies) if not r.replaces_pressed or index == len(replies) - 1]
    body_parts = [plain(r.text) for r in shown if plain(r.text)]
    buttons = [b for b in replies[-1].flat_buttons if b.url is None] if replies else []
    ops = [(b, payloads.parse(b.payload)) for b in buttons]
    scale = [b for b, press in ops if press is not None and press.op == payloads.CHOOSE and _is_number(b.label)]
    others = [(b, press) for b, press in ops if b not in scale]
    typed = all(press is not None and press.op in _WORD_OPS for _, press in others)
    if typed:
        if scale:
            body_parts.append(" ".join(plain(b.label) for b in scale))
        for button, press in others:
            label = plain(button.label)
            # Skip is typed as the skip word; a kept default as the value itself, shown in its label.
            body_parts.append(f"{label}: {skip_word(texts)}" if press and press.op == payloads.SKIP else label)
        items: tuple[Item, ...] = ()
        by_label = tuple(Item(plain(b.label), b.payload) for b in scale)
    else:
        # A label is one line of the menu.
        items = tuple(Item(plain(b.label).replace("\n", " ") or ELLIPSIS, b.payload) for b in buttons)
        if any(press is not None and press.op == payloads.TOGGLE for _, press in ops):
            body_parts.append(texts("ussd_tick_hint", done=plain(texts("button_done"))))
        by_label = ()
    language = replies[-1].language if replies else None
    end = not waiting and not items and not by_label
    last = plain(replies[-1].text) if replies else ""
    return Screen("\n".join(body_parts), items, by_label, end, language, last)


#: A text is split to fill the rest of a page only when at least this much room is left.
MIN_PIECE = 20


def _lines(body: str) -> list[str]:
    return [line for line in body.split("\n") if line]


def _split_words(text: str, room: int) -> tuple[str, str]:
    """The words of ``text`` that fit ``room`` characters, and the rest ("" and ``text`` if none fit)."""
    cut = text.rfind(" ", 0, room + 1)
    if cut <= 0:
        return "", text
    return text[:cut], text[cut + 1 :]


def _shortened(label: str, width: int) -> str:
    """``label`` within ``width`` characters: cut between words, ending in "..." (a last resort)."""
    if len(label) <= width:
        return label
    room = width - len(ELLIPSIS)
    head, _ = _split_words(label, room)
    return (head if len(head) > width // 2 else label[:room]).rstrip() + ELLIPSIS


def _cut(body: str, menu: list[str], limit: int) -> str:
    """An END text within ``limit``: whole lines while they fit, then the words that fit, then "..."."""
    kept: list[str] = []
    for line in [*_lines(body), *menu]:
        room = limit - len(ELLIPSIS) - len("\n".join(kept)) - (1 if kept else 0)
        if len(line) <= room:
            kept.append(line)
            continue
        head, _ = _split_words(line, room)
        return "\n".join([*kept, head] if head else kept) + ELLIPSIS
    return "\n".join(kept)


Laid = list[list[tuple[str, Item | None]]]


def _size(page: list[tuple[str, Item | None]]) -> int:
    # Items are numbered 1-8 on a page: one digit, a dot and a space before each.
    return sum(len(text) + (3 if item is not None else 0) for text, item in page) + max(len(page) - 1, 0)


def _lay_text(laid: Laid, line: str, width: int) -> None:
    """Put ``line`` on the pages, splitting it between words to fill the page it starts on."""
    rest = line
    while rest:
        page = laid[-1]
        room = width - _size(page) - (1 if page else 0)
        if len(rest) <= room:
            page.append((rest, None))
            return
        head, tail = _split_words(rest, room) if room >= MIN_PIECE or not page else ("", rest)
        if not head and not page:
            # A word longer than a page (an address) is the only thing ever cut inside.
            head, tail = rest[:room], rest[room:]
        if head:
            page.append((head, None))
        rest = tail
        laid.append([])


def pages(screen: Screen, texts: Texts, limit: int = SCREEN_LIMIT) -> list[Page]:
    """``screen`` laid out in pages of at most ``limit`` characters (one page when it fits).

    An END screen is one page: the session is over, nothing can turn it; a text too long is
    cut between words and ends in "...".
    """
    numbered = [f"{n}. {item.label}" for n, item in enumerate(screen.items, start=1)]
    whole = "\n".join([*_lines(screen.body), *numbered])
    if len(whole) <= limit:
        return [Page(whole, screen.items, more=False, back=False)]
    if screen.end:
        return [Page(_cut(screen.body, numbered, limit), (), more=False, back=False)]
    more, back = f"{MORE_KEY} {texts('ussd_more')}", f"{BACK_KEY} {texts('ussd_back')}"
    width = limit - len(more) - len(back) - 2  # the two line breaks before them
    laid: Laid = [[]]
    body = _lines(screen.body)
    for index, line in enumerate(body):
        if index == len(body) - 1 and screen.items and laid[-1]:
            # The question starts a page with its first choice rather than end one without it.
            first = (_shortened(screen.items[0].label, width - 3), screen.items[0])
            if _size([*laid[-1], (line, None), first]) > width >= _size([(line, None), first]):
                laid.append([])
        _lay_text(laid, line, width)
    for item in screen.items:
        entry = (_shortened(item.label, width - 3), item)
        candidate = [*laid[-1], entry]
        if laid[-1] and (_size(candidate) > width or sum(i is not None for _, i in candidate) > PAGE_ITEMS):
            laid.append([])
        laid[-1].append(entry)
    laid = [page for page in laid if page]
    result = []
    for index, page in enumerate(laid):
        items = tuple(on_page for _, on_page in page if on_page is not None)
        shown, number = [], 0
        for text, on_page in page:
            if on_page is not None:
                number += 1
                text = f"{number}. {text}"
            shown.append(text)
        last = index == len(laid) - 1
        # On the last page of a typed answer, a lone 0 is the answer (0 children), not Back.
        has_back = index > 0 and not (last and screen.typed)
        has_more = not last
        shown += [more] if has_more else []
        shown += [back] if has_back else []
        result.append(Page("\n".join(shown), items, more=has_more, back=has_back))
    return result


@dataclass(frozen=True)
class Reading:
    """What one typed input means: turn to ``page``, press ``payload``, or answer ``text``."""

    page: int | None = None
    payload: str | None = None
    text: str | None = None
    #: A number that is no item of the page: the page is shown again with the reason.
    not_in_menu: bool = False


def read_input(screen: Screen, laid: Sequence[Page], page: int, typed: str) -> Reading:
    """What ``typed`` means on page ``page`` of ``screen`` (laid out as ``laid``)."""
    shown = laid[min(page, len(laid) - 1)]
    value = typed.strip()
    if value == MORE_KEY and shown.more:
        return Reading(page=page + 1)
    if value == BACK_KEY and shown.back:
        return Reading(page=page - 1)
    for item in screen.by_label:
        if item.label == value:
            return Reading(payload=item.payload)
    if value.isascii() and value.isdigit() and not screen.typed:
        if 1 <= int(value) <= len(shown.items):
            return Reading(payload=shown.items[int(value) - 1].payload)
        # The core would read it as a choice's number in the whole list, not on this page.
        return Reading(not_in_menu=True)
    return Reading(text=typed)


def response(screen: Screen, page: Page) -> str:
    """The body of the answer to the gateway: ``CON`` and the page, or ``END`` and the text."""
    return ("END " if screen.end else "CON ") + page.text
