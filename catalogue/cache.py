"""The search index of the catalogue in service, built once per load and per process.

Every lookup asks the database which load is active (one cheap query, inside the update's own
transaction); only when that changed is the catalogue read again and the index rebuilt. So a new
``baraza indicators load`` is seen by every bot process at its next lookup, with no restart.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from catalogue.matching import CatalogueIndex
from catalogue.model import CatalogueSnapshot


class CatalogueReader(Protocol):
    """What the cache needs from storage (``storage.indicators.IndicatorRepository``)."""

    async def active_load_id(self) -> int | None: ...

    async def snapshot(self) -> CatalogueSnapshot | None: ...


class CatalogueCache:
    """Holds the :class:`CatalogueIndex` of the latest load this process has seen."""

    def __init__(self) -> None:
        self._index: CatalogueIndex | None = None
        self._lock = asyncio.Lock()

    async def current(self, reader: CatalogueReader) -> CatalogueIndex | None:
        """The index of the active load (None when nothing was ever loaded)."""
        load_id = await reader.active_load_id()
        if load_id is None:
            return None
        index = self._index
        if index is not None and index.load_id == load_id:
            return index
        async with self._lock:
            # Another update may have rebuilt it while this one waited.
            if self._index is not None and self._index.load_id == load_id:
                return self._index
            snapshot = await reader.snapshot()
            if snapshot is None:
                return None
            # Building is CPU work (tens of ms for 10,000 series): keep the event loop serving.
            built = await asyncio.to_thread(CatalogueIndex, snapshot)
            if self._index is None or built.load_id >= self._index.load_id:
                self._index = built
            return built
