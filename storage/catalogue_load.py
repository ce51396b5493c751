"""Load the indicator catalogue read from the office's files into the store, as the new load in
service (:class:`catalogue.loading.CatalogueRead` reads and checks; this writes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from catalogue.errors import CatalogueError
from catalogue.loading import CatalogueRead, DataFile
from catalogue.metadata import KNOWN_TOPICS
from storage.database import Database
from storage.indicators import IndicatorLoader, LoadSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    summary: LoadSummary
    files: tuple[DataFile, ...]
    #: indicators of the metadata that got no series (they are served with "no data")
    without_data: tuple[str, ...] = ()


async def load_catalogue(
    database: Database,
    metadata_path: Path,
    files: Sequence[DataFile],
    *,
    now: datetime,
    label: str | None = None,
    topics: Sequence[str] = KNOWN_TOPICS,
) -> LoadResult:
    """Check and load ``files`` with their metadata as the new catalogue in service.

    Series are written as they are read. Raises :class:`CatalogueError` (every problem as
    ``FILE:LINE: message``) and leaves the load in service untouched when anything is wrong.
    """
    read = CatalogueRead(metadata_path, files, label=label, topics=topics)
    try:
        summary = await IndicatorLoader(database).replace(read.indicators, read.series(), source=read.source, now=now)
    except CatalogueError:
        raise
    except ValueError as error:
        raise CatalogueError.at(metadata_path, 0, str(error)) from error
    without = read.without_data()
    if without:
        log.warning("indicators with no data in the sources: %s", ", ".join(without))
    return LoadResult(summary, read.files, without)
