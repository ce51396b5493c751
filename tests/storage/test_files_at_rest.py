"""Files at rest are their owner's only, whatever the umask: a new SQLite database (and its WAL
files), every export file; an existing database others can read is warned about."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from storage.database import Database
from storage.exports.files import write_text


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest usual umask (files 0644), given back afterwards."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "baraza.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await database.migrate()
        async with database.transaction() as connection:
            await connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert (_mode(path), _mode(wal)) == (0o600, 0o600)
    finally:
        await database.dispose()


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_database_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "baraza.db"
    path.touch()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.database"):
        database = Database(f"sqlite+aiosqlite:///{path}")
    await database.dispose()
    assert "can be read by other users (mode 644): chmod 600 it" in caplog.text
    assert _mode(path) == 0o644, "left as the office set it"


@pytest.mark.usefixtures("open_umask")
async def test_an_export_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"

    async def write(out: TextIO) -> int:
        out.write("a,b\n")
        return 1

    assert await write_text(target, write) == 1
    assert _mode(target) == 0o600 and target.read_text() == "a,b\n"
