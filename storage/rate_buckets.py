"""Token buckets in PostgreSQL: one sending rate shared by every worker process (without Redis).

Each bucket is a row of ``send_rate_buckets``. Taking a token locks the row, refills it by the
time elapsed on the *database's* clock (so the workers' clocks never matter), and either takes a
token or says how long to wait. One short transaction per attempt.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.dialects import postgresql

from storage.database import Database
from storage.models import SendRateBucketRow

buckets = cast(Table, SendRateBucketRow.__table__)
_CLOCK = text("SELECT extract(epoch FROM clock_timestamp())::float8")


class PostgresBuckets:
    """Token buckets kept in the database (PostgreSQL only: SQLite has one process anyway)."""

    def __init__(self, database: Database) -> None:
        if database.is_sqlite:
            raise ValueError("shared rate buckets need PostgreSQL; one process on SQLite uses in-process buckets")
        self.database = database

    async def take(self, key: str, rate: float, capacity: float) -> float:
        """Take one token from bucket ``key`` (refilled at ``rate`` a second up to ``capacity``).

        Returns 0 when a token was taken, else the seconds after which one will be there.
        """
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            await connection.execute(
                postgresql.insert(buckets).values(key=key, tokens=capacity, updated_at=now).on_conflict_do_nothing()
            )
            row = (
                await connection.execute(
                    select(buckets.c.tokens, buckets.c.updated_at).where(buckets.c.key == key).with_for_update()
                )
            ).one()
            # Read the clock again: the lock may have been waited for.
            now = float((await connection.execute(_CLOCK)).scalar_one())
            tokens = min(capacity, float(row.tokens) + max(0.0, now - float(row.updated_at)) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            await connection.execute(update(buckets).where(buckets.c.key == key).values(tokens=tokens, updated_at=now))
        return wait

    async def forget_idle(self, seconds: float) -> int:
        """Drop buckets untouched for ``seconds`` (long enough to be full again: they hold no history)."""
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            result = await connection.execute(delete(buckets).where(buckets.c.updated_at < now - seconds))
        return int(result.rowcount)

    async def close(self) -> None:
        return None
