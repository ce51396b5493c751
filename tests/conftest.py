"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when reachable) and surveys.
Helpers that tests and benchmarks share live in testkit/, never here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine, load_pseudonymizer
from storage.database import Database
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.databases import (
    BACKENDS_USED,
    SQLITE_ONLY,
    copy_migrated_sqlite,
    create_migrated_postgres_database,
    create_postgres_database,
    drop_postgres_database_later,
    drop_templates,
    postgres_reachable,
    redis_reachable,
    require_postgres_database,
    skip_unless_postgres,
)
from testkit.fakes.telegram import FakeTelegramServer
from testkit.paths import FORMS


def pytest_report_header(config: pytest.Config) -> str:
    if SQLITE_ONLY:
        return "baraza backends: sqlite only (BARAZA_TEST_BACKENDS=sqlite)"
    state = "reachable" if postgres_reachable() else "NOT reachable (PostgreSQL tests skip)"
    redis = "reachable" if redis_reachable() else "NOT reachable (Redis tests skip)"
    return f"baraza backends: sqlite; postgresql at 127.0.0.1:5432 {state}; redis at 127.0.0.1:6379 {redis}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that follow from where a test is and what it runs on (``make test-fast`` leaves
    out ``slow``, ``browser``, ``e2e``, ``postgres`` and ``redis``): tests/browser is Chromium,
    tests/e2e runs the whole bot, and a test given the PostgreSQL database or Redis needs it."""
    for item in items:
        parts = item.path.parts
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgresql" in params.values():
            item.add_marker(pytest.mark.postgres)
        if "redis" in params.values():
            item.add_marker(pytest.mark.redis)


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_templates()
    # Under pytest-xdist each worker tells the controller which backends its tests used.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["baraza_backends"] = sorted(BACKENDS_USED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    BACKENDS_USED.update(getattr(node, "workeroutput", {}).get("baraza_backends", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    used = ", ".join(sorted(BACKENDS_USED)) or "none"
    terminalreporter.write_line(f"baraza: backends exercised by this run: {used}")


@pytest.fixture(scope="session")
def shipped_surveys() -> dict[str, Survey]:
    return load_survey_directory(FORMS)


@pytest.fixture
def usat(shipped_surveys: dict[str, Survey]) -> Survey:
    return shipped_surveys["usat2026"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL for a database of each backend (a file for SQLite, a new database for PostgreSQL):
    empty, or already at the newest schema when the test also asks for ``database`` (a copy of a
    template migrated once per process, which is quicker than migrating each time)."""
    migrated = "database" in request.fixturenames
    if request.param == "sqlite":
        BACKENDS_USED.add("sqlite")
        path = tmp_path / "baraza.db"
        yield await copy_migrated_sqlite(path) if migrated else f"sqlite+aiosqlite:///{path}"
        return
    skip_unless_postgres()
    url = await (create_migrated_postgres_database() if migrated else create_postgres_database())
    try:
        yield url
    finally:
        drop_postgres_database_later(url)


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    """The fake Telegram Bot API on 127.0.0.1 (a module that needs another fake names it otherwise)."""
    async with FakeTelegramServer() as fake:
        yield fake


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database of each backend (``database_url`` made it from the migrated template)."""
    db = Database(database_url)
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


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (skipped without PostgreSQL): for tests that
    run several workers or dispatchers on one database."""
    url = await require_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database_later(url)
