"""The bot's own words in each language it speaks.

Survey texts come from the survey files; these are the messages around them (greetings,
errors, buttons). They live in gettext catalogues, ``handlers/locale/<lang>/LC_MESSAGES/baraza.po``,
read with Babel when this module is imported (no compile step). A message's ``msgid`` is its key
(``greeting``, ``problem_not_integer``) and its ``msgstr`` the text, with ``{name}`` placeholders.
``handlers/locale/baraza.pot`` is the template for a new language. English is the fallback for
any language or key that is missing.

Right-to-left languages get a RIGHT-TO-LEFT MARK at the start of each line (:func:`rtl`): chat
apps take a paragraph's direction from its first strong character, so a line that starts with a
digit, an emoji or a ``/command`` would otherwise be laid out left to right.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "baraza"
SUPPORTED_LANGUAGES = ("en", "fr", "pt", "ar")
FALLBACK_LANGUAGE = "en"

#: Written right to left (base language codes). The bot speaks Arabic; surveys may be in any.
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"})
RLM = "\u200f"  # RIGHT-TO-LEFT MARK
LRM = "\u200e"  # LEFT-TO-RIGHT MARK
_BIDI_MARKS = "\u200e\u200f\u061c"
# A "/command" at the start of a line or after a space: in a right-to-left line its slash would
# be drawn after the word ("start/") unless a LEFT-TO-RIGHT MARK ties it to the command.
_COMMAND = re.compile(r"(?<![^\s(])/(?=[A-Za-z])")
# Every character whose bidirectional class is R or AL (Hebrew, Arabic, Syriac, Thaana, N'Ko...,
# their presentation forms, the RIGHT-TO-LEFT MARK, and the right-to-left scripts of plane 1)
# lies in these ranges (a test checks it against unicodedata): text without any of them needs
# no look-up per character, and that is nearly every reply in a left-to-right language.
_MAYBE_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\u200f\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalogue(path: Path) -> dict[str, str]:
    """The translated messages of one ``.po`` file by key (fuzzy and empty entries left out)."""
    with path.open("rb") as file:
        catalogue = read_po(file, domain=DOMAIN)
    messages: dict[str, str] = {}
    for message in catalogue:
        key, text = message.id, message.string
        if isinstance(key, str) and key and isinstance(text, str) and text and not message.fuzzy:
            messages[key] = text
    return messages


MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {language: MappingProxyType(load_catalogue(catalogue_path(language))) for language in SUPPORTED_LANGUAGES}
)

#: Each language's own name, for the language picker.
LANGUAGE_NAMES: Mapping[str, str] = MappingProxyType(
    {language: MESSAGES[language].get("language_name", language) for language in SUPPORTED_LANGUAGES}
)


def _base(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0]


def supported_language(hint: str | None) -> str | None:
    """The bot language for a platform language code such as ``fr-CA`` or ``pt-BR``, if the bot speaks it."""
    if not hint:
        return None
    base = _base(hint)
    return base if base in MESSAGES else None


def is_rtl(language: str | None) -> bool:
    """Whether ``language`` (``ar``, ``fa-IR``, ...) is written right to left."""
    return bool(language) and _base(language or "") in RTL_LANGUAGES


def _has_right_to_left_letters(line: str) -> bool:
    if _MAYBE_RIGHT_TO_LEFT.search(line) is None:
        return False
    return any(unicodedata.bidirectional(character) in ("R", "AL") for character in line)


def rtl(text: str) -> str:
    """``text`` with every line written in a right-to-left script starting with a RIGHT-TO-LEFT MARK.

    Telegram takes a paragraph's direction from its first strong character, so "3/12 · <Arabic>"
    would otherwise be laid out left to right. Lines without right-to-left letters (an English
    label, a number) keep their own direction. ``/commands`` stay tied to their slash. Applying
    it twice changes nothing.
    """
    if _MAYBE_RIGHT_TO_LEFT.search(text) is None:
        return text  # no line to change (the common case: called on every reply and button)
    lines = []
    for line in text.split("\n"):
        if not _has_right_to_left_letters(line):
            lines.append(line)
            continue
        body = _COMMAND.sub(LRM + "/", line.lstrip(RLM).replace(LRM + "/", "/"))
        lines.append(RLM + body)
    return "\n".join(lines)


def _fold(text: str) -> str:
    """Case-, accent- and mark-insensitive form of a typed word (Arabic short vowels are marks)."""
    decomposed = unicodedata.normalize("NFKD", text.strip(" \t\n" + _BIDI_MARKS).casefold())
    return "".join(character for character in decomposed if not unicodedata.combining(character))


@functools.cache
def _skip_words(language: str) -> frozenset[str]:
    # Folded once per language: every typed survey answer is checked against them.
    words = f"{Texts(language)('skip_words')},{MESSAGES[FALLBACK_LANGUAGE]['skip_words']}"
    return frozenset(_fold(word) for word in words.split(",") if word.strip())


@functools.cache
def _done_words(language: str) -> frozenset[str]:
    # What ends a series of points (geotrace, geoshape): this language's words and English "done".
    words = f"{Texts(language)('done_words')},{MESSAGES[FALLBACK_LANGUAGE]['done_words']}"
    return frozenset(_fold(word) for word in words.split(",") if word.strip())


class Texts:
    """The bot's messages in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in MESSAGES else FALLBACK_LANGUAGE
        self._messages = MESSAGES[self.language]

    def __call__(self, key: str, **params: str) -> str:
        template = self._messages.get(key) or MESSAGES[FALLBACK_LANGUAGE][key]
        return template.format(**params) if params else template

    @property
    def is_rtl(self) -> bool:
        return is_rtl(self.language)

    def skip_words(self) -> frozenset[str]:
        """What the user may type to skip: this language's words (comma-separated) and English "skip"."""
        return _skip_words(self.language)

    def is_skip_word(self, text: str) -> bool:
        return _fold(text) in self.skip_words()

    def is_done_word(self, text: str) -> bool:
        """Whether ``text`` ends a series of points ("done", or this language's word for it)."""
        return _fold(text) in _done_words(self.language)
