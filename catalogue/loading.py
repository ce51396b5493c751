"""Read the indicator catalogue from the configured sources: metadata + SDMX files → series.

Everything is checked on the way: the metadata first (nothing is read further if it has a
problem), then every row of every data file. :class:`CatalogueRead` hands the series out as
they are read (no file is read twice) for :func:`storage.catalogue_load.load_catalogue` to
write; the first problem stops the handing out, the reading goes on to report every problem,
and :class:`CatalogueError` is raised at the end. A source is a path or a glob; its format
comes from its extension (``.csv``: SDMX-CSV; ``.xml``: SDMX-ML; ``.json``: SDMX-JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from catalogue.errors import catalogue_problems
from catalogue.metadata import KNOWN_TOPICS, Metadata, load_metadata_file, with_dimensions
from catalogue.model import Indicator, SeriesData
from catalogue.raw import RawSeries
from catalogue.sdmx_csv import read_sdmx_csv
from catalogue.sdmx_files import read_sdmx_message
from common.problems import ProblemLog

T = TypeVar("T")

FORMATS = {".csv": "sdmx-csv", ".xml": "sdmx-ml", ".json": "sdmx-json"}
#: How a load's fingerprint is written into its ``source`` text, to tell later whether the
#: files changed since (``baraza run`` reloads only then).
FINGERPRINT_MARK = " #"


@dataclass(frozen=True)
class SourceSpec:
    """One configured source: a path or glob, with an optional dataflow for messages that lack it."""

    pattern: str
    dataflow: str | None = None


@dataclass(frozen=True)
class DataFile:
    path: Path
    format: str
    dataflow: str | None = None


@dataclass
class _Tally:
    """What the series of one indicator vary by, to give the indicator its dimensions."""

    codes: dict[str, set[str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


def data_files(sources: Sequence[SourceSpec], base_dir: Path) -> list[DataFile]:
    """The files the sources name, in a stable order; a source that names no file is a problem."""
    log_ = catalogue_problems()
    found: list[DataFile] = []
    seen: set[Path] = set()
    for source in sources:
        pattern = source.pattern if Path(source.pattern).is_absolute() else str(base_dir / source.pattern)
        matches = (
            sorted(Path(p) for p in glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [Path(pattern)]
        )
        matches = [m for m in matches if m.is_file() or not glob.has_magic(pattern)]
        if not matches:
            log_.add(source.pattern, 0, "no file matches this source")
        for path in matches:
            if not path.is_file():
                log_.add(str(path), 0, "the data file does not exist")
                continue
            data_format = FORMATS.get(path.suffix.lower())
            if data_format is None:
                log_.add(
                    str(path),
                    0,
                    f"unknown data format '{path.suffix}': use .csv (SDMX-CSV), .xml (SDMX-ML) or .json (SDMX-JSON)",
                )
                continue
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(DataFile(path, data_format, source.dataflow))
    log_.raise_if_any()
    return found


def fingerprint(metadata_path: Path, files: Sequence[DataFile]) -> str:
    """A digest of the metadata and data files' contents (and names): equal digests, same data."""
    digest = hashlib.sha256()
    for path in [metadata_path, *(f.path for f in files)]:
        # The name, not the full path: fetched files land in a new temporary folder each time.
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def fingerprint_of(source: str) -> str | None:
    """The fingerprint recorded in a load's ``source`` text, if any."""
    _, mark, value = source.rpartition(FINGERPRINT_MARK)
    return value.strip() or None if mark else None


