"""Token buckets in PostgreSQL: one sending rate shared by every worker process (without Redis).

Each bucket is a row of ``send_rate_buckets``. Taking a token locks the row, refills it by the
time elapsed on the *database's* clock (so the workers' clocks never matter), and either takes a
token or says how long to wait. One short transaction per attempt (one statement for a lone
bucket that has a token). The bot-wide rate normally comes from worker leases
(:mod:`storage.rate_leases`); these rows hold the per-chat buckets while several workers are live.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.models import SendRateBucketRow

buckets = cast(Table, SendRateBucketRow.__table__)
_CLOCK = text("SELECT extract(epoch FROM clock_timestamp())::float8")
# Takes the token if the refilled level holds one (the row is locked by the upsert itself); no
# row comes back when it does not. The clock is read before any wait for the row: refilling to
# it credits less time, never more, and updated_at never moves back.
_TAKE_ONE = text(
    """
    INSERT INTO send_rate_buckets AS b (key, tokens, updated_at)
    VALUES (:key, CAST(:capacity AS float8) - 1, extract(epoch FROM clock_timestamp())::float8)
    ON CONFLICT (key) DO UPDATE
    SET tokens = least(CAST(:capacity AS float8), b.tokens + greatest(0, excluded.updated_at - b.updated_at) * :rate) - 1,
        updated_at = greatest(b.updated_at, excluded.updated_at)
    WHERE least(CAST(:capacity AS float8), b.tokens + greatest(0, excluded.updated_at - b.updated_at) * :rate) >= 1
    RETURNING b.key
    """
)
_PAUSE = text(
    """
    INSERT INTO send_rate_pauses AS p (key, until)
    VALUES (:key, extract(epoch FROM clock_timestamp())::float8 + :seconds)
    ON CONFLICT (key) DO UPDATE SET until = greatest(p.until, excluded.until)
    """
)
_PAUSED_FOR = text(
    "SELECT until - extract(epoch FROM clock_timestamp())::float8 FROM send_rate_pauses WHERE key = :key"
)


async def pause(connection: AsyncConnection, key: str, seconds: float) -> None:
    """Nothing of the pause ``key`` (a bot) is sent for ``seconds`` from now; a longer pause stays."""
    await connection.execute(_PAUSE, {"key": key, "seconds": seconds})


async def paused_for(connection: AsyncConnection, key: str) -> float:
    """Seconds left of the pause ``key`` (0 or less: none)."""
    left = (await connection.execute(_PAUSED_FOR, {"key": key})).scalar_one_or_none()
    return 0.0 if left is None else float(left)


#: The wait reported if a token seen in the bucket still cannot be taken (not expected).
_RETRY_SECONDS = 0.001


class PostgresBuckets:
    """Token buckets kept in the database (PostgreSQL only: SQLite has one process anyway)."""

    def __init__(self, database: Database) -> None:
        if database.is_sqlite:
            raise ValueError("shared rate buckets need PostgreSQL; one process on SQLite uses in-process buckets")
        self.database = database

    async def take(self, wanted: Sequence[tuple[str, float, float]], pause: str | None = None) -> float:
        """Take one token from each bucket ``(key, rate a second, capacity)``, or none if one is short.

        Returns 0 when the tokens were taken, else the seconds after which all will be there
        (while the pause ``pause`` lasts, what is left of it). Rows are locked in the order given;
        callers always put the bot-wide bucket last, so two transactions never wait for each
        other in a cycle.
        """
        if pause is not None:
            async with self.database.reading() as connection:
                left = await paused_for(connection, pause)
            if left > 0:
                return left
        if len(wanted) == 1:
            return await self._take_one(*wanted[0])
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

    async def _take_one(self, key: str, rate: float, capacity: float) -> float:
        """One bucket (a chat's, with several workers on leases): one statement when the token is there."""
        async with self.database.transaction() as connection:
            for _attempt in range(2):
                taken = (await connection.execute(_TAKE_ONE, {"key": key, "rate": rate, "capacity": capacity})).first()
                if taken is not None:
                    return 0.0
                # Short of a token (the row is there: a new one would have been taken): how long to wait.
                now = float((await connection.execute(_CLOCK)).scalar_one())
                row = (await connection.execute(select(buckets).where(buckets.c.key == key))).one()
                tokens = min(capacity, float(row.tokens) + max(0.0, now - float(row.updated_at)) * rate)
                if tokens < 1:
                    return (1 - tokens) / rate
                # The token came while the statement waited for the row (its clock is read before
                # the wait). Reporting no wait would say "taken" for a token left in the bucket, and
                # it would be spent twice; the row is this transaction's now, so take it again.
            return _RETRY_SECONDS  # never 0 here: 0 means taken

    async def pause(self, key: str, seconds: float) -> None:
        """See :func:`pause`."""
        async with self.database.transaction() as connection:
            await pause(connection, key, seconds)

    async def forget_idle(self, seconds: float) -> int:
        """Drop buckets untouched for ``seconds`` (long enough to be full again: they hold no history)."""
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            result = await connection.execute(delete(buckets).where(buckets.c.updated_at < now - seconds))
        return int(result.rowcount)

    async def close(self) -> None:
        return None
