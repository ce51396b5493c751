"""The error of a survey file that cannot be used."""

from __future__ import annotations

from common.problems import FileProblemsError


class SurveyFileError(FileProblemsError):
    """A survey file could not be loaded; ``problems`` lists every problem found."""
