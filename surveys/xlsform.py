"""Converts an XLSForm spreadsheet (ODK, KoBoToolbox, SurveyCTO) into a Baraza survey YAML file.

pyxform reads the workbook and validates the form with its own checks, so whatever ODK would
reject is rejected here too, with the row pyxform names. The conversion itself reads the rows
(keeping their spreadsheet row numbers) and writes the survey in the format of ``office/surveys/README.md``:
questions, groups, repeats, choice lists with their extra columns (external ones included),
translations and expressions, copied verbatim, reading the form as pyxform does (docs/surveys.md
lists how). Metadata is recorded, never asked. What a chat cannot ask (background-audio, a search() of a file named by an answer...)
and, in a version whose loader lacks them, media, locations and repeats, are errors unless
``drop_unsupported`` is set, in which case they are left out and listed.

Every problem is an :class:`XlsformIssue`, printed as ``FORM.xlsx:survey:ROW: message`` with the
row numbered as in Excel (the header is row 1).
"""

from __future__ import annotations

import bisect
import csv
import functools
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from common.errors import BarazaError
from surveys.errors import SurveyFileError
from surveys.loader import APPEARANCES, load_survey_text
from surveys.model import QuestionType

Text = str | dict[str, str]

# --------------------------------------------------------------------------------------------
# Results and errors


@dataclass(frozen=True)
class XlsformIssue:
    """One problem or note about a row of the spreadsheet; ``row`` is 1-based, the header is row 1.

    ``sheet`` is empty (and ``row`` 0) for problems with the file as a whole.
    """

    file: str
    sheet: str
    row: int
    message: str
    #: What the row is about, for counting (the question type of a dropped row, say); not printed.
    kind: str = field(default="", compare=False)

    def __str__(self) -> str:
        if not self.sheet:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.sheet}:{self.row}: {self.message}"


class XlsformError(BarazaError):
    """The spreadsheet cannot be converted; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[XlsformIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class XlsformConversion:
    """The converted survey.

    ``dropped`` lists what was left out because a chat cannot run it (only with
    ``drop_unsupported``); ``warnings`` what has no meaning in a chat and was ignored (metadata
    questions, media columns, appearances...). ``source_rows`` maps a line of ``yaml_text`` to
    the spreadsheet row it was written from, see :meth:`source_of`.
    """

    yaml_text: str
    dropped: list[XlsformIssue] = field(default_factory=list)
    warnings: list[XlsformIssue] = field(default_factory=list)
    source_rows: tuple[tuple[int, str, int], ...] = ()
    #: Question names changed by the conversion (the same name in two groups): spreadsheet name -> YAML name.
    renamed: Mapping[str, str] = field(default_factory=dict)
    #: The survey sheet row of each question, by spreadsheet name (the first one, if a name is used twice).
    rows: Mapping[str, int] = field(default_factory=dict)
    #: Questions left out (with ``drop_unsupported``), by name: why.
    left_out: Mapping[str, str] = field(default_factory=dict)
    #: The CSV files that pulldata() reads, found beside the form (to go beside the survey file).
    data_files: tuple[Path, ...] = ()
    #: The CSV files (pulldata(), search(), *_from_file) that were not beside the form: until they are put
    #: beside the survey file, their values are empty or their questions have no choices.
    missing_files: tuple[str, ...] = ()

    def source_of(self, line: int) -> tuple[str, int]:
        """The ``(sheet, row)`` that line ``line`` (1-based) of ``yaml_text`` was written from."""
        lines = [entry[0] for entry in self.source_rows]
        index = bisect.bisect_right(lines, line) - 1
        if index < 0:
            return ("", 0)
        _, sheet, row = self.source_rows[index]
        return (sheet, row)


# --------------------------------------------------------------------------------------------
# Vocabulary

SURVEY, CHOICES, SETTINGS, EXTERNAL = "survey", "choices", "settings", "external_choices"
NOT_ASKED = {"note", "calculate", "group", "repeat", *{"start", "end", "today", "deviceid", "username"},
             *{"phonenumber", "simserial", "subscriberid", "email", "audit", "start-geopoint"}}  # fmt: skip

# Types that convert one to one (pyxform's aliases included).
SIMPLE_TYPES = {
    "time": "time", "q time": "time", "add time prompt": "time",
    "datetime": "datetime", "q datetime": "datetime", "add datetime prompt": "datetime",
    "barcode": "barcode", "q barcode": "barcode", "add barcode prompt": "barcode",
    "acknowledge": "acknowledge", "trigger": "acknowledge", "q acknowledge": "acknowledge",
    # Media and locations: the survey YAML has them (docs: office/surveys/README.md).
    "image": "image", "photo": "image", "q picture": "image", "q image": "image", "add image prompt": "image",
    "audio": "audio", "q audio": "audio", "add audio prompt": "audio",
    "video": "video", "q video": "video", "add video prompt": "video", "file": "file",
    "geopoint": "geopoint", "gps": "geopoint", "location": "geopoint", "q location": "geopoint",
    "add location prompt": "geopoint", "geotrace": "geotrace", "geoshape": "geoshape",
    "integer": "integer", "int": "integer", "q int": "integer", "add integer prompt": "integer",
    "decimal": "decimal", "q decimal": "decimal", "add decimal prompt": "decimal",
    "date": "date", "q date": "date", "add date prompt": "date",
    "text": "text", "string": "text", "q string": "text", "add text prompt": "text",
    "note": "note", "q note": "note", "add note prompt": "note",
    "calculate": "calculate", "q calculate": "calculate", "add calculate prompt": "calculate",
    "range": "range",
}  # fmt: skip
# Metadata that a phone collects by itself, with its survey type: Baraza fills start, end and today;
# the others are recorded empty (a chat has no device, SIM or phone account to read them from).
METADATA_TYPES = {
    "start": "start", "end": "end", "today": "today", "deviceid": "deviceid", "imei": "deviceid",
    "device id": "deviceid", "username": "username", "phonenumber": "phonenumber", "phone number": "phonenumber",
    "audit": "audit", "simserial": "simserial", "sim id": "simserial", "subscriberid": "subscriberid",
    "subscriber id": "subscriberid", "email": "email", "start time": "start", "end time": "end",
    "get start time": "start", "get end time": "end", "get today": "today", "get device id": "deviceid",
    "get sim id": "simserial", "get subscriber id": "subscriberid", "get phone number": "phonenumber",
    "uri:deviceid": "deviceid", "uri:username": "username", "uri:phonenumber": "phonenumber",
    "uri:simserial": "simserial", "uri:subscriberid": "subscriberid", "uri:email": "email",
    "start-geopoint": "start-geopoint",
}  # fmt: skip
FILLED_METADATA = {"start": "when the response began", "end": "when it was last answered", "today": "the day it began"}
SELECT_ONE_WORDS = (
    "select_one",
    "select one",
    "select1",
    "select one from",
    "add select one prompt using",
    "select one using",
)
SELECT_MULTIPLE_WORDS = (
    "select_multiple",
    "select multiple",
    "select all that apply",
    "select all that apply from",
    "add select multiple prompt using",
    "select multiple using",
    "select multiple from",
)
#: The select_*_from_file files read beside the survey file when it is loaded (not needed at import).
LATER_FILE_SUFFIXES = (".csv", ".geojson", ".xml")
FROM_FILE_WORDS = (
    "select_one_from_file",
    "select_multiple_from_file",
    "select one from file",
    "select multiple from file",
    "select_one_external",
    "select one external",
    "rank",
)
_WORDS = "|".join(
    re.escape(w) for w in sorted(SELECT_ONE_WORDS + SELECT_MULTIPLE_WORDS + FROM_FILE_WORDS, key=len, reverse=True)
)
SELECT = re.compile(
    rf"^(?P<command>{_WORDS})\s+(?P<list>\S+)(?:\s+(?P<other>or_other|or specify other|or other))?$", re.IGNORECASE
)
CONTROL = re.compile(r"^(?P<edge>begin|end)[ _](?P<kind>group|repeat|lgroup|looped[ _]group|loop)(?:\s.*)?$")
WHY_UNSUPPORTED = {
    "background-geopoint": "the phone's location in the background",
    "background-audio": "a sound recording in the background", "hidden": "a hidden value",
    "xml-external": "an external data file", "csv-external": "an external data file", "osm": "a map feature",
}  # fmt: skip
MEDIA_TYPES = ("image", "audio", "video", "file")
WHAT_THEY_COLLECT = {
    "image": "a photo", "audio": "a sound recording", "video": "a video", "file": "a file",
    "geopoint": "a location", "geotrace": "a line of locations", "geoshape": "a shape of locations",
    "repeat": "a repeated group of questions",
}  # fmt: skip


@functools.cache
def loader_knows(type_name: str) -> bool:
    """Whether this version's survey loader accepts a question type (``repeat``: repeated groups)."""
    if type_name != "repeat":
        return type_name in {t.value for t in QuestionType} or type_name == "group"
    probe = "id: p\ntitle: p\nquestions:\n  - {type: repeat, name: r, label: R, questions: [{type: text, name: t, label: T}]}\n"
    try:
        load_survey_text(probe, "probe.yaml")
    except SurveyFileError:
        return False
    return True


