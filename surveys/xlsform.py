"""Converts an XLSForm spreadsheet (ODK, KoBoToolbox, SurveyCTO) into a Baraza survey YAML file.

pyxform reads the workbook and validates the form with its own checks, so whatever ODK would
reject is rejected here too, with the row pyxform names. The conversion itself reads the rows
(keeping their spreadsheet row numbers) and writes the survey in the format of ``office/surveys/README.md``:
questions, groups, choice lists with their extra columns, translations and expressions, copied
verbatim. Types that cannot be answered in a chat (GPS, photos, repeats...) are errors unless
``drop_unsupported`` is set, in which case they are left out and listed.

Every problem is an :class:`XlsformIssue`, printed as ``FORM.xlsx:survey:ROW: message`` with the
row numbered as in Excel (the header is row 1).
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from common.errors import BarazaError
from surveys.errors import SurveyFileError
from surveys.loader import APPEARANCES, load_survey_text

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

SURVEY, CHOICES, SETTINGS = "survey", "choices", "settings"

# Types that convert one to one (pyxform's aliases included).
SIMPLE_TYPES = {
    "integer": "integer", "int": "integer", "q int": "integer", "add integer prompt": "integer",
    "decimal": "decimal", "q decimal": "decimal", "add decimal prompt": "decimal",
    "date": "date", "q date": "date", "add date prompt": "date",
    "text": "text", "string": "text", "q string": "text", "add text prompt": "text",
    "note": "note", "q note": "note", "add note prompt": "note",
    "calculate": "calculate", "q calculate": "calculate", "add calculate prompt": "calculate",
    "range": "range",
}  # fmt: skip
# Metadata that a phone collects by itself; meaningless in a chat, so dropped with a warning.
METADATA_TYPES = {
    "start", "end", "today", "deviceid", "imei", "device id", "username", "phonenumber", "phone number",
    "audit", "simserial", "sim id", "subscriberid", "subscriber id", "email", "start time", "end time",
    "get start time", "get end time", "get today", "get device id", "get sim id", "get subscriber id",
    "get phone number", "uri:deviceid", "uri:username", "uri:phonenumber", "uri:simserial",
    "uri:subscriberid", "uri:email",
}  # fmt: skip
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
    "geopoint": "a GPS location", "geotrace": "a GPS line", "geoshape": "a GPS shape", "gps": "a GPS location",
    "location": "a GPS location", "start-geopoint": "a GPS location", "background-geopoint": "a GPS location",
    "image": "a photo", "photo": "a photo", "q picture": "a photo", "q image": "a photo",
    "audio": "a sound recording", "background-audio": "a sound recording", "video": "a video",
    "file": "a file", "barcode": "a barcode scan", "trigger": "an acknowledgement", "acknowledge": "an acknowledgement",
    "time": "a time of day", "datetime": "a date and time", "hidden": "a hidden value",
    "xml-external": "an external data file", "csv-external": "an external data file", "osm": "a map feature",
}  # fmt: skip

# Column names as pyxform spells them, and their aliases.
SURVEY_COLUMN_ALIASES = {
    "relevance": "relevant", "caption": "label", "command": "type", "tag": "name", "value": "name",
    "constraining_message": "constraint_message", "jr:constraintmsg": "constraint_message",
    "requiredmsg": "required_message", "jr:requiredmsg": "required_message", "calculate": "calculation",
    "choice-filter": "choice_filter", "readonly": "read_only",
}  # fmt: skip
TRANSLATABLE = {"label", "hint", "constraint_message", "required_message", "explanation"}
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "required")
SUPPORTED_SURVEY_COLUMNS = {
    "type", "name", "label", "hint", "required", "required_message", "relevant", "constraint",
    "constraint_message", "default", "calculation", "choice_filter", "appearance", "parameters",
    "min_choices", "max_choices", "max_length", "correct", "explanation",
}  # fmt: skip
MEDIA_COLUMNS = {"image", "big-image", "audio", "video", "media"}
# Columns that change nothing a chat can show: ignored with a warning.
IGNORED_SURVEY_COLUMNS = {
    "guidance_hint": "guidance hints are for printed forms", "read_only": "read-only questions are shown as answerable",
    "trigger": "a chat recalculates whenever an answer changes", "repeat_count": "repeats are not supported",
    "jr:count": "repeats are not supported", "body": "no meaning in a chat", "bind": "no meaning in a chat",
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
    "albanian": "sq", "serbian": "sr", "croatian": "hr", "bosnian": "bs", "tigre": "tig",
}  # fmt: skip
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
CODE_IN_PARENTHESES = re.compile(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\s*\)\s*$")
SURVEY_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
REFERENCE = re.compile(r"\$\{\s*([^}\s]+)\s*\}")
STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
PYXFORM_ROW = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
PYXFORM_SHEET = re.compile(r"[Oo]n the '(survey|choices|settings|external_choices|entities)' sheet")
YES = {"yes", "true", "true()"}
NO = {"no", "false", "false()"}
FLOW_WIDTH = 100


def language_code(declaration: str) -> str | None:
    """The language code in a column suffix: ``English (en)`` -> en, ``French`` -> fr, ``pt`` -> pt."""
    declaration = declaration.strip()
    match = CODE_IN_PARENTHESES.search(declaration)
    if match:
        return match.group(1).lower().replace("_", "-")
    named = LANGUAGE_CODES.get(declaration.casefold())
    if named:
        return named
    if LANGUAGE_CODE.match(declaration):
        return declaration.replace("_", "-")
    return None


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
        if double_colon or "::" in header:
            tokens = [t.strip() for t in header.split("::")]
        elif ":" in header and not header.lower().startswith(("jr:", "uri:")):
            tokens = [t.strip() for t in header.split(":")]
        else:
            tokens = [header.strip()]
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


class _Converter:
    def __init__(self, file: str, drop_unsupported: bool) -> None:
        self.file = file
        self.drop_unsupported = drop_unsupported
        self.errors: list[XlsformIssue] = []
        self.dropped: list[XlsformIssue] = []
        self.warnings: list[XlsformIssue] = []
        self.default_language = "en"
        self.languages: list[str] = []
        self.dropped_names: dict[str, str] = {}  # name -> why, for references to it
        self.metadata_names: dict[str, str] = {}  # name -> metadata type
        self.pending_references: list[tuple[int, str, str]] = []  # (row, column, expression)

    # -- issues

    def issue(self, sheet: str, row: int, message: str) -> None:
        self.errors.append(XlsformIssue(self.file, sheet, row, message))

    def warn(self, sheet: str, row: int, message: str) -> None:
        self.warnings.append(XlsformIssue(self.file, sheet, row, message))

    def unsupported(self, row: int, what: str, reason: str, advice: str = "") -> bool:
        """An unsupported feature: an error, or (with drop_unsupported) a dropped entry. True if dropped."""
        if self.drop_unsupported:
            self.dropped.append(XlsformIssue(self.file, SURVEY, row, f"dropped {what}: {reason}"))
            return True
        advice = f"; {advice}" if advice else ""
        self.issue(SURVEY, row, f"{what}: {reason}{advice} (convert with --drop-unsupported to leave it out)")
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
                    self.issue(
                        sheet.name,
                        1,
                        f"cannot tell the language of column '{column.header}': write it as "
                        f"'{column.base}::{column.language} (xx)' with the language's two-letter ISO 639-1 code",
                    )
                    continue
                column.code = code
                if column.base not in MEDIA_COLUMNS and code not in seen:
                    seen.append(code)
        if declared:
            code = language_code(declared)
            if code is None:
                self.issue(
                    SETTINGS,
                    2,
                    f"cannot tell the language of default_language '{declared}': write it as "
                    f"'{declared} (xx)' with the language's two-letter ISO 639-1 code",
                )
            else:
                self.default_language = code
        elif seen:
            self.default_language = seen[0]
            example = next(c.header for sheet in sheets for c in sheet.columns if c.code)
            for sheet in sheets:
                plain = [
                    c.header
                    for c in sheet.columns
                    if c.language is None and c.base in TRANSLATABLE and any(c.header in v for _, v in sheet.rows)
                ]
                if plain:
                    self.issue(
                        sheet.name,
                        1,
                        f"column '{plain[0]}' has no language but '{example}' has one: set default_language in "
                        f"the settings sheet to the language of '{plain[0]}'",
                    )
        for sheet in sheets:
            for column in sheet.columns:
                if column.language is not None and column.language.strip().lower() == "default":
                    column.code = self.default_language
        self.languages = [self.default_language, *[code for code in seen if code != self.default_language]]

    def text(self, sheet: _Sheet, values: Mapping[str, str], base: str) -> Text | None:
        """A translatable column: a plain string in a single-language form, else ``{code: text}``."""
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
            result["languages"] = list(self.languages)
        if "version" in by_base:
            result["version"] = by_base["version"]
        for key in SETTINGS_EXTENSIONS:
            if key in by_base:
                result[key] = self._setting_value(key, by_base[key], row)
        for key in SETTINGS_TEXTS:
            text = self.text(sheet, values, key)
            if text is not None:
                result[key] = text
        known = {"id", "title", "default_language", "version", *SETTINGS_EXTENSIONS, *SETTINGS_TEXTS}
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

    def choices(self, sheet: _Sheet) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple[str, int], int]]:
        """The choice lists, each choice with its extra columns (for choice_filter); and each choice's row."""
        lists: dict[str, list[dict[str, Any]]] = {}
        rows: dict[tuple[str, int], int] = {}
        own = {"list_name", "name", "label"}
        extra = [c for c in sheet.columns if c.base not in own | MEDIA_COLUMNS]
        for column in sheet.columns:
            if column.base in MEDIA_COLUMNS and any(column.header in values for _, values in sheet.rows):
                self.warn(CHOICES, 1, f"column '{column.header}' ignored: no media in a chat")
        list_column = next((c.header for c in sheet.columns if c.base == "list_name"), "")
        name_column = next((c.header for c in sheet.columns if c.base == "name"), "")
        for row, values in sheet.rows:
            list_name = values.get(list_column, "").strip()
            name = values.get(name_column, "").strip()
            if not list_name or not name:
                continue  # pyxform reports a choice without a name
            choice: dict[str, Any] = {"name": name}
            label = self.text(sheet, values, "label")
            if label is not None:
                choice["label"] = label
            for column in extra:
                if column.header in values:
                    choice[column.header] = values[column.header]
            items = lists.setdefault(list_name, [])
            rows[(list_name, len(items))] = row
            items.append(choice)
        return lists, rows

    # -- survey

    def survey(self, sheet: _Sheet) -> list[_Node]:
        self._warn_columns(sheet)
        root: list[_Node] = []
        stack: list[_Frame] = []
        for row, values in sheet.rows:
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
            node = self._question(type_name, row, by_base, values, sheet, inside_dropped)
            if node is not None and not inside_dropped:
                children.append(node)
        return root

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
        is_group = kind == "group"
        name = by_base.get("name", "").strip()
        if edge == "end":
            if stack:
                frame = stack.pop()
                if frame.kind == "dropped":
                    message = f"dropped repeat '{frame.name}' (rows {frame.row}-{row}) and the questions in it: a chat cannot repeat questions"
                    self.dropped.append(XlsformIssue(self.file, SURVEY, frame.row, message))
            return
        if not is_group:
            message = f"repeat '{name}' cannot be run in a chat"
            if self.drop_unsupported:
                self.dropped_names[name] = "a repeat"
                stack.append(_Frame("dropped", row, name, None, []))
            else:
                self.issue(
                    SURVEY,
                    row,
                    f"{message}; ask its questions once, or once per item with separate "
                    "questions (convert with --drop-unsupported to leave it out)",
                )
                stack.append(_Frame("repeat", row, name, None, []))
            return
        data: dict[str, Any] = {"type": "group", "name": name}
        label = self.text(sheet, values, "label")
        if label is not None:
            data["label"] = label
        relevant = by_base.get("relevant")
        if relevant:
            data["relevant"] = self._expression(relevant, row, "relevant")
        appearance = by_base.get("appearance")
        if appearance:
            self._appearance(data, appearance, "group", name, row)
        node = _Node(data=data, row=row, children=[])
        if inside_dropped:
            self.dropped_names[name] = "inside a dropped repeat"
            stack.append(_Frame("group", row, name, None, []))
            return
        children.append(node)
        assert node.children is not None
        stack.append(_Frame("group", row, name, node, node.children))

    def _question(
        self,
        type_name: str,
        row: int,
        by_base: Mapping[str, str],
        values: Mapping[str, str],
        sheet: _Sheet,
        inside_dropped: bool,
    ) -> _Node | None:
        name = by_base.get("name", "").strip()
        lowered = type_name.lower()
        if inside_dropped:
            if name:
                self.dropped_names[name] = "inside a dropped repeat"
            return None
        if lowered in METADATA_TYPES:
            self.metadata_names[name] = lowered
            self.warn(SURVEY, row, f"metadata question '{name}' ({type_name}) left out: it has no meaning in a chat")
            return None
        select = SELECT.match(type_name)
        data: dict[str, Any] = {}
        list_name: str | None = None
        if select:
            command = select.group("command").lower()
            if command in FROM_FILE_WORDS:
                why = "ranking" if command == "rank" else "choices from an external file"
                if self.unsupported(row, f"{command} question '{name}'", f"a chat cannot offer {why}"):
                    self.dropped_names[name] = command
                return None
            question_type = "select_one" if command in SELECT_ONE_WORDS else "select_multiple"
            list_name = select.group("list")
            if select.group("other"):
                advice = (
                    f"add an 'other' choice to '{list_name}' and a text question with relevant "
                    f"selected(${{{name}}}, 'other')"
                )
                self.unsupported(row, f"'{select.group('other')}' of question '{name}'", "not supported", advice)
        elif lowered in SIMPLE_TYPES:
            question_type = SIMPLE_TYPES[lowered]
        else:
            collects = WHY_UNSUPPORTED.get(lowered)
            if collects is None:
                from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

                if type_name not in QUESTION_TYPE_DICT:
                    self.issue(SURVEY, row, f"unknown question type '{type_name}'")
                    return None
                collects = f"a '{type_name}' answer"
            if self.unsupported(row, f"{type_name} question '{name}'", f"a chat cannot collect {collects}"):
                self.dropped_names[name] = type_name
            return None

        data["type"] = question_type
        data["name"] = name
        for key in ("label", "hint"):
            text = self.text(sheet, values, key)
            if text is not None:
                data[key] = text
        answerable = question_type not in ("note", "calculate")
        if answerable:
            data["required"] = self._required(by_base.get("required", ""), row)
            text = self.text(sheet, values, "required_message")
            if text is not None:
                data["required_message"] = text
        if by_base.get("relevant"):
            data["relevant"] = self._expression(by_base["relevant"], row, "relevant")
        if answerable and by_base.get("constraint"):
            data["constraint"] = self._expression(by_base["constraint"], row, "constraint")
            text = self.text(sheet, values, "constraint_message")
            if text is not None:
                data["constraint_message"] = text
        if by_base.get("default"):
            default = self._default(by_base["default"], question_type, name, row)
            if default is not None:
                data["default"] = default
        if by_base.get("calculation"):
            if question_type == "calculate":
                data["calculate"] = self._expression(by_base["calculation"], row, "calculation")
            else:
                self.unsupported(
                    row,
                    f"the calculation of {question_type} question '{name}'",
                    "only calculate questions have one",
                    "add a calculate question",
                )
        if question_type == "calculate" and "calculate" not in data:
            self.issue(SURVEY, row, f"calculate question '{name}' has no calculation")
        if by_base.get("choice_filter"):
            if list_name is None:
                self.warn(SURVEY, row, f"choice_filter of '{name}' ignored: it is not a select question")
            else:
                data["choice_filter"] = self._expression(by_base["choice_filter"], row, "choice_filter")
        if list_name is not None:
            data["choices"] = list_name
        self._appearance(data, by_base.get("appearance"), question_type, name, row)
        if question_type == "range":
            self._range(data, by_base.get("parameters", ""), row)
        elif by_base.get("parameters"):
            self.warn(SURVEY, row, f"parameters '{by_base['parameters']}' of '{name}' ignored: no meaning in a chat")
        for key in ("min_choices", "max_choices", "max_length"):
            if by_base.get(key):
                number = _number(by_base[key])
                if not isinstance(number, int):
                    self.issue(SURVEY, row, f"{key} of '{name}' must be a whole number, not '{by_base[key]}'")
                else:
                    data[key] = number
        if by_base.get("correct"):
            data["correct"] = by_base["correct"].strip()
        explanation = self.text(sheet, values, "explanation")
        if explanation is not None:
            data["explanation"] = explanation
        if question_type == "note" and "required" in by_base and by_base["required"].strip().lower() not in NO:
            self.warn(SURVEY, row, f"required of note '{name}' ignored: a note has no answer")
        return _Node(data=data, row=row)

    def _required(self, value: str, row: int) -> bool | str:
        lowered = value.strip().lower()
        if lowered in YES:
            return True
        if lowered in NO or lowered == "":
            return False
        return self._expression(value, row, "required")

    def _default(self, value: str, question_type: str, name: str, row: int) -> Any:
        value = value.strip()
        if "${" in value or re.search(r"[A-Za-z_-]+\(", value):
            self.unsupported(
                row, f"the default '{value}' of '{name}'", "a chat offers only fixed defaults, not expressions"
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
            self.unsupported(row, f"the appearance '{appearance}' of '{name}'", "it reads choices from a file")
            return
        words = appearance.split()
        if words and set(words) <= APPEARANCES:
            data["appearance"] = " ".join(words)
            return
        self.warn(SURVEY, row, f"appearance '{appearance}' of '{name}' ignored: no meaning in a chat")

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
        outside_strings = STRING_LITERAL.sub("''", expression)
        if "/" in outside_strings:
            self.issue(
                SURVEY, row, f"{column} '{expression}' uses an XPath path such as /data/name; write ${{name}} instead"
            )
        self.pending_references.append((row, column, expression))
        return expression

    def check_references(self, nodes: Sequence[_Node]) -> None:
        """References to metadata, dropped or unknown questions: after all rows are read."""
        rewrites: dict[int, dict[str, str]] = {}
        for row, column, expression in self.pending_references:
            for name in REFERENCE.findall(expression):
                if self.metadata_names.get(name) in ("today", "get today"):
                    rewrites.setdefault(row, {})[name] = column
                elif name in self.metadata_names:
                    self.issue(
                        SURVEY,
                        row,
                        f"{column} refers to ${{{name}}}, a {self.metadata_names[name]} metadata "
                        "question, which has no value in a chat",
                    )
                elif name in self.dropped_names:
                    self.issue(
                        SURVEY, row, f"{column} refers to ${{{name}}}, which is left out ({self.dropped_names[name]})"
                    )
        if rewrites:
            for node in _walk(nodes):
                names = rewrites.get(node.row)
                if not names:
                    continue
                for key, value in node.data.items():
                    if key in ("relevant", "constraint", "calculate", "choice_filter", "required") and isinstance(
                        value, str
                    ):
                        for name in names:
                            node.data[key] = value = re.sub(r"\$\{\s*" + re.escape(name) + r"\s*\}", "today()", value)
                for name in names:
                    self.warn(SURVEY, node.row, f"${{{name}}} (the today metadata question) replaced by today()")


def _walk(nodes: Sequence[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        if node.children:
            yield from _walk(node.children)


# --------------------------------------------------------------------------------------------
# Writing the YAML


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
            writer.mark(CHOICES, choice_rows.get((list_name, 0), 1))
            writer.lines.append(f"  {_scalar(list_name)}:")
            for index, item in enumerate(items):
                writer.mark(CHOICES, choice_rows.get((list_name, index), 1))
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

    warnings: list[str] = []
    errors: list[XlsformIssue] = []
    try:
        convert(xlsform=str(path), warnings=warnings, validate=False)
    except PyXFormError as error:
        errors.append(_pyxform_issue(path.name, str(error), sheets, error.context))
    except Exception as error:  # pyxform has been seen to raise plain errors on odd spreadsheets
        errors.append(XlsformIssue(path.name, "", 0, f"pyxform cannot convert the form: {error}"))
    notes = []
    for warning in warnings:
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


def convert_xlsform(path: Path, *, drop_unsupported: bool = False) -> XlsformConversion:
    """Convert the XLSForm at ``path``; raises :class:`XlsformError` listing every problem."""
    path = Path(path)
    workbook = _read_workbook(path)
    if not workbook.survey:
        raise XlsformError([XlsformIssue(path.name, "", 0, "the workbook has no 'survey' sheet with questions")])
    survey_sheet = _sheet(SURVEY, workbook.survey, workbook.survey_header, SURVEY_COLUMN_ALIASES)
    choices_sheet = _sheet(CHOICES, workbook.choices, workbook.choices_header, {"value": "name", "caption": "label"})
    settings_sheet = _sheet(SETTINGS, workbook.settings, workbook.settings_header, SETTINGS_ALIASES)
    sheets = {SURVEY: survey_sheet, CHOICES: choices_sheet, SETTINGS: settings_sheet}

    pyxform_errors, pyxform_warnings = _pyxform_validate(path, sheets)

    converter = _Converter(path.name, drop_unsupported)
    settings_values = {}
    if settings_sheet.rows:
        settings_values = {
            c.base: settings_sheet.rows[0][1][c.header]
            for c in settings_sheet.columns
            if c.header in settings_sheet.rows[0][1] and c.language is None
        }
    converter.resolve_languages([survey_sheet, choices_sheet, settings_sheet], settings_values)
    settings = converter.settings(settings_sheet, path.stem)
    choice_lists, choice_rows = converter.choices(choices_sheet)
    nodes = converter.prune(converter.survey(survey_sheet))
    converter.check_references(nodes)
    for name in ("entities", "external_choices", "osm"):
        if getattr(workbook, name, None):
            converter.warn(name, 1, f"the '{name}' sheet is ignored: not supported in a chat")

    located = {(issue.sheet, issue.row) for issue in pyxform_errors}
    errors = pyxform_errors + [issue for issue in converter.errors if (issue.sheet, issue.row) not in located]
    if errors:
        raise XlsformError(sorted(errors, key=_issue_order))
    if not any(node.data.get("type") not in ("note", "calculate", "group") for node in _walk(nodes)):
        raise XlsformError([XlsformIssue(path.name, SURVEY, 1, "no question is left that a chat can ask")])
    settings_row = settings_sheet.rows[0][0] if settings_sheet.rows else 1
    text, sources = _write(path.name, settings, settings_row, nodes, choice_lists, choice_rows)
    return XlsformConversion(
        yaml_text=text,
        dropped=sorted(converter.dropped, key=_issue_order),
        warnings=sorted(converter.warnings + pyxform_warnings, key=_issue_order),
        source_rows=sources,
    )


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
            issue = XlsformIssue(
                path.name, sheet, row, f"{problem.message} (line {problem.line} of the converted YAML)"
            )
            print(issue, file=sys.stderr)
        print(f"{path}: not converted: Baraza's survey check rejects the result", file=sys.stderr)
        return 1
    if output is None:
        sys.stdout.write(conversion.yaml_text)
        sys.stdout.flush()
    else:
        # Written whole, then renamed: a running bot never reads half a survey from its folder.
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
