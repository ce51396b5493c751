"""Problems in the office's data and metadata files, each printed as ``FILE:LINE: message``."""

from __future__ import annotations

from dataclasses import dataclass

#: Stop collecting after this many problems: a file with a systematic error would otherwise
#: print one line per row of a million-row file.
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class DataProblem:
    """One problem in a data or metadata file; ``line`` is 1-based (0: the file as a whole)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class CatalogueError(Exception):
    """The indicator data cannot be loaded; ``problems`` lists what was found (at most MAX_PROBLEMS).

    Raised before the load in service is replaced, so the bot keeps answering from it.
    """

    def __init__(self, problems: list[DataProblem], more: int = 0) -> None:
        self.problems = problems
        self.more = more
        lines = [str(problem) for problem in problems]
        if more:
            lines.append(f"... and {more} more problem(s)")
        super().__init__("\n".join(lines))


class ProblemLog:
    """Collects problems up to :data:`MAX_PROBLEMS`, counting the rest."""

    def __init__(self) -> None:
        self.problems: list[DataProblem] = []
        self.more = 0

    def add(self, file: str, line: int, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(DataProblem(file, line, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise CatalogueError(self.problems, self.more)
