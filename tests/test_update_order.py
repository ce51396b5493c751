"""Copies of an update arriving late (Telegram redelivering, two workers receiving it): the
answer is stored once; the newest update of a chat gets its current question again (its reply
may have been lost), an older one gets nothing (the person has newer replies already)."""

from __future__ import annotations

from sqlalchemy import text

from bot.engine import Engine
from storage.database import Database
from storage.repositories import Repositories
from tests.fakes.engine_user import EngineUser


async def _answers(database: Database) -> int:
    async with database.reading() as connection:
        return int((await connection.execute(text("SELECT COUNT(*) FROM answers"))).scalar_one())


async def test_a_late_copy_of_an_older_update_stays_quiet_and_the_newest_repeats_the_question(
    engine: Engine, database: Database
) -> None:
    user = EngineUser(engine, "late-copies", channel="telegram")
    await user.say("/survey usat2026", update_key="100")
    first = await user.say("Citizen", update_key="101")
    assert first[-1].text.startswith("2/12")
    second = await user.say("2", update_key="102")
    assert second[-1].text.startswith("3/12")
    stored = await _answers(database)

    assert await user.say("Citizen", update_key="101") == [], "older than what the chat moved on to: no reply"
    again = await user.say("2", update_key="102")
    assert again[-1].text.startswith("3/12"), "the newest update's reply may have been lost: show it again"
    assert await _answers(database) == stored, "copies store nothing"


async def test_deleting_ones_data_unlinks_the_processed_updates_from_the_chat(
    engine: Engine, database: Database
) -> None:
    user = EngineUser(engine, "forget-my-chat", channel="telegram")
    await user.say("/survey usat2026")
    await user.say("Citizen")
    async with database.transaction() as connection:
        contact_id = (
            await connection.execute(text("SELECT id FROM contacts WHERE user_key = 'forget-my-chat'"))
        ).scalar_one()
        processed = (await connection.execute(text("SELECT COUNT(*) FROM processed_updates"))).scalar_one()
        await Repositories(connection).contacts.erase(contact_id, "nobody")
    async with database.reading() as connection:
        linked = await connection.execute(
            text("SELECT COUNT(*) FROM processed_updates WHERE chat_key = 'forget-my-chat'")
        )
        assert linked.scalar_one() == 0
        kept = await connection.execute(text("SELECT COUNT(*) FROM processed_updates"))
        assert kept.scalar_one() == processed, "redeliveries are still recognised"
