"""Reads survey YAML files into :class:`~surveys.model.Survey` values, checking everything.

Every problem is reported with the file and line it comes from, and all problems of a file are
reported at once so that an author can fix them in one pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from surveys.errors import SurveyFileError, SurveyProblem
from surveys.model import CHOICE_TYPES, Choice, LocalizedText, Question, QuestionType, Survey

SURVEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# XLSForm names: a letter or underscore first, then letters, digits, _ - and dots.
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")

SURVEY_KEYS = {
    "id", "title", "default_language", "languages", "intro", "outro", "questions", "choices",
    "version", "description",
}  # fmt: skip
QUESTION_KEYS = {"type", "name", "label", "hint", "required", "choices", "min", "max",
                 "start", "end", "step"}  # fmt: skip
MAX_FILE_BYTES = 2_000_000


class _Reader:
    """Walks the YAML node tree of one file, collecting problems instead of stopping at the first."""

    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.problems: list[SurveyProblem] = []
        self.languages_seen: set[str] = set()
        self.default_language = "en"

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(SurveyProblem(self.path, node.start_mark.line + 1, message))

    def scalar(self, node: Node) -> Any:
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

    def unknown_keys(self, entries: dict[str, tuple[Node, Node]], known: set[str], what: str) -> None:
        for key, (key_node, _) in entries.items():
            if key not in known:
                self.problem(key_node, f"unknown key '{key}' in {what} (known keys: {', '.join(sorted(known))})")

    def text(self, node: Node, what: str) -> LocalizedText | None:
        """A text field: a plain string, or a mapping of language codes to strings."""
        if isinstance(node, ScalarNode):
            value = self.scalar(node)
            if value is None or str(value).strip() == "":
                self.problem(node, f"{what} is empty")
                return None
            return LocalizedText({"": str(value)})
        entries = self.mapping(node, what)
        if entries is None:
            return None
        translations: dict[str, str] = {}
        for language, (key_node, value_node) in entries.items():
            if not LANGUAGE.match(language):
                self.problem(key_node, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            value = self.scalar(value_node) if isinstance(value_node, ScalarNode) else None
            if value is None or str(value).strip() == "":
                self.problem(value_node, f"{what} in '{language}' is empty")
                continue
            translations[language] = str(value)
            self.languages_seen.add(language)
        if translations and self.default_language not in translations:
            self.problem(node, f"{what} has no text in the default language '{self.default_language}'")
        return LocalizedText(translations) if translations else None

    def number(self, node: Node, what: str) -> Decimal | None:
        value = self.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or value is None:
            self.problem(node, f"{what} must be a number")
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            self.problem(node, f"{what} must be a number, not '{value}'")
            return None


def _resolve_default_language(text: LocalizedText | None, default_language: str) -> LocalizedText | None:
    """Plain strings are written in the survey's default language."""
    if text is None or "" not in text.translations:
        return text
    return LocalizedText({default_language: text.translations[""]})


