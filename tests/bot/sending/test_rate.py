"""The in-process send rate (:mod:`bot.sending.rate`): the configured rate holds in every second,
also across a restart (a new process's limiter right after the old one spent its rate)."""

from __future__ import annotations

import time

from bot.sending.rate import LocalRateLimiter, broadcast_rate_limiter
from testkit.rates import most_in_any_window

RATE = 100.0


async def _sends(limiter: LocalRateLimiter, count: int, granted: list[float]) -> None:
    for index in range(count):
        await limiter.acquire(str(index))  # a chat each: only the bot-wide bucket paces them
        granted.append(time.monotonic())


async def test_a_restarted_process_keeps_the_reply_rate_in_every_second() -> None:
    granted: list[float] = []
    await _sends(LocalRateLimiter(RATE, 1000.0, 1000), 60, granted)
    # kill -9 and restart: the next process's limiter starts where the dead one stopped.
    await _sends(LocalRateLimiter(RATE, 1000.0, 1000), 60, granted)
    assert most_in_any_window(granted, 1.0) <= RATE


async def test_a_restarted_process_keeps_the_broadcast_rate_in_every_second() -> None:
    granted: list[float] = []
    paid = 1000.0  # a burst of 20: a full one at the restart would add 20 to that second
    await _sends(broadcast_rate_limiter(paid, 1000.0), 600, granted)
    await _sends(broadcast_rate_limiter(paid, 1000.0), 600, granted)
    assert most_in_any_window(granted, 1.0) <= paid