# Column names as pyxform spells them, and their aliases.
SURVEY_COLUMN_ALIASES = {
    "relevance": "relevant", "caption": "label", "command": "type", "tag": "name", "value": "name",
    "constraining_message": "constraint_message", "jr:constraintmsg": "constraint_message",
    "requiredmsg": "required_message", "jr:requiredmsg": "required_message", "calculate": "calculation",
    "choice-filter": "choice_filter", "readonly": "read_only", "count": "repeat_count",
    "jr:count": "repeat_count",
}  # fmt: skip
TRANSLATABLE = {"label", "hint", "constraint_message", "required_message", "explanation"}
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "required")
SUPPORTED_SURVEY_COLUMNS = {
    "type", "name", "label", "hint", "required", "required_message", "relevant", "constraint",
    "constraint_message", "default", "calculation", "choice_filter", "appearance", "parameters",
    "min_choices", "max_choices", "max_length", "correct", "explanation", "repeat_count", "trigger",
}  # fmt: skip
MEDIA_COLUMNS = {"image", "big-image", "audio", "video", "media"}
# Columns that change nothing a chat can show: ignored with a warning.
IGNORED_SURVEY_COLUMNS = {
    "guidance_hint": "guidance hints are for printed forms", "read_only": "read-only questions are shown as answerable",
    "body": "no meaning in a chat", "bind": "no meaning in a chat",
    "instance": "no meaning in a chat", "control": "no meaning in a chat", "autoplay": "no media in a chat",
    "save_to": "entities are not supported", "media": "no media in a chat", "image": "no media in a chat",
    "big-image": "no media in a chat", "audio": "no media in a chat", "video": "no media in a chat",
    "note": "a comment column", "notes": "a comment column", "comment": "a comment column",
    "comments": "a comment column",
}  # fmt: skip
SETTINGS_ALIASES = {
    "form_title": "title",
    "set_form_title": "title",
    "form_id": "id",
    "set_form_id": "id",
    "id_string": "id",
}
# (audience is not among them: pyxform rejects its ${user_group}-style references to the contact.)
SETTINGS_EXTENSIONS = ("kind", "confirm", "opens", "closes", "max_responses_per_user", "anonymous")
SETTINGS_TEXTS = ("intro", "outro")

# Language names (English and own names) to ISO 639-1 codes, for `label::French` style columns.
LANGUAGE_CODES = {
    "english": "en", "french": "fr", "français": "fr", "francais": "fr", "portuguese": "pt", "português": "pt",
    "portugues": "pt", "arabic": "ar", "العربية": "ar", "swahili": "sw", "kiswahili": "sw", "spanish": "es",
    "español": "es", "espanol": "es", "german": "de", "deutsch": "de", "italian": "it", "russian": "ru",
    "chinese": "zh", "hindi": "hi", "bengali": "bn", "bangla": "bn", "urdu": "ur", "amharic": "am",
    "hausa": "ha", "yoruba": "yo", "igbo": "ig", "somali": "so", "oromo": "om", "tigrinya": "ti", "zulu": "zu",
    "xhosa": "xh", "afrikaans": "af", "kinyarwanda": "rw", "kirundi": "rn", "luganda": "lg", "lingala": "ln",
    "malagasy": "mg", "wolof": "wo", "fula": "ff", "fulfulde": "ff", "shona": "sn", "chichewa": "ny",
    "nyanja": "ny", "sesotho": "st", "setswana": "tn", "tswana": "tn", "dutch": "nl", "turkish": "tr",
    "persian": "fa", "farsi": "fa", "pashto": "ps", "indonesian": "id", "malay": "ms", "vietnamese": "vi",
    "thai": "th", "nepali": "ne", "burmese": "my", "khmer": "km", "lao": "lo", "tagalog": "tl",
    "ukrainian": "uk", "polish": "pl", "romanian": "ro", "greek": "el", "hebrew": "he", "japanese": "ja",
    "korean": "ko", "tamil": "ta", "telugu": "te", "marathi": "mr", "gujarati": "gu", "punjabi": "pa",
    "sinhala": "si", "haitian creole": "ht", "kurdish": "ku", "azerbaijani": "az", "uzbek": "uz",
    "kazakh": "kk", "kyrgyz": "ky", "tajik": "tg", "mongolian": "mn", "georgian": "ka", "armenian": "hy",
    "albanian": "sq", "serbian": "sr", "croatian": "hr", "bosnian": "bs", "tigre": "tig", "tetun": "tet",
    "tetum": "tet", "changana": "ts", "xichangana": "ts", "tsonga": "ts", "sena": "seh", "ndau": "ndc",
    "makhuwa": "vmw", "emakhuwa": "vmw", "cinyanja": "ny", "dari": "prs", "nepali (np)": "ne",
}  # fmt: skip
UNDETERMINED = "und"
LOOP = re.compile(r"^begin[ _]loop over (\S+)$", re.IGNORECASE)
LOOP_END = re.compile(r"^\s*end[ _]loop\s*$", re.IGNORECASE)
ITEXT_LOOKUP = re.compile(
    r"jr:itext\(\s*instance\(\s*'([^']+)'\s*\)/root/item\[\s*name\s*=\s*(\$\{[^}]+\})\s*\]/itextId\s*\)"
)
BIND_PREFIX = re.compile(r"^bind::?(?=\S)", re.IGNORECASE)
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
CODE_IN_PARENTHESES = re.compile(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\s*\)\s*$")
SURVEY_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
SEARCH = re.compile(
    r"search\(\s*(?:['\"](?P<file>[^'\"/]+)['\"]|\$\{\s*(?P<answer>[A-Za-z_][\w.-]*)\s*\})\s*(?:,\s*['\"](?P<mode>matches|contains|startswith|endswith)['\"]\s*,"
    r"\s*['\"](?P<column>[A-Za-z_][\w.-]*)['\"]\s*,\s*(?P<value>[^,()]+|'[^']*')\s*)?\)"
)
PULLDATA_BY_ANSWER = re.compile(r"pulldata\(\s*\$\{\s*([^}\s]+)\s*\}\s*,")
PULLDATA_FILE = re.compile(r"pulldata\(\s*['\"]([^'\"]+)['\"]")
REFERENCE = re.compile(r"\$\{\s*([^}\s]+)\s*\}")
STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
PYXFORM_ROW = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
PYXFORM_SHEET = re.compile(r"[Oo]n the '(survey|choices|settings|external_choices|entities)' sheet")
YES = {"yes", "true", "true()"}
NO = {"no", "false", "false()"}
FLOW_WIDTH = 100


def language_code(declaration: str) -> str | None:
    """The language code in a column suffix: ``English (en)`` -> en, ``French`` -> fr, ``pt`` -> pt,
    ``Tetun (tet)`` -> tet (ISO 639-1, -2 or -3). None if it names no language Baraza knows."""
    declaration = declaration.strip()
    match = CODE_IN_PARENTHESES.search(declaration)
    if match:
        return match.group(1).lower().replace("_", "-")
    named = LANGUAGE_CODES.get(declaration.casefold())
    if named:
        return named
    if LANGUAGE_CODE.match(declaration.lower()):
        return declaration.lower().replace("_", "-")
    return None


def private_language_code(declaration: str) -> str:
    """``x-name``: the code (BCP 47 private use) of a language without an ISO code."""
    slug = re.sub(r"[^a-z0-9]+", "", declaration.casefold().encode("ascii", "ignore").decode())[:8]
    return f"x-{slug or 'lang'}"


# --------------------------------------------------------------------------------------------
# Reading the workbook


@dataclass
class _Column:
    header: str
    base: str  # dealiased first token, e.g. "label", "constraint_message", or the header itself
    language: str | None = None  # the language declaration after '::', if any
    code: str | None = None  # its language code


@dataclass
class _Sheet:
    name: str
    columns: list[_Column]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row, header -> value) for non-empty rows


def _snake(token: str) -> str:
    return re.sub(r"\s+", "_", token.strip().lower())


def _parse_columns(headers: Sequence[str], aliases: Mapping[str, str]) -> list[_Column]:
    double_colon = any("::" in h for h in headers)
    columns = []
    for header in headers:
        text = header
        bind = BIND_PREFIX.match(text)
        if bind:  # old spellings: bind::relevant, bind:jr:constraintMsg mean relevant, constraint_message
            text = text[bind.end() :]
        if double_colon or "::" in text:
            tokens = [t.strip() for t in text.split("::")]
        elif ":" in text and not text.lower().startswith(("jr:", "uri:")):
            tokens = [t.strip() for t in text.split(":")]
        else:
            tokens = [text.strip()]
        base = _snake(tokens[0])
        base = aliases.get(base, base)
        if base == "media" and len(tokens) > 1:  # media::image::English (en)
            base = _snake(tokens[1])
            tokens = tokens[1:]
        language = tokens[1] if len(tokens) > 1 else None
        columns.append(_Column(header=header, base=base, language=language))
    return columns


def _sheet(
    name: str,
    data: Sequence[Mapping[str, Any]] | None,
    header: Sequence[Mapping[str, Any]] | None,
    aliases: Mapping[str, str],
) -> _Sheet:
    headers = [str(h) for h in header[0]] if header else []
    rows = []
    for index, row in enumerate(data or ()):
        values = {str(k): str(v) for k, v in row.items() if v is not None and str(v).strip() != ""}
        if values:
            rows.append((index + 2, values))  # pyxform keeps empty rows, so the index is the row
    return _Sheet(name=name, columns=_parse_columns(headers, aliases), rows=rows)


def _number(value: str) -> int | float | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _parameters(value: str) -> dict[str, str]:
    """XLSForm ``parameters``: ``start=1 end=5 step=1`` (spaces, commas or semicolons between)."""
    result = {}
    for part in re.split(r"[\s,;]+", re.sub(r"\s*=\s*", "=", value.strip())):
        if "=" in part:
            key, _, item = part.partition("=")
            result[key.strip().lower()] = item.strip()
    return result


# --------------------------------------------------------------------------------------------
# The conversion


@dataclass
class _Node:
    """A question or group being built, with the row it comes from."""

    data: dict[str, Any]
    row: int
    children: list[_Node] | None = None


@dataclass
class _Frame:
    """An open begin_group / begin_repeat."""

    kind: str  # "group", "repeat" or "dropped"
    row: int
    name: str
    node: _Node | None
    children: list[_Node]
    what: str = ""  # of a dropped frame: what it was


