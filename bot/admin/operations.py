"""``/healthz`` (is the database reachable, are the channels connected) and ``/metrics``
(Prometheus text format) of ``baraza run``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.health import CONNECTED, ChannelState
from storage.broadcasts import BroadcastRepository
from storage.database import Database
from storage.outbox_messages import OutboxRepository

log = logging.getLogger(__name__)

#: A channel's name → its state now, or simply whether it is connected (the web chat is, while
#: the server answers).
ChannelStates = Callable[[], Mapping[str, "bool | ChannelState"]]


def _state(value: bool | ChannelState) -> tuple[str, str | None]:
    if isinstance(value, ChannelState):
        return value.state, value.reason
    return ("connected", None) if value else ("disconnected", None)


def add_operation_routes(app: web.Application, database: Database, channels: ChannelStates) -> None:
    """Add ``GET /healthz`` and ``GET /metrics`` to ``app``."""

    async def healthz(request: web.Request) -> web.Response:
        """200 and ``{"status": "ok"}`` when the database answers and every channel is connected;
        200 and ``"status": "degraded"`` (with each degraded channel's reason) when the database
        answers but a channel does not reach its platform: this process still serves the web chat
        and the dashboard, and a restart would not bring Telegram back; 503 and ``"unavailable"``
        when the database does not answer."""
        database_ok = True
        try:
            async with database.reading() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not healthy": say so, do not crash
            log.warning("health check: the database does not answer: %s", type(error).__name__)
            database_ok = False
        states = {name: _state(value) for name, value in channels().items()}
        all_connected = all(state == CONNECTED for state, _ in states.values())
        status = "unavailable" if not database_ok else "ok" if all_connected else "degraded"
        body: dict[str, object] = {
            "status": status,
            "database": "ok" if database_ok else "unreachable",
            "channels": {name: state for name, (state, _) in states.items()},
        }
        reasons = {name: reason for name, (_, reason) in states.items() if reason}
        if reasons:
            body["reasons"] = reasons
        return web.json_response(body, status=200 if database_ok else 503, headers={"Cache-Control": "no-store"})

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
