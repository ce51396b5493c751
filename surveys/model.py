"""The survey as the rest of Baraza sees it: frozen values, already validated by the loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from surveys.expressions import Expression
from surveys.results_settings import ResultsSettings


@dataclass(frozen=True)
class LocalizedText:
    """A text in one or more languages (``{"en": "...", "fr": "..."}``)."""

    translations: Mapping[str, str]

    def in_language(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in ``fallback``, else in any language it has."""
        if language in self.translations:
            return self.translations[language]
        if fallback in self.translations:
            return self.translations[fallback]
        return next(iter(self.translations.values()), "")

    def all_texts(self) -> tuple[str, ...]:
        return tuple(self.translations.values())


class QuestionType(StrEnum):
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    INTEGER = "integer"
    DECIMAL = "decimal"
    RANGE = "range"
    DATE = "date"
    TEXT = "text"
    NOTE = "note"
    CALCULATE = "calculate"
    TIME = "time"
    DATETIME = "datetime"
    BARCODE = "barcode"
    ACKNOWLEDGE = "acknowledge"
    # Metadata (XLSForm's start, end, today, deviceid...): filled by Baraza or left empty, never asked.
    START = "start"
    END = "end"
    TODAY = "today"
    DEVICEID = "deviceid"
    USERNAME = "username"
    PHONENUMBER = "phonenumber"
    SIMSERIAL = "simserial"
    SUBSCRIBERID = "subscriberid"
    EMAIL = "email"
    AUDIT = "audit"
    START_GEOPOINT = "start-geopoint"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    GEOPOINT = "geopoint"
    GEOTRACE = "geotrace"
    GEOSHAPE = "geoshape"
    #: Every choice put in order (ODK's rank): stored as the choice names, first to last, space-separated.
    RANK = "rank"
    #: An OpenStreetMap feature (ODK's osm, OpenMapKit): its location then its tags, stored as
    #: ``"lat lon;key=value;key=value"`` (see :func:`surveys.answers.parse_osm`).
    OSM = "osm"


CHOICE_TYPES = frozenset({QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE})
#: The types whose question has a choice list: the selects and rank (whose choices are ordered, not picked).
LISTED_TYPES = CHOICE_TYPES | {QuestionType.RANK}
#: Metadata that a phone records by itself. Baraza fills start (when the response began), end (its
#: last answer) and today; a chat has no device, SIM or phone account, so the others stay empty.
METADATA_TYPES = frozenset(
    {
        QuestionType.START,
        QuestionType.END,
        QuestionType.TODAY,
        QuestionType.DEVICEID,
        QuestionType.USERNAME,
        QuestionType.PHONENUMBER,
        QuestionType.SIMSERIAL,
        QuestionType.SUBSCRIBERID,
        QuestionType.EMAIL,
        QuestionType.AUDIT,
        QuestionType.START_GEOPOINT,
    }
)
FILLED_METADATA = frozenset({QuestionType.START, QuestionType.END, QuestionType.TODAY})
#: The value an acknowledge question stores, as ODK does.
ACKNOWLEDGED = "OK"
#: Questions answered with a file; the stored value is the media store's name for it.
MEDIA_TYPES = frozenset({QuestionType.IMAGE, QuestionType.AUDIO, QuestionType.VIDEO, QuestionType.FILE})
#: Questions answered with a position (geopoint) or a series of them (geotrace, geoshape).
GEO_TYPES = frozenset({QuestionType.GEOPOINT, QuestionType.GEOTRACE, QuestionType.GEOSHAPE})


