"""Worker leases in PostgreSQL: each worker process spends a published share of a send rate.

A row of ``send_rate_leases`` says "worker W may send ``allowance`` messages a second of the
rate ``scope``; it was alive at ``renewed_at``" (seconds of the *database's* clock). A lease not
renewed for ``expiry`` seconds is dead: its worker stopped sending before then (it keeps its own
deadline on a clock started before the renewal), so its allowance is free again. A worker that
stops cleanly marks its lease ended at once, and a worker known to be gone (an earlier process
of the renewing worker's slot, a dead process on the same host: :mod:`storage.workers`) has its
lease ended by the next renewal of another. Ended leases are kept an hour: their end tells the
others how long ago a chat may last have been sent to by a worker that is gone.

Renewals run one at a time (a transaction-level advisory lock) and each grants at most what the
other live leases leave of the rate, so the allowances of the live leases never add up to more
than the rate. A worker lowers its own sending before it publishes a lower allowance and raises
it only after a higher one is committed, so what the workers actually spend never exceeds what
is published.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.models import SendRateBucketRow, SendRateLeaseRow
from storage.rate_buckets import pause, paused_for

leases = cast(Table, SendRateLeaseRow.__table__)
buckets = cast(Table, SendRateBucketRow.__table__)
_CLOCK = text("SELECT extract(epoch FROM clock_timestamp())::float8")
# One renewal at a time, across every worker (and bot) using this database: see the module doc.
_SERIALISE = text("SELECT pg_advisory_xact_lock(hashtextextended('baraza:send-rate-leases', 20261125))")
#: Ended leases are kept this long (longer than any chat bucket takes to refill).
KEEP_ENDED_SECONDS = 3600.0


def pool(rate: float) -> float:
    """What the workers share of ``rate``: whole messages a second (a fraction below one)."""
    return float(math.floor(rate)) if rate >= 1 else rate


def fair_share(rate: float, workers: int) -> float:
    """One worker's share of ``rate`` among ``workers``: whole messages a second when there are
    enough (whole shares keep the sum of the workers' one-second windows within the rate)."""
    share = pool(rate) / max(1, workers)
    return float(math.floor(share)) if share >= 1 else share


@dataclass(frozen=True)
class Grant:
    """What one renewal found for one scope."""

    #: Messages a second this worker may send: its fair share, or less if others still hold more.
    allowance: float
    #: Live leases of the scope, this one included.
    workers: int
    #: Seconds since another worker's lease last ended (inf if none is remembered; 0 while
    #: another one is live): how long this worker has been the only one sending.
    alone_for: float
    #: Seconds since a worker that kept chat buckets to itself died without handing them over
    #: (inf if none is remembered): its sends are forgotten once every bucket has refilled.
    quiet_for: float


@dataclass(frozen=True)
class _Lease:
    worker: str
    allowance: float
    renewed_at: float
    local_chats: bool


class Renewal:
    """One renewal transaction (see :meth:`PostgresLeases.renewal`)."""

    def __init__(
        self,
        connection: AsyncConnection,
        worker: str,
        now: float,
        expiry: float,
        gone: Callable[[str], bool] = lambda _worker: False,
    ) -> None:
        self.connection = connection
        self.worker = worker
        self.now = now
        self.expiry = expiry
        self.gone = gone

    async def grant(self, scope: str, rate: float) -> Grant:
        """What this worker may send of ``scope``'s ``rate``: min(fair share, what is left)."""
        rows = await self.connection.execute(
            select(leases.c.worker, leases.c.allowance, leases.c.renewed_at, leases.c.local_chats).where(
                leases.c.scope == scope, leases.c.worker != self.worker
            )
        )
        others = [_Lease(row.worker, float(row.allowance), float(row.renewed_at), row.local_chats) for row in rows]
        others = await self._end_gone(scope, others)
        live = [lease for lease in others if lease.renewed_at > self.now - self.expiry]
        ended = [lease.renewed_at + self.expiry for lease in others if lease.renewed_at <= self.now - self.expiry]
        # Only a lease that expired while keeping its chats to itself left sends nobody knows of
        # (a clean stop hands its chats over and ends with local_chats false).
        lost = [lease.renewed_at + self.expiry for lease in others if lease.local_chats and lease not in live]
        allowance = max(0.0, min(fair_share(rate, len(live) + 1), pool(rate) - sum(lease.allowance for lease in live)))
        return Grant(
            allowance,
            len(live) + 1,
            0.0 if live else (self.now - max(ended) if ended else math.inf),
            self.now - max(lost) if lost else math.inf,
        )

    async def _end_gone(self, scope: str, others: list[_Lease]) -> list[_Lease]:
        """``others`` with the live leases of workers known to be gone (an earlier process of this
        worker's slot, a dead process on this host: :mod:`storage.workers`) ended now, here and in
        the table, as a clean stop would have: their allowance is free at once, not at the expiry."""
        gone = [lease for lease in others if lease.renewed_at > self.now - self.expiry and self.gone(lease.worker)]
        if not gone:
            return others
        ended_at = self.now - self.expiry
        await self.connection.execute(
            update(leases)
            .where(leases.c.scope == scope, leases.c.worker.in_([lease.worker for lease in gone]))
            .values(allowance=0.0, renewed_at=ended_at)
        )
        return [_Lease(lease.worker, 0.0, ended_at, lease.local_chats) if lease in gone else lease for lease in others]

    async def publish(self, scope: str, allowance: float, local_chats: bool) -> None:
        """Write this worker's lease of ``scope``, renewed now."""
        upsert = postgresql.insert(leases).values(
            scope=scope, worker=self.worker, allowance=allowance, renewed_at=self.now, local_chats=local_chats
        )
        await self.connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[leases.c.scope, leases.c.worker],
                set_={
                    "allowance": upsert.excluded.allowance,
                    "renewed_at": upsert.excluded.renewed_at,
                    "local_chats": upsert.excluded.local_chats,
                },
            )
        )

    async def hand_over(self, rows: Sequence[tuple[str, float, float]]) -> None:
        """Write chat buckets ``(key, tokens now, refill rate)`` kept in this process into the
        shared store, never raising a level already there."""
        await hand_over(self.connection, self.now, rows)

    async def paused_for(self, key: str) -> float:
        """Seconds left of the pause ``key`` (see :func:`storage.rate_buckets.pause`); 0 or less: none."""
        return await paused_for(self.connection, key)

    async def recent_buckets(self, prefix: str, seconds: float) -> dict[str, tuple[float, float]]:
        """Shared buckets whose key starts with ``prefix``, taken within ``seconds``: key ->
        (tokens, seconds ago). Older ones are full again."""
        rows = await self.connection.execute(
            select(buckets.c.key, buckets.c.tokens, buckets.c.updated_at).where(
                buckets.c.updated_at >= self.now - seconds, buckets.c.key.startswith(prefix, autoescape=True)
            )
        )
        return {row.key: (float(row.tokens), max(0.0, self.now - float(row.updated_at))) for row in rows}


