"""``baraza staff add|passwd|role|remove|list`` as separate processes on a real database."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

import pytest

from storage.database import Database
from storage.staff import StaffRepository
from testkit.telegram_harness import ROOT

pytestmark = pytest.mark.slow  # each command is a new Python process


async def baraza(database_url: str, *arguments: str, stdin: str = "") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "staff", *arguments,
        cwd=ROOT,
        env={**os.environ, "BARAZA_DATABASE_URL": database_url, "BARAZA_LOG_LEVEL": "WARNING"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def login(database_url: str, username: str, password: str) -> bool:
    database = Database(database_url)
    try:
        async with database.transaction() as connection:
            result = await StaffRepository(connection).login(username, password, datetime.now(UTC))
        return result.account is not None
    finally:
        await database.dispose()


async def test_staff_accounts_are_managed_from_the_command_line(database_url: str) -> None:
    code, output = await baraza(
        database_url, "add", "amina", "--role", "editor", "--password-stdin", stdin="first long password\n"
    )
    assert code == 0 and "account amina created (editor)" in output
    assert await login(database_url, "amina", "first long password")

    code, output = await baraza(database_url, "add", "amina", "--password-stdin", stdin="another long one\n")
    assert code == 1 and "there is already an account 'amina'" in output
    code, output = await baraza(database_url, "passwd", "amina", "--password-stdin", stdin="short\n")
    assert code == 1 and "at least 10 characters" in output
    assert await login(database_url, "amina", "first long password"), "a refused change changes nothing"

    code, output = await baraza(database_url, "passwd", "amina", "--password-stdin", stdin="second long password\n")
    assert code == 0
    assert not await login(database_url, "amina", "first long password")
    assert await login(database_url, "amina", "second long password")

    assert (await baraza(database_url, "role", "amina", "viewer"))[0] == 0
    code, output = await baraza(database_url, "list")
    assert code == 0 and output.split() [:2] == ["amina", "viewer"]  # fmt: skip
    assert (await baraza(database_url, "remove", "amina"))[0] == 0
    code, output = await baraza(database_url, "remove", "amina")
    assert code == 1 and "there is no account 'amina'" in output
    code, output = await baraza(database_url, "list")
    assert "no staff accounts yet" in output
