"""Turning what a user typed into a stored answer, or a reason why it is not one.

Answers are stored as XLSForm stores them: strings. select_one is the choice name,
select_multiple the chosen names separated by single spaces, numbers in plain decimal notation,
dates as ISO 8601 (``YYYY-MM-DD``), times as ``HH:MM:SS``, date-times as ``YYYY-MM-DDTHH:MM:SS``
(with the offset when one is typed), an acknowledgement as ``OK``, a geopoint as ODK stores it (``"lat lon alt acc"``, or ``"lat lon"``
when typed), a geotrace or geoshape as its points joined by ``";"``, a rank as the choice names in the
order given (space-separated, as ODK), an osm feature as ``"lat lon;key=value;key=value"``. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation

from common.errors import BarazaError
from surveys.model import ACKNOWLEDGED, GEO_TYPES, MEDIA_TYPES, Choice, LocalizedText, Question, QuestionType

MAX_TEXT_LENGTH = 2000
#: Fewest points of a line (geotrace) and of an area (geoshape, before closing it).
MIN_POINTS = {QuestionType.GEOTRACE: 2, QuestionType.GEOSHAPE: 3}
#: Most points one geotrace or geoshape keeps (a conversation's position holds them).
MAX_POINTS = 200
# A typed point: "lat lon", "lat, lon" or "lat;lon", optionally altitude and accuracy after them.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_TYPED_POINT = re.compile(
    rf"\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})(?:\s*[,;\s]\s*({_NUMBER}))?(?:\s*[,;\s]\s*({_NUMBER}))?\s*"
)


@dataclass(frozen=True)
class Problem:
    """Why an answer was refused: a ``code`` the bot translates, with its ``params``.

    ``message`` is the survey's own text for it (``constraint_message``, ``required_message``),
    shown instead of the bot's when present.
    """

    code: str
    params: dict[str, str] = field(default_factory=dict)
    message: LocalizedText | None = None


class InvalidAnswer(BarazaError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a label, for matching what users type."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", stripped).split())


def match_choice(question: Question, typed: str, choices: tuple[Choice, ...] | None = None) -> Choice | None:
    """The choice a user means by ``typed``: its number in the list shown, its name, or its label.

    ``choices`` are the choices shown (after a ``choice_filter``); by default all of them.
    """
    shown = question.choices if choices is None else choices
    text = typed.strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is true, but int("²") raises
        index = int(text) - 1
        return shown[index] if 0 <= index < len(shown) else None
    folded = fold(text)
    if not folded:
        return None
    for choice in shown:
        if folded == fold(choice.name) or any(folded == fold(label) for label in choice.label.all_texts()):
            return choice
    return None


def _format_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def parse_number(typed: str) -> Decimal | None:
    """Read ``1234``, ``1 234,5``, ``1,234.5``, ``-3.25``; None if it is not a number."""
    text = typed.strip().replace("\u00a0", " ").replace("\u202f", " ").replace("_", "")
    text = text.replace("\u066b", ".").replace("\u066c", ",")  # Arabic decimal and thousands separators
    text = text.replace(" ", "")
    if text.count(",") == 1 and "." not in text and not re.fullmatch(r"-?\d{1,3},\d{3}", text):
        text = text.replace(",", ".")  # decimal comma, as written in most of the world
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")  # thousands separators
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_date(typed: str) -> date | None:
    """Read ``2026-03-31``, ``31/03/2026``, ``31.03.2026`` or ``31-03-2026``; None otherwise."""
    text = typed.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    day_first = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if day_first:
            return date(int(day_first[3]), int(day_first[2]), int(day_first[1]))
    except ValueError:
        return None
    return None


_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?:\s*[:hH.]\s*(?P<minute>\d{2})(?:\s*:\s*(?P<second>\d{2}))?)?\s*"
    r"(?P<half>[aApP]\.?\s*[mM]\.?)?"
)
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
#: Words that acknowledge (the languages the bot speaks), besides pressing the button.
ACKNOWLEDGE_WORDS = frozenset({"ok", "okay", "yes", "oui", "sim", "d accord", "نعم", "حسنا", "1"})


def parse_time(typed: str) -> time | None:
    """Read ``14:30``, ``14:30:15``, ``14h30``, ``2:30 pm``, ``9 am``; None otherwise."""
    match = _TIME.fullmatch(typed.strip())
    if match is None or (match["minute"] is None and match["half"] is None):
        return None
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["half"][0] in "pP" else 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        return None


def parse_datetime(typed: str) -> str | None:
    """A date and a time (``2026-03-31 14:30``, ``31/03/2026 2:30 pm``, ISO 8601 with ``T`` and an
    offset) as ``YYYY-MM-DDTHH:MM:SS`` with the offset typed, if any; None otherwise."""
    text = typed.strip()
    offset = ""
    found = _OFFSET.search(text)
    if found and "T" in text.upper():
        offset = found.group()
        offset = "+00:00" if offset == "Z" else (offset if ":" in offset else f"{offset[:3]}:{offset[3:]}")
        text = text[: found.start()]
    parts = re.split(r"[Tt]|\s+(?=\d{1,2}\s*[:hH.]?\s*\d{0,2})", text, maxsplit=1)
    if len(parts) != 2:
        return None
    day, moment = parse_date(parts[0]), parse_time(parts[1])
    if day is None or moment is None:
        return None
    return f"{day.isoformat()}T{moment.isoformat()}{offset}"


def _check_bounds(value: Decimal, question: Question) -> None:
    if question.minimum is not None and value < question.minimum:
        raise InvalidAnswer(Problem("below_minimum", {"min": _format_decimal(question.minimum)}))
    if question.maximum is not None and value > question.maximum:
        raise InvalidAnswer(Problem("above_maximum", {"max": _format_decimal(question.maximum)}))


def range_points(question: Question) -> list[str]:
    """The values a range question offers, as stored strings."""
    assert question.minimum is not None and question.maximum is not None and question.step is not None
    points: list[str] = []
    value = question.minimum
    while value <= question.maximum:
        points.append(_format_decimal(value))
        value += question.step
    return points


def parse_typed_answer(question: Question, typed: str, choices: tuple[Choice, ...] | None = None) -> str:
    """The stored form of a typed answer to ``question``; raises :class:`InvalidAnswer`.

    ``choices`` are the choices shown to the user (after a ``choice_filter``).
    """
    text = typed.strip()
    if not text:
        raise InvalidAnswer(Problem("empty"))
    kind = question.type
    shown = question.choices if choices is None else choices
    if kind is QuestionType.SELECT_ONE:
        choice = match_choice(question, text, shown)
        if choice is None:
            raise InvalidAnswer(Problem("unknown_choice", {"count": str(len(shown))}))
        return choice.name
    if kind is QuestionType.SELECT_MULTIPLE:
        return _parse_multiple(question, text, shown)
    if kind is QuestionType.INTEGER:
        number = parse_number(text)
        if number is None or number != number.to_integral_value():
            raise InvalidAnswer(Problem("not_integer"))
        _check_bounds(number, question)
        return _format_decimal(number)
    if kind is QuestionType.DECIMAL:
        number = parse_number(text)
        if number is None:
            raise InvalidAnswer(Problem("not_number"))
        _check_bounds(number, question)
        return _format_decimal(number)
    if kind is QuestionType.RANGE:
        number = parse_number(text)
        points = range_points(question)
        if number is None or _format_decimal(number) not in points:
            raise InvalidAnswer(Problem("not_in_range", {"start": points[0], "end": points[-1]}))
        return _format_decimal(number)
    if kind is QuestionType.DATE:
        parsed = parse_date(text)
        if parsed is None:
            raise InvalidAnswer(Problem("not_date"))
        return parsed.isoformat()
    if kind is QuestionType.TIME:
        moment = parse_time(text)
        if moment is None:
            raise InvalidAnswer(Problem("not_time"))
        return moment.isoformat()
    if kind is QuestionType.DATETIME:
        stamp = parse_datetime(text)
        if stamp is None:
            raise InvalidAnswer(Problem("not_datetime"))
        return stamp
    if kind is QuestionType.ACKNOWLEDGE:
        if fold(text) not in ACKNOWLEDGE_WORDS:
            raise InvalidAnswer(Problem("not_acknowledged"))
        return ACKNOWLEDGED
    if kind in (QuestionType.TEXT, QuestionType.BARCODE):  # a barcode is typed (its digits or text)
        if len(text) > MAX_TEXT_LENGTH:
            raise InvalidAnswer(Problem("too_long", {"max": str(MAX_TEXT_LENGTH)}))
        return text
    if kind in GEO_TYPES:
        return parse_point(text)
    if kind is QuestionType.RANK:
        return parse_rank(question, text, shown)
    if kind is QuestionType.OSM:
        return parse_osm(question, text)
    if kind in MEDIA_TYPES:
        raise InvalidAnswer(expected_problem(question))
    raise InvalidAnswer(Problem("no_answer_expected"))


def expected_problem(question: Question) -> Problem:
    """What a media or location question needs, as the problem of an input that is not it
    (``expects_image``, ``expects_geopoint``, ...; a geotrace and a geoshape take ``expects_points``)."""
    kind = "points" if question.type in MIN_POINTS else question.type.value
    params = {"min": str(MIN_POINTS[question.type])} if question.type in MIN_POINTS else {}
    return Problem(f"expects_{kind}", params)


def _coordinate(text: str) -> str:
    return _format_decimal(Decimal(text))


def format_point(
    latitude: float, longitude: float, altitude: float | None = None, accuracy: float | None = None
) -> str:
    """A point as ODK stores it: ``"lat lon alt acc"`` (``"lat lon"`` without altitude and accuracy).

    Raises :class:`InvalidAnswer` when the latitude or longitude is out of range.
    """
    if not -90 <= latitude <= 90:
        raise InvalidAnswer(Problem("latitude_out_of_range"))
    if not -180 <= longitude <= 180:
        raise InvalidAnswer(Problem("longitude_out_of_range"))
    parts = [latitude, longitude]
    if altitude is not None or accuracy is not None:
        parts += [altitude or 0.0, accuracy or 0.0]
    return " ".join(_coordinate(repr(float(part))) for part in parts)


def parse_point(typed: str) -> str:
    """A typed point, ``"lat lon"`` or ``"lat, lon"`` (altitude and accuracy may follow), in the
    stored form (see :func:`format_point`); raises :class:`InvalidAnswer` with the reason.

    A decimal comma cannot be told from the separator, so coordinates use a decimal point.
    """
    match = _TYPED_POINT.fullmatch(typed)
    if match is None:
        raise InvalidAnswer(Problem("not_geopoint"))
    latitude, longitude, altitude, accuracy = match.groups()
    if accuracy is None and altitude is not None:
        accuracy = "0"
    numbers = [Decimal(part) for part in (latitude, longitude, altitude, accuracy) if part is not None]
    if not -90 <= numbers[0] <= 90:
        raise InvalidAnswer(Problem("latitude_out_of_range"))
    if not -180 <= numbers[1] <= 180:
        raise InvalidAnswer(Problem("longitude_out_of_range"))
    if len(numbers) == 4 and numbers[3] < 0:
        raise InvalidAnswer(Problem("not_geopoint"))
    return " ".join(_format_decimal(number) for number in numbers)


def point_token(point: str) -> str:
    """A stored point (``"lat lon alt acc"``) as one space-free token, for a series being collected."""
    return point.replace(" ", ",")


def join_points(question: Question, tokens: tuple[str, ...]) -> str:
    """The stored geotrace/geoshape: the collected points joined by ``";"``; a geoshape is closed
    (its first point repeated at the end) unless the person closed it."""
    points = [token.replace(",", " ") for token in tokens]
    if question.type is QuestionType.GEOSHAPE and points and points[0] != points[-1]:
        points.append(points[0])
    return ";".join(points)


def _parse_multiple(question: Question, text: str, shown: tuple[Choice, ...]) -> str:
    """Typed select_multiple answers: numbers or labels separated by commas (or spaces for numbers)."""
    # Commas and semicolons in Latin and Arabic script separate the choices.
    parts = [p for p in re.split(r"[,;،؛]|\s+(?=\d)", text) if p.strip()]
    chosen: list[str] = []
    for part in parts:
        choice = match_choice(question, part, shown)
        if choice is None:
            raise InvalidAnswer(Problem("unknown_choices", {"count": str(len(shown))}))
        if choice.name not in chosen:
            chosen.append(choice.name)
    return join_selection(question, chosen)


def join_selection(question: Question, chosen: list[str] | tuple[str, ...]) -> str:
    """The stored select_multiple value: chosen names in the order of the choice list."""
    order = dict.fromkeys(c.name for c in question.choices)  # a name twice (search(${q}) files) once
    return " ".join(name for name in order if name in chosen)


def parse_rank(question: Question, text: str, shown: tuple[Choice, ...]) -> str:
    """A typed ranking: every choice shown, once, by number or label, first to last (``"3 1 2"``,
    ``"3, 1, 2"`` or labels separated by commas); stored as ODK does, the names space-separated."""
    parts = [p for p in re.split(r"[,;،؛]|\s+(?=\d)|(?<=\d)\s+", text) if p.strip()]
    order: list[str] = []
    for part in parts:
        choice = match_choice(question, part, shown)
        if choice is None or choice.name in order:
            raise InvalidAnswer(Problem("not_ranking", {"count": str(len(shown))}))
        order.append(choice.name)
    if len(order) != len(shown):
        raise InvalidAnswer(Problem("not_ranking", {"count": str(len(shown))}))
    return " ".join(order)


def parse_osm(question: Question, text: str) -> str:
    """A typed OpenStreetMap feature: its location (as a geopoint is typed) then its tags, each
    ``key=value`` after a ``;`` (``"-1.29 36.82; amenity=school; name=Hope"``). A tag is named by
    its key or label; a tag with values takes one of them (its name, label or number). Stored as
    ``"lat lon;key=value;..."``, the tags in the order of the form's list."""
    pieces = [piece.strip() for piece in text.split(";")]
    point = parse_point(" ".join(piece for piece in pieces if "=" not in piece))
    given: dict[str, str] = {}
    for piece in (piece for piece in pieces if "=" in piece):
        typed_key, _, typed_value = (part.strip() for part in piece.partition("="))
        tag = next(
            (t for t in question.osm_tags if t.key == typed_key or fold(typed_key) in map(fold, t.label.all_texts())),
            None,
        )
        if tag is None:
            keys = ", ".join(t.key for t in question.osm_tags)
            raise InvalidAnswer(Problem("unknown_osm_tag", {"tag": typed_key, "keys": keys}))
        value = typed_value
        if tag.choices:
            choice = match_choice(question, typed_value, tag.choices)
            if choice is None:
                values = ", ".join(c.name for c in tag.choices)
                raise InvalidAnswer(Problem("unknown_osm_value", {"tag": tag.key, "values": values}))
            value = choice.name
        if not value:
            raise InvalidAnswer(Problem("unknown_osm_value", {"tag": tag.key, "values": "…"}))
        given[tag.key] = value
    return ";".join([point, *(f"{t.key}={given[t.key]}" for t in question.osm_tags if t.key in given)])
