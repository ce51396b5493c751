"""CSV and JSON Lines writers: one pass over the rows, nothing kept.

CSV holds the values as stored (choice names, numbers as given, ISO 8601 times) or, with
``labels``, choice labels; text that a spreadsheet would run as a formula starts with ``'``
unless ``raw``. JSON Lines holds one object per row with typed values: numbers as
numbers, ``true``/``false``, ``select_multiple`` as a list, dates and times as ISO 8601
strings, and ``null`` for an empty value.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from common.csv_cells import neutralised_row
from storage.exports.table import Column, Kind, Table

LABEL_SEPARATOR = "; "


def _labeller(column: Column) -> Callable[[str | None], str | None] | None:
    """A function giving the label of a choice column's value; None for other columns."""
    if column.kind not in (Kind.CHOICE, Kind.CHOICES) or not column.value_labels:
        return None
    labels = dict(column.value_labels)
    if column.kind is Kind.CHOICE:
        return lambda value: None if value is None else labels.get(value, value)
    return lambda value: (
        None if value is None else LABEL_SEPARATOR.join(labels.get(name, name) for name in value.split())
    )


async def write_csv(table: Table, out: TextIO, *, labels: bool = False, raw: bool = False) -> int:
    """Write ``table`` as CSV (a header of column names, then one line per row).

    Cells a spreadsheet would run as a formula get a ``'`` in front
    (:mod:`common.csv_cells`) unless ``raw``.

    Lines end in CRLF as RFC 4180 says: the csv module quotes a field only if it holds a
    character of the line ending, so with a bare LF an answer holding a carriage return (typed
    on some keyboards) would be written unquoted and break the file for every reader.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.name for column in table.columns])
    converters: list[tuple[int, Callable[[str | None], str | None]]] = []
    if labels:
        for index, column in enumerate(table.columns):
            labeller = _labeller(column)
            if labeller is not None:
                converters.append((index, labeller))
    count = 0
    async for row in table.rows():
        if converters:
            row = list(row)
            for index, convert in converters:
                row[index] = convert(row[index])
        writer.writerow(row if raw else neutralised_row(row))
        count += 1
    return count


def json_converter(column: Column, labels: bool) -> Callable[[str], Any] | None:
    """How a column's text becomes a JSON value; None when it stays a string."""
    kind = column.kind
    if kind in (Kind.INTEGER, Kind.DUMMY):
        return _integer_or_text
    if kind is Kind.DECIMAL:
        return _decimal_or_text
    if kind is Kind.BOOLEAN:
        return lambda text: text == "true"
    if kind is Kind.CHOICES:
        if labels and column.value_labels:
            names = dict(column.value_labels)
            return lambda text: [names.get(name, name) for name in text.split()]
        return str.split
    if kind is Kind.CHOICE and labels and column.value_labels:
        names = dict(column.value_labels)
        return lambda text: names.get(text, text)
    return None


def _integer_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # a value written under another type by an older survey version


def _decimal_or_text(text: str) -> float | int | str:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and text.lstrip("-").isdigit():
        return int(text)  # "12" stays 12, not 12.0
    return value if math.isfinite(value) else text


async def write_jsonl(table: Table, out: TextIO, *, labels: bool = False) -> int:
    """Write ``table`` as JSON Lines: one object per row, keys in column order."""
    names = [column.name for column in table.columns]
    converters = [(index, json_converter(column, labels)) for index, column in enumerate(table.columns)]
    typed = [(index, f) for index, f in converters if f is not None]
    # orjson writes the compact UTF-8 form json.dumps(separators=(",", ":"), ensure_ascii=False)
    # would, several times faster: the export's cost is then mostly reading the rows.
    encode = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    count = 0
    async for row in table.rows():
        values: list[Any] = list(row)
        for index, convert in typed:
            text = values[index]
            if text is not None:
                values[index] = convert(text)
        out.write(encode(dict(zip(names, values, strict=True)), option=newline).decode())
        count += 1
    return count