class _Catalogue:
    """Turns raw series into the store's series and collects problems on the way."""

    def __init__(self, metadata: Metadata, log_: ProblemLog) -> None:
        self.metadata = metadata
        self.log = log_
        self.tallies: dict[str, _Tally] = {}
        self.keys: dict[tuple[str, str], str] = {}

    def series(self, raw: RawSeries) -> SeriesData | None:
        spec = self.metadata.match(raw.dataflow, raw.codes)
        where = (raw.file, raw.line)
        if spec is None:
            flow = self.metadata.dataflows[raw.dataflow]
            hint = (
                f" ({flow.indicator_dimension}={raw.codes.get(flow.indicator_dimension, '')})"
                if flow.indicator_dimension
                else ""
            )
            self.log.add(*where, f"series {raw.key} of {raw.dataflow}{hint} matches no indicator in the metadata file")
            return None
        code = spec.indicator.code
        origin = f"{raw.file}:{raw.line}" if raw.line else raw.file
        previous = self.keys.setdefault((code, raw.key), origin)
        if previous != origin:
            self.log.add(*where, f"series {raw.key} of {code} was already read from {previous}")
            return None
        dimensions = {d: c for d, c in raw.codes.items() if d not in spec.select}
        tally = self.tallies.setdefault(code, _Tally())
        for dimension, value in dimensions.items():
            if dimension not in tally.codes:
                tally.codes[dimension] = set()
                tally.order.append(dimension)
            tally.codes[dimension].add(value)
        return SeriesData(code, raw.key, dimensions, raw.observations, dict(raw.attributes))

    def indicators(self) -> list[Indicator]:
        """Every indicator of the metadata, with the dimensions its series vary by."""
        result = []
        for spec in self.metadata.indicators:
            tally = self.tallies.get(spec.indicator.code, _Tally())
            varying = [d for d in tally.order if len(tally.codes[d]) > 1]
            flow = self.metadata.dataflows[spec.dataflow]
            result.append(with_dimensions(spec, self.metadata, varying, list(flow.dimensions) or tally.order))
        return result


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_DONE = object()


async def in_thread(items: Iterator[T], buffer: int = 256) -> AsyncIterator[T]:
    """``items`` produced in a worker thread, so reading the files overlaps with writing to the
    database (SQLite's C code and the PostgreSQL server work while Python parses the next file).

    At most ``buffer`` items wait between the two; an exception in the producer is raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(buffer)
    stop = threading.Event()

    def put(item: object) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Failure(error))

    producer = loop.run_in_executor(None, produce)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        while not producer.done():  # unblock a producer waiting for room in the queue
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.sleep(0.01)
        await producer


def read_series(files: Sequence[DataFile], metadata: Metadata, log_: ProblemLog) -> Iterator[RawSeries]:
    for data_file in files:
        if data_file.format == "sdmx-csv":
            yield from read_sdmx_csv(data_file.path, metadata, log_)
        else:
            yield from read_sdmx_message(data_file.path, metadata, log_, dataflow=data_file.dataflow)


class CatalogueRead:
    """One reading of the metadata and data files, for a new load of the store.

    :meth:`series` yields the checked series (read in a worker thread) and raises
    :class:`CatalogueError` with every problem at its end; :meth:`indicators`, called once the
    series are read, gives every indicator with the dimensions its series vary by.
    """

    def __init__(
        self,
        metadata_path: Path,
        files: Sequence[DataFile],
        *,
        label: str | None = None,
        topics: Sequence[str] = KNOWN_TOPICS,
    ) -> None:
        self.metadata = load_metadata_file(metadata_path, topics=topics)
        self.files = tuple(files)
        #: what the load is recorded as: the label (or the files) and the files' fingerprint
        self.source = (
            (label or f"{metadata_path} + {len(files)} data file(s)")
            + FINGERPRINT_MARK
            + fingerprint(metadata_path, files)
        )
        self._problems = catalogue_problems()
        self._catalogue = _Catalogue(self.metadata, self._problems)

    def indicators(self) -> list[Indicator]:
        return self._catalogue.indicators()

    def series(self) -> AsyncIterator[SeriesData]:
        return in_thread(self._checked_series())

    def _checked_series(self) -> Iterator[SeriesData]:
        for raw in read_series(self.files, self.metadata, self._problems):
            item = self._catalogue.series(raw)
            if item is not None and not self._problems:
                yield item
        self._problems.raise_if_any()

    def without_data(self) -> tuple[str, ...]:
        """The indicators of the metadata that got no series (they are served with "no data")."""
        codes = (spec.indicator.code for spec in self.metadata.indicators)
        return tuple(code for code in codes if code not in self._catalogue.tallies)
