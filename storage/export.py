"""The survey export as the first release made it: CSV of every response, ``select_multiple``
as one space-separated column. The exports package (:mod:`storage.exports`) does the work; this
module keeps the entry point the tests and older callers use.
"""

from __future__ import annotations

from typing import TextIO

from storage.database import Database
from storage.exports.responses import ExportOptions, iso_utc, response_columns, response_table
from storage.exports.text_formats import write_csv
from surveys.model import Survey

__all__ = ["FOUNDATION_OPTIONS", "export_columns", "export_csv", "iso_utc"]

#: Every response (anonymous ones included), ``select_multiple`` joined.
FOUNDATION_OPTIONS = ExportOptions(multiple="joined", include_anonymous=True)


def export_columns(survey: Survey, options: ExportOptions = FOUNDATION_OPTIONS) -> tuple[str, ...]:
    """The column names of a CSV export of ``survey`` (without columns of earlier versions)."""
    return tuple(column.name for column in response_columns(survey, options))


async def export_csv(
    database: Database, survey: Survey, out: TextIO, options: ExportOptions = FOUNDATION_OPTIONS
) -> int:
    """Write the survey's responses as CSV to ``out``; returns the number of rows written."""
    table = await response_table(database, survey, options)
    return await write_csv(table, out, labels=options.labels)
