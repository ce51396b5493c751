"""Token buckets in PostgreSQL: one sending rate shared by every worker process (without Redis).

Each bucket is a row of ``send_rate_buckets``. Taking a token locks the row, refills it by the
time elapsed on the *database's* clock (so the workers' clocks never matter), and either takes a
token or says how long to wait. One short transaction per attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    async def take(self, wanted: Sequence[tuple[str, float, float]]) -> float:
        """Take one token from each bucket ``(key, rate a second, capacity)``, or none if one is short.

        Returns 0 when the tokens were taken, else the seconds after which all will be there.
        Rows are locked in the order given; callers always put the bot-wide bucket last, so
        two transactions never wait for each other in a cycle.
        """
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            levels: list[float] = []
            for key, _rate, capacity in wanted:
                await connection.execute(
                    postgresql.insert(buckets).values(key=key, tokens=capacity, updated_at=now).on_conflict_do_nothing()
                )
                await connection.execute(select(buckets.c.key).where(buckets.c.key == key).with_for_update())
            # Read the clock once every row is ours: the locks may have been waited for.
            now = float((await connection.execute(_CLOCK)).scalar_one())
            rows = {
                row.key: row
                for row in await connection.execute(
                    select(buckets).where(buckets.c.key.in_([key for key, _, _ in wanted]))
                )
            }
            wait = 0.0
            for key, rate, capacity in wanted:
                row = rows[key]
                tokens = min(capacity, float(row.tokens) + max(0.0, now - float(row.updated_at)) * rate)
                levels.append(tokens)
                if tokens < 1:
                    wait = max(wait, (1 - tokens) / rate)
            for (key, _rate, _capacity), tokens in zip(wanted, levels, strict=True):
                await connection.execute(
                    update(buckets)
                    .where(buckets.c.key == key)
                    .values(tokens=tokens - 1 if wait == 0 else tokens, updated_at=now)
                )
        return wait

    async def forget_idle(self, seconds: float) -> int:
        """Drop buckets untouched for ``seconds`` (long enough to be full again: they hold no history)."""
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            result = await connection.execute(delete(buckets).where(buckets.c.updated_at < now - seconds))
        return int(result.rowcount)

    async def close(self) -> None:
        return None
