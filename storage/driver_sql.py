"""The statements of every survey step, run on the database driver itself.

Even with its compiled form cached, one statement executed through SQLAlchemy's asyncio layer
costs about 60 µs of CPU on SQLite and 110 µs more than asyncpg alone on PostgreSQL (a greenlet
per call, an execution context, a result object): more than the statement itself, five times
per survey answer. The few statements of a survey step are therefore still written with
SQLAlchemy Core (one definition for both backends, with the dialect's ON CONFLICT), compiled
once per dialect, and run directly on the connection's driver (aiosqlite or asyncpg) with
SQLAlchemy's own conversions of the values (SQLite keeps datetimes as text).

They run inside the transaction SQLAlchemy opened on the same connection, so commit, rollback
and savepoints are unchanged. When the driver holds no open transaction (asyncpg begins
SQLAlchemy's transaction only with its first statement), the statement goes through SQLAlchemy
instead, which begins it; on an AUTOCOMMIT connection there is nothing to begin, and the
statement runs on the driver too. Driver errors become :class:`storage.errors.StorageError`, which
callers treat like SQLAlchemy's errors (nothing was committed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import asyncpg
from sqlalchemy import DateTime, Table, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from storage.aiosqlite_compat import InlineConnection
from storage.errors import StorageError

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order the driver takes them
    defaults: Mapping[str, Any]  # values fixed in the statement (``completed=1``)
    to_database: tuple[Convert, ...]
    from_database: tuple[Convert, ...]


def _datetime_text(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite ``DATETIME`` writes it by default (its time zone left out:
    the 26 characters before an offset, as a year always has four digits)."""
    return value.isoformat(" ", "microseconds")[:26]


_DATETIME_SAMPLES = (datetime(2026, 12, 7, 9, 5, 3, 120), datetime(2026, 1, 2, 3, 4, 5), datetime(7, 1, 1, tzinfo=UTC))


def _faster(convert: Convert) -> Convert:
    """``convert``, or a quicker function giving the same text when ``convert`` is SQLite's datetime
    conversion: SQLAlchemy formats each field with ``%``, three times the cost of ``isoformat``
    (six datetimes a survey step). The two are compared on sample values, not assumed alike, so a
    SQLAlchemy that stores datetimes otherwise keeps its own conversion."""
    if convert is None:
        return None
    try:
        alike = all(convert(sample) == _datetime_text(sample) for sample in _DATETIME_SAMPLES)
    except Exception:  # a conversion for values of another type (JSON, an enum) refuses a datetime
        alike = False
    if not alike:
        return convert
    return lambda value: _datetime_text(value) if type(value) is datetime else convert(value)


@functools.cache
def _datetime_as_text(dialect: Dialect) -> Callable[[Any], Any]:
    """How SQLAlchemy writes a datetime for ``dialect``'s ``DATETIME`` (SQLite: as text)."""
    convert = _faster(DateTime().dialect_impl(dialect).bind_processor(dialect))
    assert convert is not None, "SQLite writes a datetime as text"
    return convert


