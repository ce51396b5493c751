"""SPSS (.sav) and Stata (.dta) through pyreadstat, with variable labels, value labels and
missing values.

pyreadstat writes from a whole DataFrame (it has no append), so the rows are gathered first,
column by column, in compact arrays: 1-byte codes with a 1-byte missing mask for choices and
0/1 columns, doubles for numbers and times (converted to the format's own date numbers here,
so pyreadstat does not copy the frame to convert them), and Python strings only for text,
with repeated values shared. Everything else streams.

Coding: a ``select_one`` is numeric with value labels: its choice names when they are all whole
numbers, else 1, 2, 3... in the order of the choices (the codebook lists them). A value that is
not one of the current choices (an older version of the survey) gets the next free code,
labelled with the value itself. ``select_multiple`` 0/1 columns and ``complete`` are 0/1;
``range`` questions carry value labels for their points. An empty value is system-missing
(SPSS) or ``.`` (Stata); 0/1 columns are missing, not 0, when the question was not answered.

Names: variable names become letters, digits and ``_`` (``topics/prices`` → ``topics_prices``),
at most 64 characters (SPSS) or 32 (Stata), unique; labels longer than the format allows
(Stata: 80 characters) are truncated. Every such change is added to ``Table.notes``.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyreadstat

from storage.exports.table import Column, Kind, Row, Table

StatsFormat = Literal["sav", "dta"]

NAME_LIMIT = {"sav": 64, "dta": 32}
LABEL_LIMIT = {"sav": 256, "dta": 80}
VALUE_LABEL_LIMIT = {"sav": 120, "dta": 32000}

SPSS_EPOCH = datetime(1582, 10, 14, tzinfo=UTC)
STATA_EPOCH = datetime(1960, 1, 1, tzinfo=UTC)
UNIX_TO_SPSS_SECONDS = (datetime(1970, 1, 1, tzinfo=UTC) - SPSS_EPOCH).total_seconds()
UNIX_TO_STATA_SECONDS = (datetime(1970, 1, 1, tzinfo=UTC) - STATA_EPOCH).total_seconds()
BOOLEAN_LABELS = {0: "false", 1: "true"}
BATCH_ROWS = 2000


def variable_names(columns: tuple[Column, ...], fmt: StatsFormat, notes: list[str]) -> list[str]:
    """Column names made valid for the format, unique; renames are reported in ``notes``
    (the ``question/choice`` → ``question_choice`` of 0/1 columns once for all)."""
    limit = NAME_LIMIT[fmt]
    taken: set[str] = set()
    names: list[str] = []
    slashed = 0
    for column in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", column.name)
        if not name or not name[0].isalpha():
            name = "v" + name
        name = name[:limit]
        base, number = name, 1
        while name.lower() in taken:
            number += 1
            suffix = f"_{number}"
            name = base[: limit - len(suffix)] + suffix
        taken.add(name.lower())
        if column.choice is not None and name == column.name.replace("/", "_"):
            slashed += 1
        elif name != column.name:
            notes.append(f"{fmt}: column {column.name} is named {name}")
        names.append(name)
    if slashed:
        notes.append(f"{fmt}: the {slashed} choice columns question/choice are named question_choice")
    return names


def _truncate(text: str, limit: int, what: str, fmt: StatsFormat, notes: list[str]) -> str:
    if len(text) <= limit:
        return text
    notes.append(f"{fmt}: the {what} was truncated to {limit} characters")
    return text[: limit - 1] + "…"


def choice_codes(column: Column) -> dict[str, int]:
    """The numeric code of each choice name of a ``select_one`` column."""
    names = [name for name, _ in column.value_labels]
    if names and all(re.fullmatch(r"-?\d{1,9}", name) for name in names):
        return {name: int(name) for name in names}
    return {name: number for number, name in enumerate(names, start=1)}


@dataclass
class _Collector:
    """One column's values, gathered compactly."""

    column: Column
    convert: Callable[[str], float]
    values: array[Any] = field(default_factory=lambda: array("d"))
    mask: bytearray | None = None
    strings: list[str | None] | None = None
    shared: dict[str, str] | None = None

    def extend(self, texts: Sequence[str | None]) -> None:
        """Add one batch of the column's values (a batch at a time: per-value calls cost more
        than the conversion itself)."""
        if self.strings is not None:
            shared = self.shared
            if shared is not None and len(shared) < 10_000:
                self.strings.extend([None if t is None else shared.setdefault(t, t) for t in texts])
            else:
                self.strings.extend(texts)
        elif self.mask is not None:
            convert = self.convert
            for text in texts:
                code = _code(convert, text)
                self.values.append(0 if code is None else code)
                self.mask.append(code is None)
        else:
            convert, nan = self.convert, math.nan
            self.values.extend([nan if t is None else convert(t) for t in texts])

    def series(self) -> Any:
        if self.strings is not None:
            return pd.Series(self.strings, dtype=object)
        if self.mask is not None:
            codes = np.frombuffer(self.values, dtype=np.dtype(self.values.typecode))
            mask = np.frombuffer(self.mask, dtype=np.bool_)
            return pd.arrays.IntegerArray(codes, mask)
        return np.frombuffer(self.values, dtype=np.float64)


