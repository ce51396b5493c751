"""SDMX-CSV files (1.0: ``DATAFLOW`` column; 2.0: ``STRUCTURE,STRUCTURE_ID,ACTION``) → series.

One row is one observation. Rows are grouped by series (the dimension codes other than
``TIME_PERIOD``) within a file, so a file need not be sorted; memory is proportional to the
largest file, not to the whole catalogue. Bad rows are collected as ``FILE:LINE: message``.

Which columns are dimensions: the ones the metadata lists for the dataflow; when it lists none,
every column that is not ``TIME_PERIOD``, ``OBS_VALUE`` or a known SDMX attribute
(``UNIT_MEASURE``, ``OBS_STATUS``...). The others are attributes: ``OBS_STATUS`` is kept per
observation, ``OBS_*`` columns are observation-level and dropped, the rest are series attributes.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from catalogue.metadata import Metadata, dataflow_id
from catalogue.model import Observation
from catalogue.raw import KNOWN_ATTRIBUTES, MEASURE, STATUS, TIME_DIMENSION, RawSeries, normal_period, number
from common.problems import ProblemLog

V1_STRUCTURE = "DATAFLOW"
V2_STRUCTURE = ("STRUCTURE", "STRUCTURE_ID", "ACTION")
#: SDMX-CSV 2.x optional columns that repeat what the other columns say.
IGNORED = frozenset({"SERIES_KEY", "OBS_KEY"})
ACCEPTED_ACTIONS = frozenset({"", "I", "A", "R"})
_INFINITE = (float("inf"), float("-inf"))


#: Longest header or comment line read (real headers are a few hundred characters).
MAX_HEADER_CHARS = 100_000


@dataclass
class _Pending:
    dataflow: str
    codes: dict[str, str]
    line: int
    attributes: dict[str, str] = field(default_factory=dict)
    periods: dict[str, int] = field(default_factory=dict)
    observations: list[Observation] = field(default_factory=list)


@dataclass(frozen=True)
class _Layout:
    """Which column holds what, for one dataflow in one file."""

    dimensions: tuple[tuple[str, int], ...]
    attributes: tuple[tuple[str, int], ...]
    status: int | None

    def __post_init__(self) -> None:
        indices = [index for _, index in self.dimensions]
        # itemgetter of two or more indices returns a tuple, of one a bare value
        getter = operator.itemgetter(*indices) if len(indices) > 1 else None
        object.__setattr__(self, "_getter", getter)

    def key(self, row: list[str]) -> tuple[str, ...]:
        """The row's dimension codes as written."""
        getter = self.__dict__["_getter"]
        if getter is not None:
            return cast(tuple[str, ...], getter(row))
        return tuple([row[index] for _, index in self.dimensions])


