"""Problems in the office's own files, each printed as ``FILE:LINE: message``, and the error that
refuses a file with all its problems at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from common.errors import BarazaError

#: Stop collecting after this many problems: a file with a systematic error would otherwise
#: print one line per row of a million-row file.
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class FileProblem:
    """One problem in a file Baraza reads (survey, notice, glossary, calendar, indicator data...).

    ``line`` is 1-based; 0 means the file as a whole, printed ``FILE: message``.
    """

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


ErrorT = TypeVar("ErrorT", bound="FileProblemsError")


class FileProblemsError(BarazaError):
    """A file cannot be used; ``problems`` lists the problems found, one a line, and ``more``
    counts those left out past :data:`MAX_PROBLEMS`."""

    def __init__(self, problems: Iterable[FileProblem], more: int = 0) -> None:
        self.problems = list(problems)
        self.more = more
        lines = [str(problem) for problem in self.problems]
        if more:
            lines.append(f"... and {more} more problem(s)")
        super().__init__("\n".join(lines))

    @classmethod
    def at(cls: type[ErrorT], file: str | Path, line: int, message: str) -> ErrorT:
        """The error for a single problem."""
        return cls([FileProblem(str(file), line, message)])


class ProblemLog:
    """Collects the problems of a file (or of several) up to ``limit``, counting the rest; raises
    them all at once as ``error``."""

    def __init__(self, error: type[FileProblemsError] = FileProblemsError, limit: int | None = MAX_PROBLEMS) -> None:
        self.error = error
        self.limit = limit
        self.problems: list[FileProblem] = []
        self.more = 0

    def add(self, file: str, line: int, message: str) -> None:
        if self.limit is None or len(self.problems) < self.limit:
            self.problems.append(FileProblem(file, line, message))
        else:
            self.more += 1

    @property
    def count(self) -> int:
        """How many problems were found, kept or not."""
        return len(self.problems) + self.more

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, *, by_line: bool = False) -> None:
        """Raise the log's error with every problem kept (sorted by line when ``by_line``)."""
        if self.problems:
            problems = sorted(self.problems, key=lambda p: p.line) if by_line else self.problems
            raise self.error(problems, self.more)


class UnreadableFileError(BarazaError):
    """A definition file (survey, notice) could not be read as text; the message says why."""


def read_definition_file(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of a definition file no larger than ``max_bytes``.

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