class _Converter:
    def __init__(self, path: Path, drop_unsupported: bool, all_types: bool = False) -> None:
        self.all_types = all_types
        self.form_path = path
        self.file = path.name
        self.drop_unsupported = drop_unsupported
        self.errors: list[XlsformIssue] = []
        self.dropped: list[XlsformIssue] = []
        self.warnings: list[XlsformIssue] = []
        self.default_language = "en"
        self.languages: list[str] = []
        self.dropped_names: dict[str, str] = {}  # name -> why, for references to it
        self.pending_references: list[tuple[int, str, str]] = []  # (row, column, expression)
        self.rows: dict[str, int] = {}  # question name -> its row
        self.names: set[str] = set()  # names used so far (questions and groups)
        self.renamed: dict[str, str] = {}
        self.external_lists: dict[str, list[dict[str, Any]]] = {}  # the external_choices sheet
        self.external_used: set[str] = set()
        self.extra_lists: dict[str, list[dict[str, Any]]] = {}  # external lists the survey uses
        self.missing: dict[tuple[str, int], set[str]] = {}  # (sheet, row) -> "label in fr", ...
        self.duplicate_choices = False
        #: The names of the lists on the choices sheet.
        self.sheet_lists: set[str] = set()
        self.choice_sheet: Mapping[str, list[dict[str, Any]]] = {}
        #: The lists of the osm sheet: an osm question's tags, and the values of a tag named like a list.
        self.osm_lists: Mapping[str, list[dict[str, Any]]] = {}
        #: pulldata() files (without .csv) -> whether the file is beside the form.
        self.data_files: dict[str, bool] = {}

    # -- issues

    def issue(self, sheet: str, row: int, message: str) -> None:
        self.errors.append(XlsformIssue(self.file, sheet, row, message))

    def warn(self, sheet: str, row: int, message: str, kind: str = "") -> None:
        self.warnings.append(XlsformIssue(self.file, sheet, row, message, kind=kind))

    def unsupported(self, row: int, what: str, reason: str, advice: str = "", kind: str = "") -> bool:
        """An unsupported feature: an error, or (with drop_unsupported) a dropped entry. True if dropped."""
        if self.drop_unsupported:
            self.dropped.append(XlsformIssue(self.file, SURVEY, row, f"dropped {what}: {reason}", kind=kind))
            return True
        advice = f"; {advice}" if advice else ""
        self.issue(SURVEY, row, f"{what}: {reason}{advice} (convert with --drop-unsupported to leave it out)")
        return False

    def available(self, type_name: str, name: str, row: int) -> bool:
        """Whether this version can run the type (media, locations and repeats come with their own parts)."""
        if self.all_types or loader_knows(type_name):
            return True
        what = "repeat" if type_name == "repeat" else f"{type_name} question"
        reason = f"this version of Baraza cannot collect {WHAT_THEY_COLLECT.get(type_name, type_name)} in a chat"
        self.unsupported(row, f"{what} '{name}'", reason, kind=type_name)
        return False

    # -- languages

    def resolve_languages(self, sheets: Sequence[_Sheet], settings: Mapping[str, str]) -> None:
        declared = settings.get("default_language")
        seen: list[str] = []
        for sheet in sheets:
            for column in sheet.columns:
                if column.language is None:
                    continue
                if column.base not in TRANSLATABLE | {"intro", "outro"} and column.base not in MEDIA_COLUMNS:
                    continue
                if column.language.strip().lower() == "default":
                    continue
                code = language_code(column.language)
                if code is None:
                    code = private_language_code(column.language)
                    if code not in seen:
                        self.warn(
                            sheet.name,
                            1,
                            f"language '{column.language}' of column '{column.header}' has no ISO code that Baraza "
                            f"knows: called '{code}'; write it as '{column.base}::{column.language} (xx)' with its "
                            "ISO 639 code so that people whose language it is see it",
                        )
                column.code = code
                if column.base not in MEDIA_COLUMNS and code not in seen:
                    seen.append(code)
        if declared and declared.strip().lower() != "default":
            code = language_code(declared)
            if code is None:
                code = private_language_code(declared)
                self.warn(
                    SETTINGS, 2, f"default_language '{declared}' has no ISO code that Baraza knows: called '{code}'"
                )
            self.default_language = code
        elif seen:
            self._plain_columns(sheets, seen)
        for sheet in sheets:
            for column in sheet.columns:
                if column.language is not None and column.language.strip().lower() == "default":
                    column.code = self.default_language
        self.languages = [self.default_language, *[code for code in seen if code != self.default_language]]

    def _plain_columns(self, sheets: Sequence[_Sheet], seen: list[str]) -> None:
        """Columns without a language next to translated ones, and no default_language setting.

        pyxform calls their language "default". Where only they give a text (a plain hint beside
        translated labels), they are taken as the first language's; where a text is both plain and
        translated (label beside label::French), the plain one is its own language, the default
        (code ``und``, ISO 639-2 for "undetermined"): shown to people whose language the form lacks."""
        example = next(c.header for sheet in sheets for c in sheet.columns if c.code)
        plain: list[tuple[_Sheet, _Column]] = []
        translated: set[tuple[str, str]] = set()
        for sheet in sheets:
            for column in sheet.columns:
                if column.base not in TRANSLATABLE or not any(column.header in v for _, v in sheet.rows):
                    continue
                if column.language is None:
                    plain.append((sheet, column))
                elif column.code is not None:
                    translated.add((sheet.name, column.base))
        both = any((sheet.name, column.base) in translated for sheet, column in plain)
        self.default_language = UNDETERMINED if both else seen[0]
        meaning = (
            f"the form's default language ('{UNDETERMINED}'), shown to people whose language it lacks"
            if both
            else f"the first language '{seen[0]}'"
        )
        for sheet in sheets:
            headers = [column.header for plain_sheet, column in plain if plain_sheet is sheet]
            if headers:
                self.warn(
                    sheet.name,
                    1,
                    f"column{'s' if len(headers) > 1 else ''} {', '.join(repr(h) for h in headers)} without a "
                    f"language next to '{example}': taken as {meaning}; set default_language in the settings sheet "
                    "to name it",
                )

    def text(self, sheet: _Sheet, values: Mapping[str, str], base: str, row: int = 0) -> Text | None:
        """A translatable column: a plain string in a single-language form, else ``{code: text}``.

        A text without the default language takes another language's (the question must have a
        text in it); missing translations are noted for a warning (the chat shows the default's)."""
        plain: str | None = None
        translations: dict[str, str] = {}
        for column in sheet.columns:
            if column.base != base or column.header not in values:
                continue
            if column.language is None:
                plain = values[column.header]
            elif column.code is not None:
                translations[column.code] = values[column.header]
        if plain is not None:
            translations.setdefault(self.default_language, plain)
        if not translations:
            return None
        missing = [code for code in self.languages if code not in translations]
        if missing and row:
            self.missing.setdefault((sheet.name, row), set()).add(f"{base} in {', '.join(missing)}")
            if self.default_language not in translations:
                translations[self.default_language] = next(iter(translations.values()))
        if len(self.languages) <= 1 and set(translations) == {self.default_language}:
            return translations[self.default_language]
        order = {code: index for index, code in enumerate(self.languages)}
        return dict(sorted(translations.items(), key=lambda item: order.get(item[0], len(order))))

    # -- settings

    def settings(self, sheet: _Sheet, fallback_id: str) -> dict[str, Any]:
        values = sheet.rows[0][1] if sheet.rows else {}
        row = sheet.rows[0][0] if sheet.rows else 2
        by_base: dict[str, str] = {}
        for column in sheet.columns:
            if column.header in values and column.language is None:
                by_base[column.base] = values[column.header]
        result: dict[str, Any] = {}
        raw_id = by_base.get("id") or fallback_id
        survey_id = SURVEY_ID_CHARS.sub("_", raw_id).strip("_")[:40]
        if not survey_id:
            self.issue(
                SETTINGS,
                row,
                f"form_id '{raw_id}' cannot be made a survey id (1 to 40 letters, digits, _ or -); "
                "set form_id in the settings sheet",
            )
        elif survey_id != raw_id:
            where = "form_id" if "id" in by_base else "the file name"
            self.warn(SETTINGS, row, f"survey id '{survey_id}' made from {where} '{raw_id}'")
        result["id"] = survey_id
        title = by_base.get("title")
        if not title:
            title = raw_id
            self.warn(SETTINGS, row, f"no form_title in the settings sheet; the title is '{title}'")
        if len(self.languages) > 1:
            # XLSForm cannot translate form_title (pyxform fails on form_title::French (fr)).
            others = ", ".join(self.languages[1:])
            self.warn(
                SETTINGS,
                row,
                f"form_title cannot be translated in XLSForm; the same title is used in "
                f"{others}: translate it in the YAML file",
            )
            result["title"] = dict.fromkeys(self.languages, title)
        else:
            result["title"] = title
        if self.default_language != "en" or len(self.languages) > 1 or "default_language" in by_base:
            result["default_language"] = self.default_language
        if len(self.languages) > 1:
            result["languages"] = list(self.languages)  # left out at the end if a translation is missing
        if "version" in by_base:
            result["version"] = by_base["version"]
        for key in SETTINGS_EXTENSIONS:
            if key in by_base:
                result[key] = self._setting_value(key, by_base[key], row)
        for key in SETTINGS_TEXTS:
            text = self.text(sheet, values, key)
            if text is not None:
                result[key] = text
        if by_base.get("allow_choice_duplicates", "").strip().lower() in YES:
            result["allow_choice_duplicates"] = True
        if by_base.get("quotas", "").strip():
            quotas = quotas_setting(by_base["quotas"])
            if quotas is None:
                self.issue(
                    SETTINGS,
                    row,
                    "setting 'quotas' must be a list in YAML's short form, such as "
                    "[{by: region, targets: {north: 200, south: 150}}]",
                )
            else:
                result["quotas"] = quotas
        known = {"id", "title", "default_language", "version", "allow_choice_duplicates", "quotas"}
        known |= {*SETTINGS_EXTENSIONS, *SETTINGS_TEXTS}
        for column in sheet.columns:
            if column.base not in known and column.header in values:
                self.warn(SETTINGS, row, f"setting '{column.header}' has no meaning in a chat; ignored")
        return result

    def _setting_value(self, key: str, value: str, row: int) -> Any:
        if key in ("confirm", "anonymous"):
            if value.strip().lower() in YES:
                return True
            if value.strip().lower() in NO:
                return False
            self.issue(SETTINGS, row, f"setting '{key}' must be yes or no, not '{value}'")
            return value
        if key == "max_responses_per_user":
            number = _number(value)
            if not isinstance(number, int):
                self.issue(SETTINGS, row, f"setting '{key}' must be a whole number, not '{value}'")
                return value
            return number
        if key in ("opens", "closes"):
            # A date cell arrives as '2026-03-01 00:00:00'.
            match = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00)?)?$", value.strip())
            return match.group(1) if match else value
        return value

    # -- choices

    def choices(
        self, sheet: _Sheet, external: bool = False
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, int], int]]:
        """The choice lists, each choice with its extra columns (for choice_filter); and each choice's row.

        A choice without a label shows its name (as ODK does), with a warning once per list."""
        lists: dict[str, list[dict[str, Any]]] = {}
        rows: dict[tuple[str, int], int] = {}
        own = {"list_name", "name", "label"}
        extra = [c for c in sheet.columns if c.base not in own | MEDIA_COLUMNS]
        for column in sheet.columns:
            if column.base in MEDIA_COLUMNS and any(column.header in values for _, values in sheet.rows):
                self.warn(CHOICES, 1, f"column '{column.header}' ignored: no media in a chat")
        unlabelled: set[str] = set()
        straightened: set[str] = set()
        list_column = next((c.header for c in sheet.columns if c.base == "list_name"), "")
        name_column = next((c.header for c in sheet.columns if c.base == "name"), "")
        for row, values in sheet.rows:
            list_name = values.get(list_column, "").strip()
            written = values.get(name_column, "").strip()
            name = written.translate(SMART_QUOTES)  # pyxform straightens quotes: ODK stores "red's"
            if not list_name or not name:
                continue  # pyxform reports a choice without a name
            if name != written and list_name not in straightened:
                straightened.add(list_name)
                self.warn(
                    sheet.name, row, f"curly quotes in the choice names of '{list_name}' straightened, as pyxform does"
                )
            choice: dict[str, Any] = {"name": name}
            label = self.text(sheet, values, "label", row)
            if label is None:
                label = name
                if list_name not in unlabelled:
                    unlabelled.add(list_name)
                    self.warn(sheet.name, row, f"choices of '{list_name}' without a label show their name")
            choice["label"] = label
            for column in extra:
                if column.header in values:  # compared with quoted strings of choice_filter, straightened too
                    choice[column.header] = values[column.header].translate(SMART_QUOTES)
            items = lists.setdefault(list_name, [])
            if any(item["name"] == name for item in items):
                self.duplicate_choices = True
                self.warn(sheet.name, row, f"choice name '{name}' appears twice in '{list_name}' (pyxform allows it)")
            rows[(list_name, len(items))] = row
            items.append(choice)
        return lists, rows

    # -- survey

    def survey(self, sheet: _Sheet, choice_lists: Mapping[str, list[dict[str, Any]]] | None = None) -> list[_Node]:
        self._warn_columns(sheet)
        root: list[_Node] = []
        stack: list[_Frame] = []
        for row, values in self._expand_loops(sheet, choice_lists or {}):
            by_base = {c.base: values[c.header] for c in sheet.columns if c.header in values and c.language is None}
            raw_type = by_base.get("type", "").strip()
            if not raw_type:
                continue
            type_name = re.sub(r"\s+", " ", raw_type)
            children = stack[-1].children if stack else root
            inside_dropped = any(frame.kind == "dropped" for frame in stack)
            control = CONTROL.match(type_name.lower())
            if control:
                self._control(control, row, by_base, values, sheet, stack, children, inside_dropped)
                continue
            node = self._question(type_name, row, by_base, values, sheet, stack)
            if node is not None and not inside_dropped:
                children.append(node)
        return root

    def _expand_loops(
        self, sheet: _Sheet, choice_lists: Mapping[str, list[dict[str, Any]]]
    ) -> list[tuple[int, dict[str, str]]]:
        """``begin loop over LIST`` ... ``end loop``, as pyxform builds it: a group per choice of LIST
        holding the questions between, ``%(label)s`` in their texts replaced by the choice's label.
        A question ``q`` becomes ``q_CHOICE`` (pyxform refuses ``${q}`` inside a loop: there are several)."""
        type_headers = [c.header for c in sheet.columns if c.base == "type" and c.language is None]
        name_headers = [c.header for c in sheet.columns if c.base == "name" and c.language is None]
        if not type_headers or not name_headers:
            return sheet.rows
        type_header, name_header = type_headers[0], name_headers[0]
        rows: list[tuple[int, dict[str, str]]] = []
        index = 0
        while index < len(sheet.rows):
            row, values = sheet.rows[index]
            loop = LOOP.match(re.sub(r"\s+", " ", values.get(type_header, "").strip()))
            end = next(
                (i for i in range(index + 1, len(sheet.rows)) if LOOP_END.match(sheet.rows[i][1].get(type_header, ""))),
                None,
            )
            items = choice_lists.get(loop.group(1)) if loop else None
            body = sheet.rows[index + 1 : end] if end is not None else []
            if not loop or end is None or not items or any(LOOP.match(v.get(type_header, "")) for _, v in body):
                rows.append((row, values))
                index += 1
                continue
            loop_name = values.get(name_header, "").strip()
            self.warn(
                SURVEY,
                row,
                f"loop '{loop_name}' over '{loop.group(1)}': a group per choice, its questions named QUESTION_CHOICE",
                kind="loop",
            )
            rows.append((row, {**values, type_header: "begin group"}))
            codes = {c.header: c.code for c in sheet.columns}
            label_headers = [c.header for c in sheet.columns if c.base == "label"]
            for item in items:
                suffix = SURVEY_ID_CHARS.sub("_", str(item["name"])).strip("_") or "choice"
                label = item.get("label", item["name"])

                def label_in(header: str, label: Any = label, codes: Mapping[str, str | None] = codes) -> str:
                    if isinstance(label, str):
                        return label
                    code = codes.get(header) or self.default_language
                    return str(label.get(code) or next(iter(label.values()), ""))

                group = {type_header: "begin group", name_header: f"{loop_name}_{suffix}"}
                group |= {header: label_in(header) for header in label_headers}
                rows.append((row, group))
                for body_row, body_values in body:
                    copy = {}
                    for key, text in body_values.items():
                        text = text.replace("%(label)s", label_in(key)).replace("%(name)s", str(item["name"]))
                        copy[key] = text
                    if copy.get(name_header):
                        copy[name_header] = f"{copy[name_header].strip()}_{suffix}"
                    rows.append((body_row, copy))
                rows.append((row, {type_header: "end group"}))
            rows.append((sheet.rows[end][0], {type_header: "end group"}))
            index = end + 1
        return rows

    def prune(self, nodes: list[_Node]) -> list[_Node]:
        """Groups left without questions (everything in them dropped, or nothing there) are left out."""
        kept = []
        for node in nodes:
            if node.children is not None:
                node.children[:] = self.prune(node.children)
                if not node.children:
                    self.warn(SURVEY, node.row, f"group '{node.data['name']}' left out: it has no questions")
                    continue
            kept.append(node)
        return kept

    def _warn_columns(self, sheet: _Sheet) -> None:
        for column in sheet.columns:
            if column.base in SUPPORTED_SURVEY_COLUMNS:
                continue
            reason = IGNORED_SURVEY_COLUMNS.get(column.base)
            if column.base in ("body", "bind", "instance", "control") or reason is None:
                reason = reason or "not part of XLSForm or of Baraza's survey format"
            if any(column.header in values for _, values in sheet.rows):
                self.warn(SURVEY, 1, f"column '{column.header}' ignored: {reason}")

    def _control(
        self,
        control: re.Match[str],
        row: int,
        by_base: Mapping[str, str],
        values: Mapping[str, str],
        sheet: _Sheet,
        stack: list[_Frame],
        children: list[_Node],
        inside_dropped: bool,
    ) -> None:
        edge, kind = control.group("edge"), control.group("kind")
        name = by_base.get("name", "").strip()
        if edge == "end":
            if stack:
                stack.pop()
            return
        if kind not in ("group", "repeat"):  # begin loop (over a choice list): pyxform's old looped group
            what = "loop"
            reason = "a loop over a choice list cannot be asked in a chat (nor the questions in it)"
            if inside_dropped or self.unsupported(row, f"loop '{name}'", reason, kind=what):
                self.dropped_names[name] = "a loop"
                stack.append(_Frame("dropped", row, name, None, [], what=what))
            else:
                stack.append(_Frame("group", row, name, None, []))
            return
        if kind == "repeat" and not inside_dropped and not self.available("repeat", name, row):
            self.dropped_names[name] = "a repeat"
            stack.append(_Frame("dropped", row, name, None, [], what="repeat"))
            return
        data: dict[str, Any] = {"type": kind, "name": name}
        label = self.text(sheet, values, "label", row)
        if label is not None:
            data["label"] = label
        relevant = by_base.get("relevant")
        if relevant:
            data["relevant"] = self._expression(relevant, row, "relevant")
        if kind == "repeat" and by_base.get("repeat_count"):
            count = by_base["repeat_count"].strip()
            number = _number(count)
            data["repeat_count"] = number if isinstance(number, int) else self._expression(count, row, "repeat_count")
        appearance = by_base.get("appearance")
        if appearance:
            self._appearance(data, appearance, kind, name, row)
        if by_base.get("parameters"):
            self._group_parameters(data, _parameters(by_base["parameters"]), kind, name, row)
        node = _Node(data=data, row=row, children=[])
        if inside_dropped:
            self.dropped_names[name] = "inside a dropped loop"
            stack.append(_Frame("group", row, name, None, []))
            return
        self._name(node, name, stack)
        children.append(node)
        assert node.children is not None
        stack.append(_Frame(kind, row, name, node, node.children))

    def _name(self, node: _Node, name: str, stack: Sequence[_Frame]) -> None:
        """Names are unique in a Baraza survey: the same name in a second group gets the group's name in front."""
        if not name:
            return
        self.rows.setdefault(name, node.row)
        if name not in self.names:
            self.names.add(name)
            return
        group = next((frame.name for frame in reversed(stack) if frame.name), "")
        new = f"{group}_{name}" if group else f"{name}_{node.row}"
        while new in self.names:
            new = f"{new}_{node.row}"
        self.names.add(new)
        self.renamed.setdefault(name, new)
        self.rows[new] = node.row
        node.data["name"] = new
        self.warn(SURVEY, node.row, f"'{name}' is also the name of an earlier question or group: renamed '{new}'")

    def _question(
        self,
        type_name: str,
        row: int,
        by_base: Mapping[str, str],
        values: Mapping[str, str],
        sheet: _Sheet,
        stack: Sequence[_Frame],
    ) -> _Node | None:
        name = by_base.get("name", "").strip()
        lowered = type_name.lower()
        if any(frame.kind == "dropped" for frame in stack):
            if name:
                self.dropped_names[name] = "inside a dropped loop"
            return None
        if lowered in METADATA_TYPES:
            return self._metadata(METADATA_TYPES[lowered], name, row, stack)
        select = SELECT.match(type_name)
        data: dict[str, Any] = {}
        list_name: str | None = None
        from_file: dict[str, str] | None = None  # a select_*_from_file CSV read beside the survey file
        if select:
            command = select.group("command").lower()
            list_name = select.group("list")
            if "from_file" in command.replace(" ", "_") and self._csv_later(list_name):
                parameters = _parameters(by_base.get("parameters", ""))
                file = list_name.removesuffix(".csv")  # a .geojson or .xml file keeps its extension
                geojson = file.lower().endswith(".geojson")  # ODK's columns there: a feature's id and title
                from_file = {
                    "file": file,
                    "value": parameters.get("value", "id" if geojson else "name"),
                    "label": parameters.get("label", "title" if geojson else "label"),
                }
                self.warn(
                    SURVEY,
                    row,
                    f"'{name}' offers the rows of '{list_name}' as its choices: not beside the form: put it in the "
                    "surveys folder beside the survey file; until then the question has no choices (an optional one "
                    "is skipped with /skip, a required one cannot be answered)",
                    kind=command,
                )
                self.data_files.setdefault(file, False)
            elif command in FROM_FILE_WORDS and command != "rank":  # rank's list is on the choices sheet
                external = self._external_list(command, list_name, by_base, name, row)
                if external is None:
                    self.dropped_names[name] = command
                    return None
                list_name = external
            multiple = command in SELECT_MULTIPLE_WORDS or "multiple" in command
            question_type = "rank" if command == "rank" else "select_multiple" if multiple else "select_one"
            if select.group("other"):
                data["or_other"] = True
        elif lowered == "osm" or lowered.startswith("osm "):
            # OpenMapKit's feature: its location, then the tags of its list on the osm sheet (a tag
            # named like another list of that sheet takes its values).
            question_type = "osm"
            tags = self.osm_lists.get(type_name.split(None, 1)[1].strip() if " " in type_name else "", [])
            data["osm_tags"] = [
                {"key": tag["name"], "label": tag.get("label") or tag["name"]}
                | ({"choices": self.osm_lists[tag["name"]]} if self.osm_lists.get(tag["name"]) else {})
                for tag in tags
            ]
        elif lowered in SIMPLE_TYPES:
            question_type = SIMPLE_TYPES[lowered]
            if not self.available(question_type, name, row):
                self.dropped_names[name] = question_type
                return None
        else:
            collects = WHY_UNSUPPORTED.get(lowered)
            if collects is None:
                from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

                if type_name not in QUESTION_TYPE_DICT:
                    self.issue(SURVEY, row, f"unknown question type '{type_name}'")
                    return None
                collects = f"a '{type_name}' answer"
            kind = lowered.split()[0]
            if self.unsupported(row, f"{type_name} question '{name}'", f"a chat cannot collect {collects}", kind=kind):
                self.dropped_names[name] = type_name
            return None
        if not name:
            if question_type != "note":
                return None  # pyxform reports it
            name = f"generated_note_name_{row}"  # as pyxform names it
            self.warn(SURVEY, row, f"the note without a name is named '{name}'")
        calculation = by_base.get("calculation", "")
        by_answer = PULLDATA_BY_ANSWER.findall(calculation)
        if calculation.count("pulldata(") > len(PULLDATA_FILE.findall(calculation)) + len(by_answer):
            what = f"{question_type} question '{name}'"
            reason = "its pulldata() names the file with an expression; Baraza reads files named in quotes or by ${q}"
            if self.unsupported(row, what, reason, kind="pulldata (file named by an expression)"):
                self.dropped_names[name] = "pulldata"
            return None
        for file in dict.fromkeys(PULLDATA_FILE.findall(calculation)):
            self.data_file(file.removesuffix(".csv"), name, row)
        for question in dict.fromkeys(by_answer):
            self.data_files.setdefault(f"${{{question}}}", False)
            self.warn(
                SURVEY,
                row,
                f"'{name}' reads with pulldata() the CSV named by the answer to ${{{question}}}: put one file per "
                f"choice of '{question}' (CHOICE.csv) in the surveys folder beside the survey file; until then the "
                "value is empty",
                kind="pulldata",
            )

        data = {"type": question_type, "name": name, **data}
        for key in ("label", "hint"):
            text = self.text(sheet, values, key, row)
            if text is not None:
                data[key] = text
        computed = question_type == "calculate" or bool(by_base.get("calculation"))
        answerable = question_type != "note" and not computed
        if "label" not in data and question_type != "calculate" and not computed:
            data["label"] = name
            self.warn(SURVEY, row, f"'{name}' has no text label: its name is shown")
        if computed and by_base.get("constraint"):
            self.warn(SURVEY, row, f"constraint of '{name}' ignored: its value is computed, never typed")
        if answerable:
            data["required"] = self._required(by_base.get("required", ""), row)
            text = self.text(sheet, values, "required_message", row)
            if text is not None:
                data["required_message"] = text
        if by_base.get("relevant"):
            data["relevant"] = self._expression(by_base["relevant"], row, "relevant")
        if answerable and by_base.get("constraint"):
            data["constraint"] = self._expression(by_base["constraint"], row, "constraint")
            text = self.text(sheet, values, "constraint_message", row)
            if text is not None:
                data["constraint_message"] = text
        if by_base.get("default"):
            default = self._default(by_base["default"], question_type, name, row)
            if default is not None:
                data["default"] = default
        if by_base.get("calculation"):
            if question_type == "note":
                self.warn(SURVEY, row, f"the calculation of note '{name}' is ignored: a note shows its label")
            else:
                data["calculate"] = self._expression(by_base["calculation"], row, "calculation")
                if question_type != "calculate":
                    self.warn(
                        SURVEY,
                        row,
                        f"{question_type} question '{name}' has a calculation: its value is computed and it is "
                        "not asked (ODK shows it read-only)",
                    )
        if by_base.get("trigger"):
            names = REFERENCE.findall(by_base["trigger"])
            if "calculate" in data and question_type != "calculate" and names:
                data["trigger"] = names
                self.pending_references.append((row, "trigger", by_base["trigger"]))
            else:
                self.warn(SURVEY, row, f"trigger of '{name}' ignored: a chat recomputes after every answer")
        if question_type == "calculate" and "calculate" not in data:
            self.issue(SURVEY, row, f"calculate question '{name}' has no calculation")
        if by_base.get("choice_filter"):
            if list_name is None:
                self.warn(SURVEY, row, f"choice_filter of '{name}' ignored: it is not a select question")
            else:
                data["choice_filter"] = self._expression(by_base["choice_filter"], row, "choice_filter")
        if from_file is not None:
            data["choices_file"] = from_file
        elif list_name is not None:
            data["choices"] = list_name
        self._appearance(data, by_base.get("appearance"), question_type, name, row)
        parameters = _parameters(by_base.get("parameters", ""))
        if question_type == "range":
            self._range(data, by_base.get("parameters", ""), row)
        elif parameters:
            self._parameters(data, parameters, question_type, name, row)
        for key in ("min_choices", "max_choices", "max_length"):
            if by_base.get(key):
                number = _number(by_base[key])
                if not isinstance(number, int):
                    self.issue(SURVEY, row, f"{key} of '{name}' must be a whole number, not '{by_base[key]}'")
                else:
                    data[key] = number
        if by_base.get("correct"):
            data["correct"] = by_base["correct"].strip()
        explanation = self.text(sheet, values, "explanation", row)
        if explanation is not None:
            data["explanation"] = explanation
        if question_type == "note" and "required" in by_base and by_base["required"].strip().lower() not in NO:
            self.warn(SURVEY, row, f"required of note '{name}' ignored: a note has no answer")
        node = _Node(data=data, row=row)
        self._name(node, name, stack)
        return node

    def data_file(self, file: str, name: str, row: int) -> None:
        """``pulldata('file', ...)``: ODK reads ``file.csv``, a media file of the form; Baraza reads it
        beside the survey file in the surveys folder (``baraza survey import`` copies it there)."""
        beside = (self.form_path.parent / f"{file}.csv").is_file()
        self.data_files.setdefault(file, beside)
        where = (
            "found beside the form, and copied beside the survey by `baraza survey import`"
            if beside
            else "not beside the form: put it in the surveys folder beside the survey file; until then the value "
            "is empty"
        )
        self.warn(SURVEY, row, f"'{name}' reads '{file}.csv' with pulldata(): {where}", kind="pulldata")

    def _metadata(self, kind: str, name: str, row: int, stack: Sequence[_Frame]) -> _Node | None:
        if not name:
            return None
        if kind in FILLED_METADATA:
            what = f"recorded by Baraza: {FILLED_METADATA[kind]}"
        else:
            what = "recorded empty: a chat has no device, SIM card or phone account to read it from"
            if kind == "start-geopoint":
                what = "recorded empty: a chat cannot read where the phone was when the survey began"
        self.warn(SURVEY, row, f"metadata '{name}' ({kind}) is not asked; {what}", kind=kind)
        node = _Node(data={"type": kind, "name": name}, row=row)
        self._name(node, name, stack)
        return node

    def _randomize(self, data: dict[str, Any], parameters: Mapping[str, str], what: str, row: int) -> set[str]:
        """``randomize=true`` (of a select's choices, or of a group's questions) and its ``seed``,
        which is ignored: each response shuffles its own order. The parameters read."""
        if "randomize" not in parameters:
            return set()
        if parameters["randomize"].strip().lower() in YES:
            data["randomize"] = True
        if "seed" not in parameters:
            return {"randomize"}
        self.warn(SURVEY, row, f"seed of {what} ignored: each response shuffles its own order")
        return {"randomize", "seed"}

    def _group_parameters(
        self, data: dict[str, Any], parameters: Mapping[str, str], kind: str, name: str, row: int
    ) -> None:
        """A group's ``randomize=true`` (the parameter pyxform defines for choices, read on a
        group as Baraza's question order shuffled per response); its ``seed`` is ignored as for
        choices: each response draws its own order."""
        used = self._randomize(data, parameters, f"group '{name}'", row) if kind == "group" else set()
        ignored = sorted(set(parameters) - used)
        if ignored:
            self.warn(SURVEY, row, f"parameters {', '.join(ignored)} of {kind} '{name}' ignored: no meaning in a chat")

    def _parameters(
        self, data: dict[str, Any], parameters: Mapping[str, str], question_type: str, name: str, row: int
    ) -> None:
        used = set()
        if question_type in ("select_one", "select_multiple"):
            used |= self._randomize(data, parameters, f"'{name}'", row)
        if "max-pixels" in parameters and question_type == "image":
            used.add("max-pixels")
            number = _number(parameters["max-pixels"])
            if isinstance(number, int) and number > 0:
                data["max_pixels"] = number
            else:
                self.issue(
                    SURVEY, row, f"max-pixels of '{name}' must be a whole number, not '{parameters['max-pixels']}'"
                )
        if question_type in ("select_one", "select_multiple") and {"value", "label"} & set(parameters):
            used |= {"value", "label"}  # read with the external file
        ignored = sorted(set(parameters) - used)
        if ignored:
            self.warn(SURVEY, row, f"parameters {', '.join(ignored)} of '{name}' ignored: no meaning in a chat")

    def _external_list(
        self, command: str, list_name: str, by_base: Mapping[str, str], name: str, row: int
    ) -> str | None:
        """The choice list of select_one_external (the external_choices sheet) or of *_from_file (a CSV
        or XML file next to the form), added to the survey's choice lists; None if it cannot be read."""
        if "external" in command:
            if list_name in self.external_lists:
                self.external_used.add(list_name)
                own = list_name
                while own in self.sheet_lists:  # the choices sheet has a list of that name too (for other questions)
                    own = f"{own}_external"
                return self._add_external(own, self.external_lists[list_name], row)
            reason = f"its list '{list_name}' is not in the external_choices sheet (nor itemsets.csv)"
            self.unsupported(row, f"{command} question '{name}'", reason, kind=command)
            return None
        parameters = _parameters(by_base.get("parameters", ""))
        path = self.form_path.parent / list_name
        try:
            items = _read_choice_file(path, parameters.get("value", "name"), parameters.get("label", "label"))
        except (OSError, ValueError) as error:
            self.unsupported(
                row,
                f"{command} question '{name}'",
                f"cannot read '{list_name}' next to the form: {error}",
                kind=command,
            )
            return None
        key = SURVEY_ID_CHARS.sub("_", Path(list_name).stem).strip("_") or "file"
        return self._add_external(f"{key}_file", items, row)

    def _add_external(self, list_name: str, items: list[dict[str, Any]], row: int) -> str:
        if list_name not in self.extra_lists:
            self.extra_lists[list_name] = items
        return list_name

    def _required(self, value: str, row: int) -> bool | str:
        lowered = value.strip().lower()
        if lowered in YES:
            return True
        if lowered in NO or lowered == "":
            return False
        return self._expression(value, row, "required")

    def _default(self, value: str, question_type: str, name: str, row: int) -> Any:
        value = value.strip().translate(SMART_QUOTES)  # as pyxform reads every cell
        if "${" in value or re.search(r"[A-Za-z_-]+\(", value):
            self.unsupported(
                row,
                f"the default '{value}' of '{name}'",
                "a chat offers only fixed defaults, not expressions",
                kind="default expression",
            )
            return None
        if question_type in ("integer", "decimal", "range"):
            number = _number(value)
            return value if number is None else number
        return value

    def _appearance(
        self, data: dict[str, Any], appearance: str | None, question_type: str, name: str, row: int
    ) -> None:
        if not appearance:
            return
        if "search(" in appearance:
            if not self._search(data, appearance, name, row):
                self.unsupported(
                    row,
                    f"the appearance '{appearance}' of '{name}'",
                    "Baraza reads choices only from a file named in quotes, with at most one filter",
                    kind="search()",
                )
            return
        words = appearance.split()
        if words and set(words) <= APPEARANCES:
            data["appearance"] = " ".join(words)
            return
        self.warn(SURVEY, row, f"appearance '{appearance}' of '{name}' ignored: no meaning in a chat")

    def _csv_later(self, file: str) -> bool:
        """A select_*_from_file CSV, GeoJSON or XML file that is not beside the form: read beside the
        survey file when it is loaded, as ODK reads the form's media files."""
        return (
            file.lower().endswith(LATER_FILE_SUFFIXES)
            and "/" not in file
            and not (self.form_path.parent / file).is_file()
        )

    def _search(self, data: dict[str, Any], appearance: str, name: str, row: int) -> bool:
        """ODK's ``search('file' [, 'matches'|'contains'|'startswith'|'endswith', 'column', value])``:
        the choices are the rows of file.csv (read beside the survey file when it is loaded), with
        the value and label columns that the question's choice list names; the filter becomes a
        choice_filter. False if it is not of that shape."""
        match = SEARCH.fullmatch(appearance.strip())
        list_name = data.get("choices")
        items = self.choice_sheet.get(list_name, []) if isinstance(list_name, str) else []
        if match is None or not items:
            return False
        placeholder = items[0]  # its name and label name the CSV's value and label columns
        label = placeholder.get("label") or placeholder["name"]
        label_column = str(label if isinstance(label, str) else next(iter(label.values()), ""))
        # search(${q}, ...): the file is named by the answer to q (one CSV per choice of q)
        file = f"${{{match['answer']}}}" if match["answer"] else match["file"].removesuffix(".csv")
        data.pop("choices")
        data["choices_file"] = {"file": file, "value": placeholder["name"], "label": label_column}
        if match["mode"]:
            value = self._expression(match["value"], row, "appearance")
            function = {"contains": "contains", "startswith": "starts-with", "endswith": "ends-with"}
            test = (
                f"{match['column']} = {value}"
                if match["mode"] == "matches"
                else f"{function[match['mode']]}({match['column']}, {value})"
            )
            data["choice_filter"] = f"({data['choice_filter']}) and {test}" if data.get("choice_filter") else test
        if match["answer"]:
            self.pending_references.append((row, "appearance", appearance))
            self.data_files.setdefault(file, False)
            self.warn(
                SURVEY,
                row,
                f"'{name}' offers the rows of the CSV named by the answer to {file} as its choices (search()): put "
                f"one file per choice of '{match['answer']}' (CHOICE.csv) in the surveys folder beside the survey "
                "file; until then the question has no choices",
                kind="search()",
            )
            return True
        beside = (self.form_path.parent / f"{file}.csv").is_file()
        self.data_files.setdefault(file, beside)
        where = (
            "found beside the form, and copied beside the survey by `baraza survey import`"
            if beside
            else "not beside the form: put it in the surveys folder beside the survey file; until then the "
            "question has no choices (an optional one is skipped with /skip, a required one cannot be answered)"
        )
        self.warn(SURVEY, row, f"'{name}' offers the rows of '{file}.csv' as its choices (search()): {where}")
        return True

    def _range(self, data: dict[str, Any], parameters: str, row: int) -> None:
        given = _parameters(parameters)
        for key, default in (("start", 1), ("end", 10), ("step", 1)):  # pyxform's defaults, not Baraza's
            number = _number(given[key]) if key in given else default
            data[key] = number if number is not None else given[key]
        ignored = sorted(set(given) - {"start", "end", "step"})
        if ignored:
            self.warn(SURVEY, row, f"range parameters {', '.join(ignored)} of '{data['name']}' ignored")

    def _expression(self, expression: str, row: int, column: str) -> str:
        """Expressions are copied verbatim; XPath paths and references to left-out questions are errors."""
        expression = expression.translate(SMART_QUOTES).strip()
        if ITEXT_LOOKUP.search(expression):  # ODK's long way to a choice's label
            expression = ITEXT_LOOKUP.sub(lambda m: f"jr:choice-name({m[2]}, '{m[2]}')", expression)
            self.warn(SURVEY, row, f"{column}: jr:itext(instance(...)/root/item[...]/itextId) read as jr:choice-name()")
        outside_strings = STRING_LITERAL.sub("''", expression)
        if "/" in outside_strings:
            self.issue(
                SURVEY, row, f"{column} '{expression}' uses an XPath path such as /data/name; write ${{name}} instead"
            )
        self.pending_references.append((row, column, expression))
        return expression

    def check_references(self, nodes: list[_Node]) -> list[_Node]:
        """References to questions left out, after all rows are read: errors, or (with
        drop_unsupported) the referring question is left out too, and so on."""
        by_row = {node.row: node for node in _walk(nodes)}
        dropped_rows: set[int] = set()
        changed = True
        while changed:
            changed = False
            for row, column, expression in self.pending_references:
                if row in dropped_rows:
                    continue
                for name in REFERENCE.findall(expression):
                    if name not in self.dropped_names or name in self.rows:
                        continue
                    why = f"{column} refers to ${{{name}}}, which is left out ({self.dropped_names[name]})"
                    if row not in by_row and self.drop_unsupported:
                        break  # a row left out already (inside a dropped loop or repeat)
                    if not self.drop_unsupported or row not in by_row:
                        self.issue(SURVEY, row, why)
                        break
                    dropped_rows.add(row)
                    for node in _walk([by_row[row]]):
                        gone = str(node.data.get("name", ""))
                        dropped_rows.add(node.row)
                        self.rows.pop(gone, None)
                        self.dropped_names[gone] = f"it refers to ${{{name}}}"
                    kind = str(by_row[row].data.get("type", ""))
                    self.dropped.append(
                        XlsformIssue(
                            self.file, SURVEY, row, f"dropped: {why}", kind=f"{kind} (refers to a left-out question)"
                        )
                    )
                    changed = True
                    break
        return _without(nodes, dropped_rows) if dropped_rows else nodes

    def odd_references(self, nodes: Sequence[_Node]) -> tuple[bool, bool]:
        """``${name}`` of a question on a later row, or of a note (ODK allows both): a warning naming
        the rows; in a chat the later answer is empty when the referring question is reached, and a
        note's value is empty, as in ODK. Whether there is a later reference, a note reference."""
        kept = {node.row for node in _walk(nodes)}
        order = {str(node.data.get("name", "")): index for index, node in enumerate(_walk(nodes))}
        position = {node.row: index for index, node in enumerate(_walk(nodes))}
        notes = {str(node.data.get("name")) for node in _walk(nodes) if node.data.get("type") == "note"}
        found = noted = False
        for row, column, expression in self.pending_references:
            if row not in kept:
                continue
            for name in dict.fromkeys(REFERENCE.findall(expression)):
                target = name
                if target in notes and column != "label":
                    noted = True
                    self.warn(
                        SURVEY,
                        row,
                        f"{column} refers to ${{{name}}} (row {self.rows.get(target, '?')}), a note: its value is "
                        "empty, as in ODK",
                        kind="note reference",
                    )
                if target not in order or order[target] <= position[row]:
                    continue
                found = True
                self.warn(
                    SURVEY,
                    row,
                    f"{column} refers to ${{{name}}} (row {self.rows.get(target, '?')}), a later question: ODK allows it; "
                    f"in a chat it is empty when this row is reached and this row is not reconsidered after it",
                    kind="later reference",
                )
        return found, noted

    def missing_columns(self, nodes: Sequence[_Node], lists: Mapping[str, list[dict[str, Any]]]) -> bool:
        """A bare name in a choice_filter that is no column of the list (``pastel=yes``): in ODK an
        empty node-set, so the filter keeps no choice there; a warning naming the row. True if any."""
        from surveys.expressions import ExpressionError, parse

        found = False
        for node in _walk(nodes):
            text, list_name = node.data.get("choice_filter"), node.data.get("choices")
            if not isinstance(text, str) or not isinstance(list_name, str) or list_name not in lists:
                continue
            try:
                bare = parse(text).bare_names()
            except ExpressionError:
                continue  # the loader reports it with its column
            columns = {"name"} | {key for item in lists[list_name] for key in item if key != "label"}
            for name in sorted(bare - columns):
                found = True
                self.warn(
                    SURVEY,
                    node.row,
                    f"choice_filter of '{node.data['name']}': '{name}' is not a column of '{list_name}': ODK reads "
                    f"it as empty, so no choice passes where it decides (did you mean '{name}' in quotes?); "
                    "an optional question without choices can be skipped",
                    kind="missing column",
                )
        return found

    def translation_warnings(self) -> None:
        """One warning per row whose texts lack a language: the chat shows them in the default language."""
        for (sheet, row), missing in sorted(self.missing.items(), key=lambda item: item[0][1]):
            self.warn(
                sheet,
                row,
                f"no translation of {'; '.join(sorted(missing))}: shown in the default language "
                f"'{self.default_language}' (or the one the row has)",
            )


