"""Reads survey YAML files into :class:`~surveys.model.Survey` values, checking everything.

Every problem is reported with the file and line it comes from (and the column inside an
expression), and all problems of a file are reported at once so that an author can fix them in
one pass.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.problems import FileProblem
from common.safe_yaml import compose_file, read_file
from surveys import panels
from surveys.arrangement import references_across_units
from surveys.errors import SurveyFileError
from surveys.expressions import Expression, ExpressionError, parse
from surveys.model import (
    CHOICE_TYPES,
    LISTED_TYPES,
    METADATA_TYPES,
    PROFILE_FIELDS,
    QUOTA_CONTACT_FIELDS,
    Arm,
    Choice,
    Experiment,
    LocalizedText,
    OsmTag,
    Panel,
    Question,
    QuestionType,
    Quota,
    Reminder,
    Repeat,
    ShuffledGroup,
    Survey,
)
from surveys.results_settings import DEFAULT_MIN_CELL, LOWEST_MIN_CELL, RESPONDENT_FIELDS, ResultsSettings, read_margins
from surveys.substitution import references

SURVEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# XLSForm names: a letter or underscore first, then letters, digits, _ - and dots.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Choice names may also be codes such as 1, 2, 99, as in most ODK forms, and carry accents,
# punctuation and (for select_one only) spaces, as pyxform accepts them; a select_multiple answer
# separates its names with spaces.
CHOICE_NAME = re.compile(r"^\S(?:.*\S)?$")
# ISO 639-1/2/3 codes with subtags; x-name for a language without a code (BCP 47 private use).
LANGUAGE = re.compile(r"^(?:[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*|x-[a-z0-9]{1,8})$")
#: or_other: the choice added to the list, and the question that asks for the other answer.
OTHER_CHOICE = "other"
OTHER_LABEL = "Other"
OTHER_QUESTION_LABEL = "Specify other."

SURVEY_KEYS = {
    "id", "title", "default_language", "languages", "intro", "outro", "questions", "choices", "offer_feedback",
    "version", "description", "kind", "confirm", "opens", "closes", "max_responses_per_user",
    "audience", "anonymous", "allow_choice_duplicates", "reminders", "allow_later_references",
    "allow_missing_columns", "allow_note_references", "quotas", "panel", "results", "experiment", "ussd",
}  # fmt: skip
PANEL_KEYS = {"id", "wave"}
RESULTS_KEYS = {"public", "min_cell", "margins", "breakdowns"}
USSD_KEYS = {"text_questions"}
REMINDER_KEYS = {"after", "text"}
QUOTA_KEYS = {"by", "targets"}
#: Question types whose answer cannot define a quota cell (several values, a file or a place).
UNQUOTABLE_TYPES = frozenset({QuestionType.SELECT_MULTIPLE, QuestionType.RANK, QuestionType.NOTE, QuestionType.OSM})
#: ``after:`` of a reminder: a number and a unit (d days, h hours, m minutes), e.g. 2d or 36h.
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")
DURATION_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
QUESTION_KEYS = {
    "type", "name", "label", "hint", "required", "required_message", "choices", "min", "max",
    "start", "end", "step", "relevant", "constraint", "constraint_message", "default", "calculate",
    "choice_filter", "min_choices", "max_choices", "max_length", "appearance", "correct", "explanation",
    "or_other", "randomize", "trigger",
    "max_pixels", "from_profile", "choices_file", "osm_tags", "prefill",
}  # fmt: skip
#: Other spellings of a question type that XLSForm tools accept.
TYPE_ALIASES = {"photo": "image", "audio-recording": "audio", "video-recording": "video"}
GROUP_KEYS = {"type", "name", "label", "relevant", "questions", "appearance", "randomize"}
REPEAT_KEYS = (GROUP_KEYS - {"randomize"}) | {"repeat_count"}
EXPERIMENT_KEYS = {"name", "arms"}
ARM_KEYS = {"labels", "notice"}
#: Arm names: short, stored in the ``arm`` columns of invitations and responses (40 characters).
ARM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
#: What a survey's ``audience`` expression may refer to: the contact's profile.
AUDIENCE_FIELDS = frozenset({"user_group", "region", "language", "channel"})
APPEARANCES = {"likert", "horizontal", "horizontal-compact", "vertical", "minimal", "quick", "multiline", "numbers"}
MAX_FILE_BYTES = 2_000_000
MAX_GROUP_DEPTH = 10


@dataclass
class _PendingCheck:
    """An expression whose references are checked once every question is known."""

    expression: Expression
    node: Node
    what: str
    position: int  # index of the owning question in survey order
    allow_self: str | None = None  # a question that may refer to itself (its constraint)


class _Reader:
    """Walks the YAML node tree of one file, collecting problems instead of stopping at the first."""

    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.problems: list[FileProblem] = []
        self.languages_seen: set[str] = set()
        self.default_language = "en"
        self.texts: list[tuple[Node, str, LocalizedText]] = []
        self.checks: list[_PendingCheck] = []
        self.allow_choice_duplicates = False
        #: ``allow_later_references: true`` (as ODK allows): ${name} of a later question reads as empty until answered.
        self.allow_later_references = False
        #: ``allow_missing_columns: true``: a choice_filter's bare name that no choice has reads as empty (as in ODK).
        self.allow_missing_columns = False
        #: ``allow_note_references: true``: ${note} in an expression reads as empty (a note has no value, as in ODK).
        self.allow_note_references = False
        self.repeats: list[Repeat] = []
        #: The repeats around the questions being read, outermost first.
        self.repeat_chain: tuple[str, ...] = ()
        #: Groups with ``randomize: true``, outer groups first.
        self.shuffled: list[ShuffledGroup] = []
        #: ``panel: {id, wave}``, read before the questions.
        self.panel: Panel | None = None
        #: The previous wave's questions named (``${last_wave.x}``, ``prefill``), by the line of their first mention.
        self.last_wave: dict[str, int] = {}

    def names_last_wave(self, node: Node, name: str, what: str) -> None:
        """``${last_wave.NAME}`` (or a ``prefill``) in ``what``: only a wave after the first knows a previous wave."""
        if self.panel is None or self.panel.wave < 2:
            self.problem(
                node,
                f"{what}: ${{{panels.PREFIX}{name}}} needs a survey that is wave 2 or later of a panel (panel: {{id: ..., wave: 2}})",
            )
            return
        line = node.start_mark.line + 1
        self.last_wave[name] = min(line, self.last_wave.get(name, line))

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(FileProblem(self.path, node.start_mark.line + 1, message))

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return None
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]] | None:
        """The entries of a mapping node by key, or None (and a problem) if it is not one."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of keys to values")
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = str(self.scalar(key_node)) if isinstance(key_node, ScalarNode) else "?"
            if key in entries:
                self.problem(key_node, f"{what} has the key '{key}' twice")
            entries[key] = (key_node, value_node)
        return entries

    def list_entries(
        self, node: Node, what: str, example: str, keys: set[str], needs: str
    ) -> Iterator[tuple[str, Node, dict[str, tuple[Node, Node]]]]:
        """Each mapping of the list ``node`` (``what`` 1, 2...) with every one of ``keys`` and no
        other, as (its name, its node, its entries); the others are problems."""
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what}s must be a list such as {example}")
            return
        for number, item in enumerate(node.value, start=1):
            label = f"{what} {number}"
            entries = self.mapping(item, label)
            if entries is None:
                continue
            self.unknown_keys(entries, keys, label)
            if not keys <= set(entries):
                self.problem(item, f"{label} needs {needs}")
                continue
            yield label, item, entries

    def unknown_keys(self, entries: dict[str, tuple[Node, Node]], known: set[str], what: str) -> None:
        for key, (key_node, _) in entries.items():
            if key not in known:
                self.problem(key_node, f"unknown key '{key}' in {what} (known keys: {', '.join(sorted(known))})")

    def text(self, node: Node, what: str) -> LocalizedText | None:
        """A text field: a plain string (in the default language), or a map of languages to strings."""
        if isinstance(node, ScalarNode):
            value = self.scalar(node)
            if value is None or str(value).strip() == "":
                self.problem(node, f"{what} is empty")
                return None
            text = LocalizedText({self.default_language: str(value)})
            self.texts.append((node, what, text))
            return text
        entries = self.mapping(node, what)
        if entries is None:
            return None
        translations: dict[str, str] = {}
        for language, (key_node, value_node) in entries.items():
            if not LANGUAGE.match(language):
                self.problem(key_node, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            value = self.scalar(value_node)
            if value is None or str(value).strip() == "":
                self.problem(value_node, f"{what} in '{language}' is empty")
                continue
            translations[language] = str(value)
            self.languages_seen.add(language)
        if translations and self.default_language not in translations:
            self.problem(node, f"{what} has no text in the default language '{self.default_language}'")
        if not translations:
            return None
        text = LocalizedText(translations)
        self.texts.append((node, what, text))
        return text

    def number(self, node: Node, what: str) -> Decimal | None:
        value = self.scalar(node)
        if isinstance(value, bool) or value is None:
            self.problem(node, f"{what} must be a number")
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            self.problem(node, f"{what} must be a number, not '{value}'")
            return None

    def whole_number(self, node: Node, what: str, minimum: int) -> int | None:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(node, f"{what} must be a whole number of at least {minimum}")
            return None
        return value

    def flag(self, node: Node, what: str) -> bool:
        value = self.scalar(node)
        if value in (True, "yes", "true", "TRUE()", "true()"):
            return True
        if value in (False, "no", "false", "FALSE()", "false()", None, ""):
            return False
        self.problem(node, f"{what} must be true or false")
        return False

    def day(self, node: Node, what: str) -> date | None:
        value = self.scalar(node)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(node, f"{what} must be a date such as 2026-03-31, not '{value}'")
            return None

    def expression(self, node: Node, what: str) -> Expression | None:
        value = self.scalar(node)
        if isinstance(value, bool):
            value = "true()" if value else "false()"
        if value is None or str(value).strip() == "":
            self.problem(node, f"{what} is empty")
            return None
        try:
            return parse(str(value))
        except ExpressionError as error:
            self.problem(node, f"{what}: {error}")
            return None


def load_survey_text(text: str, path: str) -> Survey:
    """Parse and validate one survey; raises :class:`SurveyFileError` listing every problem."""
    loader, root = compose_file(text, path, SurveyFileError)
    reader = _Reader(path, loader)
    survey = _read_survey(reader, root, text)
    if reader.problems or survey is None:
        raise SurveyFileError(sorted(reader.problems, key=lambda p: p.line))
    return survey


def load_survey_file(path: Path) -> Survey:
    """Read one survey file (``.yaml`` or ``.yml``), with the data files its ``pulldata()`` reads."""
    survey = load_survey_text(read_file(path, MAX_FILE_BYTES, SurveyFileError), str(path))
    return with_margins(with_data_files(survey, path.parent), path.parent)


MAX_DATA_FILE_BYTES = 20 * 1024 * 1024


def data_files(survey: Survey) -> list[str]:
    """The files ``pulldata('NAME', ...)`` reads in the survey's expressions (``NAME.csv``), sorted."""
    names: set[str] = set()
    for asked in survey.questions:
        if asked.choices_file is None:
            continue
        by_answer = _answer_file(asked.choices_file[0])
        if by_answer is None:
            names.add(asked.choices_file[0])
        elif survey.has_question(by_answer):  # search(${q}, ...): a file per choice of q
            names |= {choice.name for choice in survey.question(by_answer).choices}
    holders: list[object] = [*survey.questions, *survey.repeats]
    for holder in holders:
        for item in fields(holder):  # type: ignore[arg-type]
            value = getattr(holder, item.name)
            for expression in value if isinstance(value, tuple) else (value,):
                if isinstance(expression, Expression):
                    names |= {name.removesuffix(".csv") for name in expression.data_files()}
                    for question in expression.data_file_questions():  # pulldata(${q}, ...): a file per choice
                        if survey.has_question(question):
                            names |= {choice.name for choice in survey.question(question).choices}
    return sorted(name for name in names if "/" not in name and "\\" not in name and not name.startswith("."))


def with_data_files(survey: Survey, directory: Path) -> Survey:
    """The survey with the rows of each ``NAME.csv`` beside it that ``pulldata()`` reads (as ODK
    Collect reads the form's media files). A file not there gives empty values; a file that is
    there must be a readable CSV with a header row."""
    tables: dict[str, tuple[dict[str, str], ...]] = {}
    for name in data_files(survey):
        path = directory / (name if name.lower().endswith((".geojson", ".xml")) else f"{name}.csv")
        if not path.is_file():
            continue
        text = read_file(path, MAX_DATA_FILE_BYTES, SurveyFileError)
        if path.suffix.lower() == ".geojson":
            tables[name] = _geojson_rows(text, path.name)
        elif path.suffix.lower() == ".xml":
            tables[name] = _xml_rows(text, path.name)
        else:
            rows = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
            tables[name] = tuple({k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows)
    if not tables:
        return survey
    questions = tuple(
        _with_file_choices(survey, question, tables) if question.choices_file is not None else question
        for question in survey.questions
    )
    return replace(survey, tables=tables, questions=questions)


#: The choice column that names the file a choice was read from, for ``search(${q}, ...)``.
FILE_COLUMN = "_file"


def _answer_file(file: str) -> str | None:
    """The question named by a ``${q}`` file name (``search(${q})``: the file is the answer's), else None."""
    match = re.fullmatch(r"\$\{\s*([A-Za-z_][\w.-]*)\s*\}", file)
    return match[1] if match else None


def _with_file_choices(survey: Survey, question: Question, tables: dict[str, tuple[dict[str, str], ...]]) -> Question:
    """The question with the choices of its ``choices_file``. Named by an answer (``${q}``), they are
    the rows of every file a choice of q names, each marked with its file, and the choice filter
    keeps those of the file the answer names (the runner stays pure: the survey carries them)."""
    assert question.choices_file is not None
    file, value_column, label_column = question.choices_file
    by_answer = _answer_file(file)
    if by_answer is None or not survey.has_question(by_answer):
        return replace(question, choices=_file_choices(tables, question.choices_file, survey.default_language))
    choices: list[Choice] = []
    for option in survey.question(by_answer).choices:
        for choice in _file_choices(tables, (option.name, value_column, label_column), survey.default_language):
            choices.append(replace(choice, columns={**choice.columns, FILE_COLUMN: option.name}))
    same_file = f"{FILE_COLUMN} = ${{{by_answer}}}"
    source = f"({question.choice_filter.source}) and {same_file}" if question.choice_filter else same_file
    return replace(question, choices=tuple(choices), choice_filter=parse(source))


def _geojson_rows(text: str, file: str) -> tuple[dict[str, str], ...]:
    """The features of a GeoJSON file as ODK offers them: each one's properties, its ``id`` (the
    feature's own or its property) and ``geometry`` (a point as ``"lat lon"``, a line or shape as
    ``"lat lon;lat lon..."``)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SurveyFileError.at(file, 0, f"not a GeoJSON file: {error}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise SurveyFileError.at(file, 0, "not a GeoJSON FeatureCollection (no 'features' list)")
    rows: list[dict[str, str]] = []
    for feature in features:
        if not isinstance(feature, dict):
            continue
        properties = feature.get("properties") or {}
        row = (
            {str(k): "" if v is None else str(v) for k, v in properties.items()} if isinstance(properties, dict) else {}
        )
        if feature.get("id") is not None:
            row.setdefault("id", str(feature["id"]))
        row["geometry"] = _geometry(feature.get("geometry"))
        rows.append(row)
    return tuple(rows)


def _geometry(geometry: Any) -> str:
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coordinates, list) or not coordinates:
        return ""
    if isinstance(coordinates[0], (int, float)):
        coordinates = [coordinates]
    while coordinates and isinstance(coordinates[0], list) and coordinates[0] and isinstance(coordinates[0][0], list):
        coordinates = coordinates[0]  # a polygon: its outer ring
    return ";".join(f"{point[1]} {point[0]}" for point in coordinates if isinstance(point, list) and len(point) >= 2)


def _xml_rows(text: str, file: str) -> tuple[dict[str, str], ...]:
    """The ``<item>`` elements of an XML choices file (``<root><item><name>..</name>...``)."""
    from defusedxml import ElementTree  # pyxform depends on it

    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise SurveyFileError.at(file, 0, f"not an XML file: {error}") from None
    return tuple({child.tag: (child.text or "").strip() for child in item} for item in root.iter("item"))


def _file_choices(
    tables: dict[str, tuple[dict[str, str], ...]], source: tuple[str, str, str], language: str
) -> tuple[Choice, ...]:
    """The choices of a ``choices_file`` question: one per row with a value (the first of a value seen twice)."""
    file, value_column, label_column = source
    choices: dict[str, Choice] = {}
    for row in tables.get(file, ()):
        name = row.get(value_column, "")
        if name and name not in choices:
            label = row.get(label_column) or name
            choices[name] = Choice(name, LocalizedText({language: label}), columns=row)
    return tuple(choices.values())


def survey_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_survey_directory(directory: Path) -> dict[str, Survey]:
    """Load every survey in ``directory``; raises one :class:`SurveyFileError` for all problems.

    Two files with the same survey id are a problem too, and so are waves of a panel that do not
    fit together (:func:`surveys.panels.panel_problems`).
    """
    problems: list[FileProblem] = []
    surveys: dict[str, Survey] = {}
    if not directory.is_dir():
        raise SurveyFileError.at(directory, 1, "the survey folder does not exist")
    for path in survey_files(directory):
        try:
            survey = load_survey_file(path)
        except SurveyFileError as error:
            problems.extend(error.problems)
            continue
        if survey.id in surveys:
            problems.append(
                FileProblem(str(path), 1, f"survey id '{survey.id}' is also used by {surveys[survey.id].source}")
            )
            continue
        surveys[survey.id] = survey
    problems.extend(panels.panel_problems(surveys.values()))
    if problems:
        raise SurveyFileError(problems)
    return surveys


def neighbours(paths: Iterable[Path]) -> list[Survey]:
    """The valid surveys in the folders of ``paths`` (broken files left out): what a wave of a
    panel is checked against (``baraza survey check``)."""
    found: list[Survey] = []
    for directory in dict.fromkeys(path.parent for path in paths):
        if not directory.is_dir():
            continue
        for path in survey_files(directory):
            try:
                found.append(load_survey_file(path))
            except SurveyFileError:
                continue
    return found


def _read_survey(reader: _Reader, root: Node, text: str) -> Survey | None:
    entries = reader.mapping(root, "a survey")
    if entries is None:
        return None
    reader.unknown_keys(entries, SURVEY_KEYS, "the survey")

    def node(key: str) -> Node:
        return entries[key][1]

    survey_id = ""
    if "id" not in entries:
        reader.problem(root, "the survey has no 'id'")
    else:
        survey_id = str(reader.scalar(node("id")))
        if not SURVEY_ID.match(survey_id):
            reader.problem(node("id"), f"survey id '{survey_id}' must be 1 to 40 letters, digits, _ or -")

    if "default_language" in entries:
        default_language = str(reader.scalar(node("default_language")))
        if not LANGUAGE.match(default_language):
            reader.problem(
                node("default_language"),
                f"default_language '{default_language}' is not a language code such as en or fr",
            )
        reader.default_language = default_language

    title = reader.text(node("title"), "title") if "title" in entries else None
    if "title" not in entries:
        reader.problem(root, "the survey has no 'title'")
    intro = reader.text(node("intro"), "intro") if "intro" in entries else None
    outro = reader.text(node("outro"), "outro") if "outro" in entries else None

    kind = str(reader.scalar(node("kind"))) if "kind" in entries else "survey"
    if kind not in ("survey", "quiz"):
        reader.problem(node("kind"), f"kind must be 'survey' or 'quiz', not '{kind}'")
    confirm = reader.flag(node("confirm"), "confirm") if "confirm" in entries else False
    anonymous = reader.flag(node("anonymous"), "anonymous") if "anonymous" in entries else False
    offer_feedback = reader.flag(node("offer_feedback"), "offer_feedback") if "offer_feedback" in entries else False
    opens = reader.day(node("opens"), "opens") if "opens" in entries else None
    closes = reader.day(node("closes"), "closes") if "closes" in entries else None
    if opens and closes and closes < opens:
        reader.problem(node("closes"), "closes is before opens")
    max_responses = 1
    if "max_responses_per_user" in entries:
        max_responses = reader.whole_number(node("max_responses_per_user"), "max_responses_per_user", 1) or 1
    reader.panel = _read_panel(reader, node("panel")) if "panel" in entries else None
    if reader.panel is not None and anonymous:
        reader.problem(node("anonymous"), "an anonymous survey cannot be a wave of a panel: a panel follows people")
    audience = None
    if "audience" in entries:
        audience = reader.expression(node("audience"), "audience")
        if audience is not None:
            for name in sorted(audience.references() - AUDIENCE_FIELDS):
                reader.problem(
                    node("audience"),
                    f"audience: column {audience.reference_columns()[name]}: ${{{name}}} is not a contact field "
                    f"(use {', '.join('${' + f + '}' for f in sorted(AUDIENCE_FIELDS))})",
                )

    if "allow_choice_duplicates" in entries:
        reader.allow_choice_duplicates = reader.flag(node("allow_choice_duplicates"), "allow_choice_duplicates")
    if "allow_note_references" in entries:
        reader.allow_note_references = reader.flag(node("allow_note_references"), "allow_note_references")
    if "allow_missing_columns" in entries:
        reader.allow_missing_columns = reader.flag(node("allow_missing_columns"), "allow_missing_columns")
    if "allow_later_references" in entries:
        reader.allow_later_references = reader.flag(node("allow_later_references"), "allow_later_references")
    choice_lists = _read_choice_lists(reader, node("choices")) if "choices" in entries else {}
    questions: list[Question] = []
    if "questions" not in entries:
        reader.problem(root, "the survey has no 'questions'")
    else:
        questions = _read_questions(reader, node("questions"), choice_lists, (), (), 0)
        if questions and not any(q.is_asked or q.is_note for q in questions):  # a notice of notes is a survey
            reader.problem(node("questions"), "the survey asks and shows nothing; add at least one question")
    _check_references(reader, questions, _repeat_starts(reader, questions))
    _check_text_references(reader)
    _check_shuffled(reader, questions)
    _check_quiz(reader, kind, questions, entries)

    reminders = _read_reminders(reader, node("reminders")) if "reminders" in entries else ()
    quotas = _read_quotas(reader, node("quotas"), questions) if "quotas" in entries else ()
    if "quotas" in entries and anonymous:
        reader.problem(
            entries["quotas"][0],
            "an anonymous survey cannot have quotas: a screened-out person must be known so as not to be reminded",
        )
    results = _read_results(reader, node("results")) if "results" in entries else ResultsSettings()
    experiment = _read_experiment(reader, node("experiment"), questions) if "experiment" in entries else None
    ussd_text_questions = _read_ussd(reader, node("ussd")) if "ussd" in entries else False
    languages = _declared_languages(reader, entries)
    if "languages" in entries:
        _check_translations(reader, languages)
    if reader.problems or title is None:
        return None
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    if "version" in entries:
        version = str(reader.scalar(node("version")))
    return Survey(
        id=survey_id,
        title=title,
        default_language=reader.default_language,
        languages=languages,
        questions=tuple(questions),
        version=version,
        source=reader.path,
        intro=intro,
        outro=outro,
        kind=kind,
        confirm=confirm,
        opens=opens,
        closes=closes,
        max_responses_per_user=max_responses,
        audience=audience,
        anonymous=anonymous,
        offer_feedback=offer_feedback,
        repeats=tuple(reader.repeats),
        reminders=reminders,
        quotas=quotas,
        panel=reader.panel,
        last_wave_names=tuple(sorted(reader.last_wave.items(), key=lambda item: item[1])),
        results=results,
        shuffled_groups=tuple(reader.shuffled),
        experiment=experiment,
        ussd_text_questions=ussd_text_questions,
    )


def _read_quotas(reader: _Reader, node: Node, questions: list[Question]) -> tuple[Quota, ...]:
    """``quotas: [{by: region, targets: {north: 200}}, {by: [user_group, sex], targets: {media: {female: 20}}}]``:
    ``by`` names contact fields or questions (outside repeats, one value each); ``targets`` nests
    one mapping level per field of ``by``, down to whole numbers (0: the cell is closed)."""
    by_name = {question.name: question for question in questions}
    quotas: list[Quota] = []
    seen: set[tuple[str, ...]] = set()
    example = "[{by: region, targets: {north: 200, south: 150}}]"
    needs = "'by' (a field or a list of fields) and 'targets'"
    for what, item, entries in reader.list_entries(node, "quota", example, QUOTA_KEYS, needs):
        by_node = entries["by"][1]
        names = [reader.scalar(by_node)] if isinstance(by_node, ScalarNode) else None
        if isinstance(by_node, SequenceNode):
            names = [reader.scalar(part) for part in by_node.value]
        if not names or any(not isinstance(name, str) or not name for name in names):
            reader.problem(by_node, f"by of {what} must be a field name or a list of them, such as [user_group, sex]")
            continue
        fields = tuple(str(name) for name in names)
        problems = len(reader.problems)
        if len(set(fields)) != len(fields):
            reader.problem(by_node, f"by of {what} names a field twice")
        for name in fields:
            question = by_name.get(name)
            if question is None and name not in QUOTA_CONTACT_FIELDS:
                reader.problem(
                    by_node,
                    f"by of {what}: '{name}' is neither a contact field ({', '.join(QUOTA_CONTACT_FIELDS)}) "
                    "nor a question of the survey",
                )
            elif question is not None and (question.repeats or question.type in UNQUOTABLE_TYPES or question.is_media):
                reader.problem(
                    by_node,
                    f"by of {what}: question '{name}' cannot define a quota cell "
                    "(it is in a repeat, or its answer is not one value)",
                )
        if fields in seen:
            reader.problem(by_node, f"{what} has the same fields as a quota before it")
        seen.add(fields)
        if len(reader.problems) > problems:
            continue
        targets: dict[tuple[str, ...], int] = {}
        _read_targets(reader, entries["targets"][1], fields, (), by_name, targets, what)
        quota_questions = frozenset(name for name in fields if name in by_name)
        quotas.append(Quota(fields, targets, item.start_mark.line + 1, quota_questions))
    return tuple(quotas)


def _read_targets(
    reader: _Reader,
    node: Node,
    fields: tuple[str, ...],
    cell: tuple[str, ...],
    questions: dict[str, Question],
    targets: dict[tuple[str, ...], int],
    what: str,
) -> None:
    """One level of ``targets``: values of ``fields[len(cell)]``, each leading to the next level or
    (at the last field) to a whole number."""
    field = fields[len(cell)]
    entries = reader.mapping(node, f"targets of {what} ({field})")
    if entries is None:
        return
    if not entries:
        reader.problem(node, f"targets of {what} ({field}) is empty")
    question = questions.get(field)
    for key, (key_node, value_node) in entries.items():
        # The key as written: YAML would read a region "no" or a choice "yes" as a boolean.
        value = str(key_node.value) if isinstance(key_node, ScalarNode) else key
        if question is not None and question.choices and not question.choices_file and question.choice(value) is None:
            reader.problem(key_node, f"targets of {what}: '{value}' is not a choice of question '{field}'")
            continue
        here = (*cell, value)
        if len(here) < len(fields):
            _read_targets(reader, value_node, fields, here, questions, targets, what)
            continue
        goal = reader.whole_number(value_node, f"the target of {what} for {' / '.join(here)}", 0)
        if goal is not None:
            targets[here] = goal


def _read_panel(reader: _Reader, node: Node) -> Panel | None:
    """``panel: {id: lfs_panel, wave: 2}``."""
    entries = reader.mapping(node, "panel")
    if entries is None:
        return None
    reader.unknown_keys(entries, PANEL_KEYS, "panel")
    if "id" not in entries or "wave" not in entries:
        reader.problem(node, "panel needs an id and a wave (panel: {id: lfs_panel, wave: 2})")
        return None
    panel_id = str(reader.scalar(entries["id"][1]))
    if not SURVEY_ID.match(panel_id):
        reader.problem(entries["id"][1], f"panel id '{panel_id}' must be 1 to 40 letters, digits, _ or -")
    wave = reader.whole_number(entries["wave"][1], "the wave of panel", 1)
    if wave is None:
        return None
    return Panel(id=panel_id, wave=wave, line=node.start_mark.line + 1)


def _check_text_references(reader: _Reader) -> None:
    """``${last_wave.x}`` in labels, hints, notes and messages names the previous wave's questions."""
    for node, what, text in reader.texts:
        for value in text.all_texts():
            for name in references(value):
                if panels.is_last_wave(name):
                    reader.names_last_wave(node, name.removeprefix(panels.PREFIX), what)


def _prefill(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], question_type: QuestionType, name: str, what: str
) -> str | None:
    """``prefill: last_wave`` (the previous wave's question of the same name) or
    ``prefill: last_wave.NAME``: the previous answer is offered to keep."""
    if "prefill" not in entries:
        return None
    node = entries["prefill"][1]
    raw = str(reader.scalar(node) or "").strip()
    if raw == panels.LAST_WAVE:
        source = name
    elif panels.is_last_wave(raw) and NAME.match(raw.removeprefix(panels.PREFIX)):
        source = raw.removeprefix(panels.PREFIX)
    else:
        reader.problem(node, f"prefill of {what} must be 'last_wave' or 'last_wave.NAME', not '{raw}'")
        return None
    if (
        question_type is QuestionType.NOTE
        or question_type is QuestionType.CALCULATE
        or question_type in METADATA_TYPES
        or "calculate" in entries
    ):
        reader.problem(entries["prefill"][0], f"a question that is not asked cannot be prefilled ({what})")
        return None
    if reader.repeat_chain:
        reader.problem(entries["prefill"][0], f"a question in a repeat cannot be prefilled from the last wave ({what})")
        return None
    reader.names_last_wave(node, source, f"prefill of {what}")
    return source


def _check_shuffled(reader: _Reader, questions: list[Question]) -> None:
    """A question of a shuffled group may not depend on another item of that group: the order
    shown may ask it first."""
    by_name = {question.name: question for question in questions}
    for group in reader.shuffled:
        for question, other in references_across_units(group, by_name):
            reader.problems.append(
                FileProblem(
                    reader.path,
                    question.line,
                    f"'{question.name}' reads ${{{other}}}, but group '{group.name}' is shuffled (randomize) and may "
                    f"ask '{other}' after it; put the two in one nested group, or take them out of the shuffled group",
                )
            )


def _read_experiment(reader: _Reader, node: Node, questions: list[Question]) -> Experiment | None:
    """``experiment: {name: ..., arms: {a: {labels: {question: text}, notice: text}, b: {}}}``: at
    least two arms; an arm's labels name questions that are shown (not calculations)."""
    entries = reader.mapping(node, "experiment")
    if entries is None:
        return None
    reader.unknown_keys(entries, EXPERIMENT_KEYS, "the experiment")
    name = str(reader.scalar(entries["name"][1])) if "name" in entries else "experiment"
    if not NAME.match(name):
        reader.problem(entries["name"][1], f"the experiment's name must start with a letter or _ (got '{name}')")
    if "arms" not in entries:
        reader.problem(node, "the experiment has no 'arms' (such as arms: {a: {}, b: {labels: ...}})")
        return None
    arm_entries = reader.mapping(entries["arms"][1], "the experiment's arms")
    if arm_entries is None:
        return None
    if len(arm_entries) < 2:
        reader.problem(entries["arms"][1], "an experiment needs at least two arms")
    by_name = {question.name: question for question in questions}
    arms: list[Arm] = []
    for arm_name, (key_node, value_node) in arm_entries.items():
        what = f"arm '{arm_name}'"
        if not ARM_NAME.match(arm_name):
            reader.problem(key_node, f"{what}: an arm's name is 1 to 40 letters, digits, _ or -")
        if reader.scalar(value_node) is None and isinstance(value_node, ScalarNode):
            arms.append(Arm(arm_name))  # ``a: {}`` or ``a:``: the survey's own wording
            continue
        arm = reader.mapping(value_node, what)
        if arm is None:
            continue
        reader.unknown_keys(arm, ARM_KEYS, what)
        labels: dict[str, LocalizedText] = {}
        if "labels" in arm:
            for question, (question_node, label_node) in (
                reader.mapping(arm["labels"][1], f"the labels of {what}") or {}
            ).items():
                asked = by_name.get(question)
                if asked is None or not (asked.is_asked or asked.is_note):
                    reader.problem(question_node, f"{what}: '{question}' is not a question the survey shows")
                    continue
                text = reader.text(label_node, f"the label of '{question}' in {what}")
                if text is not None:
                    labels[question] = text
        notice = reader.text(arm["notice"][1], f"the notice of {what}") if "notice" in arm else None
        arms.append(Arm(arm_name, labels, notice))
    return Experiment(name, tuple(arms), node.start_mark.line + 1)


def _read_ussd(reader: _Reader, node: Node) -> bool:
    """``ussd: {text_questions: true}``: whether free-text questions are asked over USSD."""
    entries = reader.mapping(node, "ussd")
    if entries is None:
        return False
    reader.unknown_keys(entries, USSD_KEYS, "ussd")
    return reader.flag(entries["text_questions"][1], "text_questions") if "text_questions" in entries else False


def _read_reminders(reader: _Reader, node: Node) -> tuple[Reminder, ...]:
    """``reminders: [{after: 2d, text: ...}, ...]``: each later than the one before."""
    reminders: list[Reminder] = []
    example, needs = "[{after: 2d, text: ...}]", "'after' (such as 2d or 36h) and 'text'"
    for what, _, entries in reader.list_entries(node, "reminder", example, REMINDER_KEYS, needs):
        found = DURATION.match(str(reader.scalar(entries["after"][1])))
        text = reader.text(entries["text"][1], f"the text of {what}")
        if found is None:
            reader.problem(entries["after"][1], f"after of {what} must be a duration such as 2d, 36h or 90m")
            continue
        after = float(found.group(1)) * DURATION_UNITS[found.group(2)]
        if reminders and after <= reminders[-1].after:
            reader.problem(entries["after"][1], f"{what} must come after the reminder before it")
        if text is not None:
            reminders.append(Reminder(after, text))
    return tuple(reminders)


def _read_results(reader: _Reader, node: Node) -> ResultsSettings:
    """``results: {public, min_cell, margins, breakdowns}`` (:mod:`surveys.results_settings`); the
    margins file itself is read with the survey file (:func:`with_margins`)."""
    entries = reader.mapping(node, "results")
    if entries is None:
        return ResultsSettings()
    reader.unknown_keys(entries, RESULTS_KEYS, "results")
    public = reader.flag(entries["public"][1], "results: public") if "public" in entries else False
    min_cell = DEFAULT_MIN_CELL
    if "min_cell" in entries:
        min_cell = reader.whole_number(entries["min_cell"][1], "results: min_cell", LOWEST_MIN_CELL) or DEFAULT_MIN_CELL
    margins_file = None
    margins_line = 0
    if "margins" in entries:
        margins_node = entries["margins"][1]
        margins_line = margins_node.start_mark.line + 1
        value = reader.scalar(margins_node)
        name = "" if value is None else str(value).strip()
        if not name.lower().endswith(".csv") or "/" in name or "\\" in name or name.startswith("."):
            reader.problem(margins_node, f"results: margins must name a .csv file beside the survey, not '{name}'")
        else:
            margins_file = name
    breakdowns: tuple[str, ...] = ()
    if "breakdowns" in entries:
        breakdown_node = entries["breakdowns"][1]
        if not isinstance(breakdown_node, SequenceNode):
            reader.problem(breakdown_node, f"results: breakdowns must be a list of {', '.join(RESPONDENT_FIELDS)}")
        else:
            named = [str(reader.scalar(item)) for item in breakdown_node.value]
            for item, name in zip(breakdown_node.value, named, strict=True):
                if name not in RESPONDENT_FIELDS:
                    reader.problem(item, f"results: breakdown '{name}' is not one of {', '.join(RESPONDENT_FIELDS)}")
            breakdowns = tuple(dict.fromkeys(name for name in named if name in RESPONDENT_FIELDS))
    # The margins' dimensions are checked against the questions when the file is read.
    return ResultsSettings(
        public=public, min_cell=min_cell, breakdowns=breakdowns, margins_file=margins_file, margins_line=margins_line
    )


def margin_dimensions(survey: Survey) -> frozenset[str]:
    """What a margins file may weight by: the contact fields and the survey's select_one questions."""
    questions = {q.name for q in survey.data_questions if q.type is QuestionType.SELECT_ONE and not q.repeats}
    return frozenset(RESPONDENT_FIELDS) | questions


def with_margins(survey: Survey, directory: Path) -> Survey:
    """The survey with the rows of its ``results: margins`` file (beside it); a missing or broken
    file refuses the survey (``FILE:LINE``)."""
    name = survey.results.margins_file
    if name is None:
        return survey
    path = directory / name
    if not path.is_file():
        raise SurveyFileError.at(
            survey.source, survey.results.margins_line, f"results: margins file '{name}' is not beside the survey"
        )
    text = read_file(path, MAX_DATA_FILE_BYTES, SurveyFileError)
    margins, problems = read_margins(text, str(path), margin_dimensions(survey))
    if problems:
        raise SurveyFileError(problems)
    return replace(survey, results=replace(survey.results, margins=margins))


def _declared_languages(reader: _Reader, entries: dict[str, tuple[Node, Node]]) -> tuple[str, ...]:
    default_language = reader.default_language
    if "languages" not in entries:
        return (default_language, *sorted(reader.languages_seen - {default_language}))
    node = entries["languages"][1]
    if not isinstance(node, SequenceNode):
        reader.problem(node, "languages must be a list such as [en, fr]")
        return (default_language,)
    declared = [str(reader.scalar(item)) for item in node.value]
    if default_language not in declared:
        reader.problem(node, f"languages must include the default_language '{default_language}'")
    for language in sorted(reader.languages_seen - set(declared)):
        reader.problem(node, f"texts in '{language}' appear, but '{language}' is not among the survey's languages")
    return (default_language, *[lang for lang in declared if lang != default_language])


def _check_translations(reader: _Reader, languages: tuple[str, ...]) -> None:
    """Every text must exist in every language the survey declares (``languages:``)."""
    if len(languages) < 2:
        return
    for node, what, text in reader.texts:
        missing = [language for language in languages if language not in text.translations]
        if missing:
            reader.problem(node, f"{what} has no text in {', '.join(repr(m) for m in missing)}")


def _read_choice_lists(reader: _Reader, node: Node) -> dict[str, tuple[Choice, ...]]:
    entries = reader.mapping(node, "choices")
    if entries is None:
        return {}
    return {
        name: _read_choices(reader, value_node, f"choice list '{name}'") for name, (_, value_node) in entries.items()
    }


def _read_choices(reader: _Reader, node: Node, what: str) -> tuple[Choice, ...]:
    if not isinstance(node, SequenceNode):
        reader.problem(node, f"{what} must be a list of {{name, label}} entries")
        return ()
    if not node.value:
        reader.problem(node, f"{what} is empty")
    choices: list[Choice] = []
    seen: set[str] = set()
    for item in node.value:
        entries = reader.mapping(item, f"a choice in {what}")
        if entries is None:
            continue
        if "name" not in entries:
            reader.problem(item, f"a choice in {what} has no name")
            continue
        name = str(reader.scalar(entries["name"][1]))
        if not CHOICE_NAME.match(name):
            reader.problem(
                entries["name"][1],
                f"choice name '{name}' in {what} may not start or end with a space",
            )
        if name in seen and not reader.allow_choice_duplicates:
            reader.problem(
                entries["name"][1],
                f"choice name '{name}' appears twice in {what} (allow it with allow_choice_duplicates: true)",
            )
        seen.add(name)
        if "label" not in entries:
            reader.problem(item, f"choice '{name}' in {what} has no label")
            continue
        label = reader.text(entries["label"][1], f"the label of choice '{name}'")
        columns: dict[str, str] = {}
        for key, (key_node, value_node) in entries.items():
            if key in ("name", "label"):
                continue
            value = reader.scalar(value_node)
            if value is None or isinstance(value, (dict, list)):
                reader.problem(key_node, f"column '{key}' of choice '{name}' must be a single value")
                continue
            columns[key] = str(value)
        if label is not None:
            choices.append(Choice(name=name, label=label, columns=columns))
    return tuple(choices)


def _read_questions(
    reader: _Reader,
    node: Node,
    choice_lists: dict[str, tuple[Choice, ...]],
    groups: tuple[str, ...],
    group_relevant: tuple[Expression, ...],
    start: int,
) -> list[Question]:
    questions = [
        question for item in _read_items(reader, node, choice_lists, groups, group_relevant, start) for question in item
    ]
    if not groups and not reader.repeat_chain:
        _check_unique_names(reader, node, questions)
    return questions


def _read_items(
    reader: _Reader,
    node: Node,
    choice_lists: dict[str, tuple[Choice, ...]],
    groups: tuple[str, ...],
    group_relevant: tuple[Expression, ...],
    start: int,
) -> list[list[Question]]:
    """The questions of a list of items, one list per item (a question with the one ``or_other``
    adds, or all the questions of a group or repeat): the units a shuffled group moves."""
    if not isinstance(node, SequenceNode) or not node.value:
        reader.problem(node, "questions must be a non-empty list")
        return []
    items: list[list[Question]] = []
    for item in node.value:
        before = start + sum(len(found) for found in items)  # the position of the item's first question
        questions: list[Question] = []
        items.append(questions)
        entries = reader.mapping(item, "a question")
        if entries is None:
            continue
        type_name = str(reader.scalar(entries["type"][1])) if "type" in entries else ""
        if type_name == "group":
            questions.extend(_read_group(reader, item, entries, choice_lists, groups, group_relevant, before))
            continue
        if type_name == "repeat":
            questions.extend(_read_repeat(reader, item, entries, choice_lists, groups, group_relevant, before))
            continue
        question = _read_question(reader, item, entries, choice_lists, before)
        if question is not None:
            placed = replace(
                question,
                groups=groups,
                relevant=(*group_relevant, *question.relevant),
                repeats=reader.repeat_chain,
            )
            questions.append(placed)
            if "or_other" in entries and question.type in CHOICE_TYPES and reader.scalar(entries["or_other"][1]) in YES:
                questions.append(_other_question(reader, placed, groups, group_relevant))
    return [found for found in items if found]


YES = (True, "yes", "true", "TRUE()", "true()")


def _other_question(
    reader: _Reader, question: Question, groups: tuple[str, ...], group_relevant: tuple[Expression, ...]
) -> Question:
    """The text question that or_other adds after a select: asked when 'other' is chosen (as pyxform does)."""
    relevant = parse(f"selected(${{{question.name}}}, '{OTHER_CHOICE}')")
    return Question(
        type=QuestionType.TEXT,
        name=f"{question.name}_{OTHER_CHOICE}",
        label=LocalizedText({reader.default_language: OTHER_QUESTION_LABEL}),
        line=question.line,
        required=False,
        relevant=(*group_relevant, relevant),
        groups=groups,
        repeats=question.repeats,
    )


def _block_name(reader: _Reader, node: Node, entries: dict[str, tuple[Node, Node]], keys: set[str], kind: str) -> str:
    """The name of a group or repeat (``kind``), reported when it is not a valid name."""
    reader.unknown_keys(entries, keys, f"a {kind}")
    name = str(reader.scalar(entries["name"][1])) if "name" in entries else ""
    if not NAME.match(name):
        reader.problem(node, f"a {kind} needs a name that starts with a letter or _ (got '{name}')")
    return name


def _block_relevant(
    reader: _Reader,
    entries: dict[str, tuple[Node, Node]],
    what: str,
    group_relevant: tuple[Expression, ...],
    start: int,
) -> tuple[Expression, ...]:
    """The relevant conditions inside a group or repeat (``what``): the enclosing ones plus its own, if any."""
    if "relevant" not in entries:
        return group_relevant
    expression = _expression(reader, entries["relevant"][1], f"relevant of {what}", start)
    return group_relevant if expression is None else (*group_relevant, expression)


def _read_group(
    reader: _Reader,
    node: Node,
    entries: dict[str, tuple[Node, Node]],
    choice_lists: dict[str, tuple[Choice, ...]],
    groups: tuple[str, ...],
    group_relevant: tuple[Expression, ...],
    start: int,
) -> list[Question]:
    name = _block_name(reader, node, entries, GROUP_KEYS, "group")
    if len(groups) >= MAX_GROUP_DEPTH:
        reader.problem(node, f"groups are nested more than {MAX_GROUP_DEPTH} deep")
        return []
    if "label" in entries:
        reader.text(entries["label"][1], f"the label of group '{name}'")
    relevant = _block_relevant(reader, entries, f"group '{name}'", group_relevant, start)
    if "questions" not in entries:
        reader.problem(node, f"group '{name}' has no questions")
        return []
    shuffled = "randomize" in entries and reader.flag(entries["randomize"][1], f"randomize of group '{name}'")
    place = len(reader.shuffled)  # outer groups first: it goes before the groups nested in it
    items = _read_items(reader, entries["questions"][1], choice_lists, (*groups, name), relevant, start)
    if shuffled:
        units = tuple(tuple(question.name for question in item) for item in items)
        if len(units) < 2:
            reader.problem(
                entries["randomize"][1], f"randomize of group '{name}': it needs two items or more to shuffle"
            )
        reader.shuffled.insert(place, ShuffledGroup(name, node.start_mark.line + 1, units))
    return [question for item in items for question in item]


def _read_repeat(
    reader: _Reader,
    node: Node,
    entries: dict[str, tuple[Node, Node]],
    choice_lists: dict[str, tuple[Choice, ...]],
    groups: tuple[str, ...],
    group_relevant: tuple[Expression, ...],
    start: int,
) -> list[Question]:
    """A repeat: its questions, asked once per pass (see :class:`~surveys.model.Repeat`)."""
    name = _block_name(reader, node, entries, REPEAT_KEYS, "repeat")
    if not NAME.match(name):
        return []
    if len(groups) + len(reader.repeat_chain) >= MAX_GROUP_DEPTH:
        reader.problem(node, f"groups and repeats are nested more than {MAX_GROUP_DEPTH} deep")
        return []
    label = reader.text(entries["label"][1], f"the label of repeat '{name}'") if "label" in entries else None
    relevant = _block_relevant(reader, entries, f"repeat '{name}'", group_relevant, start)
    repeat_count = None
    if "repeat_count" in entries:
        repeat_count = _expression(reader, entries["repeat_count"][1], f"repeat_count of repeat '{name}'", start)
    if "questions" not in entries:
        reader.problem(node, f"repeat '{name}' has no questions")
        return []
    line = node.start_mark.line + 1
    parent = reader.repeat_chain[-1] if reader.repeat_chain else None
    reader.repeats.append(
        Repeat(
            name=name,
            label=label or LocalizedText({reader.default_language: name}),
            line=line,
            relevant=relevant,
            repeat_count=repeat_count,
            parent=parent,
        )
    )
    outer = reader.repeat_chain
    reader.repeat_chain = (*outer, name)
    try:
        questions = _read_questions(reader, entries["questions"][1], choice_lists, groups, relevant, start)
    finally:
        reader.repeat_chain = outer
    if questions and not any(q.is_asked for q in questions):
        reader.problem(node, f"repeat '{name}' asks nothing; add at least one question")
    return questions


def _repeat_starts(reader: _Reader, questions: list[Question]) -> dict[str, int]:
    """The index of each repeat's first question: ``${repeat}`` (in ``count()``) may be used from there on."""
    starts: dict[str, int] = {}
    for index, question in enumerate(questions):
        for name in question.repeats:
            starts.setdefault(name, index)
    return starts


def _check_unique_names(reader: _Reader, node: Node, questions: list[Question]) -> None:
    names: dict[str, int] = {}
    for question in questions:
        if question.name in names:
            reader.problems.append(
                FileProblem(
                    reader.path,
                    question.line,
                    f"question name '{question.name}' is already used on line {names[question.name]}",
                )
            )
        else:
            names[question.name] = question.line
    group_names = {group for question in questions for group in question.groups}
    repeat_lines: dict[str, int] = {}
    for repeat in reader.repeats:
        if repeat.name in repeat_lines or repeat.name in group_names:
            reader.problems.append(
                FileProblem(reader.path, repeat.line, f"'{repeat.name}' is the name of another repeat or group")
            )
        repeat_lines.setdefault(repeat.name, repeat.line)
    group_names |= set(repeat_lines)
    for clash in sorted(group_names & set(names)):
        reader.problem(node, f"'{clash}' is the name of a group and of a question")


def _read_question(
    reader: _Reader,
    node: Node,
    entries: dict[str, tuple[Node, Node]],
    choice_lists: dict[str, tuple[Choice, ...]],
    position: int,
) -> Question | None:
    reader.unknown_keys(entries, QUESTION_KEYS, "a question")
    line = node.start_mark.line + 1
    if "type" not in entries:
        reader.problem(node, "the question has no type")
        return None
    type_name = str(reader.scalar(entries["type"][1]))
    # XLSForm writes "select_one list_name"; accept that spelling too.
    inline_list: str | None = None
    if " " in type_name.strip():
        type_name, inline_list = type_name.split(None, 1)
    type_name = TYPE_ALIASES.get(type_name, type_name)
    try:
        question_type = QuestionType(type_name)
    except ValueError:
        known = ", ".join([t.value for t in QuestionType] + ["group"])
        reader.problem(entries["type"][1], f"unknown question type '{type_name}' (known types: {known})")
        return None
    name = str(reader.scalar(entries["name"][1])) if "name" in entries else ""
    if not name:
        reader.problem(node, "the question has no name")
        return None
    if not NAME.match(name):
        reader.problem(
            entries["name"][1],
            f"question name '{name}' must start with a letter or _ and contain only letters, digits, _ - .",
        )
    if panels.is_last_wave(name):
        reader.problem(
            entries["name"][1], f"question name '{name}': names starting '{panels.PREFIX}' are the previous wave's"
        )
    what = f"question '{name}'"

    def value(key: str) -> Node:
        return entries[key][1]

    label = reader.text(value("label"), f"the label of {what}") if "label" in entries else None
    if label is None and "label" not in entries:
        if question_type is QuestionType.CALCULATE or question_type in METADATA_TYPES or "calculate" in entries:
            label = LocalizedText({reader.default_language: name})
        else:
            reader.problem(node, f"{what} has no label")
    hint = reader.text(value("hint"), f"the hint of {what}") if "hint" in entries else None

    required = (
        question_type not in (QuestionType.NOTE, QuestionType.CALCULATE)
        and question_type not in METADATA_TYPES
        and "calculate" not in entries
    )
    required_if: Expression | None = None
    if "required" in entries:
        raw = reader.scalar(value("required"))
        if raw in (True, False, "yes", "no", "true", "false", "TRUE()", "FALSE()", "true()", "false()"):
            required = reader.flag(value("required"), f"required in {what}")
        else:
            required_if = _expression(reader, value("required"), f"required of {what}", position)
            required = False
    required_message = _optional_text(reader, entries, "required_message", what)
    relevant = (
        _expression(reader, value("relevant"), f"relevant of {what}", position) if "relevant" in entries else None
    )
    constraint = None
    if "constraint" in entries:
        constraint = _expression(reader, value("constraint"), f"constraint of {what}", position, allow_self=name)
    constraint_message = _optional_text(reader, entries, "constraint_message", what)
    calculation = None
    if question_type is QuestionType.CALCULATE:
        if "calculate" not in entries:
            reader.problem(node, f"{what} is a calculate question and needs 'calculate'")
        else:
            calculation = _expression(reader, value("calculate"), f"calculate of {what}", position)
    elif "calculate" in entries:
        if question_type is QuestionType.NOTE or question_type in METADATA_TYPES:
            reader.problem(
                entries["calculate"][0], f"a {question_type.value} question cannot have 'calculate' ({what})"
            )
        else:  # a computed field (KoBo): not asked, its value is the calculation's
            calculation = _expression(reader, value("calculate"), f"calculate of {what}", position)
    trigger: tuple[str, ...] = ()
    if "trigger" in entries:
        raw_trigger = reader.scalar(value("trigger"))
        if isinstance(value("trigger"), SequenceNode):
            raw_trigger = " ".join(str(reader.scalar(item)) for item in value("trigger").value)
        names = re.findall(r"\$\{\s*([^}\s]+)\s*\}", str(raw_trigger or "")) or str(raw_trigger or "").split()
        trigger = tuple(names)
        if calculation is None or question_type is QuestionType.CALCULATE:
            reader.problem(
                entries["trigger"][0], f"'trigger' needs 'calculate' on a question that is not a calculate ({what})"
            )
        for trigger_name in trigger:
            if NAME.match(trigger_name):
                check = _PendingCheck(parse(f"${{{trigger_name}}}"), value("trigger"), f"trigger of {what}", position)
                reader.checks.append(check)
            else:
                reader.problem(value("trigger"), f"trigger of {what}: '{trigger_name}' is not a question name")
    randomize = False
    if "randomize" in entries:
        randomize = reader.flag(value("randomize"), f"randomize of {what}")
        if question_type not in CHOICE_TYPES:
            reader.problem(entries["randomize"][0], f"'randomize' only applies to select questions ({what})")
    if "or_other" in entries and question_type not in CHOICE_TYPES:
        reader.problem(entries["or_other"][0], f"'or_other' only applies to select questions ({what})")
    default = None
    if "default" in entries:
        raw_default = reader.scalar(value("default"))
        default = None if raw_default is None else str(raw_default)
    from_profile = _from_profile(reader, entries, question_type, what)
    if from_profile is not None and "from_profile" not in entries:
        default = None  # default: ${profile.x} names the register field, it is no default value

    choices_file = _choices_file(reader, entries, question_type, what)
    choices: tuple[Choice, ...] = ()
    if choices_file is None:
        choices = _question_choices(reader, entries, question_type, inline_list, choice_lists, what, node)
    if question_type is QuestionType.SELECT_MULTIPLE:
        for spaced in [c.name for c in choices if " " in c.name][:1]:
            reader.problem(node, f"{what} is a select_multiple and its choice '{spaced}' has a space in its name")
    if (
        "or_other" in entries
        and reader.flag(value("or_other"), f"or_other of {what}")
        and question_type in CHOICE_TYPES
    ):
        if any(choice.name == OTHER_CHOICE for choice in choices):
            reader.problem(
                entries["or_other"][0], f"{what} has or_other and its list already has a choice '{OTHER_CHOICE}'"
            )
        choices = (*choices, Choice(OTHER_CHOICE, LocalizedText({reader.default_language: OTHER_LABEL})))
    choice_filter = None
    if "choice_filter" in entries:
        if question_type not in CHOICE_TYPES:
            reader.problem(entries["choice_filter"][0], f"choice_filter only applies to select questions ({what})")
        else:
            choice_filter = _expression(reader, value("choice_filter"), f"choice_filter of {what}", position)
            if choice_filter is not None and not reader.allow_missing_columns and choices_file is None:
                columns = {"name"} | {column for choice in choices for column in choice.columns}
                for bare in sorted(choice_filter.bare_names() - columns):
                    reader.problem(
                        value("choice_filter"),
                        f"choice_filter of {what}: '{bare}' is not a column of its choices ({', '.join(sorted(columns))})",
                    )
    minimum, maximum, step = _question_bounds(reader, entries, question_type, what)
    min_choices = max_choices = max_length = None
    for key in ("min_choices", "max_choices"):
        if key in entries:
            if question_type is not QuestionType.SELECT_MULTIPLE:
                reader.problem(entries[key][0], f"'{key}' only applies to select_multiple questions ({what})")
                continue
            number = reader.whole_number(value(key), f"{key} of {what}", 1 if key == "max_choices" else 0)
            min_choices, max_choices = (number, max_choices) if key == "min_choices" else (min_choices, number)
    if min_choices is not None and max_choices is not None and max_choices < min_choices:
        reader.problem(value("max_choices"), f"max_choices of {what} is smaller than its min_choices")
    if "max_length" in entries:
        if question_type is not QuestionType.TEXT:
            reader.problem(entries["max_length"][0], f"'max_length' only applies to text questions ({what})")
        else:
            max_length = reader.whole_number(value("max_length"), f"max_length of {what}", 1)
    appearance = None
    if "appearance" in entries:
        appearance = str(reader.scalar(value("appearance")) or "").strip() or None
        unknown = set((appearance or "").split()) - APPEARANCES
        if unknown:
            reader.problem(
                value("appearance"),
                f"appearance '{' '.join(sorted(unknown))}' of {what} has no chat rendering "
                f"(known: {', '.join(sorted(APPEARANCES))})",
            )
    max_pixels = None
    if "max_pixels" in entries:
        if question_type is not QuestionType.IMAGE:
            reader.problem(entries["max_pixels"][0], f"'max_pixels' only applies to image questions ({what})")
        else:
            max_pixels = reader.whole_number(value("max_pixels"), f"max_pixels of {what}", 1)
    correct = str(reader.scalar(value("correct"))) if "correct" in entries else None
    explanation = _optional_text(reader, entries, "explanation", what)
    if default is not None and question_type in CHOICE_TYPES:
        unknown_defaults = set(default.split()) - {c.name for c in choices}
        if choices and unknown_defaults:
            reader.problem(
                value("default"), f"default of {what} names unknown choices: {', '.join(sorted(unknown_defaults))}"
            )
    if label is None:
        return None
    return Question(
        type=question_type,
        name=name,
        label=label,
        line=line,
        hint=hint,
        required=required,
        choices=choices,
        minimum=minimum,
        maximum=maximum,
        step=step,
        relevant=(relevant,) if relevant is not None else (),
        required_if=required_if,
        required_message=required_message,
        constraint=constraint,
        constraint_message=constraint_message,
        default=default,
        calculation=calculation,
        choice_filter=choice_filter,
        min_choices=min_choices,
        max_choices=max_choices,
        max_length=max_length,
        appearance=appearance,
        correct=correct,
        explanation=explanation,
        randomize=randomize,
        trigger=trigger,
        max_pixels=max_pixels,
        from_profile=from_profile,
        choices_file=choices_file,
        osm_tags=_osm_tags(reader, entries, question_type, what),
        prefill=_prefill(reader, entries, question_type, name, what),
    )


def _osm_tags(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], question_type: QuestionType, what: str
) -> tuple[OsmTag, ...]:
    """``osm_tags: [{key: amenity, label: Type, choices: [{name, label}...]}, {key: name, label: Name}]``:
    the tags an osm question asks after the feature's location (choices optional: any text)."""
    if "osm_tags" not in entries:
        return ()
    node = entries["osm_tags"][1]
    if question_type is not QuestionType.OSM:
        reader.problem(entries["osm_tags"][0], f"'osm_tags' only applies to osm questions ({what})")
        return ()
    if not isinstance(node, SequenceNode):
        reader.problem(node, f"the osm_tags of {what} must be a list of {{key, label, choices}} entries")
        return ()
    tags: list[OsmTag] = []
    for item in node.value:
        tag = reader.mapping(item, f"a tag in the osm_tags of {what}")
        if tag is None:
            continue
        reader.unknown_keys(tag, {"key", "label", "choices"}, f"a tag in the osm_tags of {what}")
        key = str(reader.scalar(tag["key"][1]) or "").strip() if "key" in tag else ""
        if not key or any(c in key for c in ";= "):
            reader.problem(item, f"a tag in the osm_tags of {what} needs a key without spaces, ';' or '='")
            continue
        label = reader.text(tag["label"][1], f"the label of tag '{key}'") if "label" in tag else None
        choices = _read_choices(reader, tag["choices"][1], f"the choices of tag '{key}'") if "choices" in tag else ()
        tags.append(OsmTag(key, label or LocalizedText({reader.default_language: key}), choices))
    return tuple(tags)


