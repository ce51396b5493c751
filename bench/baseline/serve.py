"""The transport shared by the baseline bots: a plain python-telegram-bot ``Application`` (64
connections, like the Baraza adapter) receiving updates by long polling or by webhook. The
webhook endpoint does what PTB's own ``run_webhook`` does (it needs tornado, not installed here):
put the update on the application's queue and answer 200 at once.

``--request aiohttp`` puts the bot on Baraza's aiohttp transport (``bot/channels/telegram/transport.py``)
instead of PTB's default httpx one, to tell the transport's share from the rest.

The echo bot handles 256 updates at once, like Baraza. The ConversationHandler bot handles one
at a time, PTB's default and what ``ConversationHandler`` requires: with concurrent updates the
next input of a user can arrive before the handler has returned its new state, and is dropped.

    python -m bench.baseline.echo_bot --base-url URL --mode polling|webhook [--port N]
                                      [--request httpx|aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, BasePersistence

from bot.channels.telegram.transport import AiohttpRequest

TOKEN = "123456:TEST-TOKEN"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", required=True, help="the Bot API base URL (the fake server's)")
    parser.add_argument("--mode", choices=["polling", "webhook"], default="polling")
    parser.add_argument("--port", type=int, default=0, help="webhook port on 127.0.0.1")
    parser.add_argument("--pickle", default=None, help="PicklePersistence file (conversation bot)")
    parser.add_argument(
        "--request",
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="HTTP transport: PTB's default httpx (as people write it) or Baraza's aiohttp one",
    )
    return parser.parse_args()


def build(
    base_url: str,
    persistence: BasePersistence | None = None,  # type: ignore[type-arg]
    *,
    webhook: bool = False,
    concurrent: int = 1,
    request: str = "httpx",
) -> Application:  # type: ignore[type-arg]
    builder = ApplicationBuilder().token(TOKEN).base_url(base_url).concurrent_updates(concurrent)
    # 64 connections like Baraza; a send waits for a free one (Baraza's limiter retries instead)
    # rather than failing after PTB's default 1 s pool timeout.
    if request == "aiohttp":
        builder = builder.request(AiohttpRequest(connection_pool_size=64, pool_timeout=60))
        builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
    else:
        builder = builder.connection_pool_size(64).pool_timeout(60)
    if persistence is not None:
        builder = builder.persistence(persistence)
    if webhook:
        builder = builder.updater(None)
    return builder.build()


async def serve(
    options: argparse.Namespace,
    setup: Callable[[Application], None],  # type: ignore[type-arg]
    persistence: BasePersistence | None = None,  # type: ignore[type-arg]
    *,
    concurrent: int = 1,
) -> None:
    """Run the bot until SIGTERM; on SIGTERM stop cleanly (PicklePersistence flushes then)."""
    webhook = options.mode == "webhook"
    application = build(options.base_url, persistence, webhook=webhook, concurrent=concurrent, request=options.request)
    setup(application)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    await application.initialize()
    await application.start()
    runner: web.AppRunner | None = None
    if webhook:

        async def receive(request: web.Request) -> web.Response:
            update = Update.de_json(await request.json(loads=json.loads), application.bot)
            if update is not None:
                await application.update_queue.put(update)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/webhook", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", options.port).start()
        await application.bot.set_webhook(url=f"http://127.0.0.1:{options.port}/webhook")
    else:
        assert application.updater is not None
        await application.bot.delete_webhook()
        await application.updater.start_polling(poll_interval=0, timeout=1)
    await stopping.wait()
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if runner is not None:
        await runner.cleanup()
    await application.stop()
    await application.shutdown()
