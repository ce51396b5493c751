"""Token buckets by key (a client address, a session, an account name), in memory.

The per-client limits of the web chat and of the dashboard's sign-in use them: ``burst``
requests at once, then ``per_second`` on average. They live in one process (each worker limits
what it receives); forgetting a bucket loses nothing, since a full bucket and a missing one
behave the same.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """``burst`` at once, then ``per_second`` on average."""

    burst: int
    per_second: float


@dataclass
class _Bucket:
    tokens: float
    updated: float


class KeyedBuckets:
    """One token bucket per key; above ``max_keys`` the least recently used full ones go."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        burst = float(self.rate.burst)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=burst, updated=now)
            self._forget_full(now)
        else:
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * self.rate.per_second)
            bucket.updated = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate.per_second

    def _forget_full(self, now: float) -> None:
        if len(self._buckets) <= self.max_keys:
            return
        burst = float(self.rate.burst)
        for key in list(self._buckets)[: len(self._buckets) // 10]:
            bucket = self._buckets[key]
            if bucket.tokens + (now - bucket.updated) * self.rate.per_second >= burst:
                del self._buckets[key]