PROFILE_DEFAULT = re.compile(r"^\s*\$\{\s*profile\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")


def _from_profile(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], question_type: QuestionType, what: str
) -> str | None:
    """The register field a question takes its answer from: ``from_profile: user_group`` or
    ``default: ${profile.user_group}``; None without either."""
    node: Node | None = None
    field_name: str | None = None
    if "from_profile" in entries:
        node = entries["from_profile"][1]
        field_name = str(reader.scalar(node) or "").strip()
    elif "default" in entries:
        match = PROFILE_DEFAULT.match(str(reader.scalar(entries["default"][1]) or ""))
        if match is None:
            return None
        node, field_name = entries["default"][1], match.group(1)
    if node is None or field_name is None:
        return None
    if field_name not in PROFILE_FIELDS:
        known = ", ".join(sorted(PROFILE_FIELDS))
        reader.problem(node, f"{what} takes its answer from '{field_name}', which is no profile field (known: {known})")
        return None
    if question_type is QuestionType.NOTE or question_type in METADATA_TYPES or "calculate" in entries:
        reader.problem(node, f"a question that is not asked cannot take its answer from the profile ({what})")
        return None
    return field_name


def _choices_file(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], question_type: QuestionType, what: str
) -> tuple[str, str, str] | None:
    """``choices_file: {file: NAME, value: COLUMN, label: COLUMN}``: the choices are the rows of NAME.csv."""
    if "choices_file" not in entries:
        return None
    node = entries["choices_file"][1]
    if question_type not in CHOICE_TYPES:
        reader.problem(node, f"choices_file only applies to select questions ({what})")
        return None
    mapping = reader.mapping(node, f"the choices_file of {what}")
    if mapping is None:
        return None
    reader.unknown_keys(mapping, {"file", "value", "label"}, f"the choices_file of {what}")
    parts = {key: str(reader.scalar(mapping[key][1])).strip() for key in ("file", "value", "label") if key in mapping}
    if set(parts) != {"file", "value", "label"} or not all(parts.values()) or "/" in parts["file"]:
        reader.problem(node, f"the choices_file of {what} needs file (a name beside the survey), value and label")
        return None
    return (parts["file"].removesuffix(".csv"), parts["value"], parts["label"])


