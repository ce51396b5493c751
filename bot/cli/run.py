"""``baraza run``: the bot itself (web chat, and Telegram or WhatsApp when configured)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.config import Settings


def add_commands(commands: Any) -> None:
    """Register ``baraza run`` on the top-level sub-parsers."""
    commands.add_parser("run", help="run the bot: web chat, and Telegram when a token is set")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status."""
    # Imported here: the whole bot (channels, handlers) is needed only to run it.
    from bot.app import run_forever

    asyncio.run(run_forever(settings))
    return 0
