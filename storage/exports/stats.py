"""SPSS (.sav) and Stata (.dta) through pyreadstat, with variable labels, value labels and
missing values.

pyreadstat writes from a whole DataFrame (it has no append), so the rows are written in blocks
that are joined into one file (:func:`write_stats`). A block's columns are compact arrays:
1- or 2-byte codes with a 1-byte missing mask for choices, ranges and 0/1 columns, doubles for
numbers and times (converted to the format's own date numbers here, so pyreadstat does not
copy the frame to convert them), and Python strings only for text, repeated values shared.

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
import tempfile
from array import array
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyreadstat

from common.clock import start_of_day
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
CHUNK_ROWS = 50_000  # rows per block written by pyreadstat
DTA_STR_MAX = 2045  # longer text is a strL in Stata


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
        if column.part is not None and len(name) > limit:
            # A geopoint's column keeps its _latitude/_longitude... ending: the question's name is shortened.
            stem, suffix = name.rsplit("_", 1)
            name = stem[: limit - len(suffix) - 1] + "_" + suffix
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
    #: Stata has no missing text but the empty string (and pyreadstat fails on a missing strL).
    blank: bool = False

    def extend(self, texts: Sequence[str | None]) -> None:
        """Add one batch of the column's values (a batch at a time: per-value calls cost more
        than the conversion itself)."""
        if self.strings is not None:
            shared = self.shared
            if self.blank:
                texts = ["" if t is None else t for t in texts]
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


def _day_seconds(text: str) -> float:
    return start_of_day(date.fromisoformat(text)).timestamp()


def _moment_seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _stata_days(seconds: float) -> float:
    return seconds / 86400  # Stata %td: days since 1960


def _stata_milliseconds(seconds: float) -> float:
    return seconds * 1000  # Stata %tc: milliseconds since 1960


def _time_number(
    fmt: StatsFormat, seconds_of: Callable[[str], float], stata_unit: Callable[[float], float]
) -> Callable[[str], float]:
    """A converter from stored text to the format's number for a time: seconds since 1582 in SPSS,
    ``stata_unit`` of the seconds since 1960 in Stata; NaN for text that is not a time."""

    def convert(text: str) -> float:
        try:
            seconds = seconds_of(text)
        except ValueError:
            return math.nan
        if fmt == "sav":
            return seconds + UNIX_TO_SPSS_SECONDS
        return stata_unit(seconds + UNIX_TO_STATA_SECONDS)

    return convert


def _collector(column: Column, fmt: StatsFormat, coder: _Coder | None = None) -> tuple[_Collector, _Coder | None]:
    """The most compact holder for the column: 1 or 2-byte codes with a mask where values are
    small whole numbers, doubles for other numbers and times, shared strings for text."""
    kind = column.kind
    if kind is Kind.CHOICE:
        coder = coder or _Coder(column)
        wide = any(abs(code) > 30_000 for code in coder.codes.values())
        return _Collector(column, coder, array("i" if wide else "h"), bytearray()), coder
    if kind in (Kind.DUMMY, Kind.BOOLEAN):
        return _Collector(column, lambda text: 1.0 if text in ("1", "true") else 0.0, array("b"), bytearray()), None
    if (
        kind is Kind.INTEGER
        and column.value_labels
        and all(re.fullmatch(r"-?\d{1,4}", value) for value, _ in column.value_labels)
    ):
        return _Collector(column, _small_integer, array("h"), bytearray()), None  # a range of whole numbers
    if kind in (Kind.INTEGER, Kind.DECIMAL):
        return _Collector(column, _number), None
    if kind is Kind.DATE:
        return _Collector(column, _time_number(fmt, _day_seconds, _stata_days)), None
    if kind is Kind.DATETIME:
        return _Collector(column, _time_number(fmt, _moment_seconds, _stata_milliseconds)), None
    return _Collector(column, _number, strings=[], shared={}, blank=fmt == "dta"), None


def _small_integer(text: str) -> float:
    value = float(text)
    if not value.is_integer() or abs(value) > 30_000:
        raise ValueError(f"{text} is not a point of the range")
    return value


def _collect(collectors: Sequence[_Collector], batch: list[Row]) -> None:
    if not batch:
        return
    for collector, texts in zip(collectors, zip(*batch, strict=True), strict=True):
        collector.extend(texts)


@dataclass
class _Layout:
    """What pyreadstat needs besides the data: names, labels, value labels, formats, measures."""

    names: list[str]
    labels: list[str | None]
    value_labels: dict[str, dict[int | float, str]]
    formats: dict[str, str]
    measures: dict[str, str]


def _layout(table: Table, coders: Sequence[_Coder | None], fmt: StatsFormat) -> _Layout:
    notes = table.notes
    names = variable_names(table.columns, fmt, notes)
    labels: list[str | None] = [
        _truncate(column.label, LABEL_LIMIT[fmt], f"label of {name}", fmt, notes)
        for name, column in zip(names, table.columns, strict=True)
    ]
    layout = _Layout(names, labels, {}, {}, {})
    for name, column, coder in zip(names, table.columns, coders, strict=True):
        limit = VALUE_LABEL_LIMIT[fmt]
        if coder is not None:
            known = {code: coder.labels.get(text, text) for text, code in coder.codes.items()}
            layout.value_labels[name] = {
                code: _truncate(text, limit, f"value label {code} of {name}", fmt, notes)
                for code, text in known.items()
            }
            if coder.extra:
                notes.append(
                    f"{fmt}: {name} has values outside its choices, coded after them: {', '.join(coder.extra)}"
                )
        elif column.kind is Kind.BOOLEAN:
            layout.value_labels[name] = {code: text for code, text in BOOLEAN_LABELS.items()}
        elif column.value_labels and column.kind in (Kind.INTEGER, Kind.DECIMAL):
            points = {float(value): text for value, text in column.value_labels}
            if fmt == "dta" and any(not point.is_integer() for point in points):
                notes.append(f"dta: {name} keeps no value labels (Stata labels whole numbers only)")
            else:
                layout.value_labels[name] = {int(p) if p.is_integer() else p: text for p, text in points.items()}
        if column.kind is Kind.DATE:
            layout.formats[name] = "DATE11" if fmt == "sav" else "%td"
        elif column.kind is Kind.DATETIME:
            layout.formats[name] = "DATETIME20" if fmt == "sav" else "%tc"
        numeric = column.kind in (Kind.INTEGER, Kind.DECIMAL, Kind.DATE, Kind.DATETIME)
        layout.measures[name] = "ordinal" if column.measure == "ordinal" else ("scale" if numeric else "nominal")
    return layout


def _frame(layout: _Layout, collectors: Sequence[_Collector]) -> Any:
    # copy=False: the frame uses the collected arrays as they are instead of copying them into blocks.
    frame = pd.DataFrame(
        {name: collector.series() for name, collector in zip(layout.names, collectors, strict=True)}, copy=False
    )
    for collector in collectors:  # the frame holds the data now
        collector.strings = None
    return frame


def _write_frame(frame: Any, layout: _Layout, path: Path, fmt: StatsFormat, *, compress: bool) -> None:
    labels: dict[str, Any] = {
        "column_labels": layout.labels,
        "variable_value_labels": layout.value_labels,
        "variable_format": layout.formats,
    }
    if fmt == "sav":
        pyreadstat.write_sav(frame, str(path), **labels, variable_measure=layout.measures, compress=compress)
    else:
        pyreadstat.write_dta(frame, str(path), **labels)


async def _batches(table: Table) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    async for row in table.rows():
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


async def write_stats(table: Table, path: Path, fmt: StatsFormat) -> int:
    """Write ``table`` as an SPSS ``.sav`` or Stata ``.dta`` file at ``path``.

    pyreadstat writes only whole DataFrames, and string widths and value labels must be known
    before the first row. So the rows are read twice: a first pass finds the width of every
    text column and the code of every choice value; the second writes blocks of
    :data:`CHUNK_ROWS` rows, each with pyreadstat into a temporary file whose dictionary (header)
    is then identical to the others', and appends their data sections into ``path``. Memory
    holds one block. Stata files with text longer than 2,044 bytes (``strL``, whose data cannot
    be appended this way) are written from one whole DataFrame instead.
    """
    coders: list[_Coder | None] = [_Coder(c) if c.kind is Kind.CHOICE else None for c in table.columns]
    texts = [index for index, column in enumerate(table.columns) if column.kind in (Kind.TEXT, Kind.CHOICES)]
    widths = dict.fromkeys(texts, 1)
    total = 0
    async for batch in _batches(table):
        total += len(batch)
        columns = list(zip(*batch, strict=True))
        for index, coder in enumerate(coders):
            if coder is not None:
                for value in set(columns[index]):
                    if value is not None:
                        coder(value)
        for index in texts:
            longest = max((len(v.encode()) for v in columns[index] if v is not None), default=1)
            widths[index] = max(widths[index], longest)
    layout = _layout(table, coders, fmt)
    if total == 0 or (fmt == "dta" and max(widths.values(), default=1) >= DTA_STR_MAX):
        await _write_whole(table, path, fmt, layout, coders)
        return total
    # The padding row, last in every block, gives each text column its full width in every
    # block; its case is dropped when the blocks are joined.
    padding: Row = [("x" * widths[i]) if i in widths else None for i in range(len(table.columns))]
    joiner = _SavJoiner(path) if fmt == "sav" else _DtaJoiner(path)
    written = 0
    with tempfile.TemporaryDirectory(prefix="baraza-export-") as directory:
        block = Path(directory) / f"block.{fmt}"
        collectors = [_collector(c, fmt, coder)[0] for c, coder in zip(table.columns, coders, strict=True)]
        pending = 0
        async for batch in _batches(table):
            _collect(collectors, batch)
            pending += len(batch)
            if pending >= CHUNK_ROWS:
                _write_block(collectors, padding, layout, block, fmt, joiner, pending)
                written += pending
                pending = 0
                collectors = [_collector(c, fmt, coder)[0] for c, coder in zip(table.columns, coders, strict=True)]
        if pending or written == 0:
            _write_block(collectors, padding, layout, block, fmt, joiner, pending)
            written += pending
    joiner.finish(written)
    return written


def _write_block(
    collectors: Sequence[_Collector],
    padding: Row,
    layout: _Layout,
    block: Path,
    fmt: StatsFormat,
    joiner: _SavJoiner | _DtaJoiner,
    rows: int,
) -> None:
    _collect(collectors, [padding])
    _write_frame(_frame(layout, collectors), layout, block, fmt, compress=False)
    joiner.append(block.read_bytes(), rows)


async def _write_whole(
    table: Table, path: Path, fmt: StatsFormat, layout: _Layout, coders: Sequence[_Coder | None]
) -> None:
    collectors = [_collector(c, fmt, coder)[0] for c, coder in zip(table.columns, coders, strict=True)]
    async for batch in _batches(table):
        _collect(collectors, batch)
    _write_frame(_frame(layout, collectors), layout, path, fmt, compress=fmt == "sav")


class _SavJoiner:
    """Joins uncompressed SPSS files with identical dictionaries: the first file's header and
    dictionary, every file's cases but the last (the padding row), then the case count."""

    def __init__(self, path: Path) -> None:
        self.out = path.open("wb")

    def append(self, data: bytes, rows: int) -> None:
        if data[:4] != b"$FL2" or int.from_bytes(data[64:68], "little") != 2:
            raise ValueError("pyreadstat wrote an SPSS file this joiner does not know")
        if int.from_bytes(data[72:76], "little") != 0:
            raise ValueError("the SPSS blocks must be uncompressed")
        case = int.from_bytes(data[68:72], "little", signed=True) * 8
        start = len(data) - (rows + 1) * case
        # The dictionary ends with record type 999 and a zero filler just before the cases.
        if case <= 0 or start < 176 or data[start - 8 : start] != (999).to_bytes(4, "little") + bytes(4):
            raise ValueError("unexpected SPSS file layout")
        if self.out.tell() == 0:
            self.out.write(data[:start])
        self.out.write(data[start : len(data) - case])

    def finish(self, rows: int) -> None:
        self.out.seek(80)
        self.out.write(rows.to_bytes(4, "little", signed=True))
        self.out.close()