def _without(nodes: list[_Node], rows: set[int]) -> list[_Node]:
    kept = []
    for node in nodes:
        if node.row in rows:
            continue
        if node.children is not None:
            node.children[:] = _without(node.children, rows)
        kept.append(node)
    return kept


def _walk(nodes: Sequence[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        if node.children:
            yield from _walk(node.children)


# --------------------------------------------------------------------------------------------
# Writing the YAML


def quotas_setting(text: str) -> list[Any] | None:
    """The settings sheet's ``quotas`` cell (the survey file's ``quotas:`` in YAML's flow form), or
    None when it is not a YAML list. Every value is read as written (a region ``no`` stays ``no``),
    whole numbers excepted; the survey loader checks the rest, reported on the settings row."""
    try:
        parsed = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 (BaseLoader builds only strings, lists and maps)
    except yaml.YAMLError:
        return None

    def numbers(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: numbers(item) for key, item in value.items()}
        if isinstance(value, list):
            return [numbers(item) for item in value]
        return int(value) if isinstance(value, str) and value.isdigit() else value

    return numbers(parsed) if isinstance(parsed, list) else None


def _scalar(value: Any) -> str:
    if isinstance(value, str) and "\n" in value:
        dumped = yaml.safe_dump(value, allow_unicode=True, default_style='"', width=10**9)
    else:
        dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**9)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def _flow(value: Mapping[str, Any] | Sequence[Any]) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, sort_keys=False, width=10**9).strip()


