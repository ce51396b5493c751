"""The test databases: PostgreSQL (a new database per test or benchmark run) and Redis db 15,
each reachable or not on 127.0.0.1; which backends a test run exercised; migrated databases copied
from a template migrated once per process (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from storage.database import migrate_url

POSTGRES_ADMIN_URL = os.environ.get("BARAZA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BARAZA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: The backends the tests of this process used, for the summary line of the run.
BACKENDS_USED: set[str] = set()
#: ``make test-fast`` sets BARAZA_TEST_BACKENDS=sqlite: tests needing PostgreSQL or Redis skip.
SQLITE_ONLY = os.environ.get("BARAZA_TEST_BACKENDS") == "sqlite"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_reachable() -> bool:
    """Whether PostgreSQL accepts connections on 127.0.0.1:5432 (never in a SQLite-only run)."""
    return not SQLITE_ONLY and _answers(5432)


def redis_reachable() -> bool:
    """Whether Redis accepts connections on 127.0.0.1:6379 (never in a SQLite-only run)."""
    return not SQLITE_ONLY and _answers(6379)


def postgres_required() -> bool:
    """Whether a test needing PostgreSQL must fail rather than skip (BARAZA_REQUIRE_POSTGRES=1)."""
    return os.environ.get("BARAZA_REQUIRE_POSTGRES") == "1"


def skip_unless_postgres() -> None:
    """Skips the calling test when PostgreSQL does not answer (fails with BARAZA_REQUIRE_POSTGRES=1)."""
    if SQLITE_ONLY:
        pytest.skip("SQLite only (BARAZA_TEST_BACKENDS=sqlite)")
    if not postgres_reachable():
        if postgres_required():
            pytest.fail("PostgreSQL is required (BARAZA_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    BACKENDS_USED.add("postgresql")


def require_redis() -> str:
    """The test Redis URL; skips the test when Redis does not answer (fails with BARAZA_REQUIRE_REDIS=1)."""
    if SQLITE_ONLY:
        pytest.skip("SQLite only (BARAZA_TEST_BACKENDS=sqlite)")
    if not redis_reachable():
        if os.environ.get("BARAZA_REQUIRE_REDIS") == "1":
            pytest.fail("Redis is required (BARAZA_REQUIRE_REDIS=1) but 127.0.0.1:6379 does not answer")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    BACKENDS_USED.add("redis")
    return REDIS_URL


async def require_postgres_database() -> str:
    """A new PostgreSQL database for a test that needs PostgreSQL itself (not one of each backend)."""
    skip_unless_postgres()
    return await create_postgres_database()


async def create_postgres_database() -> str:
    """A new empty PostgreSQL database with a random name (so parallel runs never share one);
    returns its SQLAlchemy URL."""
    return await _create_database("")


async def _create_database(clause: str) -> str:
    name = f"baraza_test_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()
    return _url_of(name)


#: Where PostgreSQL listens on its Unix socket on this machine (Debian's place).
POSTGRES_SOCKET_DIR = os.environ.get("BARAZA_TEST_POSTGRES_SOCKET_DIR", "/var/run/postgresql")


def through_unix_socket(url: str, directory: str = POSTGRES_SOCKET_DIR) -> str:
    """``url`` (a database of this test server, on 127.0.0.1:5432) reached through the server's
    Unix socket in ``directory`` instead: ``postgresql+asyncpg://user@/name?host=directory``."""
    return url.replace("@127.0.0.1:5432/", "@/") + f"?host={directory}"


def _url_of(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


# Migrating takes ~0.25 s on SQLite and ~0.9 s on PostgreSQL, and most tests want a migrated database:
# each process migrates one template per backend, and every test gets a copy of it.
_templates: dict[str, str] = {}


async def copy_migrated_sqlite(path: Path) -> str:
    """A SQLite database at ``path`` holding the newest schema (a copy of this process's migrated
    template, made once); returns its SQLAlchemy URL."""
    template = _templates.get("sqlite")
    if template is None:
        template = str(Path(tempfile.mkdtemp(prefix="baraza-template-")) / "template.db")
        await migrate_url(f"sqlite+aiosqlite:///{template}")
        _templates["sqlite"] = template
    # The backup API copies a consistent database whatever its journal (WAL) holds.
    source, target = sqlite3.connect(template), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return f"sqlite+aiosqlite:///{path}"


async def create_migrated_postgres_database() -> str:
    """A new PostgreSQL database holding the newest schema, copied (``CREATE DATABASE ... TEMPLATE``)
    from this process's migrated template, made once; returns its SQLAlchemy URL."""
    template = _templates.get("postgresql")
    if template is None:
        url = await create_postgres_database()
        await migrate_url(url)  # disposes its connections: a template must have none while copied
        template = _templates["postgresql"] = url.rsplit("/", 1)[1]
    return await _create_database(f' TEMPLATE "{template}"')


# DROP DATABASE waits for a checkpoint (1-2 s each on a busy machine), and drops that run together
# share one (8 in 0.6 s): a test hands its database here, and every few are dropped together in a
# background thread while the tests go on; drop_templates drops the rest and waits for them all.
_DROP_TOGETHER = 8
_to_drop: list[str] = []
_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baraza-drop-databases")
_dropping: list[Future[None]] = []


async def _drop_all(urls: list[str]) -> None:
    await asyncio.gather(*(drop_postgres_database(url) for url in urls))


def drop_postgres_database_later(url: str) -> None:
    """Drops the database of ``url`` soon, with others, in a background thread (its connections
    must be closed: a test's own are, when its fixtures tear down)."""
    _to_drop.append(url)
    if len(_to_drop) >= _DROP_TOGETHER:
        _drop_pending()


def _drop_pending() -> None:
    urls = _to_drop.copy()
    _to_drop.clear()
    if urls:
        _dropping.append(_dropper.submit(asyncio.run, _drop_all(urls)))


def drop_templates() -> None:
    """Waits for the databases still being dropped, then drops this process's PostgreSQL template
    and deletes its SQLite one (at the end of a test run)."""
    _drop_pending()
    while _dropping:
        _dropping.pop().result()
    sqlite_template = _templates.pop("sqlite", None)
    if sqlite_template is not None:
        shutil.rmtree(Path(sqlite_template).parent, ignore_errors=True)
    postgres_template = _templates.pop("postgresql", None)
    if postgres_template is not None:
        asyncio.run(drop_postgres_database(_url_of(postgres_template)))


async def drop_postgres_database(url: str) -> None:
    """Drops the database of ``url``, closing any connection still open to it."""
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def record_worker_handoffs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What every aiosqlite connection hands to its worker thread from now on (until ``monkeypatch``
    is undone), as "function SQL": "execute BEGIN IMMEDIATE", "commit". Quick transactions
    (``storage/aiosqlite_compat.py``) run everything else on the loop's thread."""
    handed: list[str] = []
    handed_off = aiosqlite.Connection._execute

    async def recording(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(" ".join([getattr(fn, "__name__", "?"), *(a for a in args if isinstance(a, str))]))
        return await handed_off(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", recording)
    return handed
