"""Errors a statistician can act on: each names the file and line of the problem."""

from __future__ import annotations

from dataclasses import dataclass


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