@dataclass(frozen=True)
class Choice:
    """One choice; ``columns`` holds its extra columns (for ``choice_filter``)."""

    name: str
    label: LocalizedText
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OsmTag:
    """One tag of an osm question: its OpenStreetMap key, its label, and the values it may take
    (none: any text)."""

    key: str
    label: LocalizedText
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Question:
    """One row of the survey. ``line`` is where it starts in its YAML file."""

    type: QuestionType
    name: str
    label: LocalizedText
    line: int
    hint: LocalizedText | None = None
    required: bool = True
    choices: tuple[Choice, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    step: Decimal | None = None
    #: The question's own ``relevant`` and those of the groups around it: all must be true.
    relevant: tuple[Expression, ...] = ()
    required_if: Expression | None = None
    required_message: LocalizedText | None = None
    constraint: Expression | None = None
    constraint_message: LocalizedText | None = None
    default: str | None = None
    calculation: Expression | None = None
    choice_filter: Expression | None = None
    min_choices: int | None = None
    max_choices: int | None = None
    max_length: int | None = None
    appearance: str | None = None
    correct: str | None = None
    explanation: LocalizedText | None = None
    #: Names of the groups the question is in, outermost first.
    groups: tuple[str, ...] = ()
    #: Choices shown in an order shuffled per response (XLSForm's ``randomize=true``).
    randomize: bool = False
    #: With a ``calculation`` on a question that is not a calculate: the questions whose change
    #: recomputes it (XLSForm's ``trigger``); without them it is recomputed after every answer.
    trigger: tuple[str, ...] = ()

    @property
    def is_metadata(self) -> bool:
        return self.type in METADATA_TYPES

    @property
    def is_computed(self) -> bool:
        """Whether the value is computed, never asked: calculate questions, metadata, and other
        questions with a ``calculation`` (KoBo's computed fields, shown read-only by ODK)."""
        return self.type is QuestionType.CALCULATE or self.is_metadata or self.calculation is not None

    #: Image questions: the longest side, in pixels, an image is scaled down to (ODK's ``max-pixels``).
    max_pixels: int | None = None
    #: Names of the repeats the question is in, outermost first (its answers are stored once per pass).
    repeats: tuple[str, ...] = ()
    #: The register field (one of :data:`PROFILE_FIELDS`) whose value answers the question when the
    #: contact's profile has it (``from_profile: user_group`` or ``default: ${profile.user_group}``);
    #: the question is then not asked.
    from_profile: str | None = None
    #: Choices read from a CSV beside the survey file (ODK's ``search()`` appearance): (file name
    #: without .csv, value column, label column); they replace ``choices`` when the survey is loaded
    #: from its folder.
    choices_file: tuple[str, str, str] | None = None
    #: The tags an osm question asks after the feature's location (the XLSForm's ``osm`` sheet).
    osm_tags: tuple[OsmTag, ...] = ()
    #: In a wave of a panel: the question of the previous wave whose answer this question offers
    #: to keep (``prefill: last_wave``: the question of the same name); see :mod:`surveys.panels`.
    prefill: str | None = None

    @property
    def is_note(self) -> bool:
        return self.type is QuestionType.NOTE

    @property
    def is_calculate(self) -> bool:
        return self.type is QuestionType.CALCULATE

    @property
    def is_asked(self) -> bool:
        """Whether the question is put to the respondent (notes are shown, calculations never)."""
        return self.type is not QuestionType.NOTE and not self.is_computed

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES

    @property
    def is_geo(self) -> bool:
        return self.type in GEO_TYPES

    def choice(self, name: str) -> Choice | None:
        return next((choice for choice in self.choices if choice.name == name), None)


YES, NO = "yes", "no"
#: The register fields a question may take its answer from (``from_profile``).
PROFILE_FIELDS = frozenset({"language", "user_group", "region", "organisation"})


@dataclass(frozen=True)
class Repeat:
    """A repeat (XLSForm ``begin repeat``): its questions are asked once per pass.

    ``repeat_count`` gives the number of passes (re-evaluated as answers change); without it the
    respondent is asked "Add another <label>?" after each pass. ``relevant`` holds the repeat's
    own condition and those of the groups and repeats around it. ``parent`` is the repeat it is
    nested in, if any. ``another`` is the yes/no question asked after each pass (no
    ``repeat_count``); its texts are the bot's, in the conversation language.
    """

    name: str
    label: LocalizedText
    line: int
    relevant: tuple[Expression, ...] = ()
    repeat_count: Expression | None = None
    parent: str | None = None
    another: Question = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        yes_no = tuple(Choice(name, LocalizedText({"en": name.capitalize()})) for name in (YES, NO))
        question = Question(
            type=QuestionType.SELECT_ONE,
            name=f"{self.name}?",
            label=self.label,
            line=self.line,
            choices=yes_no,
            relevant=self.relevant,
        )
        object.__setattr__(self, "another", question)


@dataclass(frozen=True)
class Reminder:
    """A reminder of a survey's invitation: sent ``after`` the invitation to invitees who have not
    finished (``reminders: [{after: 2d, text: ...}]``; see docs/fieldwork.md)."""

    after: timedelta
    text: LocalizedText


#: The contact fields a quota may be defined by (any other name in ``by`` is a question of the survey).
QUOTA_CONTACT_FIELDS = ("user_group", "region", "language", "channel")


@dataclass(frozen=True)
class Quota:
    """A quota of a survey (``quotas: [{by: region, targets: {north: 200}}]``; see docs/fieldwork.md):
    at most ``targets[cell]`` completes per cell, a cell being the values of the ``by`` fields
    (contact fields or questions of the survey). Cells not in ``targets`` are not limited."""

    by: tuple[str, ...]
    targets: Mapping[tuple[str, ...], int]
    line: int
    #: The names in ``by`` that are questions of the survey (the others are contact fields).
    questions: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """The quota's name as stored with each response's cell: its fields joined by ``+``."""
        return "+".join(self.by)

    @property
    def steerable(self) -> bool:
        """Whether a contact's cell is known before they answer (contact fields only), so that
        invitations can be steered to open cells."""
        return not self.questions


@dataclass(frozen=True)
class Panel:
    """The panel a survey is a wave of (``panel: {id: lfs_panel, wave: 2}``): the same people are
    followed from one wave to the next (see :mod:`surveys.panels`). ``line``: where it is written."""

    id: str
    wave: int
    line: int = 1


@dataclass(frozen=True)
class ShuffledGroup:
    """A group whose items are asked in an order shuffled per response (``randomize: true``,
    XLSForm's ``randomize=true`` on a group). ``units`` are its items, each the names of the
    questions that move together (a question, or a nested group or repeat as a whole), in the
    order of the file (see :mod:`surveys.arrangement`)."""

    name: str
    line: int
    units: tuple[tuple[str, ...], ...]

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(name for unit in self.units for name in unit)


@dataclass(frozen=True)
class Arm:
    """One arm of a split-sample experiment: the question labels it words differently (question
    name -> label) and the text of its invitation notice (None: the survey's)."""

    name: str
    labels: Mapping[str, LocalizedText] = field(default_factory=dict)
    notice: LocalizedText | None = None


@dataclass(frozen=True)
class Experiment:
    """A split-sample experiment (``experiment: {name: ..., arms: {a: {...}, b: {...}}}``): each
    respondent is assigned one arm at random and sees its wording (see docs/fieldwork.md)."""

    name: str
    arms: tuple[Arm, ...]
    line: int = 0

    def arm(self, name: str | None) -> Arm | None:
        return next((arm for arm in self.arms if arm.name == name), None)

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(arm.name for arm in self.arms)


@dataclass(frozen=True)
class Survey:
    """A validated survey definition.

    ``version`` changes whenever the file's content changes; it is stored with each response.
    """

    id: str
    title: LocalizedText
    default_language: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    version: str
    source: str
    intro: LocalizedText | None = None
    outro: LocalizedText | None = None
    kind: str = "survey"
    confirm: bool = False
    opens: date | None = None
    closes: date | None = None
    max_responses_per_user: int = 1
    audience: Expression | None = None
    anonymous: bool = False
    #: At the end, ask whether the respondent wants to hear what the office does with the results
    #: ("you said, we did": ``baraza survey feedback``).
    offer_feedback: bool = False
    #: The repeats, in survey order (outer ones before those nested in them).
    repeats: tuple[Repeat, ...] = ()
    #: Reminders of the invitation, in the order they are sent (``after`` increasing).
    reminders: tuple[Reminder, ...] = ()
    #: Quotas on completes by cell (contact fields and/or questions), in file order.
    quotas: tuple[Quota, ...] = ()
    #: The panel this survey is a wave of, if any.
    panel: Panel | None = None
    #: The previous wave's questions this survey names (``${last_wave.x}``, ``prefill``), each
    #: with the line of its first mention: checked against the previous wave's file.
    last_wave_names: tuple[tuple[str, int], ...] = ()
    #: The ``results:`` block: publication, smallest cell, margins, breakdowns (:mod:`surveys.results_settings`).
    results: ResultsSettings = field(default_factory=ResultsSettings)
    #: Groups whose items are shown in an order shuffled per response, outer groups first.
    shuffled_groups: tuple[ShuffledGroup, ...] = ()
    #: The split-sample experiment the survey runs, if any.
    experiment: Experiment | None = None
    #: ``ussd: {text_questions: true}``: free-text questions are asked over USSD too (typing
    #: words on a feature phone's keypad is slow, so by default they are not).
    ussd_text_questions: bool = False
    #: Data files that ``pulldata()`` reads (``NAME.csv`` beside the survey file): name -> rows.
    tables: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict, repr=False, compare=False)
    _by_name: Mapping[str, Question] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {q.name: q for q in self.questions})

    def repeat(self, name: str) -> Repeat:
        return next(repeat for repeat in self.repeats if repeat.name == name)

    def has_repeat(self, name: str) -> bool:
        return any(repeat.name == name for repeat in self.repeats)

    def table_questions(self, repeat: str | None = None) -> tuple[Question, ...]:
        """The data questions of one export table: the survey's own (outside every repeat), or
        those directly in ``repeat`` (not in a repeat nested in it)."""
        return tuple(q for q in self.data_questions if (q.repeats[-1] if q.repeats else None) == repeat)

    def question(self, name: str) -> Question:
        return self._by_name[name]

    def has_question(self, name: str) -> bool:
        return name in self._by_name

    @property
    def data_questions(self) -> tuple[Question, ...]:
        """The questions whose values are stored and exported (all but notes), in survey order."""
        return tuple(q for q in self.questions if not q.is_note)

    @property
    def is_quiz(self) -> bool:
        return self.kind == "quiz"

    def is_open_on(self, day: date) -> bool:
        return (self.opens is None or self.opens <= day) and (self.closes is None or day <= self.closes)

    def language_for(self, preferred: str | None) -> str:
        """The survey language to use for a user who prefers ``preferred``."""
        if preferred and preferred in self.languages:
            return preferred
        return self.default_language
