"""Reading the office's own definition files (glossary, release calendar) with line numbers.

Every problem becomes ``FILE:LINE: message``, all problems of a file are reported at once, and
a file with problems is refused as a whole (the bot keeps serving what it had).

YAML is read with a loader that remembers where each mapping starts and where each of its
values is (:class:`Located`), so that checks written against plain dicts and lists can still
name the line of the value they complain about.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode

from surveys.errors import FileLineProblem, FileProblemsError, UnreadableFileError, read_definition_file
from surveys.safe_yaml import GuardedLoader, YamlSyntaxProblem, load_document

MAX_FILE_BYTES = 2_000_000
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


class FileProblem(FileLineProblem):
    """One problem in a glossary or calendar file."""


class DefinitionFileError(FileProblemsError[FileProblem]):
    """A glossary or calendar file cannot be used; ``problems`` lists every problem found."""


class Located(dict[str, Any]):
    """A YAML mapping that knows its own line and the line of each value (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[str, int]] = []

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _LineLoader(GuardedLoader):
    """A safe loader whose mappings are :class:`Located`."""


def _construct_located(loader: _LineLoader, node: MappingNode) -> Located:
    loader.flatten_mapping(node)
    mapping = Located(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        if key in mapping:
            mapping.duplicates.append((key, key_node.start_mark.line + 1))
            continue
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = value_node.start_mark.line + 1
    return mapping


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """A date or time; an impossible one (2027-13-01) stays text, for the checks to report."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_text(path: Path) -> str:
    """The file's text, or :class:`DefinitionFileError` with a ``FILE:1:`` problem."""
    try:
        return read_definition_file(path, MAX_FILE_BYTES)
    except UnreadableFileError as error:
        raise DefinitionFileError([FileProblem(str(path), 1, str(error))]) from None


def parse_yaml(text: str, path: str) -> Located:
    """The top-level mapping of a YAML file; syntax errors name their line."""
    try:
        root = load_document(text, _LineLoader)
    except YamlSyntaxProblem as problem:
        raise DefinitionFileError([FileProblem(path, problem.line, problem.message)]) from None
    if root is None:
        raise DefinitionFileError([FileProblem(path, 1, "the file is empty")])
    if not isinstance(root, Located):
        raise DefinitionFileError([FileProblem(path, 1, "the file must be a mapping of keys to values")])
    return root


@dataclass
class Checker:
    """Collects the problems of one file; the helpers return None (and record why) on bad values."""

    path: str
    problems: list[FileProblem] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(FileProblem(self.path, line, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DefinitionFileError(sorted(self.problems, key=lambda p: p.line))

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
