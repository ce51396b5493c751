"""The error of indicator data that cannot be loaded."""

from __future__ import annotations

from common.problems import FileProblemsError, ProblemLog


class CatalogueError(FileProblemsError):
    """The indicator data cannot be loaded; ``problems`` lists what was found (at most
    :data:`common.problems.MAX_PROBLEMS`, ``more`` counts the rest).

    Raised before the load in service is replaced, so the bot keeps answering from it.
    """


def catalogue_problems() -> ProblemLog:
    """A problem log that raises :class:`CatalogueError`."""
    return ProblemLog(CatalogueError)
