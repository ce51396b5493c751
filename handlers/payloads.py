"""Button payloads: short tokens (at most 64 bytes, Telegram's limit) naming what a press means.

``s:<survey id>`` starts a survey; ``q:<serial>:<op>[:<index>]`` answers the prompt numbered
``serial`` (``c`` choose option ``index``, ``t`` tick/untick it, ``d`` done, ``k`` skip, ``f`` keep
the default; on the summary ``s`` submit, ``e`` change an answer, ``g`` go to question ``index``).
The serial is checked against the stored conversation, so a press on an earlier prompt, or a
forged payload, changes nothing. A Done carries the ticks its keyboard shows, as a bit mask of
option indexes (``q:<serial>:d:<mask>``), so that what is recorded is what the person saw.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 64
START_SURVEY_PREFIX = "s:"
CHOOSE, TOGGLE, DONE, SKIP, DEFAULT = "c", "t", "d", "k", "f"
SUBMIT, EDIT, GO_TO = "s", "e", "g"
WITH_INDEX = frozenset({CHOOSE, TOGGLE, GO_TO})
WITHOUT_INDEX = frozenset({DONE, SKIP, DEFAULT, SUBMIT, EDIT})
#: Ops whose index may be left out: Done without its mask (keyboards sent before masks existed).
OPTIONAL_INDEX = frozenset({DONE})


@dataclass(frozen=True)
class PromptPress:
    """A press on the prompt numbered ``serial``: ``op`` on option (or question) ``index``."""

    serial: int
    op: str
    index: int | None = None


def start_survey(survey_id: str) -> str:
    return START_SURVEY_PREFIX + survey_id


def prefixed(prefix: str, value: str) -> str:
    """``prefix`` + ``value`` as a payload; the caller's ids are short enough to fit the limit."""
    payload = prefix + value
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    return payload


def prompt_press(serial: int, op: str, index: int | None = None) -> str:
    payload = f"q:{serial}:{op}" if index is None else f"q:{serial}:{op}:{index}"
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    return payload


def _too_long(payload: str) -> bool:
    return len(payload.encode("utf-8", "replace")) > MAX_PAYLOAD_BYTES


def survey_of(payload: str) -> str | None:
    """The survey a survey button (``s:<survey id>``) opens, or None if it is not one Baraza issues."""
    parts = payload.split(":")
    if _too_long(payload) or len(parts) != 2 or parts[0] + ":" != START_SURVEY_PREFIX or not parts[1]:
        return None
    return parts[1]


def parse(payload: str) -> PromptPress | None:
    """The prompt press a payload means, or None if it is not one Baraza issues."""
    if _too_long(payload):
        return None
    parts = payload.split(":")
    if parts[0] != "q" or len(parts) not in (3, 4) or not _is_number(parts[1]):
        return None
    op = parts[2]
    if (op in WITH_INDEX or op in OPTIONAL_INDEX) and len(parts) == 4 and _is_number(parts[3]):
        return PromptPress(int(parts[1]), op, int(parts[3]))
    if op in WITHOUT_INDEX and len(parts) == 3:
        return PromptPress(int(parts[1]), op)
    return None


#: Digits of the largest number :func:`parse_number` accepts (below a 64-bit database integer).
MAX_NUMBER_DIGITS = 18


def parse_number(text: str) -> int | None:
    """A whole number written with ASCII digits only and small enough for a database id, else None.

    ``str.isdigit`` is not enough: it accepts "²" (which ``int`` refuses) and "٣", and a
    forged "99999999999999999999" overflows PostgreSQL's bigint.
    """
    if not (text.isascii() and text.isdecimal()) or len(text) > MAX_NUMBER_DIGITS:
        return None
    return int(text)


#: Most options whose ticks a Done payload carries (a mask below ``2**59`` has at most 18 digits).
MAX_MASK_OPTIONS = 59


def selection_mask(indexes: list[int]) -> int | None:
    """The bit mask of ticked option ``indexes`` for a Done payload; None beyond
    :data:`MAX_MASK_OPTIONS` (that Done then stands for the stored ticks)."""
    if any(index >= MAX_MASK_OPTIONS for index in indexes):
        return None
    return sum(1 << index for index in set(indexes))


def _is_number(text: str) -> bool:
    return parse_number(text) is not None
