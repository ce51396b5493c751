"""``/healthz`` (is the database reachable, are the channels connected) and ``/metrics``
(Prometheus text format) of ``baraza run``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from storage.broadcasts import BroadcastRepository
from storage.database import Database
from storage.outbox_messages import OutboxRepository

log = logging.getLogger(__name__)

#: A channel's name → whether it is connected now (the web chat is, while the server answers).
ChannelStates = Callable[[], Mapping[str, bool]]


def add_operation_routes(app: web.Application, database: Database, channels: ChannelStates) -> None:
    """Add ``GET /healthz`` and ``GET /metrics`` to ``app``."""

    async def healthz(request: web.Request) -> web.Response:
        """200 and ``{"status": "ok"}`` when the database answers and every channel is
        connected; 503 with ``"status": "unavailable"`` and what is wrong otherwise."""
        database_ok = True
        try:
            async with database.reading() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not healthy": say so, do not crash
            log.warning("health check: the database does not answer: %s", type(error).__name__)
            database_ok = False
        states = dict(channels())
        healthy = database_ok and all(states.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": "ok" if database_ok else "unreachable",
            "channels": {name: "connected" if up else "disconnected" for name, up in states.items()},
        }
        return web.json_response(body, status=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    async def metrics_page(request: web.Request) -> web.Response:
        broadcast_queue = outbox_queue = 0
        try:
            async with database.reading() as connection:
                broadcast_queue = await BroadcastRepository(connection).pending()
                outbox_queue = await OutboxRepository(connection).pending()
        except Exception as error:  # the counters are still worth serving
            log.warning("metrics: could not read the queue lengths: %s", type(error).__name__)
        body = metrics.exposition(broadcast_queue, outbox_queue)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
