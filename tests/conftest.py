"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when reachable) and surveys."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bot.core.engine import Engine, load_pseudonymizer
from storage.database import Database
from surveys.loader import load_survey_directory
from surveys.model import Survey

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "office" / "surveys"
POSTGRES_ADMIN_URL = os.environ.get("BARAZA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS_USED: set[str] = set()


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


REDIS_URL = os.environ.get("BARAZA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def require_redis() -> str:
    """The test Redis URL; skips the test when Redis does not answer (fails with BARAZA_REQUIRE_REDIS=1)."""
    if not redis_reachable():
        if os.environ.get("BARAZA_REQUIRE_REDIS") == "1":
            pytest.fail("Redis is required (BARAZA_REQUIRE_REDIS=1) but 127.0.0.1:6379 does not answer")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    BACKENDS_USED.add("redis")
    return REDIS_URL


async def require_postgres_database() -> str:
    """A new PostgreSQL database for a test that needs PostgreSQL itself (not one of each backend)."""
    if not postgres_reachable():
        if _require_postgres():
            pytest.fail("PostgreSQL is required (BARAZA_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    BACKENDS_USED.add("postgresql")
    return await create_postgres_database()


def _require_postgres() -> bool:
    return os.environ.get("BARAZA_REQUIRE_POSTGRES") == "1"


def pytest_report_header(config: pytest.Config) -> str:
    state = "reachable" if postgres_reachable() else "NOT reachable (PostgreSQL tests skip)"
    redis = "reachable" if redis_reachable() else "NOT reachable (Redis tests skip)"
    return f"baraza backends: sqlite; postgresql at 127.0.0.1:5432 {state}; redis at 127.0.0.1:6379 {redis}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    used = ", ".join(sorted(BACKENDS_USED)) or "none"
    terminalreporter.write_line(f"baraza: backends exercised by this run: {used}")


@pytest.fixture(scope="session")
def shipped_surveys() -> dict[str, Survey]:
    return load_survey_directory(FORMS)


@pytest.fixture
def usat(shipped_surveys: dict[str, Survey]) -> Survey:
    return shipped_surveys["usat2026"]


async def create_postgres_database() -> str:
    """A new empty PostgreSQL database for one test; returns its SQLAlchemy URL."""
    name = f"baraza_test_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for an empty database of each backend (a file for SQLite, a new database for PostgreSQL)."""
    if request.param == "sqlite":
        BACKENDS_USED.add("sqlite")
        yield f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}"
        return
    if not postgres_reachable():
        if _require_postgres():
            pytest.fail("PostgreSQL is required (BARAZA_REQUIRE_POSTGRES=1) but 127.0.0.1:5432 does not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    BACKENDS_USED.add("postgresql")
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database of each backend."""
    db = Database(database_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def engine(database: Database, shipped_surveys: dict[str, Survey]) -> Engine:
    pseudonymizer = await load_pseudonymizer(database, "test-pseudonym-key-0123456789")
    return Engine(database, shipped_surveys, pseudonymizer)


@pytest.fixture
def forms_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "forms"
    directory.mkdir()
    yield directory
