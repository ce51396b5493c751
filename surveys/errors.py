"""Errors a statistician can act on: each names the file and line of the problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar


@dataclass(frozen=True)
class FileLineProblem:
    """One problem in a definition file (survey, notice, glossary...), printed as ``FILE:LINE: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


ProblemT = TypeVar("ProblemT", bound=FileLineProblem)


class FileProblemsError(Exception, Generic[ProblemT]):
    """A definition file cannot be used; ``problems`` lists every problem found, one a line."""

    def __init__(self, problems: list[ProblemT]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class SurveyProblem(FileLineProblem):
    """One problem in a survey file."""


class SurveyFileError(FileProblemsError[SurveyProblem]):
    """A survey file could not be loaded; ``problems`` lists every problem found."""


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