class _Writer:
    def __init__(self, header: str) -> None:
        self.lines: list[str] = header.splitlines()
        self.sources: list[tuple[int, str, int]] = []

    def mark(self, sheet: str, row: int) -> None:
        self.sources.append((len(self.lines) + 1, sheet, row))

    def key(self, indent: str, key: str, value: Any) -> None:
        """``key: value`` with maps of texts on one line when short, else one language per line."""
        if isinstance(value, dict):
            line = f"{indent}{_scalar(key)}: {_flow(value)}"
            if len(line) <= FLOW_WIDTH and "\n" not in line:
                self.lines.append(line)
                return
            self.lines.append(f"{indent}{_scalar(key)}:")
            for item_key, item in value.items():
                self.key(indent + "  ", item_key, item)
            return
        if isinstance(value, list):
            self.lines.append(f"{indent}{_scalar(key)}: {_flow(value)}")
            return
        self.lines.append(f"{indent}{_scalar(key)}: {_scalar(value)}")

    def questions(self, nodes: Sequence[_Node], indent: str) -> None:
        for index, node in enumerate(nodes):
            if index:
                self.lines.append("")
            self.mark(SURVEY, node.row)
            first = True
            for key, value in node.data.items():
                prefix = f"{indent}- " if first else f"{indent}  "
                first = False
                self.key(prefix, key, value)
            if node.children is not None:
                self.lines.append(f"{indent}  questions:")
                self.questions(node.children, indent + "    ")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _write(
    file: str,
    settings: Mapping[str, Any],
    settings_row: int,
    nodes: Sequence[_Node],
    choice_lists: Mapping[str, list[dict[str, Any]]],
    choice_rows: Mapping[tuple[str, int], int],
    list_sheets: Mapping[str, str],
) -> tuple[str, tuple[tuple[int, str, int], ...]]:
    writer = _Writer(
        f"# Converted from {file} by `baraza survey import`.\n"
        "# Edit this file, or fix the spreadsheet and import it again."
    )
    writer.mark(SETTINGS, settings_row)
    for key, value in settings.items():
        writer.key("", key, value)
    writer.lines.append("")
    writer.mark(SURVEY, 1)
    writer.lines.append("questions:")
    writer.questions(nodes, "  ")
    if choice_lists:
        writer.lines.append("")
        writer.mark(CHOICES, 1)
        writer.lines.append("choices:")
        for list_name, items in choice_lists.items():
            sheet = list_sheets.get(list_name, CHOICES)
            writer.mark(sheet, choice_rows.get((list_name, 0), 1) if sheet else 0)
            writer.lines.append(f"  {_scalar(list_name)}:")
            for index, item in enumerate(items):
                writer.mark(sheet, choice_rows.get((list_name, index), 1) if sheet else 0)
                writer.lines.append(f"    - {_flow(item)}")
    return writer.text(), tuple(writer.sources)


