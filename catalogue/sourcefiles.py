"""Checking the office's own definition files (glossary, release calendar) with line numbers.

Every problem becomes ``FILE:LINE: message``, all problems of a file are reported at once, and
a file with problems is refused as a whole (the bot keeps serving what it had). The files are
read by :func:`common.safe_yaml.load_located`, whose mappings know the line of each value, so
that the checks below, written against plain dicts and lists, can name the line they complain
about.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.problems import FileProblem, FileProblemsError, ProblemLog
from common.safe_yaml import Located

MAX_FILE_BYTES = 2_000_000
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


class DefinitionFileError(FileProblemsError):
    """A glossary or calendar file cannot be used; ``problems`` lists every problem found."""


@dataclass
class Checker:
    """Collects the problems of one file; the helpers return None (and record why) on bad values."""

    path: str
    log: ProblemLog = field(default_factory=lambda: ProblemLog(DefinitionFileError, limit=None))

    @property
    def problems(self) -> list[FileProblem]:
        return self.log.problems

    def problem(self, line: int, message: str) -> None:
        self.log.add(self.path, line, message)

    def raise_if_any(self) -> None:
        self.log.raise_if_any(by_line=True)

    def keys(self, mapping: Located, what: str, known: Collection[str], required: Collection[str] = ()) -> None:
        """Unknown, repeated and missing keys of ``mapping``."""
        for key, line in mapping.duplicates:
            self.problem(line, f"{what} has the key '{key}' twice")
        for key in mapping:
            if key not in known:
                self.problem(
                    mapping.line_of(key), f"unknown key '{key}' in {what} (known keys: {', '.join(sorted(known))})"
                )
        for key in required:
            if key not in mapping:
                self.problem(mapping.line, f"{what} needs '{key}'")

    def text(self, value: Any, line: int, what: str) -> str | None:
        if value is None or isinstance(value, (bool, list, dict)) or str(value).strip() == "":
            self.problem(line, f"{what} must be a non-empty text")
            return None
        return str(value).strip()

    def texts(self, value: Any, line: int, what: str, default_language: str) -> dict[str, str] | None:
        """A text (in the default language) or a mapping of languages to texts with the default one."""
        if not isinstance(value, Mapping):
            text = self.text(value, line, what)
            return None if text is None else {default_language: text}
        texts: dict[str, str] = {}
        located = value if isinstance(value, Located) else None
        for language, text in value.items():
            where = located.line_of(language) if located is not None else line
            if not LANGUAGE.match(language):
                self.problem(where, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            checked = self.text(text, where, f"{what} in '{language}'")
            if checked is not None:
                texts[language] = checked
        if located is not None:
            for language, where in located.duplicates:
                self.problem(where, f"{what} has the language '{language}' twice")
        if default_language not in value:
            self.problem(line, f"{what} has no text in the default language '{default_language}'")
            return None
        return texts or None

    def names(self, value: Any, line: int, what: str) -> list[str] | None:
        """A list of texts (a single text counts as a list of one)."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(line, f"{what} must be a list such as [a, b]")
            return None
        names: list[str] = []
        for item in value:
            name = self.text(item, line, f"an entry of {what}")
            if name is not None:
                names.append(name)
        return names