class _DtaJoiner:
    """Joins Stata 118/119 files with identical headers (no ``strL``): the first file up to its
    ``<data>``, every file's rows but the last (the padding row), then the first file's tail
    (``</data>``, empty ``<strls>``, value labels), with the row count and the section offsets
    of the map fixed."""

    def __init__(self, path: Path) -> None:
        self.out = path.open("wb")
        self.tail = b""
        self.head_length = 0
        self.offsets: list[int] = []
        self.n_position = self.map_position = 0

    @staticmethod
    def _map(data: bytes) -> list[int]:
        start = data.index(b"<map>") + 5
        return [int.from_bytes(data[start + 8 * i : start + 8 * i + 8], "little") for i in range(14)]

    def append(self, data: bytes, rows: int) -> None:
        if b"<byteorder>LSF</byteorder>" not in data[:200]:
            raise ValueError("pyreadstat wrote a Stata file this joiner does not know")
        offsets = self._map(data)
        data_start, data_end = offsets[9] + len(b"<data>"), offsets[10] - len(b"</data>")
        if data[offsets[9] : data_start] != b"<data>" or data[data_end : offsets[10]] != b"</data>":
            raise ValueError("unexpected Stata file layout")
        if data[offsets[10] : offsets[11]] != b"<strls></strls>":
            raise ValueError("Stata blocks with strL values cannot be joined")
        row = (data_end - data_start) // (rows + 1)
        if self.out.tell() == 0:
            if b"<release>118</release>" not in data[:200] and b"<release>119</release>" not in data[:200]:
                raise ValueError("the Stata blocks must be release 118 or 119 (8-byte row count)")
            self.out.write(data[:data_start])
            self.head_length = data_start
            self.tail = data[data_end:]
            self.offsets = offsets
            self.n_position = data.index(b"<N>") + 3
            self.map_position = data.index(b"<map>") + 5
        self.out.write(data[data_start : data_end - row])

    def finish(self, rows: int) -> None:
        data_length = self.out.tell() - self.head_length
        self.out.write(self.tail)
        # Sections after the data moved by the difference in data length.
        shift = self.head_length + data_length + len(b"</data>") - self.offsets[10]
        fixed = self.offsets[:10] + [offset + shift for offset in self.offsets[10:]]
        self.out.seek(self.n_position)
        self.out.write(rows.to_bytes(8, "little"))
        self.out.seek(self.map_position)
        self.out.write(b"".join(offset.to_bytes(8, "little") for offset in fixed))
        self.out.close()
