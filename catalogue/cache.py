"""The search index of the catalogue in service, built once per load and per process, never inside
an update's transaction.

The cache reads the catalogue through its own :class:`CatalogueSource` (a reading connection of
its own, ``storage.indicators.StoredCatalogue``), never through the update's transaction: on
SQLite that transaction holds the only write lock, and group commit shares it between many
chats, so a 300 ms catalogue read there made every one of them wait.

* :meth:`CatalogueCache.start` (at bot start) builds the index of the active load, then a watcher
  asks which load is active every ``poll_seconds`` (0.5 s). Every lookup asks too, inside its
  transaction (one cheap indexed query).
* Whoever sees a newer active load than the index starts ONE rebuild in the background; lookups
  go on answering from the previous index meanwhile.
* The previous load's rows are deleted ``RETIRE_GRACE_SECONDS`` (2 s) after the switch
  (:mod:`storage.indicators`), so the previous index is used only while its load was seen active
  less than ``stale_seconds`` (1.5 s) ago. Past that, an update waits for the new index before
  its transaction opens (:meth:`CatalogueCache.ready`); so does the first update when there is
  no index at all. A lookup waits inside its transaction only if it got past :meth:`ready` just
  before that (a race), or when the cache was never started (no watcher: tests, benchmarks).

The promise: a lookup starting after the new index is built answers from the new load, and no
lookup answers from the previous load later than ``stale_seconds`` after the switch. With the
watcher the build starts at most ``poll_seconds`` after the switch and takes the snapshot read
plus the index build (0.4-1.7 s for 10,000 series, README "Performance").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from catalogue.matching import CatalogueIndex
from catalogue.model import CatalogueSnapshot
from common.errors import BarazaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheTimings:
    """How the cache follows the store, in seconds."""

    #: between two checks of the active load by the watcher
    poll: float = 0.5
    #: the previous index serves at most this long after its load was last seen active. It must
    #: stay below ``storage.indicators.RETIRE_GRACE_SECONDS`` (the old rows are deleted after
    #: it), leaving the lookup time to read its observations.
    stale: float = 1.5
    #: after a failed rebuild, before the watcher tries again (lookups that need the new index
    #: do not wait for it)
    retry: float = 5.0


class CatalogueReader(Protocol):
    """What a lookup passes: its transaction's ``storage.indicators.IndicatorRepository``."""

    async def active_load_id(self) -> int | None: ...


class CatalogueSource(Protocol):
    """How the cache reads by itself, outside any update's transaction."""

    async def active_load_id(self) -> int | None: ...

    async def snapshot(self) -> CatalogueSnapshot | None: ...


class CatalogueUnavailable(BarazaError):
    """A catalogue is in service but its index could not be built (the read failed)."""


class CatalogueCache:
    """Holds the :class:`CatalogueIndex` of the latest load this process has seen."""

    def __init__(
        self,
        source: CatalogueSource,
        timings: CacheTimings = CacheTimings(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._timings = timings
        self._clock = clock
        self._index: CatalogueIndex | None = None
        #: when the index's load was last seen active (the clock read before the query)
        self._confirmed_at = -math.inf
        #: the newest active load id seen, when newer than the index's
        self._newer: int | None = None
        self._build: asyncio.Task[None] | None = None
        self._failed_at = -math.inf
        self._watcher: asyncio.Task[None] | None = None

    @property
    def index(self) -> CatalogueIndex | None:
        """The latest index built (possibly of a load already replaced)."""
        return self._index

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Build the index of the active load (the warm-up; a failure is logged and retried by the
        watcher), then watch for new loads until :meth:`stop`."""
        if self._watcher is None:
            # First, so that stop() during the warm-up leaves nothing running.
            self._watcher = asyncio.create_task(self._watch(), name="catalogue-watch")
        await self._check()
        if self._build is not None:
            await asyncio.wait([self._build])

    async def stop(self) -> None:
        """Cancel the watcher and any rebuild in progress, and wait for them to end."""
        for task in (self._watcher, self._build):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watcher = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._timings.poll)
            await self._check()

    async def _check(self) -> None:
        seen_at = self._clock()
        try:
            load_id = await self._source.active_load_id()
        except Exception as error:  # the database is away: the lookups will say so themselves
            log.warning("could not check the active catalogue load: %s", type(error).__name__)
            return
        self._observe(load_id, seen_at, retry_now=False)

    # ----------------------------------------------------------------- lookups

    async def ready(self) -> None:
        """Return at once, unless this process knows of a catalogue whose index it is building and
        may not answer from the previous one (none yet, or its load retired ``stale_seconds``
        ago): then wait for that build. For the engine, before an update's transaction opens.
        Never raises (a failed build was logged; the lookup will say so)."""
        build = self._build
        if build is None or build.done() or self._usable(self._newer) is not None:
            return
        await asyncio.wait([build])

    async def current(self, reader: CatalogueReader) -> CatalogueIndex | None:
        """The index to answer from: None only when nothing was ever loaded.

        That is the active load's, or the previous load's while its replacement is being built
        and it was seen active less than ``stale_seconds`` ago. Otherwise it waits for the
        build and raises :class:`CatalogueUnavailable` if that fails.
        """
        seen_at = self._clock()
        load_id = await reader.active_load_id()
        if load_id is None:
            return None
        self._observe(load_id, seen_at, retry_now=True)
        index = self._usable(load_id)
        if index is not None:
            return index
        # Nothing we may answer from: wait (see the module docstring for when this happens).
        for _attempt in range(2):
            self._start_build()
            assert self._build is not None
            await asyncio.wait([self._build])
            index = self._usable(load_id)
            if index is not None:
                return index
        raise CatalogueUnavailable(f"the index of catalogue load {load_id} could not be built")

    def _usable(self, load_id: int | None) -> CatalogueIndex | None:
        index = self._index
        if index is None:
            return None
        if load_id is None or index.load_id >= load_id:
            return index
        return index if self._clock() - self._confirmed_at < self._timings.stale else None

    # ----------------------------------------------------------------- rebuilding

    def _observe(self, load_id: int | None, seen_at: float, *, retry_now: bool) -> None:
        """Note which load was active at ``seen_at``; start a rebuild if it is newer."""
        if load_id is None:
            return
        index = self._index
        if index is not None and load_id <= index.load_id:
            if load_id == index.load_id:
                self._confirmed_at = max(self._confirmed_at, seen_at)
            return
        if self._newer is None or load_id > self._newer:
            self._newer = load_id
        if retry_now or self._clock() - self._failed_at >= self._timings.retry:
            self._start_build()

    def _start_build(self) -> None:
        if self._build is None or self._build.done():
            self._build = asyncio.create_task(self._rebuild(), name="catalogue-index")

    async def _rebuild(self) -> None:
        started = self._clock()
        try:
            snapshot = await self._source.snapshot()
            if snapshot is None:
                return
            # Building is CPU work (tens of ms to a second for 10,000 series): keep the loop serving.
            built = await asyncio.to_thread(CatalogueIndex, snapshot)
        except Exception as error:
            # The kind only: a driver's message may quote data. Retried at the next lookup or check.
            self._failed_at = self._clock()
            log.error("could not build the catalogue index: %s", type(error).__name__)
            return
        if self._index is None or built.load_id > self._index.load_id:
            self._index = built
            # The snapshot's load was active when its read began.
            self._confirmed_at = started
            if self._newer is not None and self._newer <= built.load_id:
                self._newer = None
        elif built.load_id == self._index.load_id:
            self._confirmed_at = max(self._confirmed_at, started)
