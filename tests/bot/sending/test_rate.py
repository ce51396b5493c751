"""The in-process send rate (:mod:`bot.sending.rate`): the configured rate holds in every second,
also across a restart (a new process's limiter right after the old one spent its rate)."""

from __future__ import annotations

import asyncio
import time

from bot.sending.rate import LocalRateLimiter, TokenBucket, broadcast_rate_limiter
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


async def test_a_token_bucket_serves_waiters_in_arrival_order_and_passes_over_a_cancelled_one() -> None:
    bucket = TokenBucket(200, 5, tokens=0.0)
    served: list[int] = []

    async def take(index: int) -> None:
        await bucket.acquire()
        served.append(index)

    tasks = [asyncio.create_task(take(index)) for index in range(8)]
    await asyncio.sleep(0)  # all eight wait: the bucket started empty
    tasks[3].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert served == [0, 1, 2, 4, 5, 6, 7]