def read_sdmx_csv(path: Path, metadata: Metadata, log: ProblemLog) -> Iterator[RawSeries]:
    """The series of an SDMX-CSV file, in the order they first appear; problems go to ``log``.

    Series are yielded only after the whole file is read (a series' rows may be anywhere), and
    none at all if the file has a problem.
    """
    name = str(path)
    problems_before = log.count
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        log.add(name, 0, f"cannot read the file: {error.strerror}")
        return
    with handle:
        header_line = 1
        try:
            # Bounded reads: a crafted file of one endless line must not be read into memory.
            first = handle.readline(MAX_HEADER_CHARS)
            # Lines starting with '#' before the header are comments (a Baraza extension, used to
            # say in the file itself what it holds, e.g. that demo data are fictional).
            while first.startswith("#") and len(first) < MAX_HEADER_CHARS:
                first = handle.readline(MAX_HEADER_CHARS)
                header_line += 1
        except UnicodeDecodeError:
            log.add(name, header_line, "the file is not UTF-8 text")
            return
        if len(first) >= MAX_HEADER_CHARS and not first.endswith("\n"):
            log.add(name, header_line, f"the line is longer than {MAX_HEADER_CHARS} characters: not an SDMX-CSV header")
            return
        delimiter = ";" if first.count(";") > first.count(",") else ","
        header_row = next(csv.reader([first], delimiter=delimiter), [])
        header, labelled = _header(header_row)
        if not header:
            log.add(name, header_line, "the file is empty: an SDMX-CSV file starts with a header row")
            return
        structure_columns = _structure_columns(name, header_line, header, log)
        if structure_columns is None:
            return
        duplicated = sorted({column for column in header if header.count(column) > 1})
        if duplicated:
            log.add(name, header_line, f"the header has the column(s) {', '.join(duplicated)} twice")
            return
        for required in (TIME_DIMENSION, MEASURE):
            if required not in header:
                log.add(name, header_line, f"the header has no {required} column")
        if TIME_DIMENSION not in header or MEASURE not in header:
            return
        time_index, value_index = header.index(TIME_DIMENSION), header.index(MEASURE)
        flow_index, action_index = structure_columns
        layouts: dict[str, _Layout | None] = {}
        flows: dict[str, str] = {}  # the dataflow column as written → dataflow id
        periods: dict[str, str | None] = {}  # TIME_PERIOD as written → normal form (None: invalid)
        pending: dict[tuple[str, tuple[str, ...]], _Pending] = {}
        # Rows usually repeat the same codes exactly: look series up by the codes as written and
        # strip and check them only for a new spelling. This loop runs once per observation.
        as_written: dict[tuple[str, tuple[str, ...]], _Pending] = {}
        width = len(header)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    line = reader.line_num + header_line
                    log.add(name, line, f"the row has {len(row)} values; the header has {width} columns")
                    continue
                if labelled:
                    row = [_code(value) if labelled[i] else value for i, value in enumerate(row)]
                if action_index is not None and row[action_index].strip().upper() not in ACCEPTED_ACTIONS:
                    log.add(
                        name,
                        reader.line_num + header_line,
                        f"ACTION {row[action_index]!r}: only I, A and R (add or replace) can be loaded; "
                        "a file loaded as a whole cannot delete (D) observations",
                    )
                    continue
                reference = row[flow_index]
                flow = flows.get(reference)
                if flow is None:
                    flow = flows[reference] = dataflow_id(reference)
                    if flow not in layouts:
                        layouts[flow] = _layout(
                            name,
                            reader.line_num + header_line,
                            header_line,
                            flow,
                            reference.strip(),
                            header,
                            metadata,
                            log,
                        )
                layout = layouts[flow]
                if layout is None:
                    continue
                written = (flow, layout.key(row))
                series = as_written.get(written)
                if series is None:
                    line = reader.line_num + header_line
                    codes = {dimension: row[index].strip() for dimension, index in layout.dimensions}
                    empty = [dimension for dimension, code in codes.items() if not code]
                    if empty:
                        log.add(name, line, f"no code for the dimension(s) {', '.join(empty)}")
                        continue
                    series_key = (flow, tuple(codes.values()))
                    series = pending.get(series_key)
                    if series is None:
                        series = pending[series_key] = _Pending(flow, codes, line)
                    as_written[written] = series
                period_text = row[time_index]
                if period_text in periods:
                    period = periods[period_text]
                else:
                    period = periods[period_text] = normal_period(period_text)
                if period is None:
                    what = "no TIME_PERIOD" if not period_text.strip() else f"TIME_PERIOD {period_text.strip()!r}"
                    log.add(
                        name,
                        reader.line_num + header_line,
                        f"{what}: expected a period such as 2026, 2026-Q3, 2026-09 or 2026-09-30",
                    )
                    continue
                value_text = row[value_index]
                try:
                    value: float | None = float(value_text)
                    ok = value == value and value not in _INFINITE  # NaN and infinities: the slow path
                except ValueError:
                    ok = False
                if not ok:
                    ok, value = number(value_text)
                    if not ok:
                        log.add(
                            name, reader.line_num + header_line, f"OBS_VALUE {value_text.strip()!r} is not a number"
                        )
                        continue
                if period in series.periods:
                    log.add(
                        name,
                        reader.line_num + header_line,
                        f"series {'.'.join(series.codes.values())} has the period {period} twice "
                        f"(first at line {series.periods[period]})",
                    )
                    continue
                series.periods[period] = reader.line_num + header_line
                status = row[layout.status].strip() or None if layout.status is not None else None
                series.observations.append(Observation(period, value, status))
                if len(series.attributes) < len(layout.attributes):
                    for attribute, index in layout.attributes:
                        text = row[index].strip()
                        if text and attribute not in series.attributes:
                            series.attributes[attribute] = text
        except csv.Error as error:
            log.add(name, reader.line_num + header_line, f"the CSV cannot be read: {error}")
        except UnicodeDecodeError:
            log.add(name, reader.line_num + header_line, "the file is not UTF-8 text")
    if log.count > problems_before:
        return
    if not pending:
        log.add(name, header_line, "the file has no observations")
        return
    for series in pending.values():
        yield RawSeries(
            series.dataflow,
            series.codes,
            series.attributes,
            tuple(sorted(series.observations, key=lambda o: o.period)),
            name,
            series.line,
        )


