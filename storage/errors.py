"""Storage errors with messages an office's staff can act on."""

from common.errors import BarazaError


class StorageError(BarazaError):
    """The database could not do what was asked (unreachable, full disk, ...)."""


class UnknownSurveyError(StorageError):
    """An export or lookup named a survey that has no definition."""
