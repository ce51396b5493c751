"""Serialising the updates of one chat across processes.

With several workers on PostgreSQL, two updates of the same chat may reach two processes at
once (a user typing fast, or Telegram redelivering an update to another worker). The engine
takes a transaction-level advisory lock on the chat as the first statement of the update's
transaction: the second update waits until the first is committed (or rolled back), then sees
its effects, including its row in ``processed_updates``. The lock is released by the commit
itself, so a worker killed mid-update releases it with its connection.

SQLite runs in one process, where the engine's in-process locks already serialise a chat.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
