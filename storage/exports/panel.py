"""A panel as one long table: the responses of every wave, one row each, wave after wave.

The columns are those of the waves' response exports (:mod:`storage.exports.responses`), in the
order they first appear from the first wave on: a question asked in several waves is one column
(its type and choices those of the first wave that asks it), a question of one wave only is
empty in the rows of the others. ``respondent`` links a person's rows (the same pseudonym in
every wave), ``panel`` and ``wave`` say where a row comes from. The repeat tables and the
fieldwork columns stay in each wave's own export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from storage.database import Database
from storage.exports.responses import ExportOptions, response_table
from storage.exports.table import Column, Row, Table
from surveys.model import Survey


async def panel_table(database: Database, waves: Sequence[Survey], options: ExportOptions) -> Table:
    """The long table of the ``waves`` of one panel (first wave first), their responses chosen by ``options``."""
    tables = [await response_table(database, survey, options) for survey in waves]
    columns: list[Column] = []
    position: dict[str, int] = {}
    for table in tables:
        for column in table.columns:
            if column.name not in position:
                position[column.name] = len(columns)
                columns.append(column)
    width = len(columns)

    async def rows() -> AsyncIterator[Row]:
        for table in tables:
            places = [position[column.name] for column in table.columns]
            async for row in table.rows():
                long: list[str | None] = [None] * width
                for place, value in zip(places, row, strict=True):
                    long[place] = value
                yield long

    panel = waves[0].panel.id if waves and waves[0].panel is not None else "panel"
    return Table(title=panel, columns=tuple(columns), rows=rows, total=sum(t.total or 0 for t in tables))
