"""Serialising the updates of one chat across processes, and holding it until its replies are sent.

With several workers on PostgreSQL, two updates of the same chat may reach two processes at
once (a user typing fast, or Telegram redelivering an update to another worker). The engine
takes a transaction-level advisory lock on the chat as the first statement of the update's
transaction: the second update waits until the first is committed (or rolled back), then sees
its effects, including its row in ``processed_updates``. The lock is released by the commit
itself, so a worker killed mid-update releases it with its connection.

The transaction's lock ends at the commit, before the replies are sent. :class:`ChatHolds` holds
the chat from before the transaction until the replies have been handed to the platform, so that
another worker's reply to the person's next message cannot overtake a held-back one: a
session-level advisory lock (another key space) on a connection of its own, taken without
waiting (``pg_try_advisory_lock``, polled: a worker waiting for one chat must not stall the
others), requests of many chats sent together in one statement. The lock belongs to the
connection, so a worker killed while sending releases it with its connection.

SQLite runs in one process, where the engine's in-process locks already serialise a chat, its
replies included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import BigInteger, Boolean, Text, bindparam, column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.driver_sql import DriverStatement

log = logging.getLogger(__name__)

# hashtextextended (PostgreSQL 11+) maps the key to a bigint; a collision between two chats only
# makes them wait for each other now and then, it never lets one chat's updates interleave.
_LOCK_CHAT = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 20261125))")
_TRY_LOCK_CHATS = text(
    "SELECT pg_try_advisory_xact_lock(hashtextextended(key, 20261125))"
    " FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS chats(key, position) ORDER BY position"
)


async def serialise_chat(connection: AsyncConnection, channel: str, chat_key: str) -> None:
    """Wait until no other transaction handles this chat; held until this transaction ends.

    Must be the first statement of the update's transaction (no row is locked yet, so two
    workers can never deadlock on it). Does nothing on SQLite.
    """
    if connection.dialect.name != "postgresql":
        return
    await connection.execute(_LOCK_CHAT, {"key": f"{channel}:{chat_key}"})


async def try_serialise_chats(connection: AsyncConnection, chats: Sequence[tuple[str, str]]) -> list[bool]:
    """Take the lock of each ``(channel, chat_key)`` that no other transaction holds, in one
    statement; True for each chat this transaction now has.

    For a transaction that handles several chats (group commit): waiting there for one chat
    while holding others could deadlock two workers, so a busy chat is left for later. All True
    on SQLite.
    """
    if connection.dialect.name != "postgresql":
        return [True] * len(chats)
    keys = [f"{channel}:{chat_key}" for channel, chat_key in chats]
    rows = await connection.execute(_TRY_LOCK_CHATS, {"keys": keys})
    return [bool(taken) for taken in rows.scalars()]


# Another key space than the transaction's lock: a worker holds both for one chat, on two connections.
# Releases and takes asked for meanwhile go in one statement, run on the driver (see
# storage/driver_sql.py): one round trip. Both subqueries run whatever the lists hold (each is a
# column of the one row); their order does not matter, as a chat is never both released and taken
# in one batch (this process lets go of a chat before its next update asks for it).
_HOLD = DriverStatement(
    text(
        "SELECT (SELECT count(pg_advisory_unlock(hashtextextended(key, 20261207)))"
        " FROM unnest(CAST(:releases AS text[])) AS chats(key)) AS released,"
        " ARRAY(SELECT pg_try_advisory_lock(hashtextextended(key, 20261207))"
        " FROM unnest(CAST(:takes AS text[])) WITH ORDINALITY AS chats(key, position) ORDER BY position) AS taken"
    )
    .bindparams(bindparam("releases", type_=ARRAY(Text)), bindparam("takes", type_=ARRAY(Text)))
    .columns(column("released", BigInteger), column("taken", ARRAY(Boolean)))
)
_TAKE, _LET_GO = "take", "let go"


class ChatHolds:
    """Holds chats across worker processes, from before an update's transaction until its replies
    are sent (PostgreSQL; nothing to do on SQLite). See the module's doc.

    A chat another worker holds is asked for again after ``poll`` seconds (doubling to 50 ms);
    after ``patience`` seconds the update goes on without the hold (its transaction is still
    serialised), as it does when the database cannot be reached: a late reply rather than none.
    """

    def __init__(self, database: Database, *, poll: float = 0.002, patience: float = 30.0) -> None:
        self.database = database
        self.poll = poll
        self.patience = patience
        self._connection: AsyncConnection | None = None
        self._queue: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        """Nothing to do: the connection is opened at the first hold."""

    async def stop(self) -> None:
        """Close the connection (releasing whatever it still holds)."""
        if self._runner is not None and not self._runner.done():
            with contextlib.suppress(Exception):  # a database that hangs does not hold up the stop
                await asyncio.wait_for(asyncio.shield(self._runner), 5.0)
        await self._drop()

    @contextlib.asynccontextmanager
    async def hold(self, channel: str, chat_key: str) -> AsyncIterator[None]:
        """Hold ``(channel, chat_key)`` for the block: no other worker holds it meanwhile."""
        if self.database.is_sqlite:
            yield
            return
        key = f"{channel}:{chat_key}"
        held = await self._take(key)
        try:
            yield
        finally:
            if held:
                with contextlib.suppress(Exception):  # a lost connection released it already
                    await self._ask(_LET_GO, key)

    async def _take(self, key: str) -> bool:
        started, wait = time.monotonic(), self.poll
        while True:
            try:
                if await self._ask(_TAKE, key):
                    return True
            except Exception as error:  # the database is away: go on, serialised by the transaction
                if not self._failing:
                    log.warning("cannot hold chats across workers (%s): replies may cross", type(error).__name__)
                    self._failing = True
                return False
            if time.monotonic() - started > self.patience:
                log.warning("a chat was held by another worker for %.0f s: handling its update anyway", self.patience)
                return False
            await asyncio.sleep(wait)
            wait = min(0.05, wait * 2)

    def _ask(self, op: str, key: str) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((op, key, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        """Send what was asked meanwhile, releases and takes in one statement."""
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                connection = await self._connect()
                releases = [key for op, key, _ in batch if op == _LET_GO]
                takes = [(key, future) for op, key, future in batch if op == _TAKE]
                ((_, held),) = await _HOLD.rows(connection, {"releases": releases, "takes": [key for key, _ in takes]})
                taken = [bool(value) for value in held]
            except Exception as error:
                await self._drop()  # whatever it held is released with it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            if self._failing:
                log.warning("chats are held across workers again")
                self._failing = False
            for (_, future), value in zip(takes, taken, strict=True):
                future.set_result(value)
            for op, _, future in batch:
                if op == _LET_GO and not future.done():
                    future.set_result(True)

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self.database.engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def _drop(self) -> None:
        """Close the connection for good: back in the pool it would keep its session's locks."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
