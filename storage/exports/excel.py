"""Excel (.xlsx) through XlsxWriter in constant-memory mode: each row is flushed to the file as
soon as it is written, so memory stays flat however many rows there are.

Numbers are written as numbers, times as Excel dates (UTC), ``complete`` as TRUE/FALSE, the
rest as text. One sheet holds at most 1,048,575 rows under its header: a larger export is
refused before anything is written (:class:`ExcelTooLarge`); split it with ``--since`` /
``--until`` or use CSV. A survey with repeats gives one sheet per table (:func:`write_xlsx_tables`):
the responses, then each repeat's, named after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common.clock import parse_date, parse_datetime
from common.errors import BarazaError
from storage.exports.table import Column, Kind, Table
from storage.exports.text_formats import LABEL_SEPARATOR

EXCEL_MAX_ROWS = 1_048_576  # header included
EXCEL_MAX_CELL = 32_767  # characters in one cell


class ExcelTooLarge(BarazaError):
    """The export has more rows than one Excel sheet can hold."""


def _datetime(text: str) -> datetime | str:
    moment = parse_datetime(text)
    return text if moment is None else moment.replace(tzinfo=None)  # Excel has no time zones: UTC


def _date(text: str) -> date | str:
    day = parse_date(text)
    return text if day is None else day


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _cell_converter(column: Column, labels: bool) -> Callable[[str], Any] | None:
    kind = column.kind
    if kind in (Kind.INTEGER, Kind.DECIMAL, Kind.DUMMY):
        return _number
    if kind is Kind.BOOLEAN:
        return lambda text: text == "true"
    if kind is Kind.DATETIME:
        return _datetime
    if kind is Kind.DATE:
        return _date
    if labels and column.value_labels and kind in (Kind.CHOICE, Kind.CHOICES):
        names = dict(column.value_labels)
        if kind is Kind.CHOICE:
            return lambda text: names.get(text, text)
        return lambda text: LABEL_SEPARATOR.join(names.get(name, name) for name in text.split())
    return None


async def write_xlsx(table: Table, path: Path, *, labels: bool = False) -> int:
    """Write ``table`` to the workbook ``path``: one sheet, a header of column names."""
    return (await write_xlsx_tables((table,), path, labels=labels))[0]


async def write_xlsx_tables(tables: Sequence[Table], path: Path, *, labels: bool = False) -> list[int]:
    """Write each of ``tables`` to a sheet of its own (named after its title) in the workbook
    ``path``; returns the rows written to each."""
    for table in tables:
        if table.total is not None and table.total >= EXCEL_MAX_ROWS:
            raise ExcelTooLarge(
                f"{table.total:,} rows do not fit in one Excel sheet (at most {EXCEL_MAX_ROWS - 1:,} under the "
                "header); export a part at a time with --since/--until, or use --format csv"
            )
    import xlsxwriter  # when a workbook is written: not paid by every process importing storage

    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    try:
        counts: list[int] = []
        taken: set[str] = set()
        for table in tables:
            name = _sheet_name(table.title, taken)
            counts.append(await _write_sheet(workbook, workbook.add_worksheet(name), table, labels))
        return counts
    finally:
        workbook.close()


_SHEET_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")


def _sheet_name(title: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, none of ``[]:*?/\\``), unique in the workbook."""
    name = _SHEET_FORBIDDEN.sub("_", title)[:31] or "data"
    base, number = name, 1
    while name.lower() in taken:
        number += 1
        name = f"{base[: 31 - len(str(number)) - 1]}_{number}"
    taken.add(name.lower())
    return name


async def _write_sheet(workbook: Any, sheet: Any, table: Table, labels: bool) -> int:
    """Write ``table`` to ``sheet``: a header of column names, then the rows."""
    header = workbook.add_format({"bold": True})
    formats = {
        Kind.DATETIME: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        Kind.DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
    }
    sheet.write_row(0, 0, [column.name for column in table.columns], header)
    sheet.freeze_panes(1, 0)
    converters = [(index, _cell_converter(column, labels)) for index, column in enumerate(table.columns)]
    typed = [(index, f) for index, f in converters if f is not None]
    cell_formats = [formats.get(column.kind) for column in table.columns]
    dated = [index for index, fmt in enumerate(cell_formats) if fmt is not None]
    write_row, write_datetime = sheet.write_row, sheet.write_datetime
    count = 0
    async for row in table.rows():
        count += 1
        if count >= EXCEL_MAX_ROWS:
            raise ExcelTooLarge(f"more than {EXCEL_MAX_ROWS - 1:,} rows do not fit in one Excel sheet")
        values: list[Any] = list(row)
        for index, convert in typed:
            text = values[index]
            if text is not None:
                values[index] = convert(text)
        for index in dated:
            value = values[index]
            if isinstance(value, date):
                write_datetime(count, index, value, cell_formats[index])
                values[index] = None
        # write_row skips None: an empty value is an empty cell.
        write_row(count, 0, [_fit(value) for value in values])
    return count


def _fit(value: Any) -> Any:
    if isinstance(value, str) and len(value) > EXCEL_MAX_CELL:
        return value[:EXCEL_MAX_CELL]
    return value
