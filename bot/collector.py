"""The garbage collector tuned for a long-running bot.

At start the bot imports and builds a large, long-lived heap (PTB, SQLAlchemy, aiohttp, the
surveys, the catalogue, charts). CPython's full collections walk every tracked object of that
heap again and again under load, though none of it becomes garbage: in ``bench.load --survey
numeric`` on SQLite, py-spy put about a third of the bot's main thread at allocation sites (the
collections they trigger). :func:`settle` moves everything alive once the bot is up to the
permanent generation (``gc.freeze``), so collections walk only what was made since, and makes
the young generation larger, so short-lived objects of an update (its decoded JSON,
rows, replies) are collected in fewer, larger passes. Objects are still freed by reference
counting at once; only reference cycles wait for a collection.
"""

from __future__ import annotations

import gc

#: Allocations (minus frees) between collections of the youngest generation (CPython's default: 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, then leave everything alive now out of later collections."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
