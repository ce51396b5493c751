"""The release calendar: what the office will publish, when, on which topic.

From YAML (``releases.yaml``)::

    default_language: en
    releases:
      - id: cpi-2026-12                  # letters, digits, . _ -; at most 60 characters
        topic: prices                    # one of register.topics when the bot checks it
        date: 2027-01-12
        time: "10:00"                    # optional, the office's local time
        title: {en: Consumer price index, December 2026, fr: Indice des prix..., December 2026}
        description: {en: ..., fr: ...}  # optional
        link: https://stats.example.org/cpi   # optional: the release page

or from CSV (``releases.csv``) with the columns ``id, topic, date, time, link``, ``title`` (or
``title_en``, ``title_fr``, ... one per language) and optionally ``description`` /
``description_<lang>``. Problems are reported as ``FILE:LINE: message``, all at once; a file
with problems is refused as a whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from catalogue.model import EntriesById, Multilingual
from catalogue.sourcefiles import LANGUAGE, MAX_FILE_BYTES, Checker, DefinitionFileError
from common.safe_yaml import Located, load_located, read_file

RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
URL = re.compile(r"^https?://\S+$")
FILE_KEYS = {"default_language", "releases"}
RELEASE_KEYS = {"id", "topic", "date", "time", "title", "description", "link"}
CSV_PLAIN_COLUMNS = {"id", "topic", "date", "time", "link", "title", "description"}
CSV_LANGUAGE_COLUMN = re.compile(r"^(title|description)_([a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)$")
MAX_TITLE = 200
MAX_DESCRIPTION = 1500


@dataclass(frozen=True)
class Release:
    """One calendar entry."""

    id: str
    title: Multilingual
    topic: str
    date: date
    time: time | None = None
    link: str | None = None
    description: Multilingual = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[dt.date, dt.time, str]:
        return (self.date, self.time or time(0, 0), self.id)


@dataclass(frozen=True)
class ReleaseCalendar(EntriesById[Release]):
    """The releases by id, in date order."""

    releases: Mapping[str, Release] = field(default_factory=dict)
    default_language: str = "en"

    @property
    def by_id(self) -> Mapping[str, Release]:
        return self.releases

    def title(self, release: Release, language: str) -> str:
        return self.text(release.title, language)

    def description(self, release: Release, language: str) -> str:
        return self.text(release.description, language)

    def upcoming(self, today: date, topic: str | None = None) -> list[Release]:
        """Releases dated today or later (of ``topic`` if given), soonest first."""
        return [
            release
            for release in self.releases.values()
            if release.date >= today and (topic is None or release.topic == topic)
        ]

    def topics(self) -> list[str]:
        """The topics that have releases, in order of first appearance."""
        return list(dict.fromkeys(release.topic for release in self.releases.values()))


def load_calendar_file(path: Path, *, topics: Collection[str] | None = None) -> ReleaseCalendar:
    """Read and check a calendar (``.yaml``/``.yml`` or ``.csv``).

    Raises :class:`catalogue.sourcefiles.DefinitionFileError`. With ``topics`` (the configured
    register topics) each release's topic must be one of them.
    """
    text = read_file(path, MAX_FILE_BYTES, DefinitionFileError)
    if path.suffix.lower() == ".csv":
        return load_calendar_csv(text, str(path), topics=topics)
    return load_calendar_yaml(text, str(path), topics=topics)


def load_calendar_yaml(text: str, path: str, *, topics: Collection[str] | None = None) -> ReleaseCalendar:
    root = load_located(text, path, DefinitionFileError)
    check = Checker(path)
    check.keys(root, "the calendar", FILE_KEYS, required=("releases",))
    default_language = _default_language(check, root)
    entries = root.get("releases")
    if "releases" in root and not isinstance(entries, list):
        check.problem(root.line_of("releases"), "releases must be a list of entries (each starting with '- id:')")
    found: list[tuple[Release, int]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Located):
            check.problem(root.line_of("releases"), "each release must be a mapping with id, title, topic, date...")
            continue
        check.keys(entry, "a release", RELEASE_KEYS, required=("id", "title", "topic", "date"))
        release = _release(check, _YamlFields(entry), default_language, topics)
        if release is not None:
            found.append((release, entry.line_of("id")))
    return _calendar(check, found, default_language, root.line)


def load_calendar_csv(text: str, path: str, *, topics: Collection[str] | None = None) -> ReleaseCalendar:
    check = Checker(path)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    columns = reader.fieldnames or []
    for column in columns:
        if column not in CSV_PLAIN_COLUMNS and not CSV_LANGUAGE_COLUMN.match(column):
            check.problem(
                1, f"unknown column '{column}' (known: {', '.join(sorted(CSV_PLAIN_COLUMNS))}, title_<language>...)"
            )
    titled = [c for c in columns if c == "title" or c.startswith("title_")]
    default_language = "en"
    for required in ("id", "topic", "date"):
        if required not in columns:
            check.problem(1, f"the calendar needs a column '{required}'")
    if not titled:
        check.problem(1, "the calendar needs a column 'title' (or one per language: title_en, title_fr...)")
    check.raise_if_any()
    found: list[tuple[Release, int]] = []
    for row in reader:
        line_of_row = reader.line_num  # where the row ends: its line, unless a quoted text spans lines
        if not any((value or "").strip() for value in row.values()):
            continue
        release = _release(check, _CsvFields(row, line_of_row, default_language), default_language, topics)
        if release is not None:
            found.append((release, line_of_row))
    return _calendar(check, found, default_language, 1)


def _default_language(check: Checker, root: Located) -> str:
    if "default_language" not in root:
        return "en"
    value = check.text(root["default_language"], root.line_of("default_language"), "default_language")
    if value is not None and not LANGUAGE.match(value):
        check.problem(root.line_of("default_language"), f"default_language '{value}' is not a language code")
        return "en"
    return value or "en"


def _calendar(
    check: Checker, found: Iterable[tuple[Release, int]], default_language: str, line: int
) -> ReleaseCalendar:
    releases: dict[str, Release] = {}
    for release, release_line in found:
        if release.id in releases:
            check.problem(release_line, f"the release id '{release.id}' is used twice")
        releases[release.id] = release
    if not releases and not check.problems:
        check.problem(line, "the calendar has no releases")
    check.raise_if_any()
    ordered = sorted(releases.values(), key=lambda release: release.sort_key)
    return ReleaseCalendar({release.id: release for release in ordered}, default_language)


class _YamlFields:
    """A release's fields as read from a YAML mapping."""

    def __init__(self, entry: Located) -> None:
        self.entry = entry

    def has(self, key: str) -> bool:
        return key in self.entry

    def value(self, key: str) -> Any:
        return self.entry.get(key)

    def line(self, key: str) -> int:
        return self.entry.line_of(key)