# --------------------------------------------------------------------------------------------
# pyxform: reading and validating


def _pyxform_issue(
    file: str, message: str, sheets: Mapping[str, _Sheet], context: Mapping[str, Any] | None = None
) -> XlsformIssue:
    """pyxform's message with the sheet and row it names (or, failing that, the row it is about)."""
    message = message.strip()
    row: int | None = None
    sheet = ""
    if context and isinstance(context.get("row"), int):
        row = context["row"]
        sheet = str(context.get("sheet") or SURVEY)
    match = PYXFORM_ROW.match(message)
    if match:
        row = int(match.group(1))
        message = message[match.end() :]
    sheet_match = PYXFORM_SHEET.search(message)
    if sheet_match:
        sheet = sheet or sheet_match.group(1)
    if row is None:
        # pyxform names the type or the question: find its row.
        for quoted in re.findall(r"'([^']+)'", message):
            for candidate in (SURVEY, CHOICES):
                found = _find_row(sheets.get(candidate), quoted)
                if found is not None:
                    sheet, row = candidate, found
                    break
            if row is not None:
                break
    if row is None:
        return XlsformIssue(file, "", 0, message)
    return XlsformIssue(file, sheet or SURVEY, row, message)


def _find_row(sheet: _Sheet | None, value: str) -> int | None:
    if sheet is None:
        return None
    wanted = {c.header for c in sheet.columns if c.base in ("type", "name", "list_name")}
    for row, values in sheet.rows:
        if any(values.get(header, "").strip() == value for header in wanted):
            return row
    return None


