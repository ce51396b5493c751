"""Errors a statistician can act on: each names the file and line of the problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SurveyProblem:
    """One problem in a survey file, printed as ``FILE:LINE: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SurveyFileError(Exception):
    """A survey file could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[SurveyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class UnreadableFileError(Exception):
    """A definition file (survey, notice) could not be read as text; the message says why."""


def read_definition_file(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of a YAML definition file no larger than ``max_bytes``.

    Raises :class:`UnreadableFileError` with a message for a ``FILE:1:`` problem line.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableFileError(f"the file is {size} bytes; the limit is {max_bytes}")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UnreadableFileError("the file is not UTF-8 text") from None
    except OSError as error:
        raise UnreadableFileError(f"cannot read the file: {error.strerror}") from None
