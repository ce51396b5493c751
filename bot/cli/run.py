"""``baraza run``: the bot itself (web chat, and Telegram or WhatsApp when configured)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from bot.config import Settings


def add_commands(commands: Any) -> None:
    """Register ``baraza run`` on the top-level sub-parsers."""
    commands.add_parser("run", help="run the bot: web chat, and Telegram when a token is set")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status."""
    # Imported here: the whole bot (channels, handlers) is needed only to run it.
    from bot.app import run_forever

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run_forever(settings))
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (Linux and macOS), else None: asyncio's own.

    The bot's main thread spends about a fifth of its time in the event loop and its socket
    transports under load; uvloop's, written in Cython over libuv, took 7 % off the CPU of each
    answer in ``bench.load --survey numeric`` (docs/performance.md). Everything the bot runs on
    it (aiohttp, asyncpg, aiosqlite's thread hand-offs, python-telegram-bot) supports it.
    """
    try:
        import uvloop
    except ImportError:  # Windows: uvloop is not installed there
        return None
    return uvloop.new_event_loop
