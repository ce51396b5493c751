"""Copies of an update arriving late (Telegram redelivering, two workers receiving it): the
answer is stored once; the newest update of a chat gets its current question again (its reply
may have been lost), an older one gets nothing (the person has newer replies already)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.core.engine import Engine
from handlers.messages import Inbound, Outbound
from storage.database import Database
from storage.repositories import Repositories
from testkit.fakes.engine_user import EngineUser


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


def _inbound(update_key: str, text: str) -> Inbound:
    return Inbound(channel="telegram", user_key="in-line", chat_key="in-line", update_key=update_key, text=text)


async def test_a_chats_next_update_waits_until_the_replies_to_the_previous_one_are_delivered(
    engine: Engine, database: Database
) -> None:
    await engine.handle(_inbound("200", "/survey usat2026"))
    delivering = asyncio.Event()
    delivered: list[str] = []

    async def slow_delivery(replies: list[Outbound]) -> None:
        delivering.set()
        await asyncio.sleep(0.3)  # a slow Bot API call, a retried 5xx
        delivered.extend(reply.text[:4] for reply in replies)

    async def delivery(replies: list[Outbound]) -> None:
        delivered.extend(reply.text[:4] for reply in replies)

    first = asyncio.ensure_future(engine.serve(_inbound("201", "Citizen"), slow_delivery))
    await delivering.wait()
    await engine.serve(_inbound("202", "2"), delivery)
    await first
    assert delivered == ["2/12", "3/12"], "the second update was handled after the first one's replies went out"
    assert await _answers(database) == 2


async def test_an_update_with_a_newer_one_of_its_chat_behind_it_is_told_so(engine: Engine) -> None:
    await engine.handle(_inbound("300", "/survey usat2026"))
    await engine.handle(_inbound("301", "Citizen"))
    # A redelivered copy of the newest update repeats the question (its reply may have been
    # lost) unless a newer update of the chat is already in line: then the newer one answers.
    alone = await engine.handle(_inbound("301", "Citizen"))
    assert alone and alone[-1].text.startswith("2/12")
    copy, newer = await asyncio.gather(engine.handle(_inbound("301", "Citizen")), engine.handle(_inbound("302", "2")))
    assert copy == [], "the copy is quiet: the newer update's reply shows where the person is"
    assert newer[-1].text.startswith("3/12")
