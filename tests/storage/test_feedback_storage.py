"""Feedback messages are read with their sender as one value, from the contacts register."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.database import Database
from storage.feedback import BROADCAST_REPLY, MESSAGE, FeedbackRepository, Sender, get_feedback, recent_feedback
from storage.repositories import Repositories

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


async def test_feedback_names_its_sender_as_the_register_knows_them(database: Database) -> None:
    async with database.transaction() as connection:
        repos = Repositories(connection)
        contact = await repos.contacts.touch("telegram", "u1", "c1", "fr", NOW)
        await repos.contacts.give_consent(contact.id, NOW)
        for name, value in (("user_group", "media"), ("region", "north")):
            await repos.contacts.set_field(contact.id, name, value)
        known = await FeedbackRepository(connection).add(
            contact_id=contact.id, channel="telegram", kind=MESSAGE, text="Where is the CPI?", now=NOW
        )
        # Linked to nobody: the person deleted their data (or never was in the register).
        nobody = await FeedbackRepository(connection).add(
            contact_id=None, channel="web", kind=BROADCAST_REPLY, text="Thanks", now=NOW, broadcast_id=None
        )
    async with database.reading() as connection:
        found = await get_feedback(connection, known)
        streamed = [item async for item in FeedbackRepository(connection).stream()]
        newest_first = await recent_feedback(connection)
    assert found is not None
    assert found.sender == Sender(contact.id, "u1", "media", "north", "fr")
    assert [item.sender for item in streamed] == [found.sender, Sender(None, None, None, None, None)]
    assert [item.id for item in newest_first] == [nobody, known]
    assert newest_first[1] == found == streamed[0]