def _optional_text(reader: _Reader, entries: dict[str, tuple[Node, Node]], key: str, what: str) -> LocalizedText | None:
    if key not in entries:
        return None
    return reader.text(entries[key][1], f"the {key.replace('_', ' ')} of {what}")


def _expression(
    reader: _Reader, node: Node, what: str, position: int, *, allow_self: str | None = None
) -> Expression | None:
    expression = reader.expression(node, what)
    if expression is not None:
        reader.checks.append(_PendingCheck(expression, node, what, position, allow_self))
    return expression


def _check_references(reader: _Reader, questions: list[Question], repeats: dict[str, int] | None = None) -> None:
    """``${name}`` must name a question that comes earlier (or the question itself in a constraint),
    or a repeat that has begun (``count(${member})``)."""
    position = {question.name: index for index, question in enumerate(questions)}
    repeats = repeats or {}
    for check in reader.checks:
        columns = check.expression.reference_columns()
        for name in sorted(check.expression.references(), key=lambda n: columns.get(n, 0)):
            where = f"{check.what}: column {columns.get(name, 1)}"
            if panels.is_last_wave(name):
                reader.names_last_wave(check.node, name.removeprefix(panels.PREFIX), where)
            elif name in repeats and name not in position:
                if repeats[name] > check.position:
                    reader.problem(check.node, f"{where}: ${{{name}}} refers to a later repeat")
            elif name not in position:
                reader.problem(check.node, f"{where}: ${{{name}}} is not a question of this survey")
            elif name == check.allow_self:
                continue
            elif position[name] > check.position and reader.allow_later_references:
                continue  # empty until the later question is answered, as in ODK
            elif position[name] >= check.position:
                later = "itself" if position[name] == check.position else "a later question"
                reader.problem(
                    check.node,
                    f"{where}: ${{{name}}} refers to {later}; only earlier answers are known"
                    + ("" if position[name] == check.position else " (unless allow_later_references: true)"),
                )
            elif questions[position[name]].is_note and not reader.allow_note_references:
                reader.problem(check.node, f"{where}: ${{{name}}} is a note, which has no value")


