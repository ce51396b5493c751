"""The durable sender's transactions for broadcasts are quick on SQLite: claiming rows and
recording what became of them hand only BEGIN IMMEDIATE and COMMIT to aiosqlite's worker thread,
their statements run on the loop's thread (bot/sending/broadcast_rows.py, row_source.py); at the
paid 1,000/s setting the hand-offs cost about an eighth of the bot's CPU per message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.sending.broadcast_rows import BroadcastRows
from bot.sending.row_source import Wanted
from storage.database import Database
from storage.deliveries import SENT, Outcome
from testkit.broadcasts import CPI, create_broadcast, delivery_rows
from testkit.databases import copy_migrated_sqlite, record_worker_handoffs
from testkit.register import Person, add_people


async def test_claiming_and_recording_broadcast_rows_hand_only_the_commit_to_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(await copy_migrated_sqlite(tmp_path / "quick.db"))
    try:
        people = [Person(user_id, user_group="media", topics=("prices",)) for user_id in (101, 102, 103)]
        await add_people(database, people)
        broadcast_id, recipients = await create_broadcast(database, CPI)
        assert recipients == 3
        handed = record_worker_handoffs(monkeypatch)
        rows = BroadcastRows()
        claimed, _ = await rows.claim(database, Wanted(frozenset({"telegram"}), 10, datetime.now(UTC)))
        assert len(claimed) == 3
        assert handed == ["commit"]
        handed.clear()
        await rows.record(
            database, [Outcome(row.id, SENT, message_key=f"m{row.id}") for row in claimed], datetime.now(UTC)
        )
        assert handed == ["commit"]
        monkeypatch.undo()
        assert {row.status for row in (await delivery_rows(database, broadcast_id)).values()} == {SENT}
    finally:
        await database.dispose()