def _pyxform_validate(path: Path, sheets: Mapping[str, _Sheet]) -> tuple[list[XlsformIssue], list[XlsformIssue]]:
    """pyxform's own checks (no Java): its error, if any, and its warnings."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    pyxform_warnings: list[str] = []
    errors: list[XlsformIssue] = []
    try:
        convert(xlsform=str(path), warnings=pyxform_warnings, validate=False)
    except PyXFormError as error:
        lines = [line for line in str(error).splitlines() if line.strip()] or [str(error)]
        last: XlsformIssue | None = None
        for line in lines:  # a multi-line error: each line positioned (a line without a row: the previous one's)
            issue = _pyxform_issue(path.name, line, sheets, error.context if len(lines) == 1 else None)
            if not issue.sheet and last is not None:
                issue = XlsformIssue(issue.file, last.sheet, last.row, issue.message)
            errors.append(issue)
            last = issue
    except Exception as error:  # pyxform has been seen to raise plain errors on odd spreadsheets
        errors.append(XlsformIssue(path.name, "", 0, f"pyxform cannot convert the form: {error}"))
    notes = []
    for warning in pyxform_warnings:
        if "language declarations do not contain valid machine-readable codes" in warning:
            continue  # we resolve language names ourselves and report the ones we cannot
        issue = _pyxform_issue(path.name, warning, sheets)
        notes.append(XlsformIssue(issue.file, issue.sheet, issue.row, f"pyxform: {issue.message}"))
    return errors, notes


def _read_workbook(path: Path) -> Any:
    from pyxform.errors import PyXFormError
    from pyxform.xls2json_backends import get_xlsform

    if not path.is_file():
        raise XlsformError([XlsformIssue(path.name, "", 0, "no such file")])
    try:
        return get_xlsform(xlsform=path)
    except PyXFormError as error:
        raise XlsformError([XlsformIssue(path.name, "", 0, f"not an XLSForm spreadsheet: {error}")]) from None
    except Exception as error:
        raise XlsformError([XlsformIssue(path.name, "", 0, f"cannot read the spreadsheet: {error}")]) from None


# --------------------------------------------------------------------------------------------
# Public API


def convert_xlsform(path: Path, *, drop_unsupported: bool = False, all_types: bool = False) -> XlsformConversion:
    """Convert the XLSForm at ``path``; raises :class:`XlsformError` listing every problem.

    Media, location and repeat questions are converted when this version's loader runs them
    (see :func:`loader_knows`), else treated as unsupported; ``all_types`` converts them anyway
    (the benchmark counts what converts apart from what loads)."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's remarks on styles and extensions mean nothing to an author
        return _convert(path, drop_unsupported, all_types)