def _header(row: list[str]) -> tuple[list[str], list[bool]]:
    """Column ids, and which columns carry labels (``REF_AREA: Reference area`` → ``REF_AREA``)."""
    ids = [cell.split(":", 1)[0].strip() for cell in row]
    labelled = [":" in cell for cell in row]
    return ids, labelled if any(labelled) else []


def _code(value: str) -> str:
    """``N: Northern`` → ``N`` (SDMX-CSV with labels)."""
    return value.split(":", 1)[0] if ": " in value else value


def _structure_columns(name: str, line: int, header: list[str], log: ProblemLog) -> tuple[int, int | None] | None:
    if header[0] == V1_STRUCTURE:
        return 0, None
    if tuple(header[:3]) == V2_STRUCTURE:
        return 1, 2
    if header[0] == "STRUCTURE":
        return 1, header.index("ACTION") if "ACTION" in header else None
    log.add(
        name,
        line,
        "not an SDMX-CSV file: the first column must be DATAFLOW (SDMX-CSV 1.0) "
        "or STRUCTURE,STRUCTURE_ID,ACTION (SDMX-CSV 2.0)",
    )
    return None


def _layout(
    name: str,
    line: int,
    header_line: int,
    flow: str,
    reference: str,
    header: list[str],
    metadata: Metadata,
    log: ProblemLog,
) -> _Layout | None:
    spec = metadata.dataflows.get(flow)
    if spec is None:
        known = ", ".join(sorted(metadata.dataflows)) or "none"
        log.add(name, line, f"dataflow {reference or '(empty)'} is not in the metadata file (dataflows: {known})")
        return None
    skip = {0, header.index(TIME_DIMENSION), header.index(MEASURE)}
    if header[0] == "STRUCTURE":
        skip |= {i for i, column in enumerate(header) if column in V2_STRUCTURE}
    skip |= {i for i, column in enumerate(header) if column in IGNORED}
    if spec.dimensions:
        missing = [d for d in spec.dimensions if d not in header]
        if missing:
            log.add(
                name, header_line, f"dataflow {flow} has the dimension(s) {', '.join(missing)}, which the header lacks"
            )
            return None
        dimensions = tuple((d, header.index(d)) for d in spec.dimensions)
    else:
        dimensions = tuple(
            (column, i) for i, column in enumerate(header) if i not in skip and column not in KNOWN_ATTRIBUTES
        )
    dimension_indices = {i for _, i in dimensions}
    others = [(column, i) for i, column in enumerate(header) if i not in skip and i not in dimension_indices]
    status = next((i for column, i in others if column == STATUS), None)
    attributes = tuple((column, i) for column, i in others if not column.startswith("OBS_"))
    return _Layout(dimensions, attributes, status)
