"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from testkit.databases import drop_postgres_database, require_postgres_database


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for several worker processes (skipped without PostgreSQL)."""
    url = await require_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)