def load_survey_text(text: str, path: str) -> Survey:
    """Parse and validate one survey; raises :class:`SurveyFileError` listing every problem."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        message = f"YAML syntax error: {error.problem}"
        if "expected ',' or '}'" in str(error.problem):
            message += " (inside {...} put texts that contain '?', ',' or ':' in quotes)"
        raise SurveyFileError([SurveyProblem(path, line, message)]) from None
    except yaml.YAMLError as error:
        raise SurveyFileError([SurveyProblem(path, 1, f"YAML syntax error: {error}")]) from None
    finally:
        loader.dispose()
    if root is None:
        raise SurveyFileError([SurveyProblem(path, 1, "the file is empty")])
    reader = _Reader(path, loader)
    survey = _read_survey(reader, root, text)
    if reader.problems or survey is None:
        raise SurveyFileError(sorted(reader.problems, key=lambda p: p.line))
    return survey


def load_survey_file(path: Path) -> Survey:
    """Read one survey file (``.yaml`` or ``.yml``)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SurveyFileError(
                [SurveyProblem(str(path), 1, f"the file is {size} bytes; the limit is {MAX_FILE_BYTES}")]
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SurveyFileError([SurveyProblem(str(path), 1, "the file is not UTF-8 text")]) from None
    except OSError as error:
        raise SurveyFileError([SurveyProblem(str(path), 1, f"cannot read the file: {error.strerror}")]) from None
    return load_survey_text(text, str(path))


def survey_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_survey_directory(directory: Path) -> dict[str, Survey]:
    """Load every survey in ``directory``; raises one :class:`SurveyFileError` for all problems.

    Two files with the same survey id are a problem too.
    """
    problems: list[SurveyProblem] = []
    surveys: dict[str, Survey] = {}
    if not directory.is_dir():
        raise SurveyFileError([SurveyProblem(str(directory), 1, "the survey folder does not exist")])
    for path in survey_files(directory):
        try:
            survey = load_survey_file(path)
        except SurveyFileError as error:
            problems.extend(error.problems)
            continue
        if survey.id in surveys:
            problems.append(
                SurveyProblem(str(path), 1, f"survey id '{survey.id}' is also used by {surveys[survey.id].source}")
            )
            continue
        surveys[survey.id] = survey
    if problems:
        raise SurveyFileError(problems)
    return surveys


def _read_survey(reader: _Reader, root: Node, text: str) -> Survey | None:
    entries = reader.mapping(root, "a survey")
    if entries is None:
        return None
    reader.unknown_keys(entries, SURVEY_KEYS, "the survey")

    survey_id = ""
    if "id" not in entries:
        reader.problem(root, "the survey has no 'id'")
    else:
        survey_id = str(reader.scalar(entries["id"][1]))
        if not SURVEY_ID.match(survey_id):
            reader.problem(entries["id"][1], f"survey id '{survey_id}' must be 1 to 40 letters, digits, _ or -")

    default_language = "en"
    if "default_language" in entries:
        default_language = str(reader.scalar(entries["default_language"][1]))
        if not LANGUAGE.match(default_language):
            reader.problem(
                entries["default_language"][1],
                f"default_language '{default_language}' is not a language code such as en or fr",
            )
    reader.default_language = default_language

    title = reader.text(entries["title"][1], "title") if "title" in entries else None
    if "title" not in entries:
        reader.problem(root, "the survey has no 'title'")
    intro = reader.text(entries["intro"][1], "intro") if "intro" in entries else None
    outro = reader.text(entries["outro"][1], "outro") if "outro" in entries else None

    choice_lists = _read_choice_lists(reader, entries["choices"][1]) if "choices" in entries else {}
    questions: list[Question] = []
    if "questions" not in entries:
        reader.problem(root, "the survey has no 'questions'")
    else:
        questions = _read_questions(reader, entries["questions"][1], choice_lists, default_language)

    languages = _declared_languages(reader, entries, default_language)
    resolve = _resolve_default_language
    if reader.problems or title is None:
        return None
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    if "version" in entries:
        version = str(reader.scalar(entries["version"][1]))
    return Survey(
        id=survey_id,
        title=resolve(title, default_language) or title,
        default_language=default_language,
        languages=languages,
        questions=tuple(questions),
        version=version,
        source=reader.path,
        intro=resolve(intro, default_language),
        outro=resolve(outro, default_language),
    )


def _declared_languages(
    reader: _Reader, entries: dict[str, tuple[Node, Node]], default_language: str
) -> tuple[str, ...]:
    if "languages" not in entries:
        return (default_language, *sorted(reader.languages_seen - {default_language}))
    node = entries["languages"][1]
    if not isinstance(node, SequenceNode):
        reader.problem(node, "languages must be a list such as [en, fr]")
        return (default_language,)
    declared = [str(reader.scalar(item)) for item in node.value]
    if default_language not in declared:
        reader.problem(node, f"languages must include the default_language '{default_language}'")
    return (default_language, *[lang for lang in declared if lang != default_language])


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
        reader.unknown_keys(entries, {"name", "label"}, f"a choice in {what}")
        if "name" not in entries:
            reader.problem(item, f"a choice in {what} has no name")
            continue
        name = str(reader.scalar(entries["name"][1]))
        if not NAME.match(name):
            reader.problem(
                entries["name"][1],
                f"choice name '{name}' in {what} must start with a letter or _ and contain only letters, digits, _ - .",
            )
        if name in seen:
            reader.problem(entries["name"][1], f"choice name '{name}' appears twice in {what}")
        seen.add(name)
        if "label" not in entries:
            reader.problem(item, f"choice '{name}' in {what} has no label")
            continue
        label = reader.text(entries["label"][1], f"the label of choice '{name}'")
        if label is not None:
            choices.append(Choice(name=name, label=label))
    return tuple(choices)


def _read_questions(
    reader: _Reader, node: Node, choice_lists: dict[str, tuple[Choice, ...]], default_language: str
) -> list[Question]:
    if not isinstance(node, SequenceNode) or not node.value:
        reader.problem(node, "questions must be a non-empty list")
        return []
    questions: list[Question] = []
    names: dict[str, int] = {}
    for item in node.value:
        question = _read_question(reader, item, choice_lists, default_language)
        if question is None:
            continue
        if question.name in names:
            reader.problem(item, f"question name '{question.name}' is already used on line {names[question.name]}")
            continue
        names[question.name] = question.line
        questions.append(question)
    if questions and all(q.is_note for q in questions):
        reader.problem(node, "the survey has only notes; add at least one question")
    return questions


def _read_question(
    reader: _Reader, node: Node, choice_lists: dict[str, tuple[Choice, ...]], default_language: str
) -> Question | None:
    entries = reader.mapping(node, "a question")
    if entries is None:
        return None
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
    try:
        question_type = QuestionType(type_name)
    except ValueError:
        known = ", ".join(t.value for t in QuestionType)
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
    what = f"question '{name}'"
    label = reader.text(entries["label"][1], f"the label of {what}") if "label" in entries else None
    if "label" not in entries:
        reader.problem(node, f"{what} has no label")
    hint = reader.text(entries["hint"][1], f"the hint of {what}") if "hint" in entries else None
    required = question_type is not QuestionType.NOTE
    if "required" in entries:
        value = reader.scalar(entries["required"][1])
        if value not in (True, False, "yes", "no"):
            reader.problem(entries["required"][1], f"required in {what} must be true or false")
        required = value in (True, "yes")

    choices = _question_choices(reader, entries, question_type, inline_list, choice_lists, what, node)
    minimum, maximum, step = _question_bounds(reader, entries, question_type, what)
    if label is None:
        return None
    resolve = _resolve_default_language
    return Question(
        type=question_type,
        name=name,
        label=resolve(label, default_language) or label,
        line=line,
        hint=resolve(hint, default_language),
        required=required,
        choices=tuple(Choice(c.name, resolve(c.label, default_language) or c.label) for c in choices),
        minimum=minimum,
        maximum=maximum,
        step=step,
    )


def _question_choices(
    reader: _Reader,
    entries: dict[str, tuple[Node, Node]],
    question_type: QuestionType,
    inline_list: str | None,
    choice_lists: dict[str, tuple[Choice, ...]],
    what: str,
    node: Node,
) -> tuple[Choice, ...]:
    if question_type not in CHOICE_TYPES:
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