def _check_quiz(reader: _Reader, kind: str, questions: list[Question], entries: dict[str, tuple[Node, Node]]) -> None:
    for question in questions:
        if question.correct is None and question.explanation is None:
            continue
        where = FileProblem(reader.path, question.line, "")
        if kind != "quiz":
            reader.problems.append(
                replace(
                    where,
                    message=f"question '{question.name}' has 'correct' or 'explanation', which only quizzes use (kind: quiz)",
                )
            )
        elif question.type is not QuestionType.SELECT_ONE:
            reader.problems.append(replace(where, message=f"'correct' needs a select_one question ('{question.name}')"))
        elif question.correct is not None and question.choice(question.correct) is None:
            reader.problems.append(
                replace(
                    where,
                    message=f"the correct answer '{question.correct}' of question '{question.name}' is not one of its choices",
                )
            )
    if kind == "quiz" and not any(q.correct for q in questions):
        reader.problem(entries["kind"][1], "a quiz needs at least one question with a 'correct' choice")


def _question_choices(
    reader: _Reader,
    entries: dict[str, tuple[Node, Node]],
    question_type: QuestionType,
    inline_list: str | None,
    choice_lists: dict[str, tuple[Choice, ...]],
    what: str,
    node: Node,
) -> tuple[Choice, ...]:
    if question_type not in LISTED_TYPES:
        if "choices" in entries:
            reader.problem(entries["choices"][0], f"{what} is a {question_type.value} question and cannot have choices")
        return ()
    if "choices" not in entries and inline_list is None:
        reader.problem(node, f"{what} needs choices: a list, or the name of a list under 'choices'")
        return ()
    if "choices" in entries and isinstance(entries["choices"][1], SequenceNode):
        return _read_choices(reader, entries["choices"][1], f"the choices of {what}")
    list_node = entries["choices"][1] if "choices" in entries else entries["type"][1]
    list_name = inline_list if "choices" not in entries else str(reader.scalar(list_node))
    if list_name not in choice_lists:
        known = ", ".join(sorted(choice_lists)) or "none defined"
        reader.problem(
            list_node, f"{what} uses the choice list '{list_name}', which is not defined under 'choices' ({known})"
        )
        return ()
    return choice_lists[list_name]