def _code(convert: Callable[[str], float], text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(convert(text))
    except ValueError:  # not a whole number (a value from an older version): missing
        return None


class _Coder:
    """Codes of a ``select_one``: the known choices, then any other value met, in order."""

    def __init__(self, column: Column) -> None:
        self.codes = choice_codes(column)
        self.labels = dict(column.value_labels)
        self.extra: list[str] = []

    def __call__(self, text: str) -> float:
        code = self.codes.get(text)
        if code is None:
            code = max(self.codes.values(), default=0) + 1
            self.codes[text] = code
            self.extra.append(text)
        return code


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan  # text stored under another type by an older survey version


def _date_number(fmt: StatsFormat) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return math.nan
        seconds = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        if fmt == "sav":
            return seconds + UNIX_TO_SPSS_SECONDS
        return (seconds + UNIX_TO_STATA_SECONDS) / 86400  # Stata %td: days since 1960

    return convert


def _datetime_number(fmt: StatsFormat) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return math.nan
        seconds = moment.timestamp()
        if fmt == "sav":
            return seconds + UNIX_TO_SPSS_SECONDS
        return (seconds + UNIX_TO_STATA_SECONDS) * 1000  # Stata %tc: milliseconds since 1960

    return convert


def _collector(column: Column, fmt: StatsFormat) -> tuple[_Collector, _Coder | None]:
    """The most compact holder for the column: 1 or 2-byte codes with a mask where values are
    small whole numbers, doubles for other numbers and times, shared strings for text."""
    kind = column.kind
    if kind is Kind.CHOICE:
        coder = _Coder(column)
        wide = any(abs(code) > 30_000 for code in coder.codes.values())
        return _Collector(column, coder, array("i" if wide else "h"), bytearray()), coder
    if kind in (Kind.DUMMY, Kind.BOOLEAN):
        return _Collector(column, lambda text: 1.0 if text in ("1", "true") else 0.0, array("b"), bytearray()), None
    if kind is Kind.INTEGER and column.value_labels and all(
        re.fullmatch(r"-?\d{1,4}", value) for value, _ in column.value_labels
    ):
        return _Collector(column, _small_integer, array("h"), bytearray()), None  # a range of whole numbers
    if kind in (Kind.INTEGER, Kind.DECIMAL):
        return _Collector(column, _number), None
    if kind is Kind.DATE:
        return _Collector(column, _date_number(fmt)), None
    if kind is Kind.DATETIME:
        return _Collector(column, _datetime_number(fmt)), None
    return _Collector(column, _number, strings=[], shared={}), None


def _small_integer(text: str) -> float:
    value = float(text)
    if not value.is_integer() or abs(value) > 30_000:
        raise ValueError(f"{text} is not a point of the range")
    return value


def _collect(collected: Sequence[tuple[_Collector, _Coder | None]], batch: list[Row]) -> None:
    if not batch:
        return
    for (collector, _), texts in zip(collected, zip(*batch, strict=True), strict=True):
        collector.extend(texts)


async def write_stats(table: Table, path: Path, fmt: StatsFormat) -> int:
    """Write ``table`` as an SPSS ``.sav`` or Stata ``.dta`` file at ``path``."""
    collected = [_collector(column, fmt) for column in table.columns]
    count = 0
    batch: list[Row] = []
    async for row in table.rows():
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            _collect(collected, batch)
            count += len(batch)
            batch = []
    _collect(collected, batch)
    count += len(batch)
    notes = table.notes
    names = variable_names(table.columns, fmt, notes)
    # copy=False: the frame uses the collected arrays as they are instead of copying them into blocks.
    frame = pd.DataFrame(
        {name: collector.series() for name, (collector, _) in zip(names, collected, strict=True)}, copy=False
    )
    for collector, _ in collected:  # the frame holds the data now
        collector.strings = None
    labels: list[str | None] = [
        _truncate(column.label, LABEL_LIMIT[fmt], f"label of {name}", fmt, notes)
        for name, column in zip(names, table.columns, strict=True)
    ]
    value_labels: dict[str, dict[int | float, str]] = {}
    formats: dict[str, str] = {}
    measures: dict[str, str] = {}
    for name, column, (_, coder) in zip(names, table.columns, collected, strict=True):
        limit = VALUE_LABEL_LIMIT[fmt]
        if coder is not None:
            known = {code: coder.labels.get(text, text) for text, code in coder.codes.items()}
            value_labels[name] = {
                code: _truncate(text, limit, f"value label {code} of {name}", fmt, notes)
                for code, text in known.items()
            }
            if coder.extra:
                notes.append(
                    f"{fmt}: {name} has values outside its choices, coded after them: {', '.join(coder.extra)}"
                )
        elif column.kind is Kind.BOOLEAN:
            value_labels[name] = {code: text for code, text in BOOLEAN_LABELS.items()}
        elif column.value_labels and column.kind in (Kind.INTEGER, Kind.DECIMAL):
            points = {float(value): text for value, text in column.value_labels}
            if fmt == "dta" and any(not point.is_integer() for point in points):
                notes.append(f"dta: {name} keeps no value labels (Stata labels whole numbers only)")
            else:
                value_labels[name] = {int(p) if p.is_integer() else p: text for p, text in points.items()}
        if column.kind is Kind.DATE:
            formats[name] = "DATE11" if fmt == "sav" else "%td"
        elif column.kind is Kind.DATETIME:
            formats[name] = "DATETIME20" if fmt == "sav" else "%tc"
        measures[name] = (
            "ordinal"
            if column.measure == "ordinal"
            else ("scale" if column.kind in (Kind.INTEGER, Kind.DECIMAL, Kind.DATE, Kind.DATETIME) else "nominal")
        )
    if fmt == "sav":
        pyreadstat.write_sav(
            frame,
            str(path),
            column_labels=labels,
            variable_value_labels=value_labels,
            variable_format=formats,
            variable_measure=measures,
            compress=True,
        )
    else:
        pyreadstat.write_dta(
            frame, str(path), column_labels=labels, variable_value_labels=value_labels, variable_format=formats
        )
    return count
