"""Exports for analysts: survey responses and the other tables, in CSV, Excel, JSON Lines,
SPSS and Stata, streamed from the database.

``response_table`` / ``storage.exports.tables`` build a :class:`Table`; :func:`write_table`
writes it in a format. See the README section "Export" for the layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TextIO

from storage.exports.excel import ExcelTooLarge, write_xlsx, write_xlsx_tables
from storage.exports.responses import ExportOptions, repeat_tables, response_table
from storage.exports.table import Column, Kind, Table
from storage.exports.text_formats import write_csv, write_jsonl

Format = Literal["csv", "xlsx", "jsonl", "sav", "dta"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "jsonl", "sav", "dta")
TEXT_FORMATS = frozenset({"csv", "jsonl"})

__all__ = [
    "FORMATS",
    "TEXT_FORMATS",
    "Column",
    "ExcelTooLarge",
    "ExportOptions",
    "Format",
    "Kind",
    "Table",
    "repeat_tables",
    "response_table",
    "write_table",
    "write_text_table",
    "write_xlsx_tables",
]


async def write_text_table(table: Table, fmt: Format, out: TextIO, *, labels: bool = False, raw: bool = False) -> int:
    """Write ``table`` as CSV or JSON Lines to an open text stream; returns the rows written.
    ``raw``: CSV cells exactly as typed, formulas included (see :mod:`common.csv_cells`)."""
    if fmt == "csv":
        return await write_csv(table, out, labels=labels, raw=raw)
    if fmt == "jsonl":
        return await write_jsonl(table, out, labels=labels)
    raise ValueError(f"{fmt} is not a text format")


async def write_table(table: Table, fmt: Format, path: Path, *, labels: bool = False, raw: bool = False) -> int:
    """Write ``table`` in ``fmt`` to the file ``path``; returns the number of rows written."""
    if fmt in TEXT_FORMATS:
        with path.open("w", encoding="utf-8", newline="") as out:
            return await write_text_table(table, fmt, out, labels=labels, raw=raw)
    if fmt == "xlsx":
        return await write_xlsx(table, path, labels=labels)
    # pandas and pyreadstat are imported only when needed: they double a CSV export's memory.
    from storage.exports.stats import write_stats

    return await write_stats(table, path, "sav" if fmt == "sav" else "dta")