def _question_bounds(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], question_type: QuestionType, what: str
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    bounds: dict[str, Decimal | None] = {}
    allowed: Iterable[str]
    if question_type in (QuestionType.INTEGER, QuestionType.DECIMAL):
        allowed = ("min", "max")
    elif question_type is QuestionType.RANGE:
        allowed = ("start", "end", "step")
    else:
        allowed = ()
    for key in ("min", "max", "start", "end", "step"):
        if key not in entries:
            continue
        if key not in allowed:
            reader.problem(entries[key][0], f"'{key}' does not apply to the {question_type.value} question {what}")
            continue
        bounds[key] = reader.number(entries[key][1], f"{key} of {what}")
    if question_type is QuestionType.RANGE:
        # ODK's defaults for a range question.
        start = bounds.get("start", Decimal(0))
        end = bounds.get("end", Decimal(10))
        step = bounds.get("step", Decimal(1))
        if start is not None and end is not None and step is not None:
            if step <= 0:
                reader.problem(entries.get("step", entries["type"])[1], f"step of {what} must be greater than 0")
            elif end <= start:
                reader.problem(entries.get("end", entries["type"])[1], f"end of {what} must be greater than start")
            elif (end - start) / step > 20:
                reader.problem(entries["type"][1], f"{what} has more than 21 points; use an integer question instead")
        return start, end, step
    minimum, maximum = bounds.get("min"), bounds.get("max")
    if minimum is not None and maximum is not None and maximum < minimum:
        reader.problem(entries["max"][1], f"max of {what} is smaller than its min")
    return minimum, maximum, None
