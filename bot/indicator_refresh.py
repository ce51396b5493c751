"""Keeping the indicator catalogue in service: load at start when the sources changed, refresh
from an SDMX REST endpoint on a schedule, and never leave the bot without the data it had.

A load is all the configured file sources plus the dataflows fetched from ``indicators.refresh``
(when set), checked as a whole and switched in at once (:mod:`catalogue.loading`). A load whose
sources have the same fingerprint as the one in service is skipped. A failed load or fetch is
logged with its problems (``FILE:LINE: message``) and the bot keeps answering from the data in
service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import IndicatorSettings, RefreshSettings
from catalogue.errors import CatalogueError
from catalogue.loading import FORMATS, DataFile, data_files, fingerprint, fingerprint_of
from common.clock import utc_now
from common.errors import BarazaError
from common.tasks import cancel_and_wait
from storage.catalogue_load import LoadResult, load_catalogue
from storage.database import Database
from storage.indicators import IndicatorLoader

log = logging.getLogger(__name__)

#: What to ask an SDMX REST endpoint for, best first; whatever comes back is read by its type.
ACCEPT = (
    "application/vnd.sdmx.structurespecificdata+xml;version=2.1, "
    "application/vnd.sdmx.genericdata+xml;version=2.1;q=0.9, "
    "application/vnd.sdmx.data+json;version=1.0.0;q=0.8, "
    "application/vnd.sdmx.data+csv;version=1.0.0;q=0.7, application/xml;q=0.5, */*;q=0.1"
)
FETCH_TIMEOUT_SECONDS = 120
MAX_RESPONSE_BYTES = 500_000_000


class FetchError(BarazaError):
    """A dataflow could not be fetched from the SDMX endpoint; the message says which and why."""


@dataclass(frozen=True)
class LoadOutcome:
    """What one attempt did: ``result`` None means nothing changed (same data, or a failure)."""

    result: LoadResult | None
    skipped: bool = False
    error: str | None = None


async def fetch_dataflows(refresh: RefreshSettings, directory: Path) -> list[DataFile]:
    """Download each configured dataflow (``GET {url}/data/{dataflow}``) into ``directory``."""
    import aiohttp  # when fetching: `baraza` commands that never fetch do not import the HTTP client

    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
    files: list[DataFile] = []
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for flow in refresh.dataflows:
            url = f"{refresh.url}/data/{flow}"
            try:
                async with session.get(url, headers={"Accept": ACCEPT}) as response:
                    if response.status != 200:
                        raise FetchError(f"{url}: the server answered HTTP {response.status}")
                    suffix = _suffix(response.content_type)
                    body = await response.content.read(MAX_RESPONSE_BYTES + 1)
            except (aiohttp.ClientError, TimeoutError) as error:
                raise FetchError(f"{url}: {type(error).__name__}: {error}") from error
            if len(body) > MAX_RESPONSE_BYTES:
                raise FetchError(f"{url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")
            path = directory / f"{flow}{suffix}"
            path.write_bytes(body)
            files.append(DataFile(path, FORMATS[suffix], flow))
    return files


def _suffix(content_type: str) -> str:
    if "json" in content_type:
        return ".json"
    if "csv" in content_type:
        return ".csv"
    return ".xml"


async def load_configured(
    database: Database,
    settings: IndicatorSettings,
    *,
    force: bool = False,
    files: Sequence[DataFile] | None = None,
    now: datetime | None = None,
) -> LoadOutcome:
    """Load the configured sources (or ``files``) unless the load in service has the same fingerprint.

    Raises :class:`CatalogueError` for problems in the data or metadata and :class:`FetchError`
    when the REST endpoint fails; either way the load in service is untouched.
    """
    if settings.metadata is None:
        return LoadOutcome(None, skipped=True)
    with tempfile.TemporaryDirectory(prefix="baraza-sdmx-") as folder:
        if files is None:
            files = data_files(settings.sources, settings.base_dir)
            if settings.refresh is not None:
                files = [*files, *await fetch_dataflows(settings.refresh, Path(folder))]
        if not force:
            active = await IndicatorLoader(database).active()
            if active is not None and fingerprint_of(active.source) == fingerprint(settings.metadata, files):
                return LoadOutcome(None, skipped=True)
        result = await load_catalogue(database, settings.metadata, files, now=now or utc_now())
    return LoadOutcome(result)


async def load_logged(database: Database, settings: IndicatorSettings) -> LoadOutcome:
    """:func:`load_configured`, logging the outcome instead of raising (for ``baraza run``)."""
    try:
        outcome = await load_configured(database, settings)
    except CatalogueError as error:
        for line in str(error).splitlines():
            log.error("indicator data: %s", line)
        log.error("indicator data not loaded: the bot keeps answering from the data in service")
        return LoadOutcome(None, error=str(error))
    except FetchError as error:
        log.error("indicator refresh failed: %s; the bot keeps answering from the data in service", error)
        if settings.sources and await IndicatorLoader(database).active() is None:
            # Nothing in service yet (first start while the endpoint is down): serve the files.
            log.warning("loading the indicator files alone until the SDMX endpoint answers")
            files_only = dataclasses.replace(settings, refresh=None)
            fallback = await load_logged(database, files_only)
            return LoadOutcome(fallback.result, error=str(error))
        return LoadOutcome(None, error=str(error))
    if outcome.result is not None:
        summary = outcome.result.summary
        log.info(
            "indicator load %d in service: %d indicators, %d series, %d observations",
            summary.load_id,
            summary.indicators,
            summary.series,
            summary.observations,
        )
    elif outcome.skipped and settings.metadata is not None:
        log.info("indicator data unchanged since the load in service")
    return outcome


class IndicatorKeeper:
    """The background task of ``baraza run``: the first load, then the refresh schedule."""

    def __init__(self, database: Database, settings: IndicatorSettings) -> None:
        self.database = database
        self.settings = settings
        self.task: asyncio.Task[None] | None = None
        #: set once the first attempt (load or skip or failure) is over; tests wait on it
        self.first_attempt = asyncio.Event()
        self.attempts: list[LoadOutcome] = []

    async def start(self) -> None:
        if self.settings.metadata is None:
            self.first_attempt.set()
            return
        self.task = asyncio.create_task(self._run(), name="indicator-loads")

    async def _run(self) -> None:
        try:
            await self._attempt()
        finally:
            self.first_attempt.set()
        refresh = self.settings.refresh
        if refresh is None:
            return
        while True:
            await asyncio.sleep(refresh.every_minutes * 60)
            await self._attempt()

    async def _attempt(self) -> None:
        try:
            self.attempts.append(await load_logged(self.database, self.settings))
        except Exception as error:  # e.g. the database is down: try again at the next refresh
            log.exception("indicator load failed: %s", type(error).__name__)
            self.attempts.append(LoadOutcome(None, error=f"{type(error).__name__}: {error}"))

    async def stop(self) -> None:
        await cancel_and_wait(self.task)
