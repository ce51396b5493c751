"""The database connection: engine creation, transactions and migrations.

SQLite (the default) and PostgreSQL behave the same to callers. SQLite allows one writer at a
time, so write transactions in this process queue on one lock instead of failing with
"database is locked"; PostgreSQL transactions run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.aiosqlite_compat import InlineConnection, inline_connector
from storage.driver_sql import DriverStatement, write_held_rows_first
from storage.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
#: PostgreSQL advisory lock key serialising migrations of several processes.
MIGRATION_LOCK = 0x0BA2A2A0
#: The array types the survey steps' statements bind on PostgreSQL (storage/repositories.py).
_ARRAY_TYPES = text(
    "SELECT CAST(:texts AS text[]), CAST(:ints AS bigint[]), CAST(:times AS timestamptz[]),"
    " CAST(:smalls AS integer[]), CAST(:flags AS boolean[])"
)
#: How long a SQLite statement waits for another process's lock before it fails.
BUSY_TIMEOUT_MS = 10_000
#: Execution option of connections that only read (exports): no write lock on SQLite.
READ_ONLY = "baraza_read_only"


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps every commit across a process crash (kill -9).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Take the write lock at BEGIN, so two processes never deadlock upgrading a read lock.
        # A reading connection (exports) takes none: in WAL mode it reads a snapshot while the
        # bot goes on writing, however long the export runs.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        # On the event loop's thread when the lock is free (nearly always): a hand-off to the
        # worker thread and SQLAlchemy's execution of a statement cost more than BEGIN itself.
        driver = connection.connection.driver_connection
        if isinstance(driver, InlineConnection) and driver.begin_at_once(BUSY_TIMEOUT_MS):
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 1.0
_LAST_USED = "baraza_last_used"


def _ping_after_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, only for connections that sat idle in the pool.

    The pre-ping of asyncpg costs three round trips (BEGIN, ``;``, ROLLBACK) at every checkout:
    under load, more than a third of an update's own statements. A connection given back a moment
    ago was alive then; one whose server went away since (a restart, a terminated backend) fails
    its first statement, SQLAlchemy then recycles every connection of the pool, and the engine
    runs the update again on a new one (:mod:`bot.core.engine`: a failed shared transaction is
    retried one update at a time), so the person still gets no error.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and tries another (SQLAlchemy's documented way).
            raise exc.DisconnectionError(type(error).__name__) from error

    @event.listens_for(engine.sync_engine, "checkin")
    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()


def _write_held_rows_first(engine: AsyncEngine) -> None:
    """Rows held back on a connection (:class:`storage.driver_sql.HeldRows`) are written before
    any statement SQLAlchemy runs on it, so that statement sees them."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def before_cursor_execute(connection: Connection, *_: Any) -> None:
        write_held_rows_first(connection)


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite file readable by its owner only (0600) before SQLite opens it; its ``-wal``
    and ``-shm`` files take the same mode. An existing file readable by others is warned about
    (and left: the office may have reasons), never silently widened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("the database file %s can be read by other users (mode %o): chmod 600 it", path.name, mode)


def database_url(url: str) -> str:
    """Normalise a configured URL to an async driver (``postgresql://`` → asyncpg)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database: ``async with db.transaction() as connection`` runs one committed transaction."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = database_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        #: The connections the PostgreSQL pool keeps open (as many again may be opened for a while).
        self.pool_size = pool_size
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs = {"pool_size": pool_size, "max_overflow": pool_size}
        elif parsed.database and parsed.database != ":memory:" and not parsed.query:
            # Connections able to run a quick transaction's statements on the loop's thread.
            kwargs = {"async_creator": inline_connector(parsed.database)}
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_after_idle(self.engine)
        _write_held_rows_first(self.engine)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @contextlib.asynccontextmanager
    async def transaction(self, *, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection in one transaction, committed when the block ends without an exception.

        ``quick``: the transaction only runs a few short indexed statements (one chat update).
        On SQLite its statements then run on the event loop's thread instead of aiosqlite's
        worker thread (see :mod:`storage.aiosqlite_compat`); BEGIN and COMMIT stay on the worker
        thread. Nothing else changes: same transaction, same commit, same guarantees.
        """
        lock = self._write_lock or contextlib.nullcontext()
        async with lock:
            try:
                async with self.engine.begin() as connection:
                    driver = await _inline_driver(connection) if quick and self.is_sqlite else None
                    if driver is None:
                        yield connection
                    else:
                        driver.inline = True
                        try:
                            yield connection
                        finally:
                            driver.inline = False  # COMMIT or ROLLBACK: back on the worker thread
            except OSError as error:
                raise StorageError(f"the database is not reachable: {error}") from error

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading only (exports); it takes neither the SQLite write lock nor
        this process's write queue, so writers go on while it reads."""
        async with self.engine.connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            yield connection

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision.

        Several workers starting together on PostgreSQL migrate one after the other (an advisory
        lock held until the migration commits); the later ones find nothing left to do.
        """
        async with self.engine.begin() as connection:
            if not self.is_sqlite:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(_upgrade)

    async def warm_up(self) -> None:
        """Make the first updates after a start as quick as the next ones (``baraza run``, before
        the channels start): the survey steps' statements compiled for this database, and on
        PostgreSQL the pool's connections opened (as many as it keeps), each with asyncpg knowing the
        array types those statements bind (asyncpg looks the types up in the catalogue on every new
        connection: tens of milliseconds each, and a burst of updates uses five connections or
        more at once: the engine's two transactions, the chat holds, the senders). Nothing is
        written."""
        DriverStatement.compile_all(self.engine.dialect)
        if self.is_sqlite:
            return
        opened = await asyncio.gather(*(self.engine.connect() for _ in range(self.pool_size)))
        try:
            for connection in opened:
                await connection.execute(
                    _ARRAY_TYPES, {name: [] for name in ("texts", "ints", "times", "smalls", "flags")}
                )
        finally:
            for connection in opened:
                await connection.close()

    async def dispose(self) -> None:
        await self.engine.dispose()


async def migrate_url(url: str) -> None:
    """Bring the database at ``url`` to the newest schema and let go of it (for tools that fill it
    by other means afterwards, such as bulk inserts over sqlite3)."""
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


async def _inline_driver(connection: AsyncConnection) -> InlineConnection | None:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    return driver if isinstance(driver, InlineConnection) else None


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