async def hand_over(connection: AsyncConnection, now: float, rows: Sequence[tuple[str, float, float]]) -> None:
    """Upsert chat buckets ``(key, tokens, refill rate)`` as of ``now``, keeping the lower level
    when the store already has one. Sorted keys: row locks are always taken in one order."""
    for key, tokens, rate in sorted(rows):
        upsert = postgresql.insert(buckets).values(key=key, tokens=tokens, updated_at=now)
        stored = buckets.c.tokens + func.greatest(0.0, now - buckets.c.updated_at) * rate
        await connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[buckets.c.key],
                set_={"tokens": func.least(upsert.excluded.tokens, stored), "updated_at": now},
            )
        )


class PostgresLeases:
    """The ``send_rate_leases`` table (PostgreSQL only: SQLite has one process anyway)."""

    def __init__(self, database: Database, expiry: float) -> None:
        if database.is_sqlite:
            raise ValueError("worker leases need PostgreSQL; one process on SQLite uses in-process buckets")
        self.database = database
        self.expiry = expiry

    @contextlib.asynccontextmanager
    async def renewal(self, worker: str, gone: Callable[[str], bool] = lambda _worker: False) -> AsyncIterator[Renewal]:
        """A transaction renewing ``worker``'s leases, after every other renewal has committed or
        before it starts; leases ended long ago are deleted on the way, and the live ones of
        workers known to be ``gone`` are ended."""
        async with self.database.transaction() as connection:
            await connection.execute(_SERIALISE)
            now = float((await connection.execute(_CLOCK)).scalar_one())
            await connection.execute(delete(leases).where(leases.c.renewed_at < now - self.expiry - KEEP_ENDED_SECONDS))
            yield Renewal(connection, worker, now, self.expiry, gone)

    async def release(self, worker: str, chats: Sequence[tuple[str, float, float]] = ()) -> None:
        """End ``worker``'s leases now (its allowances are free at once, not after the expiry),
        handing over the chat buckets it kept to itself."""
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            await hand_over(connection, now, chats)
            await connection.execute(
                update(leases)
                .where(leases.c.worker == worker)
                .values(allowance=0.0, local_chats=False, renewed_at=now - self.expiry)
            )

    async def pause(self, key: str, seconds: float) -> None:
        """Pause ``key`` for ``seconds`` (read by every worker's next renewal)."""
        async with self.database.transaction() as connection:
            await pause(connection, key, seconds)

    async def live_workers(self) -> set[str]:
        """The workers holding a live lease of any scope (every worker sending holds one)."""
        async with self.database.reading() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            rows = await connection.execute(select(leases.c.worker).where(leases.c.renewed_at > now - self.expiry))
            return {row.worker for row in rows}

    async def live(self, scope: str) -> dict[str, float]:
        """The live leases of ``scope``: worker -> published allowance (for tests and operators)."""
        async with self.database.transaction() as connection:
            now = float((await connection.execute(_CLOCK)).scalar_one())
            rows = await connection.execute(
                select(leases.c.worker, leases.c.allowance).where(
                    leases.c.scope == scope, leases.c.renewed_at > now - self.expiry
                )
            )
            return {row.worker: float(row.allowance) for row in rows}