class JsonRows(TypeDecorator[Sequence[Sequence[Any]]]):
    """SQLite: a parameter holding rows of values, sent as one JSON array of arrays, which a
    statement reads with ``json_each`` (SQLite's counterpart of PostgreSQL's ``unnest`` of arrays):
    one statement text whatever the number of rows. Datetimes in it are written as SQLAlchemy
    writes a SQLite ``DATETIME``, so they compare with the stored ones; the others must be JSON
    values (text, numbers, None)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[Sequence[Any]] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        as_text = _datetime_as_text(dialect)
        return json.dumps(
            [[as_text(item) if isinstance(item, datetime) else item for item in row] for row in value],
            ensure_ascii=False,
        )


class Upsert(Protocol):
    """The ``insert`` of a dialect that spells ON CONFLICT (sqlite's and postgresql's)."""

    def __call__(self, table: Table) -> Any: ...


class DriverStatement:
    """A Core statement with named bound parameters (``bindparam``), compiled once per dialect,
    run on the driver connection by :meth:`rows`.

    ``postgresql_statement``: the statement to run on PostgreSQL when it is not ``statement``.
    """

    #: Every statement made (they are module constants), for :meth:`compile_all`.
    _made: ClassVar[list[DriverStatement]] = []

    def __init__(self, statement: Any, postgresql_statement: Any | None = None) -> None:
        self._statements = {
            "sqlite": statement,
            "postgresql": statement if postgresql_statement is None else postgresql_statement,
        }
        self._compiled: dict[str, _Compiled] = {}
        DriverStatement._made.append(self)

    @classmethod
    def compile_all(cls, dialect: Dialect) -> int:
        """Compile every statement made so far for ``dialect`` that is not yet; how many were.

        At start (``Database.warm_up``): compiling one costs a few milliseconds, which the first
        updates after a start would otherwise wait for, each statement once."""
        waiting = [statement for statement in cls._made if dialect.name not in statement._compiled]
        for statement in waiting:
            statement._compiled_for(dialect)
        return len(waiting)

    @classmethod
    def upsert(cls, build: Callable[[Upsert], Any]) -> DriverStatement:
        """An INSERT ... ON CONFLICT: ``build`` gets each dialect's ``insert``."""
        return cls(build(sqlite.insert), build(postgresql.insert))

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self._statements[dialect.name]
        compiled: Any = statement.compile(dialect=dialect)
        assert compiled.positional, "both drivers take positional parameters"
        names = tuple(compiled.positiontup)
        # Values written in the statement itself (``completed=1``), bound like the others.
        defaults = {name: compiled.binds[name].effective_value for name in names if not compiled.binds[name].required}
        to_database = tuple(
            _faster(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
        )
        from_database = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in statement.exported_columns
        )
        return _Compiled(compiled.string, names, defaults, to_database, from_database)

    async def rows(
        self, connection: AsyncConnection, parameters: Mapping[str, Any], *, keys: Collection[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The statement's rows (RETURNING or SELECT; none for other statements). Rows held back on
        the connection for another statement (:class:`HeldRows`) are written first; with ``keys``
        (every key, in :meth:`HeldRows.hold`'s terms, of what this statement reads or changes),
        only when a row is held under one of them: the others can neither be seen nor changed by
        this statement, so writing them later stores the same."""
        dialect = connection.dialect
        sync: Any = connection.sync_connection
        driver: Any = sync.connection.driver_connection
        # The dialect names the driver: cheaper than isinstance on asyncpg's proxied class.
        on_asyncpg = dialect.name == "postgresql"
        if (
            (held := sync.info.get(_HELD)) is not None
            and held.statement is not self
            and (keys is None or held.holds_any(keys))
        ):
            await held.write(driver, dialect)
        if not _in_transaction(driver, on_asyncpg) and (
            sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        ):
            result = await connection.execute(self._statements[dialect.name], parameters)
            return [tuple(row) for row in result] if result.returns_rows else []
        return await self.fetch(driver, dialect, parameters)

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    @staticmethod
    def _values(compiled: _Compiled, parameters: Mapping[str, Any]) -> list[Any]:
        """The driver's positional values for ``parameters``, converted as SQLAlchemy would."""
        return [
            value if convert is None else convert(value)
            for value, convert in zip(
                (parameters[name] if name in parameters else compiled.defaults[name] for name in compiled.names),
                compiled.to_database,
                strict=True,
            )
        ]

    async def fetch(self, driver: Any, dialect: Dialect, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """:meth:`rows` on the driver connection itself, which must be in a transaction (or
        autocommit): SQLAlchemy is not asked to begin one."""
        compiled = self._compiled_for(dialect)
        values = self._values(compiled, parameters)
        try:
            if dialect.name == "postgresql":
                fetched: Sequence[Sequence[Any]] = await driver.fetch(compiled.sql, *values)
            else:
                inline = driver.rows_inline(compiled.sql, values) if isinstance(driver, InlineConnection) else None
                fetched = await driver.execute_fetchall(compiled.sql, values) if inline is None else inline
        except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StorageError(f"the database refused a statement: {type(error).__name__}") from error
        if not any(compiled.from_database):
            return [tuple(row) for row in fetched]
        return [
            tuple(
                value if convert is None else convert(value)
                for value, convert in zip(row, compiled.from_database, strict=True)
            )
            for row in fetched
        ]

    async def execute_many(self, driver: Any, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each of ``rows`` (parameters) on the driver connection, in
        one call (the drivers' ``executemany``), which must be in a transaction; rows it returns
        are dropped."""
        compiled = self._compiled_for(dialect)
        values = [self._values(compiled, row) for row in rows]
        try:
            if isinstance(driver, InlineConnection) and driver.execute_many_inline(compiled.sql, values):
                return
            await driver.executemany(compiled.sql, values)
        except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StorageError(f"the database refused a statement: {type(error).__name__}") from error


class EachRow:
    """Statements each run once per row of its own (:meth:`DriverStatement.execute_many`), in
    order: how SQLite, which has no INSERT inside WITH, writes rows held for several statements.
    Its parameters are one sequence of rows per statement."""

    def __init__(self, *statements: DriverStatement) -> None:
        self.statements = statements

    async def rows(
        self,
        connection: AsyncConnection,
        parameters: Sequence[Sequence[Mapping[str, Any]]],
        *,
        keys: Collection[Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Each statement once per row through :meth:`DriverStatement.rows` (which begins the
        transaction if need be); no rows returned."""
        for statement, rows in zip(self.statements, parameters, strict=True):
            for row in rows:
                await statement.rows(connection, row)
        return []

    async def fetch(
        self, driver: Any, dialect: Dialect, parameters: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[tuple[Any, ...]]:
        """Each statement over its rows on the driver connection; no rows returned."""
        for statement, rows in zip(self.statements, parameters, strict=True):
            if rows:
                await statement.execute_many(driver, dialect, rows)
        return []


class HeldStatement(Protocol):
    """What :class:`HeldRows` writes its rows with: a :class:`DriverStatement` taking them as
    arrays (PostgreSQL), or :class:`EachRow` (SQLite)."""

    async def rows(self, connection: AsyncConnection, parameters: Any, *, keys: Collection[Any] | None = None) -> Any:
        """Through SQLAlchemy when the transaction has not begun on the driver."""

    async def fetch(self, driver: Any, dialect: Dialect, parameters: Any) -> Any:
        """On the driver connection, in its transaction."""


#: The key of a connection's :class:`HeldRows` in its ``info`` (SQLAlchemy's dict for what a
#: program keeps with a connection).
_HELD = "baraza_held_rows"


class HeldRows:
    """Rows held back on a connection in a transaction and written together (PostgreSQL: one
    statement of many rows, one round trip; SQLite: one ``executemany`` per statement): just
    before the connection's next statement of any other kind (through :meth:`DriverStatement.rows`,
    or SQLAlchemy's, see :func:`write_held_rows_first`), or when the block of :func:`holding_rows`
    ends, before the commit.

    As nothing else runs on the connection between holding a row and writing it, no statement
    reads what the row would have changed: the transaction ends as if each row had been written
    at once, in the same order. The one exception is a statement that names the keys of
    everything it reads or changes (``DriverStatement.rows(..., keys=...)``) when no row is held
    under them: it runs before the held rows, whose tables' rows it does not touch, so the order
    changes nothing. ``statement`` takes the rows as ``arrays(rows)`` (PostgreSQL: one array per
    column; :class:`EachRow`: the rows of each of its statements).
    """

    def __init__(self, statement: HeldStatement, arrays: Callable[[list[Mapping[str, Any]]], Any]):
        self.statement = statement
        self._arrays = arrays
        self._rows: list[Mapping[str, Any]] = []
        self._keys: set[Any] = set()

    @property
    def waiting(self) -> bool:
        """Whether rows are held, not yet written."""
        return bool(self._rows)

    def holds_any(self, keys: Collection[Any]) -> bool:
        """Whether a row is held under one of ``keys``."""
        return not self._keys.isdisjoint(keys)

    async def hold(self, connection: AsyncConnection, keys: Sequence[Any], row: Mapping[str, Any]) -> None:
        """Hold ``row``; the rows held before are written first if one has any of its ``keys`` (the
        statement may change a row of the database only once). Written at once, as the
        transaction's first statement, when the driver has not begun the transaction yet (asyncpg
        begins it with the first statement SQLAlchemy runs)."""
        driver = _driver_of(connection)
        if not _in_transaction(driver, connection.dialect.name == "postgresql"):
            await self.statement.rows(connection, self._arrays([row]))
            return
        if self.holds_any(keys):
            await self.write(driver, connection.dialect)
        self._rows.append(row)
        self._keys.update(keys)

    async def write(self, driver: Any, dialect: Dialect) -> None:
        """Write the rows held (nothing when none is): one statement on ``driver``."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []  # dropped even if the statement fails: so is the transaction
        self._keys.clear()
        await self.statement.fetch(driver, dialect, self._arrays(rows))


def _in_transaction(driver: Any, on_asyncpg: bool) -> bool:
    """Whether the driver connection (asyncpg's, or aiosqlite's) is in a transaction."""
    return bool(driver.is_in_transaction() if on_asyncpg else driver.in_transaction)


def _driver_of(connection: AsyncConnection) -> Any:
    """The driver's own connection (asyncpg's or aiosqlite's) under ``connection``."""
    sync: Any = connection.sync_connection
    return sync.connection.driver_connection


def held_rows(connection: AsyncConnection) -> HeldRows | None:
    """The rows held on ``connection`` (None outside :func:`holding_rows`)."""
    held: HeldRows | None = connection.sync_connection.info.get(_HELD)  # type: ignore[union-attr]
    return held


@contextlib.asynccontextmanager
async def holding_rows(connection: AsyncConnection, held: HeldRows) -> AsyncIterator[HeldRows]:
    """Hold rows on ``connection`` (in a transaction) for the block; what is held when
    the block ends is written then, before the transaction commits (dropped if it raised)."""
    info = connection.sync_connection.info  # type: ignore[union-attr]
    info[_HELD] = held
    try:
        yield held
        await held.write(_driver_of(connection), connection.dialect)
    finally:
        # The dict stays with the pooled driver connection: nothing held may outlive the block.
        info.pop(_HELD, None)


def write_held_rows_first(connection: Connection) -> None:
    """Write the rows held on ``connection`` before SQLAlchemy runs a statement on it: called
    from its ``before_cursor_execute`` event (in SQLAlchemy's greenlet, where ``run_async``
    may await the driver)."""
    held: HeldRows | None = connection.info.get(_HELD)
    if held is not None and held.waiting:
        dbapi: Any = connection.connection.dbapi_connection
        dbapi.run_async(lambda driver: held.write(driver, connection.dialect))