def _convert(path: Path, drop_unsupported: bool, all_types: bool) -> XlsformConversion:
    workbook = _read_workbook(path)
    if not workbook.survey:
        raise XlsformError([XlsformIssue(path.name, "", 0, "the workbook has no 'survey' sheet with questions")])
    survey_sheet = _sheet(SURVEY, workbook.survey, workbook.survey_header, SURVEY_COLUMN_ALIASES)
    choices_sheet = _sheet(CHOICES, workbook.choices, workbook.choices_header, {"value": "name", "caption": "label"})
    settings_sheet = _sheet(SETTINGS, workbook.settings, workbook.settings_header, SETTINGS_ALIASES)
    external_sheet = _sheet(
        EXTERNAL, workbook.external_choices, workbook.external_choices_header, {"value": "name", "caption": "label"}
    )
    sheets = {SURVEY: survey_sheet, CHOICES: choices_sheet, SETTINGS: settings_sheet, EXTERNAL: external_sheet}

    pyxform_errors, pyxform_warnings = _pyxform_validate(path, sheets)

    converter = _Converter(path, drop_unsupported, all_types)
    settings_values = {}
    if settings_sheet.rows:
        settings_values = {
            c.base: settings_sheet.rows[0][1][c.header]
            for c in settings_sheet.columns
            if c.header in settings_sheet.rows[0][1] and c.language is None
        }
    converter.resolve_languages([survey_sheet, choices_sheet, settings_sheet, external_sheet], settings_values)
    settings = converter.settings(settings_sheet, path.stem)
    choice_lists, choice_rows = converter.choices(choices_sheet)
    external_lists, external_rows = converter.choices(external_sheet)
    converter.external_lists = external_lists
    converter.sheet_lists = set(choice_lists)
    converter.choice_sheet = choice_lists
    if getattr(workbook, "osm", None):
        osm_sheet = _sheet("osm", workbook.osm, workbook.osm_header, {"value": "name", "caption": "label"})
        converter.osm_lists = converter.choices(osm_sheet)[0]
    itemsets = path.parent / "itemsets.csv"
    if itemsets.is_file():
        for list_name, items in _read_itemsets(itemsets).items():
            converter.external_lists.setdefault(list_name, items)
    nodes = converter.prune(converter.check_references(converter.survey(survey_sheet, choice_lists)))
    later, noted = converter.odd_references(nodes)
    if later:
        settings["allow_later_references"] = True
    if noted:
        settings["allow_note_references"] = True
    if converter.missing_columns(nodes, {**converter.extra_lists, **choice_lists}):
        settings["allow_missing_columns"] = True
    converter.translation_warnings()
    list_sheets = dict.fromkeys(choice_lists, CHOICES)
    for list_name, items in converter.extra_lists.items():
        if list_name in choice_lists:
            continue  # the same list on the choices sheet: pyxform uses that
        choice_lists[list_name] = items
        source = list_name
        while source not in external_lists and source.endswith("_external"):  # renamed beside the choices sheet's
            source = source.removesuffix("_external")
        list_sheets[list_name] = EXTERNAL if source in external_lists else ""
        for (rows_list, index), row in external_rows.items():
            if rows_list == source:
                choice_rows[(list_name, index)] = row
    for name in ("entities",):
        if getattr(workbook, name, None):
            converter.warn(name, 1, f"the '{name}' sheet is ignored: not supported in a chat")
    if converter.missing:
        settings.pop("languages", None)  # the loader would require every translation
    if converter.duplicate_choices:
        settings["allow_choice_duplicates"] = True

    located = {(issue.sheet, issue.row) for issue in pyxform_errors}
    errors = pyxform_errors + [issue for issue in converter.errors if (issue.sheet, issue.row) not in located]
    if errors:
        raise XlsformError(sorted(errors, key=_issue_order))
    if not any(node.data.get("type") not in NOT_ASKED for node in _walk(nodes)):
        notes = [node for node in _walk(nodes) if node.data.get("type") == "note"]
        if not notes:
            raise XlsformError([XlsformIssue(path.name, SURVEY, 1, "no question is left that a chat can ask")])
        converter.warn(
            SURVEY,
            notes[0].row,
            "the form asks no question: a response shows its notes (with what they compute) and is complete",
        )
    settings_row = settings_sheet.rows[0][0] if settings_sheet.rows else 1
    text, sources = _write(path.name, settings, settings_row, nodes, choice_lists, choice_rows, list_sheets)
    return XlsformConversion(
        yaml_text=text,
        dropped=sorted(converter.dropped, key=_issue_order),
        warnings=sorted(converter.warnings + pyxform_warnings, key=_issue_order),
        source_rows=sources,
        renamed=dict(converter.renamed),
        rows=dict(converter.rows),
        left_out={name: why for name, why in converter.dropped_names.items() if name not in converter.rows},
        data_files=tuple(path.parent / _file_name(file) for file, beside in converter.data_files.items() if beside),
        missing_files=tuple(
            f"a CSV per answer to {file}" if file.startswith("${") else _file_name(file)
            for file, beside in converter.data_files.items()
            if not beside
        ),
    )


def _file_name(file: str) -> str:
    """A data file's name beside the survey: ``NAME.csv``, or a GeoJSON or XML file's own name."""
    return file if file.lower().endswith((".geojson", ".xml")) else f"{file}.csv"


def _read_itemsets(path: Path) -> dict[str, list[dict[str, Any]]]:
    """itemsets.csv (pyxform's external choices file): list_name, name, label and filter columns."""
    lists: dict[str, list[dict[str, Any]]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            list_name, name = (record.get("list_name") or "").strip(), (record.get("name") or "").strip()
            if list_name and name:
                item = {k: v for k, v in record.items() if k and k != "list_name" and v not in (None, "")}
                item.setdefault("label", name)
                lists.setdefault(list_name, []).append(item)
    return lists


def _read_choice_file(path: Path, value_column: str, label_column: str) -> list[dict[str, Any]]:
    """The choices of select_one_from_file: a CSV with a header row, or an XML file of <item>s."""
    if not path.is_file():
        raise ValueError("no such file")
    items: list[dict[str, Any]] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for record in csv.DictReader(handle):
                name = (record.get(value_column) or "").strip()
                if name:
                    extra = {k: v for k, v in record.items() if k and k not in (value_column, label_column) and v}
                    items.append({"name": name, "label": (record.get(label_column) or name).strip(), **extra})
    elif path.suffix.lower() == ".xml":
        from defusedxml import ElementTree  # pyxform depends on it

        root = ElementTree.parse(path).getroot()
        for element in root.iter("item"):
            fields = {child.tag: (child.text or "").strip() for child in element}
            name = fields.get(value_column, "")
            if name:
                extra = {k: v for k, v in fields.items() if k not in (value_column, label_column) and v}
                items.append({"name": name, "label": fields.get(label_column) or name, **extra})
    else:
        raise ValueError("only .csv and .xml files are read")
    if not items:
        raise ValueError(f"no choices in it (columns {value_column} and {label_column})")
    return items


def _issue_order(issue: XlsformIssue) -> tuple[int, int]:
    order = {"": 0, SETTINGS: 1, SURVEY: 2, CHOICES: 3}
    return (order.get(issue.sheet, 4), issue.row)


def import_command(path: Path, output: Path | None, drop_unsupported: bool) -> int:
    """``baraza survey import FORM.xlsx [--output FILE.yaml] [--drop-unsupported]``.

    Problems go to standard error as ``FORM.xlsx:sheet:ROW: message``; the YAML goes to ``output``
    (standard output when None) only if Baraza's own loader accepts it. Returns the exit status.
    """
    path = Path(path)
    try:
        conversion = convert_xlsform(path, drop_unsupported=drop_unsupported)
    except XlsformError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        print(f"{path}: not converted: {len(error.issues)} problem(s)", file=sys.stderr)
        return 1
    for issue in conversion.dropped:
        print(issue, file=sys.stderr)
    for issue in conversion.warnings:
        print(XlsformIssue(issue.file, issue.sheet, issue.row, f"warning: {issue.message}"), file=sys.stderr)
    yaml_name = str(output) if output is not None else f"{path.stem}.yaml"
    try:
        survey = load_survey_text(conversion.yaml_text, yaml_name)
    except SurveyFileError as error:
        for problem in error.problems:
            sheet, row = conversion.source_of(problem.line)
            print(XlsformIssue(path.name, sheet, row, problem.message), file=sys.stderr)
        print(f"{path}: not converted: Baraza's survey check rejects the result", file=sys.stderr)
        return 1
    if output is None:
        sys.stdout.write(conversion.yaml_text)
        sys.stdout.flush()
    else:
        # Written whole, then renamed: a running bot never reads half a survey from its folder.
        for data_file in conversion.data_files:  # pulldata()'s CSV files go beside the survey, first
            target = output.with_name(data_file.name)
            if target.resolve() != data_file.resolve():
                copy = target.with_name(f".{target.name}.part")
                shutil.copyfile(data_file, copy)
                copy.replace(target)
        partial = output.with_name(f".{output.name}.part")
        partial.write_text(conversion.yaml_text, encoding="utf-8")
        partial.replace(output)
    questions = len(survey.data_questions)
    print(
        f"{path}: converted to {yaml_name}: survey '{survey.id}', {questions} questions, "
        f"languages {', '.join(survey.languages)}"
        + (f", {len(conversion.dropped)} left out" if conversion.dropped else ""),
        file=sys.stderr,
    )
    return 0
