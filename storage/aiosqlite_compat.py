"""Our one extension of aiosqlite: SQLite calls on the event loop's thread for short transactions.

This is the ONLY module that touches aiosqlite's private names (:data:`PRIVATE_NAMES`: the
``Connection._execute`` hook, and ``_running``, ``_connection``, ``_thread``). They are not a
public API, so the version is pinned in pyproject.toml to the range tested here:
**aiosqlite >=0.22,<0.23** (verified with 0.22.1; 0.21 and older made ``Connection`` a
``Thread`` subclass without ``_thread``). ``tests/storage/test_aiosqlite_compat.py`` fails
loudly if an installed aiosqlite lacks any of them; check this module before widening the pin.

Why: aiosqlite runs every call (execute, fetch, cursor close...) on its worker thread and wakes the
event loop with the result: about 40 thread hand-offs for the 7 statements of a survey answer,
which cost more CPU (GIL hand-over, loop wake-ups) than the statements themselves. A survey step
is a few indexed reads and writes of microseconds each, so running them directly on the loop's
thread is cheaper and blocks the loop for less time than the hand-offs take.

Only the statements INSIDE an open write transaction run inline (see
``Database.transaction(quick=True)``), and ``BEGIN IMMEDIATE`` when it cannot wait: tried with no
busy timeout (:meth:`InlineConnection.begin_at_once`), it runs on the worker thread, waiting up to
``busy_timeout``, only when another process holds the write lock. ``COMMIT`` stays on the worker
thread: it may checkpoint the WAL and wait for the disk. Calls that never touch the
database file (making or closing a cursor, a rollback with no transaction open) run inline always. Once ``BEGIN IMMEDIATE``
returned, this connection holds the write lock, so no statement until the commit can wait on
another process. Durability is unchanged: the same transaction commits the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

#: The private names of :class:`aiosqlite.Connection` this module relies on.
PRIVATE_NAMES = ("_execute", "_running", "_connection", "_thread")


def missing_private_names() -> tuple[str, ...]:
    """The names of :data:`PRIVATE_NAMES` that the installed aiosqlite's connection lacks (none: compatible)."""
    # A connection that is never started: constructing one opens nothing (the thread starts on await).
    probe = aiosqlite.Connection(lambda: sqlite3.connect(":memory:"), 64)
    return tuple(name for name in PRIVATE_NAMES if not hasattr(probe, name))


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread while :attr:`inline` is set.

    Calls never overlap: SQLAlchemy awaits each one before issuing the next, so switching
    between the worker thread and the caller's thread never races on the sqlite3 connection.
    """

    inline: bool = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._running and self._connection is not None and (self.inline or self._instant(fn)):
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _instant(self, fn: Callable[..., Any]) -> bool:
        """Whether ``fn`` cannot wait on anything: making or closing a cursor, or a rollback with
        no transaction open (SQLAlchemy's pool resets each connection given back after its
        commit). SQLAlchemy's BEGIN took three hand-offs to the worker thread and the pool's
        reset one more, for no work."""
        connection = self._connection
        assert connection is not None
        if fn == connection.cursor:
            return True
        if fn == connection.rollback:
            return not connection.in_transaction
        return getattr(fn, "__name__", None) == "close" and isinstance(getattr(fn, "__self__", None), sqlite3.Cursor)

    def begin_at_once(self, busy_timeout_ms: int) -> bool:
        """``BEGIN IMMEDIATE`` on the calling thread, and True, when no other connection holds
        SQLite's write lock; False, with nothing begun, when one does (or the connection is not
        open): the caller then begins on the worker thread, which waits for the lock.

        The attempt is made with no busy timeout, so it never waits (which would block the event
        loop); ``busy_timeout_ms``, the connection's own, is put back after it. A bot alone on its
        database always finds the lock free: its own writers queue for one another before they
        begin (``Database.transaction``)."""
        connection = self._connection
        if not self._running or connection is None or connection.in_transaction:
            return False
        connection.execute("PRAGMA busy_timeout=0")
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked": another process writes
            return False
        finally:
            connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        return True

    def rows_inline(self, sql: str, parameters: Sequence[Any]) -> list[Any] | None:
        """The rows of one statement run at once on the calling thread, when :attr:`inline` is
        set; None otherwise (the caller then awaits ``execute_fetchall``).

        The same call ``execute_fetchall`` makes, without its three coroutine layers: a survey
        step runs five such statements.
        """
        connection = self._connection
        if not (self.inline and self._running and connection is not None):
            return None
        return connection.execute(sql, parameters).fetchall()

    def execute_many_inline(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        """Run one statement once for each of ``rows`` at once on the calling thread (sqlite3's
        ``executemany``) when :attr:`inline` is set, and return True; False otherwise (the
        caller then awaits ``executemany``)."""
        connection = self._connection
        if not (self.inline and self._running and connection is not None):
            return False
        connection.executemany(sql, rows)
        return True


def inline_connector(database: str) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def create() -> InlineConnection:
        # check_same_thread=False: the connection is used by its worker thread and, inside
        # quick transactions, by the event loop's thread (never both at once).
        connection = InlineConnection(lambda: sqlite3.connect(database, check_same_thread=False), 64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        await connection  # starts the worker thread and opens the sqlite3 connection
        return connection

    return create