class _CsvFields:
    """A release's fields as read from a CSV row; ``title_fr`` columns become ``{fr: ...}``."""

    def __init__(self, row: Mapping[str, str | None], line: int, default_language: str) -> None:
        self.row = {key: (value or "").strip() for key, value in row.items() if key is not None}
        self.line_number = line
        self.default_language = default_language

    def has(self, key: str) -> bool:
        if key in ("title", "description"):
            return bool(self.value(key))
        return bool(self.row.get(key))

    def value(self, key: str) -> Any:
        if key not in ("title", "description"):
            return self.row.get(key) or None
        texts: dict[str, str] = {}
        if self.row.get(key):
            texts[self.default_language] = self.row[key]
        for column, text in self.row.items():
            matched = CSV_LANGUAGE_COLUMN.match(column)
            if matched and matched.group(1) == key and text:
                texts[matched.group(2)] = text
        return texts or None

    def line(self, key: str) -> int:
        return self.line_number


def _release(
    check: Checker, fields: _YamlFields | _CsvFields, default_language: str, topics: Collection[str] | None
) -> Release | None:
    release_id = check.text(fields.value("id"), fields.line("id"), "the id") if fields.has("id") else None
    if release_id is not None and not RELEASE_ID.match(release_id):
        check.problem(fields.line("id"), f"the id '{release_id}' must be letters, digits, '.', '_' or '-' (at most 60)")
        release_id = None
    if release_id is None and not fields.has("id"):
        check.problem(fields.line("id"), "a release needs an id")
    what = f"the release '{release_id}'" if release_id else "a release"
    title = None
    if fields.has("title"):
        title = check.texts(fields.value("title"), fields.line("title"), f"the title of {what}", default_language)
        for language, text in (title or {}).items():
            if len(text) > MAX_TITLE:
                check.problem(fields.line("title"), f"the title of {what} in '{language}' is longer than {MAX_TITLE}")
    elif isinstance(fields, _CsvFields):
        check.problem(fields.line("title"), f"{what} has no title")
    description: dict[str, str] | None = {}
    if fields.has("description"):
        description = check.texts(
            fields.value("description"), fields.line("description"), f"the description of {what}", default_language
        )
        for language, text in (description or {}).items():
            if len(text) > MAX_DESCRIPTION:
                check.problem(
                    fields.line("description"),
                    f"the description of {what} in '{language}' is longer than {MAX_DESCRIPTION}",
                )
    topic = None
    if fields.has("topic"):
        topic = check.text(fields.value("topic"), fields.line("topic"), f"the topic of {what}")
        if topic is not None and topics is not None and topic not in topics:
            check.problem(
                fields.line("topic"), f"'{topic}' is not one of the topics in the configuration ({', '.join(topics)})"
            )
    elif isinstance(fields, _CsvFields):
        check.problem(fields.line("topic"), f"{what} has no topic")
    day = _date(check, fields, what) if fields.has("date") or isinstance(fields, _CsvFields) else None
    at = _time(check, fields, what) if fields.has("time") else None
    link = None
    if fields.has("link"):
        link = check.text(fields.value("link"), fields.line("link"), f"the link of {what}")
        if link is not None and not URL.match(link):
            check.problem(fields.line("link"), f"the link of {what} must start with https:// (or http://)")
            link = None
    if release_id is None or title is None or topic is None or day is None or description is None:
        return None
    return Release(id=release_id, title=title, topic=topic, date=day, time=at, link=link, description=description or {})


def _date(check: Checker, fields: _YamlFields | _CsvFields, what: str) -> date | None:
    value = fields.value("date")
    if value is None:
        check.problem(fields.line("date"), f"{what} has no date")
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        check.problem(fields.line("date"), f"the date of {what} must be a date such as 2027-01-12, not '{value}'")
        return None


def _time(check: Checker, fields: _YamlFields | _CsvFields, what: str) -> time | None:
    value = fields.value("time")
    # YAML 1.1 reads an unquoted 10:00 as the base-60 number 600 (minutes): take it back.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        check.problem(fields.line("time"), f"the time of {what} must be a time such as 10:00, not '{value}'")
        return None
